// SPDX-License-Identifier: Apache-2.0
// Two sync engines back to back over an in-memory wire, each on a fake
// dataplane: the MASTER's new flows reach the BACKUP's table in its own
// slots, bad input is dropped under its reason, a gap or a start brings a
// paced resync, the BACKUP forgets what the MASTER no longer holds, and
// roles swap. The clock is a number the test moves.
#include <arpa/inet.h>
#include <gtest/gtest.h>

#include <cstring>
#include <functional>

#include "control/sync/sync_engine.h"
#include "tests/control/fake_dataplane.h"
#include "tests/sync/sync_test_util.h"

namespace sluice::sync {
namespace {

constexpr uint64_t kSec = 1000000000ull;

using testing::flow;
using testing::ip;
using testing::vip_key;

// One node: its fake dataplane (backends at `slots`, with `gen`), its VIP
// id and its engine.
struct Node {
  Node(const char* self, const char* peer, uint32_t vip_id,
       std::vector<std::pair<uint32_t, const char*>> slots, uint32_t gen, Bytes key = {},
       size_t walk_per_turn = 64)
      : address(ip(self)) {
    SyncTables t;
    SyncTables::Vip v;
    v.key = vip_key();
    v.vip_id = vip_id;
    for (auto [slot, a] : slots) {
      sl_backend be{};
      ip(a).to_abi(be.addr);
      be.family = SL_AF_INET;
      be.flags = SL_BE_F_LIVE;
      be.gen = gen;
      be.vip_id = vip_id;
      (void)dp.backend_put(slot, be);
      v.backends.push_back({slot, ip(a)});
    }
    t.vips.push_back(v);
    EngineOptions o;
    o.node_id = vip_id + 100;
    o.epoch = 1;
    o.key = std::move(key);
    o.peer = ip(peer);
    o.walk_datagrams_per_turn = walk_per_turn;
    engine = std::make_unique<SyncEngine>(o, dp);
    engine->set_tables(t);
  }
  IpAddr address;
  FakeDataplane dp;
  std::unique_ptr<SyncEngine> engine;
};

// The fast path of `n` recording a flow to `slot`.
sl_flow_event event(uint16_t sport, uint32_t slot, uint32_t gen, uint32_t vip_id,
                    uint64_t created) {
  sl_flow_event e{};
  e.flow = flow(sport);
  e.backend = slot;
  e.gen = gen;
  e.vip_id = vip_id;
  e.created_ns = created;
  return e;
}

class SyncPair : public ::testing::Test {
 protected:
  // A (MASTER side first): backends .11 at slot 0 and .12 at slot 1, gen 1,
  // VIP id 0. B: only .11, at slot 5 with gen 3, VIP id 2.
  SyncPair()
      : a("198.18.0.1", "198.18.0.2", 0, {{0, "198.18.0.11"}, {1, "198.18.0.12"}}, 1),
        b("198.18.0.2", "198.18.0.1", 2, {{5, "198.18.0.11"}}, 3) {}

  // Moves every queued datagram to the other node (through `lose`, which
  // may drop one), and turns both, until nothing is left to do.
  void pump(std::function<bool(const Node& from, const Bytes&)> lose = nullptr) {
    for (int round = 0; round < 100000; ++round) {
      a.engine->turn(now);
      b.engine->turn(now);
      bool moved = false;
      for (auto [from, to] : {std::pair{&a, &b}, std::pair{&b, &a}}) {
        auto& out = from->engine->outbox();
        while (!out.empty()) {
          Bytes d = std::move(out.front());
          out.pop_front();
          moved = true;
          if (lose && lose(*from, d)) continue;
          to->engine->receive(d, from->address, now);
        }
      }
      if (!moved && !a.engine->busy() && !b.engine->busy()) return;
    }
    FAIL() << "the pair never settled";
  }
  // A MASTER, B BACKUP, B resynced from A.
  void start() {
    a.engine->set_master(true, now);
    b.engine->set_master(false, now);
    pump();
    ASSERT_TRUE(b.engine->resynced());
  }

  uint64_t now = 1000 * kSec;
  Node a, b;
};

TEST_F(SyncPair, BackupStartsUnsyncedAndAResyncCompletes) {
  b.engine->set_master(false, now);
  EXPECT_FALSE(b.engine->resynced());
  a.engine->set_master(true, now);
  pump();
  EXPECT_TRUE(b.engine->resynced());
  EXPECT_EQ(b.engine->counters().resyncs_requested, 1u);
  EXPECT_EQ(a.engine->counters().resyncs_served, 1u);
  EXPECT_TRUE(a.dp.flow_events_on);
  EXPECT_FALSE(b.dp.flow_events_on);
}

TEST_F(SyncPair, NewFlowsReachTheBackupInItsOwnTerms) {
  start();
  a.dp.flow_event_push(event(40001, 0, 1, 0, now - 30 * 1000000));  // recorded 30 ms ago
  pump();
  auto got = b.dp.conn_find(flow(40001));
  ASSERT_TRUE(got);
  EXPECT_EQ(got->conn.backend, 5u);  // B's slot of .11
  EXPECT_EQ(got->conn.gen, 3u);
  EXPECT_EQ(got->conn.vip_id, 2u);
  EXPECT_EQ(got->conn.created_ns, now - 30 * 1000000);
  EXPECT_EQ(got->conn.synced_s, import_stamp(now));
  EXPECT_EQ(b.engine->counters().records_applied, 1u);
  EXPECT_EQ(b.engine->counters().lag_ms, 30);
  EXPECT_EQ(a.engine->counters().records_sent, 1u);
}

TEST_F(SyncPair, ARecordForABackendTheBackupLacksIsCountedAndDropped) {
  start();
  a.dp.flow_event_push(event(40002, 1, 1, 0, now));  // .12: B has none
  pump();
  EXPECT_FALSE(b.dp.conn_find(flow(40002)));
  EXPECT_EQ(b.engine->counters().records_no_backend, 1u);
  EXPECT_EQ(b.engine->counters().records_applied, 0u);
}

TEST_F(SyncPair, AnEventForAReusedSlotIsNotSent) {
  start();
  a.dp.flow_event_push(event(40003, 0, 9, 0, now));  // gen 9: not the slot's owner now
  pump();
  EXPECT_EQ(a.engine->extra().events_stale, 1u);
  EXPECT_EQ(a.engine->counters().records_sent, 0u);
}

// Captures the next records datagram A sends for one event.
Bytes one_records_datagram(uint64_t now, Node& a, uint16_t sport) {
  a.dp.flow_event_push(event(sport, 0, 1, 0, now));
  a.engine->turn(now);
  EXPECT_EQ(a.engine->outbox().size(), 1u);
  Bytes d = a.engine->outbox().front();
  a.engine->outbox().pop_front();
  return d;
}

TEST_F(SyncPair, BadInputIsDroppedUnderItsReasonAndChangesNothing) {
  start();
  auto drops = [&](Drop d) { return b.engine->counters().drops[size_t(d)]; };
  Bytes good = one_records_datagram(now, a, 40010);

  b.engine->receive(good, ip("198.18.0.9"), now);  // forged source
  EXPECT_EQ(drops(Drop::wrong_source), 1u);
  Bytes cut(good.begin(), good.end() - 10);
  b.engine->receive(cut, a.address, now);
  EXPECT_EQ(drops(Drop::truncated), 1u);
  EXPECT_EQ(b.dp.conn_table_count(), 0u);

  b.engine->receive(good, a.address, now);
  EXPECT_EQ(b.dp.conn_table_count(), 1u);
  b.engine->receive(good, a.address, now);  // replayed
  EXPECT_EQ(drops(Drop::out_of_order), 1u);
  EXPECT_EQ(b.dp.conn_table_count(), 1u);
  EXPECT_EQ(b.engine->counters().records_applied, 1u);
  EXPECT_TRUE(b.engine->resynced());
}

TEST(SyncKeys, AWrongOrMissingKeyIsDropped) {
  uint64_t now = 1000 * kSec;
  Bytes k1(32, 0x11), k2(32, 0x22);
  Node a("198.18.0.1", "198.18.0.2", 0, {{0, "198.18.0.11"}}, 1, k1);
  Node b("198.18.0.2", "198.18.0.1", 2, {{5, "198.18.0.11"}}, 3, k2);
  Node plain("198.18.0.3", "198.18.0.1", 2, {{5, "198.18.0.11"}}, 3);
  a.engine->set_master(true, now);
  a.dp.flow_event_push(event(40020, 0, 1, 0, now));
  a.engine->turn(now);
  ASSERT_EQ(a.engine->outbox().size(), 1u);
  Bytes d = a.engine->outbox().front();
  b.engine->receive(d, a.address, now);
  EXPECT_EQ(b.engine->counters().drops[size_t(Drop::bad_hmac)], 1u);
  plain.engine->receive(d, a.address, now);  // signed, but we hold no key
  EXPECT_EQ(plain.engine->counters().drops[size_t(Drop::bad_hmac)], 1u);
  // Unsigned to a keyed node.
  b.engine->receive(encode(Header{Kind::records, 7, 1, 1}, {}, {}), a.address, now);
  EXPECT_EQ(b.engine->counters().drops[size_t(Drop::missing_hmac)], 1u);
  EXPECT_EQ(b.dp.conn_table_count(), 0u);
}

TEST_F(SyncPair, AGapBringsAResyncThatRestoresTheLostFlow) {
  start();
  now += kSec;  // past the hold after the start's request
  // The flow is in A's table (the fast path recorded it) and its event's
  // datagram is lost on the wire.
  sl_conn c{};
  c.backend = 0;
  c.gen = 1;
  c.created_ns = now - kSec;
  (void)a.dp.conn_put(flow(40030), c);
  a.dp.flow_event_push(event(40030, 0, 1, 0, c.created_ns));
  a.engine->turn(now);
  ASSERT_EQ(a.engine->outbox().size(), 1u);
  a.engine->outbox().pop_front();  // lost
  a.dp.flow_event_push(event(40031, 0, 1, 0, now));
  (void)a.dp.conn_put(flow(40031), c);
  uint64_t requested = b.engine->counters().resyncs_requested;
  a.engine->turn(now);
  ASSERT_EQ(a.engine->outbox().size(), 1u);
  b.engine->receive(a.engine->outbox().front(), a.address, now);
  a.engine->outbox().pop_front();
  EXPECT_FALSE(b.engine->resynced()) << "a gap: the table is incomplete";
  EXPECT_EQ(b.engine->counters().resyncs_requested, requested + 1);
  pump();
  EXPECT_TRUE(b.engine->resynced());
  EXPECT_TRUE(b.dp.conn_find(flow(40030))) << "the lost flow came with the resync";
  EXPECT_TRUE(b.dp.conn_find(flow(40031)));
}

TEST_F(SyncPair, AResyncWithAHoleInItDoesNotCount) {
  a.engine->set_master(true, now);
  sl_conn c{};
  c.gen = 1;
  for (uint16_t i = 0; i < 100; ++i) (void)a.dp.conn_put(flow(41000 + i), c);
  b.engine->set_master(false, now);
  int records_seen = 0;
  bool lost = false;
  // Lose the third records datagram of the first walk only.
  pump([&](const Node& from, const Bytes& d) {
    if (&from != &a || lost || d[5] != uint8_t(Kind::records)) return false;
    if (++records_seen == 3) {
      lost = true;
      return true;
    }
    return false;
  });
  ASSERT_TRUE(lost);
  // The gap came within the hold after the start's request: the request
  // waits for it, and nothing counts the walk with a hole as a resync.
  EXPECT_FALSE(b.engine->resynced());
  now += 300 * 1000000;
  pump();
  EXPECT_TRUE(b.engine->resynced()) << "the gap asked again and the second walk completed";
  EXPECT_GE(b.engine->counters().resyncs_requested, 2u);
  EXPECT_EQ(b.dp.conn_table_count(), 100u);
}

TEST(SyncPace, AResyncWalksAFewPagesPerTurn) {
  uint64_t now = 1000 * kSec;
  Node a("198.18.0.1", "198.18.0.2", 0, {{0, "198.18.0.11"}}, 1, {}, /*walk_per_turn=*/4);
  Node b("198.18.0.2", "198.18.0.1", 2, {{5, "198.18.0.11"}}, 3);
  sl_conn c{};
  c.gen = 1;
  for (uint16_t i = 0; i < 1000; ++i) (void)a.dp.conn_put(flow(uint16_t(20000 + i)), c);
  a.engine->set_master(true, now);
  b.engine->set_master(false, now);
  b.engine->turn(now);
  a.engine->receive(b.engine->outbox().front(), b.address, now);
  b.engine->outbox().clear();
  int turns = 0;
  while (true) {
    a.engine->turn(now);
    ++turns;
    auto& out = a.engine->outbox();
    EXPECT_LE(out.size(), 4u + 2u) << "begin, 4 pages, end at most";
    bool end = false;
    for (auto& d : out) {
      end = end || d[5] == uint8_t(Kind::resync_end);
      b.engine->receive(d, a.address, now);
    }
    out.clear();
    if (end) break;
    ASSERT_LT(turns, 1000);
  }
  EXPECT_GE(turns, 1000 / (4 * int(kBatch)));
  EXPECT_TRUE(b.engine->resynced());
  EXPECT_EQ(b.dp.conn_table_count(), 1000u);
}

TEST_F(SyncPair, AfterAFullWalkTheBackupForgetsWhatTheMasterNoLongerHolds) {
  start();
  sl_conn c{};
  c.gen = 1;
  (void)a.dp.conn_put(flow(42001), c);
  (void)a.dp.conn_put(flow(42002), c);
  a.dp.flow_event_push(event(42001, 0, 1, 0, now));
  a.dp.flow_event_push(event(42002, 0, 1, 0, now));
  pump();
  ASSERT_EQ(b.dp.conn_table_count(), 2u);
  // The master's LRU evicts 42002; a refresh period later its walk no
  // longer carries it.
  (void)a.dp.conn_del(flow(42002));
  now += 31 * kSec;
  pump();
  EXPECT_TRUE(b.dp.conn_find(flow(42001)));
  EXPECT_FALSE(b.dp.conn_find(flow(42002)));
  EXPECT_EQ(b.engine->extra().swept, 1u);
  EXPECT_TRUE(b.engine->resynced());
}

TEST_F(SyncPair, RolesSwapAndSyncRunsTheOtherWay) {
  start();
  // B becomes MASTER (A failed over), A comes back as BACKUP.
  b.engine->set_master(true, now);
  a.engine->set_master(false, now);
  EXPECT_FALSE(a.engine->resynced());
  EXPECT_TRUE(b.dp.flow_events_on);
  EXPECT_FALSE(a.dp.flow_events_on);
  pump();
  EXPECT_TRUE(a.engine->resynced()) << "A holds preempt until this";
  b.dp.flow_event_push(event(43001, 5, 3, 2, now));
  pump();
  auto got = a.dp.conn_find(flow(43001));
  ASSERT_TRUE(got);
  EXPECT_EQ(got->conn.backend, 0u);
  EXPECT_EQ(got->conn.gen, 1u);
  // Records from the peer while MASTER are not applied.
  EXPECT_EQ(b.engine->extra().ignored_as_master, 0u);
}

TEST(SyncReceiver, MadeUpNodeIdsDoNotGrowItAndTheLiveStreamKeepsItsPlace) {
  Receiver r;
  ASSERT_TRUE(r.accept(Header{Kind::records, 1, 1, 1}).deliver);
  for (uint32_t id = 1000; id < 1100; ++id) {
    r.accept(Header{Kind::records, id, 1, 5});
    // The live peer keeps talking in between: it is never the oldest.
    ASSERT_TRUE(r.accept(Header{Kind::records, 1, 1, 2 + (id - 1000)}).deliver);
  }
  // Its next datagram is in order (no gap): its stream was kept; a replay
  // of one it sent is still refused.
  Verdict v = r.accept(Header{Kind::records, 1, 1, 102});
  EXPECT_TRUE(v.deliver);
  EXPECT_FALSE(v.request_resync);
  EXPECT_EQ(r.accept(Header{Kind::records, 1, 1, 50}).drop, Drop::out_of_order);
}

}  // namespace
}  // namespace sluice::sync
