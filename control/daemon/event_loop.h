// SPDX-License-Identifier: Apache-2.0
// sluiced's main loop: one poll() over a signalfd (SIGTERM/SIGINT stop it,
// SIGHUP reloads), a periodic tick, and the watchers (the API socket, the
// health results, ...). Every watcher is non-blocking, so a turn is short;
// how long each turn kept the loop busy is recorded in LoopStats.
#pragma once

#include <chrono>
#include <functional>
#include <vector>

#include "control/daemon/control_counters.h"
#include "core/host/fd.h"
#include "control/daemon/loop_watcher.h"
#include "core/host/result.h"

namespace sluice {

class EventLoop {
 public:
  // Blocks SIGTERM/SIGINT/SIGHUP (they arrive through the signalfd).
  static Result<EventLoop> create(std::chrono::milliseconds tick, LoopStats* stats = nullptr);

  // Gives `w` a turn in every iteration of run(); it must outlive run().
  void watch(LoopWatcher& w) { watchers_.push_back(&w); }
  // SIGHUP calls `f` instead of stopping.
  void on_hangup(std::function<void()> f) { on_hangup_ = std::move(f); }
  // Makes run() return 0 once the current iteration is done (API detach).
  void stop() { stop_ = true; }
  // The next tick comes after `delay` instead of a whole period (sooner
  // work: a MAC still unresolved).
  void tick_soon(std::chrono::milliseconds delay);

  // Returns the signal that stopped the loop, or 0 after stop().
  Result<int> run(const std::function<void()>& on_tick);

 private:
  EventLoop(Fd sig, Fd timer, std::chrono::milliseconds tick, LoopStats* stats)
      : sig_(std::move(sig)), timer_(std::move(timer)), tick_(tick), stats_(stats) {}
  int watchers_timeout_ms() const;
  Fd sig_;
  Fd timer_;
  std::chrono::milliseconds tick_;
  LoopStats* stats_;
  std::vector<LoopWatcher*> watchers_;
  std::function<void()> on_hangup_;
  bool stop_ = false;
};

}  // namespace sluice
