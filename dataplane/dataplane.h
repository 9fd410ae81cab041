// SPDX-License-Identifier: Apache-2.0
// The controller's view of a dataplane (XDP today, DPDK later): tables to
// write, counters to read. Index allocation, ring building and reconciling
// with the config live in the controller, not here. The daemon, the API and
// the metrics know a dataplane only through this interface; which one runs
// is chosen by dataplane_open (control/daemon/dataplane_open.h).
//
// Threads: the main loop is the only writer of the tables and the only
// caller of everything below not marked otherwise. The metrics thread calls
// the counter reads (vip_counters, backend_counters, reason_counters),
// conn_count, conn_table_size and describe concurrently with the main
// loop's writes: an implementation makes those safe (XDP: each is a map
// syscall through an fd that stays open, or a value fixed at open). A
// counter read may see a concurrent packet's update or not, never a torn
// value of one CPU's counter. The VRRP/sync block states its own threads.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/abi.h"
#include "core/acl.h"
#include "core/verdict.h"
#include "core/host/result.h"

namespace sluice {

// Per-id counter tables (counters_reset).
enum class CounterKind { vip, backend };

// What `status` says of the dataplane.
struct DataplaneInfo {
  std::string kind;      // "xdp", "dpdk"
  std::string mode;      // xdp: "native" or "generic"
  std::string location;  // xdp: the pin directory
};

struct ConnEntry {
  sl_flow_key key;
  sl_conn conn;
};

// Where a walk of the connection table stands (conns_page). Opaque to the
// caller: start from a default-constructed one, stop when `done`.
struct ConnCursor {
  std::array<uint8_t, sizeof(sl_flow_key)> pos{};
  bool started = false;
  bool done = false;
};

// One firewall rule as the dataplane holds it (core/acl.h): a source
// prefix in a scope, and what it does.
struct AclEntry {
  uint32_t scope = SL_ACL_SCOPE_GLOBAL;  // or sl_acl_scope_of_vip(vip_id)
  uint8_t family = SL_AF_INET;           // enum sl_family
  uint8_t prefix_len = 0;                // of the source address
  std::array<uint32_t, 4> addr{};        // network order; host bits zero
  sl_acl_rule rule{};

  // Scope, family, prefix: what the trie keys on (rule not compared).
  bool same_key(const AclEntry& o) const {
    return scope == o.scope && family == o.family && prefix_len == o.prefix_len && addr == o.addr;
  }
};

// After a firewall rule change, done or failed half-way: the fast path
// judges every flow again at its next packet (core/pipeline.h,
// sl_pl_acl_due). One writer (the controller's main loop); never 0, so a
// record imported by sync (acl_gen 0) is always judged.
inline void acl_gen_bump(sl_control* ctl) {
  if (ctl == nullptr) return;
  uint32_t g = __atomic_load_n(&ctl->acl_gen, __ATOMIC_RELAXED) + 1;
  __atomic_store_n(&ctl->acl_gen, g == 0 ? 1 : g, __ATOMIC_RELEASE);
}

class Dataplane {
 public:
  virtual ~Dataplane() = default;

  // Fixed once open; thread-safe.
  virtual DataplaneInfo describe() const = 0;
  // Stops steering for good: the program leaves the interface and what
  // outlives a controller (XDP: the pins) is removed. Main loop only.
  virtual Result<void> detach() = 0;
  // The connection table's capacity; thread-safe.
  virtual uint32_t conn_table_size() const = 0;
  // Entries in the connection table now. May be slow on a big table (XDP:
  // one syscall per 8192 entries), so callers cache it; thread-safe.
  virtual Result<uint64_t> conn_count() const = 0;

  virtual Result<void> global_set(const sl_global& g) = 0;
  virtual Result<void> vip_put(const sl_vip_key& key, const sl_vip_meta& meta) = 0;
  virtual Result<void> vip_del(const sl_vip_key& key) = 0;
  virtual Result<void> backend_put(uint32_t index, const sl_backend& be) = 0;
  virtual Result<void> ring_put(uint32_t ring_id, const sl_ring& ring) = 0;

  // Reads back what is programmed, so that a restarted controller can take
  // over the tables a previous one left (the dataplane outlives it).
  virtual Result<std::optional<sl_vip_meta>> vip_get(const sl_vip_key& key) = 0;
  virtual Result<std::vector<std::pair<sl_vip_key, sl_vip_meta>>> vip_list() = 0;
  // A slot never written reads as all zeroes (family 0).
  virtual Result<sl_backend> backend_get(uint32_t index) = 0;

  // Counters summed over CPUs.
  virtual Result<sl_counters> vip_counters(uint32_t vip_id) = 0;
  virtual Result<sl_counters> backend_counters(uint32_t index) = 0;
  virtual Result<std::array<sl_counters, SL_R_MAX>> reason_counters() = 0;
  // Packets each worker has taken (every reason), one entry per worker;
  // empty where the dataplane has no workers of its own (XDP: the NIC's
  // queues and the kernel's CPUs). Main loop.
  virtual std::vector<uint64_t> worker_packets() const { return {}; }
  // Zeroes the counters of VIP id / backend slot `id` on every CPU. The
  // controller calls it when it (re)allocates the id, before programming
  // it, so a new VIP or backend does not inherit its predecessor's totals.
  virtual Result<void> counters_reset(CounterKind kind, uint32_t id) = 0;

  // Up to `limit` entries of the connection table (0: all).
  virtual Result<std::vector<ConnEntry>> conns(size_t limit) = 0;

  // --- Firewall (ACL) ---------------------------------------------------
  // Main loop only, but acl_hits, which the metrics thread also calls.
  // The defaults fail: a dataplane without them refuses a config with ACLs.
  // Inserts or replaces one rule (its key: scope, family, prefix).
  virtual Result<void> acl_put(const AclEntry& /*e*/) { return unsupported("acl_put"); }
  // Removes one rule by key; absent: not an error.
  virtual Result<void> acl_del(const AclEntry& /*e*/) { return unsupported("acl_del"); }
  // Every rule held (a restarted controller adopts them, and their ids).
  virtual Result<std::vector<AclEntry>> acl_list() { return unsupported("acl_list"); }
  // The hits of every rule id (SL_ACL_MAX_RULES values), summed over CPUs.
  virtual Result<std::vector<uint64_t>> acl_hits() { return unsupported("acl_hits"); }
  // Zeroes one rule id's hits (before the id is given to a new rule).
  virtual Result<void> acl_hits_reset(uint32_t /*rule_id*/) { return unsupported("acl_hits_reset"); }

  // --- VRRP and connection-state sync ---------------------------------
  // Threads: heartbeat() is called from the VRRP thread and the rest of
  // this block from the sync thread, while the main loop writes the other
  // tables. Implementations make these safe against each other and against
  // the main loop's calls (XDP: each is one syscall on its own map, or a
  // store to a field of a shared mapping that nobody else writes). The
  // flow_events_* calls have one consumer: the sync thread.
  // The defaults fail: a dataplane without them runs without VRRP/sync.

  // Under vrrp: the controller's heartbeat. Stamps "now" (the clock
  // bpf_ktime_get_ns reads, CLOCK_MONOTONIC); the program steers only while
  // now - last stamp <= timeout_ns. timeout_ns 0: no check (no vrrp block:
  // a dead controller leaves the program steering). A silent controller's
  // node passes VIP traffic to the kernel (reason pass_passive).
  virtual Result<void> heartbeat(uint64_t /*timeout_ns*/) { return unsupported("heartbeat"); }

  // Sync, sending side: while on, the fast path queues an event for every
  // flow it records (new, or a stale record overwritten) in a bounded ring;
  // when the ring is full the event is counted (flow_events_lost) and the
  // packet goes on. Off: the fast path pays one flag test.
  virtual Result<void> flow_events_enable(bool /*on*/) { return unsupported("flow_events_enable"); }
  // Appends up to `max` queued events to `out`; never blocks.
  virtual Result<size_t> flow_events_take(std::vector<sl_flow_event>& /*out*/,
                                                size_t /*max*/) {
    return unsupported("flow_events_take");
  }
  // Polls readable when events are queued; -1: none (poll on a timer).
  virtual int flow_events_fd() const { return -1; }
  // Events the fast path could not queue (ring full), since load.
  virtual Result<uint64_t> flow_events_lost() { return unsupported("flow_events_lost"); }

  // Sync, receiving side: insert or replace one connection record (an
  // import may evict the least recently used flow of a full table), or
  // remove one (absent: not an error).
  virtual Result<void> conn_put(const sl_flow_key& /*key*/, const sl_conn& /*conn*/) {
    return unsupported("conn_put");
  }
  virtual Result<void> conn_del(const sl_flow_key& /*key*/) { return unsupported("conn_del"); }
  // conn_put of many at once (XDP: one batched syscall).
  virtual Result<void> conns_put(const std::vector<ConnEntry>& entries) {
    for (const auto& e : entries)
      if (auto r = conn_put(e.key, e.conn); !r.ok()) return r;
    return {};
  }
  // A walk of the connection table in pages (resync, refresh, expiry):
  // up to `max` entries after `cursor`, which it advances; sets
  // cursor.done at the end. Entries added or removed meanwhile may or may
  // not be seen; none is seen twice unless the table is rehashed.
  virtual Result<std::vector<ConnEntry>> conns_page(ConnCursor& /*cursor*/, size_t /*max*/) {
    return unsupported("conns_page");
  }

 protected:
  static Error unsupported(const char* what) {
    return make_error(std::string(what) + ": not supported by this dataplane", 95 /* EOPNOTSUPP */);
  }
};

}  // namespace sluice
