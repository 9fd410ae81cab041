// SPDX-License-Identifier: Apache-2.0
#include "control/ctl_print.h"

#include <gtest/gtest.h>

#include <sstream>

namespace sluice {
namespace {

using nlohmann::json;

TEST(PrintStatus, ShowsTheLoopsLongestTurnAndP99) {
  json r = json::parse(R"({"version":"0.1.0","pid":7,"interface":"eth0","vips":1,
      "unresolved_macs":0,"loop":{"turns":10,"longest_ms":12.5,"p99_ms":5.0}})");
  std::ostringstream out;
  print_status(r, out);
  EXPECT_NE(out.str().find("loop_longest_ms  12.5"), std::string::npos) << out.str();
  EXPECT_NE(out.str().find("loop_p99_ms      5.0"), std::string::npos) << out.str();
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
      "backend":"198.18.0.11","age_s":5.2}],"matched":7,"entries":9,"table_size":1024,
      "truncated":true})");
  std::ostringstream out;
  print_conns(r, out);
  EXPECT_EQ(out.str(),
            "CLIENT                SERVICE                  BACKEND      AGE_S\n"
            "198.18.1.1:40000  ->  198.18.0.100:80/tcp  ->  198.18.0.11  5.2\n"
            "(showing 1 of 7 matching; the table holds 9 of 1024 entries; --limit N shows more)\n");
}

}  // namespace
}  // namespace sluice
