// SPDX-License-Identifier: Apache-2.0
// Runs the health checks of every checked backend: one HealthCheck (the
// counting) and, when due, one probe per backend, and reports each result.
// It knows nothing of the service table: the checks to run come in as
// HealthCheckDefs (health_check_defs() derives them from the table), the
// results go out as HealthReports. HealthThread (health_thread.h) runs it
// on a thread of its own, so that probes are started and judged on time
// whatever the main loop is doing.
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "control/daemon/control_counters.h"
#include "control/health/health_check.h"
#include "control/health/health_prober.h"
#include "control/daemon/loop_watcher.h"
#include "control/daemon/service_table.h"

namespace sluice {

// One backend's check, as configured.
struct HealthCheckDef {
  BackendRef ref;
  std::string name;  // "198.18.0.100:80/tcp backend 198.18.0.12"
  ProbeSpec spec;
  HealthCheck::Params params;
};

// Every check the table's VIPs ask for.
std::vector<HealthCheckDef> health_check_defs(const ServiceTable& table);

// A backend's health after a probe; `changed` when it went UP <-> DOWN.
struct HealthReport {
  BackendRef ref;
  HealthStatus status;
  bool changed = false;
};

class HealthMonitor final : public LoopWatcher {
 public:
  using Report = std::function<void(const HealthReport&)>;

  // `counters` may be null (tests that do not count).
  HealthMonitor(const Clock& clock, ControlCounters* counters, Report report);
  HealthMonitor(const HealthMonitor&) = delete;
  HealthMonitor& operator=(const HealthMonitor&) = delete;

  // Follows the defs: checks start for new backends (the first probe right
  // away), stop for removed ones, and the others keep their state and counts.
  void sync(const std::vector<HealthCheckDef>& defs);
  // Starts every probe that is due.
  void run_due();
  size_t checks() const { return checks_.size(); }

  void poll_fds(std::vector<pollfd>& out) override { prober_.poll_fds(out); }
  int poll_timeout_ms() override;
  void on_poll(const pollfd* fds, size_t n) override;

 private:
  struct Entry {
    std::string name;
    ProbeSpec spec;
    HealthCheck check;
    std::optional<HealthProber::ProbeId> probe;
  };

  void on_result(const BackendRef& ref, const ProbeResult& r);
  void log_transition(const Entry& e, Health now) const;

  const Clock& clock_;
  ControlCounters* counters_;
  Report report_;
  HealthProber prober_;
  std::map<BackendRef, Entry> checks_;
};

}  // namespace sluice
