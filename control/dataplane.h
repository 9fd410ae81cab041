// SPDX-License-Identifier: Apache-2.0
// The controller's view of a dataplane (XDP today, DPDK later): tables to
// write, counters to read. Index allocation, ring building and reconciling
// with the config live in the controller, not here.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/abi.h"
#include "core/verdict.h"
#include "control/result.h"

namespace sluice {

struct ConnEntry {
  sl_flow_key key;
  sl_conn conn;
};

class Dataplane {
 public:
  virtual ~Dataplane() = default;

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

  // Up to `limit` entries of the connection table (0: all).
  virtual Result<std::vector<ConnEntry>> conns(size_t limit) = 0;
};

}  // namespace sluice
