// SPDX-License-Identifier: Apache-2.0
// A running controller in miniature for API tests: a config file in a temp
// directory, the fake dataplane behind a ServiceTable, a ConfigStore that
// applies to it, and the ApiHandler in front.
#pragma once

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>

#include "control/api/api.h"
#include "control/config/config_edit.h"
#include "tests/control/fake_dataplane.h"

namespace sluice {

// Fails every write after the first `budget` (negative: never), to break an
// apply in the middle.
class FlakyDataplane final : public Dataplane {
 public:
  explicit FlakyDataplane(FakeDataplane& inner) : in_(inner) {}
  DataplaneInfo describe() const override { return in_.describe(); }
  Result<void> detach() override { return in_.detach(); }
  uint32_t conn_table_size() const override { return in_.conn_table_size(); }
  Result<uint64_t> conn_count() const override { return in_.conn_count(); }
  Result<void> global_set(const sl_global& g) override { return spend() ? in_.global_set(g) : err(); }
  Result<void> vip_put(const sl_vip_key& k, const sl_vip_meta& m) override {
    return spend() ? in_.vip_put(k, m) : err();
  }
  Result<void> vip_del(const sl_vip_key& k) override { return spend() ? in_.vip_del(k) : err(); }
  Result<void> backend_put(uint32_t i, const sl_backend& b) override {
    return spend() ? in_.backend_put(i, b) : err();
  }
  Result<void> ring_put(uint32_t id, const sl_ring& r) override {
    return spend() ? in_.ring_put(id, r) : err();
  }
  Result<std::optional<sl_vip_meta>> vip_get(const sl_vip_key& k) override { return in_.vip_get(k); }
  Result<std::vector<std::pair<sl_vip_key, sl_vip_meta>>> vip_list() override {
    return in_.vip_list();
  }
  Result<sl_backend> backend_get(uint32_t i) override { return in_.backend_get(i); }
  Result<sl_counters> vip_counters(uint32_t id) override { return in_.vip_counters(id); }
  Result<sl_counters> backend_counters(uint32_t i) override { return in_.backend_counters(i); }
  Result<std::array<sl_counters, SL_R_MAX>> reason_counters() override {
    return in_.reason_counters();
  }
  Result<void> counters_reset(CounterKind k, uint32_t id) override { return in_.counters_reset(k, id); }
  std::vector<uint64_t> worker_packets() const override { return in_.worker_packets(); }
  Result<void> acl_put(const AclEntry& e) override { return spend() ? in_.acl_put(e) : err(); }
  Result<void> acl_del(const AclEntry& e) override { return spend() ? in_.acl_del(e) : err(); }
  Result<std::vector<AclEntry>> acl_list() override { return in_.acl_list(); }
  Result<std::vector<uint64_t>> acl_hits() override { return in_.acl_hits(); }
  Result<void> acl_hits_reset(uint32_t id) override { return in_.acl_hits_reset(id); }
  Result<std::vector<ConnEntry>> conns(size_t limit) override {
    if (!conn_entries.empty()) return conn_entries;
    return in_.conns(limit);
  }
  // Pages over conn_entries, `page` at most per call whatever `max` asks;
  // counts what it hands out.
  Result<std::vector<ConnEntry>> conns_page(ConnCursor& cursor, size_t max) override {
    std::vector<ConnEntry> out;
    size_t at = cursor.started ? static_cast<size_t>(cursor.pos[0]) : 0;
    for (; at < conn_entries.size() && out.size() < std::min(max, page); ++at)
      out.push_back(conn_entries[at]);
    cursor.started = true;
    cursor.pos[0] = static_cast<uint8_t>(at);
    cursor.done = at == conn_entries.size();
    conns_read += out.size();
    return out;
  }

  size_t page = 2;
  size_t conns_read = 0;
  int budget = -1;
  std::vector<ConnEntry> conn_entries;

 private:
  bool spend() { return budget < 0 || budget-- > 0; }
  static Error err() { return make_error("bpf_map_update_elem", 28 /* ENOSPC */, "fake"); }
  FakeDataplane& in_;
};

inline const char* kApiConfig = R"(interface: veth-api
api_socket: /tmp/unused.sock
vips:
  - address: 198.18.0.100
    port: 80
    protocol: tcp
    mode: dsr
    backends:
      - { address: 198.18.0.11, weight: 1 }
      - { address: 198.18.0.12, weight: 2 }
      - { address: 198.18.0.13, backup: true }
  - address: 2001:2::100
    port: 53
    protocol: udp
    mode: ipip
    backends:
      - { address: 2001:2::11 }
)";

class ApiFixture : public ::testing::Test {
 public:
  void SetUp() override {
    char tmpl[] = "/tmp/sluice-api-test-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir = tmpl;
    path = dir + "/sluice.yaml";
    std::ofstream(path) << kApiConfig;
    auto cfg = config_load(path);
    ASSERT_TRUE(cfg.ok()) << cfg.error().message();
    ASSERT_TRUE(table.apply(dataplane_vips(*cfg), {}).ok());
    store.emplace(*cfg, path, [this](const Config& c) { return table.apply(dataplane_vips(c), {}); },
                  counters);
    handler.emplace(table, flaky, *store, DaemonInfo{"veth-api"},
                    [this]() -> Result<void> {
                      ++detached;
                      return {};
                    });
  }
  void TearDown() override { std::filesystem::remove_all(dir); }

  nlohmann::json call(const std::string& req) { return nlohmann::json::parse(handler->handle(req)); }
  std::string file_text() const {
    std::ifstream in(path);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }
  // The dataplane as packets see it: VIP metas (ring ids aside), the live
  // rings' slots and the backend table.
  std::string dataplane_view(bool with_gen = true) const {
    std::string out;
    for (const auto& [key, e] : dp.vips) {
      sl_vip_meta m = e.meta;
      m.ring_id = 0;
      out += key + std::string(reinterpret_cast<const char*>(&m), sizeof(m));
      for (uint16_t s : dp.live_ring(e.meta)) out += std::to_string(s) + ",";
    }
    for (auto [i, be] : dp.backends) {
      if (!with_gen) be.gen = 0;
      out += std::to_string(i) + std::string(reinterpret_cast<const char*>(&be), sizeof(be));
    }
    return out;
  }
  size_t entries_in_dir() const {
    size_t n = 0;
    for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator(dir)) ++n;
    return n;
  }

  std::string dir, path;
  FakeDataplane dp;
  FlakyDataplane flaky{dp};
  FakeMacResolver resolver;
  ServiceTable table{flaky, resolver};
  ControlCounters counters;
  std::optional<ConfigStore> store;
  std::optional<ApiHandler> handler;
  int detached = 0;
};

}  // namespace sluice
