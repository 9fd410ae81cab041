// SPDX-License-Identifier: Apache-2.0
// The fast path's side of VRRP and sync: the controller's heartbeat (a
// silent controller's node stops steering), the new-flow event ring (on,
// off, full) and the table operations sync imports and walks with.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <linux/bpf.h>
#include <time.h>

#include <cstring>
#include <set>
#include <string>

#include "frame_checks.h"
#include "reason_probe.h"

namespace sluice::test {
namespace {

const Addr client4 = Addr::parse(kClient4);
const Addr vipA = Addr::parse(kVipA);
constexpr uint64_t kSecond = 1000000000ull;

uint64_t now_ns() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return uint64_t(ts.tv_sec) * kSecond + uint64_t(ts.tv_nsec);
}

ProgRun run(XdpDataplane& dp, const Bytes& in) {
  ProgRun r = prog_run(dp.prog_fd(), in);
  EXPECT_EQ(r.err, 0) << "BPF_PROG_TEST_RUN: " << strerror(r.err);
  return r;
}

// A program of its own (its own ring and connection table), with the
// tables of test_lb; `ring_bytes` 0: the default ring.
std::unique_ptr<XdpDataplane> own_lb(uint32_t ring_bytes) {
  XdpOptions o;
  o.attach = false;
  o.pin = false;
  o.conn_table_size = 4096;
  o.flow_events_bytes = ring_bytes;
  auto dp = XdpDataplane::open(o);
  EXPECT_TRUE(dp.ok()) << (dp.ok() ? "" : dp.error().message());
  if (!dp.ok()) return nullptr;
  auto f = test_lb_fill(**dp);
  EXPECT_TRUE(f.ok()) << (f.ok() ? "" : f.error().message());
  return f.ok() ? std::move(*dp) : nullptr;
}

sl_flow_key flow_of(const Addr& src, const Addr& dst, uint16_t sport, uint16_t dport) {
  sl_flow_key k{};
  src.to_words(k.src);
  dst.to_words(k.dst);
  k.sport = htons(sport);
  k.dport = htons(dport);
  k.proto = 6;
  k.family = src.v6 ? SL_AF_INET6 : SL_AF_INET;
  return k;
}

class Heartbeat : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(test_lb().dp) << test_lb().error;
    dp_ = test_lb().dp.get();
  }
  void TearDown() override {
    if (dp_) EXPECT_TRUE(dp_->heartbeat_at(0, 0).ok());
  }
  // The reason a new SYN to VIP A gets, and its action.
  std::pair<sl_reason, int> syn(uint16_t sport) {
    ReasonProbe probe(*dp_);
    ProgRun r = run(*dp_, frame(client4, vipA, {6, sport, 80, 0x02}));
    return {probe.moved(), r.action};
  }
  XdpDataplane* dp_ = nullptr;
};

TEST_F(Heartbeat, TimeoutZeroNeverChecks) {
  ASSERT_TRUE(dp_->heartbeat_at(0, 0).ok());  // no stamp ever
  auto [reason, action] = syn(53001);
  EXPECT_EQ(reason, SL_R_TX_NEW);
  EXPECT_EQ(action, XDP_TX);
}

TEST_F(Heartbeat, FreshStampSteers) {
  ASSERT_TRUE(dp_->heartbeat(60 * kSecond).ok());
  EXPECT_EQ(dp_->control_get().heartbeat_timeout_ns, 60 * kSecond);
  auto [reason, action] = syn(53002);
  EXPECT_EQ(reason, SL_R_TX_NEW);
  EXPECT_EQ(action, XDP_TX);
}

TEST_F(Heartbeat, StaleStampPassesVipTraffic) {
  uint64_t now = now_ns();
  ASSERT_GT(now, 120 * kSecond);
  ASSERT_TRUE(dp_->heartbeat_at(now - 60 * kSecond, kSecond).ok());
  auto [reason, action] = syn(53003);
  EXPECT_EQ(reason, SL_R_PASS_PASSIVE);
  EXPECT_EQ(action, XDP_PASS);
  // An established flow stops too: the peer owns the VIP now.
  ASSERT_TRUE(dp_->heartbeat_at(0, 0).ok());
  ASSERT_EQ(syn(53004).second, XDP_TX);
  ASSERT_TRUE(dp_->heartbeat_at(now - 60 * kSecond, kSecond).ok());
  ReasonProbe probe(*dp_);
  ProgRun r = run(*dp_, frame(client4, vipA, {6, 53004, 80, 0x10}));
  EXPECT_EQ(probe.moved(), SL_R_PASS_PASSIVE);
  EXPECT_EQ(r.action, XDP_PASS);
  // Stamped again: it steers again, to the recorded backend.
  ASSERT_TRUE(dp_->heartbeat(kSecond).ok());
  ReasonProbe again(*dp_);
  EXPECT_EQ(run(*dp_, frame(client4, vipA, {6, 53004, 80, 0x10})).action, XDP_TX);
  EXPECT_EQ(again.moved(), SL_R_TX_HIT);
}

TEST_F(Heartbeat, StaleStampLeavesOtherTrafficAlone) {
  ASSERT_TRUE(dp_->heartbeat_at(now_ns() - 60 * kSecond, kSecond).ok());
  ReasonProbe probe(*dp_);
  run(*dp_, frame(client4, vipA, {6, 53005, 81, 0x02}));  // no VIP on port 81
  EXPECT_EQ(probe.moved(), SL_R_PASS_NOT_VIP);
}

TEST(FlowEvents, OnEmitsOnePerRecordedFlow) {
  auto dp = own_lb(0);
  ASSERT_TRUE(dp);
  ASSERT_TRUE(dp->flow_events_enable(true).ok());
  EXPECT_EQ(dp->control_get().flags & SL_CTL_F_FLOW_EVENTS, SL_CTL_F_FLOW_EVENTS);
  ProgRun first = run(*dp, frame(client4, vipA, {6, 44001, 80, 0x02}));
  ASSERT_EQ(first.action, XDP_TX);
  run(*dp, frame(client4, vipA, {6, 44001, 80, 0x10}));  // a hit: no event
  std::vector<sl_flow_event> ev;
  auto n = dp->flow_events_take(ev, 100);
  ASSERT_TRUE(n.ok()) << n.error().message();
  ASSERT_EQ(*n, 1u);
  ASSERT_EQ(ev.size(), 1u);
  sl_flow_key want = flow_of(client4, vipA, 44001, 80);
  EXPECT_EQ(std::memcmp(&ev[0].flow, &want, sizeof(want)), 0);
  EXPECT_EQ(ev[0].vip_id, 0u);
  EXPECT_EQ(int(ev[0].backend), backend_of_frame(first.out));
  EXPECT_EQ(ev[0].gen, 1u);
  EXPECT_NE(ev[0].created_ns, 0u);
  EXPECT_EQ(*dp->flow_events_lost(), 0u);
}

TEST(FlowEvents, StaleRecordOverwrittenEmits) {
  auto dp = own_lb(0);
  ASSERT_TRUE(dp);
  ASSERT_TRUE(dp->flow_events_enable(true).ok());
  // A record naming an old generation of backend A1: the flow is
  // rescheduled, and the new record announced.
  sl_flow_key key = flow_of(client4, vipA, 44002, 80);
  sl_conn old{};
  old.backend = kBeA1;
  old.gen = 7;
  ASSERT_TRUE(dp->conn_put(key, old).ok());
  ReasonProbe probe(*dp);
  ASSERT_EQ(run(*dp, frame(client4, vipA, {6, 44002, 80, 0x10})).action, XDP_TX);
  EXPECT_EQ(probe.moved(), SL_R_TX_RESCHEDULED);
  std::vector<sl_flow_event> ev;
  ASSERT_EQ(*dp->flow_events_take(ev, 100), 1u);
  EXPECT_EQ(std::memcmp(&ev[0].flow, &key, sizeof(key)), 0);
  EXPECT_EQ(ev[0].gen, 1u);
}

TEST(FlowEvents, OffEmitsNothing) {
  auto dp = own_lb(0);
  ASSERT_TRUE(dp);
  ASSERT_TRUE(dp->flow_events_enable(true).ok());
  ASSERT_TRUE(dp->flow_events_enable(false).ok());
  EXPECT_EQ(dp->control_get().flags & SL_CTL_F_FLOW_EVENTS, 0u);
  for (uint16_t s = 0; s < 5; ++s)
    ASSERT_EQ(run(*dp, frame(client4, vipA, {6, uint16_t(44100 + s), 80, 0x02})).action, XDP_TX);
  std::vector<sl_flow_event> ev;
  EXPECT_EQ(*dp->flow_events_take(ev, 100), 0u);
  EXPECT_EQ(*dp->flow_events_lost(), 0u);
}

TEST(FlowEvents, FullRingCountsAndSteersOn) {
  auto dp = own_lb(4096);  // one page: 4096 / (8 + 64) = 56 events
  ASSERT_TRUE(dp);
  ASSERT_TRUE(dp->flow_events_enable(true).ok());
  constexpr int kFlows = 100;
  // Each flow's SYN, then its ACK, which confirms it and announces it (a
  // flow first seen mid-way is never announced).
  for (int s = 0; s < kFlows; ++s)
    for (uint8_t flags : {uint8_t(0x02), uint8_t(0x10)})
      ASSERT_EQ(run(*dp, frame(client4, vipA, {6, uint16_t(45000 + s), 80, flags})).action,
                XDP_TX)
          << "flow " << s;
  std::vector<sl_flow_event> ev;
  size_t taken = 0;
  // Bounded takes: 10 at a time.
  for (;;) {
    auto n = dp->flow_events_take(ev, 10);
    ASSERT_TRUE(n.ok());
    ASSERT_LE(*n, 10u);
    if (*n == 0) break;
    taken += *n;
  }
  EXPECT_EQ(taken, ev.size());
  EXPECT_GT(taken, 0u);
  EXPECT_LT(taken, size_t(kFlows));
  EXPECT_EQ(*dp->flow_events_lost(), uint64_t(kFlows) - taken);
  // Drained: the ring takes events again.
  ASSERT_EQ(run(*dp, frame(client4, vipA, {6, 45500, 80, 0x02})).action, XDP_TX);
  ASSERT_EQ(run(*dp, frame(client4, vipA, {6, 45500, 80, 0x10})).action, XDP_TX);
  ev.clear();
  EXPECT_EQ(*dp->flow_events_take(ev, 10), 1u);
}

TEST(ConnTable, PutDelAndPagedWalk) {
  auto dp = own_lb(0);
  ASSERT_TRUE(dp);
  constexpr int kEntries = 300;
  std::vector<ConnEntry> batch;  // the second half in one batched call
  for (int i = 0; i < kEntries; ++i) {
    sl_conn c{};
    c.backend = kBeA2;
    c.gen = 1;
    c.created_ns = uint64_t(i) + 1;
    sl_flow_key k = flow_of(client4, vipA, uint16_t(46000 + i), 80);
    if (i < kEntries / 2) ASSERT_TRUE(dp->conn_put(k, c).ok());
    else batch.push_back({k, c});
  }
  auto put = dp->conns_put(batch);
  ASSERT_TRUE(put.ok()) << put.error().message();
  sl_flow_key gone = flow_of(client4, vipA, 46000, 80);
  ASSERT_TRUE(dp->conn_del(gone).ok());
  ASSERT_TRUE(dp->conn_del(gone).ok());  // absent: not an error
  std::set<std::string> seen;
  ConnCursor cur;
  int pages = 0;
  while (!cur.done) {
    auto page = dp->conns_page(cur, 7);
    ASSERT_TRUE(page.ok()) << page.error().message();
    ++pages;
    ASSERT_LT(pages, 10 * kEntries);
    for (const auto& e : *page) {
      EXPECT_TRUE(seen.insert(std::string(reinterpret_cast<const char*>(&e.key), sizeof(e.key)))
                      .second)
          << "an entry seen twice";
      EXPECT_EQ(e.conn.backend, uint32_t(kBeA2));
    }
  }
  EXPECT_EQ(seen.size(), size_t(kEntries - 1));
  EXPECT_EQ(seen.count(std::string(reinterpret_cast<const char*>(&gone), sizeof(gone))), 0u);
  // The imported record is followed by the fast path.
  ProgRun r = run(*dp, frame(client4, vipA, {6, 46001, 80, 0x10}));
  EXPECT_EQ(backend_of_frame(r.out), int(kBeA2));
}

}  // namespace
}  // namespace sluice::test
