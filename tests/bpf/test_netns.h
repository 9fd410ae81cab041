// SPDX-License-Identifier: Apache-2.0
// A network namespace of the test's own (`sltest-<pid>`) holding a veth
// pair sl0/sl1 on 198.18.200.0/24, entered by the calling thread while the
// object lives. Removed, with everything in it, on destruction, also when
// the test failed half-way.
#pragma once

#include <fcntl.h>
#include <sched.h>
#include <unistd.h>

#include <cstdlib>
#include <string>

#include "core/host/fd.h"

namespace sluice::test {

class TestNetns {
 public:
  static constexpr const char* kDev = "sl0";
  static constexpr const char* kPeer = "sl1";

  TestNetns() : name_("sltest-" + std::to_string(getpid())) {
    run("ip netns del " + name_ + " 2>/dev/null");  // a crashed earlier run with our pid
    if (!run("ip netns add " + name_)) {
      fail("ip netns add " + name_);
      return;
    }
    created_ = true;
    const std::string ip = "ip -n " + name_ + " ";
    bool veth = run(ip + "link add " + kDev + " type veth peer name " + kPeer) &&
                run(ip + "addr add 198.18.200.1/24 dev " + kDev) &&
                run(ip + "addr add 198.18.200.2/24 dev " + kPeer) &&
                run(ip + "link set " + kDev + " up") && run(ip + "link set " + kPeer + " up");
    if (!veth) {
      fail("veth pair in " + name_);
      return;
    }
    home_ = Fd(open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC));
    Fd ns(open(("/run/netns/" + name_).c_str(), O_RDONLY | O_CLOEXEC));
    if (!home_ || !ns || setns(ns.get(), CLONE_NEWNET) != 0) {
      fail("setns " + name_);
      return;
    }
    entered_ = true;
  }
  ~TestNetns() {
    if (entered_) (void)setns(home_.get(), CLONE_NEWNET);
    if (created_) run("ip netns del " + name_);
  }
  TestNetns(const TestNetns&) = delete;
  TestNetns& operator=(const TestNetns&) = delete;

  // Empty when the namespace is ready and entered.
  const std::string& error() const { return error_; }

 private:
  static bool run(const std::string& cmd) { return std::system(cmd.c_str()) == 0; }
  void fail(const std::string& what) {
    error_ = "setting up " + what + " failed -- the BPF tests need root and iproute2";
  }

  std::string name_;
  std::string error_;
  Fd home_;
  bool created_ = false;
  bool entered_ = false;
};

}  // namespace sluice::test
