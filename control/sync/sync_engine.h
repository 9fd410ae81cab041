// SPDX-License-Identifier: Apache-2.0
// Connection-state sync between the VRRP pair, without sockets or threads:
// datagrams in (receive), datagrams out (outbox), the dataplane's event
// ring and table on the side, the clock passed in. SyncService runs it on
// its own thread over UDP; tests run two of them back to back.
//
// MASTER: takes the fast path's new-flow events, turns slots into backend
// addresses, sends them in numbered batches; serves a resync (and, every
// `refresh_ns`, an unasked one) by walking its table a few pages per turn.
// BACKUP: imports records (a backend it does not have: counted, dropped);
// a start, a role change or a gap asks for a resync, re-asked until one
// completes gap-free.
//
// Expiry by idle time: the MASTER's table is LRU (the idlest flow goes
// first when it is full) and holds what the fast path saw. The BACKUP
// mirrors it: each imported record carries its import time (sl_conn.synced_s,
// seconds of CLOCK_MONOTONIC + 1; the fast path writes 0), every record the
// MASTER holds is re-sent at least every `refresh_ns` by the refresh walk,
// and after a complete walk the BACKUP deletes every record not imported
// since that walk began: flows the MASTER no longer holds.
#pragma once

#include <array>
#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include "dataplane/dataplane.h"
#include "core/host/ip_addr.h"
#include "control/sync/sync_codec.h"
#include "control/vrrp/vrrp_report.h"

namespace sluice::sync {

// What the main loop publishes after each apply: its VIPs and the slot of
// each of their backends. The engine reads each slot's generation from the
// dataplane itself (on its own thread).
struct SyncTables {
  struct Backend {
    uint32_t slot = 0;
    IpAddr address;
  };
  struct Vip {
    sl_vip_key key{};
    uint32_t vip_id = 0;
    std::vector<Backend> backends;
  };
  std::vector<Vip> vips;
};

struct EngineOptions {
  uint32_t node_id = 0;  // random per start: a restarted peer is a new stream
  uint32_t epoch = 0;
  Bytes key;                    // empty: unsigned
  std::optional<IpAddr> peer;   // unset: any source (tests)
  size_t outbox_max = 4096;     // datagrams queued for the socket
  size_t events_per_turn = 8192;
  size_t walk_datagrams_per_turn = 64;  // x kBatch records: a resync's pace
  size_t sweep_entries_per_turn = 8192;
  uint64_t refresh_ns = 30'000'000'000;     // MASTER: a full walk at least this often
  uint64_t resync_retry_ns = 1'000'000'000;  // BACKUP: ask again until resynced
  // BACKUP: a gap asks at once, but not sooner than this after the last
  // request: a burst of gaps during a walk restarts it once, not per gap.
  uint64_t resync_gap_hold_ns = 200'000'000;
};

// Counters beyond vrrp::SyncReport.
struct EngineExtra {
  uint64_t events_stale = 0;     // an event whose slot the tables do not know (or reused)
  uint64_t outbox_full = 0;      // datagrams dropped: the socket could not keep up
  uint64_t ignored_as_master = 0;  // records from the peer while we are MASTER
  uint64_t swept = 0;            // BACKUP: records the MASTER no longer holds, deleted
  uint64_t walk_stale = 0;       // table entries not sent: their slot is unknown or reused
  uint64_t dataplane_errors = 0;
};

class SyncEngine {
 public:
  SyncEngine(EngineOptions opts, Dataplane& dp);

  // Turns the fast path's event ring on (MASTER) or off; a BACKUP asks the
  // peer for a resync at once.
  void set_master(bool master, uint64_t now_ns);
  bool master() const { return master_; }
  void set_tables(const SyncTables& tables);
  // One datagram from `from`.
  void receive(std::span<const uint8_t> bytes, const IpAddr& from, uint64_t now_ns);
  // Events, walks, sweeps and timers, each bounded per call.
  void turn(uint64_t now_ns);
  // Datagrams to send, oldest first; the caller pops what it sent.
  std::deque<Bytes>& outbox() { return outbox_; }

  // BACKUP: a gap-free resync completed since the last start, role change
  // or gap.
  bool resynced() const { return resynced_; }
  // Work is pending that the next turn continues (walk, sweep, events).
  bool busy() const { return walk_ || sweep_; }
  const vrrp::SyncReport& counters() const { return report_; }
  const EngineExtra& extra() const { return extra_; }

 private:
  struct Slot {
    IpAddr address;
    uint32_t gen = 0;
    uint32_t vip_id = 0;
  };
  struct Walk {
    ConnCursor cursor;
    bool begun = false;
    bool requested = false;
  };
  struct Sweep {
    ConnCursor cursor;
    uint32_t before_s = 0;
  };

  void queue(Bytes b);
  void queue(std::vector<Bytes> bs);
  bool room(size_t datagrams) const { return outbox_.size() + datagrams <= opts_.outbox_max; }
  void request_resync(uint64_t now_ns);
  void send_events(uint64_t now_ns);
  void walk_step(uint64_t now_ns);
  void sweep_step();
  void import(const Datagram& d, uint64_t now_ns);
  std::optional<sl_sync_record> record_of(const sl_flow_key& flow, uint32_t slot, uint32_t gen,
                                          uint32_t vip_id, uint64_t created_ns, uint64_t now_ns);
  void dp_error(const Error& e);

  EngineOptions opts_;
  Dataplane& dp_;
  Sender sender_;
  Receiver receiver_;
  bool master_ = false;
  bool resynced_ = false;
  std::unordered_map<uint32_t, Slot> slots_;
  std::unordered_map<uint32_t, sl_vip_key> vips_;
  std::map<std::string, LocalBackend> local_;  // by vip key + backend address
  std::deque<Bytes> outbox_;
  std::optional<Walk> walk_;
  std::optional<Sweep> sweep_;
  uint64_t last_request_ns_ = 0;
  bool requested_ = false;
  bool gap_pending_ = false;  // a gap waits for resync_gap_hold_ns
  uint64_t last_walk_ns_ = 0;
  uint32_t pass_start_s_ = 0;
  std::vector<sl_flow_event> events_;
  vrrp::SyncReport report_;
  EngineExtra extra_;
};

// sl_conn.synced_s of an imported record: seconds of `now_ns` + 1 (never 0).
uint32_t import_stamp(uint64_t now_ns);

}  // namespace sluice::sync
