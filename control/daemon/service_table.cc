// SPDX-License-Identifier: Apache-2.0
#include "control/daemon/service_table.h"

#include <spdlog/spdlog.h>

#include <cstring>
#include <map>
#include <memory>
#include <utility>

#include "core/wrr.h"

namespace sluice {

namespace {

bool same_service(const VipConfig& a, const VipConfig& b) {
  return a.address == b.address && a.port == b.port && a.protocol == b.protocol;
}

const BackendState* find_backend(const VipState& vip, const IpAddr& addr) {
  for (const auto& be : vip.backends)
    if (be.cfg.address == addr) return &be;
  return nullptr;
}

const VipState* find_vip(const std::vector<VipState>& vips, const VipConfig& cfg) {
  for (const auto& v : vips)
    if (same_service(v.cfg, cfg)) return &v;
  return nullptr;
}

// The tier that takes new flows: primaries that can take traffic (weight,
// MAC, not failing their health check), else the backups (HAProxy's
// `backup`), else nobody.
std::vector<BackendState*> serving_tier(VipState& vip) {
  std::vector<BackendState*> tier[2];
  for (auto& be : vip.backends) {
    be.serving = false;
    if (be.cfg.weight > 0 && be.mac && be.health.healthy())
      tier[be.cfg.backup ? 1 : 0].push_back(&be);
  }
  return tier[0].empty() ? tier[1] : tier[0];
}

// Health as a (re)configured backend starts it: kept while the VIP stays
// checked, UP when checking begins (see health_check.h), unchecked without.
void carry_health(const VipConfig& cfg, BackendState& be) {
  if (!cfg.health_check)
    be.health = HealthStatus{};
  else if (be.health.state == Health::unchecked)
    be.health.state = Health::up;
}

VipState* find_vip(std::vector<VipState>& vips, const BackendRef& ref) {
  for (auto& v : vips)
    if (v.cfg.address == ref.vip && v.cfg.port == ref.port && v.cfg.protocol == ref.protocol)
      return &v;
  return nullptr;
}

bool valid_family(uint8_t family) { return family == SL_AF_INET || family == SL_AF_INET6; }

VipState vip_from_abi(const sl_vip_key& key, const sl_vip_meta& meta) {
  VipState v;
  v.cfg.address = IpAddr::from_abi(key.addr, key.family);
  v.cfg.port = sl_ntohs(key.port);
  v.cfg.protocol = key.proto;
  v.cfg.mode = static_cast<sl_mode>(meta.mode);
  v.vip_id = meta.vip_id;
  v.ring_id = meta.ring_id;  // live: the next build goes to the other ring
  v.programmed = true;
  return v;
}

BackendState backend_from_abi(uint32_t index, const sl_backend& b) {
  BackendState be;
  be.cfg.address = IpAddr::from_abi(b.addr, b.family);
  be.index = index;
  Mac mac;
  std::memcpy(mac.data(), b.mac, 6);
  if (mac != Mac{}) be.mac = mac;
  return be;
}

bool ever_written(const sl_backend& b) {
  static const sl_backend zero{};
  return std::memcmp(&b, &zero, sizeof(b)) != 0;
}

}  // namespace

sl_vip_key VipState::key() const {
  sl_vip_key k{};
  cfg.address.to_abi(k.addr);
  k.port = sl_htons(cfg.port);
  k.proto = cfg.protocol;
  k.family = cfg.address.family;
  return k;
}

Result<void> NodeGlobal::set_addrs(const NodeAddrs& node) {
  std::lock_guard lock(mu_);
  sl_global g = g_;
  std::memcpy(g.lb_mac, node.lb_mac.data(), 6);
  g.src_v4 = 0;
  std::memset(g.src_v6, 0, sizeof(g.src_v6));
  if (node.src_v4) std::memcpy(&g.src_v4, node.src_v4->bytes.data(), 4);
  if (node.src_v6) node.src_v6->to_abi(g.src_v6);
  if (auto r = dp_.global_set(g); !r) return r;
  g_ = g;
  return {};
}

Result<void> NodeGlobal::set_role(uint32_t role) {
  std::lock_guard lock(mu_);
  sl_global g = g_;
  g.role = role;
  if (auto r = dp_.global_set(g); !r) return r;
  g_ = g;
  return {};
}

Result<void> NodeGlobal::set_limits(const std::optional<LimitsConfig>& limits) {
  std::lock_guard lock(mu_);
  sl_global g = g_;
  g.limit_interval_ns = limits ? limits->interval_ns() : 0;
  g.limit_burst = limits ? static_cast<__u16>(limits->burst) : 0;
  if (auto r = dp_.global_set(g); !r) return r;
  g_ = g;
  return {};
}

uint32_t NodeGlobal::role() const {
  std::lock_guard lock(mu_);
  return g_.role;
}

ServiceTable::ServiceTable(Dataplane& dp, MacResolver& resolver, uint32_t role)
    : dp_(dp), resolver_(resolver), global_(dp, role) {}

Result<void> ServiceTable::set_node(const NodeAddrs& node) {
  node_ = node;
  return global_.set_addrs(node);
}

// A freshly allocated id starts from zero: its last owner's totals stay
// with it. Not being able to reset is logged, not fatal (the counters are
// reporting, not steering).
void ServiceTable::reset_counters(CounterKind kind, uint32_t id) {
  if (auto r = dp_.counters_reset(kind, id); !r)
    spdlog::warn("{} {}: counters not reset: {}", kind == CounterKind::vip ? "VIP id" : "backend slot",
                 id, r.error().message());
}

Result<std::vector<VipState>> ServiceTable::plan(const std::vector<VipConfig>& vips) {
  std::vector<VipState> next;
  std::vector<uint32_t> new_vip_ids, new_slots;
  auto rollback = [&](const char* what) {
    for (uint32_t i : new_vip_ids) vip_ids_.release(i);
    for (uint32_t i : new_slots) backend_slots_.release(i);
    return make_error(std::string("service table: out of ") + what);
  };
  for (const auto& cfg : vips) {
    VipState v;
    if (const VipState* old = find_vip(vips_, cfg)) {
      v = *old;
      v.backends.clear();
    } else {
      auto id = vip_ids_.allocate();
      if (!id) return rollback("VIP ids");
      new_vip_ids.push_back(*id);
      reset_counters(CounterKind::vip, *id);
      v.vip_id = *id;
      v.ring_id = 2 * *id + 1;  // so that the first build goes to ring 2*id
    }
    const VipState* old = find_vip(vips_, cfg);
    for (const auto& bc : cfg.backends) {
      BackendState be;
      if (const BackendState* ob = old ? find_backend(*old, bc.address) : nullptr) {
        be = *ob;
      } else {
        auto slot = backend_slots_.allocate();
        if (!slot) return rollback("backend slots");
        new_slots.push_back(*slot);
        reset_counters(CounterKind::backend, *slot);
        be.index = *slot;
      }
      be.cfg = bc;
      carry_health(cfg, be);
      v.backends.push_back(be);
    }
    v.cfg = cfg;
    next.push_back(std::move(v));
  }
  return next;
}

void ServiceTable::resolve_macs(std::vector<VipState>& vips, std::chrono::milliseconds wait) {
  std::vector<MacTarget> targets;
  for (const auto& v : vips)
    for (const auto& be : v.backends) targets.push_back({be.cfg.address, v.cfg.mode});
  auto macs = resolver_.resolve(targets, wait);
  size_t i = 0, missing = 0;
  const VipState* example_vip = nullptr;
  const BackendState* example = nullptr;
  for (auto& v : vips)
    for (auto& be : v.backends) {
      be.mac = i < macs.size() ? macs[i] : std::nullopt;
      if (!be.mac && missing++ == 0) example_vip = &v, example = &be;
      ++i;
    }
  if (missing == 0 && unresolved_ > 0) {
    spdlog::info("every backend MAC is resolved now");
    unresolved_warning_.reset();
  }
  if (missing > 0 && missing != unresolved_) unresolved_warning_.reset();  // news: say it now
  unresolved_ = missing;
  if (missing == 0) return;
  if (auto held = unresolved_warning_.take(LogLimit::Clock::now()))
    spdlog::warn("MAC not resolved for {} backend{} (e.g. {} of {}): not scheduled until it is{}",
                 missing, missing == 1 ? "" : "s", example->cfg.address.str(),
                 example_vip->cfg.name(),
                 *held ? fmt::format(" ({} repeats of this warning held back)", *held) : "");
}

uint8_t backend_flags(const VipConfig& vip, const BackendState& be) {
  if (!be.mac) return 0;
  if (be.health.healthy()) return SL_BE_F_LIVE;  // serving, drained (weight 0) or standby
  switch (vip.on_backend_down) {
    case BackendDownPolicy::keep: return SL_BE_F_LIVE | SL_BE_F_DOWN;
    case BackendDownPolicy::reschedule: return 0;
    case BackendDownPolicy::drop: return SL_BE_F_DROP_FLOWS;
  }
  return 0;
}

Result<void> ServiceTable::put_backend(const VipState& vip, const BackendState& be,
                                       uint8_t flags) {
  sl_backend b{};
  be.cfg.address.to_abi(b.addr);
  if (be.mac) std::memcpy(b.mac, be.mac->data(), 6);
  b.family = be.cfg.address.family;
  b.flags = flags;
  b.gen = backend_slots_.gen(be.index);
  b.vip_id = vip.vip_id;
  return dp_.backend_put(be.index, b);
}

// Builds the schedule into the VIP's inactive ring, then switches the VIP to
// it with one vip_put: a packet sees the old ring or the new one, never a
// half-written one.
Result<void> ServiceTable::program_ring(VipState& vip) {
  std::vector<BackendState*> tier = serving_tier(vip);
  std::vector<__u32> weights;
  for (const auto* be : tier) weights.push_back(be->cfg.weight);
  auto ring = std::make_unique<sl_ring>();
  std::memset(ring.get(), 0, sizeof(sl_ring));
  ring->len = tier.empty() ? 0
                           : sl_wrr_build(weights.data(), static_cast<__u32>(weights.size()),
                                          ring->slots, SL_RING_SLOTS);
  for (__u32 i = 0; i < ring->len; ++i) ring->slots[i] = static_cast<__u16>(tier[ring->slots[i]]->index);
  for (auto* be : tier) be->serving = ring->len > 0;
  uint32_t inactive = vip.ring_id == 2 * vip.vip_id ? 2 * vip.vip_id + 1 : 2 * vip.vip_id;
  if (auto r = dp_.ring_put(inactive, *ring); !r) return r;
  sl_vip_meta meta{};
  meta.vip_id = vip.vip_id;
  meta.ring_id = inactive;
  meta.mode = static_cast<__u8>(vip.cfg.mode);
  if (vip.cfg.syn_flood_protection == false) meta.flags |= SL_VIP_F_ONE_TABLE;
  if (vip.cfg.limits) {
    meta.limit_interval_ns = vip.cfg.limits->interval_ns();
    meta.limit_burst = static_cast<__u16>(vip.cfg.limits->burst);
  }
  if (vip_flags_) meta.flags |= vip_flags_(vip.cfg);
  if (auto r = dp_.vip_put(vip.key(), meta); !r) return r;
  vip.ring_id = inactive;
  vip.ring_len = ring->len;
  vip.programmed = true;
  if (ring->len == 0) spdlog::warn("{}: no serving backend, new flows are dropped", vip.cfg.name());
  return {};
}

// Removes what `next` no longer has: VIPs first, then the backends' LIVE
// flags (once no ring points at them), and frees their indices.
Result<void> ServiceTable::retire(const std::vector<VipState>& next) {
  for (const auto& old : vips_) {
    const VipState* kept = find_vip(next, old.cfg);
    if (!kept && old.programmed)
      if (auto r = dp_.vip_del(old.key()); !r) return r;
    for (const auto& be : old.backends) {
      if (kept && find_backend(*kept, be.cfg.address)) continue;
      if (auto r = put_backend(old, be, 0); !r) return r;
      backend_slots_.release(be.index);
    }
    if (!kept) vip_ids_.release(old.vip_id);
  }
  return {};
}

// Starting afresh would be wrong twice over: the first rebuild of a VIP
// could overwrite its live ring under the packets, and a backend could land
// in a slot another one held at the same gen, so its connections, recorded
// as (slot, gen), would silently move to a different address.
Result<void> ServiceTable::adopt() {
  if (adopted_) return {};
  auto listed = dp_.vip_list();
  if (!listed) return listed.error();
  std::vector<sl_backend> slots(SL_MAX_BACKENDS);
  for (uint32_t i = 0; i < SL_MAX_BACKENDS; ++i) {
    auto b = dp_.backend_get(i);
    if (!b) return b.error();
    slots[i] = *b;
  }
  // A failed attempt may have taken indices: start the pools over.
  vip_ids_ = IndexPool(SL_MAX_VIPS);
  backend_slots_ = IndexPool(SL_MAX_BACKENDS);
  std::vector<VipState> found;
  for (const auto& [key, meta] : *listed)
    if (auto r = adopt_vip(key, meta, found); !r) return r;
  std::vector<bool> claimed(SL_MAX_BACKENDS, false);
  adopt_backends(found, slots, claimed);
  if (auto r = retire_orphans(slots, claimed); !r) return r;
  size_t backends = 0;
  for (const auto& v : found) backends += v.backends.size();
  if (!found.empty() || backends > 0)
    spdlog::info("adopted {} VIPs and {} backends from the running dataplane", found.size(),
                 backends);
  vips_ = std::move(found);
  adopted_ = true;
  return {};
}

Result<void> ServiceTable::adopt_vip(const sl_vip_key& key, const sl_vip_meta& meta,
                                     std::vector<VipState>& found) {
  if (valid_family(key.family) && meta.vip_id < SL_MAX_VIPS && !vip_ids_.in_use(meta.vip_id)) {
    vip_ids_.adopt(meta.vip_id, 0);
    found.push_back(vip_from_abi(key, meta));
    return {};
  }
  // Two VIPs on one id would share rings and counters: drop the second; if
  // it is still configured, apply gives it an id of its own.
  spdlog::warn("dataplane: VIP entry with id {} is invalid or a duplicate, removed", meta.vip_id);
  return dp_.vip_del(key);
}

// A VIP's backends are the slots recorded with its id, one per address. A
// backend removed then re-added may have left a retired slot beside its
// live one: the LIVE slot is the one the ring and new flows use.
void ServiceTable::adopt_backends(std::vector<VipState>& found,
                                  const std::vector<sl_backend>& slots,
                                  std::vector<bool>& claimed) {
  std::map<uint32_t, VipState*> by_id;
  for (auto& v : found) by_id[v.vip_id] = &v;
  std::map<std::pair<uint32_t, IpAddr>, uint32_t> chosen;
  for (uint32_t i = 0; i < slots.size(); ++i) {
    const sl_backend& b = slots[i];
    if (!valid_family(b.family) || !by_id.contains(b.vip_id)) continue;
    auto [it, fresh] = chosen.try_emplace({b.vip_id, IpAddr::from_abi(b.addr, b.family)}, i);
    if (!fresh && !(slots[it->second].flags & SL_BE_F_LIVE) && (b.flags & SL_BE_F_LIVE))
      it->second = i;
  }
  for (const auto& [vip_and_addr, i] : chosen) {
    backend_slots_.adopt(i, slots[i].gen);
    claimed[i] = true;
    by_id[vip_and_addr.first]->backends.push_back(backend_from_abi(i, slots[i]));
  }
}

// Slots no adopted backend holds (retired earlier, or of a VIP dropped
// above) are free, but keep their gen so that reuse bumps it; LIVE is
// cleared in case an inconsistent table left it set.
Result<void> ServiceTable::retire_orphans(std::vector<sl_backend>& slots,
                                          const std::vector<bool>& claimed) {
  for (uint32_t i = 0; i < slots.size(); ++i) {
    sl_backend& b = slots[i];
    if (claimed[i] || !ever_written(b)) continue;
    backend_slots_.adopt(i, b.gen);
    backend_slots_.release(i);
    if (!(b.flags & SL_BE_F_LIVE)) continue;
    b.flags &= ~SL_BE_F_LIVE;
    if (auto r = dp_.backend_put(i, b); !r) return r;
  }
  return {};
}

Result<void> ServiceTable::apply(const std::vector<VipConfig>& vips,
                                 std::chrono::milliseconds wait) {
  if (auto r = adopt(); !r) return r;
  auto t0 = std::chrono::steady_clock::now();
  auto next = plan(vips);
  if (!next) return next.error();
  auto t1 = std::chrono::steady_clock::now();
  resolve_macs(*next, wait);
  auto t2 = std::chrono::steady_clock::now();
  // LIVE before any ring points at a backend; anything less than LIVE
  // only once the rings no longer do.
  for (const auto& v : *next)
    if (auto r = put_backends(v, true); !r) return r;
  for (auto& v : *next)
    if (auto r = program_ring(v); !r) return r;
  for (const auto& v : *next)
    if (auto r = put_backends(v, false); !r) return r;
  auto r = retire(*next);
  vips_ = std::move(*next);
  auto ms = [](auto a, auto b) {
    return std::chrono::duration_cast<std::chrono::microseconds>(b - a).count() / 1000.0;
  };
  spdlog::debug("apply: plan {:.1f} ms, resolve {:.1f} ms, program {:.1f} ms", ms(t0, t1),
                ms(t1, t2), ms(t2, std::chrono::steady_clock::now()));
  if (on_apply_) on_apply_();
  return r;
}

Result<void> ServiceTable::put_backends(const VipState& vip, bool live) {
  for (const auto& be : vip.backends) {
    uint8_t flags = backend_flags(vip.cfg, be);
    if (((flags & SL_BE_F_LIVE) != 0) != live) continue;
    if (auto r = put_backend(vip, be, flags); !r) return r;
  }
  return {};
}

Result<void> ServiceTable::set_health(const BackendRef& ref, const HealthStatus& status) {
  VipState* vip = find_vip(vips_, ref);
  if (!vip) return {};
  BackendState* be = nullptr;
  for (auto& b : vip->backends)
    if (b.cfg.address == ref.backend) be = &b;
  if (!be) return {};
  bool was = be->health.healthy();
  be->health = status;
  if (was == status.healthy()) return {};
  if (status.healthy()) {
    if (auto r = put_backend(*vip, *be, backend_flags(vip->cfg, *be)); !r) return r;
    return program_ring(*vip);
  }
  if (auto r = program_ring(*vip); !r) return r;
  return put_backend(*vip, *be, backend_flags(vip->cfg, *be));
}

// One line each for the first few, then a count: 10,000 backends whose
// neighbours all answer at once are not 10,000 lines.
constexpr size_t kMacChangesLogged = 8;

Result<size_t> ServiceTable::refresh_macs(std::chrono::milliseconds wait) {
  std::vector<VipState> fresh = vips_;
  resolve_macs(fresh, wait);
  size_t changed = 0;
  for (size_t v = 0; v < fresh.size(); ++v) {
    bool vip_changed = false;
    for (size_t b = 0; b < fresh[v].backends.size(); ++b) {
      const BackendState& be = fresh[v].backends[b];
      if (be.mac == vips_[v].backends[b].mac) continue;
      if (changed < kMacChangesLogged)
        spdlog::info("{}: backend {}: MAC now {}", fresh[v].cfg.name(), be.cfg.address.str(),
                     be.mac ? mac_str(*be.mac) : "unknown");
      if (auto r = put_backend(fresh[v], be, backend_flags(fresh[v].cfg, be)); !r)
        return r.error();
      vips_[v].backends[b].mac = be.mac;
      vip_changed = true;
      ++changed;
    }
    if (vip_changed)
      if (auto r = program_ring(vips_[v]); !r) return r.error();
  }
  if (changed > kMacChangesLogged)
    spdlog::info("... and {} more backend MACs changed", changed - kMacChangesLogged);
  return changed;
}

}  // namespace sluice
