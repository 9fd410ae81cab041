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
  t->acl_roots_.reset(new AclNode*[kAclScopes * 2]());
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
  if (acl_roots_)
    for (uint32_t i = 0; i < kAclScopes * 2; i++) acl_tree_free(acl_roots_[i]);
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

// The key of `e` cut to `len` bits (host bits cleared).
AclKey acl_key_of(const AclEntry& e, unsigned len) {
  AclKey k{e.scope, e.family, uint8_t(len), 0, {0, 0, 0, 0}};
  for (unsigned i = 0; i < 4 && len > 32 * i; i++) {
    unsigned bits = len - 32 * i >= 32 ? 32 : len - 32 * i;
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

// The depth of the node a prefix of `len` bits is expanded in, and the
// entries it covers there.
unsigned acl_level(unsigned len) { return len == 0 ? 0 : (len - 1) / 4 * 4; }
unsigned acl_span(unsigned len) { return 1u << (acl_level(len) + 4 - len); }

}  // namespace

AclNode* Tables::acl_node_new() {
  auto* n = new (std::nothrow) AclNode();
  if (n) acl_nodes_++;
  return n;
}

void Tables::acl_tree_free(AclNode* n) {
  if (!n) return;
  for (AclNode* c : n->child) acl_tree_free(c);
  delete n;
}

namespace {
struct AclGenBump {
  sl_control* ctl;
  ~AclGenBump() { acl_gen_bump(ctl); }
};
}  // namespace

Result<void> Tables::acl_put(const AclEntry& e) {
  AclGenBump bump{&control_};
  if (!acl_valid(e)) return acl_invalid(e);
  const unsigned len = e.prefix_len, depth = acl_level(len);
  if (acl_nodes_ + depth / 4 + 1 > kAclMaxNodes)
    return make_error("dpdk acl_put: trie full", ENOSPC, std::to_string(kAclMaxNodes) + " nodes");
  AclKey k = acl_key_of(e, len);
  auto* rule = new (std::nothrow) sl_acl_rule(e.rule);
  if (!rule) return make_error("dpdk acl_put", ENOMEM);
  // Down to the prefix's level, making the nodes it needs; each new node
  // is published (release) only once it is whole.
  AclNode** at = &acl_roots_[e.scope * 2 + (e.family == SL_AF_INET6)];
  AclNode* parent = nullptr;
  for (unsigned d = 0;; d += 4) {
    if (!*at) {
      AclNode* n = acl_node_new();
      if (!n) {
        delete rule;
        return make_error("dpdk acl_put", ENOMEM);
      }
      if (parent) parent->used++;
      __atomic_store_n(at, n, __ATOMIC_RELEASE);
    }
    if (d == depth) break;
    parent = *at;
    at = &parent->child[acl_nibble(k.addr, d)];
  }
  AclNode* n = *at;
  unsigned first = acl_nibble(k.addr, depth) & ~(acl_span(len) - 1);
  for (unsigned i = first; i < first + acl_span(len); i++) {
    if (n->rule[i] && n->len[i] > len) continue;  // a longer prefix holds it
    if (!n->rule[i]) n->used++;
    n->len[i] = uint8_t(len);
    __atomic_store_n(&n->rule[i], rule, __ATOMIC_RELEASE);
  }
  AclEntry held = e;
  std::memcpy(held.addr.data(), k.addr, sizeof(k.addr));
  auto it = acl_held_.find(k);
  if (it != acl_held_.end()) {
    retire(it->second.published);
    it->second = AclHeld{held, rule};
  } else {
    acl_held_.emplace(k, AclHeld{held, rule});
  }
  return {};
}

Result<void> Tables::acl_del(const AclEntry& e) {
  AclGenBump bump{&control_};
  if (!acl_valid(e)) return acl_invalid(e);
  const unsigned len = e.prefix_len, depth = acl_level(len);
  AclKey k = acl_key_of(e, len);
  auto it = acl_held_.find(k);
  if (it == acl_held_.end()) return {};
  // The path to the prefix's node (put made it).
  AclNode** path[128 / 4 + 1];
  AclNode** at = &acl_roots_[e.scope * 2 + (e.family == SL_AF_INET6)];
  unsigned levels = 0;
  for (unsigned d = 0; *at; d += 4) {
    path[levels++] = at;
    if (d == depth) break;
    at = &(*at)->child[acl_nibble(k.addr, d)];
  }
  if (levels != depth / 4 + 1 || !*path[levels - 1])
    return make_error("dpdk acl_del: rule without its trie node", EFAULT);  // not reached
  AclNode* n = *path[levels - 1];
  // What takes the entries back: the longest shorter prefix of the same
  // level holding this one, if any.
  const sl_acl_rule* repl = nullptr;
  unsigned repl_len = 0;
  for (unsigned l = len; l-- > (depth == 0 ? 0u : depth + 1);) {
    auto r = acl_held_.find(acl_key_of(e, l));
    if (r != acl_held_.end()) {
      repl = r->second.published;
      repl_len = l;
      break;
    }
  }
  unsigned first = acl_nibble(k.addr, depth) & ~(acl_span(len) - 1);
  for (unsigned i = first; i < first + acl_span(len); i++) {
    if (!n->rule[i] || n->len[i] != len) continue;
    if (!repl) n->used--;
    n->len[i] = uint8_t(repl_len);
    __atomic_store_n(&n->rule[i], repl, __ATOMIC_RELEASE);
  }
  retire(it->second.published);
  acl_held_.erase(it);
  // Unlink the nodes left empty, deepest first.
  for (unsigned l = levels; l-- > 0;) {
    AclNode* empty = *path[l];
    if (empty->used) break;
    __atomic_store_n(path[l], static_cast<AclNode*>(nullptr), __ATOMIC_RELEASE);
    if (l > 0) (*path[l - 1])->used--;
    retire(empty);
    acl_nodes_--;
  }
  return {};
}

std::vector<AclEntry> Tables::acl_list() const {
  std::vector<AclEntry> out;
  out.reserve(acl_held_.size());
  for (const auto& [k, held] : acl_held_) out.push_back(held.entry);
  return out;
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
