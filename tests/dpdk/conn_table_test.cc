// SPDX-License-Identifier: Apache-2.0
// The worker's connection table alone: collisions in one bucket (spills to
// the second, equal signatures), the eviction order of a full table and of
// two full buckets, delete and reuse, the staged lookup across changes, a listing that reads while the
// writer rewrites, IPv6 keys, a table of one record.
#include "dataplane/dpdk/conn_table.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>

#include <atomic>
#include <map>
#include <thread>
#include <vector>

#include "tests/dpdk/dpdk_test_env.h"

namespace sluice::dpdk {

struct ConnTableProbe {
  static uint32_t hash(const sl_flow_key& k) { return ConnTable::hash(k); }
  static uint32_t first(const ConnTable& t, const sl_flow_key& k) { return t.first_bucket(hash(k)); }
  static uint32_t second(const ConnTable& t, const sl_flow_key& k) {
    return t.second_bucket(hash(k));
  }
  static uint32_t buckets(const ConnTable& t) { return t.mask_ + 1; }
  static const ConnBucket& bucket(const ConnTable& t, uint32_t i) { return t.buckets_[i]; }
};

namespace {

using Probe = ConnTableProbe;

sl_flow_key key4(uint32_t src, uint16_t sport) {
  sl_flow_key k{};
  k.src[0] = htonl(0xc6130000u | (src & 0xffffu));  // 198.19.0.0/16
  k.dst[0] = htonl(0xc6120064u);                   // 198.18.0.100
  k.sport = htons(sport);
  k.dport = htons(80);
  k.proto = 6;
  k.family = SL_AF_INET;
  return k;
}

sl_flow_key key6(uint32_t low, uint32_t high) {
  sl_flow_key k{};
  k.src[0] = htonl(0x20010002u);  // 2001:2::/48
  k.src[1] = htonl(high);
  k.src[3] = htonl(low);
  k.dst[0] = htonl(0x20010002u);
  k.dst[3] = htonl(0x100);
  k.sport = htons(40000);
  k.dport = htons(80);
  k.proto = 6;
  k.family = SL_AF_INET6;
  return k;
}

sl_conn conn(uint32_t backend, uint64_t created) {
  sl_conn c{};
  c.backend = backend;
  c.gen = 1;
  c.created_ns = created;
  return c;
}

std::unique_ptr<ConnTable> make(uint32_t capacity) {
  auto t = ConnTable::create(capacity, SOCKET_ID_ANY);
  if (!t.ok()) return nullptr;
  return std::move(*t);
}

struct ConnTableTest : ::testing::Test {
  void SetUp() override { SL_REQUIRE_EAL(); }
  unsigned ev = 0;
};

TEST_F(ConnTableTest, TableOfOne) {
  auto t = make(1);
  ASSERT_TRUE(t);
  sl_flow_key a = key4(1, 1000), b = key4(2, 1000);
  EXPECT_EQ(t->insert(a, conn(1, 10), kConfirmed, ev), 0);
  EXPECT_EQ(t->insert(a, conn(2, 11), kConfirmed, ev), -EEXIST);
  EXPECT_EQ(t->at(t->lookup(a)).conn.backend, 1u) << "present: left as it is";
  EXPECT_EQ(t->insert(b, conn(2, 20), kConfirmed, ev), 0) << "full: the one record evicted";
  EXPECT_EQ(ev, 1u);
  EXPECT_EQ(t->lookup(a), ConnTable::kNoPos);
  EXPECT_EQ(t->lookup(b), 0u);
  EXPECT_EQ(t->count(), 1u);
  // A SYN does not evict a confirmed record.
  EXPECT_EQ(t->insert(a, conn(1, 30), kUnconfirmed, ev), -ENOSPC);
  EXPECT_EQ(t->lookup(b), 0u);
  EXPECT_TRUE(t->remove(b));
  EXPECT_FALSE(t->remove(b));
  EXPECT_EQ(t->count(), 0u);
  EXPECT_EQ(t->insert(a, conn(1, 40), kUnconfirmed, ev), 0);
}

TEST_F(ConnTableTest, CollisionsInOneBucketSpillAndAreFound) {
  auto t = make(256);
  ASSERT_TRUE(t);
  ASSERT_EQ(Probe::buckets(*t), 64u);
  // Twelve keys whose first bucket is 0: eight fill it, four spill.
  std::vector<sl_flow_key> keys;
  for (uint16_t p = 1; keys.size() < 12; p++) {
    sl_flow_key k = key4(7, p);
    if (Probe::first(*t, k) == 0 && Probe::second(*t, k) != 0) keys.push_back(k);
  }
  for (uint32_t i = 0; i < keys.size(); i++)
    ASSERT_EQ(t->insert(keys[i], conn(i, i), kConfirmed, ev), int32_t(i));
  EXPECT_EQ(ev, 0u);
  EXPECT_EQ(Probe::bucket(*t, 0).spilled, 4u);
  std::vector<const sl_flow_key*> kp;
  for (auto& k : keys) kp.push_back(&k);
  std::vector<uint32_t> pos(keys.size());
  t->lookup_bulk(kp.data(), uint32_t(kp.size()), pos.data());
  for (uint32_t i = 0; i < keys.size(); i++) {
    EXPECT_EQ(t->lookup(keys[i]), i);
    EXPECT_EQ(pos[i], i);
  }
  // Spilled keys removed: the first bucket no longer sends lookups on.
  for (uint32_t i = 8; i < 12; i++) ASSERT_TRUE(t->remove(keys[i]));
  EXPECT_EQ(Probe::bucket(*t, 0).spilled, 0u);
  for (uint32_t i = 0; i < 8; i++) EXPECT_EQ(t->lookup(keys[i]), i);
  for (uint32_t i = 8; i < 12; i++) EXPECT_EQ(t->lookup(keys[i]), ConnTable::kNoPos);
}

TEST_F(ConnTableTest, EqualSignaturesInOneBucketAreToldApartByTheKey) {
  auto t = make(256);
  ASSERT_TRUE(t);
  // Two keys with the same first bucket and the same 16-bit signature.
  std::map<uint32_t, sl_flow_key> seen;
  sl_flow_key a{}, b{};
  bool found = false;
  // CRC is linear: keys that differ in 22 bits or fewer never share the 22
  // bits compared here, so the keys are drawn at random from 198.18.0.0/15
  // and every port.
  uint64_t x = 0x9e3779b97f4a7c15ull;
  for (uint32_t i = 0; i < (1u << 22) && !found; i++) {
    x ^= x << 13, x ^= x >> 7, x ^= x << 17;
    sl_flow_key k = key4(0, uint16_t(x >> 20));
    k.src[0] = htonl(0xc6120000u | uint32_t(x & 0x1ffff));
    uint32_t h = Probe::hash(k);
    uint32_t id = (h >> 16) << 6 | Probe::first(*t, k);
    auto [it, fresh] = seen.emplace(id, k);
    if (!fresh) a = it->second, b = k, found = true;
  }
  ASSERT_TRUE(found);
  ASSERT_EQ(t->insert(a, conn(1, 1), kConfirmed, ev), 0);
  EXPECT_EQ(t->lookup(b), ConnTable::kNoPos);
  ASSERT_EQ(t->insert(b, conn(2, 2), kConfirmed, ev), 1);
  EXPECT_EQ(t->at(t->lookup(a)).conn.backend, 1u);
  EXPECT_EQ(t->at(t->lookup(b)).conn.backend, 2u);
  const sl_flow_key* kp[2] = {&b, &a};
  uint32_t pos[2];
  t->lookup_bulk(kp, 2, pos);
  EXPECT_EQ(pos[0], 1u);
  EXPECT_EQ(pos[1], 0u);
  ASSERT_TRUE(t->remove(a));
  EXPECT_EQ(t->lookup(b), 1u);
}

TEST_F(ConnTableTest, FullTableEvictsTheOldestUnderTheClockHand) {
  auto t = make(8);
  ASSERT_TRUE(t);
  // Positions 0..7; the oldest is at 5, the next oldest at 2.
  const uint64_t created[8] = {50, 60, 20, 70, 80, 10, 90, 95};
  for (uint32_t i = 0; i < 8; i++)
    ASSERT_EQ(t->insert(key4(i, 1000), conn(i, created[i]), kConfirmed, ev), int32_t(i));
  EXPECT_EQ(ev, 0u);
  EXPECT_EQ(t->insert(key4(100, 1000), conn(0, 100), kConfirmed, ev), 5);
  EXPECT_EQ(ev, 1u);
  EXPECT_EQ(t->lookup(key4(5, 1000)), ConnTable::kNoPos);
  EXPECT_EQ(t->insert(key4(101, 1000), conn(0, 101), kConfirmed, ev), 2);
  EXPECT_EQ(t->lookup(key4(2, 1000)), ConnTable::kNoPos);
  EXPECT_EQ(t->count(), 8u);
  // A SYN gives up only an unconfirmed record: none, so it is not recorded.
  EXPECT_EQ(t->insert(key4(102, 1000), conn(0, 102), kUnconfirmed, ev), -ENOSPC);
  EXPECT_EQ(t->count(), 8u);
  // Unconfirmed first: the newest record, unconfirmed, goes before older
  // confirmed ones.
  t->write(7, kUnconfirmed, nullptr);
  EXPECT_EQ(t->insert(key4(103, 1000), conn(0, 103), kUnconfirmed, ev), 7);
  EXPECT_EQ(t->lookup(key4(7, 1000)), ConnTable::kNoPos);
  EXPECT_EQ(t->at(7).used, kUnconfirmed);
  EXPECT_EQ(ev, 3u);
}

TEST_F(ConnTableTest, TwoFullBucketsEvictTheirOldest) {
  auto t = make(64);
  ASSERT_TRUE(t);
  ASSERT_EQ(Probe::buckets(*t), 16u);
  // Keys whose two buckets are both bucket 0: eight fit, the ninth evicts
  // the oldest of them though the table has room.
  std::vector<sl_flow_key> keys;
  for (uint32_t i = 0; keys.size() < 9 && i < (1u << 20); i++) {
    sl_flow_key k = key4(i & 0xffff, uint16_t(1024 + (i >> 16)));
    if (Probe::first(*t, k) == 0 && Probe::second(*t, k) == 0) keys.push_back(k);
  }
  ASSERT_EQ(keys.size(), 9u);
  const uint64_t created[8] = {5, 3, 8, 1, 9, 7, 6, 4};
  for (uint32_t i = 0; i < 8; i++)
    ASSERT_EQ(t->insert(keys[i], conn(i, created[i]), kConfirmed, ev), int32_t(i));
  EXPECT_GE(t->insert(keys[8], conn(8, 10), kConfirmed, ev), 0);
  EXPECT_EQ(ev, 1u);
  EXPECT_EQ(t->lookup(keys[3]), ConnTable::kNoPos) << "the oldest (created 1)";
  for (uint32_t i = 0; i < 9; i++)
    if (i != 3) {
      EXPECT_NE(t->lookup(keys[i]), ConnTable::kNoPos) << i;
    }
  EXPECT_EQ(t->count(), 8u);
}

TEST_F(ConnTableTest, DeleteThenReuse) {
  auto t = make(16);
  ASSERT_TRUE(t);
  sl_flow_key a = key4(1, 1), b = key4(2, 2), c = key4(3, 3);
  ASSERT_EQ(t->insert(a, conn(1, 1), kConfirmed, ev), 0);
  ASSERT_EQ(t->insert(b, conn(2, 2), kConfirmed, ev), 1);
  ASSERT_TRUE(t->remove(a));
  sl_flow_key rk;
  sl_conn rc;
  EXPECT_FALSE(t->read(0, rk, rc)) << "a free position is not listed";
  EXPECT_EQ(t->insert(c, conn(3, 3), kConfirmed, ev), 0) << "the freed position";
  ASSERT_TRUE(t->read(0, rk, rc));
  EXPECT_EQ(0, std::memcmp(&rk, &c, sizeof(c)));
  sl_flow_key kc = t->key_at(0);
  EXPECT_EQ(0, std::memcmp(&kc, &c, sizeof(c)));
  EXPECT_EQ(rc.backend, 3u);
  EXPECT_EQ(t->lookup(a), ConnTable::kNoPos);
  EXPECT_EQ(t->lookup(b), 1u);
  EXPECT_EQ(t->count(), 2u);
  // Unconfirmed records are not listed.
  t->write(0, kUnconfirmed, nullptr);
  EXPECT_FALSE(t->read(0, rk, rc));
}

// The worker's staged lookup across the writer's own changes between the
// stages: a flow recorded after start is found, a record removed (or its
// position reused by another flow) after match is not, and a flow removed
// and recorded again is found where it is now.
TEST_F(ConnTableTest, StagedLookupAnswersForTheTableAtFinish) {
  auto t = make(16);
  ASSERT_TRUE(t);
  sl_flow_key a = key4(1, 1), b = key4(2, 2), c = key4(3, 3);
  ConnTable::Staged s;

  t->start(s, a);
  t->match(s);
  EXPECT_EQ(t->finish(s, a), ConnTable::kNoPos);
  t->start(s, a);
  t->match(s);
  ASSERT_EQ(t->insert(a, conn(1, 1), kConfirmed, ev), 0);
  EXPECT_EQ(t->finish(s, a), 0u) << "recorded after match: the miss is looked up again";

  t->start(s, a);
  t->match(s);
  ASSERT_TRUE(t->remove(a));
  EXPECT_EQ(t->finish(s, a), ConnTable::kNoPos) << "removed after match: the freed record";

  ASSERT_EQ(t->insert(a, conn(1, 2), kConfirmed, ev), 0);
  t->start(s, a);
  t->match(s);
  ASSERT_TRUE(t->remove(a));
  ASSERT_EQ(t->insert(b, conn(2, 3), kConfirmed, ev), 0) << "b takes a's position";
  EXPECT_EQ(t->finish(s, a), ConnTable::kNoPos) << "the position now holds b";
  ASSERT_EQ(t->insert(c, conn(3, 4), kConfirmed, ev), 1);
  ASSERT_EQ(t->insert(a, conn(1, 5), kConfirmed, ev), 2);
  EXPECT_EQ(t->finish(s, a), 2u) << "recorded again elsewhere";
  EXPECT_EQ(t->at(t->finish(s, a)).conn.created_ns, 5u);
}

TEST_F(ConnTableTest, Ipv6KeysDifferingInAnyWordAreDistinct) {
  auto t = make(64);
  ASSERT_TRUE(t);
  std::vector<sl_flow_key> keys = {key6(5, 0), key6(5, 1), key6(6, 0), key6(6, 1)};
  sl_flow_key v4 = key4(5, 40000);
  keys.push_back(v4);
  for (uint32_t i = 0; i < keys.size(); i++)
    ASSERT_EQ(t->insert(keys[i], conn(i, i), kConfirmed, ev), int32_t(i));
  for (uint32_t i = 0; i < keys.size(); i++) {
    uint32_t p = t->lookup(keys[i]);
    ASSERT_NE(p, ConnTable::kNoPos) << i;
    EXPECT_EQ(t->at(p).conn.backend, i);
    sl_flow_key k;
    sl_conn c;
    ASSERT_TRUE(t->read(p, k, c));
    EXPECT_EQ(0, std::memcmp(&k, &keys[i], sizeof(k))) << "listed with its whole key";
  }
  std::vector<const sl_flow_key*> kp;
  for (auto& k : keys) kp.push_back(&k);
  std::vector<uint32_t> pos(keys.size());
  t->lookup_bulk(kp.data(), uint32_t(kp.size()), pos.data());
  for (uint32_t i = 0; i < keys.size(); i++) EXPECT_EQ(pos[i], i);
  sl_flow_key other = key6(5, 0);
  other.dst[2] = 1;
  EXPECT_EQ(t->lookup(other), ConnTable::kNoPos);
  // An IPv4 key with a stray upper word is another key.
  sl_flow_key odd = v4;
  odd.src[3] = 1;
  EXPECT_EQ(t->lookup(odd), ConnTable::kNoPos);
  ASSERT_GE(t->insert(odd, conn(9, 9), kConfirmed, ev), 0);
  EXPECT_EQ(t->at(t->lookup(odd)).conn.backend, 9u);
  EXPECT_EQ(t->at(t->lookup(v4)).conn.backend, 4u);
}

// A reader listing by position while the writer deletes and reinserts
// flows into the same positions: every record read has the key and the
// connection of one flow (backend = source port).
TEST_F(ConnTableTest, ListingWhileTheWriterRewritesNeverMixesRecords) {
  auto t = make(64);
  ASSERT_TRUE(t);
  std::atomic<bool> stop{false};
  std::atomic<uint64_t> reads{0}, mixed{0};
  std::thread reader([&] {
    sl_flow_key k;
    sl_conn c;
    while (!stop.load(std::memory_order_relaxed))
      for (uint32_t p = 0; p < 64; p++)
        if (t->read(p, k, c)) {
          reads.fetch_add(1, std::memory_order_relaxed);
          if (c.backend != ntohs(k.sport) || c.created_ns != ntohl(k.src[0])) mixed.fetch_add(1);
        }
  });
  for (uint32_t round = 0; round < 20000 || reads.load() < 1000; round++) {
    for (uint32_t i = 0; i < 48; i++) {
      uint16_t port = uint16_t(1 + (round * 48 + i) % 60000);
      sl_flow_key k = key4(round & 0xff, port);
      sl_conn c = conn(port, ntohl(k.src[0]));
      if (t->insert(k, c, kConfirmed, ev) < 0) continue;
    }
    for (uint32_t i = 0; i < 48; i++) {
      uint16_t port = uint16_t(1 + (round * 48 + i) % 60000);
      t->remove(key4(round & 0xff, port));
    }
    if (round > 2000000) break;
  }
  stop = true;
  reader.join();
  EXPECT_GT(reads.load(), 0u);
  EXPECT_EQ(mixed.load(), 0u);
  EXPECT_EQ(t->count(), 0u);
}

}  // namespace
}  // namespace sluice::dpdk
