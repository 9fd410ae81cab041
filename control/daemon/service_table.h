// SPDX-License-Identifier: Apache-2.0
// ServiceTable turns the configured VIPs and backends into dataplane state:
// VIP ids, backend slots, schedule rings and the node-wide settings. It owns
// the mapping (config entry -> table index) and keeps it stable across
// re-applies and, by adopting what the dataplane holds, across restarts,
// so established connections keep their backend.
#pragma once

#include <chrono>
#include <compare>
#include <functional>
#include <mutex>
#include <optional>
#include <vector>

#include "control/daemon/backend_slots.h"
#include "control/config/config.h"
#include "dataplane/dataplane.h"
#include "control/health/health_check.h"
#include "control/daemon/log_limit.h"
#include "control/net/mac_resolver.h"

namespace sluice {

struct NodeAddrs {
  Mac lb_mac{};
  std::optional<IpAddr> src_v4;
  std::optional<IpAddr> src_v6;
};

// The one writer of sl_global. The node's addresses come from the main
// loop (set_node), the role from the VRRP thread (MASTER / BACKUP): each
// write stores the whole record under one small mutex, held for one map
// update only, so neither undoes the other's field and neither waits long.
class NodeGlobal {
 public:
  NodeGlobal(Dataplane& dp, uint32_t role) : dp_(dp) { g_.role = role; }
  Result<void> set_addrs(const NodeAddrs& node);
  Result<void> set_role(uint32_t role);  // SL_ROLE_*
  // The node-wide new-flow limit per source (config `limits:`); none: off.
  Result<void> set_limits(const std::optional<LimitsConfig>& limits);
  uint32_t role() const;

 private:
  Dataplane& dp_;
  mutable std::mutex mu_;
  sl_global g_{};  // guarded by mu_
};

struct BackendState {
  BackendConfig cfg;
  uint32_t index = 0;  // slot in the backend table
  std::optional<Mac> mac;
  bool serving = false;  // in the live ring
  // Kept across applies while the backend stays (same VIP and address).
  // Metrics: health.transitions counts this backend's UP <-> DOWN changes.
  HealthStatus health;
};

// One backend of one service, stable across applies.
struct BackendRef {
  IpAddr vip;
  uint16_t port = 0;
  uint8_t protocol = 0;
  IpAddr backend;

  auto operator<=>(const BackendRef&) const = default;
};

struct VipState {
  VipConfig cfg;  // backends as configured; see `backends` for the state
  uint32_t vip_id = 0;
  uint32_t ring_id = 0;  // the live ring
  uint32_t ring_len = 0;
  bool programmed = false;
  std::vector<BackendState> backends;

  sl_vip_key key() const;
};

class ServiceTable {
 public:
  // `role`: what set_node writes first. ACTIVE without VRRP; PASSIVE under
  // VRRP, whose thread then sets it through global().
  ServiceTable(Dataplane& dp, MacResolver& resolver, uint32_t role = SL_ROLE_ACTIVE);

  // Node-wide settings (the role is global()'s).
  Result<void> set_node(const NodeAddrs& node);
  // Thread-safe: the VRRP thread writes the role here.
  NodeGlobal& global() { return global_; }
  // Takes over the tables a previous sluiced left in the dataplane (they
  // outlive it): VIP ids, live rings, backend slots and gens. Once, before
  // the first apply; apply calls it if the caller did not.
  Result<void> adopt();
  // Makes the dataplane serve exactly `vips`.
  Result<void> apply(const std::vector<VipConfig>& vips, std::chrono::milliseconds wait);
  // Re-resolves every backend MAC; reprograms the backends (and rings) whose
  // MAC changed. Returns how many backends changed.
  Result<size_t> refresh_macs(std::chrono::milliseconds wait = {});
  // Records a backend's latest health. When it changes between healthy and
  // down, reprograms the VIP: on the way down the ring is switched first
  // and the flags (on_backend_down) follow, so no new flow is scheduled
  // onto it after its old flows were let go; on the way up the reverse.
  // An unknown backend (removed since the probe started) is ignored.
  Result<void> set_health(const BackendRef& ref, const HealthStatus& status);
  // Runs after every apply that changed the tables (the health monitor
  // starts and stops checks there, whoever called apply).
  void on_apply(std::function<void()> listener) { on_apply_ = std::move(listener); }
  // The SL_VIP_F_* flags a VIP's entry carries (the firewall's, from the
  // ACL table); none by default. Asked at every write of the entry.
  void vip_flags(std::function<uint8_t(const VipConfig&)> f) { vip_flags_ = std::move(f); }

  const std::vector<VipState>& vips() const { return vips_; }
  const NodeAddrs& node() const { return node_; }
  // The generation of backend slot `index` (< SL_MAX_BACKENDS): a conn
  // recorded with another one belongs to an earlier owner of the slot.
  uint32_t backend_gen(uint32_t index) const { return backend_slots_.gen(index); }
  // Backends whose MAC was not known at the last resolve (not scheduled).
  size_t unresolved() const { return unresolved_; }

 private:
  Result<std::vector<VipState>> plan(const std::vector<VipConfig>& vips);
  void resolve_macs(std::vector<VipState>& vips, std::chrono::milliseconds wait);
  Result<void> put_backend(const VipState& vip, const BackendState& be, uint8_t flags);
  Result<void> put_backends(const VipState& vip, bool live);
  Result<void> program_ring(VipState& vip);
  Result<void> retire(const std::vector<VipState>& next);
  Result<void> adopt_vip(const sl_vip_key& key, const sl_vip_meta& meta,
                         std::vector<VipState>& found);
  void adopt_backends(std::vector<VipState>& found, const std::vector<sl_backend>& slots,
                      std::vector<bool>& claimed);
  Result<void> retire_orphans(std::vector<sl_backend>& slots, const std::vector<bool>& claimed);

  void reset_counters(CounterKind kind, uint32_t id);
  Dataplane& dp_;
  MacResolver& resolver_;
  IndexPool vip_ids_{SL_MAX_VIPS};
  IndexPool backend_slots_{SL_MAX_BACKENDS};
  NodeAddrs node_;
  NodeGlobal global_;
  std::vector<VipState> vips_;
  bool adopted_ = false;
  size_t unresolved_ = 0;
  LogLimit unresolved_warning_{std::chrono::seconds(60)};
  std::function<void()> on_apply_;
  std::function<uint8_t(const VipConfig&)> vip_flags_;
};

// The dataplane flags (SL_BE_F_*) a configured backend gets.
uint8_t backend_flags(const VipConfig& vip, const BackendState& be);

}  // namespace sluice
