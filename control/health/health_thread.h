// SPDX-License-Identifier: Apache-2.0
// The health checks on a thread of their own. The main loop may be busy
// (a 10,000-backend change, a burst of API requests): probes still start
// when due and are judged by when their answer came, so a busy controller
// is never mistaken for a failed backend.
//
// Main thread -> health thread: update(defs) (the checks to run).
// Health thread -> main thread: the latest HealthReport per backend,
// coalesced, handed over through an eventfd that the main loop watches
// (this class is that LoopWatcher); the main loop applies them to the
// service table, which only it touches.
#pragma once

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "core/host/fd.h"
#include "control/health/health_monitor.h"
#include "core/host/result.h"

namespace sluice {

class HealthThread final : public LoopWatcher {
 public:
  using Sink = std::function<void(const HealthReport&)>;

  // `clock` and `counters` (may be null) must outlive the thread; `sink`
  // runs on the main loop's thread, from on_poll.
  static Result<std::unique_ptr<HealthThread>> start(const Clock& clock,
                                                     ControlCounters* counters, Sink sink);
  ~HealthThread() override;  // stops and joins the thread
  HealthThread(const HealthThread&) = delete;
  HealthThread& operator=(const HealthThread&) = delete;

  // Main thread: the checks to run from now on (HealthMonitor::sync rules).
  void update(std::vector<HealthCheckDef> defs);

  // The main loop's side: the eventfd of pending reports.
  void poll_fds(std::vector<pollfd>& out) override;
  int poll_timeout_ms() override { return -1; }
  void on_poll(const pollfd* fds, size_t n) override;
  // Hands the pending reports to the sink now (tests; on_poll does it).
  size_t drain();

 private:
  HealthThread(const Clock& clock, ControlCounters* counters, Sink sink, Fd wake, Fd ready);
  void run();
  void report(const HealthReport& r);  // health thread

  Sink sink_;
  Fd wake_;   // main -> health: new defs, or stop
  Fd ready_;  // health -> main: reports pending
  std::mutex mu_;
  std::optional<std::vector<HealthCheckDef>> pending_defs_;      // guarded by mu_
  std::map<BackendRef, HealthReport> pending_reports_;          // guarded by mu_
  std::atomic<bool> stop_{false};
  HealthMonitor monitor_;  // health thread only, after start
  std::thread thread_;     // last: started once the rest is built
};

}  // namespace sluice
