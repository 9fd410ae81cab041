// SPDX-License-Identifier: Apache-2.0
// What `sluicectl vrrp` and the metrics show of the VRRP instance and of
// connection sync: a plain snapshot, taken by the thread that owns the
// state and read by the API (main loop) and the metrics thread.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

#include "core/host/ip_addr.h"
#include "control/sync/sync_codec.h"
#include "control/vrrp/advert.h"
#include "control/vrrp/vrrp_state.h"

namespace sluice::vrrp {

struct SyncReport {
  bool enabled = false;
  IpAddr peer;
  uint16_t port = 0;
  bool signed_ = false;          // a key_file is configured
  bool sending = false;          // this node streams its new flows (MASTER)
  bool resynced = false;         // BACKUP: a full resync from the master completed
  uint64_t records_sent = 0;     // records put on the wire
  uint64_t records_applied = 0;  // records inserted into the local table
  uint64_t records_no_backend = 0;  // for a backend this node does not have
  uint64_t events_lost = 0;      // the fast path's ring buffer was full
  uint64_t datagrams_sent = 0;
  uint64_t datagrams_received = 0;
  uint64_t resyncs_requested = 0;
  uint64_t resyncs_served = 0;
  std::array<uint64_t, sync::kDropCount + 1> drops{};  // by sync::Drop (index = value)
  double lag_ms = 0;  // age of the newest applied record when it arrived
};

struct VrrpReport {
  Status instance;               // state, effective priority, master, last reason ...
  uint8_t priority = 0;          // configured
  uint32_t track_penalty = 0;    // subtracted now
  std::string interface;
  uint32_t vrid = 0;
  uint32_t advert_interval_ms = 0;
  bool preempt = true;
  uint64_t adverts_sent = 0;
  uint64_t adverts_received = 0;  // accepted ones
  std::array<uint64_t, kAdvertDropCount + 1> advert_drops{};  // by AdvertDrop (index = value)
  uint64_t advert_late = 0;       // adverts sent later than interval + 10%
  double advert_jitter_max_ms = 0;  // the latest an advert went out, beyond its due time
  std::chrono::system_clock::time_point last_change{};  // wall clock, for display
  SyncReport sync;
};

}  // namespace sluice::vrrp
