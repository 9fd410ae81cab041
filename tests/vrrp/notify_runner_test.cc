// SPDX-License-Identifier: Apache-2.0
// NotifyRunner with real scripts: the arguments arrive in keepalived's
// order, a script that hangs is killed at the timeout, the queue is bounded.
#include "control/vrrp/notify_runner.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace sluice::vrrp {
namespace {

namespace fs = std::filesystem;

struct TempDir {
  fs::path path;
  TempDir() {
    std::string tmpl = (fs::temp_directory_path() / "sluice-notify-XXXXXX").string();
    path = mkdtemp(tmpl.data());
  }
  ~TempDir() { fs::remove_all(path); }
};

fs::path script(const fs::path& dir, const std::string& name, const std::string& body) {
  fs::path p = dir / name;
  std::ofstream(p) << "#!/bin/sh\n" << body << "\n";
  chmod(p.c_str(), 0755);
  return p;
}

std::string read(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

TEST(NotifyRunner, RunsTheScriptWithKeepalivedArguments) {
  TempDir d;
  fs::path out = d.path / "calls";
  fs::path s = script(d.path, "notify", "echo \"$#:$1:$2:$3:$4\" >> " + out.string());
  {
    NotifyRunner r({s.string(), std::chrono::milliseconds(5000), 8});
    r.post({"INSTANCE", "VI_51", "MASTER", "200"});
    r.post({"INSTANCE", "VI_51", "BACKUP", "150"});
    r.wait_idle();
    EXPECT_EQ(r.stats().runs, 2u);
    EXPECT_EQ(r.stats().failed, 0u);
  }
  EXPECT_EQ(read(out), "4:INSTANCE:VI_51:MASTER:200\n4:INSTANCE:VI_51:BACKUP:150\n");
}

TEST(NotifyRunner, AScriptPastItsTimeoutIsKilledWithItsChildren) {
  TempDir d;
  fs::path marker = d.path / "finished";
  fs::path s = script(d.path, "hang", "sleep 30 & wait; touch " + marker.string());
  NotifyRunner r({s.string(), std::chrono::milliseconds(200), 8});
  r.post({"INSTANCE", "VI_51", "MASTER", "200"});
  r.wait_idle();
  EXPECT_EQ(r.stats().timed_out, 1u);
  EXPECT_FALSE(fs::exists(marker));
}

TEST(NotifyRunner, TheScriptStartsWithDefaultSignals) {
  // sluiced blocks SIGTERM (signalfd) and ignores SIGPIPE: the script must
  // not inherit either. /proc/self/status of the shell shows both masks.
  TempDir d;
  fs::path out = d.path / "status";
  fs::path s = script(d.path, "sig", "grep -E '^Sig(Blk|Ign)' /proc/$$/status > " + out.string());
  sigset_t block;
  sigemptyset(&block);
  sigaddset(&block, SIGTERM);
  sigset_t old;
  pthread_sigmask(SIG_BLOCK, &block, &old);
  auto old_pipe = signal(SIGPIPE, SIG_IGN);
  {
    NotifyRunner r({s.string(), std::chrono::milliseconds(5000), 8});
    r.post({"INSTANCE", "VI_51", "BACKUP", "100"});
    r.wait_idle();
  }
  signal(SIGPIPE, old_pipe);
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
  std::string st = read(out);
  EXPECT_NE(st.find("SigBlk:\t0000000000000000"), std::string::npos) << st;
  // The shell may ignore some signals itself, never SIGPIPE (bit 13) here.
  auto ign = st.find("SigIgn:\t");
  ASSERT_NE(ign, std::string::npos) << st;
  uint64_t mask = std::stoull(st.substr(ign + 8, 16), nullptr, 16);
  EXPECT_EQ(mask & (1ull << (SIGPIPE - 1)), 0u) << st;
}

TEST(NotifyRunner, FailuresAreCounted) {
  TempDir d;
  fs::path s = script(d.path, "fail", "exit 3");
  NotifyRunner r({s.string(), std::chrono::milliseconds(5000), 8});
  r.post({"INSTANCE", "VI_51", "MASTER", "200"});
  r.wait_idle();
  EXPECT_EQ(r.stats().failed, 1u);
  NotifyRunner missing({(d.path / "absent").string(), std::chrono::milliseconds(5000), 8});
  missing.post({"INSTANCE", "VI_51", "MASTER", "200"});
  missing.wait_idle();
  EXPECT_EQ(missing.stats().failed, 1u);
}

TEST(NotifyRunner, TheQueueIsBoundedAndKeepsTheNewest) {
  TempDir d;
  fs::path out = d.path / "calls";
  fs::path gate = d.path / "gate";
  // The first run waits for the gate, so the rest queue up behind it.
  fs::path s = script(
      d.path, "slow",
      "while [ ! -e " + gate.string() + " ]; do sleep 0.01; done; echo $3 >> " + out.string());
  NotifyRunner r({s.string(), std::chrono::milliseconds(10000), 2});
  r.post({"INSTANCE", "VI_51", "S0", "1"});
  // Wait until S0 has been taken off the queue (it is running).
  while (r.stats().runs == 0) usleep(1000);
  for (int i = 1; i <= 5; ++i) r.post({"INSTANCE", "VI_51", "S" + std::to_string(i), "1"});
  std::ofstream(gate) << "";
  r.wait_idle();
  EXPECT_EQ(r.stats().dropped, 3u);
  EXPECT_EQ(read(out), "S0\nS4\nS5\n");
}

}  // namespace
}  // namespace sluice::vrrp
