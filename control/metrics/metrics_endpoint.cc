// SPDX-License-Identifier: Apache-2.0
#include "control/metrics/metrics_endpoint.h"

#include "dataplane/dataplane.h"

namespace sluice {

namespace {

// Counting a 1M-entry LRU table takes tens of milliseconds: at most once
// per this interval, whatever the scrape rate.
constexpr std::chrono::seconds kConnCountMaxAge{5};

}  // namespace

MetricsEndpoint::MetricsEndpoint(Dataplane& dp, const ControlCounters& counters)
    : dp_(dp),
      counters_(counters),
      conn_count_([&dp] { return dp.conn_count(); }, kConnCountMaxAge),
      build_(build_info(dp.describe().kind)) {}

Result<std::unique_ptr<MetricsEndpoint>> MetricsEndpoint::start(const std::string& listen,
                                                                Dataplane& dp,
                                                                const ControlCounters& counters) {
  std::unique_ptr<MetricsEndpoint> ep(new MetricsEndpoint(dp, counters));
  if (listen.empty()) return ep;
  MetricsEndpoint* self = ep.get();
  auto server = MetricsServer::start(listen, [self] { return self->scrape(); });
  if (!server) return server.error();
  ep->server_ = std::move(*server);
  return ep;
}

void MetricsEndpoint::publish(const ServiceTable& table) {
  if (!server_) return;
  MetricsSnapshot snap = metrics_snapshot_of(table);
  snap.acl = acl_;
  registry_.publish(std::move(snap));
}

void MetricsEndpoint::publish_acl(const std::vector<MetricsAclRule>& rules) {
  if (server_) acl_ = std::make_shared<const std::vector<MetricsAclRule>>(rules);
}

void MetricsEndpoint::set_vrrp(VrrpSource source) {
  std::lock_guard lock(vrrp_mu_);
  vrrp_ = std::move(source);
}

std::string MetricsEndpoint::scrape() {
  auto snap = registry_.current();
  MetricsCounters c = metrics_collect(*snap, dp_, counters_);
  c.conn_entries = conn_count_.get(std::chrono::steady_clock::now());
  c.conn_table_size = dp_.conn_table_size();
  if (const ClientStats* api = api_clients_.load()) c.surfaces.push_back(surface_values("api", *api));
  if (server_) c.surfaces.push_back(surface_values("metrics", server_->stats()));
  VrrpSource vrrp;
  {
    std::lock_guard lock(vrrp_mu_);
    vrrp = vrrp_;
  }
  if (vrrp) c.vrrp = vrrp();
  return metrics_render(*snap, c, build_);
}

}  // namespace sluice
