// SPDX-License-Identifier: Apache-2.0
// API changes against the fake dataplane with a real config file: a change
// reaches the dataplane, the running config and the file; a refused or
// failed one leaves all three byte-identical.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include "control/config/config_writer.h"
#include "tests/control/api_fixture.h"

namespace sluice {
namespace {

using nlohmann::json;

class ApiChange : public ApiFixture {
 public:
  // Everything a change may touch, as bytes.
  struct State {
    std::string dataplane, running, file;
    bool operator==(const State&) const = default;
  };
  State state() const { return {dataplane_view(), config_emit(store->running()), file_text()}; }
  const BackendConfig* backend(const char* svc, const char* addr) const {
    const VipConfig* v = find_vip(store->running(), *service_parse(svc));
    if (!v) return nullptr;
    for (const auto& be : v->backends)
      if (be.address == *IpAddr::parse(addr)) return &be;
    return nullptr;
  }
  std::vector<uint16_t> ring_of(const VipState& v) const {
    for (const auto& [_, e] : dp.vips)
      if (e.meta.vip_id == v.vip_id) return dp.live_ring(e.meta);
    return {};
  }
  void expect_ok(const std::string& req) {
    json r = call(req);
    EXPECT_EQ(r["ok"], true) << req << " -> " << r.dump();
  }
};

constexpr const char* kWeb = "198.18.0.100:80/tcp";

TEST_F(ApiChange, EachChangeReachesDataplaneMemoryAndFile) {
  struct Case {
    std::string req;
    std::function<void(ApiChange&)> check;
  };
  const std::string web = R"("service":"198.18.0.100:80/tcp")";
  std::vector<Case> cases = {
      {R"({"cmd":"vip_add","service":"198.18.0.200:443/tcp","mode":"ipip"})",
       [](ApiChange& t) {
         EXPECT_EQ(t.dp.vips.size(), 3u);
         EXPECT_NE(t.file_text().find("198.18.0.200"), std::string::npos);
         EXPECT_EQ(find_vip(t.store->running(), *service_parse("198.18.0.200:443/tcp"))->mode,
                   SL_MODE_IPIP);
       }},
      {R"({"cmd":"vip_del","service":"[2001:2::100]:53/udp"})",
       [](ApiChange& t) {
         EXPECT_EQ(t.dp.vips.size(), 1u);
         EXPECT_EQ(t.file_text().find("2001:2::100"), std::string::npos);
       }},
      {R"({"cmd":"backend_add",)" + web + R"(,"address":"198.18.0.14","weight":3})",
       [](ApiChange& t) {
         ASSERT_NE(t.backend(kWeb, "198.18.0.14"), nullptr);
         EXPECT_EQ(t.backend(kWeb, "198.18.0.14")->weight, 3u);
         EXPECT_EQ(t.ring_of(t.table.vips()[0]).size(), 6u);  // 1 + 2 + 3
         EXPECT_NE(t.file_text().find("198.18.0.14, weight: 3"), std::string::npos);
       }},
      {R"({"cmd":"backend_del",)" + web + R"(,"address":"198.18.0.12"})",
       [](ApiChange& t) {
         EXPECT_EQ(t.backend(kWeb, "198.18.0.12"), nullptr);
         EXPECT_EQ(t.ring_of(t.table.vips()[0]).size(), 1u);
         EXPECT_EQ(t.file_text().find("198.18.0.12"), std::string::npos);
       }},
      {R"({"cmd":"backend_set",)" + web + R"(,"address":"198.18.0.11","weight":5})",
       [](ApiChange& t) {
         EXPECT_EQ(t.backend(kWeb, "198.18.0.11")->weight, 5u);
         EXPECT_EQ(t.ring_of(t.table.vips()[0]).size(), 7u);
         EXPECT_NE(t.file_text().find("198.18.0.11, weight: 5"), std::string::npos);
       }},
  };
  for (auto& c : cases) {
    TearDown();
    SetUp();
    expect_ok(c.req);
    c.check(*this);
    // What the file says is what runs.
    auto reread = config_load(path);
    ASSERT_TRUE(reread.ok()) << reread.error().message();
    EXPECT_EQ(config_emit(*reread), config_emit(store->running())) << c.req;
    EXPECT_EQ(entries_in_dir(), 1u) << "a temp file was left behind after " << c.req;
  }
  EXPECT_EQ(counters.api_changes, cases.size());  // the fixture's counters outlive SetUp
}

TEST_F(ApiChange, RefusedChangesLeaveEverythingByteIdentical) {
  const std::pair<const char*, const char*> cases[] = {
      {R"({"cmd":"vip_add","service":"198.18.0.100:80/tcp"})",
       "198.18.0.100:80/tcp: VIP already exists"},
      {R"({"cmd":"vip_del","service":"198.18.0.101:80/tcp"})",
       "unknown service 198.18.0.101:80/tcp"},
      {R"({"cmd":"backend_add","service":"198.18.0.100:80/tcp","address":"198.18.0.11"})",
       "198.18.0.11: already a backend of 198.18.0.100:80/tcp"},
      {R"({"cmd":"backend_add","service":"198.18.0.100:80/tcp","address":"2001:2::11"})",
       "config: vips[0].backends[3].address: dsr needs the backend in the VIP's family (IPv4), "
       "got 2001:2::11"},
      {R"({"cmd":"backend_del","service":"198.18.0.100:80/tcp","address":"198.18.0.99"})",
       "unknown backend 198.18.0.99 of 198.18.0.100:80/tcp"},
      {R"({"cmd":"backend_set","service":"198.18.0.100:81/tcp","address":"198.18.0.11",
           "weight":1})", "unknown service 198.18.0.100:81/tcp"},
      {R"({"cmd":"backend_drain","service":"198.18.0.100:80/udp","address":"198.18.0.11"})",
       "unknown service 198.18.0.100:80/udp"},
      {R"({"cmd":"backend_undrain","service":"198.18.0.100:80/tcp","address":"198.18.0.1"})",
       "unknown backend 198.18.0.1 of 198.18.0.100:80/tcp"},
      {R"({"cmd":"backend_set","service":"198.18.0.100:80/tcp","address":"198.18.0.11",
           "weight":1001})", "bad request: weight: must be 0..1000, got 1001"},
      {R"({"cmd":"vip_add","service":"198.18.0.100:80/tcp","bogus":true})",
       "bad request: bogus: unknown field for vip_add"},
  };
  State before = state();
  size_t writes = dp.log.size();
  for (const auto& [req, error] : cases) {
    json r = call(req);
    EXPECT_EQ(r["ok"], false) << req;
    EXPECT_EQ(r["error"], error) << req;
    EXPECT_TRUE(state() == before) << req;
    EXPECT_EQ(dp.log.size(), writes) << req << ": touched the dataplane";
    EXPECT_EQ(entries_in_dir(), 1u) << req;
  }
  EXPECT_EQ(counters.api_changes, 0u);
  EXPECT_EQ(counters.api_change_failures, 8u);  // the two bad requests never reach the store
}

TEST_F(ApiChange, ApplyFailingMidwayRestoresThePreviousConfig) {
  State before = state();
  for (int budget : {0, 1, 2, 3}) {
    flaky.budget = budget;
    json r = call(R"({"cmd":"backend_add","service":"198.18.0.100:80/tcp",)"
                  R"("address":"198.18.0.14","weight":4})");
    flaky.budget = -1;
    EXPECT_EQ(r["ok"], false) << budget;
    EXPECT_NE(r["error"].get<std::string>().find("No space left on device"), std::string::npos);
    EXPECT_TRUE(state() == before) << "budget " << budget;
    EXPECT_EQ(entries_in_dir(), 1u) << "budget " << budget;
  }
  expect_ok(R"({"cmd":"backend_add","service":"198.18.0.100:80/tcp","address":"198.18.0.14"})");
}

TEST_F(ApiChange, AFileThatBecameADirectoryIsRefusedBeforeTheApply) {
  State before = state();
  // A directory where the file was: refused before anything is applied
  // (config_file_test.cc has a rename that fails after the apply).
  std::filesystem::remove(path);
  std::filesystem::create_directories(path + "/x");
  json r = call(R"({"cmd":"backend_del","service":"198.18.0.100:80/tcp","address":"198.18.0.12"})");
  EXPECT_EQ(r["ok"], false);
  EXPECT_EQ(r["error"], "config: " + path + ": not a regular file (a directory); change refused");
  EXPECT_EQ(dataplane_view(), before.dataplane);  // untouched, generations too
  EXPECT_EQ(config_emit(store->running()), before.running);
  EXPECT_EQ(entries_in_dir(), 1u);
}

TEST_F(ApiChange, PersistingKeepsTheFileModeAndLeavesNoTemp) {
  ASSERT_EQ(chmod(path.c_str(), 0640), 0);
  expect_ok(R"({"cmd":"backend_set","service":"198.18.0.100:80/tcp","address":"198.18.0.12",)"
            R"("weight":7})");
  struct stat st{};
  ASSERT_EQ(stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0640u);
  EXPECT_EQ(entries_in_dir(), 1u);
}

TEST_F(ApiChange, DrainKeepsTheWeightAndUndrainRestoresIt) {
  const std::string be = R"("service":"198.18.0.100:80/tcp","address":"198.18.0.12")";
  expect_ok(R"({"cmd":"backend_drain",)" + be + "}");
  EXPECT_EQ(ring_of(table.vips()[0]).size(), 1u);  // only .11 (weight 1)
  EXPECT_EQ(backend(kWeb, "198.18.0.12")->weight, 2u);
  EXPECT_TRUE(backend(kWeb, "198.18.0.12")->drained);
  EXPECT_NE(file_text().find("{address: 198.18.0.12, weight: 2, drained: true}"),
            std::string::npos) << file_text();
  json list = call(R"({"cmd":"backend_list"})");
  EXPECT_EQ(list["backends"][1]["state"], "drained");
  EXPECT_EQ(list["backends"][1]["weight"], 2);
  // A weight set while drained is what undrain brings back.
  expect_ok(R"({"cmd":"backend_set",)" + be + R"(,"weight":4})");
  EXPECT_EQ(ring_of(table.vips()[0]).size(), 1u);
  expect_ok(R"({"cmd":"backend_drain",)" + be + "}");  // again: nothing more to do
  expect_ok(R"({"cmd":"backend_undrain",)" + be + "}");
  EXPECT_EQ(ring_of(table.vips()[0]).size(), 5u);
  EXPECT_FALSE(backend(kWeb, "198.18.0.12")->drained);
  EXPECT_NE(file_text().find("{address: 198.18.0.12, weight: 4}"), std::string::npos);
}

TEST_F(ApiChange, ADrainedBackendStaysDrainedAcrossAReload) {
  expect_ok(R"({"cmd":"backend_drain","service":"198.18.0.100:80/tcp","address":"198.18.0.11"})");
  expect_ok(R"({"cmd":"reload"})");
  std::vector<uint16_t> ring = ring_of(table.vips()[0]);
  ASSERT_FALSE(ring.empty());
  for (uint16_t slot : ring) EXPECT_EQ(slot, table.vips()[0].backends[1].index);  // .12 alone
  EXPECT_EQ(counters.config_reloads, 1u);
}

TEST_F(ApiChange, ReloadAppliesTheFile) {
  std::string text = file_text();
  text.replace(text.find("weight: 2"), 9, "weight: 9");
  std::ofstream(path) << text;
  expect_ok(R"({"cmd":"reload"})");
  EXPECT_EQ(backend(kWeb, "198.18.0.12")->weight, 9u);
  EXPECT_EQ(ring_of(table.vips()[0]).size(), 10u);
}

TEST_F(ApiChange, ReloadOfAnInvalidFileKeepsTheRunningState) {
  State before = state();
  const std::pair<std::string, std::string> cases[] = {
      {"interface: veth-api\nvips: [{address: 198.18.0.100, port: 0}]\n",
       "config: vips[0].port: must be 1..65535, got 0"},
      {"interface: [\n", "config: line 2: end of sequence flow not found"},
      {std::string(kApiConfig).replace(11, 3, "xyz"),
       "config: interface: changed in the file; it takes a restart of sluiced"},
  };
  for (const auto& [text, error] : cases) {
    std::ofstream(path, std::ios::trunc) << text;
    json r = call(R"({"cmd":"reload"})");
    EXPECT_EQ(r["ok"], false);
    EXPECT_EQ(r["error"], error);
    EXPECT_EQ(dataplane_view(), before.dataplane);
    EXPECT_EQ(config_emit(store->running()), before.running);
  }
  std::filesystem::remove(path);
  EXPECT_EQ(call(R"({"cmd":"reload"})")["ok"], false);
  EXPECT_EQ(counters.config_reload_failures, 4u);
  EXPECT_EQ(counters.config_reloads, 0u);
}

TEST_F(ApiChange, DetachCallsTheDaemon) {
  json r = call(R"({"cmd":"detach"})");
  EXPECT_EQ(r["ok"], true);
  EXPECT_EQ(r["detached"], "veth-api");
  EXPECT_EQ(detached, 1);
}

ConnEntry conn(const char* client, uint16_t sport, const char* vip, uint16_t dport,
               uint32_t backend, uint64_t created_ns) {
  ConnEntry e{};
  IpAddr c = *IpAddr::parse(client), v = *IpAddr::parse(vip);
  c.to_abi(e.key.src);
  v.to_abi(e.key.dst);
  e.key.sport = htons(sport);
  e.key.dport = htons(dport);
  e.key.proto = IPPROTO_TCP;
  e.key.family = c.family;
  e.conn.backend = backend;
  e.conn.created_ns = created_ns;
  return e;
}

TEST_F(ApiChange, ConnsShowClientServiceBackendAndAge) {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  uint64_t now = static_cast<uint64_t>(ts.tv_sec) * 1000000000ull + ts.tv_nsec;
  uint32_t be11 = table.vips()[0].backends[0].index;
  flaky.conn_entries = {conn("198.18.1.1", 40000, "198.18.0.100", 80, be11, now - 5000000000ull),
                        conn("198.18.1.2", 40001, "198.18.0.100", 80, be11, now),
                        conn("198.18.1.3", 40002, "198.18.0.101", 80, 4000, now)};
  json r = call(R"({"cmd":"conns","vip":"198.18.0.100:80/tcp","limit":1})");
  ASSERT_EQ(r["ok"], true) << r.dump();
  ASSERT_EQ(r["conns"].size(), 1u);
  EXPECT_EQ(r["conns"][0]["client"], "198.18.1.1:40000");
  EXPECT_EQ(r["conns"][0]["service"], "198.18.0.100:80/tcp");
  EXPECT_EQ(r["conns"][0]["backend"], "198.18.0.11");
  EXPECT_GE(r["conns"][0]["age_s"].get<double>(), 5.0);
  EXPECT_EQ(r["matched"], 1);
  EXPECT_EQ(r["truncated"], true);
  EXPECT_FALSE(r.contains("entries"));  // not read to the end
  EXPECT_EQ(r["table_size"], dp.table_size);
  json all = call(R"({"cmd":"conns"})");
  EXPECT_EQ(all["conns"].size(), 3u);
  EXPECT_EQ(all["conns"][2]["backend"], "slot 4000 (gone)");
  EXPECT_EQ(all["truncated"], false);
  EXPECT_EQ(all["entries"], 3);
}

// `conns` reads at most --limit entries of the table, however big it is.
TEST_F(ApiChange, ConnsReadsNoMoreThanTheLimit) {
  uint32_t be11 = table.vips()[0].backends[0].index;
  for (uint16_t i = 0; i < 40; ++i)
    flaky.conn_entries.push_back(conn("198.18.1.1", 40000 + i, "198.18.0.100", 80, be11, 0));
  json r = call(R"({"cmd":"conns","limit":5})");
  ASSERT_EQ(r["ok"], true) << r.dump();
  EXPECT_EQ(r["conns"].size(), 5u);
  EXPECT_EQ(r["scanned"], 5);
  EXPECT_EQ(r["truncated"], true);
  EXPECT_EQ(flaky.conns_read, 5u);
}

// A conn recorded for an earlier owner of a reused slot (older gen) is not
// shown as the new owner's.
TEST_F(ApiChange, ConnsSkipStaleGenerations) {
  uint32_t be11 = table.vips()[0].backends[0].index;
  ConnEntry old = conn("198.18.1.9", 40009, "198.18.0.100", 80, be11, 0);
  old.conn.gen = table.backend_gen(be11) + 1;
  flaky.conn_entries = {old, conn("198.18.1.1", 40000, "198.18.0.100", 80, be11, 0)};
  json r = call(R"({"cmd":"conns"})");
  ASSERT_EQ(r["ok"], true) << r.dump();
  ASSERT_EQ(r["conns"].size(), 1u);
  EXPECT_EQ(r["conns"][0]["client"], "198.18.1.1:40000");
  EXPECT_EQ(r["entries"], 2);  // read, but not listed
}

}  // namespace
}  // namespace sluice
