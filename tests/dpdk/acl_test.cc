// SPDX-License-Identifier: Apache-2.0
// ACLs on the DPDK worker (dataplane/dpdk/tables.h), on prebuilt mbufs:
// deny, allow-only scopes (a /0 default deny), the most specific prefix
// winning, a VIP's scope before the global one, IPv6 at every prefix-length
// word, no record for a denied SYN, per-worker hits per rule, and rule
// changes (replace, delete, list) under RCU. Same semantics as the XDP
// program's tries (tests/bpf/sluice_acl_test.cc).
#include <gtest/gtest.h>

#include <algorithm>
#include <random>

#include "dataplane/dpdk/worker.h"
#include "tests/dpdk/dpdk_test_env.h"

namespace sluice::test {
namespace {

using dpdk::BurstOut;
using dpdk::Tables;
using dpdk::Worker;
using dpdk::WorkerConfig;

const Addr vipA = Addr::parse(lb::kVipA), vipB = Addr::parse(lb::kVipB),
           vipE = Addr::parse(lb::kVipE);
constexpr uint32_t kVipA = 0, kVipB = 1, kVipE = 4;  // ids in lb::fill

L4 syn(uint16_t sport) { return {6, sport, 80, 0x02}; }

AclEntry rule(uint32_t scope, const char* cidr, sl_acl_action action, uint32_t id) {
  std::string s(cidr);
  size_t slash = s.find('/');
  Addr a = Addr::parse(s.substr(0, slash).c_str());
  AclEntry e;
  e.scope = scope;
  e.family = a.v6 ? SL_AF_INET6 : SL_AF_INET;
  e.prefix_len = uint8_t(std::stoi(s.substr(slash + 1)));
  a.to_words(e.addr.data());
  e.rule.rule_id = id;
  e.rule.action = uint8_t(action);
  return e;
}

uint32_t scope_of(uint32_t vip_id) { return sl_acl_scope_of_vip(vip_id); }

struct Acl : ::testing::Test {
  void SetUp() override {
    SL_REQUIRE_EAL();
    std::string why;
    tables = lb::filled_tables(2, &why);
    ASSERT_TRUE(tables) << why;
    for (unsigned id : {0u, 1u}) {
      WorkerConfig c;
      c.id = id;
      c.conn_table_size = 1 << 12;
      auto w = Worker::create(*tables, c);
      ASSERT_TRUE(w.ok()) << w.error().message();
      workers.push_back(std::move(*w));
    }
  }
  void TearDown() override {
    workers.clear();
    tables.reset();
  }

  // The controller's part: a VIP's flags say which scopes hold rules.
  void flags(const char* vip, uint16_t port, uint8_t f) {
    sl_vip_key k = lb::vip_key(vip, port, 6);
    auto m = tables->vip_get(k);
    ASSERT_TRUE(m.ok() && m->has_value());
    sl_vip_meta meta = **m;
    meta.flags = f;
    ASSERT_TRUE(tables->vip_put(k, meta).ok());
  }
  void put(const AclEntry& e) {
    auto r = tables->acl_put(e);
    ASSERT_TRUE(r.ok()) << r.error().message();
  }

  // A SYN from `src` on `sport`; its reason.
  sl_reason send(const Addr& src, const Addr& dst, uint16_t sport, unsigned worker = 0) {
    return send_l4(src, dst, syn(sport), worker);
  }
  sl_reason send(const char* src, const Addr& dst, uint16_t sport, unsigned worker = 0) {
    return send(Addr::parse(src), dst, sport, worker);
  }
  sl_reason send_l4(const char* src, const Addr& dst, L4 l4, unsigned worker = 0) {
    return send_l4(Addr::parse(src), dst, l4, worker);
  }
  sl_reason send_l4(const Addr& src, const Addr& dst, L4 l4, unsigned worker = 0) {
    rte_mbuf* m = mbuf_of(frame(src, dst, l4));
    EXPECT_NE(m, nullptr);
    BurstOut o;
    uint8_t r = 0;
    workers[worker]->burst(&m, 1, o, &r);
    for (uint16_t i = 0; i < o.n_tx; i++) rte_pktmbuf_free(o.tx[i]);
    for (uint16_t i = 0; i < o.n_exc; i++) rte_pktmbuf_free(o.exc[i]);
    workers[worker]->quiescent();
    return sl_reason(r);
  }
  uint64_t hits(uint32_t id) {
    uint64_t n = 0;
    for (auto& w : workers) n += w->acl_hits(id);
    return n;
  }
  uint64_t conns() {
    uint64_t n = 0;
    for (auto& w : workers) n += w->conn_count();
    return n;
  }

  std::unique_ptr<Tables> tables;
  std::vector<std::unique_ptr<Worker>> workers;
};

TEST_F(Acl, GlobalDenyDropsBeforeTheConnectionTable) {
  put(rule(SL_ACL_SCOPE_GLOBAL, "198.19.0.0/16", SL_ACL_DENY, 7));
  // Without the VIP's flag the rules are not looked at.
  EXPECT_EQ(send("198.19.0.5", vipA, 1000), SL_R_TX_NEW);
  flags(lb::kVipA, 80, SL_VIP_F_ACL_GLOBAL);
  uint64_t before = conns();
  EXPECT_EQ(send("198.19.0.6", vipA, 1001), SL_R_DROP_ACL);
  EXPECT_EQ(send("198.19.200.1", vipA, 1002, 1), SL_R_DROP_ACL);
  EXPECT_EQ(conns(), before) << "a denied SYN creates no record";
  EXPECT_EQ(send("198.20.0.5", vipA, 1003), SL_R_TX_NEW) << "outside the prefix";
  EXPECT_EQ(hits(7), 2u);
  EXPECT_EQ(workers[0]->acl_hits(7), 1u);
  EXPECT_EQ(workers[1]->acl_hits(7), 1u);
  EXPECT_EQ(workers[0]->vip_counters(kVipA).packets, 3u) << "the VIP counts the drop";
}

// Same contract as the XDP program (SluiceAcl.EstablishedFlowIsJudgedOnce
// PerRuleChange): a rule change bumps the control word's generation, an
// established flow is judged once after it and then pays a compare.
TEST_F(Acl, EstablishedFlowIsJudgedOncePerRuleChange) {
  uint32_t s = scope_of(kVipA);
  put(rule(s, "198.18.0.0/15", SL_ACL_ALLOW, 3));
  flags(lb::kVipA, 80, SL_VIP_F_ACL);
  const L4 ack{6, 2000, 80, 0x10};
  EXPECT_EQ(send("198.19.0.5", vipA, 2000), SL_R_TX_NEW);
  EXPECT_EQ(send_l4("198.19.0.5", vipA, ack), SL_R_TX_HIT);
  EXPECT_EQ(send_l4("198.19.0.5", vipA, ack), SL_R_TX_HIT);
  EXPECT_EQ(hits(3), 1u) << "only the SYN was judged";
  const uint32_t gen = tables->control()->acl_gen;
  put(rule(s, "198.19.0.5/32", SL_ACL_DENY, 4));
  EXPECT_NE(tables->control()->acl_gen, gen);
  EXPECT_EQ(send_l4("198.19.0.5", vipA, ack), SL_R_DROP_ACL);
  EXPECT_EQ(send_l4("198.19.0.5", vipA, ack), SL_R_DROP_ACL);
  EXPECT_EQ(hits(4), 2u);
  ASSERT_TRUE(tables->acl_del(rule(s, "198.19.0.5/32", SL_ACL_DENY, 4)).ok());
  EXPECT_EQ(send_l4("198.19.0.5", vipA, ack), SL_R_TX_HIT);
  EXPECT_EQ(send_l4("198.19.0.5", vipA, ack), SL_R_TX_HIT);
  EXPECT_EQ(hits(3), 2u);
}

TEST_F(Acl, AllowListAdmitsOnlyItsSources) {
  uint32_t s = scope_of(kVipA);
  put(rule(s, "0.0.0.0/0", SL_ACL_DENY, 1));  // the controller's default deny
  put(rule(s, "198.19.0.0/24", SL_ACL_ALLOW, 2));
  flags(lb::kVipA, 80, SL_VIP_F_ACL);
  EXPECT_EQ(send("198.19.0.5", vipA, 2000), SL_R_TX_NEW);
  EXPECT_EQ(send("198.19.1.5", vipA, 2001), SL_R_DROP_ACL);
  EXPECT_EQ(send("198.18.200.1", vipA, 2002), SL_R_DROP_ACL);
  EXPECT_EQ(hits(1), 2u);
  EXPECT_EQ(hits(2), 1u) << "an allow that matched counts too";
  // Another VIP has no rules in this scope.
  EXPECT_EQ(send("198.18.200.1", vipB, 2003), SL_R_TX_NEW);
}

TEST_F(Acl, MostSpecificPrefixWins) {
  uint32_t g = SL_ACL_SCOPE_GLOBAL;
  put(rule(g, "198.19.0.0/16", SL_ACL_DENY, 10));
  put(rule(g, "198.19.4.0/22", SL_ACL_ALLOW, 11));
  put(rule(g, "198.19.5.0/24", SL_ACL_DENY, 12));
  put(rule(g, "198.19.5.7/32", SL_ACL_ALLOW, 13));
  flags(lb::kVipA, 80, SL_VIP_F_ACL_GLOBAL);
  EXPECT_EQ(send("198.19.9.1", vipA, 3000), SL_R_DROP_ACL);
  EXPECT_EQ(send("198.19.6.1", vipA, 3001), SL_R_TX_NEW);
  EXPECT_EQ(send("198.19.5.1", vipA, 3002), SL_R_DROP_ACL);
  EXPECT_EQ(send("198.19.5.7", vipA, 3003), SL_R_TX_NEW);
  for (uint32_t id = 10; id <= 13; id++) EXPECT_EQ(hits(id), 1u) << id;
}

TEST_F(Acl, VipScopeBeforeGlobal) {
  put(rule(SL_ACL_SCOPE_GLOBAL, "198.19.0.0/16", SL_ACL_DENY, 20));
  put(rule(scope_of(kVipA), "198.19.0.5/32", SL_ACL_ALLOW, 21));
  flags(lb::kVipA, 80, SL_VIP_F_ACL | SL_VIP_F_ACL_GLOBAL);
  flags(lb::kVipB, 80, SL_VIP_F_ACL_GLOBAL);
  // The VIP's own /32 decides although the global /16 also holds it.
  EXPECT_EQ(send("198.19.0.5", vipA, 4000), SL_R_TX_NEW);
  EXPECT_EQ(send("198.19.0.5", vipB, 4001), SL_R_DROP_ACL);
  // No rule of the VIP holds this one: the global scope decides.
  EXPECT_EQ(send("198.19.0.6", vipA, 4002), SL_R_DROP_ACL);
  EXPECT_EQ(hits(21), 1u);
  EXPECT_EQ(hits(20), 2u);
}

TEST_F(Acl, Ipv6AtEveryLengthWord) {
  uint32_t s = scope_of(kVipE);
  put(rule(s, "::/0", SL_ACL_DENY, 30));
  put(rule(s, "2001:2:ffff::/48", SL_ACL_ALLOW, 31));
  put(rule(s, "2001:2:ffff::100:0/112", SL_ACL_DENY, 32));  // a length in the second word
  put(rule(s, "2001:2:ffff::100:5/128", SL_ACL_ALLOW, 33));  // length 128: the third
  // An IPv4 rule in the same scope never matches IPv6 sources.
  put(rule(s, "0.0.0.0/0", SL_ACL_ALLOW, 34));
  flags(lb::kVipE, 80, SL_VIP_F_ACL);
  Addr vip = vipE;
  EXPECT_EQ(send("2001:2:ffff::5", vip, 5000), SL_R_TX_NEW);
  EXPECT_EQ(send("2001:2:fffe::5", vip, 5001), SL_R_DROP_ACL);
  EXPECT_EQ(send("2001:2:ffff::100:6", vip, 5002), SL_R_DROP_ACL);
  EXPECT_EQ(send("2001:2:ffff::100:5", vip, 5003), SL_R_TX_NEW);
  for (uint32_t id = 30; id <= 33; id++) EXPECT_EQ(hits(id), 1u) << id;
  EXPECT_EQ(hits(34), 0u);
}

TEST_F(Acl, ReplaceDeleteListAndResetUnderRcu) {
  uint32_t g = SL_ACL_SCOPE_GLOBAL;
  flags(lb::kVipA, 80, SL_VIP_F_ACL_GLOBAL);
  // Host bits are cleared: the rule is the /24's.
  put(rule(g, "198.19.0.77/24", SL_ACL_DENY, 40));
  EXPECT_EQ(send("198.19.0.5", vipA, 6000), SL_R_DROP_ACL);
  auto listed = tables->acl_list();
  ASSERT_EQ(listed.size(), 1u);
  EXPECT_TRUE(listed[0].same_key(rule(g, "198.19.0.0/24", SL_ACL_DENY, 40)));
  EXPECT_EQ(listed[0].rule.rule_id, 40u);
  // Same key, new action: replaced in place.
  put(rule(g, "198.19.0.0/24", SL_ACL_ALLOW, 40));
  EXPECT_EQ(send("198.19.0.5", vipA, 6001), SL_R_TX_NEW);
  EXPECT_EQ(tables->acl_list().size(), 1u);
  EXPECT_EQ(hits(40), 2u);
  for (auto& w : workers) w->acl_hits_reset(40);
  EXPECT_EQ(hits(40), 0u);
  put(rule(g, "198.19.0.0/24", SL_ACL_DENY, 40));
  EXPECT_EQ(send("198.19.0.5", vipA, 6002), SL_R_DROP_ACL);
  ASSERT_TRUE(tables->acl_del(rule(g, "198.19.0.0/24", SL_ACL_DENY, 40)).ok());
  ASSERT_TRUE(tables->acl_del(rule(g, "198.19.0.0/24", SL_ACL_DENY, 40)).ok()) << "absent: ok";
  EXPECT_EQ(send("198.19.0.5", vipA, 6003), SL_R_TX_NEW);
  EXPECT_TRUE(tables->acl_list().empty());
  // The old rules and the emptied trie nodes are freed once both workers
  // have passed a quiescent state (send() reports one each).
  send("198.20.0.1", vipA, 6004, 0);
  send("198.20.0.1", vipA, 6005, 1);
  EXPECT_EQ(tables->reclaim(), 0u);
  // The trie grows again where it was pruned.
  put(rule(g, "198.19.0.0/24", SL_ACL_DENY, 41));
  EXPECT_EQ(send("198.19.0.5", vipA, 6006), SL_R_DROP_ACL);
}

// The trie against a brute-force longest match, through random puts,
// replaces and deletes of nested prefixes in one scope, both families.
TEST_F(Acl, TrieMatchesBruteForceLongestPrefix) {
  std::mt19937 rng(7);
  for (uint8_t family : {uint8_t(SL_AF_INET), uint8_t(SL_AF_INET6)}) {
    const unsigned bits = family == SL_AF_INET ? 32 : 128;
    // Addresses near each other, so that prefixes nest and overlap.
    auto addr = [&] {
      std::array<uint32_t, 4> a{};
      for (unsigned i = 0; i < bits / 32; i++) a[i] = htonl(i + 1 < bits / 32 ? 0xc6130000u : rng() & 0x3ff);
      if (rng() % 4 == 0) a[0] ^= htonl(1u << (rng() % 32));
      return a;
    };
    auto covers = [&](const AclEntry& e, const std::array<uint32_t, 4>& a) {
      for (unsigned i = 0; i < 4 && e.prefix_len > 32 * i; i++) {
        unsigned b = std::min(32u, e.prefix_len - 32 * i);
        uint32_t m = htonl(~0u << (32 - b));
        if ((a[i] & m) != (e.addr[i] & m)) return false;
      }
      return true;
    };
    std::vector<AclEntry> model;
    size_t matched = 0;
    for (int step = 0; step < 400; step++) {
      if (!model.empty() && rng() % 3 == 0) {
        size_t i = rng() % model.size();
        ASSERT_TRUE(tables->acl_del(model[i]).ok());
        model.erase(model.begin() + long(i));
      } else {
        AclEntry e;
        e.scope = 3;
        e.family = family;
        unsigned top = bits == 32 ? 32 : 128;
        e.prefix_len = uint8_t(rng() % 5 == 0 ? rng() % (top + 1) : top - rng() % 14);
        auto a = addr();
        for (unsigned i = 0; i < 4; i++) {
          unsigned b = e.prefix_len > 32 * i ? std::min(32u, e.prefix_len - 32 * i) : 0;
          e.addr[i] = b ? a[i] & htonl(~0u << (32 - b)) : 0;
        }
        e.rule.rule_id = uint32_t(rng() % 1000);
        e.rule.action = uint8_t(rng() % 2 ? SL_ACL_ALLOW : SL_ACL_DENY);
        put(e);
        auto same = std::find_if(model.begin(), model.end(), [&](auto& m) { return m.same_key(e); });
        if (same != model.end()) *same = e;
        else model.push_back(e);
      }
      for (int probe = 0; probe < 20; probe++) {
        auto a = addr();
        const AclEntry* want = nullptr;
        for (const auto& m : model)
          if (covers(m, a) && (!want || m.prefix_len > want->prefix_len)) want = &m;
        sl_flow_key f{};
        f.family = family;
        std::memcpy(f.src, a.data(), sizeof(f.src));
        const sl_acl_rule* got = tables->acl(3, f);
        ASSERT_EQ(got != nullptr, want != nullptr) << "step " << step;
        if (want) {
          matched++;
          ASSERT_EQ(got->rule_id, want->rule.rule_id) << "step " << step << " /" << int(want->prefix_len);
          ASSERT_EQ(got->action, want->rule.action);
        }
      }
    }
    EXPECT_GT(matched, 1000u) << "the probes hit rules";
    ASSERT_EQ(tables->acl_list().size(), model.size());
    for (const auto& m : model) ASSERT_TRUE(tables->acl_del(m).ok());
    sl_flow_key f{};
    f.family = family;
    EXPECT_EQ(tables->acl(3, f), nullptr);
    EXPECT_TRUE(tables->acl_list().empty());
  }
}

TEST_F(Acl, InvalidEntriesAreRefused) {
  EXPECT_FALSE(tables->acl_put(rule(SL_ACL_SCOPE_GLOBAL, "198.19.0.0/33", SL_ACL_DENY, 1)).ok());
  EXPECT_FALSE(tables->acl_put(rule(SL_ACL_SCOPE_GLOBAL, "198.19.0.0/16", SL_ACL_DENY,
                                    SL_ACL_MAX_RULES)).ok());
  EXPECT_FALSE(tables->acl_put(rule(SL_MAX_VIPS + 1, "198.19.0.0/16", SL_ACL_DENY, 1)).ok());
  EXPECT_TRUE(tables->acl_list().empty());
}

}  // namespace
}  // namespace sluice::test
