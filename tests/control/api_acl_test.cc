// SPDX-License-Identifier: Apache-2.0
// `acl add|del|list` through the API, applied the daemon's way (the ACL
// table staged around the service table, control/daemon/daemon.cc): a
// change reaches the dataplane's rules, the running config and the file;
// a refused one leaves all three as they were.
#include <gtest/gtest.h>

#include "control/acl/acl_table.h"
#include "control/config/config_writer.h"
#include "tests/control/api_fixture.h"

namespace sluice {
namespace {

using nlohmann::json;

class ApiAcl : public ApiFixture {
 public:
  void SetUp() override {
    ApiFixture::SetUp();
    if (HasFatalFailure()) return;
    table.vip_flags([this](const VipConfig& v) { return AclTable::vip_flags(global, v); });
    auto apply = [this](const Config& c) -> Result<void> {
      auto vips = dataplane_vips(c);
      if (auto r = acls.stage(c.acl, acl_vips(vips, table.vips())); !r) return r;
      global = c.acl;
      if (auto r = table.apply(vips, {}); !r) return r;
      return acls.commit(c.acl, acl_vips(vips, table.vips()));
    };
    Config cfg = store->running();
    store.emplace(cfg, path, apply, counters);
    handler.emplace(table, flaky, *store, DaemonInfo{"veth-api"});
    handler->set_acl(&acls);
  }

  struct State {
    std::vector<std::string> rules;
    std::string running, file;
    bool operator==(const State&) const = default;
  };
  State state() const {
    State s{{}, config_emit(store->running()), file_text()};
    for (const auto& e : dp.acl)
      s.rules.push_back(std::to_string(e.scope) + " " + std::to_string(e.prefix_len) + " " +
                        std::to_string(e.rule.action) + " " + std::to_string(e.rule.rule_id));
    std::sort(s.rules.begin(), s.rules.end());
    return s;
  }
  json rules() {
    json r = call(R"({"cmd":"acl_list"})");
    EXPECT_EQ(r["ok"], true) << r.dump();
    return r["rules"];
  }
  // The listed rule of `scope` for `cidr`, or null.
  json rule(const std::string& scope, const std::string& cidr) {
    for (const auto& r : rules())
      if (r["scope"] == scope && r["cidr"] == cidr) return r;
    return nullptr;
  }
  void expect_ok(const std::string& req) {
    json r = call(req);
    EXPECT_EQ(r["ok"], true) << req << " -> " << r.dump();
  }
  // Refused with a message holding `why`, and nothing changed.
  void expect_refused(const std::string& req, const std::string& why) {
    State before = state();
    json r = call(req);
    EXPECT_EQ(r["ok"], false) << req;
    EXPECT_NE(r.value("error", "").find(why), std::string::npos) << req << " -> " << r.dump();
    EXPECT_TRUE(state() == before) << req;
  }

  AclTable acls{flaky};
  std::optional<AclConfig> global;
};

constexpr const char* kWeb = "198.18.0.100:80/tcp";

TEST_F(ApiAcl, AddReachesDataplaneMemoryAndFile) {
  EXPECT_TRUE(rules().empty());
  expect_ok(R"({"cmd":"acl_add","action":"deny","cidr":"203.0.113.0/24"})");
  ASSERT_EQ(dp.acl.size(), 1u);
  EXPECT_EQ(dp.acl[0].scope, uint32_t(SL_ACL_SCOPE_GLOBAL));
  EXPECT_EQ(dp.acl[0].prefix_len, 24);
  EXPECT_EQ(dp.acl[0].rule.action, SL_ACL_DENY);
  ASSERT_TRUE(store->running().acl);
  EXPECT_EQ(store->running().acl->deny, std::vector<Cidr>{*Cidr::parse("203.0.113.0/24")});
  EXPECT_NE(file_text().find("acl: {deny: [203.0.113.0/24]}"), std::string::npos) << file_text();
  // Every VIP now carries the global flag.
  for (const auto& [_, e] : dp.vips) EXPECT_TRUE(e.meta.flags & SL_VIP_F_ACL_GLOBAL);
  // The file reads back to what runs.
  auto reread = config_load(path);
  ASSERT_TRUE(reread.ok()) << reread.error().message();
  EXPECT_TRUE(*reread == store->running());

  json r = rule("global", "203.0.113.0/24");
  ASSERT_FALSE(r.is_null());
  EXPECT_EQ(r["action"], "deny");
  EXPECT_EQ(r["default_deny"], false);
  EXPECT_EQ(r["rule_id"], dp.acl[0].rule.rule_id);
  dp.acl_hit_counts[dp.acl[0].rule.rule_id] = 42;
  EXPECT_EQ(rule("global", "203.0.113.0/24")["hits"], 42);
}

TEST_F(ApiAcl, VipAllowListGetsItsDefaultDenyAndGoesWithTheLastPrefix) {
  expect_ok(R"({"cmd":"acl_add","vip":"198.18.0.100:80/tcp","action":"allow",)"
            R"("cidr":"198.18.0.0/24"})");
  json allow = rule(kWeb, "198.18.0.0/24");
  json any = rule(kWeb, "0.0.0.0/0");
  ASSERT_FALSE(allow.is_null());
  ASSERT_FALSE(any.is_null()) << "an allow list adds a /0 deny";
  EXPECT_EQ(allow["action"], "allow");
  EXPECT_EQ(any["action"], "deny");
  EXPECT_EQ(any["default_deny"], true);
  EXPECT_TRUE(rule(kWeb, "::/0").is_null()) << "a VIP's scope is of its own family only";
  EXPECT_EQ(rules().size(), 2u);
  const VipConfig* web = find_vip(store->running(), *service_parse(kWeb));
  ASSERT_TRUE(web->acl);
  EXPECT_EQ(web->acl->allow, std::vector<Cidr>{*Cidr::parse("198.18.0.0/24")});
  EXPECT_NE(file_text().find("acl: {allow: [198.18.0.0/24]}"), std::string::npos) << file_text();

  expect_ok(R"({"cmd":"acl_del","vip":"198.18.0.100:80/tcp","action":"allow",)"
            R"("cidr":"198.18.0.0/24"})");
  EXPECT_TRUE(rules().empty());
  EXPECT_TRUE(dp.acl.empty());
  EXPECT_FALSE(find_vip(store->running(), *service_parse(kWeb))->acl) << "no empty block kept";
  EXPECT_EQ(file_text().find("acl"), std::string::npos) << file_text();
  for (const auto& [_, e] : dp.vips) EXPECT_EQ(e.meta.flags & (SL_VIP_F_ACL | SL_VIP_F_ACL_GLOBAL), 0);
}

TEST_F(ApiAcl, ARuleKeepsItsIdAndHitsWhileItStays) {
  expect_ok(R"({"cmd":"acl_add","action":"deny","cidr":"203.0.113.0/24"})");
  uint32_t id = rule("global", "203.0.113.0/24")["rule_id"];
  dp.acl_hit_counts[id] = 5;
  expect_ok(R"({"cmd":"acl_add","action":"deny","cidr":"2001:2:0:100::/56"})");
  expect_ok(R"({"cmd":"acl_add","vip":"[2001:2::100]:53/udp","action":"deny","cidr":"2001:2:0:200::/56"})");
  json r = rule("global", "203.0.113.0/24");
  EXPECT_EQ(r["rule_id"], id);
  EXPECT_EQ(r["hits"], 5);
  expect_ok(R"({"cmd":"acl_del","action":"deny","cidr":"2001:2:0:100::/56"})");
  EXPECT_EQ(rule("global", "203.0.113.0/24")["rule_id"], id);
  EXPECT_EQ(rules().size(), 2u);
  EXPECT_EQ(dp.acl.size(), 2u);
}

TEST_F(ApiAcl, RefusalsNameTheCauseAndChangeNothing) {
  expect_ok(R"({"cmd":"acl_add","action":"deny","cidr":"203.0.113.0/24"})");
  expect_ok(R"({"cmd":"acl_add","vip":"198.18.0.100:80/tcp","action":"allow","cidr":"198.18.0.0/24"})");
  const std::string g = R"({"cmd":"acl_add","action":)";
  expect_refused(g + R"("deny","cidr":"203.0.113.5/24"})", "host bits set");
  expect_refused(g + R"("deny","cidr":"2001:2:0:100::1/56"})", "host bits set");
  expect_refused(g + R"("deny","cidr":"203.0.113.0/24"})", "already in the deny list of global");
  expect_refused(g + R"("allow","cidr":"203.0.113.0/24"})", "already in the deny list of global");
  expect_refused(R"({"cmd":"acl_add","vip":"198.18.0.100:80/tcp","action":"deny","cidr":"198.18.0.0/24"})",
                 "already in the allow list of 198.18.0.100:80/tcp");
  expect_refused(R"({"cmd":"acl_add","vip":"198.18.0.100:80/tcp","action":"deny","cidr":"2001:2:0:100::/56"})",
                 "not in the address family of 198.18.0.100:80/tcp");
  expect_refused(R"({"cmd":"acl_add","vip":"198.18.0.200:80/tcp","action":"deny","cidr":"198.19.128.0/17"})",
                 "unknown service 198.18.0.200:80/tcp");
  expect_refused(R"({"cmd":"acl_del","action":"allow","cidr":"203.0.113.0/24"})",
                 "203.0.113.0/24: not in the allow list of global");
  expect_refused(R"({"cmd":"acl_del","vip":"[2001:2::100]:53/udp","action":"deny","cidr":"2001:2:0:100::/56"})",
                 "not in the deny list of [2001:2::100]:53/udp");
  // The request itself.
  expect_refused(g + R"("block","cidr":"203.0.113.0/24"})", "action: must be allow|deny");
  expect_refused(g + R"("deny","cidr":"203.0.113.0/33"})", "cidr: must be ADDR/LEN");
  expect_refused(g + R"("deny","cidr":"not-a-prefix"})", "cidr: must be ADDR/LEN");
  expect_refused(g + R"("deny","cidr":")" + std::string(200, '1') + R"("})", "longer than 49");
  expect_refused(g + R"("deny","cidr":7})", "cidr: must be a string");
  expect_refused(R"({"cmd":"acl_add","cidr":"203.0.113.0/24"})", "action: required");
  expect_refused(R"({"cmd":"acl_del","action":"deny"})", "cidr: required");
  expect_refused(R"({"cmd":"acl_list","cidr":"203.0.113.0/24"})", "unknown field");
  EXPECT_EQ(rules().size(), 3u);
}

// The cap on prefixes, all scopes together: the edit refuses the one past it.
TEST(AclEdit, RefusesPastTheTotalCap) {
  Config cfg;
  cfg.acl.emplace();
  VipConfig v;
  v.address = *IpAddr::parse("198.18.0.100");
  v.port = 80;
  v.protocol = 6;
  v.acl.emplace();
  for (uint32_t i = 0; i < kAclMaxRules - 1; ++i) {
    Cidr c;
    c.addr.family = SL_AF_INET6;
    c.addr.bytes = {0x20, 0x01, 0x00, 0x02, 0, 0, uint8_t(i >> 16), uint8_t(i >> 8), uint8_t(i)};
    c.prefix = 72;  // in 2001:2::/48
    cfg.acl->deny.push_back(c);
  }
  cfg.vips.push_back(v);
  auto req = api_parse_request(
      R"({"cmd":"acl_add","vip":"198.18.0.100:80/tcp","action":"deny","cidr":"198.19.128.0/17"})");
  ASSERT_TRUE(req.ok());
  ASSERT_TRUE(config_edit(cfg, *req).ok());  // the last one that fits
  EXPECT_EQ(acl_prefix_count(cfg), kAclMaxRules);
  req = api_parse_request(R"({"cmd":"acl_add","action":"deny","cidr":"198.19.128.0/17"})");
  ASSERT_TRUE(req.ok());
  auto r = config_edit(cfg, *req);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message().find("at most " + std::to_string(kAclMaxRules)), std::string::npos)
      << r.error().message();
  EXPECT_EQ(acl_prefix_count(cfg), kAclMaxRules);
}

}  // namespace
}  // namespace sluice
