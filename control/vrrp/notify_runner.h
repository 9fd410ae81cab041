// SPDX-License-Identifier: Apache-2.0
// Runs the `notify:` script on each VRRP transition, with keepalived's
// arguments (INSTANCE <name> <STATE> <priority>), on a thread of its own so
// the VRRP thread never waits for it: one script at a time, each killed
// (its whole process group) when it outlives the timeout, and a queue of
// bounded length whose oldest entry gives way when it is full.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace sluice::vrrp {

class NotifyRunner {
 public:
  struct Options {
    std::string path;  // absolute; runs with the daemon's environment, stdin /dev/null
    std::chrono::milliseconds timeout{5000};
    size_t queue_cap = 8;
  };
  struct Stats {
    uint64_t runs = 0;       // started
    uint64_t failed = 0;     // could not start, or exited non-zero
    uint64_t timed_out = 0;  // killed at the timeout
    uint64_t dropped = 0;    // queue full: the oldest gave way
  };

  explicit NotifyRunner(Options o);
  // Runs what is queued (each still under its timeout), then joins.
  ~NotifyRunner();
  NotifyRunner(const NotifyRunner&) = delete;
  NotifyRunner& operator=(const NotifyRunner&) = delete;

  // Any thread; never blocks on a running script.
  void post(std::vector<std::string> args);
  // Tests: waits until nothing is queued or running.
  void wait_idle();
  Stats stats() const;

 private:
  void run();
  void run_one(const std::vector<std::string>& args);

  Options o_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::vector<std::string>> queue_;  // guarded by mu_
  bool busy_ = false;                           // guarded by mu_
  bool stop_ = false;                           // guarded by mu_
  Stats stats_;                                 // guarded by mu_
  std::thread thread_;                          // last
};

}  // namespace sluice::vrrp
