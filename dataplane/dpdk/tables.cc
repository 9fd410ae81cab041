// SPDX-License-Identifier: Apache-2.0
#include "dataplane/dpdk/tables.h"

#include <rte_errno.h>
#include <rte_hash_crc.h>
#include <rte_malloc.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <new>
#include <string>

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
  t->socket_ = cfg.socket;
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
  t->acl_lengths_.reset(new AclLengths[kAclScopes]);
  t->acl_len_count_.assign(size_t(kAclScopes) * 2 * 129, 0);
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
  for (auto& [k, held] : acl_held_) delete held.published;
  rte_hash_free(acl_hash_.load());  // frees its key positions too
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

namespace {

bool acl_valid(const AclEntry& e) {
  if (e.scope >= kAclScopes || e.rule.rule_id >= SL_ACL_MAX_RULES) return false;
  if (e.family == SL_AF_INET) return e.prefix_len <= 32;
  return e.family == SL_AF_INET6 && e.prefix_len <= 128;
}

// The hash key of an entry: host bits cleared, as the lookup masks.
AclHashKey acl_key_of(const AclEntry& e) {
  AclHashKey k{e.scope, e.family, e.prefix_len, 0, {0, 0, 0, 0}};
  unsigned words = e.family == SL_AF_INET ? 1 : 4;
  for (unsigned i = 0; i < words && e.prefix_len > 32 * i; i++) {
    unsigned bits = e.prefix_len - 32 * i >= 32 ? 32 : e.prefix_len - 32 * i;
    k.addr[i] = e.addr[i] & rte_cpu_to_be_32(~0u << (32 - bits));
  }
  return k;
}

Error acl_invalid(const AclEntry& e) {
  return make_error("dpdk acl entry", EINVAL,
                    "scope " + std::to_string(e.scope) + " family " + std::to_string(e.family) +
                        " /" + std::to_string(e.prefix_len) + " rule " +
                        std::to_string(e.rule.rule_id));
}

void acl_length_set(AclLengths& l, uint8_t family, unsigned len, bool on) {
  std::atomic<uint64_t>& w = family == SL_AF_INET ? l.v4 : l.v6[len / 64];
  uint64_t bit = uint64_t(1) << (len % 64);
  if (on) w.fetch_or(bit, std::memory_order_release);
  else w.fetch_and(~bit, std::memory_order_release);
}

}  // namespace

// Lock-free readers, one writer; a deleted key's position is kept until
// RCU says no worker still reads it (acl_positions_).
Result<rte_hash*> Tables::acl_hash() {
  if (rte_hash* h = acl_hash_.load(std::memory_order_relaxed)) return h;
  static std::atomic<unsigned> seq{0};
  std::string name = "sl_acl_" + std::to_string(seq.fetch_add(1));
  rte_hash_parameters p{};
  p.name = name.c_str();
  p.entries = SL_ACL_MAX_RULES;
  p.key_len = sizeof(AclHashKey);
  p.hash_func = rte_hash_crc;
  p.socket_id = socket_;
  p.extra_flag = RTE_HASH_EXTRA_FLAGS_RW_CONCURRENCY_LF | RTE_HASH_EXTRA_FLAGS_EXT_TABLE;
  rte_hash* h = rte_hash_create(&p);
  if (!h) return make_error("rte_hash_create(acl)", rte_errno);
  acl_hash_.store(h, std::memory_order_release);
  return h;
}

Result<void> Tables::acl_put(const AclEntry& e) {
  if (!acl_valid(e)) return acl_invalid(e);
  auto h = acl_hash();
  if (!h) return h.error();
  AclHashKey k = acl_key_of(e);
  auto* rule = new (std::nothrow) sl_acl_rule(e.rule);
  if (!rule) return make_error("dpdk acl_put", ENOMEM);
  // A new key's data is published with its key; an existing key's data
  // is replaced by one atomic store (RW_CONCURRENCY_LF).
  int rc = rte_hash_add_key_data(*h, &k, rule);
  if (rc < 0) {
    delete rule;
    return make_error("rte_hash_add_key_data(acl)", -rc);
  }
  AclEntry held = e;
  std::memcpy(held.addr.data(), k.addr, sizeof(k.addr));
  auto it = acl_held_.find(k);
  if (it != acl_held_.end()) {
    retire(it->second.published);
    it->second = AclHeld{held, rule};
    return {};
  }
  acl_held_.emplace(k, AclHeld{held, rule});
  // The length becomes visible after its key, so a reader that probes it
  // finds the rule.
  uint32_t& n = acl_len_count_[(size_t(e.scope) * 2 + (e.family == SL_AF_INET6)) * 129 + e.prefix_len];
  if (n++ == 0) acl_length_set(acl_lengths_[e.scope], e.family, e.prefix_len, true);
  return {};
}

Result<void> Tables::acl_del(const AclEntry& e) {
  if (!acl_valid(e)) return acl_invalid(e);
  AclHashKey k = acl_key_of(e);
  auto it = acl_held_.find(k);
  if (it == acl_held_.end()) return {};
  rte_hash* h = acl_hash_.load(std::memory_order_relaxed);
  uint32_t& n = acl_len_count_[(size_t(e.scope) * 2 + (e.family == SL_AF_INET6)) * 129 + e.prefix_len];
  if (--n == 0) acl_length_set(acl_lengths_[e.scope], e.family, e.prefix_len, false);
  int32_t pos = rte_hash_del_key(h, &k);
  if (pos >= 0) acl_positions_.emplace_back(rte_rcu_qsbr_start(qsbr_), pos);
  retire(it->second.published);
  acl_held_.erase(it);
  return {};
}

std::vector<AclEntry> Tables::acl_list() const {
  std::vector<AclEntry> out;
  out.reserve(acl_held_.size());
  for (const auto& [k, held] : acl_held_) out.push_back(held.entry);
  return out;
}

size_t Tables::reclaim() {
  while (!acl_positions_.empty() &&
         rte_rcu_qsbr_check(qsbr_, acl_positions_.front().first, false) == 1) {
    rte_hash_free_key_with_position(acl_hash_.load(), acl_positions_.front().second);
    acl_positions_.pop_front();
  }
  while (!retired_.empty()) {
    const Retired& r = retired_.front();
    if (rte_rcu_qsbr_check(qsbr_, r.token, false) != 1) break;
    r.free(r.obj);
    retired_.pop_front();
    reclaimed_++;
  }
  return retired_.size() + acl_positions_.size();
}

void Tables::synchronize() {
  rte_rcu_qsbr_synchronize(qsbr_, RTE_QSBR_THRID_INVALID);
  for (auto& [token, pos] : acl_positions_) rte_hash_free_key_with_position(acl_hash_.load(), pos);
  acl_positions_.clear();
  for (auto& r : retired_) r.free(r.obj);
  reclaimed_ += retired_.size();
  retired_.clear();
}

}  // namespace sluice::dpdk
