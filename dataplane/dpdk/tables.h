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
//  - ACL rules (core/acl.h): one lock-free rte_hash keyed by (scope,
//    family, prefix length, masked source) and, per scope and family, a
//    bit mask of the prefix lengths it holds. A lookup probes the lengths
//    present, longest first, so the most specific rule wins in as many
//    probes as the scope has distinct lengths (usually 1..3), whatever the
//    number of rules. (An rte_lpm per scope was the other choice: its
//    2^24-entry first level is 64 MB per table, which 257 scopes, or a
//    --no-huge -m 512 EAL, cannot hold.) A rule's value is an immutable
//    sl_acl_rule retired through RCU like the other objects; a deleted
//    key's hash position is freed after the same grace period. The hash
//    is made on the first acl_put: a config without ACLs pays nothing.
//
// Threads: the writers (global_set, vip_*, backend_put, ring_put, reclaim)
// are called by one thread at a time (the controller's main loop). The
// reads (vip_get, vip_list, backend_get) are safe from any thread that is
// either the writer or registered with qsbr(); the workers use the inline
// readers below.
#pragma once

#include <rte_rcu_qsbr.h>

#include <rte_byteorder.h>
#include <rte_hash.h>

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

  static uint32_t slot_of(const sl_vip_key& k);
  const sl_vip_meta* find(const sl_vip_key& k) const;
};

// The ACL hash's key: one rule's scope, family and prefix (host bits zero).
struct AclHashKey {
  uint32_t scope;
  uint8_t family;
  uint8_t prefix_len;
  uint16_t pad;
  uint32_t addr[4];  // network order; IPv4: addr[0]
};
static_assert(sizeof(AclHashKey) == 24);
struct AclKeyLess {
  bool operator()(const AclHashKey& a, const AclHashKey& b) const {
    return std::memcmp(&a, &b, sizeof(a)) < 0;
  }
};

// Scopes: global (0) and one per VIP id (core/acl.h).
inline constexpr uint32_t kAclScopes = SL_MAX_VIPS + 1;

// The prefix lengths one scope holds, per family: bit L set when a rule
// of length L exists (IPv4: v4 bits 0..32; IPv6: v6[L / 64] bit L % 64).
struct AclLengths {
  std::atomic<uint64_t> v4{0};
  std::atomic<uint64_t> v6[3]{};
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
    rte_hash* h = acl_hash_.load(std::memory_order_acquire);
    if (!h || scope >= kAclScopes) return nullptr;
    const AclLengths& l = acl_lengths_[scope];
    if (flow.family == SL_AF_INET)
      return acl_probe(h, scope, flow, SL_AF_INET, l.v4.load(std::memory_order_acquire), 0);
    for (int w = 2; w >= 0; w--) {
      uint64_t m = l.v6[w].load(std::memory_order_acquire);
      if (m)
        if (const sl_acl_rule* r = acl_probe(h, scope, flow, SL_AF_INET6, m, unsigned(w) * 64))
          return r;
    }
    return nullptr;
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
  Result<rte_hash*> acl_hash();

  // Probes the lengths of mask `m` (bit i: length base + i), longest first.
  static const sl_acl_rule* acl_probe(rte_hash* h, uint32_t scope, const sl_flow_key& flow,
                                      uint8_t family, uint64_t m, unsigned base) {
    while (m) {
      unsigned bit = 63u - unsigned(__builtin_clzll(m));
      m &= ~(uint64_t(1) << bit);
      unsigned len = base + bit;
      AclHashKey k{scope, family, uint8_t(len), 0, {0, 0, 0, 0}};
      for (unsigned i = 0; i < 4 && len > 32 * i; i++) {
        unsigned bits = len - 32 * i >= 32 ? 32 : len - 32 * i;
        k.addr[i] = flow.src[i] & rte_cpu_to_be_32(~0u << (32 - bits));
      }
      void* data;
      if (rte_hash_lookup_data(h, &k, &data) >= 0) return static_cast<const sl_acl_rule*>(data);
    }
    return nullptr;
  }

  static const sl_backend kZeroBackend;
  static const sl_ring kZeroRing;

  unsigned workers_ = 0;
  int socket_ = SOCKET_ID_ANY;
  rte_rcu_qsbr* qsbr_ = nullptr;
  alignas(64) sl_control control_{};
  std::atomic<const VipTable*> vips_{nullptr};
  std::atomic<const sl_global*> global_{nullptr};
  std::unique_ptr<std::atomic<const sl_backend*>[]> backends_;
  std::unique_ptr<std::atomic<const sl_ring*>[]> rings_;
  std::deque<Retired> retired_;  // oldest first: tokens only grow
  // ACLs: the workers' view, and the writer's (main loop only).
  std::atomic<rte_hash*> acl_hash_{nullptr};
  std::unique_ptr<AclLengths[]> acl_lengths_;
  struct AclHeld {
    AclEntry entry;
    const sl_acl_rule* published;
  };
  std::map<AclHashKey, AclHeld, AclKeyLess> acl_held_;
  std::vector<uint32_t> acl_len_count_;  // [scope][family 0/1][len 0..128]
  std::deque<std::pair<uint64_t, int32_t>> acl_positions_;  // (token, position) to free
  uint64_t reclaimed_ = 0;
};

}  // namespace sluice::dpdk
