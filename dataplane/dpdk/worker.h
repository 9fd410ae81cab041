// SPDX-License-Identifier: Apache-2.0
// One DPDK worker (one per worker lcore): runs core/pipeline.h over a burst
// of mbufs, with its own connection table, schedule cursors and counters.
//
// Threads. The worker's lcore calls burst(), quiescent() and
// poll_commands(); nothing else writes the worker's state. Any other thread
// may call the counter reads, conn_count, conn_table_size, conns_page,
// conn_put/conn_del (queued) and flow_events_take (one consumer).
//
// The connection table is a ConnTable (conn_table.h): one writer, this
// worker's lcore; other threads read records by position under each
// record's sequence count (conns_page).
//
// A full table never stalls a packet: an insert that finds no room evicts
// (ConnTable::insert: the oldest record of a window of positions under a
// clock hand, or of the key's two buckets; by created_ns; a SYN only an
// unconfirmed one); if that fails, the flow goes to its pick unrecorded
// and `conn_not_recorded` counts it. Sync imports (conn_put) evict the
// same way.
#pragma once

#include <rte_mbuf.h>
#include <rte_memory.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <vector>

#include "core/abi.h"
#include "core/verdict.h"
#include "core/host/result.h"
#include "dataplane/dataplane.h"
#include "dataplane/dpdk/conn_table.h"
#include "dataplane/dpdk/tables.h"

struct rte_ring;

namespace sluice::dpdk {

inline constexpr uint16_t kBurst = 32;

struct WorkerConfig {
  unsigned id = 0;                 // RCU reader id, < Tables' workers
  uint32_t conn_table_size = SL_CONN_TABLE_DEFAULT;
  uint32_t mtu = 1500;             // the port's MTU (L3 bytes), as bpf_check_mtu
  int socket = SOCKET_ID_ANY;
  uint32_t flow_event_slots = 8192;  // power of two
  uint32_t command_slots = 4096;     // power of two
  bool conn_huge_pages = true;       // without EAL hugepages: THP for the table
};

struct BurstOut {
  rte_mbuf* tx[kBurst];   // back out the port: rewritten, encapsulated, ICMP
  uint16_t n_tx = 0;
  rte_mbuf* exc[kBurst];  // PASS: to the kernel (the exception port)
  uint16_t n_exc = 0;
};  // DROP: freed inside burst()

// Per-worker counter tables, indexed as the XDP per-CPU maps.
struct alignas(RTE_CACHE_LINE_SIZE) WorkerCounters {
  sl_counters vip[SL_MAX_VIPS];
  sl_counters backend[SL_MAX_BACKENDS];
  sl_counters reason[SL_REASON_SLOTS];
  uint64_t acl_hits[SL_ACL_MAX_RULES];  // per rule id (1 MB)
};

// What the worker itself saw (not per VIP): for metrics and tests.
struct WorkerStats {
  uint64_t conn_evicted = 0;       // records evicted to make room
  uint64_t conn_not_recorded = 0;  // full table: flow steered, not recorded
  uint64_t events_lost = 0;        // flow-event ring full
  uint64_t commands_applied = 0;
  uint64_t commands_failed = 0;    // conn_put with no room
};

class Worker {
 public:
  // Registers `cfg.id` with tables.qsbr() and puts it online.
  static Result<std::unique_ptr<Worker>> create(Tables& tables, const WorkerConfig& cfg);
  ~Worker();
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  // --- the worker's lcore ------------------------------------------------
  // Steers `n` (<= kBurst) packets; `reasons` (optional) gets each one's
  // reason, in input order.
  void burst(rte_mbuf** pkts, uint16_t n, BurstOut& out, uint8_t* reasons = nullptr);
  void quiescent();       // once per poll-loop iteration, outside a burst
  void poll_commands();   // applies queued conn_put/conn_del
  void online();          // the thread (re)joins RCU (create() did it once)
  void offline();         // the thread stops polling: RCU stops waiting for it

  // --- any thread ------------------------------------------------------
  sl_counters vip_counters(uint32_t vip_id) const;
  sl_counters backend_counters(uint32_t slot) const;
  sl_counters reason_counters(uint32_t reason) const;
  WorkerStats stats() const;
  // Main loop: zeroes one id's counters (the XDP semantics: a packet
  // counted concurrently may survive the reset).
  void counters_reset(CounterKind kind, uint32_t id);
  // One ACL rule's hits on this worker; reset as counters_reset.
  uint64_t acl_hits(uint32_t rule_id) const {
    return rule_id < SL_ACL_MAX_RULES ? __atomic_load_n(&counters_->acl_hits[rule_id], __ATOMIC_RELAXED)
                                      : 0;
  }
  void acl_hits_reset(uint32_t rule_id) {
    if (rule_id < SL_ACL_MAX_RULES) __atomic_store_n(&counters_->acl_hits[rule_id], 0, __ATOMIC_RELAXED);
  }

  uint64_t conn_count() const { return table_->count(); }
  uint32_t conn_table_size() const { return size_; }
  // Up to `max` records after `cursor` (a position), which it advances;
  // scans at most kPageScan positions per call.
  static constexpr uint32_t kPageScan = 1u << 16;
  std::vector<ConnEntry> conns_page(ConnCursor& cursor, size_t max) const;
  // Queued for poll_commands (ring full: an error, nothing waits).
  Result<void> conn_put(const sl_flow_key& key, const sl_conn& conn);
  Result<void> conn_del(const sl_flow_key& key);
  // Sync's consumer: appends up to `max` events; never blocks.
  size_t flow_events_take(std::vector<sl_flow_event>& out, size_t max);

  // --- the pipeline's hooks (worker.cc); public for them only ----------
  struct Hot;
  Hot& hot() { return *hot_; }

 private:
  Worker() = default;
  Result<void> init(Tables& tables, const WorkerConfig& cfg);

  Tables* tables_ = nullptr;
  unsigned id_ = 0;
  uint32_t size_ = 0;
  std::unique_ptr<ConnTable> table_;
  WorkerCounters* counters_ = nullptr;
  rte_ring* events_ = nullptr;
  rte_ring* commands_ = nullptr;
  Hot* hot_ = nullptr;            // rte_zmalloc, cache aligned
  bool registered_ = false;
};

// The Toeplitz hash a port's RSS computes for this flow (TCP/UDP over IPv4
// or IPv6, the 5-tuple as received), so a flow imported by sync can be
// queued to the worker whose queue will receive it.
uint32_t flow_rss_hash(const sl_flow_key& flow, const uint8_t* rss_key, uint32_t key_len);

}  // namespace sluice::dpdk
