// SPDX-License-Identifier: Apache-2.0
// control/acl/acl_table.h over a fake dataplane, and the config's ACL
// checks (control/config/config_blocks.cc).
#include "control/acl/acl_table.h"

#include <gtest/gtest.h>
#include <netinet/in.h>

#include <algorithm>

#include "tests/control/fake_dataplane.h"

namespace sluice {
namespace {

Cidr cidr(const char* s) { return *Cidr::parse(s); }

VipConfig vip(const char* addr) {
  VipConfig v;
  v.address = *IpAddr::parse(addr);
  v.port = 80;
  v.protocol = IPPROTO_TCP;
  return v;
}

const AclEntry* find(const FakeDataplane& dp, uint32_t scope, const char* c) {
  Cidr want = cidr(c);
  for (const auto& e : dp.acl) {
    Cidr got;
    got.addr = IpAddr::from_abi(e.addr.data(), e.family);
    got.prefix = e.prefix_len;
    if (e.scope == scope && got == want) return &e;
  }
  return nullptr;
}

TEST(AclTable, ScopesRulesAndDefaultDenies) {
  FakeDataplane dp;
  AclTable t(dp);
  VipConfig v = vip("198.18.0.100");
  v.acl = AclConfig{{cidr("198.19.0.0/24")}, {cidr("198.19.0.9/32")}};
  std::optional<AclConfig> global = AclConfig{{}, {cidr("203.0.113.0/24"), cidr("2001:db8::/32")}};
  std::vector<VipConfig> vips{v};
  std::vector<AclVip> ids{{&vips[0], 3}};
  ASSERT_TRUE(t.commit(global, ids).ok());
  uint32_t vs = sl_acl_scope_of_vip(3);
  ASSERT_NE(find(dp, vs, "198.19.0.0/24"), nullptr);
  EXPECT_EQ(find(dp, vs, "198.19.0.0/24")->rule.action, SL_ACL_ALLOW);
  EXPECT_EQ(find(dp, vs, "198.19.0.9/32")->rule.action, SL_ACL_DENY);
  // The allow list's default deny, in the VIP's family only.
  ASSERT_NE(find(dp, vs, "0.0.0.0/0"), nullptr);
  EXPECT_EQ(find(dp, vs, "0.0.0.0/0")->rule.action, SL_ACL_DENY);
  EXPECT_EQ(find(dp, vs, "::/0"), nullptr);
  // A deny-only global scope has no default deny.
  EXPECT_NE(find(dp, SL_ACL_SCOPE_GLOBAL, "2001:db8::/32"), nullptr);
  EXPECT_EQ(find(dp, SL_ACL_SCOPE_GLOBAL, "0.0.0.0/0"), nullptr);
  EXPECT_EQ(dp.acl.size(), 5u);
  EXPECT_EQ(AclTable::vip_flags(global, v), SL_VIP_F_ACL | SL_VIP_F_ACL_GLOBAL);
  EXPECT_EQ(AclTable::vip_flags(std::nullopt, vip("198.18.0.101")), 0);
  // Every rule its own id.
  std::vector<uint32_t> seen;
  for (const auto& e : dp.acl) seen.push_back(e.rule.rule_id);
  std::sort(seen.begin(), seen.end());
  EXPECT_EQ(std::adjacent_find(seen.begin(), seen.end()), seen.end());
}

TEST(AclTable, IdsStayWhileTheRuleStaysAndAcrossARestart) {
  FakeDataplane dp;
  VipConfig v = vip("198.18.0.100");
  v.acl = AclConfig{{}, {cidr("198.19.0.0/16"), cidr("198.19.1.0/24")}};
  std::vector<VipConfig> vips{v};
  std::vector<AclVip> ids{{&vips[0], 0}};
  uint32_t vs = sl_acl_scope_of_vip(0);
  uint32_t id16 = 0;
  {
    AclTable t(dp);
    ASSERT_TRUE(t.commit(std::nullopt, ids).ok());
    id16 = find(dp, vs, "198.19.0.0/16")->rule.rule_id;
    dp.acl_hit_counts[id16] = 42;
    ASSERT_TRUE(t.commit(std::nullopt, ids).ok());
    EXPECT_EQ(find(dp, vs, "198.19.0.0/16")->rule.rule_id, id16);
    EXPECT_EQ(dp.acl_hit_counts[id16], 42u);
  }
  // A new controller takes the rules over: same ids, same hits.
  AclTable again(dp);
  vips[0].acl->deny.pop_back();                 // 198.19.1.0/24 removed
  vips[0].acl->allow.push_back(cidr("198.19.1.0/24"));  // ...and allowed instead
  ASSERT_TRUE(again.stage(std::nullopt, ids).ok());
  EXPECT_EQ(find(dp, vs, "198.19.0.0/16")->rule.rule_id, id16);
  EXPECT_EQ(dp.acl_hit_counts[id16], 42u);
  EXPECT_EQ(find(dp, vs, "198.19.1.0/24")->rule.action, SL_ACL_ALLOW);
  ASSERT_TRUE(again.commit(std::nullopt, ids).ok());
  EXPECT_EQ(dp.acl.size(), 3u);  // the /16, the /24 allow, the default deny
  auto views = again.rules();
  EXPECT_EQ(views.size(), 3u);
  EXPECT_EQ(views[0].scope, "198.18.0.100:80/tcp");
}

TEST(AclTable, StageWaitsForTheVipIdCommitRemovesStaleRules) {
  FakeDataplane dp;
  AclTable t(dp);
  VipConfig v = vip("198.18.0.100");
  v.acl = AclConfig{{}, {cidr("198.19.0.0/16")}};
  std::vector<VipConfig> vips{v};
  ASSERT_TRUE(t.stage(std::nullopt, {{&vips[0], std::nullopt}}).ok());
  EXPECT_TRUE(dp.acl.empty());
  ASSERT_TRUE(t.commit(std::nullopt, {{&vips[0], 5}}).ok());
  EXPECT_EQ(dp.acl.size(), 1u);
  vips[0].acl.reset();
  ASSERT_TRUE(t.stage(std::nullopt, {{&vips[0], 5}}).ok());
  EXPECT_EQ(dp.acl.size(), 1u);  // still there until the flag is off
  ASSERT_TRUE(t.commit(std::nullopt, {{&vips[0], 5}}).ok());
  EXPECT_TRUE(dp.acl.empty());
}

std::string base(const std::string& vip_acl, const std::string& global) {
  return "interface: lo\nvips:\n  - address: 198.18.0.100\n    port: 80\n    protocol: tcp\n" +
         vip_acl + global;
}

TEST(AclConfig, GlobalBlockIsParsedAndWritten) {
  auto c = config_parse(base("", "acl: { deny: [203.0.113.0/24, \"2001:db8::/32\"] }\n"));
  ASSERT_TRUE(c.ok()) << c.error().message();
  ASSERT_TRUE(c->acl);
  EXPECT_EQ(c->acl->deny.size(), 2u);
  EXPECT_TRUE(c->ignored_blocks().empty());
}

TEST(AclConfig, Refusals) {
  struct Case {
    std::string yaml, error;
  } cases[] = {
      {base("    acl: { deny: [198.19.0.5/16] }\n", ""),
       "config: vips[0].acl.deny[0]: host bits set past the prefix length, got 198.19.0.5/16"},
      {base("    acl: { allow: [198.19.0.0/16], deny: [198.19.0.0/16] }\n", ""),
       "config: vips[0].acl: prefix 198.19.0.0/16 is listed twice (allow and deny lists together)"},
      {base("", "acl: { deny: [203.0.113.0/24, 203.0.113.0/24] }\n"),
       "config: acl: prefix 203.0.113.0/24 is listed twice (allow and deny lists together)"},
      {base("", "acl: { deny: [bogus] }\n"),
       "config: acl.deny[0]: must be an address/prefix (CIDR), got 'bogus'"},
      {base("", "acl: { permit: [] }\n"), ""},
  };
  for (const auto& c : cases) {
    auto r = config_parse(c.yaml);
    ASSERT_FALSE(r.ok()) << c.yaml;
    if (!c.error.empty()) EXPECT_EQ(r.error().message(), c.error);
  }
}

TEST(AclConfig, CapOnPrefixes) {
  std::string list = "acl: { deny: [";
  for (size_t i = 0; i <= kAclMaxRules; ++i)
    list += (i ? "," : "") + std::to_string(10 + i / 65536 % 200) + "." +
            std::to_string(i / 256 % 256) + "." + std::to_string(i % 256) + ".0/24";
  list += "] }\n";
  auto r = config_parse(base("", list));
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message().find("at most " + std::to_string(kAclMaxRules)), std::string::npos)
      << r.error().message();
}

}  // namespace
}  // namespace sluice
