// SPDX-License-Identifier: Apache-2.0
// sluiced's life: set up (interface, API socket, dataplane, tables, VIP
// addresses), then a single-threaded poll() loop over the API socket, a
// signalfd (SIGTERM/SIGINT), a timer that refreshes neighbour MACs and the
// watchers' fds (the health probes).
#pragma once

#include <chrono>
#include <functional>
#include <string>
#include <vector>

#include "control/api_server.h"
#include "control/config.h"
#include "control/fd.h"
#include "control/loop_watcher.h"
#include "control/result.h"

namespace sluice {

struct DaemonFlags {
  bool detach_on_exit = false;
  std::string bpf_object;  // XDP object file to load; empty: the built-in one
  std::string config_path;  // where API changes are persisted, reload reads
};

// Runs until SIGTERM/SIGINT. Errors are setup failures.
Result<void> daemon_run(const Config& cfg, const DaemonFlags& flags);

class EventLoop {
 public:
  // Blocks SIGTERM/SIGINT (they arrive through the signalfd).
  static Result<EventLoop> create(std::chrono::milliseconds tick);

  // Gives `w` a turn in every iteration of run(); it must outlive run().
  void watch(LoopWatcher& w) { watchers_.push_back(&w); }
  // SIGHUP (blocked, read from the signalfd) calls `f` instead of stopping.
  void on_hangup(std::function<void()> f) { on_hangup_ = std::move(f); }
  // Makes run() return 0 once the current iteration is done (API detach).
  void stop() { stop_ = true; }

  // Returns the signal that stopped the loop, or 0 after stop().
  Result<int> run(ApiServer& api, const ApiServer::Handler& handler,
                  const std::function<void()>& on_tick);

 private:
  EventLoop(Fd sig, Fd timer) : sig_(std::move(sig)), timer_(std::move(timer)) {}
  int watchers_timeout_ms() const;
  Fd sig_;
  Fd timer_;
  std::vector<LoopWatcher*> watchers_;
  std::function<void()> on_hangup_;
  bool stop_ = false;
};

}  // namespace sluice
