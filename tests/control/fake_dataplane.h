// SPDX-License-Identifier: Apache-2.0
// A Dataplane that records every call (in order) and keeps the tables in
// memory, for controller tests.
#pragma once

#include <cstring>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "control/dataplane.h"
#include "control/mac_resolver.h"

namespace sluice {

class FakeDataplane final : public Dataplane {
 public:
  struct VipEntry {
    sl_vip_key key;
    sl_vip_meta meta;
  };

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
  Result<std::array<sl_counters, SL_R_MAX>> reason_counters() override {
    std::array<sl_counters, SL_R_MAX> a{};
    for (int r = 0; r < SL_R_MAX; ++r) a[r].packets = r;
    return a;
  }
  Result<std::vector<ConnEntry>> conns(size_t) override { return std::vector<ConnEntry>{}; }

  // The ring a VIP's meta points at, as backend indices.
  std::vector<uint16_t> live_ring(const sl_vip_meta& meta) const {
    const sl_ring& r = *rings.at(meta.ring_id);
    return std::vector<uint16_t>(r.slots, r.slots + r.len);
  }

  static std::string key_str(const sl_vip_key& k) {
    return std::string(reinterpret_cast<const char*>(&k), sizeof(k));
  }

  std::vector<std::string> log;
  sl_global global{};
  std::map<std::string, VipEntry> vips;
  std::map<uint32_t, sl_backend> backends;
  std::map<uint32_t, std::shared_ptr<sl_ring>> rings;
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
