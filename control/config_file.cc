// SPDX-License-Identifier: Apache-2.0
#include "control/config_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <spdlog/spdlog.h>

#include <cerrno>
#include <cstring>
#include <cstdlib>
#include <filesystem>
#include <vector>

#include "control/fd.h"

namespace sluice {

namespace {

std::string dir_of(const std::string& path) {
  std::string dir = std::filesystem::path(path).parent_path().string();
  return dir.empty() ? "." : dir;
}

Result<void> write_all(int fd, const std::string& text, const std::string& temp) {
  size_t off = 0;
  while (off < text.size()) {
    ssize_t n = ::write(fd, text.data() + off, text.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return make_error("config: write", errno, temp);
    off += static_cast<size_t>(n);
  }
  return {};
}

}  // namespace

Result<PendingFile> PendingFile::prepare(const std::string& path, const std::string& text) {
  std::string name = std::filesystem::path(path).filename().string();
  std::string pattern = dir_of(path) + "/." + name + ".tmp-XXXXXX";
  std::vector<char> buf(pattern.begin(), pattern.end());
  buf.push_back('\0');
  Fd fd(::mkostemp(buf.data(), O_CLOEXEC));
  if (!fd.valid()) return make_error("config: create temp file", errno, pattern);
  PendingFile pending(path, buf.data());
  struct stat st{};
  if (::stat(path.c_str(), &st) == 0 && ::fchmod(fd.get(), st.st_mode & 07777) < 0)
    return make_error("config: fchmod", errno, pending.temp_);
  if (auto r = write_all(fd.get(), text, pending.temp_); !r) return r.error();
  if (::fsync(fd.get()) < 0) return make_error("config: fsync", errno, pending.temp_);
  return pending;
}

PendingFile::PendingFile(PendingFile&& other) noexcept
    : path_(std::move(other.path_)), temp_(std::move(other.temp_)) {
  other.temp_.clear();
}

PendingFile::~PendingFile() {
  if (!temp_.empty()) ::unlink(temp_.c_str());
}

Result<void> PendingFile::commit() {
  if (::rename(temp_.c_str(), path_.c_str()) < 0)
    return make_error("config: rename", errno, temp_ + " -> " + path_);
  temp_.clear();
  // The rename is durable only once the directory entry is. The new file is
  // in place already, so a failure here is only worth a warning.
  Fd dir(::open(dir_of(path_).c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!dir.valid() || ::fsync(dir.get()) < 0)
    spdlog::warn("config: fsync {}: {}", dir_of(path_), std::strerror(errno));
  return {};
}

Result<void> file_replace_atomic(const std::string& path, const std::string& text) {
  auto pending = PendingFile::prepare(path, text);
  if (!pending) return pending.error();
  return pending->commit();
}

}  // namespace sluice
