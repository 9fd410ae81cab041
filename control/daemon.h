// SPDX-License-Identifier: Apache-2.0
// sluiced's life: set up (interface, API socket, dataplane, tables, VIP
// addresses), then a single-threaded poll() loop over the API socket, a
// signalfd (SIGTERM/SIGINT) and a timer that refreshes neighbour MACs.
#pragma once

#include <chrono>
#include <functional>

#include "control/api_server.h"
#include "control/config.h"
#include "control/fd.h"
#include "control/result.h"

namespace sluice {

struct DaemonFlags {
  bool detach_on_exit = false;
};

// Runs until SIGTERM/SIGINT. Errors are setup failures.
Result<void> daemon_run(const Config& cfg, const DaemonFlags& flags);

class EventLoop {
 public:
  // Blocks SIGTERM/SIGINT (they arrive through the signalfd).
  static Result<EventLoop> create(std::chrono::milliseconds tick);

  // Returns the signal that stopped the loop.
  Result<int> run(ApiServer& api, const ApiServer::Handler& handler,
                  const std::function<void()>& on_tick);

 private:
  EventLoop(Fd sig, Fd timer) : sig_(std::move(sig)), timer_(std::move(timer)) {}
  Fd sig_;
  Fd timer_;
};

}  // namespace sluice
