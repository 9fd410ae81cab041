// SPDX-License-Identifier: Apache-2.0
// A Dataplane that records every call (in order) and keeps the tables in
// memory, for controller tests.
#pragma once

#include <algorithm>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "dataplane/dataplane.h"
#include "control/net/mac_resolver.h"

namespace sluice {

class FakeDataplane final : public Dataplane {
 public:
  struct VipEntry {
    sl_vip_key key;
    sl_vip_meta meta;
  };

  DataplaneInfo describe() const override { return info; }
  std::vector<uint64_t> worker_packets() const override { return workers; }
  Result<void> detach() override {
    log.push_back("detach");
    return {};
  }
  uint32_t conn_table_size() const override { return table_size; }
  Result<uint64_t> conn_count() const override {
    std::lock_guard lock(sync_mu);
    return static_cast<uint64_t>(conn_table.size());
  }

  Result<void> global_set(const sl_global& g) override {
    log.push_back("global");
    global = g;
    return {};
  }
  Result<void> vip_put(const sl_vip_key& key, const sl_vip_meta& meta) override {
    log.push_back("vip_put " + std::to_string(meta.vip_id) + " ring " +
                  std::to_string(meta.ring_id));
    vips[key_str(key)] = {key, meta};
    return {};
  }
  Result<void> vip_del(const sl_vip_key& key) override {
    log.push_back("vip_del");
    vips.erase(key_str(key));
    return {};
  }
  Result<void> backend_put(uint32_t index, const sl_backend& be) override {
    log.push_back("backend_put " + std::to_string(index));
    backends[index] = be;
    return {};
  }
  Result<void> ring_put(uint32_t ring_id, const sl_ring& ring) override {
    log.push_back("ring_put " + std::to_string(ring_id));
    auto r = std::make_shared<sl_ring>();
    std::memcpy(r.get(), &ring, sizeof(ring));
    rings[ring_id] = r;
    return {};
  }
  Result<std::optional<sl_vip_meta>> vip_get(const sl_vip_key& key) override {
    auto it = vips.find(key_str(key));
    if (it == vips.end()) return std::optional<sl_vip_meta>{};
    return std::optional<sl_vip_meta>(it->second.meta);
  }
  Result<std::vector<std::pair<sl_vip_key, sl_vip_meta>>> vip_list() override {
    std::vector<std::pair<sl_vip_key, sl_vip_meta>> out;
    for (const auto& [_, e] : vips) out.emplace_back(e.key, e.meta);
    return out;
  }
  Result<sl_backend> backend_get(uint32_t index) override {
    auto it = backends.find(index);
    return it == backends.end() ? sl_backend{} : it->second;
  }
  Result<sl_counters> vip_counters(uint32_t vip_id) override {
    return sl_counters{100 + vip_id, 1000, 10, 0};
  }
  Result<sl_counters> backend_counters(uint32_t index) override {
    return sl_counters{index, 64 * index, 1, 0};
  }
  // Not in `log` (tests compare it write for write): in `resets`.
  Result<void> counters_reset(CounterKind kind, uint32_t id) override {
    resets.push_back((kind == CounterKind::vip ? "vip " : "backend ") + std::to_string(id));
    return {};
  }
  Result<std::array<sl_counters, SL_R_MAX>> reason_counters() override {
    std::array<sl_counters, SL_R_MAX> a{};
    for (int r = 0; r < SL_R_MAX; ++r) a[r].packets = r;
    return a;
  }
  Result<std::vector<ConnEntry>> conns(size_t) override { return std::vector<ConnEntry>{}; }

  // VRRP / sync: called from other threads than the test's, so behind a
  // mutex. The connection table here is only what sync and tests put.
  Result<void> heartbeat(uint64_t timeout_ns) override {
    std::lock_guard lock(sync_mu);
    ++heartbeats;
    heartbeat_timeout_ns = timeout_ns;
    return {};
  }
  Result<void> flow_events_enable(bool on) override {
    std::lock_guard lock(sync_mu);
    flow_events_on = on;
    return {};
  }
  Result<size_t> flow_events_take(std::vector<sl_flow_event>& out, size_t max) override {
    std::lock_guard lock(sync_mu);
    size_t n = std::min(max, flow_events.size());
    out.insert(out.end(), flow_events.begin(), flow_events.begin() + static_cast<long>(n));
    flow_events.erase(flow_events.begin(), flow_events.begin() + static_cast<long>(n));
    return n;
  }
  Result<uint64_t> flow_events_lost() override {
    std::lock_guard lock(sync_mu);
    return events_lost;
  }
  Result<void> conn_put(const sl_flow_key& key, const sl_conn& conn) override {
    std::lock_guard lock(sync_mu);
    conn_table[flow_str(key)] = ConnEntry{key, conn};
    return {};
  }
  Result<void> conn_del(const sl_flow_key& key) override {
    std::lock_guard lock(sync_mu);
    conn_table.erase(flow_str(key));
    return {};
  }
  Result<std::vector<ConnEntry>> conns_page(ConnCursor& cursor, size_t max) override {
    std::lock_guard lock(sync_mu);
    std::vector<ConnEntry> out;
    auto it = conn_table.begin();
    if (cursor.started)
      it = conn_table.upper_bound(std::string(cursor.pos.begin(), cursor.pos.end()));
    for (; it != conn_table.end() && out.size() < max; ++it) out.push_back(it->second);
    cursor.started = true;
    if (!out.empty()) std::memcpy(cursor.pos.data(), &out.back().key, sizeof(sl_flow_key));
    cursor.done = it == conn_table.end();
    return out;
  }

  // Firewall rules: a list, replaced by key.
  Result<void> acl_put(const AclEntry& e) override {
    std::erase_if(acl, [&](const AclEntry& h) { return h.same_key(e); });
    acl.push_back(e);
    return {};
  }
  Result<void> acl_del(const AclEntry& e) override {
    std::erase_if(acl, [&](const AclEntry& h) { return h.same_key(e); });
    return {};
  }
  Result<std::vector<AclEntry>> acl_list() override { return acl; }
  Result<std::vector<uint64_t>> acl_hits() override { return acl_hit_counts; }
  Result<void> acl_hits_reset(uint32_t id) override {
    acl_hit_counts.at(id) = 0;
    return {};
  }
  std::vector<AclEntry> acl;
  std::vector<uint64_t> acl_hit_counts = std::vector<uint64_t>(SL_ACL_MAX_RULES, 0);

  // The fast path recording a flow while events are on.
  void flow_event_push(const sl_flow_event& e) {
    std::lock_guard lock(sync_mu);
    if (flow_events_on) flow_events.push_back(e);
  }
  std::optional<ConnEntry> conn_find(const sl_flow_key& key) {
    std::lock_guard lock(sync_mu);
    auto it = conn_table.find(flow_str(key));
    if (it == conn_table.end()) return std::nullopt;
    return it->second;
  }
  size_t conn_table_count() {
    std::lock_guard lock(sync_mu);
    return conn_table.size();
  }

  // The ring a VIP's meta points at, as backend indices.
  std::vector<uint16_t> live_ring(const sl_vip_meta& meta) const {
    const sl_ring& r = *rings.at(meta.ring_id);
    return std::vector<uint16_t>(r.slots, r.slots + r.len);
  }

  static std::string key_str(const sl_vip_key& k) {
    return std::string(reinterpret_cast<const char*>(&k), sizeof(k));
  }
  static std::string flow_str(const sl_flow_key& k) {
    return std::string(reinterpret_cast<const char*>(&k), sizeof(k));
  }

  DataplaneInfo info{"xdp", "generic", "/sys/fs/bpf/x"};
  std::vector<uint64_t> workers;  // worker_packets(): empty, as XDP
  uint32_t table_size = 65536;
  std::vector<std::string> log;
  std::vector<std::string> resets;  // counters_reset calls, "vip 3" / "backend 7"
  sl_global global{};
  std::map<std::string, VipEntry> vips;
  std::map<uint32_t, sl_backend> backends;
  std::map<uint32_t, std::shared_ptr<sl_ring>> rings;

  mutable std::mutex sync_mu;  // guards the members below
  uint64_t heartbeats = 0;
  uint64_t heartbeat_timeout_ns = 0;
  bool flow_events_on = false;
  std::vector<sl_flow_event> flow_events;
  uint64_t events_lost = 0;
  std::map<std::string, ConnEntry> conn_table;  // by flow_str
};

// Every address resolves to 02:00:<addr bytes>, except those in `missing`.
class FakeMacResolver final : public MacResolver {
 public:
  std::vector<std::optional<Mac>> resolve(const std::vector<MacTarget>& targets,
                                          std::chrono::milliseconds) override {
    std::vector<std::optional<Mac>> out;
    for (const auto& t : targets) {
      bool gone = false;
      for (const auto& m : missing) gone = gone || m == t.backend;
      size_t n = t.backend.size();
      Mac mac{0x02, static_cast<uint8_t>(shift), t.backend.bytes[n - 4],
              t.backend.bytes[n - 3], t.backend.bytes[n - 2], t.backend.bytes[n - 1]};
      out.push_back(gone ? std::nullopt : std::optional<Mac>(mac));
    }
    return out;
  }
  std::vector<IpAddr> missing;
  int shift = 0;  // changes every MAC when bumped
};

}  // namespace sluice
