// SPDX-License-Identifier: Apache-2.0
// Metrics: the exposition text (content, escaping, every line well formed),
// the snapshot handed between threads, the count cache, and the HTTP
// endpoint with a real GET on 127.0.0.1.
#include "control/metrics/metrics.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <chrono>
#include <regex>
#include <set>
#include <sstream>

#include "core/host/fd.h"
#include "control/metrics/metrics_server.h"
#include "tests/control/fake_dataplane.h"
#include "tests/control/fake_vrrp_report.h"

namespace sluice {
namespace {

using namespace std::chrono_literals;

MetricsSnapshot one_vip() {
  MetricsSnapshot s;
  s.vips.push_back(MetricsVip{"198.18.0.100:80/tcp",
                              3,
                              {MetricsBackend{"198.18.0.11", 0, 1, true, 0},
                               MetricsBackend{"198.18.0.12", 1, 2, false, 3}}});
  return s;
}

MetricsCounters counters_for_one_vip() {
  MetricsCounters c;
  c.vips = {sl_counters{10, 1500, 2, 0}};
  c.backends = {{sl_counters{4, 600, 1, 0}, sl_counters{6, 900, 1, 0}}};
  c.reasons[SL_R_TX_HIT].packets = 5;
  c.reasons[SL_R_TX_NEW].packets = 2;
  c.reasons[SL_R_DROP_NO_BACKEND].packets = 1;
  c.reasons[SL_R_PASS_NOT_IP].packets = 3;
  c.conn_entries = 42;
  c.conn_table_size = 1048576;
  c.control = ControlCountValues{7, 1, 9, 4};
  return c;
}

const BuildInfo kBuild{"0.1.0", "v0.1-3-gabc", "xdp"};

bool has_line(const std::string& text, const std::string& line) {
  std::istringstream in(text);
  for (std::string l; std::getline(in, l);)
    if (l == line) return true;
  return false;
}

TEST(MetricsRender, CountersPerVipAndBackend) {
  std::string t = metrics_render(one_vip(), counters_for_one_vip(), kBuild);
  const char* vip = "{vip=\"198.18.0.100:80/tcp\"}";
  EXPECT_TRUE(has_line(t, std::string("sluice_vip_packets_total") + vip + " 10")) << t;
  EXPECT_TRUE(has_line(t, std::string("sluice_vip_bytes_total") + vip + " 1500"));
  EXPECT_TRUE(has_line(t, std::string("sluice_vip_new_connections_total") + vip + " 2"));
  const std::string be1 = "{vip=\"198.18.0.100:80/tcp\",backend=\"198.18.0.11\"}";
  const std::string be2 = "{vip=\"198.18.0.100:80/tcp\",backend=\"198.18.0.12\"}";
  EXPECT_TRUE(has_line(t, "sluice_backend_packets_total" + be1 + " 4"));
  EXPECT_TRUE(has_line(t, "sluice_backend_bytes_total" + be2 + " 900"));
  EXPECT_TRUE(has_line(t, "sluice_backend_new_connections_total" + be2 + " 1"));
  EXPECT_TRUE(has_line(t, "sluice_backend_up" + be1 + " 1"));
  EXPECT_TRUE(has_line(t, "sluice_backend_up" + be2 + " 0"));
  EXPECT_TRUE(has_line(t, "sluice_backend_weight" + be2 + " 2"));
  EXPECT_TRUE(has_line(t, "sluice_backend_health_transitions_total" + be2 + " 3"));
  EXPECT_TRUE(has_line(t, "# TYPE sluice_vip_packets_total counter"));
  EXPECT_TRUE(has_line(t, "# TYPE sluice_backend_up gauge"));
}

TEST(MetricsRender, ActionsDerivedFromReasons) {
  std::string t = metrics_render(one_vip(), counters_for_one_vip(), kBuild);
  EXPECT_TRUE(has_line(t, "sluice_dataplane_actions_total{action=\"tx\"} 7")) << t;
  EXPECT_TRUE(has_line(t, "sluice_dataplane_actions_total{action=\"drop\"} 1"));
  EXPECT_TRUE(has_line(t, "sluice_dataplane_actions_total{action=\"pass\"} 3"));
  EXPECT_TRUE(has_line(t, "sluice_dataplane_actions_total{action=\"redirect\"} 0"));
  EXPECT_TRUE(has_line(t, "sluice_reason_packets_total{reason=\"tx_hit\"} 5"));
  EXPECT_TRUE(has_line(t, "sluice_reason_packets_total{reason=\"drop_backend_down\"} 0"));
  EXPECT_EQ(t.find("reason=\"none\""), std::string::npos) << "internal reason exported";
}

TEST(MetricsRender, TableControlAndBuild) {
  std::string t = metrics_render(one_vip(), counters_for_one_vip(), kBuild);
  EXPECT_TRUE(has_line(t, "sluice_conn_table_entries 42")) << t;
  EXPECT_TRUE(has_line(t, "sluice_conn_table_size 1048576"));
  EXPECT_TRUE(has_line(t, "sluice_config_reloads_total 7"));
  EXPECT_TRUE(has_line(t, "sluice_config_reload_failures_total 1"));
  EXPECT_TRUE(has_line(t, "sluice_api_changes_total 9"));
  EXPECT_TRUE(has_line(t, "sluice_health_transitions_total 4"));
  EXPECT_TRUE(
      has_line(t, "sluice_build_info{version=\"0.1.0\",git=\"v0.1-3-gabc\",dataplane=\"xdp\"} 1"));
}

TEST(MetricsRender, UncountedTableLeavesOutTheSampleOnly) {
  MetricsCounters c = counters_for_one_vip();
  c.conn_entries.reset();
  std::string t = metrics_render(one_vip(), c, kBuild);
  EXPECT_TRUE(has_line(t, "# TYPE sluice_conn_table_entries gauge"));
  EXPECT_EQ(t.find("\nsluice_conn_table_entries "), std::string::npos);
}

TEST(MetricsRender, EscapesLabelValues) {
  EXPECT_EQ(metrics_escape_label("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
  EXPECT_EQ(metrics_escape_label("[2001:2::100]:80/tcp"), "[2001:2::100]:80/tcp");
  MetricsSnapshot s = one_vip();
  s.vips[0].name = "odd\"name\\\n";
  std::string t = metrics_render(s, counters_for_one_vip(), kBuild);
  EXPECT_TRUE(has_line(t, "sluice_vip_packets_total{vip=\"odd\\\"name\\\\\\n\"} 10")) << t;
}

// Every line is a HELP/TYPE comment or `name{labels} value`, every sample
// follows its family's TYPE, and no family is declared twice.
void expect_well_formed(const std::string& text) {
  const std::regex help(R"(# HELP ([a-zA-Z_:][a-zA-Z0-9_:]*) .+)");
  const std::regex type(R"(# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (counter|gauge|histogram))");
  const std::string lv = R"("(?:[^"\\\n]|\\[\\"n])*")";
  const std::string pair = "[a-zA-Z_][a-zA-Z0-9_]*=" + lv;
  const std::regex sample("([a-zA-Z_:][a-zA-Z0-9_:]*)(\\{" + pair + "(," + pair +
                          ")*\\})? [0-9]+(\\.[0-9]+)?");
  std::set<std::string> typed;
  std::string current;
  bool histogram = false;
  std::istringstream in(text);
  int samples = 0;
  for (std::string l; std::getline(in, l);) {
    std::smatch m;
    if (std::regex_match(l, m, help)) continue;
    if (std::regex_match(l, m, type)) {
      EXPECT_TRUE(typed.insert(m[1]).second) << "family declared twice: " << l;
      current = m[1];
      histogram = m[2] == "histogram";
      continue;
    }
    ASSERT_TRUE(std::regex_match(l, m, sample)) << "malformed line: " << l;
    std::string name = m[1];
    if (histogram)
      for (const char* suffix : {"_bucket", "_sum", "_count"})
        if (name == current + suffix) name = current;
    EXPECT_EQ(name, current) << "sample outside its family: " << l;
    ++samples;
  }
  EXPECT_GT(samples, 20);
  EXPECT_EQ(text.back(), '\n');
}

TEST(MetricsRender, EveryLineParses) {
  MetricsSnapshot s = one_vip();
  s.vips.push_back(MetricsVip{"[2001:2::100]:80/tcp", 4, {MetricsBackend{"2001:2::31", 5, 1, true}}});
  s.vips.push_back(MetricsVip{"q\"uo\\te\n", 5, {}});
  MetricsCounters c = counters_for_one_vip();  // fewer counters than VIPs: read as zero
  expect_well_formed(metrics_render(s, c, kBuild));
  expect_well_formed(metrics_render(MetricsSnapshot{}, MetricsCounters{}, kBuild));
}

TEST(MetricsRender, VrrpAndSyncFamilies) {
  MetricsCounters c;
  c.vrrp = fake_vrrp_report();
  std::string t = metrics_render(MetricsSnapshot{}, c, kBuild);
  for (const char* want : {
           "sluice_vrrp_state{state=\"init\"} 0",
           "sluice_vrrp_state{state=\"backup\"} 1",
           "sluice_vrrp_state{state=\"master\"} 0",
           "sluice_vrrp_priority{kind=\"configured\"} 100",
           "sluice_vrrp_priority{kind=\"effective\"} 90",
           "sluice_vrrp_adverts_total{dir=\"sent\"} 7",
           "sluice_vrrp_adverts_total{dir=\"received\"} 1234",
           "sluice_vrrp_advert_drops_total{reason=\"bad_ttl\"} 2",
           "sluice_vrrp_advert_drops_total{reason=\"bad_checksum\"} 5",
           "sluice_vrrp_advert_drops_total{reason=\"bad_vrid\"} 0",
           "sluice_vrrp_adverts_late_total 1",
           "sluice_vrrp_advert_jitter_max_seconds 0.001250",
           "sluice_vrrp_transitions_total 3",
           "sluice_sync_records_total{outcome=\"sent\"} 0",
           "sluice_sync_records_total{outcome=\"applied\"} 4000",
           "sluice_sync_records_total{outcome=\"no_backend\"} 3",
           "sluice_sync_records_total{outcome=\"lost\"} 0",
           "sluice_sync_drops_total{reason=\"bad_hmac\"} 6",
           "sluice_sync_drops_total{reason=\"wrong_source\"} 0",
           "sluice_sync_lag_seconds 0.000750",
       })
    EXPECT_TRUE(has_line(t, want)) << "missing: " << want;
  expect_well_formed(t);
}

TEST(MetricsRender, NoVrrpBlockNoVrrpFamilies) {
  std::string t = metrics_render(one_vip(), counters_for_one_vip(), kBuild);
  EXPECT_EQ(t.find("sluice_vrrp_"), std::string::npos);
  EXPECT_EQ(t.find("sluice_sync_"), std::string::npos);
  MetricsCounters c = counters_for_one_vip();
  c.vrrp = fake_vrrp_report();
  c.vrrp->sync = vrrp::SyncReport{};  // VRRP without sync
  t = metrics_render(one_vip(), c, kBuild);
  EXPECT_NE(t.find("sluice_vrrp_state"), std::string::npos);
  EXPECT_EQ(t.find("sluice_sync_"), std::string::npos);
}

TEST(MetricsRender, LoopHistogramAndClientSurfaces) {
  LoopStats loop;
  loop.record(std::chrono::microseconds(300));
  loop.record(std::chrono::microseconds(1500000));
  MetricsCounters c;
  c.loop = loop_values(loop);
  ClientStats api;
  api.accepted = 7;
  api.evicted = 2;
  api.active = 1;
  c.surfaces.push_back(surface_values("api", api));
  std::string t = metrics_render(MetricsSnapshot{}, c, kBuild);
  expect_well_formed(t);
  EXPECT_TRUE(has_line(t, "sluice_loop_turn_seconds_bucket{le=\"0.000100\"} 0")) << t;
  EXPECT_TRUE(has_line(t, "sluice_loop_turn_seconds_bucket{le=\"0.000500\"} 1"));
  EXPECT_TRUE(has_line(t, "sluice_loop_turn_seconds_bucket{le=\"1.000000\"} 1"));
  EXPECT_TRUE(has_line(t, "sluice_loop_turn_seconds_bucket{le=\"2.000000\"} 2"));
  EXPECT_TRUE(has_line(t, "sluice_loop_turn_seconds_bucket{le=\"+Inf\"} 2"));
  EXPECT_TRUE(has_line(t, "sluice_loop_turn_seconds_sum 1.500300"));
  EXPECT_TRUE(has_line(t, "sluice_loop_turn_seconds_count 2"));
  EXPECT_TRUE(has_line(t, "sluice_loop_longest_turn_seconds 1.500000"));
  EXPECT_TRUE(has_line(t, "sluice_client_connections_total{surface=\"api\",outcome=\"evicted\"} 2"));
  EXPECT_TRUE(has_line(t, "sluice_client_connections_open{surface=\"api\"} 1"));
  EXPECT_EQ(loop.quantile_us(0.5), 500u);
  EXPECT_EQ(loop.quantile_us(0.99), 2000000u);
}

TEST(MetricsCollect, ReadsEverySlotOfTheSnapshot) {
  FakeDataplane dp;
  ControlCounters cc;
  cc.api_changes = 3;
  MetricsCounters c = metrics_collect(one_vip(), dp, cc);
  ASSERT_EQ(c.vips.size(), 1u);
  EXPECT_EQ(c.vips[0].packets, 103u);  // the fake's 100 + vip_id
  ASSERT_EQ(c.backends.size(), 1u);
  ASSERT_EQ(c.backends[0].size(), 2u);
  EXPECT_EQ(c.backends[0][1].bytes, 64u);  // the fake's 64 * index
  EXPECT_EQ(c.reasons[SL_R_TX_NEW].packets, uint64_t(SL_R_TX_NEW));
  EXPECT_EQ(c.control.api_changes, 3u);
}

TEST(MetricsRegistry, HandsOverTheLatestSnapshot) {
  MetricsRegistry reg;
  EXPECT_TRUE(reg.current()->vips.empty());
  auto held = reg.current();
  reg.publish(one_vip());
  EXPECT_TRUE(held->vips.empty()) << "a reader's snapshot must not change under it";
  ASSERT_EQ(reg.current()->vips.size(), 1u);
  EXPECT_EQ(reg.current()->vips[0].backends[1].address, "198.18.0.12");
}

TEST(ConnCountCache, CountsAtMostOncePerInterval) {
  int calls = 0;
  ConnCountCache cache([&]() -> Result<uint64_t> { return uint64_t(++calls * 10); }, 5000ms);
  auto t0 = std::chrono::steady_clock::now();
  EXPECT_EQ(cache.get(t0), 10u);
  EXPECT_EQ(cache.get(t0 + 4s), 10u);
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(cache.get(t0 + 6s), 20u);
  ConnCountCache failing([]() -> Result<uint64_t> { return make_error("count", EIO); }, 1s);
  EXPECT_FALSE(failing.get(t0).has_value());
}

}  // namespace
}  // namespace sluice
