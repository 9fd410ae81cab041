// SPDX-License-Identifier: Apache-2.0
// sluice_acl_hits_total: one sample per rule (scope, action, prefix), its
// hits read by rule id from the dataplane in one call.
#include <gtest/gtest.h>

#include <sstream>

#include "control/metrics/metrics.h"
#include "tests/control/fake_dataplane.h"

namespace sluice {
namespace {

MetricsSnapshot with_rules(std::vector<MetricsAclRule> rules) {
  MetricsSnapshot s;
  s.acl = std::make_shared<const std::vector<MetricsAclRule>>(std::move(rules));
  return s;
}

size_t count_lines(const std::string& text, const std::string& prefix) {
  std::istringstream in(text);
  size_t n = 0;
  for (std::string l; std::getline(in, l);) n += l.rfind(prefix, 0) == 0 ? 1 : 0;
  return n;
}

bool has_line(const std::string& text, const std::string& line) {
  std::istringstream in(text);
  for (std::string l; std::getline(in, l);)
    if (l == line) return true;
  return false;
}

const BuildInfo kBuild{"0.1.0", "g", "xdp"};

TEST(MetricsAcl, OneSamplePerRuleWithItsHits) {
  FakeDataplane dp;
  dp.acl_hit_counts[4] = 17;
  dp.acl_hit_counts[9] = 3;
  dp.acl_hit_counts[5] = 1000;  // no rule: never shown
  auto snap = with_rules({{"global", "deny", "203.0.113.0/24", 4},
                          {"198.18.0.100:80/tcp", "allow", "198.18.0.0/24", 9},
                          {"198.18.0.100:80/tcp", "deny", "0.0.0.0/0", 2}});
  ControlCounters cc;
  MetricsCounters c = metrics_collect(snap, dp, cc);
  ASSERT_EQ(c.acl_hits, (std::vector<uint64_t>{17, 3, 0}));
  std::string t = metrics_render(snap, c, kBuild);
  EXPECT_TRUE(has_line(t, "# TYPE sluice_acl_hits_total counter"));
  EXPECT_TRUE(has_line(
      t, R"(sluice_acl_hits_total{scope="global",action="deny",cidr="203.0.113.0/24"} 17)"));
  EXPECT_TRUE(has_line(
      t,
      R"(sluice_acl_hits_total{scope="198.18.0.100:80/tcp",action="allow",cidr="198.18.0.0/24"} 3)"));
  EXPECT_TRUE(has_line(
      t, R"(sluice_acl_hits_total{scope="198.18.0.100:80/tcp",action="deny",cidr="0.0.0.0/0"} 0)"));
  EXPECT_EQ(count_lines(t, "sluice_acl_hits_total{"), 3u);
}

TEST(MetricsAcl, NoRulesNoSamplesAndNoHitsRead) {
  FakeDataplane dp;
  ControlCounters cc;
  for (const MetricsSnapshot& snap : {MetricsSnapshot{}, with_rules({})}) {
    MetricsCounters c = metrics_collect(snap, dp, cc);
    EXPECT_TRUE(c.acl_hits.empty());
    std::string t = metrics_render(snap, c, kBuild);
    EXPECT_TRUE(has_line(t, "# TYPE sluice_acl_hits_total counter"));
    EXPECT_EQ(count_lines(t, "sluice_acl_hits_total{"), 0u);
  }
}

// A scrape whose hits could not be read shows every rule at 0, not a gap.
TEST(MetricsAcl, UnreadHitsRenderAsZero) {
  auto snap = with_rules({{"global", "deny", "2001:db8::/32", 1}});
  std::string t = metrics_render(snap, MetricsCounters{}, kBuild);
  EXPECT_TRUE(has_line(
      t, R"(sluice_acl_hits_total{scope="global",action="deny",cidr="2001:db8::/32"} 0)"));
}

TEST(MetricsAcl, RulesFromTheAclTable) {
  std::vector<AclRuleView> views(2);
  views[0].scope = "global";
  views[0].cidr = *Cidr::parse("203.0.113.0/24");
  views[0].action = SL_ACL_DENY;
  views[0].rule_id = 7;
  views[1].scope = "[2001:2::100]:53/udp";
  views[1].cidr = *Cidr::parse("2001:2::/48");
  views[1].action = SL_ACL_ALLOW;
  views[1].rule_id = 8;
  auto m = metrics_acl_of(views);
  ASSERT_EQ(m.size(), 2u);
  EXPECT_EQ(m[0].action, "deny");
  EXPECT_EQ(m[0].cidr, "203.0.113.0/24");
  EXPECT_EQ(m[0].rule_id, 7u);
  EXPECT_EQ(m[1].scope, "[2001:2::100]:53/udp");
  EXPECT_EQ(m[1].action, "allow");
  EXPECT_EQ(m[1].cidr, "2001:2::/48");
}

}  // namespace
}  // namespace sluice
