// SPDX-License-Identifier: Apache-2.0
#include "control/config/config_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <vector>

#include "core/host/fd.h"
#include "control/config/printable.h"

namespace sluice {

namespace fs = std::filesystem;

namespace {

std::string dir_of(const std::string& path) {
  std::string dir = fs::path(path).parent_path().string();
  return dir.empty() ? "." : dir;
}

std::string name_of(const std::string& path) { return fs::path(path).filename().string(); }

std::string temp_prefix(const std::string& file) { return "." + name_of(file) + ".tmp-"; }

// mkostemp's XXXXXX
constexpr size_t kTempSuffixLen = 6;

const char* file_kind(mode_t mode) {
  if (S_ISDIR(mode)) return "a directory";
  if (S_ISFIFO(mode)) return "a FIFO";
  if (S_ISCHR(mode)) return "a character device";
  if (S_ISBLK(mode)) return "a block device";
  if (S_ISSOCK(mode)) return "a socket";
  if (S_ISLNK(mode)) return "a symlink";
  return "of an unknown kind";
}

std::string not_regular(const std::string& path, mode_t mode) {
  return "config: " + printable(path) + ": not a regular file (" + file_kind(mode) + ")";
}

Error too_big(const std::string& path) {
  return make_error("config: " + printable(path) + ": larger than " +
                    std::to_string(kConfigMaxBytes >> 20) + " MiB, the most a config may be");
}

// The file `path` names once every symlink is followed (the path itself when
// it is not a symlink, or names nothing yet). Replacing that file rather
// than `path` keeps an operator's symlink a symlink.
Result<std::string> symlink_target(const std::string& path) {
  fs::path p = path;
  for (int hops = 0; hops < 40; ++hops) {  // the kernel's MAXSYMLINKS
    struct stat st{};
    if (::lstat(p.c_str(), &st) < 0 || !S_ISLNK(st.st_mode)) return p.string();
    std::error_code ec;
    fs::path next = fs::read_symlink(p, ec);
    if (ec) return make_error("config: readlink", ec.value(), printable(p.string()));
    p = next.is_absolute() ? next : p.parent_path() / next;
  }
  return make_error("config: follow symlinks", ELOOP, printable(path));
}

Result<void> write_all(int fd, const std::string& text, const std::string& temp) {
  size_t off = 0;
  while (off < text.size()) {
    ssize_t n = ::write(fd, text.data() + off, text.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return make_error("config: write", errno, printable(temp));
    off += static_cast<size_t>(n);
  }
  return {};
}

// The temp file takes the place of the target: it must look the same to
// whoever reads or edits the file next.
Result<void> copy_owner_and_mode(int fd, const struct stat& target, const std::string& temp) {
  struct stat mine{};
  if (::fstat(fd, &mine) < 0) return make_error("config: fstat", errno, printable(temp));
  // chown first: it clears the set-id bits that fchmod then restores.
  if ((mine.st_uid != target.st_uid || mine.st_gid != target.st_gid) &&
      ::fchown(fd, target.st_uid, target.st_gid) < 0)
    return make_error("config: keep the file's owner: fchown", errno, printable(temp));
  if (::fchmod(fd, target.st_mode & 07777) < 0)
    return make_error("config: keep the file's mode: fchmod", errno, printable(temp));
  return {};
}

Result<void> remove_temps_beside(const std::string& file, size_t& removed) {
  std::string prefix = temp_prefix(file);
  std::error_code ec;
  for (fs::directory_iterator it(dir_of(file), ec), end; !ec && it != end; it.increment(ec)) {
    std::string entry = it->path().filename().string();
    if (entry.size() != prefix.size() + kTempSuffixLen || entry.compare(0, prefix.size(), prefix))
      continue;
    struct stat st{};
    if (::lstat(it->path().c_str(), &st) < 0 || !S_ISREG(st.st_mode)) continue;
    if (::unlink(it->path().c_str()) < 0)
      return make_error("config: remove stale temp file", errno, printable(it->path().string()));
    ++removed;
  }
  if (ec) return make_error("config: list", ec.value(), printable(dir_of(file)));
  return {};
}

}  // namespace

Result<std::string> config_file_read(const std::string& path) {
  // O_NONBLOCK: opening a FIFO for reading would wait for a writer.
  Fd fd(::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC));
  if (!fd.valid()) {
    int err = errno;
    struct stat st{};
    // open(2) gives ENXIO for a unix socket: name it.
    if (err == ENXIO && ::stat(path.c_str(), &st) == 0 && !S_ISREG(st.st_mode))
      return make_error(not_regular(path, st.st_mode));
    return make_error("config: cannot read", err, printable(path));
  }
  struct stat st{};
  if (::fstat(fd.get(), &st) < 0) return make_error("config: fstat", errno, printable(path));
  if (!S_ISREG(st.st_mode)) return make_error(not_regular(path, st.st_mode));
  if (static_cast<uint64_t>(st.st_size) > kConfigMaxBytes) return too_big(path);
  std::string text;
  text.reserve(static_cast<size_t>(st.st_size));
  std::vector<char> buf(64 * 1024);
  // The file may grow after fstat: read one byte past the cap, no more.
  while (text.size() <= kConfigMaxBytes) {
    size_t want = std::min(buf.size(), kConfigMaxBytes + 1 - text.size());
    ssize_t n = ::read(fd.get(), buf.data(), want);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return make_error("config: read", errno, printable(path));
    if (n == 0) return text;
    text.append(buf.data(), static_cast<size_t>(n));
  }
  return too_big(path);
}

Result<PendingFile> PendingFile::prepare(const std::string& path, const std::string& text) {
  auto target = symlink_target(path);
  if (!target) return target.error();
  struct stat st{};
  bool exists = ::stat(target->c_str(), &st) == 0;
  if (!exists && errno != ENOENT) return make_error("config: stat", errno, printable(*target));
  if (exists && !S_ISREG(st.st_mode))
    return make_error(not_regular(*target, st.st_mode) + "; change refused");
  // Root may write anything: the owner write bit is the operator's "hands off".
  if (exists && !(st.st_mode & S_IWUSR))
    return make_error("config: " + printable(path) + " is read-only; change refused");
  std::string pattern = dir_of(*target) + "/" + temp_prefix(*target) + "XXXXXX";
  std::vector<char> buf(pattern.begin(), pattern.end());
  buf.push_back('\0');
  Fd fd(::mkostemp(buf.data(), O_CLOEXEC));
  if (!fd.valid()) return make_error("config: create temp file", errno, printable(pattern));
  PendingFile pending(*target, buf.data());
  if (exists)
    if (auto r = copy_owner_and_mode(fd.get(), st, pending.temp_); !r) return r.error();
  if (auto r = write_all(fd.get(), text, pending.temp_); !r) return r.error();
  if (::fsync(fd.get()) < 0) return make_error("config: fsync", errno, printable(pending.temp_));
  return pending;
}

PendingFile::PendingFile(PendingFile&& other) noexcept
    : target_(std::move(other.target_)), temp_(std::move(other.temp_)) {
  other.temp_.clear();
}

PendingFile::~PendingFile() {
  if (!temp_.empty()) ::unlink(temp_.c_str());
}

Result<void> PendingFile::commit() {
  if (::rename(temp_.c_str(), target_.c_str()) < 0)
    return make_error("config: rename", errno, printable(temp_ + " -> " + target_));
  temp_.clear();
  // The rename is durable only once the directory entry is. The new file is
  // in place already, so a failure here is only worth a warning.
  Fd dir(::open(dir_of(target_).c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!dir.valid() || ::fsync(dir.get()) < 0)
    spdlog::warn("config: fsync {}: {}", printable(dir_of(target_)), std::strerror(errno));
  return {};
}

Result<void> file_replace_atomic(const std::string& path, const std::string& text) {
  auto pending = PendingFile::prepare(path, text);
  if (!pending) return pending.error();
  return pending->commit();
}

Result<size_t> config_remove_stale_temps(const std::string& path) {
  auto target = symlink_target(path);
  if (!target) return target.error();
  size_t removed = 0;
  if (auto r = remove_temps_beside(*target, removed); !r) return r.error();
  // A sluiced from before symlinks were followed wrote its temps beside the link.
  if (*target != path)
    if (auto r = remove_temps_beside(path, removed); !r) return r.error();
  return removed;
}

}  // namespace sluice
