// SPDX-License-Identifier: Apache-2.0
#include "control/daemon/daemon.h"

#include <spdlog/spdlog.h>
#include <net/if.h>
#include <sys/resource.h>

#include <algorithm>
#include <csignal>
#include <future>

#include "control/api/api.h"
#include "control/api/api_server.h"
#include "control/api/change_runner.h"
#include "control/config/config_edit.h"
#include "control/config/config_store.h"
#include "control/daemon/control_counters.h"
#include "control/daemon/dataplane_open.h"
#include "control/daemon/event_loop.h"
#include "control/health/health_thread.h"
#include "control/daemon/log_limit.h"
#include "control/net/mac_resolver.h"
#include "control/metrics/metrics_endpoint.h"
#include "control/net/netlink.h"
#include "control/daemon/sd_notify.h"
#include "control/acl/acl_table.h"
#include "control/daemon/service_table.h"
#include "control/sync/sync_service.h"
#include "control/net/vip_addresses.h"
#include "control/vrrp/vrrp_service.h"

namespace sluice {

namespace {

// Start-up may wait for neighbours (nothing is served yet); a change made
// from the loop never waits: unresolved MACs are retried by the tick, soon
// at first, then less often.
constexpr std::chrono::milliseconds kStartupResolveWait{2000};
constexpr std::chrono::milliseconds kRefreshTick{5000};
constexpr std::chrono::milliseconds kRetryFirst{100};
// What sluiced asks of RLIMIT_NOFILE: room for the health probes of
// thousands of backends, the dataplane's maps and the client surfaces,
// whose own caps (api_client_limits, the metrics server's) stay far below.
constexpr rlim_t kWantFiles = 65536;

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

// Clients are capped per surface, so the limit only has to hold the caps
// plus what sluiced itself opens; raising it keeps a burst of probes from
// ever meeting EMFILE.
void raise_fd_limit() {
  rlimit rl{};
  if (getrlimit(RLIMIT_NOFILE, &rl) < 0) return;
  rlimit want = rl;
  want.rlim_cur = std::max<rlim_t>(rl.rlim_cur, kWantFiles);
  want.rlim_max = std::max(rl.rlim_max, want.rlim_cur);
  if (setrlimit(RLIMIT_NOFILE, &want) < 0) {  // no CAP_SYS_RESOURCE: up to the hard limit
    want.rlim_cur = want.rlim_max = rl.rlim_max;
    if (rl.rlim_cur < rl.rlim_max) setrlimit(RLIMIT_NOFILE, &want);
  }
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0)
    spdlog::debug("file descriptor limit {}", static_cast<uint64_t>(rl.rlim_cur));
}

// The backends whose MAC comes from a route lookup (the next hop).
std::vector<IpAddr> ipip_backends(const std::vector<VipConfig>& vips) {
  std::vector<IpAddr> out;
  for (const auto& v : vips)
    if (v.mode == SL_MODE_IPIP)
      for (const auto& b : v.backends) out.push_back(b.address);
  return out;
}

void log_ignored(const Config& cfg) {
  for (const auto& block : cfg.ignored_blocks())
    spdlog::warn("config: {}: not implemented yet, ignored", block);
}

Result<std::unique_ptr<Dataplane>> open_dataplane(const Config& cfg, const DaemonFlags& flags) {
  DataplaneOpenOptions opts;
  opts.kind = cfg.dataplane;
  opts.bpf_object = flags.bpf_object;
  opts.ifname = cfg.interface;
  opts.xdp_generic = cfg.xdp_generic;
  opts.conn_table_size = cfg.conn_table_size;
  opts.syn_table_size = cfg.syn_table_size;
  opts.acl_trie_nodes = cfg.acl_trie_nodes;
  if (cfg.dpdk) {
    opts.eal_args = cfg.dpdk->eal;
    opts.dpdk_port = cfg.dpdk->port;
    opts.dpdk_workers = cfg.dpdk->workers;
    opts.dpdk_idle_sleep_us = cfg.dpdk->idle_sleep_us;
  }
  auto dp = dataplane_open(opts);
  if (dp) {
    DataplaneInfo d = (*dp)->describe();
    if (d.kind == "xdp")
      spdlog::info("{} dataplane on {} ({} mode), state at {}", d.kind, cfg.interface, d.mode,
                   d.location);
    else
      spdlog::info("{} dataplane: {}, {}; the kernel's side is {}", d.kind, d.mode, d.location,
                   cfg.interface);
  }
  return dp;
}

// DPDK: the node's own addresses go on the TAP it just made (the kernel
// reaches the network through it: neighbours, routes, VRRP, health checks).
Result<void> tap_addresses(Netlink& nl, const Config& cfg) {
  if (!cfg.dpdk || cfg.dpdk->addresses.empty()) return {};
  auto link = nl.link(cfg.interface);
  if (!link) return link.error();
  for (const auto& a : cfg.dpdk->addresses)
    if (auto r = nl.address_add(link->ifindex, a); !r) return r;
  return {};
}

// The dataplane's heartbeat, stamped by the VRRP thread every advert
// interval: a node whose sluiced was killed stops steering once the stamp
// is older than `timeout` (by then the peer has taken over).
std::function<void(std::chrono::nanoseconds)> heartbeat_hook(Dataplane& dp) {
  return [&dp, warn = LogLimit(std::chrono::seconds(10))](std::chrono::nanoseconds t) mutable {
    auto r = dp.heartbeat(static_cast<uint64_t>(t.count()));
    if (!r)
      if (auto held = warn.take(std::chrono::steady_clock::now()))
        spdlog::warn("vrrp: dataplane heartbeat: {}", r.error().message());
  };
}

// Some VIP has no backend in its live ring (track.no_serving_backend).
bool vip_without_serving_backend(const ServiceTable& table) {
  for (const auto& v : table.vips()) {
    bool serving = false;
    for (const auto& be : v.backends) serving = serving || be.serving;
    if (!serving) return true;
  }
  return false;
}

// Under `vrrp:`: the VRRP thread owns the role and the VIP addresses from
// here on. The adverts leave from the interface's primary IPv4 address, or
// its IPv6 link-local one (a global one towards IPv6 unicast peers).
Result<std::unique_ptr<vrrp::VrrpService>> start_vrrp(const Config& cfg, Netlink& nl,
                                                      const LinkInfo& vip_link,
                                                      ServiceTable& table, Dataplane& dp,
                                                      sync::SyncService* sync_svc) {
  const VrrpConfig& v = *cfg.vrrp;
  if (v.virtual_mac)
    spdlog::warn("vrrp: virtual_mac: not implemented yet; adverts and announcements use {}'s "
                 "own MAC",
                 cfg.interface);
  vrrp::ServiceOptions o;
  o.vrrp = v;
  o.advert_ifname = v.interface.empty() ? cfg.interface : v.interface;
  auto link = nl.link(o.advert_ifname);
  if (!link) return link.error();
  o.advert_ifindex = link->ifindex;
  o.advert_mac = link->mac;
  o.advert_link_up = (link->flags & IFF_UP) && (link->flags & IFF_RUNNING);
  o.vip_ifindex = vip_link.ifindex;
  o.vip_mac = vip_link.mac;
  o.vips = vip_addrs(cfg);
  uint8_t family = vrrp::advert_family(v, o.vips);
  auto primary = family == SL_AF_INET6 && v.unicast_peers.empty()
                     ? nl.link_local_address(link->ifindex)
                     : nl.global_address(link->ifindex, family, o.vips);
  if (!primary) return primary.error();
  if (!*primary)
    return make_error(std::string("vrrp: no ") +
                          (family == SL_AF_INET6 ? "IPv6 link-local" : "IPv4") +
                          " address to send adverts from",
                      0, o.advert_ifname);
  o.primary = **primary;
  o.set_role = [&table](bool active) {
    return table.global().set_role(active ? SL_ROLE_ACTIVE : SL_ROLE_PASSIVE);
  };
  o.heartbeat = heartbeat_hook(dp);
  // A returning node does not take the VIP back before its connection
  // table is resynced from the master (a silent master is still replaced).
  if (sync_svc) o.preempt_hold = [sync_svc] { return !sync_svc->resynced(); };
  return vrrp::VrrpService::start(std::move(o));
}

Result<void> shut_down(int signo, const DaemonFlags& flags, VipAddresses& addrs,
                       Dataplane& dp) {
  spdlog::info("signal {}: stopping", strsignal(signo));
  notify_stopping();
  if (!flags.detach_on_exit) return {};
  if (auto r = addrs.remove_all(); !r) spdlog::warn("{}", r.error().message());
  if (auto r = dp.detach(); !r) return r;
  spdlog::info(dp.describe().kind == "xdp" ? "detached from the interface, pins removed"
                                           : "dataplane stopped, ports closed");
  return {};
}

}  // namespace

Result<void> daemon_run(const Config& cfg, const DaemonFlags& flags) {
  raise_fd_limit();
  auto nl = Netlink::open();
  if (!nl) return nl.error();
  // The loop blocks the signals it takes: before the DPDK EAL starts its
  // threads, which would otherwise get SIGTERM and die of it.
  ControlCounters counters;
  auto loop = EventLoop::create(kRefreshTick, &counters.loop);
  if (!loop) return loop.error();
  // DPDK makes `interface` (its TAP), so it opens first; XDP attaches to
  // an interface that exists, once the rest is ready.
  Result<std::unique_ptr<Dataplane>> dp = make_error("dataplane: not opened");
  if (cfg.dataplane == DataplaneKind::dpdk) {
    dp = open_dataplane(cfg, flags);
    if (!dp) return dp.error();
    if (auto r = tap_addresses(*nl, cfg); !r) return r;
  }
  auto link = nl->link(cfg.interface);
  if (!link) return link.error();
  auto api = ApiServer::listen(cfg.api_socket);
  if (!api) return api.error();
  auto node = node_addrs(*nl, *link, cfg);
  if (!node) return node.error();
  log_ignored(cfg);

  if (!dp) dp = open_dataplane(cfg, flags);
  if (!dp) return dp.error();
  KernelMacResolver resolver(*nl, link->ifindex);
  // Under `vrrp:` the node starts in Backup: passive, no VIP address, until
  // the VRRP thread makes it MASTER. Without it: active, VIPs held always.
  const bool under_vrrp = cfg.vrrp.has_value();
  ServiceTable table(**dp, resolver, under_vrrp ? SL_ROLE_PASSIVE : SL_ROLE_ACTIVE);
  // Before anything is written: the tables may be a previous sluiced's,
  // still steering established flows.
  if (auto r = table.adopt(); !r) return r;
  // Without `vrrp:` no heartbeat check: a program a `vrrp:` run left behind
  // would otherwise stop steering once its last stamp went stale.
  if (!under_vrrp)
    if (auto r = (*dp)->heartbeat(0); !r) spdlog::warn("{}", r.error().message());
  if (auto r = table.set_node(*node); !r) return r;
  // The firewall around every apply (control/acl/acl_table.h): rules staged
  // before the VIPs' flags point at them, stale ones removed after.
  AclTable acls(**dp);
  std::optional<AclConfig> acl_global;  // the config being applied
  table.vip_flags([&](const VipConfig& v) { return AclTable::vip_flags(acl_global, v); });
  auto apply_all = [&](const Config& c, std::chrono::milliseconds wait) -> Result<void> {
    auto vips = dataplane_vips(c);
    if (auto r = acls.stage(c.acl, acl_vips(vips, table.vips())); !r) return r;
    acl_global = c.acl;
    if (auto r = table.apply(vips, wait); !r) return r;
    return acls.commit(c.acl, acl_vips(vips, table.vips()));
  };
  if (auto r = table.global().set_limits(cfg.limits); !r) return r;
  if (auto r = apply_all(cfg, kStartupResolveWait); !r) return r;
  VipAddresses addrs(*nl, link->ifindex);
  // Connection sync on its own thread: the VRRP thread tells it the role;
  // the main loop hands it the tables after each apply. It outlives the
  // VRRP service, whose role callback it is.
  std::unique_ptr<sync::SyncService> sync_svc;
  if (cfg.sync) {
    sync::SyncOptions so;
    so.config = *cfg.sync;
    auto started = sync::SyncService::start(so, **dp);
    if (!started) return started.error();
    sync_svc = std::move(*started);
    sync_svc->set_tables(sync::sync_tables_of(table.vips()));
    if (!under_vrrp) sync_svc->set_master(true);  // always active: always the sender
  }
  std::unique_ptr<vrrp::VrrpService> vrrp_svc;
  if (under_vrrp) {
    auto started = start_vrrp(cfg, *nl, *link, table, **dp, sync_svc.get());
    if (!started) return started.error();
    vrrp_svc = std::move(*started);
    vrrp_svc->set_vip_without_serving_backend(vip_without_serving_backend(table));
    if (sync_svc)
      vrrp_svc->on_role([s = sync_svc.get()](bool master) { s->set_master(master); });
  } else if (auto r = addrs.sync(vip_addrs(cfg)); !r) {
    return r;
  }
  // The VRRP thread stops (VIPs removed, passive) before the tables go.
  struct VrrpStop {
    std::unique_ptr<vrrp::VrrpService>& v;
    ~VrrpStop() {
      if (v) v->shutdown(std::chrono::milliseconds(1000));
    }
  } vrrp_stop{vrrp_svc};
  spdlog::info("serving {} VIPs on {}; API at {}", cfg.vips.size(), cfg.interface,
               cfg.api_socket);
  notify_ready(fmt::format("serving {} VIPs on {}", cfg.vips.size(), cfg.interface));

  // The metrics thread reads `counters` and the dataplane, and the state
  // the main loop publishes after every change.
  auto metrics = MetricsEndpoint::start(cfg.metrics_listen, **dp, counters);
  if (!metrics) return metrics.error();
  (*metrics)->publish_acl(metrics_acl_of(acls.rules()));
  (*metrics)->publish(table);
  if (!cfg.metrics_listen.empty()) spdlog::info("metrics at http://{}/metrics", cfg.metrics_listen);

  // Unresolved MACs: retried soon after a change, then less often.
  auto retry_delay = kRetryFirst;
  auto retry_unresolved = [&](bool fresh) {
    if (fresh) retry_delay = kRetryFirst;
    if (table.unresolved() == 0) return;
    loop->tick_soon(retry_delay);
    retry_delay = std::min(retry_delay * 2, kRefreshTick);
  };
  // Health checks run on their own thread; their results come back to
  // this loop, the only writer of the tables. Every apply (API change,
  // reload) hands the thread the checks the tables now ask for.
  SteadyClock clock;
  auto health = HealthThread::start(clock, &counters, [&](const HealthReport& r) {
    if (auto w = table.set_health(r.ref, r.status); !w)
      spdlog::error("health: reprogramming failed: {}", w.error().message());
    if (r.changed) (*metrics)->publish(table);
    if (vrrp_svc) vrrp_svc->set_vip_without_serving_backend(vip_without_serving_backend(table));
  });
  if (!health) return health.error();
  // After every apply: the checks, sync's view of the slots, and the
  // tracking input of VRRP (health changes pass it on above).
  table.on_apply([&] {
    (*health)->update(health_check_defs(table));
    if (sync_svc) sync_svc->set_tables(sync::sync_tables_of(table.vips()));
    if (vrrp_svc) vrrp_svc->set_vip_without_serving_backend(vip_without_serving_backend(table));
  });
  (*health)->update(health_check_defs(table));
  loop->watch(**health);
  // Route lookups for ipip backends run off the loop: on the change
  // runner's worker for a change, on a refresh thread of their own once a
  // tick; resolve() then finds them cached.
  auto prefetch = [&](const std::vector<VipConfig>& vips) {
    resolver.prefetch_routes(ipip_backends(vips));
  };

  // API changes and reloads: the tables, then the VIP addresses.
  ConfigStore store(cfg, flags.config_path, [&](const Config& next) -> Result<void> {
    if (auto r = table.global().set_limits(next.limits); !r) return r;
    auto applied = apply_all(next, std::chrono::milliseconds(0));
    (*metrics)->publish_acl(metrics_acl_of(acls.rules()));  // whatever the apply left
    if (!applied) return applied;
    retry_unresolved(true);
    if (!vrrp_svc) return addrs.sync(vip_addrs(next));
    // The VRRP thread holds the addresses: it takes the new list, and adds
    // it only while MASTER.
    vrrp_svc->set_vips(vip_addrs(next));
    return {};
  }, counters);
  store.set_prepare([&](const Config& next) { prefetch(dataplane_vips(next)); });
  // Changes and reloads: parsed, checked and written off the loop, one at
  // a time, applied on it; status and health go on meanwhile.
  auto changes = ChangeRunner::create(store);
  if (!changes) return changes.error();
  loop->watch(**changes);
  // systemd's ExecReload: RELOADING=1 now, READY=1 once the reload is done
  // (applied or refused), or the unit would stay "reloading".
  loop->on_hangup([&] {
    notify_reloading();
    (*changes)->reload([&](const Result<void>&) {
      notify_ready(fmt::format("serving {} VIPs on {}", store.running().vips.size(),
                               cfg.interface));
    });
  });

  // API detach: done before the reply, so the reply tells whether it worked.
  auto detach = [&]() -> Result<void> {
    if (vrrp_svc) vrrp_svc->shutdown(std::chrono::milliseconds(1000));
    if (auto r = addrs.remove_all(); !r) spdlog::warn("{}", r.error().message());
    if (auto r = (*dp)->detach(); !r) return r;
    spdlog::info("detached from {} on API request, pins removed; exiting", cfg.interface);
    loop->stop();
    return {};
  };
  DaemonInfo info{cfg.interface};
  info.loop = &counters.loop;
  ApiHandler handler(table, **dp, store, info, detach);
  // `status`, `sluicectl vrrp` and the metrics read the VRRP thread's
  // snapshot (a copy under its lock); without `vrrp:` there is none.
  auto vrrp_report = [&vrrp_svc, &sync_svc]() -> std::optional<vrrp::VrrpReport> {
    if (!vrrp_svc) return std::nullopt;
    vrrp::VrrpReport r = vrrp_svc->report();
    if (sync_svc) r.sync = sync_svc->report();
    return r;
  };
  handler.set_vrrp(vrrp_report);
  handler.set_acl(&acls);
  (*metrics)->set_vrrp(vrrp_report);
  (*api)->set_handler([&](std::string_view req, ApiServer::Ticket t) {
    auto reply = handler.handle_async(req, **changes, [&, t](std::string later) {
      (*api)->complete(t, later);
      (*metrics)->publish(table);
    });
    (*metrics)->publish(table);
    return reply;
  });
  loop->watch(**api);
  (*metrics)->watch_clients((*api)->stats());
  retry_unresolved(true);
  auto routes_at = std::chrono::steady_clock::now();
  std::future<void> route_refresh;  // joined (if running) when it goes out of scope
  auto stopped = loop->run([&] {
    // Routes may have changed: looked up afresh once a period (not on the
    // quicker retries of unresolved MACs), never waited for; a refresh still
    // running is not started again.
    auto now = std::chrono::steady_clock::now();
    bool idle = !route_refresh.valid() ||
                route_refresh.wait_for(std::chrono::seconds(0)) == std::future_status::ready;
    if (idle && now - routes_at >= kRefreshTick) {
      std::vector<VipConfig> vips;
      for (const auto& v : table.vips()) vips.push_back(v.cfg);
      route_refresh = std::async(std::launch::async, [&prefetch, vips] { prefetch(vips); });
      routes_at = now;
    }
    if (auto r = table.refresh_macs(); !r) spdlog::warn("{}", r.error().message());
    retry_unresolved(false);
    (*metrics)->publish(table);
  });
  table.on_apply(nullptr);
  if (vrrp_svc) {
    // SIGTERM under vrrp: priority 0 (the backup takes over at once), VIPs
    // removed, role passive; then as without it.
    // (The service stays: the metrics thread may still read its report.)
    vrrp_svc->shutdown(std::chrono::milliseconds(1000));
  }
  if (!stopped) return stopped.error();
  if (*stopped == 0) return {};  // detached through the API
  return shut_down(*stopped, flags, addrs, **dp);
}

}  // namespace sluice
