// SPDX-License-Identifier: Apache-2.0
#include "control/ctl/ctl_print.h"

#include <gtest/gtest.h>

#include <sstream>

#include "control/api/api.h"
#include "tests/control/fake_vrrp_report.h"

namespace sluice {
namespace {

using nlohmann::json;

TEST(PrintStatus, ShowsTheLoopsLongestTurnAndP99) {
  json r = json::parse(R"({"version":"0.1.0","pid":7,"interface":"eth0","vips":1,
      "unresolved_macs":0,"loop":{"turns":10,"longest_ms":12.5,"p99_ms":5.0}})");
  std::ostringstream out;
  print_status(r, out);
  // The first column is as wide as its longest name, syn_flood_protection.
  EXPECT_NE(out.str().find("loop_longest_ms       12.5"), std::string::npos) << out.str();
  EXPECT_NE(out.str().find("loop_p99_ms           5.0"), std::string::npos) << out.str();
}

TEST(PrintStatus, ShowsFloodProtectionAndTheNodesNewFlowLimit) {
  json r = json::parse(R"({"vips":1,"syn_flood_protection":true,"syn_table_size":65536,
      "new_flow_limit":{"new_flows_per_source":100,"burst":20}})");
  std::ostringstream out;
  print_status(r, out);
  EXPECT_NE(out.str().find("syn_flood_protection  yes\n"), std::string::npos) << out.str();
  EXPECT_NE(out.str().find("syn_table_size        65536\n"), std::string::npos) << out.str();
  EXPECT_NE(out.str().find("new_flow_limit        100/s burst 20\n"), std::string::npos)
      << out.str();
  r["new_flow_limit"] = nullptr;
  std::ostringstream off;
  print_status(r, off);
  EXPECT_NE(off.str().find("new_flow_limit        off\n"), std::string::npos) << off.str();
}

TEST(PrintVipList, ShowsFloodProtectionAndWhoseLimit) {
  json r = json::parse(R"({"vips":[
      {"service":"198.18.0.100:80/tcp","syn_flood_protection":false,
       "new_flow_limit":{"new_flows_per_source":5,"burst":1},"new_flow_limit_scope":"global"},
      {"service":"198.18.0.100:81/tcp","syn_flood_protection":true,"new_flow_limit":null,
       "new_flow_limit_scope":""}]})");
  std::ostringstream out;
  print_vip_list(r, out);
  std::string t = out.str();
  EXPECT_NE(t.find("SYN_FLOOD_PROTECTION  NEW_FLOW_LIMIT"), std::string::npos) << t;
  EXPECT_NE(t.find("no                    5/s burst 1 (global)\n"), std::string::npos) << t;
  EXPECT_NE(t.find("yes                   off\n"), std::string::npos) << t;
}

TEST(PrintVrrp, NotConfigured) {
  std::ostringstream out;
  print_vrrp(json::parse(R"({"ok":true,"configured":false})"), out);
  EXPECT_EQ(out.str(), "VRRP is not configured (no vrrp: block in the config)\n");
}

TEST(PrintVrrp, StatePrioritiesAdvertsAndSync) {
  json r = vrrp_report_json(fake_vrrp_report());
  std::ostringstream out;
  print_vrrp(r, out);
  std::string t = out.str();
  for (const char* want : {
           "state            BACKUP (passive)\n",
           "vrid             51 on eth0\n",
           "priority         100 configured, 90 effective (track penalty 10)\n",
           "master           198.18.0.2 (priority 200)\n",
           "advert_interval  100 ms (master's 100 ms, master down after 360 ms)\n",
           "adverts          sent 7, received 1234, late 1, max jitter 1.25 ms\n",
           "adverts_refused  bad_checksum 5, bad_ttl 2\n",
           "last_transition  higher_priority at 2026-11-28T03:00:00.250Z (",
           "transitions      3\n",
           "sync             198.18.0.2 port 7900, receiving, resynced, signed\n",
           "sync_records     sent 0, applied 4000, no_backend 3, lost 0\n",
           "sync_drops       bad_hmac 6\n",
           "sync_lag_ms      0.75\n",
       })
    EXPECT_NE(t.find(want), std::string::npos) << "missing: " << want << "\nin:\n" << t;
}

TEST(PrintVrrp, SyncOffAndNothingRefused) {
  vrrp::VrrpReport rep = fake_vrrp_report();
  rep.advert_drops = {};
  rep.sync = vrrp::SyncReport{};
  std::ostringstream out;
  print_vrrp(vrrp_report_json(rep), out);
  EXPECT_NE(out.str().find("adverts_refused  none\n"), std::string::npos) << out.str();
  EXPECT_NE(out.str().find("sync             off\n"), std::string::npos) << out.str();
  EXPECT_EQ(out.str().find("sync_records"), std::string::npos) << out.str();
}

TEST(StatsRates, PerSecondFromTwoSnapshots) {
  json before = json::parse(R"({"vips":[{"service":"s","packets":100,"bytes":1000,"new_conns":1}],
      "backends":[{"service":"s","address":"a","packets":50,"bytes":500,"new_conns":1}]})");
  json after = json::parse(R"({"vips":[{"service":"s","packets":300,"bytes":3000,"new_conns":5}],
      "backends":[{"service":"s","address":"a","packets":10,"bytes":100,"new_conns":2},
                  {"service":"s","address":"b","packets":8,"bytes":80,"new_conns":0}]})");
  json r = stats_rates(before, after, 2.0);
  EXPECT_EQ(r["vips"][0]["pps"], 100.0);
  EXPECT_EQ(r["vips"][0]["bps"], 8000.0);
  EXPECT_EQ(r["vips"][0]["new_cps"], 2.0);
  // Went backwards (a restart with fresh counters): counts from zero.
  EXPECT_EQ(r["backends"][0]["pps"], 5.0);
  // New since the first snapshot.
  EXPECT_EQ(r["backends"][1]["address"], "b");
  EXPECT_EQ(r["backends"][1]["pps"], 4.0);
  std::ostringstream out;
  print_rates(r, out);
  EXPECT_EQ(out.str(),
            "SERVICE  BACKEND  PPS  BPS    NEW/S\n"
            "s        *        100  8.00k  2\n"
            "s        a        5    400    0.5\n"
            "s        b        4    320    0\n");
}

TEST(Human, Units) {
  EXPECT_EQ(human(0), "0");
  EXPECT_EQ(human(999), "999");
  EXPECT_EQ(human(2.5), "2.5");
  EXPECT_EQ(human(1234), "1.23k");
  EXPECT_EQ(human(12345678), "12.35M");
  EXPECT_EQ(human(4e9), "4.00G");
}

TEST(PrintConns, NotesTruncation) {
  json r = json::parse(R"({"conns":[{"client":"198.18.1.1:40000","service":"198.18.0.100:80/tcp",
      "backend":"198.18.0.11","age_s":5.2}],"matched":1,"scanned":9,"table_size":1024,
      "complete":false,"truncated":true})");
  std::ostringstream out;
  print_conns(r, out);
  EXPECT_EQ(out.str(),
            "CLIENT                SERVICE                  BACKEND      AGE_S\n"
            "198.18.1.1:40000  ->  198.18.0.100:80/tcp  ->  198.18.0.11  5.2\n"
            "(showing 1; read 9 entries of a table of 1024 and stopped before its end; "
            "--limit N reads more)\n");
}

}  // namespace
}  // namespace sluice
