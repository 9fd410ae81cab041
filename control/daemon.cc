// SPDX-License-Identifier: Apache-2.0
#include "control/daemon.h"

#include <spdlog/spdlog.h>

#include <csignal>

#include "control/api.h"
#include "control/config_edit.h"
#include "control/config_store.h"
#include "control/control_counters.h"
#include "control/health_monitor.h"
#include "control/mac_resolver.h"
#include "control/metrics_endpoint.h"
#include "control/netlink.h"
#include "control/service_table.h"
#include "control/vip_addresses.h"
#include "xdp/xdp_dataplane.h"

namespace sluice {

namespace {

constexpr std::chrono::milliseconds kResolveWait{2000};
constexpr std::chrono::milliseconds kRefreshTick{5000};

std::vector<IpAddr> vip_addrs(const Config& cfg) {
  std::vector<IpAddr> out;
  for (const auto& v : cfg.vips) out.push_back(v.address);
  return out;
}

// The interface's own MAC and addresses (not our VIPs): the source of what
// we transmit and of the tunnels' outer headers.
Result<NodeAddrs> node_addrs(Netlink& nl, const LinkInfo& link, const Config& cfg) {
  NodeAddrs node;
  node.lb_mac = link.mac;
  auto v4 = nl.global_address(link.ifindex, SL_AF_INET, vip_addrs(cfg));
  if (!v4) return v4.error();
  auto v6 = nl.global_address(link.ifindex, SL_AF_INET6, vip_addrs(cfg));
  if (!v6) return v6.error();
  node.src_v4 = *v4;
  node.src_v6 = *v6;
  for (const auto& v : cfg.vips)
    for (const auto& be : v.backends)
      if (v.mode == SL_MODE_IPIP && !(be.address.is_v4() ? node.src_v4 : node.src_v6))
        spdlog::warn("{}: backend {}: {} has no global {} address for the tunnel source",
                     v.name(), be.address.str(), cfg.interface,
                     be.address.is_v4() ? "IPv4" : "IPv6");
  return node;
}

void log_ignored(const Config& cfg) {
  for (const auto& block : cfg.ignored_blocks())
    spdlog::warn("config: {}: not implemented yet, ignored", block);
}

Result<std::unique_ptr<XdpDataplane>> open_dataplane(const Config& cfg, const DaemonFlags& flags) {
  XdpOptions opts;
  opts.bpf_object = flags.bpf_object;
  opts.ifname = cfg.interface;
  opts.generic = cfg.xdp_generic;
  opts.conn_table_size = cfg.conn_table_size;
  auto dp = XdpDataplane::open(opts);
  if (dp)
    spdlog::info("XDP program on {} ({} mode), maps pinned at {}", cfg.interface,
                 (*dp)->attached_generic() ? "generic" : "native", (*dp)->pin_dir());
  return dp;
}

Result<void> shut_down(int signo, const DaemonFlags& flags, VipAddresses& addrs,
                       XdpDataplane& dp) {
  spdlog::info("signal {}: stopping", strsignal(signo));
  if (!flags.detach_on_exit) return {};
  if (auto r = addrs.remove_all(); !r) spdlog::warn("{}", r.error().message());
  if (auto r = dp.detach(); !r) return r;
  spdlog::info("detached from the interface, pins removed");
  return {};
}

}  // namespace

Result<void> daemon_run(const Config& cfg, const DaemonFlags& flags) {
  auto nl = Netlink::open();
  if (!nl) return nl.error();
  auto link = nl->link(cfg.interface);
  if (!link) return link.error();
  auto api = ApiServer::listen(cfg.api_socket);
  if (!api) return api.error();
  auto loop = EventLoop::create(kRefreshTick);
  if (!loop) return loop.error();
  auto node = node_addrs(*nl, *link, cfg);
  if (!node) return node.error();
  log_ignored(cfg);

  auto dp = open_dataplane(cfg, flags);
  if (!dp) return dp.error();
  KernelMacResolver resolver(*nl, link->ifindex);
  ServiceTable table(**dp, resolver);
  // Before anything is written: the tables may be a previous sluiced's,
  // still steering established flows.
  if (auto r = table.adopt(); !r) return r;
  if (auto r = table.set_node(*node); !r) return r;
  if (auto r = table.apply(dataplane_vips(cfg), kResolveWait); !r) return r;
  VipAddresses addrs(*nl, link->ifindex);
  if (auto r = addrs.sync(vip_addrs(cfg)); !r) return r;
  spdlog::info("serving {} VIPs on {}; API at {}", cfg.vips.size(), cfg.interface,
               cfg.api_socket);

  ControlCounters counters;
  // The metrics thread reads `counters` and the dataplane, and the state
  // the main loop publishes after every change.
  auto metrics = MetricsEndpoint::start(cfg.metrics_listen, **dp, counters);
  if (!metrics) return metrics.error();
  (*metrics)->publish(table);
  if (!cfg.metrics_listen.empty()) spdlog::info("metrics at http://{}/metrics", cfg.metrics_listen);
  // API changes and reloads: the tables, then the VIP addresses.
  ConfigStore store(cfg, flags.config_path, [&](const Config& next) -> Result<void> {
    if (auto r = table.apply(dataplane_vips(next), kResolveWait); !r) return r;
    return addrs.sync(vip_addrs(next));
  }, counters);
  loop->on_hangup([&] { (void)store.reload(); });
  // Checks start once the first apply has built the tables; every later
  // apply (API change, reload) re-syncs them through ServiceTable::on_apply.
  SteadyClock clock;
  HealthMonitor health(table, clock, &counters);
  health.on_transition([&] { (*metrics)->publish(table); });
  health.sync();
  loop->watch(health);
  // API detach: done before the reply, so the reply tells whether it worked.
  auto detach = [&]() -> Result<void> {
    if (auto r = addrs.remove_all(); !r) spdlog::warn("{}", r.error().message());
    if (auto r = (*dp)->detach(); !r) return r;
    spdlog::info("detached from {} on API request, pins removed; exiting", cfg.interface);
    loop->stop();
    return {};
  };
  DaemonInfo info{cfg.interface, "xdp", (*dp)->attached_generic(), (*dp)->pin_dir()};
  ApiHandler handler(table, **dp, store, info, detach);
  auto stopped = loop->run(
      *api,
      [&](std::string_view req) {
        auto reply = handler.handle(req);
        (*metrics)->publish(table);
        return reply;
      },
      [&] {
        if (auto r = table.refresh_macs(); !r) spdlog::warn("{}", r.error().message());
        (*metrics)->publish(table);
      });
  if (!stopped) return stopped.error();
  if (*stopped == 0) return {};  // detached through the API
  return shut_down(*stopped, flags, addrs, **dp);
}

}  // namespace sluice
