// SPDX-License-Identifier: Apache-2.0
// The config file on disk: only a regular file of bounded size is read,
// and a write-back follows symlinks, keeps mode and owner, refuses a
// read-only file (leaving the running state alone) and cleans up after an
// interrupted write. Runs as root (chown to 65534).
#include "control/config/config_file.h"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <future>
#include <thread>

#include "control/config/config_writer.h"
#include "tests/control/api_fixture.h"

namespace sluice {
namespace {

namespace fs = std::filesystem;

class TempDir : public ::testing::Test {
 public:
  void SetUp() override {
    char tmpl[] = "/tmp/sluice-cfgfile-test-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir = tmpl;
  }
  void TearDown() override { fs::remove_all(dir); }

  std::string write(const std::string& name, const std::string& text) const {
    std::string p = dir + "/" + name;
    std::ofstream(p) << text;
    return p;
  }
  static std::string read(const std::string& p) {
    std::ifstream in(p);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }
  std::vector<std::string> entries(const std::string& in = "") const {
    std::vector<std::string> out;
    for (const auto& e : fs::directory_iterator(in.empty() ? dir : in))
      out.push_back(e.path().filename().string());
    std::sort(out.begin(), out.end());
    return out;
  }

  std::string dir;
};

// config_load on `path`, given at most 5 s: a FIFO must not block it.
std::optional<Result<Config>> load_within_5s(const std::string& path) {
  auto task = std::make_shared<std::packaged_task<Result<Config>()>>(
      [path] { return config_load(path); });
  auto done = task->get_future();
  std::thread([task] { (*task)(); }).detach();  // left behind if it blocks
  if (done.wait_for(std::chrono::seconds(5)) != std::future_status::ready) return std::nullopt;
  return done.get();
}

using ConfigFileRead = TempDir;

TEST_F(ConfigFileRead, RefusesWhatIsNotARegularFileWithOneLine) {
  ASSERT_EQ(mkfifo((dir + "/fifo").c_str(), 0600), 0);
  fs::create_directory(dir + "/adir");
  fs::create_symlink("/dev/zero", dir + "/zero-link");
  int sock = ::socket(AF_UNIX, SOCK_STREAM, 0);
  sockaddr_un sa{};
  sa.sun_family = AF_UNIX;
  std::string sock_path = dir + "/sock";
  std::snprintf(sa.sun_path, sizeof sa.sun_path, "%s", sock_path.c_str());
  ASSERT_EQ(::bind(sock, reinterpret_cast<sockaddr*>(&sa), sizeof sa), 0);
  const std::pair<std::string, std::string> cases[] = {
      {dir + "/adir", "a directory"},
      {dir + "/fifo", "a FIFO"},
      {"/dev/zero", "a character device"},
      {dir + "/zero-link", "a character device"},
      {sock_path, "a socket"},
  };
  for (const auto& [path, kind] : cases) {
    auto r = load_within_5s(path);
    ASSERT_TRUE(r.has_value()) << path << ": config_load blocked";
    ASSERT_FALSE(r->ok()) << path;
    EXPECT_EQ(r->error().message(), "config: " + path + ": not a regular file (" + kind + ")");
  }
  ::close(sock);
}

TEST_F(ConfigFileRead, RefusesAFileOverTheCapWithoutReadingIt) {
  std::string big = write("big.yaml", "");
  fs::resize_file(big, kConfigMaxBytes + 1);  // sparse
  auto r = config_load(big);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message(), "config: " + big + ": larger than 64 MiB, the most a config may be");
  // The cap itself is allowed.
  fs::resize_file(big, kConfigMaxBytes);
  auto text = config_file_read(big);
  ASSERT_TRUE(text.ok()) << text.error().message();
  EXPECT_EQ(text->size(), kConfigMaxBytes);
}

TEST_F(ConfigFileRead, ABinaryFileGivesAPrintableError) {
  std::string bin = write("bin.yaml", std::string("interface: \x1b[31m\x01\xff\xfe\n\x00\x07", 22));
  auto r = config_load(bin);
  ASSERT_FALSE(r.ok());
  std::string m = r.error().message();
  for (unsigned char c : m) EXPECT_TRUE(c >= 0x20 && c < 0x7f) << m;
  EXPECT_EQ(m.rfind("config: ", 0), 0u) << m;
}

TEST_F(ConfigFileRead, AnEscapedPathStaysOneLine) {
  std::string odd = dir + "/a\nb\x1b";
  auto r = config_load(odd);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message(),
            "config: cannot read (" + dir + "/a\\x0ab\\x1b): No such file or directory");
}

using ConfigFileWrite = TempDir;

TEST_F(ConfigFileWrite, ASymlinkStaysAndItsTargetGetsTheText) {
  fs::create_directory(dir + "/etc");
  fs::create_directory(dir + "/real");
  std::string target = write("real/sluice.yaml", "old\n");
  fs::create_symlink("../real/sluice.yaml", dir + "/etc/link1");  // relative
  fs::create_symlink(dir + "/etc/link1", dir + "/etc/sluice.yaml");  // absolute, to a link
  ASSERT_TRUE(file_replace_atomic(dir + "/etc/sluice.yaml", "new\n").ok());
  EXPECT_TRUE(fs::is_symlink(dir + "/etc/sluice.yaml"));
  EXPECT_TRUE(fs::is_symlink(dir + "/etc/link1"));
  EXPECT_EQ(fs::read_symlink(dir + "/etc/sluice.yaml"), dir + "/etc/link1");
  EXPECT_EQ(read(target), "new\n");
  EXPECT_EQ(read(dir + "/etc/sluice.yaml"), "new\n");
  EXPECT_EQ(entries(dir + "/etc"), (std::vector<std::string>{"link1", "sluice.yaml"}));
  EXPECT_EQ(entries(dir + "/real"), (std::vector<std::string>{"sluice.yaml"}));
}

TEST_F(ConfigFileWrite, ADanglingSymlinkGetsItsTargetCreated) {
  fs::create_symlink("made.yaml", dir + "/sluice.yaml");
  ASSERT_TRUE(file_replace_atomic(dir + "/sluice.yaml", "x\n").ok());
  EXPECT_TRUE(fs::is_symlink(dir + "/sluice.yaml"));
  EXPECT_EQ(read(dir + "/made.yaml"), "x\n");
}

TEST_F(ConfigFileWrite, KeepsModeAndOwner) {
  ASSERT_EQ(geteuid(), 0u) << "needs root to chown";
  std::string p = write("sluice.yaml", "old\n");
  ASSERT_EQ(chown(p.c_str(), 65534, 65534), 0);
  ASSERT_EQ(chmod(p.c_str(), 0640), 0);
  ASSERT_TRUE(file_replace_atomic(p, "new\n").ok());
  struct stat st{};
  ASSERT_EQ(stat(p.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0640u);
  EXPECT_EQ(st.st_uid, 65534u);
  EXPECT_EQ(st.st_gid, 65534u);
  EXPECT_EQ(read(p), "new\n");
}

TEST_F(ConfigFileWrite, RefusesAReadOnlyFileAndLeavesIt) {
  std::string p = write("sluice.yaml", "old\n");
  ASSERT_EQ(chmod(p.c_str(), 0444), 0);
  auto r = file_replace_atomic(p, "new\n");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message(), "config: " + p + " is read-only; change refused");
  EXPECT_EQ(read(p), "old\n");
  EXPECT_EQ(entries(), (std::vector<std::string>{"sluice.yaml"}));
}

TEST_F(ConfigFileWrite, RefusesToReplaceWhatIsNotARegularFile) {
  ASSERT_EQ(mkfifo((dir + "/fifo").c_str(), 0600), 0);
  fs::create_symlink("fifo", dir + "/sluice.yaml");
  auto r = file_replace_atomic(dir + "/sluice.yaml", "new\n");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message(),
            "config: " + dir + "/fifo: not a regular file (a FIFO); change refused");
  EXPECT_TRUE(fs::is_fifo(dir + "/fifo"));
  EXPECT_EQ(entries(), (std::vector<std::string>{"fifo", "sluice.yaml"}));
}

TEST_F(ConfigFileWrite, StaleTempFilesOfAnInterruptedWriteAreRemoved) {
  fs::create_directory(dir + "/real");
  write("real/sluice.yaml", "x\n");
  fs::create_symlink("real/sluice.yaml", dir + "/sluice.yaml");
  // What SIGKILL between mkostemp and rename leaves: beside the target, and
  // (from a sluiced that did not follow links) beside the link.
  write("real/.sluice.yaml.tmp-a1B2c3", "half");
  write("real/.sluice.yaml.tmp-zzzzzz", "");
  write(".sluice.yaml.tmp-Q9q9Q9", "half");
  // Not ours: other names, other lengths, a directory.
  write("real/.sluice.yaml.tmp-toolong", "");
  write("real/.other.yaml.tmp-a1B2c3", "");
  write("real/sluice.yaml.tmp-a1B2c3", "");
  fs::create_directory(dir + "/real/.sluice.yaml.tmp-dir123");
  auto removed = config_remove_stale_temps(dir + "/sluice.yaml");
  ASSERT_TRUE(removed.ok()) << removed.error().message();
  EXPECT_EQ(*removed, 3u);
  EXPECT_EQ(entries(dir + "/real"),
            (std::vector<std::string>{".other.yaml.tmp-a1B2c3", ".sluice.yaml.tmp-dir123",
                                      ".sluice.yaml.tmp-toolong", "sluice.yaml",
                                      "sluice.yaml.tmp-a1B2c3"}));
  EXPECT_EQ(entries(), (std::vector<std::string>{"real", "sluice.yaml"}));
  auto again = config_remove_stale_temps(dir + "/sluice.yaml");
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(*again, 0u);
}

// Through the API: a refused write changes nothing anywhere.
class ConfigStoreFile : public ApiFixture {
 public:
  struct State {
    std::string dataplane, running, file;
    bool operator==(const State&) const = default;
  };
  State state() const { return {dataplane_view(), config_emit(store->running()), file_text()}; }
  static constexpr const char* kSetWeight =
      R"({"cmd":"backend_set","service":"198.18.0.100:80/tcp","address":"198.18.0.11","weight":7})";
};

TEST_F(ConfigStoreFile, AReadOnlyConfigRefusesTheChangeAndNothingMoves) {
  ASSERT_EQ(chmod(path.c_str(), 0444), 0);
  State before = state();
  nlohmann::json r = call(kSetWeight);
  EXPECT_EQ(r["ok"], false);
  EXPECT_EQ(r["error"], "config: " + path + " is read-only; change refused");
  EXPECT_TRUE(state() == before);
  EXPECT_EQ(entries_in_dir(), 1u);
  EXPECT_EQ(counters.api_change_failures, 1u);
  // Writable again: the same change goes through (the refusal was the mode).
  ASSERT_EQ(chmod(path.c_str(), 0644), 0);
  EXPECT_EQ(call(kSetWeight)["ok"], true);
  EXPECT_FALSE(state() == before);
}

// The file is replaced only after the apply: when that rename fails, the
// dataplane gets the running config back.
TEST_F(ConfigStoreFile, ARenameThatFailsAfterTheApplyRestoresTheDataplane) {
  State before = state();
  std::string before_no_gen = dataplane_view(false);
  int applies = 0;
  ConfigStore sabotaged(store->running(), path, [&](const Config& c) -> Result<void> {
    auto r = table.apply(dataplane_vips(c), {});
    if (++applies == 1) {  // between the temp file and the rename
      fs::remove(path);
      fs::create_directories(path + "/x");  // rename(2) over it: EISDIR
    }
    return r;
  }, counters);
  auto req = api_parse_request(
      R"({"cmd":"backend_del","service":"198.18.0.100:80/tcp","address":"198.18.0.12"})");
  ASSERT_TRUE(req.ok());
  auto r = sabotaged.change([&](Config& c) { return config_edit(c, *req); });
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message().find("config: rename"), std::string::npos) << r.error().message();
  EXPECT_EQ(applies, 2);
  // The backend removed and put back has a new gen (its slot was retired).
  EXPECT_EQ(dataplane_view(false), before_no_gen);
  EXPECT_EQ(config_emit(sabotaged.running()), before.running);
  EXPECT_EQ(entries_in_dir(), 1u);  // the directory; no temp file left
}

TEST_F(ConfigStoreFile, AChangeThroughASymlinkUpdatesTheTarget) {
  std::string target = dir + "/real.yaml";
  fs::rename(path, target);
  fs::create_symlink("real.yaml", path);
  EXPECT_EQ(call(kSetWeight)["ok"], true);
  EXPECT_TRUE(fs::is_symlink(path));
  auto reread = config_load(target);
  ASSERT_TRUE(reread.ok()) << reread.error().message();
  EXPECT_EQ(reread->vips[0].backends[0].weight, 7u);
  EXPECT_EQ(entries_in_dir(), 2u);
}

}  // namespace
}  // namespace sluice
