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
  static uint32_t buckets(const ConnTable& t) { return t.n_buckets_; }
  static uint32_t bucket_of(uint32_t pos) { return ConnTable::bucket_of(pos); }
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

// The hand reads windows of kEvictWindow positions. A table of one record
// has one bucket (15 positions) and its record at position 0: the hand
// starts windows at 0, 12, 9, 6, 3, 0, ..., and the window from 3 (3..14)
// holds no record, so that eviction reads the next window too.
TEST_F(ConnTableTest, TheHandReadsOnPastAWindowWithoutRecords) {
  static_assert(ConnTable::kEvictWindow == 12, "the hand's starts below");
  auto t = make(1);
  ASSERT_TRUE(t);
  ASSERT_EQ(t->slots(), 15u);
  ASSERT_EQ(t->insert(key4(0, 1000), conn(0, 1), kConfirmed, ev), 0);
  for (uint32_t i = 1; i <= 6; i++) {
    EXPECT_EQ(t->insert(key4(i, 1000), conn(i, 1 + i), kConfirmed, ev), 0) << i;
    EXPECT_EQ(t->lookup(key4(i - 1, 1000)), ConnTable::kNoPos) << i;
    EXPECT_EQ(ev, i);
  }
  EXPECT_EQ(t->count(), 1u);
}

TEST_F(ConnTableTest, CollisionsInOneBucketSpillAndAreFound) {
  auto t = make(256);
  ASSERT_TRUE(t);
  ASSERT_EQ(Probe::buckets(*t), 25u);
  ASSERT_EQ(t->slots(), 375u);
  // Eighteen keys whose first bucket is 0: fifteen fill it, three spill.
  std::vector<sl_flow_key> keys;
  for (uint16_t p = 1; keys.size() < 18; p++) {
    sl_flow_key k = key4(7, p);
    if (Probe::first(*t, k) == 0 && Probe::second(*t, k) != 0) keys.push_back(k);
  }
  std::vector<uint32_t> at(keys.size());
  for (uint32_t i = 0; i < keys.size(); i++) {
    int32_t p = t->insert(keys[i], conn(i, i), kConfirmed, ev);
    ASSERT_GE(p, 0);
    at[i] = uint32_t(p);
    if (i < 15) {
      EXPECT_EQ(at[i], i) << "way i of bucket 0";
    } else {
      EXPECT_EQ(Probe::bucket_of(at[i]), Probe::second(*t, keys[i])) << "spilled to its second";
    }
  }
  EXPECT_EQ(ev, 0u);
  EXPECT_EQ(Probe::bucket(*t, 0).spilled, 3u);
  std::vector<const sl_flow_key*> kp;
  for (auto& k : keys) kp.push_back(&k);
  std::vector<uint32_t> pos(keys.size());
  t->lookup_bulk(kp.data(), uint32_t(kp.size()), pos.data());
  for (uint32_t i = 0; i < keys.size(); i++) {
    EXPECT_EQ(t->lookup(keys[i]), at[i]);
    EXPECT_EQ(pos[i], at[i]);
  }
  // Spilled keys removed: the first bucket no longer sends lookups on.
  for (uint32_t i = 15; i < 18; i++) ASSERT_TRUE(t->remove(keys[i]));
  EXPECT_EQ(Probe::bucket(*t, 0).spilled, 0u);
  for (uint32_t i = 0; i < 15; i++) EXPECT_EQ(t->lookup(keys[i]), i);
  for (uint32_t i = 15; i < 18; i++) EXPECT_EQ(t->lookup(keys[i]), ConnTable::kNoPos);
  EXPECT_EQ(t->count(), 15u);
}

TEST_F(ConnTableTest, EqualSignaturesInOneBucketAreToldApartByTheKey) {
  auto t = make(256);
  ASSERT_TRUE(t);
  // Two keys with the same first bucket and the same 16-bit signature.
  std::map<uint32_t, sl_flow_key> seen;
  sl_flow_key a{}, b{};
  bool found = false;
  // CRC is linear: keys that differ in few bits never share the bits
  // compared here (the low 16, and the high ones through the bucket), so
  // the keys are drawn at random from 198.18.0.0/15 and every port.
  uint64_t x = 0x9e3779b97f4a7c15ull;
  for (uint32_t i = 0; i < (1u << 22) && !found; i++) {
    x ^= x << 13, x ^= x >> 7, x ^= x << 17;
    sl_flow_key k = key4(0, uint16_t(x >> 20));
    k.src[0] = htonl(0xc6120000u | uint32_t(x & 0x1ffff));
    uint32_t h = Probe::hash(k);
    uint32_t id = (h & 0xffff) << 8 | Probe::first(*t, k);
    auto [it, fresh] = seen.emplace(id, k);
    if (!fresh) a = it->second, b = k, found = true;
  }
  ASSERT_TRUE(found);
  const uint32_t pa = Probe::first(*t, a) * ConnBucket::kWays;
  ASSERT_EQ(t->insert(a, conn(1, 1), kConfirmed, ev), int32_t(pa));
  EXPECT_EQ(t->lookup(b), ConnTable::kNoPos);
  ASSERT_EQ(t->insert(b, conn(2, 2), kConfirmed, ev), int32_t(pa + 1)) << "the next way";
  EXPECT_EQ(t->at(t->lookup(a)).conn.backend, 1u);
  EXPECT_EQ(t->at(t->lookup(b)).conn.backend, 2u);
  const sl_flow_key* kp[2] = {&b, &a};
  uint32_t pos[2];
  t->lookup_bulk(kp, 2, pos);
  EXPECT_EQ(pos[0], pa + 1);
  EXPECT_EQ(pos[1], pa);
  ASSERT_TRUE(t->remove(a));
  EXPECT_EQ(t->lookup(b), pa + 1);
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

// The hand's minimum packs each record's place in the window under its
// created_ns: ties go to the earlier place, in a window that wraps as in
// one that does not, and clocks far from zero (either side of 2^59) order
// as they are.
TEST_F(ConnTableTest, TheHandsOldestTiesToTheFirstAndLargeClocksOrder) {
  auto t = make(8);
  ASSERT_TRUE(t);
  const uint64_t base = uint64_t(1) << 59;  // past any uptime, below the 2^60 the packing keeps
  const uint64_t created[8] = {base + 7, base + 3, base + 3, base + 9,
                               base - 1, base + 8, base + 6, base + 5};
  for (uint32_t i = 0; i < 8; i++)
    ASSERT_EQ(t->insert(key4(i, 1000), conn(i, created[i]), kConfirmed, ev), int32_t(i));
  EXPECT_EQ(t->insert(key4(100, 1000), conn(0, base + 100), kConfirmed, ev), 4) << "below 2^59";
  // The window from 12 wraps: 12, 13, 14, 0, 1, ..., 8.
  EXPECT_EQ(t->insert(key4(101, 1000), conn(0, base + 101), kConfirmed, ev), 1) << "a tie: the first";
  EXPECT_EQ(t->lookup(key4(2, 1000)), 2u);
  // From 9: 9..14, 0..5; from 6: 6..14, 0..2.
  EXPECT_EQ(t->insert(key4(102, 1000), conn(0, base + 102), kConfirmed, ev), 2) << "then the other";
  EXPECT_EQ(t->insert(key4(103, 1000), conn(0, base + 103), kConfirmed, ev), 7);
  EXPECT_EQ(ev, 4u);
  EXPECT_EQ(t->count(), 8u);
}

// A staged miss's hash records the key without a second lookup, where a
// full lookup finds it; a full table evicts for it as insert() does.
TEST_F(ConnTableTest, InsertAbsentRecordsByTheMissesHash) {
  auto t = make(8);
  ASSERT_TRUE(t);
  ConnTable::Staged s;
  for (uint32_t i = 0; i < 9; i++) {
    sl_flow_key k = key4(i, 2000);
    t->start(s, k);
    t->match(s);
    ASSERT_EQ(t->finish(s, k), ConnTable::kNoPos);
    ASSERT_EQ(s.h, Probe::hash(k));
    int32_t p = t->insert_absent(k, s.h, conn(i, 10 + i), kConfirmed, ev);
    ASSERT_GE(p, 0) << i;
    EXPECT_EQ(t->lookup(k), uint32_t(p)) << i;
    EXPECT_EQ(t->insert(k, conn(i, 10 + i), kConfirmed, ev), -EEXIST) << i;
  }
  EXPECT_EQ(t->count(), 8u);
  EXPECT_EQ(ev, 1u);
  EXPECT_EQ(t->lookup(key4(0, 2000)), ConnTable::kNoPos) << "the oldest went for the ninth";
}

TEST_F(ConnTableTest, TwoFullBucketsEvictTheirOldest) {
  auto t = make(64);
  ASSERT_TRUE(t);
  ASSERT_EQ(Probe::buckets(*t), 7u);
  // Keys whose two buckets are both bucket 0: fifteen fit, the sixteenth
  // evicts the oldest of them though the table has room.
  std::vector<sl_flow_key> keys;
  for (uint32_t i = 0; keys.size() < 16 && i < (1u << 20); i++) {
    sl_flow_key k = key4(i & 0xffff, uint16_t(1024 + (i >> 16)));
    if (Probe::first(*t, k) == 0 && Probe::second(*t, k) == 0) keys.push_back(k);
  }
  ASSERT_EQ(keys.size(), 16u);
  const uint64_t created[15] = {5, 3, 8, 11, 9, 7, 6, 4, 12, 1, 13, 14, 2, 15, 10};
  for (uint32_t i = 0; i < 15; i++)
    ASSERT_EQ(t->insert(keys[i], conn(i, created[i]), kConfirmed, ev), int32_t(i));
  EXPECT_EQ(t->insert(keys[15], conn(15, 20), kConfirmed, ev), 9) << "the oldest's way";
  EXPECT_EQ(ev, 1u);
  EXPECT_EQ(t->lookup(keys[9]), ConnTable::kNoPos) << "the oldest (created 1)";
  for (uint32_t i = 0; i < 16; i++)
    if (i != 9) {
      EXPECT_NE(t->lookup(keys[i]), ConnTable::kNoPos) << i;
    }
  EXPECT_EQ(t->count(), 15u);
  // A SYN gives up only an unconfirmed record: none in the two buckets.
  sl_flow_key more = keys[9];
  EXPECT_EQ(t->insert(more, conn(9, 30), kUnconfirmed, ev), -ENOSPC);
  EXPECT_EQ(t->count(), 15u);
}

TEST_F(ConnTableTest, DeleteThenReuse) {
  auto t = make(16);
  ASSERT_TRUE(t);
  sl_flow_key a = key4(1, 1), b = key4(2, 2), c{};
  // c: a key with a's first bucket, so it takes a's freed way.
  for (uint16_t p = 3; p < 60000; p++) {
    c = key4(3, p);
    if (Probe::first(*t, c) == Probe::first(*t, a)) break;
  }
  ASSERT_EQ(Probe::first(*t, c), Probe::first(*t, a));
  int32_t pa = t->insert(a, conn(1, 1), kConfirmed, ev);
  int32_t pb = t->insert(b, conn(2, 2), kConfirmed, ev);
  ASSERT_GE(pa, 0);
  ASSERT_GE(pb, 0);
  ASSERT_NE(pa, pb);
  ASSERT_TRUE(t->remove(a));
  sl_flow_key rk;
  sl_conn rc;
  EXPECT_FALSE(t->read(uint32_t(pa), rk, rc)) << "a free position is not listed";
  EXPECT_EQ(t->insert(c, conn(3, 3), kConfirmed, ev), pa) << "the freed way";
  ASSERT_TRUE(t->read(uint32_t(pa), rk, rc));
  EXPECT_EQ(0, std::memcmp(&rk, &c, sizeof(c)));
  sl_flow_key kc = t->key_at(uint32_t(pa));
  EXPECT_EQ(0, std::memcmp(&kc, &c, sizeof(c)));
  EXPECT_EQ(rc.backend, 3u);
  EXPECT_EQ(t->lookup(a), ConnTable::kNoPos);
  EXPECT_EQ(t->lookup(b), uint32_t(pb));
  EXPECT_EQ(t->count(), 2u);
  // Unconfirmed records are not listed.
  t->write(uint32_t(pa), kUnconfirmed, nullptr);
  EXPECT_FALSE(t->read(uint32_t(pa), rk, rc));
}

// The worker's staged lookup across the writer's own changes between the
// stages: a flow recorded after start is found, a record removed (or its
// position reused by another flow) after match is not, and a flow removed
// and recorded again is found where it is now.
TEST_F(ConnTableTest, StagedLookupAnswersForTheTableAtFinish) {
  auto t = make(16);
  ASSERT_TRUE(t);
  sl_flow_key a = key4(1, 1), b{}, c = key4(3, 3);
  for (uint16_t p = 2; p < 60000; p++) {  // b: a's first bucket
    b = key4(2, p);
    if (Probe::first(*t, b) == Probe::first(*t, a)) break;
  }
  ASSERT_EQ(Probe::first(*t, b), Probe::first(*t, a));
  ConnTable::Staged s;

  t->start(s, a);
  t->match(s);
  EXPECT_EQ(t->finish(s, a), ConnTable::kNoPos);
  t->start(s, a);
  t->match(s);
  int32_t pa = t->insert(a, conn(1, 1), kConfirmed, ev);
  ASSERT_GE(pa, 0);
  EXPECT_EQ(t->finish(s, a), uint32_t(pa)) << "recorded after match: the miss is looked up again";

  t->start(s, a);
  t->match(s);
  ASSERT_TRUE(t->remove(a));
  EXPECT_EQ(t->finish(s, a), ConnTable::kNoPos) << "removed after match: the freed record";

  ASSERT_EQ(t->insert(a, conn(1, 2), kConfirmed, ev), pa);
  t->start(s, a);
  t->match(s);
  ASSERT_TRUE(t->remove(a));
  ASSERT_EQ(t->insert(b, conn(2, 3), kConfirmed, ev), pa) << "b takes a's way";
  EXPECT_EQ(t->finish(s, a), ConnTable::kNoPos) << "the position now holds b";
  ASSERT_GE(t->insert(c, conn(3, 4), kConfirmed, ev), 0);
  int32_t again = t->insert(a, conn(1, 5), kConfirmed, ev);
  ASSERT_GE(again, 0);
  ASSERT_NE(again, pa);
  EXPECT_EQ(t->finish(s, a), uint32_t(again)) << "recorded again elsewhere";
  EXPECT_EQ(t->at(t->finish(s, a)).conn.created_ns, 5u);
}

TEST_F(ConnTableTest, Ipv6KeysDifferingInAnyWordAreDistinct) {
  auto t = make(64);
  ASSERT_TRUE(t);
  std::vector<sl_flow_key> keys = {key6(5, 0), key6(5, 1), key6(6, 0), key6(6, 1)};
  sl_flow_key v4 = key4(5, 40000);
  keys.push_back(v4);
  std::vector<uint32_t> at(keys.size());
  for (uint32_t i = 0; i < keys.size(); i++) {
    int32_t p = t->insert(keys[i], conn(i, i), kConfirmed, ev);
    ASSERT_GE(p, 0);
    at[i] = uint32_t(p);
  }
  for (uint32_t i = 0; i < keys.size(); i++) {
    uint32_t p = t->lookup(keys[i]);
    ASSERT_EQ(p, at[i]) << i;
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
  for (uint32_t i = 0; i < keys.size(); i++) EXPECT_EQ(pos[i], at[i]);
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
      for (uint32_t p = 0; p < t->slots(); p++)
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
