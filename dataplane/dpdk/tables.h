// SPDX-License-Identifier: Apache-2.0
// The tables every DPDK worker reads and only the controller writes: the
// VIPs, the backends, the schedule rings, the global settings, and the
// control word (heartbeat, flags).
//
// Workers read lock-free, through pointers to immutable objects: a writer
// builds a whole new object, publishes its pointer with one release store,
// and hands the old one to RCU (rte_rcu_qsbr). The old object is freed by
// reclaim() only once every registered worker has reported a quiescent
// state after the swap, so a worker never sees a half-written entry nor a
// freed one, and a burst sees each pointer it loaded stay valid until its
// worker's next quiescent() call.
//  - VIPs: one open-addressing array of at most SL_MAX_VIPS entries,
//    replaced whole on every put/del (a few KB; the lookup is one CRC and
//    usually one compare, no lock, no hash-table machinery).
//  - Backends and rings: one pointer per slot, swapped alone, so a reload
//    of 10,000 backends costs 10,000 small objects, never a table copy per
//    put. A slot never written reads as all zeros (as the XDP array maps).
//  - ACL rules (core/acl.h): per scope and family a multibit trie of
//    4-bit strides (controlled prefix expansion: a prefix fills the
//    entries of its level it covers, unless a longer one holds them), so
//    a lookup is one load per 4 bits of the source it descends, at most
//    8 (IPv4) or 32 (IPv6), whatever the number of rules or lengths; the
//    deepest rule met is the most specific. The writer updates entries in
//    place with single pointer stores (a reader sees each entry old or
//    new, never half); rules are immutable objects and emptied nodes are
//    unlinked, both retired through RCU like the other objects. (An
//    rte_lpm per scope needs a 64 MB first level each, which 257 scopes
//    or a --no-huge -m 512 EAL cannot hold; a hash probed per prefix
//    length cost ~55 ns per distinct length here.) Nodes are capped
//    (kAclMaxNodes, 280 B each): past it acl_put fails with ENOSPC.
//
// Threads: the writers (global_set, vip_*, backend_put, ring_put, acl_put,
// acl_del, reclaim)
// are called by one thread at a time (the controller's main loop). The
// reads (vip_get, vip_list, backend_get) are safe from any thread that is
// either the writer or registered with qsbr(); the workers use the inline
// readers below.
#pragma once

#include <rte_rcu_qsbr.h>

#include <rte_byteorder.h>
#include <rte_hash_crc.h>

#include <atomic>
#include <cstdint>
#include <cstring>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <utility>
#include <vector>

#include "core/abi.h"
#include "core/host/result.h"
#include "dataplane/dataplane.h"

namespace sluice::dpdk {

struct TablesConfig {
  unsigned workers = 1;          // RCU reader ids 0..workers-1
  int socket = SOCKET_ID_ANY;
};

// The VIP table, immutable once published.
struct VipTable {
  static constexpr uint32_t kSlots = 2 * SL_MAX_VIPS;  // load <= 1/2
  struct Slot {
    sl_vip_key key;
    uint32_t used;
    sl_vip_meta meta;
  };
  uint32_t count = 0;
  Slot slots[kSlots]{};

  // The key as two 8-byte words and one 4-byte word, each inside one
  // store of core/flow.h's sl_vip_key_of_flow, so a key built just before
  // is forwarded from the store buffer (a libc memcmp's wider loads were
  // not). Inline, with a hash of fixed length: every packet looks its VIP
  // up.
  struct Words {
    uint64_t a, b;
    uint32_t c;
  };
  static Words words_of(const sl_vip_key& k) {
    Words w;
    std::memcpy(&w.a, k.addr, 8);
    std::memcpy(&w.b, k.addr + 2, 8);
    std::memcpy(&w.c, &k.port, 4);
    return w;
  }
  static uint32_t slot_of(const Words& w) {
    return rte_hash_crc_4byte(w.c, rte_hash_crc_8byte(w.b, rte_hash_crc_8byte(w.a, 0))) &
           (kSlots - 1);
  }
  static uint32_t slot_of(const sl_vip_key& k) { return slot_of(words_of(k)); }
  static bool same(const Words& x, const Words& y) {
    return ((x.a ^ y.a) | (x.b ^ y.b) | (x.c ^ y.c)) == 0;
  }
  const sl_vip_meta* find(const sl_vip_key& k) const { return find(words_of(k)); }
  const sl_vip_meta* find(const Words& w) const {
    for (uint32_t n = 0, i = slot_of(w); n < kSlots; n++, i = (i + 1) & (kSlots - 1)) {
      const Slot& s = slots[i];
      if (!s.used) return nullptr;
      if (same(words_of(s.key), w)) return &s.meta;
    }
    return nullptr;
  }
};

// The writer's key of a rule: scope, family and prefix (host bits zero).
struct AclKey {
  uint32_t scope;
  uint8_t family;
  uint8_t prefix_len;
  uint16_t pad;
  uint32_t addr[4];  // network order; IPv4: addr[0]
};
static_assert(sizeof(AclKey) == 24);
struct AclKeyLess {
  bool operator()(const AclKey& a, const AclKey& b) const {
    return std::memcmp(&a, &b, sizeof(a)) < 0;
  }
};

// Scopes: global (0) and one per VIP id (core/acl.h).
inline constexpr uint32_t kAclScopes = SL_MAX_VIPS + 1;
inline constexpr uint32_t kAclMaxNodes = 1u << 20;

// One level of an ACL trie: 4 bits of the source. Readers load rule and
// child with acquire loads; len and used are the writer's alone.
struct AclNode {
  static constexpr unsigned kFan = 16;
  const sl_acl_rule* rule[kFan];  // the longest prefix of this level covering the entry
  AclNode* child[kFan];
  uint8_t len[kFan];               // that prefix's length
  uint32_t used;                   // entries with a rule, plus children
};

class Tables {
 public:
  static Result<std::unique_ptr<Tables>> create(const TablesConfig& cfg);
  ~Tables();
  Tables(const Tables&) = delete;
  Tables& operator=(const Tables&) = delete;

  // --- writers: one thread at a time ---------------------------------
  Result<void> global_set(const sl_global& g);
  Result<void> vip_put(const sl_vip_key& key, const sl_vip_meta& meta);
  Result<void> vip_del(const sl_vip_key& key);  // absent: not an error
  Result<void> backend_put(uint32_t slot, const sl_backend& be);
  Result<void> ring_put(uint32_t ring_id, const sl_ring& ring);

  Result<std::optional<sl_vip_meta>> vip_get(const sl_vip_key& key) const;
  std::vector<std::pair<sl_vip_key, sl_vip_meta>> vip_list() const;
  sl_backend backend_get(uint32_t slot) const;  // never written: all zero

  // The firewall (dataplane.h's acl_* semantics): put inserts or replaces
  // the rule of (scope, family, prefix); del of an absent rule is not an
  // error; list returns every rule held.
  Result<void> acl_put(const AclEntry& e);
  Result<void> acl_del(const AclEntry& e);
  std::vector<AclEntry> acl_list() const;

  // Fields stored by the VRRP/sync threads with atomic stores (one writer
  // per field, as the XDP control map); read by the workers.
  sl_control* control() { return &control_; }
  rte_rcu_qsbr* qsbr() { return qsbr_; }
  unsigned workers() const { return workers_; }

  // Frees what every worker has passed since it was replaced. Main loop,
  // periodically; never waits. Returns how many objects are still pending.
  size_t reclaim();
  // Blocks until every online worker has passed a quiescent state, then
  // frees everything pending (shutdown, tests).
  void synchronize();
  // Objects freed so far (tests, metrics).
  uint64_t reclaimed() const { return reclaimed_; }

  // --- workers: lock-free reads, valid until the next quiescent state ----
  const sl_vip_meta* vip(const sl_vip_key& k) const {
    return vips_.load(std::memory_order_acquire)->find(k);
  }
  // The VIP table in force (valid until the reader's next quiescent state).
  const VipTable* vip_table() const { return vips_.load(std::memory_order_acquire); }
  const sl_global* global() const { return global_.load(std::memory_order_acquire); }
  const sl_backend* backend(uint32_t slot) const {
    if (slot >= SL_MAX_BACKENDS) return nullptr;
    const sl_backend* b = backends_[slot].load(std::memory_order_acquire);
    return b ? b : &kZeroBackend;
  }
  const sl_ring* ring(uint32_t ring_id) const {
    if (ring_id >= SL_RINGS) return nullptr;
    const sl_ring* r = rings_[ring_id].load(std::memory_order_acquire);
    return r ? r : &kZeroRing;
  }
  // The most specific rule of `scope` holding `flow`'s source, or null.
  const sl_acl_rule* acl(uint32_t scope, const sl_flow_key& flow) const {
    if (scope >= kAclScopes) return nullptr;
    unsigned v6 = flow.family == SL_AF_INET6;
    const AclNode* n = __atomic_load_n(&acl_roots_[scope * 2 + v6], __ATOMIC_ACQUIRE);
    const sl_acl_rule* best = nullptr;
    for (unsigned d = 0, bits = v6 ? 128 : 32; n && d < bits; d += 4) {
      unsigned nib = acl_nibble(flow.src, d);
      if (const sl_acl_rule* r = __atomic_load_n(&n->rule[nib], __ATOMIC_ACQUIRE)) best = r;
      n = __atomic_load_n(&n->child[nib], __ATOMIC_ACQUIRE);
    }
    return best;
  }
  // The 4 bits of a network-order address at bit `d`.
  static unsigned acl_nibble(const uint32_t* addr, unsigned d) {
    return (rte_be_to_cpu_32(addr[d / 32]) >> (28 - d % 32)) & 0xf;
  }

 private:
  Tables() = default;
  struct Retired {
    uint64_t token;
    void (*free)(const void*);
    const void* obj;
  };
  template <class T>
  void retire(const T* old);
  AclNode* acl_node_new();
  void acl_tree_free(AclNode* n);

  static const sl_backend kZeroBackend;
  static const sl_ring kZeroRing;

  unsigned workers_ = 0;
  rte_rcu_qsbr* qsbr_ = nullptr;
  alignas(64) sl_control control_{};
  std::atomic<const VipTable*> vips_{nullptr};
  std::atomic<const sl_global*> global_{nullptr};
  std::unique_ptr<std::atomic<const sl_backend*>[]> backends_;
  std::unique_ptr<std::atomic<const sl_ring*>[]> rings_;
  std::deque<Retired> retired_;  // oldest first: tokens only grow
  // ACLs: the workers' view (a root per scope and family), and the
  // writer's (main loop only).
  std::unique_ptr<AclNode*[]> acl_roots_;
  struct AclHeld {
    AclEntry entry;
    const sl_acl_rule* published;
  };
  std::map<AclKey, AclHeld, AclKeyLess> acl_held_;
  uint32_t acl_nodes_ = 0;
  uint64_t reclaimed_ = 0;
};

}  // namespace sluice::dpdk
