// SPDX-License-Identifier: Apache-2.0
// The firewall trie's writer (xdp/xdp_acl_trie.h) and the shared walk
// (core/acl_trie.h) on plain memory, against a linear scan of the rules:
// most specific wins, per scope and family, through every stride, after
// any sequence of puts, replaces and deletes; nodes are given back; a full
// trie refuses with ENOSPC and changes nothing; sync mends a trie left by
// another writer. Every IPv4 lookup in the first SL_ACL_FAST_SCOPES scopes
// is also made the program's way, from the /16 table, and must agree.
#include "xdp/xdp_acl_trie.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>

#include <map>
#include <random>
#include <vector>

namespace {

struct HostNodes {
  const sl_acl_node* base;
  uint32_t n;
};

}  // namespace

static inline const struct sl_acl_node* sl_acl_node_at(const void* nodes, __u32 idx) {
  auto* h = static_cast<const HostNodes*>(nodes);
  return idx < h->n ? h->base + idx : nullptr;
}
#include "core/acl_trie.h"

namespace sluice {
namespace {

bool holds(const AclEntry& e, const std::array<uint32_t, 4>& src) {
  for (unsigned bit = 0; bit < e.prefix_len; bit++) {
    uint32_t a = ntohl(e.addr[bit / 32]), b = ntohl(src[bit / 32]);
    if (((a ^ b) >> (31 - bit % 32)) & 1) return false;
  }
  return true;
}

std::array<uint32_t, 4> cut(std::array<uint32_t, 4> a, unsigned len) {
  for (unsigned i = 0; i < 4; i++) {
    unsigned bits = len > 32 * i ? std::min(32u, len - 32 * i) : 0;
    a[i] = bits == 0 ? 0 : a[i] & htonl(uint32_t(~0ull << (32 - bits)));
  }
  return a;
}

// The rules as a map (scope, family, len, addr) -> rule, and the linear
// answer the trie must give.
using Held = std::map<std::tuple<uint32_t, uint8_t, uint8_t, std::array<uint32_t, 4>>, AclEntry>;

uint32_t oracle(const Held& held, uint32_t scope, uint8_t family,
                const std::array<uint32_t, 4>& src) {
  const AclEntry* best = nullptr;
  for (const auto& [k, e] : held)
    if (e.scope == scope && e.family == family && holds(e, src) &&
        (!best || e.prefix_len > best->prefix_len))
      best = &e;
  return sl_acl_verdict_of(best ? &best->rule : nullptr);
}

class AclTrieTest : public ::testing::Test {
 protected:
  void make(uint32_t capacity) {
    mem_.assign(capacity, sl_acl_node{});
    view_ = {mem_.data(), capacity};
    fast_.assign(SL_ACL_FAST_ENTRIES, 0);
    trie_ = std::make_unique<AclTrie>(mem_.data(), capacity, fast_.data());
    ASSERT_TRUE(trie_->sync({}).ok());
  }
  uint32_t lookup(uint32_t scope, uint8_t family, const std::array<uint32_t, 4>& src) const {
    uint32_t walk = sl_acl_trie_lookup(&view_, scope, family, src.data());
    if (family != SL_AF_INET || scope >= SL_ACL_FAST_SCOPES) return walk;
    uint32_t s = ntohl(src[0]);
    uint32_t fast = sl_acl_trie_lookup4_below16(&view_, fast_[sl_acl_fast_index(scope, s)], s);
    EXPECT_EQ(fast, walk) << "the /16 table and the walk disagree, scope " << scope;
    return fast;
  }
  static AclEntry entry(uint32_t scope, uint8_t family, std::array<uint32_t, 4> addr, unsigned len,
                        uint32_t id, sl_acl_action a) {
    AclEntry e;
    e.scope = scope;
    e.family = family;
    e.prefix_len = uint8_t(len);
    e.addr = cut(addr, len);
    e.rule.rule_id = id;
    e.rule.action = uint8_t(a);
    return e;
  }
  static AclEntry v4(uint32_t scope, const char* a, unsigned len, uint32_t id,
                     sl_acl_action act = SL_ACL_DENY) {
    std::array<uint32_t, 4> addr{};
    inet_pton(AF_INET, a, &addr[0]);
    return entry(scope, SL_AF_INET, addr, len, id, act);
  }
  static std::array<uint32_t, 4> ip4(const char* a) {
    std::array<uint32_t, 4> addr{};
    inet_pton(AF_INET, a, &addr[0]);
    return addr;
  }
  void put(const AclEntry& e) {
    ASSERT_TRUE(trie_->put(e).ok());
    held_[{e.scope, e.family, e.prefix_len, e.addr}] = e;
  }
  void del(const AclEntry& e) {
    ASSERT_TRUE(trie_->del(e).ok());
    held_.erase({e.scope, e.family, e.prefix_len, e.addr});
  }
  uint32_t expect4(uint32_t scope, const char* src) {
    return oracle(held_, scope, SL_AF_INET, ip4(src));
  }

  std::vector<sl_acl_node> mem_;
  std::vector<uint64_t> fast_;
  HostNodes view_{};
  std::unique_ptr<AclTrie> trie_;
  Held held_;
};

TEST_F(AclTrieTest, MostSpecificWinsAcrossStrides) {
  make(SL_ACL_FIRST_FREE_NODE + 64);
  put(v4(0, "10.0.0.0", 8, 1));
  put(v4(0, "10.1.0.0", 16, 2, SL_ACL_ALLOW));
  put(v4(0, "10.1.2.0", 23, 3));
  put(v4(0, "10.1.2.4", 30, 4, SL_ACL_ALLOW));
  put(v4(0, "10.1.2.5", 32, 5));
  for (const char* s : {"10.9.9.9", "10.1.9.9", "10.1.3.200", "10.1.2.6", "10.1.2.5", "11.0.0.1"})
    EXPECT_EQ(lookup(0, SL_AF_INET, ip4(s)), expect4(0, s)) << s;
  EXPECT_EQ(lookup(0, SL_AF_INET, ip4("10.1.2.5")), 5u << 2 | 3u) << "the /32 denies";
  EXPECT_EQ(lookup(0, SL_AF_INET, ip4("10.1.2.6")), (4u << 2 | 1u)) << "the /30 allows";
  EXPECT_EQ(lookup(0, SL_AF_INET, ip4("11.0.0.1")), 0u) << "no rule: none";
  EXPECT_EQ(lookup(1, SL_AF_INET, ip4("10.1.2.5")), 0u) << "another scope holds nothing";
}

TEST_F(AclTrieTest, DeleteUncoversTheShorterRule) {
  make(SL_ACL_FIRST_FREE_NODE + 64);
  put(v4(0, "192.0.0.0", 9, 1));  // level 8, same as the /10 and /12
  put(v4(0, "192.0.0.0", 10, 2));
  put(v4(0, "192.0.0.0", 12, 3));
  put(v4(0, "192.0.2.0", 24, 4));
  EXPECT_EQ(lookup(0, SL_AF_INET, ip4("192.0.2.1")), 4u << 2 | 3u);
  uint32_t nodes = trie_->nodes_used();
  del(v4(0, "192.0.2.0", 24, 4));
  EXPECT_EQ(lookup(0, SL_AF_INET, ip4("192.0.2.1")), 3u << 2 | 3u) << "the /12 again";
  EXPECT_LT(trie_->nodes_used(), nodes) << "the /24's nodes are unlinked";
  del(v4(0, "192.0.0.0", 12, 3));
  EXPECT_EQ(lookup(0, SL_AF_INET, ip4("192.0.2.1")), 2u << 2 | 3u) << "the /10, same level";
  EXPECT_EQ(lookup(0, SL_AF_INET, ip4("192.64.0.1")), 1u << 2 | 3u) << "the /9 only";
  del(v4(0, "192.0.0.0", 10, 2));
  del(v4(0, "192.0.0.0", 9, 1));
  EXPECT_EQ(lookup(0, SL_AF_INET, ip4("192.0.2.1")), 0u);
  EXPECT_EQ(trie_->nodes_used(), 0u);
  for (uint32_t i = 0; i < mem_.size(); i++)
    for (const auto& s : mem_[i].slot) ASSERT_TRUE(s.child == 0 && s.verdict == 0) << i;
}

TEST_F(AclTrieTest, DefaultRouteAndReplace) {
  make(SL_ACL_FIRST_FREE_NODE + 64);
  put(v4(3, "0.0.0.0", 0, 9));  // an allow list's default deny
  put(v4(3, "203.0.113.0", 24, 10, SL_ACL_ALLOW));
  EXPECT_EQ(lookup(3, SL_AF_INET, ip4("1.2.3.4")), 9u << 2 | 3u);
  EXPECT_EQ(lookup(3, SL_AF_INET, ip4("203.0.113.7")), 10u << 2 | 1u);
  put(v4(3, "203.0.113.0", 24, 11, SL_ACL_DENY));  // same prefix, new rule
  EXPECT_EQ(lookup(3, SL_AF_INET, ip4("203.0.113.7")), 11u << 2 | 3u);
  EXPECT_EQ(trie_->verdict(v4(3, "203.0.113.0", 24, 0)), 11u << 2 | 3u);
  EXPECT_EQ(lookup(3, SL_AF_INET6, ip4("1.2.3.4")), 0u) << "IPv6 is its own trie";
}

TEST_F(AclTrieTest, FullTrieRefusesAndChangesNothing) {
  make(SL_ACL_FIRST_FREE_NODE + 10);
  put(v4(0, "10.0.0.1", 32, 1));  // 7 nodes below the root
  const auto before = mem_;
  auto r = trie_->put(v4(0, "11.0.0.1", 32, 2));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().err, ENOSPC);
  EXPECT_EQ(std::memcmp(before.data(), mem_.data(), mem_.size() * sizeof(sl_acl_node)), 0);
  EXPECT_EQ(trie_->verdict(v4(0, "11.0.0.1", 32, 0)), 0u);
  put(v4(0, "10.0.0.0", 28, 3));  // its node is there: fits
  EXPECT_EQ(lookup(0, SL_AF_INET, ip4("10.0.0.2")), 3u << 2 | 3u);
  del(v4(0, "10.0.0.1", 32, 1));
  del(v4(0, "10.0.0.0", 28, 3));
  put(v4(0, "11.0.0.1", 32, 2));  // the freed nodes, after their quarantine
  EXPECT_EQ(lookup(0, SL_AF_INET, ip4("11.0.0.1")), 2u << 2 | 3u);
}

TEST_F(AclTrieTest, RandomChangesMatchALinearScan) {
  make(SL_ACL_FIRST_FREE_NODE + 60000);
  std::mt19937 rng(7);
  // Few distinct high bits, so prefixes nest and share nodes.
  auto addr_of = [&](uint8_t fam) {
    std::array<uint32_t, 4> a{};
    for (auto& w : a) w = htonl((rng() & 0xc0c0f0ffu) | 0x0a000000u);
    if (fam == SL_AF_INET) a[1] = a[2] = a[3] = 0;
    return a;
  };
  std::vector<AclEntry> live;
  for (int step = 0; step < 3000; step++) {
    int op = int(rng() % 10);
    if (op < 6 || live.empty()) {
      uint8_t fam = rng() % 4 == 0 ? SL_AF_INET6 : SL_AF_INET;
      unsigned len = rng() % ((fam == SL_AF_INET ? 32 : 128) + 1);
      auto e = entry(rng() % 3, fam, addr_of(fam), len, rng() % SL_ACL_MAX_RULES,
                     rng() % 2 ? SL_ACL_DENY : SL_ACL_ALLOW);
      put(e);
      live.push_back(e);
    } else {
      size_t i = rng() % live.size();
      del(live[i]);
      live.erase(live.begin() + long(i));
    }
    for (int probe = 0; probe < 8; probe++) {
      uint8_t fam = probe % 2 ? SL_AF_INET6 : SL_AF_INET;
      auto src = addr_of(fam);
      if (probe < 4 && !live.empty()) {  // a source inside a rule
        const auto& e = live[rng() % live.size()];
        fam = e.family;
        src = e.addr;
        if (fam == SL_AF_INET) src[0] ^= htonl(rng() >> std::min(e.prefix_len, uint8_t(31)) >> 1);
      }
      uint32_t scope = rng() % 3;
      ASSERT_EQ(lookup(scope, fam, src), oracle(held_, scope, fam, src)) << "step " << step;
    }
  }
  // A second writer adopting the same nodes (a restarted controller) sees
  // the same trie; told fewer rules, it drops the others.
  std::vector<AclEntry> rules;
  for (const auto& [k, e] : held_) rules.push_back(e);
  AclTrie again(mem_.data(), uint32_t(mem_.size()), fast_.data());
  ASSERT_TRUE(again.sync(rules).ok());
  EXPECT_EQ(again.nodes_used(), trie_->nodes_used());
  while (held_.size() > rules.size() / 2) held_.erase(held_.begin());
  rules.clear();
  for (const auto& [k, e] : held_) rules.push_back(e);
  ASSERT_TRUE(again.sync(rules).ok());
  for (int probe = 0; probe < 2000; probe++) {
    const auto& e = live[rng() % live.size()];
    ASSERT_EQ(lookup(e.scope, e.family, e.addr), oracle(held_, e.scope, e.family, e.addr));
  }
  // Every rule gone: every node back.
  ASSERT_TRUE(again.sync({}).ok());
  EXPECT_EQ(again.nodes_used(), 0u);
}

// Short prefixes reach every /16 they cover; a /16's node link comes and
// goes with the longer rules under it; scopes past the tables walk.
TEST_F(AclTrieTest, SlashSixteenTablesFollowTheTrie) {
  make(SL_ACL_FIRST_FREE_NODE + 64);
  put(v4(0, "0.0.0.0", 0, 1, SL_ACL_ALLOW));
  put(v4(0, "10.0.0.0", 7, 2));
  put(v4(0, "11.16.0.0", 12, 3, SL_ACL_ALLOW));
  put(v4(0, "11.17.0.0", 16, 4));
  put(v4(0, "11.17.2.3", 32, 5, SL_ACL_ALLOW));
  put(v4(SL_ACL_FAST_SCOPES, "11.17.2.3", 32, 6));
  for (const char* s : {"1.2.3.4", "10.200.0.1", "11.16.9.9", "11.17.2.3", "11.17.2.4", "11.31.0.1"})
    EXPECT_EQ(lookup(0, SL_AF_INET, ip4(s)), expect4(0, s)) << s;
  EXPECT_EQ(lookup(SL_ACL_FAST_SCOPES, SL_AF_INET, ip4("11.17.2.3")), 6u << 2 | 3u);
  const uint32_t i = sl_acl_fast_index(0, ntohl(ip4("11.17.0.0")[0]));
  EXPECT_NE(sl_acl_fast_child(fast_[i]), 0u) << "the /32 below links a node";
  del(v4(0, "11.17.2.3", 32, 5));
  EXPECT_EQ(sl_acl_fast_child(fast_[i]), 0u) << "gone with the rule";
  EXPECT_EQ(sl_acl_fast_verdict(fast_[i]), 4u << 2 | 3u);
  del(v4(0, "0.0.0.0", 0, 1));
  EXPECT_EQ(fast_[sl_acl_fast_index(0, ntohl(ip4("1.2.3.4")[0]))], 0u);
}

TEST_F(AclTrieTest, SyncFillsFreshNodesAndCutsBadLinks) {
  make(SL_ACL_FIRST_FREE_NODE + 64);
  mem_[sl_acl_root(0, SL_AF_INET)].slot[1].child = 5;     // a link to a root
  mem_[SL_ACL_FIRST_FREE_NODE + 3].slot[0].verdict = 77;  // unlinked junk
  std::vector<AclEntry> rules{v4(0, "10.0.0.0", 8, 1), v4(0, "10.1.2.3", 32, 2)};
  AclTrie t(mem_.data(), uint32_t(mem_.size()), fast_.data());
  ASSERT_TRUE(t.sync(rules).ok());
  for (const auto& e : rules) held_[{e.scope, e.family, e.prefix_len, e.addr}] = e;
  EXPECT_EQ(mem_[sl_acl_root(0, SL_AF_INET)].slot[1].child, 0u);
  for (const char* s : {"10.1.2.3", "10.1.2.4", "16.0.0.1"})
    EXPECT_EQ(lookup(0, SL_AF_INET, ip4(s)), expect4(0, s)) << s;
  EXPECT_EQ(t.nodes_used(), 7u);
}

}  // namespace
}  // namespace sluice
