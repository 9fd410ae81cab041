// SPDX-License-Identifier: Apache-2.0
#include "control/service_table.h"

#include <spdlog/spdlog.h>

#include <cstring>
#include <memory>

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

// The tier that takes new flows: primaries that can take traffic, else the
// backups.
std::vector<BackendState*> serving_tier(VipState& vip) {
  std::vector<BackendState*> tier[2];
  for (auto& be : vip.backends) {
    be.serving = false;
    if (be.cfg.weight > 0 && be.mac) tier[be.cfg.backup ? 1 : 0].push_back(&be);
  }
  return tier[0].empty() ? tier[1] : tier[0];
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

ServiceTable::ServiceTable(Dataplane& dp, MacResolver& resolver)
    : dp_(dp), resolver_(resolver) {}

Result<void> ServiceTable::set_node(const NodeAddrs& node) {
  node_ = node;
  sl_global g{};
  g.role = SL_ROLE_ACTIVE;
  std::memcpy(g.lb_mac, node.lb_mac.data(), 6);
  if (node.src_v4) std::memcpy(&g.src_v4, node.src_v4->bytes.data(), 4);
  if (node.src_v6) node.src_v6->to_abi(g.src_v6);
  return dp_.global_set(g);
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
        be.index = *slot;
      }
      be.cfg = bc;
      v.backends.push_back(be);
    }
    v.cfg = cfg;
    next.push_back(std::move(v));
  }
  return next;
}

void ServiceTable::resolve_macs(std::vector<VipState>& vips, std::chrono::milliseconds wait,
                                bool log_missing) {
  std::vector<MacTarget> targets;
  for (const auto& v : vips)
    for (const auto& be : v.backends) targets.push_back({be.cfg.address, v.cfg.mode});
  auto macs = resolver_.resolve(targets, wait);
  size_t i = 0;
  for (auto& v : vips)
    for (auto& be : v.backends) {
      be.mac = i < macs.size() ? macs[i] : std::nullopt;
      if (!be.mac && log_missing)
        spdlog::warn("{}: backend {}: MAC not resolved yet, not scheduling it", v.cfg.name(),
                     be.cfg.address.str());
      ++i;
    }
}

Result<void> ServiceTable::put_backend(const VipState& vip, const BackendState& be, bool live) {
  sl_backend b{};
  be.cfg.address.to_abi(b.addr);
  if (be.mac) std::memcpy(b.mac, be.mac->data(), 6);
  b.family = be.cfg.address.family;
  b.flags = live ? SL_BE_F_LIVE : 0;
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
      if (auto r = put_backend(old, be, false); !r) return r;
      backend_slots_.release(be.index);
    }
    if (!kept) vip_ids_.release(old.vip_id);
  }
  return {};
}

Result<void> ServiceTable::apply(const std::vector<VipConfig>& vips,
                                 std::chrono::milliseconds wait) {
  auto next = plan(vips);
  if (!next) return next.error();
  resolve_macs(*next, wait, true);
  for (const auto& v : *next)
    for (const auto& be : v.backends)
      if (auto r = put_backend(v, be, be.mac.has_value()); !r) return r;
  for (auto& v : *next)
    if (auto r = program_ring(v); !r) return r;
  auto r = retire(*next);
  vips_ = std::move(*next);
  return r;
}

Result<size_t> ServiceTable::refresh_macs(std::chrono::milliseconds wait) {
  std::vector<VipState> fresh = vips_;
  resolve_macs(fresh, wait, false);
  size_t changed = 0;
  for (size_t v = 0; v < fresh.size(); ++v) {
    bool vip_changed = false;
    for (size_t b = 0; b < fresh[v].backends.size(); ++b) {
      const BackendState& be = fresh[v].backends[b];
      if (be.mac == vips_[v].backends[b].mac) continue;
      spdlog::info("{}: backend {}: MAC now {}", fresh[v].cfg.name(), be.cfg.address.str(),
                   be.mac ? mac_str(*be.mac) : "unknown");
      if (auto r = put_backend(fresh[v], be, be.mac.has_value()); !r) return r.error();
      vips_[v].backends[b].mac = be.mac;
      vip_changed = true;
      ++changed;
    }
    if (vip_changed)
      if (auto r = program_ring(vips_[v]); !r) return r.error();
  }
  return changed;
}

}  // namespace sluice
