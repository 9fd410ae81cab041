// SPDX-License-Identifier: Apache-2.0
// Runs the health checks of every checked backend: one HealthCheck (the
// counting) and, when due, one probe per backend, and reports each result
// to the ServiceTable, which reprograms the VIP when a backend changes
// between UP and DOWN. Lives in the daemon's poll loop (a LoopWatcher).
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <string>

#include "control/control_counters.h"
#include "control/health_check.h"
#include "control/health_prober.h"
#include "control/loop_watcher.h"
#include "control/service_table.h"

namespace sluice {

class HealthMonitor final : public LoopWatcher {
 public:
  // `counters` may be null (tests that do not count).
  HealthMonitor(ServiceTable& table, const Clock& clock, ControlCounters* counters);
  ~HealthMonitor() override;
  HealthMonitor(const HealthMonitor&) = delete;
  HealthMonitor& operator=(const HealthMonitor&) = delete;

  // Follows the table's backends: checks start for new ones (the first
  // probe right away), stop for removed ones, and the others keep their
  // state and counts. Hooked to ServiceTable::on_apply by the constructor.
  void sync();
  // Starts every probe that is due.
  void run_due();
  size_t checks() const { return checks_.size(); }
  // Runs after a backend changed between UP and DOWN (and the table was
  // reprogrammed): the daemon republishes its state for metrics there.
  void on_transition(std::function<void()> f) { on_transition_ = std::move(f); }

  void poll_fds(std::vector<pollfd>& out) override { prober_.poll_fds(out); }
  int poll_timeout_ms() override;
  void on_poll(const pollfd* fds, size_t n) override;

 private:
  struct Entry {
    std::string name;  // "198.18.0.100:80/tcp backend 198.18.0.12"
    ProbeSpec spec;
    HealthCheck check;
    std::optional<HealthProber::ProbeId> probe;
  };

  void on_result(const BackendRef& ref, const ProbeResult& r);
  void log_transition(const Entry& e, Health now) const;

  ServiceTable& table_;
  const Clock& clock_;
  ControlCounters* counters_;
  HealthProber prober_;
  std::map<BackendRef, Entry> checks_;
  std::function<void()> on_transition_;
};

}  // namespace sluice
