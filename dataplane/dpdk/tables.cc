// SPDX-License-Identifier: Apache-2.0
#include "dataplane/dpdk/tables.h"

#include <rte_errno.h>
#include <rte_hash_crc.h>
#include <rte_malloc.h>

#include <cerrno>
#include <cstring>
#include <new>

namespace sluice::dpdk {

const sl_backend Tables::kZeroBackend{};
const sl_ring Tables::kZeroRing{};

uint32_t VipTable::slot_of(const sl_vip_key& k) {
  return rte_hash_crc(&k, sizeof(k), 0) & (kSlots - 1);
}

const sl_vip_meta* VipTable::find(const sl_vip_key& k) const {
  for (uint32_t n = 0, i = slot_of(k); n < kSlots; n++, i = (i + 1) & (kSlots - 1)) {
    const Slot& s = slots[i];
    if (!s.used) return nullptr;
    if (std::memcmp(&s.key, &k, sizeof(k)) == 0) return &s.meta;
  }
  return nullptr;
}

namespace {

// Builds a VIP table from (key, meta) pairs; linear probing, no tombstones
// (a del rebuilds the table).
void vip_table_insert(VipTable& t, const sl_vip_key& k, const sl_vip_meta& m) {
  for (uint32_t n = 0, i = VipTable::slot_of(k); n < VipTable::kSlots;
       n++, i = (i + 1) & (VipTable::kSlots - 1)) {
    VipTable::Slot& s = t.slots[i];
    if (s.used && std::memcmp(&s.key, &k, sizeof(k)) != 0) continue;
    if (!s.used) t.count++;
    s.key = k;
    s.used = 1;
    s.meta = m;
    return;
  }
}

// Poisoned before it is freed, so a reader that outlived its grace
// period sees garbage (a VIP table that matches nothing, a ring longer than
// any, a backend that drops its flows) rather than a plausible old value.
template <class T>
void delete_as(const void* p) {
  std::memset(const_cast<void*>(p), 0xff, sizeof(T));
  delete static_cast<const T*>(p);
}

}  // namespace

Result<std::unique_ptr<Tables>> Tables::create(const TablesConfig& cfg) {
  if (cfg.workers == 0 || cfg.workers > RTE_MAX_LCORE)
    return make_error("dpdk tables: workers", EINVAL, std::to_string(cfg.workers));
  std::unique_ptr<Tables> t(new Tables());
  t->workers_ = cfg.workers;
  size_t sz = rte_rcu_qsbr_get_memsize(cfg.workers);
  t->qsbr_ = static_cast<rte_rcu_qsbr*>(rte_zmalloc_socket("sl_qsbr", sz, RTE_CACHE_LINE_SIZE,
                                                           cfg.socket));
  if (!t->qsbr_) return make_error("rte_zmalloc(qsbr)", ENOMEM);
  if (rte_rcu_qsbr_init(t->qsbr_, cfg.workers) != 0)
    return make_error("rte_rcu_qsbr_init", rte_errno);
  t->backends_.reset(new std::atomic<const sl_backend*>[SL_MAX_BACKENDS]);
  t->rings_.reset(new std::atomic<const sl_ring*>[SL_RINGS]);
  for (uint32_t i = 0; i < SL_MAX_BACKENDS; i++) t->backends_[i].store(nullptr);
  for (uint32_t i = 0; i < SL_RINGS; i++) t->rings_[i].store(nullptr);
  // As the XDP array maps: an empty VIP table and an all-zero global
  // (role passive) until the controller writes them.
  t->vips_.store(new VipTable());
  t->global_.store(new sl_global{});
  return t;
}

Tables::~Tables() {
  // The workers are gone (they hold a Tables&): free everything.
  for (auto& r : retired_) r.free(r.obj);
  retired_.clear();
  delete vips_.load();
  delete global_.load();
  if (backends_)
    for (uint32_t i = 0; i < SL_MAX_BACKENDS; i++) delete backends_[i].load();
  if (rings_)
    for (uint32_t i = 0; i < SL_RINGS; i++) delete rings_[i].load();
  rte_free(qsbr_);
}

template <class T>
void Tables::retire(const T* old) {
  if (!old) return;
  // The token orders the swap (already published) before the check.
  retired_.push_back(Retired{rte_rcu_qsbr_start(qsbr_), &delete_as<T>, old});
}

Result<void> Tables::global_set(const sl_global& g) {
  retire(global_.exchange(new sl_global(g), std::memory_order_acq_rel));
  return {};
}

Result<void> Tables::vip_put(const sl_vip_key& key, const sl_vip_meta& meta) {
  const VipTable* cur = vips_.load(std::memory_order_relaxed);
  if (!cur->find(key) && cur->count >= SL_MAX_VIPS)
    return make_error("dpdk vip_put: table full", ENOSPC);
  if (meta.vip_id >= SL_MAX_VIPS || meta.ring_id >= SL_RINGS)
    return make_error("dpdk vip_put: vip_id or ring_id out of range", EINVAL);
  auto* next = new (std::nothrow) VipTable(*cur);
  if (!next) return make_error("dpdk vip_put", ENOMEM);
  vip_table_insert(*next, key, meta);
  retire(vips_.exchange(next, std::memory_order_acq_rel));
  return {};
}

Result<void> Tables::vip_del(const sl_vip_key& key) {
  const VipTable* cur = vips_.load(std::memory_order_relaxed);
  if (!cur->find(key)) return {};
  auto* next = new (std::nothrow) VipTable();
  if (!next) return make_error("dpdk vip_del", ENOMEM);
  for (const auto& s : cur->slots)
    if (s.used && std::memcmp(&s.key, &key, sizeof(key)) != 0)
      vip_table_insert(*next, s.key, s.meta);
  retire(vips_.exchange(next, std::memory_order_acq_rel));
  return {};
}

Result<void> Tables::backend_put(uint32_t slot, const sl_backend& be) {
  if (slot >= SL_MAX_BACKENDS)
    return make_error("dpdk backend_put: slot out of range", EINVAL, std::to_string(slot));
  auto* next = new (std::nothrow) sl_backend(be);
  if (!next) return make_error("dpdk backend_put", ENOMEM);
  retire(backends_[slot].exchange(next, std::memory_order_acq_rel));
  return {};
}

Result<void> Tables::ring_put(uint32_t ring_id, const sl_ring& ring) {
  if (ring_id >= SL_RINGS)
    return make_error("dpdk ring_put: ring out of range", EINVAL, std::to_string(ring_id));
  auto* next = new (std::nothrow) sl_ring(ring);
  if (!next) return make_error("dpdk ring_put", ENOMEM);
  retire(rings_[ring_id].exchange(next, std::memory_order_acq_rel));
  return {};
}

Result<std::optional<sl_vip_meta>> Tables::vip_get(const sl_vip_key& key) const {
  const sl_vip_meta* m = vip(key);
  if (!m) return std::optional<sl_vip_meta>{};
  return std::optional<sl_vip_meta>{*m};
}

std::vector<std::pair<sl_vip_key, sl_vip_meta>> Tables::vip_list() const {
  std::vector<std::pair<sl_vip_key, sl_vip_meta>> out;
  for (const auto& s : vips_.load(std::memory_order_acquire)->slots)
    if (s.used) out.emplace_back(s.key, s.meta);
  return out;
}

sl_backend Tables::backend_get(uint32_t slot) const {
  const sl_backend* b = backend(slot);
  return b ? *b : sl_backend{};
}

size_t Tables::reclaim() {
  while (!retired_.empty()) {
    const Retired& r = retired_.front();
    if (rte_rcu_qsbr_check(qsbr_, r.token, false) != 1) break;
    r.free(r.obj);
    retired_.pop_front();
    reclaimed_++;
  }
  return retired_.size();
}

void Tables::synchronize() {
  rte_rcu_qsbr_synchronize(qsbr_, RTE_QSBR_THRID_INVALID);
  for (auto& r : retired_) r.free(r.obj);
  reclaimed_ += retired_.size();
  retired_.clear();
}

}  // namespace sluice::dpdk
