// SPDX-License-Identifier: Apache-2.0
// The firewall in the real program (core/acl.h): rules written through the
// Dataplane's acl_* calls, the VIP's flags set as the controller sets them,
// packets run with BPF_PROG_TEST_RUN. A scope with an allow list gets its
// default deny (a /0) here as the controller gives it one. Every test runs
// twice: IPv4 judged by the LPM trie (a few rules), then by the firewall
// trie (kFillers more rules, in a scope no VIP of the tests has, put it
// in use: core/abi.h SL_CTL_F_ACL_TRIE).
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <linux/bpf.h>

#include <cstring>
#include <vector>

#include "frame_checks.h"
#include "reason_probe.h"

namespace sluice::test {
namespace {

const Addr client4 = Addr::parse(kClient4);  // 198.19.0.5
const Addr client6 = Addr::parse(kClient6);  // 2001:2:ffff::5
const Addr vipA = Addr::parse(kVipA);
const Addr vipE = Addr::parse(kVipE);
const Addr vipB = Addr::parse(kVipB);

sl_vip_key vip_key(const Addr& a) {
  sl_vip_key k{};
  a.to_words(k.addr);
  k.port = htons(80);
  k.proto = 6;
  k.family = a.v6 ? SL_AF_INET6 : SL_AF_INET;
  return k;
}

constexpr uint32_t kFillers = 8;
constexpr uint32_t kFillerScope = SL_ACL_SCOPES - 1;  // VIP id 255
constexpr uint32_t kFillerId = 120000;

class SluiceAcl : public ::testing::TestWithParam<bool> {
 protected:
  void SetUp() override {
    ASSERT_TRUE(test_lb().dp) << test_lb().error;
    dp_ = test_lb().dp.get();
    for (uint32_t i = 0; GetParam() && i < kFillers; i++) {
      AclEntry e;
      e.scope = kFillerScope;
      e.family = SL_AF_INET;
      e.prefix_len = 32;
      e.addr[0] = htonl(0x0a000000u + i * 0x10101u);
      e.rule.rule_id = kFillerId + i;
      e.rule.action = SL_ACL_DENY;
      ASSERT_TRUE(dp_->acl_put(e).ok());
    }
    trie_expected_ = GetParam();
  }
  void TearDown() override {
    if (!dp_) return;
    EXPECT_EQ(dp_->acl_trie_in_use(), trie_expected_) << "IPv4 judged by the other lookup";
    auto all = dp_->acl_list();
    ASSERT_TRUE(all.ok()) << all.error().message();
    for (const auto& e : *all) ASSERT_TRUE(dp_->acl_del(e).ok());
    for (const Addr* v : {&vipA, &vipB, &vipE}) set_flags(*v, 0);
  }
  uint32_t vip_id(const Addr& vip) {
    auto m = dp_->vip_get(vip_key(vip));
    EXPECT_TRUE(m.ok() && *m) << "VIP not programmed";
    return m.ok() && *m ? (*m)->vip_id : 0;
  }
  void set_flags(const Addr& vip, uint8_t flags) {
    auto m = dp_->vip_get(vip_key(vip));
    ASSERT_TRUE(m.ok() && *m);
    sl_vip_meta meta = **m;
    meta.flags = flags;
    ASSERT_TRUE(dp_->vip_put(vip_key(vip), meta).ok());
  }
  // A rule `action` for `cidr` in the scope of `vip` (nullptr: global).
  void rule(const Addr* vip, const char* cidr, uint8_t len, sl_acl_action action, uint32_t id) {
    AclEntry e;
    e.scope = vip ? sl_acl_scope_of_vip(vip_id(*vip)) : SL_ACL_SCOPE_GLOBAL;
    Addr a = Addr::parse(cidr);
    e.family = a.v6 ? SL_AF_INET6 : SL_AF_INET;
    e.prefix_len = len;
    a.to_words(e.addr.data());
    e.rule.rule_id = id;
    e.rule.action = static_cast<uint8_t>(action);
    ASSERT_TRUE(dp_->acl_hits_reset(id).ok());
    auto r = dp_->acl_put(e);
    ASSERT_TRUE(r.ok()) << r.error().message();
  }
  // Runs a SYN from `src` to `vip`:80; returns the reason it moved.
  sl_reason syn(const Addr& src, const Addr& vip, uint16_t sport, int* action = nullptr) {
    ReasonProbe probe(*dp_);
    ProgRun r = prog_run(dp_->prog_fd(), frame(src, vip, {6, p(sport), 80, 0x02}));
    EXPECT_EQ(r.err, 0) << strerror(r.err);
    if (action) *action = r.action;
    return probe.moved();
  }
  // The tests' source ports, apart per run: both runs share one program
  // and its connection tables.
  uint16_t p(uint16_t sport) const { return uint16_t(sport + (GetParam() ? 12000 : 0)); }
  uint64_t hits(uint32_t id) {
    auto h = dp_->acl_hits();
    EXPECT_TRUE(h.ok()) << h.error().message();
    return h.ok() ? (*h)[id] : ~0ull;
  }
  bool recorded(const Addr& src, uint16_t sport) {
    auto conns = dp_->conns(0);
    EXPECT_TRUE(conns.ok());
    for (const auto& e : *conns)
      if (e.key.sport == htons(p(sport)) &&
          std::memcmp(e.key.src, src.b.data(), src.v6 ? 16 : 4) == 0)
        return true;
    return false;
  }
  XdpDataplane* dp_ = nullptr;
  bool trie_expected_ = false;
};

INSTANTIATE_TEST_SUITE_P(Lookups, SluiceAcl, ::testing::Values(false, true),
                         [](const auto& info) { return info.param ? "Trie" : "Lpm"; });

TEST_P(SluiceAcl, DeniedSourceIsDroppedUnderDropAcl) {
  rule(&vipA, "198.19.0.0", 16, SL_ACL_DENY, 1);
  set_flags(vipA, SL_VIP_F_ACL);
  int action = -1;
  EXPECT_EQ(syn(client4, vipA, 47001, &action), SL_R_DROP_ACL);
  EXPECT_EQ(action, XDP_DROP);
  EXPECT_EQ(syn(Addr::parse("198.18.7.7"), vipA, 47002), SL_R_TX_NEW);
}

// Neither a SYN nor a mid-flow packet of a denied source takes a record.
// The controls: the mid-flow ACK goes through once the rule is off, and a
// SYN then its ACK is recorded (confirmed records are what conns() lists).
TEST_P(SluiceAcl, DeniedSourceCreatesNoRecord) {
  rule(&vipA, "198.19.0.5", 32, SL_ACL_DENY, 1);
  set_flags(vipA, SL_VIP_F_ACL);
  auto before = dp_->conn_count();
  ASSERT_TRUE(before.ok());
  EXPECT_EQ(syn(client4, vipA, 47101), SL_R_DROP_ACL);
  ReasonProbe probe(*dp_);
  ProgRun ack = prog_run(dp_->prog_fd(), frame(client4, vipA, {6, p(47102), 80, 0x10}));
  EXPECT_EQ(ack.action, XDP_DROP);
  EXPECT_EQ(probe.moved(), SL_R_DROP_ACL);
  EXPECT_FALSE(recorded(client4, 47101));
  EXPECT_FALSE(recorded(client4, 47102));
  auto after = dp_->conn_count();
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(*after, *before);
  set_flags(vipA, 0);
  ReasonProbe control(*dp_);
  ack = prog_run(dp_->prog_fd(), frame(client4, vipA, {6, p(47102), 80, 0x10}));
  EXPECT_EQ(ack.action, XDP_TX);
  EXPECT_EQ(control.moved(), SL_R_TX_MIDFLOW);
  EXPECT_EQ(syn(client4, vipA, 47103), SL_R_TX_NEW);
  ack = prog_run(dp_->prog_fd(), frame(client4, vipA, {6, p(47103), 80, 0x10}));
  EXPECT_EQ(ack.action, XDP_TX);
  EXPECT_TRUE(recorded(client4, 47103));
}

TEST_P(SluiceAcl, AllowListAdmitsOnlyItsSources) {
  rule(&vipA, "198.19.0.0", 24, SL_ACL_ALLOW, 1);
  rule(&vipA, "0.0.0.0", 0, SL_ACL_DENY, 2);  // the allow list's default deny
  set_flags(vipA, SL_VIP_F_ACL);
  EXPECT_EQ(syn(client4, vipA, 47201), SL_R_TX_NEW);
  EXPECT_EQ(syn(Addr::parse("198.19.1.5"), vipA, 47202), SL_R_DROP_ACL);
  EXPECT_EQ(syn(Addr::parse("198.18.0.50"), vipA, 47203), SL_R_DROP_ACL);
  EXPECT_EQ(hits(1), 1u);
  EXPECT_EQ(hits(2), 2u);
}

TEST_P(SluiceAcl, MostSpecificPrefixWins) {
  rule(&vipA, "198.19.0.0", 16, SL_ACL_DENY, 1);
  rule(&vipA, "198.19.0.0", 24, SL_ACL_ALLOW, 2);
  rule(&vipA, "198.19.0.6", 32, SL_ACL_DENY, 3);
  set_flags(vipA, SL_VIP_F_ACL);
  EXPECT_EQ(syn(client4, vipA, 47301), SL_R_TX_NEW);                       // /24 allow
  EXPECT_EQ(syn(Addr::parse("198.19.0.6"), vipA, 47302), SL_R_DROP_ACL);  // /32 deny
  EXPECT_EQ(syn(Addr::parse("198.19.9.9"), vipA, 47303), SL_R_DROP_ACL);  // /16 deny
  EXPECT_EQ(hits(1), 1u);
  EXPECT_EQ(hits(2), 1u);
  EXPECT_EQ(hits(3), 1u);
}

TEST_P(SluiceAcl, VipRulesComeBeforeGlobalOnes) {
  rule(nullptr, "198.19.0.0", 16, SL_ACL_DENY, 1);
  rule(&vipA, "198.19.0.5", 32, SL_ACL_ALLOW, 2);
  set_flags(vipA, SL_VIP_F_ACL | SL_VIP_F_ACL_GLOBAL);
  set_flags(vipB, SL_VIP_F_ACL_GLOBAL);
  // The VIP's own allow decides, though the global /16 denies...
  EXPECT_EQ(syn(client4, vipA, 47401), SL_R_TX_NEW);
  // ...and where no rule of the VIP matches, the global one does.
  EXPECT_EQ(syn(Addr::parse("198.19.0.6"), vipA, 47402), SL_R_DROP_ACL);
  // VIP A's allow is A's alone.
  EXPECT_EQ(syn(client4, vipB, 47403), SL_R_DROP_ACL);
  EXPECT_EQ(hits(1), 2u);
  EXPECT_EQ(hits(2), 1u);
}

TEST_P(SluiceAcl, ScopesAreApart) {
  rule(&vipB, "198.19.0.0", 16, SL_ACL_DENY, 1);
  set_flags(vipA, SL_VIP_F_ACL);
  set_flags(vipB, SL_VIP_F_ACL);
  EXPECT_EQ(syn(client4, vipA, 47501), SL_R_TX_NEW);
  EXPECT_EQ(syn(client4, vipB, 47502), SL_R_DROP_ACL);
}

TEST_P(SluiceAcl, NoFlagNoLookup) {
  rule(&vipA, "0.0.0.0", 0, SL_ACL_DENY, 1);
  rule(nullptr, "0.0.0.0", 0, SL_ACL_DENY, 2);
  EXPECT_EQ(syn(client4, vipA, 47601), SL_R_TX_NEW);
  EXPECT_EQ(hits(1), 0u);
  EXPECT_EQ(hits(2), 0u);
}

TEST_P(SluiceAcl, Ipv6) {
  rule(&vipE, "2001:2:ffff::", 48, SL_ACL_DENY, 1);
  rule(&vipE, "2001:2:ffff::5", 128, SL_ACL_ALLOW, 2);
  rule(&vipE, "198.19.0.0", 16, SL_ACL_DENY, 3);  // another family: never matches
  set_flags(vipE, SL_VIP_F_ACL);
  EXPECT_EQ(syn(client6, vipE, 47701), SL_R_TX_NEW);
  int action = -1;
  EXPECT_EQ(syn(Addr::parse("2001:2:ffff::6"), vipE, 47702, &action), SL_R_DROP_ACL);
  EXPECT_EQ(action, XDP_DROP);
  EXPECT_FALSE(recorded(Addr::parse("2001:2:ffff::6"), 47702));
  EXPECT_EQ(syn(Addr::parse("2001:2:fffe::6"), vipE, 47703), SL_R_TX_NEW);
  EXPECT_EQ(hits(1), 1u);
  EXPECT_EQ(hits(2), 1u);
  EXPECT_EQ(hits(3), 0u);
}

TEST_P(SluiceAcl, GlobalIpv6AllowList) {
  rule(nullptr, "2001:2:ffff::", 64, SL_ACL_ALLOW, 1);
  rule(nullptr, "::", 0, SL_ACL_DENY, 2);
  set_flags(vipE, SL_VIP_F_ACL_GLOBAL);
  EXPECT_EQ(syn(client6, vipE, 47801), SL_R_TX_NEW);
  EXPECT_EQ(syn(Addr::parse("2001:2:1::1"), vipE, 47802), SL_R_DROP_ACL);
}

TEST_P(SluiceAcl, HitsCountEveryPacketPerRule) {
  rule(&vipA, "198.19.0.0", 16, SL_ACL_DENY, 7);
  rule(&vipA, "198.18.0.0", 15, SL_ACL_ALLOW, 8);
  set_flags(vipA, SL_VIP_F_ACL);
  for (uint16_t i = 0; i < 5; ++i) EXPECT_EQ(syn(client4, vipA, uint16_t(47900 + i)), SL_R_DROP_ACL);
  for (uint16_t i = 0; i < 3; ++i)
    EXPECT_EQ(syn(Addr::parse("198.18.1.1"), vipA, uint16_t(47910 + i)), SL_R_TX_NEW);
  EXPECT_EQ(hits(7), 5u);
  EXPECT_EQ(hits(8), 3u);
  ASSERT_TRUE(dp_->acl_hits_reset(7).ok());
  EXPECT_EQ(hits(7), 0u);
  auto listed = dp_->acl_list();
  ASSERT_TRUE(listed.ok());
  EXPECT_EQ(listed->size(), 2u + (GetParam() ? kFillers : 0));
}

// An established flow pays a compare, not a lookup: its record keeps the
// rule generation it was admitted under, and only a rule change (which
// bumps sl_control.acl_gen) makes its next packet be judged again. A deny
// added while the flow is open stops it at that packet.
TEST_P(SluiceAcl, EstablishedFlowIsJudgedOncePerRuleChange) {
  rule(&vipA, "198.18.0.0", 15, SL_ACL_ALLOW, 9);
  set_flags(vipA, SL_VIP_F_ACL);
  auto ack = [&](uint16_t sport, int* action = nullptr) {
    ReasonProbe probe(*dp_);
    ProgRun r = prog_run(dp_->prog_fd(), frame(client4, vipA, {6, p(sport), 80, 0x10}));
    EXPECT_EQ(r.err, 0) << strerror(r.err);
    if (action) *action = r.action;
    return probe.moved();
  };
  EXPECT_EQ(syn(client4, vipA, 48001), SL_R_TX_NEW);
  EXPECT_EQ(hits(9), 1u) << "a SYN is judged before the table";
  for (int i = 0; i < 3; ++i) EXPECT_EQ(ack(48001), SL_R_TX_HIT);
  EXPECT_EQ(hits(9), 1u) << "the confirmed record carries the SYN's admission";
  EXPECT_TRUE(recorded(client4, 48001));

  const uint32_t gen = dp_->control_get().acl_gen;
  rule(&vipA, "198.19.0.5", 32, SL_ACL_DENY, 10);
  EXPECT_NE(dp_->control_get().acl_gen, gen) << "a rule change bumps the generation";
  int action = -1;
  EXPECT_EQ(ack(48001, &action), SL_R_DROP_ACL);
  EXPECT_EQ(action, XDP_DROP);
  EXPECT_EQ(ack(48001), SL_R_DROP_ACL);
  EXPECT_EQ(hits(10), 2u) << "a denied flow is judged at every packet";
  EXPECT_TRUE(recorded(client4, 48001)) << "its record stays";

  AclEntry deny;
  deny.scope = sl_acl_scope_of_vip(vip_id(vipA));
  deny.prefix_len = 32;
  client4.to_words(deny.addr.data());
  ASSERT_TRUE(dp_->acl_del(deny).ok());
  EXPECT_EQ(ack(48001), SL_R_TX_HIT) << "the same backend again, from its record";
  EXPECT_EQ(ack(48001), SL_R_TX_HIT);
  EXPECT_EQ(hits(9), 2u) << "judged once after the change, then not again";
}

// The trie holds 4 bits per level: rules ending in different levels, and
// several in one level, each decide for their own sources.
TEST_P(SluiceAcl, MostSpecificWinsAcrossStrides) {
  rule(&vipA, "198.0.0.0", 8, SL_ACL_DENY, 1);
  rule(&vipA, "198.16.0.0", 13, SL_ACL_ALLOW, 2);
  rule(&vipA, "198.19.0.0", 22, SL_ACL_DENY, 3);
  rule(&vipA, "198.19.0.4", 31, SL_ACL_ALLOW, 4);  // holds client4 (.5)
  rule(&vipA, "198.19.0.4", 32, SL_ACL_DENY, 5);
  rule(&vipA, "198.19.0.0", 21, SL_ACL_ALLOW, 6);  // the /22's level: the /22 wins
  set_flags(vipA, SL_VIP_F_ACL);
  EXPECT_EQ(syn(client4, vipA, 48201), SL_R_TX_NEW);                       // /31 allow
  EXPECT_EQ(syn(Addr::parse("198.19.0.4"), vipA, 48202), SL_R_DROP_ACL);  // /32 deny
  EXPECT_EQ(syn(Addr::parse("198.19.3.9"), vipA, 48203), SL_R_DROP_ACL);  // /22 deny
  EXPECT_EQ(syn(Addr::parse("198.19.4.9"), vipA, 48204), SL_R_TX_NEW);    // /21 allow
  EXPECT_EQ(syn(Addr::parse("198.18.9.9"), vipA, 48205), SL_R_TX_NEW);    // /13 allow
  for (uint32_t id = 1; id <= 6; id++) EXPECT_EQ(hits(id), id == 1 ? 0u : 1u) << id;
}

// A deleted rule gives its sources back to the next shorter one, in a
// shallower level or in its own.
TEST_P(SluiceAcl, DeletedRuleUncoversAShorterOne) {
  rule(&vipA, "198.19.0.0", 16, SL_ACL_DENY, 1);
  rule(&vipA, "198.19.0.0", 18, SL_ACL_ALLOW, 2);
  rule(&vipA, "198.19.0.0", 20, SL_ACL_DENY, 3);
  rule(&vipA, "198.19.0.5", 32, SL_ACL_ALLOW, 4);
  set_flags(vipA, SL_VIP_F_ACL);
  EXPECT_EQ(syn(client4, vipA, 48301), SL_R_TX_NEW);
  auto del = [&](const char* cidr, uint8_t len) {
    AclEntry e;
    e.scope = sl_acl_scope_of_vip(vip_id(vipA));
    e.prefix_len = len;
    Addr::parse(cidr).to_words(e.addr.data());
    ASSERT_TRUE(dp_->acl_del(e).ok());
  };
  del("198.19.0.5", 32);
  EXPECT_EQ(syn(client4, vipA, 48302), SL_R_DROP_ACL);  // the /20
  del("198.19.0.0", 20);
  EXPECT_EQ(syn(client4, vipA, 48303), SL_R_TX_NEW);    // the /18, same level
  del("198.19.0.0", 18);
  EXPECT_EQ(syn(client4, vipA, 48304), SL_R_DROP_ACL);  // the /16
  del("198.19.0.0", 16);
  EXPECT_EQ(syn(client4, vipA, 48305), SL_R_TX_NEW);    // none
  auto all = dp_->acl_list();
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(all->size(), GetParam() ? kFillers : 0) << "only the fillers are left";
}

// The VIP's rule decides wherever it matches, even under a longer global one.
TEST_P(SluiceAcl, VipRuleBeatsALongerGlobalOne) {
  rule(nullptr, "198.19.0.5", 32, SL_ACL_DENY, 1);
  rule(&vipA, "198.0.0.0", 8, SL_ACL_ALLOW, 2);
  set_flags(vipA, SL_VIP_F_ACL | SL_VIP_F_ACL_GLOBAL);
  set_flags(vipB, SL_VIP_F_ACL_GLOBAL);
  EXPECT_EQ(syn(client4, vipA, 48401), SL_R_TX_NEW);
  EXPECT_EQ(syn(client4, vipB, 48402), SL_R_DROP_ACL);
  EXPECT_EQ(hits(1), 1u);
  EXPECT_EQ(hits(2), 1u);
}

// A rule the trie has no room for is still in force: IPv4 is judged by
// the LPM trie until that rule goes, then by the trie again.
TEST_P(SluiceAcl, RuleWithoutTrieRoomIsJudgedByTheLpmTrie) {
  const uint32_t scope = sl_acl_scope_of_vip(vip_id(vipA));
  std::vector<AclEntry> put;
  AclEntry e;
  e.scope = scope;
  e.family = SL_AF_INET;
  e.prefix_len = 32;
  for (uint32_t id = 100; id < 100 + SL_ACL_MAX_NODES; id++) {
    e.addr[0] = htonl(0x0b000000u + id * 2654435761u % 0x3f000000u);  // 11/8..73/8: ~7 nodes each
    e.rule.rule_id = id;
    e.rule.action = SL_ACL_DENY;
    auto r = dp_->acl_put(e);
    ASSERT_TRUE(r.ok()) << r.error().message();
    put.push_back(e);
    if (put.size() >= 16 && !dp_->acl_trie_in_use()) break;
  }
  ASSERT_FALSE(dp_->acl_trie_in_use()) << "the trie never ran out of nodes";
  auto all = dp_->acl_list();
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(all->size(), put.size() + (GetParam() ? kFillers : 0)) << "every rule listed";
  set_flags(vipA, SL_VIP_F_ACL);
  Addr last = Addr::parse("0.0.0.0");
  std::memcpy(last.b.data(), put.back().addr.data(), 4);
  EXPECT_EQ(syn(last, vipA, 48501), SL_R_DROP_ACL) << "the rule the trie lacks";
  ASSERT_TRUE(dp_->acl_del(put.back()).ok());
  put.pop_back();
  EXPECT_TRUE(dp_->acl_trie_in_use()) << "complete again";
  std::memcpy(last.b.data(), put.back().addr.data(), 4);
  EXPECT_EQ(syn(last, vipA, 48502), SL_R_DROP_ACL) << "judged by the trie";
  EXPECT_EQ(syn(Addr::parse("198.18.7.7"), vipA, 48503), SL_R_TX_NEW);
  trie_expected_ = true;
}

// A record without a generation (imported from the sync peer) is judged.
TEST_P(SluiceAcl, ImportedRecordIsJudged) {
  sl_flow_key k{};
  client4.to_words(k.src);
  vipA.to_words(k.dst);
  k.sport = htons(p(48101));
  k.dport = htons(80);
  k.proto = 6;
  k.family = SL_AF_INET;
  sl_conn c{};
  auto be = dp_->backend_get(0);
  ASSERT_TRUE(be.ok());
  c.backend = 0;
  c.gen = be->gen;
  c.vip_id = vip_id(vipA);
  c.synced_s = 1;
  ASSERT_TRUE(dp_->conn_put(k, c).ok());
  rule(&vipA, "198.19.0.5", 32, SL_ACL_DENY, 11);
  set_flags(vipA, SL_VIP_F_ACL);
  ReasonProbe probe(*dp_);
  ProgRun r = prog_run(dp_->prog_fd(), frame(client4, vipA, {6, p(48101), 80, 0x10}));
  EXPECT_EQ(r.action, XDP_DROP);
  EXPECT_EQ(probe.moved(), SL_R_DROP_ACL);
  ASSERT_TRUE(dp_->conn_del(k).ok());
}

}  // namespace
}  // namespace sluice::test
