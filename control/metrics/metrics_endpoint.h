// SPDX-License-Identifier: Apache-2.0
// sluiced's metrics endpoint: the registry the main loop publishes to, the
// HTTP server, and the scrape (snapshot + dataplane counters -> text).
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "control/daemon/control_counters.h"
#include "control/metrics/metrics.h"
#include "control/metrics/metrics_server.h"
#include "control/vrrp/vrrp_report.h"

namespace sluice {

class Dataplane;

class MetricsEndpoint {
 public:
  // `listen` empty: metrics disabled, publish() does nothing. `dp` and
  // `counters` must outlive the endpoint (the server thread reads them).
  static Result<std::unique_ptr<MetricsEndpoint>> start(const std::string& listen,
                                                        Dataplane& dp,
                                                        const ControlCounters& counters);

  // Main loop, after every change of the service state.
  void publish(const ServiceTable& table);
  // Main loop, after every apply: the firewall rules (control/acl), kept
  // and attached to every snapshot publish() makes from now on.
  void publish_acl(const std::vector<MetricsAclRule>& rules);
  // The API surface's connection counters, reported beside the metrics
  // port's own; `api` must outlive the endpoint.
  void watch_clients(const ClientStats& api) { api_clients_ = &api; }
  // The VRRP instance's report, asked for on every scrape: `source` runs on
  // the metrics thread, so it must be thread-safe and must not wait on the
  // VRRP thread's work (a copy under a lock). May be set after start().
  using VrrpSource = std::function<std::optional<vrrp::VrrpReport>()>;
  void set_vrrp(VrrpSource source);

 private:
  MetricsEndpoint(Dataplane& dp, const ControlCounters& counters);
  std::string scrape();

  Dataplane& dp_;
  const ControlCounters& counters_;
  MetricsRegistry registry_;
  MetricsAclRules acl_;  // main loop only
  ConnCountCache conn_count_;
  BuildInfo build_;
  std::atomic<const ClientStats*> api_clients_{nullptr};  // set once, read by the server
  std::mutex vrrp_mu_;  // guards vrrp_ (set by the main thread, read by the server)
  VrrpSource vrrp_;
  std::unique_ptr<MetricsServer> server_;  // last: stopped before the rest goes
};

}  // namespace sluice
