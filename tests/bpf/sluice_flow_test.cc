// SPDX-License-Identifier: Apache-2.0
// Behaviour across packets: flows recorded in the connection table, the
// weighted schedule, the passive role and the counters.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <linux/bpf.h>
#include <sched.h>

#include <cstring>
#include <map>

#include "frame_checks.h"
#include "reason_probe.h"

namespace sluice::test {
namespace {

const Addr client4 = Addr::parse(kClient4);
const Addr vipA = Addr::parse(kVipA);

class SluiceFlow : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(test_lb().dp) << test_lb().error;
    dp_ = test_lb().dp.get();
  }
  ProgRun run(const Bytes& in) {
    ProgRun r = prog_run(dp_->prog_fd(), in);
    EXPECT_EQ(r.err, 0) << "BPF_PROG_TEST_RUN: " << strerror(r.err);
    return r;
  }
  // Opens a flow with a SYN; returns the backend it went to.
  int establish(const Bytes& syn) {
    ProgRun first = run(syn);
    EXPECT_EQ(first.action, XDP_TX);
    return backend_of_frame(first.out);
  }
  XdpDataplane* dp_ = nullptr;
};

// Pins the thread to the CPU it is on: the schedule cursor is per CPU, so
// the exact interleaving only holds while every packet runs on one CPU.
class CpuPin {
 public:
  CpuPin() {
    sched_getaffinity(0, sizeof(old_), &old_);
    cpu_set_t one;
    CPU_ZERO(&one);
    CPU_SET(sched_getcpu(), &one);
    sched_setaffinity(0, sizeof(one), &one);
  }
  ~CpuPin() { sched_setaffinity(0, sizeof(old_), &old_); }

 private:
  cpu_set_t old_;
};

TEST_F(SluiceFlow, NewFlowIsRecordedAndHitsItsBackend) {
  Bytes syn = frame(client4, vipA, {6, 42001, 80, 0x02});
  ProgRun first = run(syn);
  ASSERT_EQ(first.action, XDP_TX);
  int be = backend_of_frame(first.out);
  ASSERT_TRUE(any_of_vip_a(be));
  // Unconfirmed until the client's ACK: not in the connection table yet.
  auto half = dp_->conns(0);
  ASSERT_TRUE(half.ok()) << half.error().message();
  EXPECT_TRUE(half->empty());
  ReasonProbe confirm(*dp_);
  ProgRun ack = run(frame(client4, vipA, {6, 42001, 80, 0x10}));
  EXPECT_EQ(ack.action, XDP_TX);
  EXPECT_EQ(backend_of_frame(ack.out), be);
  EXPECT_EQ(confirm.moved(), SL_R_TX_HIT);

  auto conns = dp_->conns(0);
  ASSERT_TRUE(conns.ok()) << conns.error().message();
  const ConnEntry* found = nullptr;
  for (const auto& e : *conns)
    if (e.key.family == SL_AF_INET && e.key.sport == htons(42001) && e.key.dport == htons(80) &&
        std::memcmp(e.key.src, client4.b.data(), 4) == 0 && std::memcmp(e.key.dst, vipA.b.data(), 4) == 0)
      found = &e;
  ASSERT_NE(found, nullptr) << "flow not in the connection table";
  EXPECT_EQ(found->key.proto, 6);
  EXPECT_EQ(found->conn.backend, uint32_t(be));
  EXPECT_EQ(found->conn.gen, 1u);
  EXPECT_EQ(found->conn.vip_id, 0u);

  for (int i = 0; i < 5; ++i) {
    ReasonProbe probe(*dp_);
    ProgRun again = run(frame(client4, vipA, {6, 42001, 80, 0x10}));
    EXPECT_EQ(again.action, XDP_TX);
    EXPECT_EQ(backend_of_frame(again.out), be);
    EXPECT_EQ(probe.moved(), SL_R_TX_HIT);
  }
}

TEST_F(SluiceFlow, ConnsHonoursLimit) {
  for (uint16_t p = 42100; p < 42110; ++p) {
    run(frame(client4, vipA, {6, p, 80, 0x02}));
    run(frame(client4, vipA, {6, p, 80, 0x10}));  // confirmed
  }
  auto some = dp_->conns(3);
  ASSERT_TRUE(some.ok()) << some.error().message();
  EXPECT_EQ(some->size(), 3u);
}

// Weights 1:2:1 make a ring of four slots; any four consecutive new flows on
// one CPU, wherever the cursor starts, land 1, 2 and 1 times.
TEST_F(SluiceFlow, WeightsHoldExactlyPerRingPeriod) {
  CpuPin pin;
  const int periods = 100;
  std::map<int, int> total;
  for (int period = 0; period < periods; ++period) {
    std::map<int, int> in_period;
    for (int i = 0; i < 4; ++i) {
      uint16_t sport = uint16_t(43000 + period * 4 + i);
      ProgRun r = run(frame(client4, vipA, {6, sport, 80, 0x02}));
      ASSERT_EQ(r.action, XDP_TX);
      int be = backend_of_frame(r.out);
      ++in_period[be];
      ++total[be];
    }
    ASSERT_EQ(in_period[kBeA1], 1) << "period " << period;
    ASSERT_EQ(in_period[kBeA2], 2) << "period " << period;
    ASSERT_EQ(in_period[kBeA3], 1) << "period " << period;
  }
  EXPECT_EQ(total[kBeA1], periods);
  EXPECT_EQ(total[kBeA2], 2 * periods);
  EXPECT_EQ(total[kBeA3], periods);
}

TEST_F(SluiceFlow, PassiveNodeSteersNothing) {
  ASSERT_TRUE(test_lb_set_role(*dp_, SL_ROLE_PASSIVE).ok());
  Bytes in = frame(client4, vipA, {6, 42201, 80, 0x02});
  ReasonProbe probe(*dp_);
  ProgRun r = run(in);
  sl_reason why = probe.moved();
  ASSERT_TRUE(test_lb_set_role(*dp_, SL_ROLE_ACTIVE).ok());
  EXPECT_EQ(r.action, XDP_PASS);
  EXPECT_EQ(why, SL_R_PASS_PASSIVE);
  EXPECT_EQ(r.out, in);
}

TEST_F(SluiceFlow, CountersFollowPackets) {
  auto vip0 = dp_->vip_counters(0);
  ASSERT_TRUE(vip0.ok()) << vip0.error().message();
  Bytes syn = frame(client4, vipA, {6, 42301, 80, 0x02});
  ProgRun r = run(syn);
  int be = backend_of_frame(r.out);
  ASSERT_TRUE(any_of_vip_a(be));
  auto be0 = dp_->backend_counters(uint32_t(be));
  ASSERT_TRUE(be0.ok());
  run(frame(client4, vipA, {6, 42301, 80, 0x10}));
  auto vip1 = dp_->vip_counters(0);
  auto be1 = dp_->backend_counters(uint32_t(be));
  ASSERT_TRUE(vip1.ok() && be1.ok());
  EXPECT_EQ(vip1->packets - vip0->packets, 2u);
  EXPECT_EQ(vip1->new_conns - vip0->new_conns, 1u);
  EXPECT_EQ(vip1->bytes - vip0->bytes, 2 * syn.size());  // frames, link header included
  EXPECT_EQ(be1->packets - be0->packets, 1u);  // the SYN was counted before be0
}


// A packet whose record named backend `be` was scheduled again, never onto
// `be`: sent elsewhere (tx_rescheduled) or, when the ring still names `be`
// and the pick lands on it, dropped (drop_no_backend).
void expect_scheduled_away(const ProgRun& r, sl_reason moved, int be) {
  if (r.action == XDP_TX) {
    EXPECT_EQ(moved, SL_R_TX_RESCHEDULED);
    EXPECT_NE(backend_of_frame(r.out), be);
  } else {
    EXPECT_EQ(moved, SL_R_DROP_NO_BACKEND);
  }
}

// on_backend_down, as the controller expresses it in the backend's flags:
// LIVE keeps the flow where it is, no flag reschedules it, DROP_FLOWS drops it.
TEST_F(SluiceFlow, FailedBackendFlowsFollowThePolicyFlags) {
  Bytes ack = frame(client4, vipA, {6, 42901, 80, 0x10});
  int be = establish(frame(client4, vipA, {6, 42901, 80, 0x02}));
  ASSERT_TRUE(any_of_vip_a(be));
  auto saved = dp_->backend_get(uint32_t(be));
  ASSERT_TRUE(saved.ok()) << saved.error().message();
  sl_backend b = *saved;

  b.flags = SL_BE_F_DROP_FLOWS;
  ASSERT_TRUE(dp_->backend_put(uint32_t(be), b).ok());
  {
    ReasonProbe probe(*dp_);
    EXPECT_EQ(run(ack).action, XDP_DROP);
    EXPECT_EQ(probe.moved(), SL_R_DROP_BACKEND_DOWN);
  }
  b.flags = SL_BE_F_LIVE;  // keep (or drained): back on its backend
  ASSERT_TRUE(dp_->backend_put(uint32_t(be), b).ok());
  {
    ReasonProbe probe(*dp_);
    ProgRun r = run(ack);
    EXPECT_EQ(backend_of_frame(r.out), be);
    EXPECT_EQ(probe.moved(), SL_R_TX_HIT);
  }
  b.flags = 0;  // reschedule: scheduled again, never back onto the failed backend
  ASSERT_TRUE(dp_->backend_put(uint32_t(be), b).ok());
  {
    ReasonProbe probe(*dp_);
    ProgRun r = run(ack);
    // The controller takes a failed backend out of the ring first; here the
    // ring still names it, so the pick may land on it and find it not live.
    expect_scheduled_away(r, probe.moved(), be);
  }
  ASSERT_TRUE(dp_->backend_put(uint32_t(be), *saved).ok());
}

// on_backend_down: keep with the health check failing: the backend's flows
// stay, but a SYN reusing a recorded port (a new connection) goes elsewhere.
TEST_F(SluiceFlow, SynReusingAPortLeavesABackendThatIsDown) {
  Bytes ack = frame(client4, vipA, {6, 42911, 80, 0x10});
  int be = establish(frame(client4, vipA, {6, 42911, 80, 0x02}));
  ASSERT_TRUE(any_of_vip_a(be));
  auto saved = dp_->backend_get(uint32_t(be));
  ASSERT_TRUE(saved.ok()) << saved.error().message();
  sl_backend b = *saved;
  b.flags = SL_BE_F_LIVE | SL_BE_F_DOWN;  // the flow stays...
  ASSERT_TRUE(dp_->backend_put(uint32_t(be), b).ok());
  {
    ReasonProbe probe(*dp_);
    EXPECT_EQ(backend_of_frame(run(ack).out), be);
    EXPECT_EQ(probe.moved(), SL_R_TX_HIT);
  }
  {  // ...but a SYN reusing its port is a new connection, never sent to it
    ReasonProbe probe(*dp_);
    ProgRun r = run(frame(client4, vipA, {6, 42911, 80, 0x02}));
    expect_scheduled_away(r, probe.moved(), be);
  }
  ASSERT_TRUE(dp_->backend_put(uint32_t(be), *saved).ok());
}


// A SYN is looked up like any packet: a retransmitted SYN keeps its backend,
// and a SYN reusing the tuple of a removed backend's flow is scheduled again,
// its record rewritten in place, which the next packet follows.
TEST_F(SluiceFlow, SynWithARecordFollowsTheRecord) {
  Bytes syn = frame(client4, vipA, {6, 42951, 80, 0x02});
  int be = establish(syn);
  ASSERT_TRUE(any_of_vip_a(be));
  for (int i = 0; i < 4; ++i) {  // the ring moves on meanwhile; the flow does not
    ReasonProbe probe(*dp_);
    ProgRun again = run(syn);
    EXPECT_EQ(backend_of_frame(again.out), be) << "retransmit " << i;
    EXPECT_EQ(probe.moved(), SL_R_TX_HIT);
  }
  auto saved = dp_->backend_get(uint32_t(be));
  ASSERT_TRUE(saved.ok());
  sl_backend gone = *saved;
  gone.gen += 1;  // the slot now holds another backend
  ASSERT_TRUE(dp_->backend_put(uint32_t(be), gone).ok());
  int moved_to = -1;
  {
    ReasonProbe probe(*dp_);
    moved_to = backend_of_frame(run(syn).out);
    EXPECT_EQ(probe.moved(), SL_R_TX_RESCHEDULED);
  }
  {  // the record now names the pick (the slot's new gen, if it was picked again)
    ReasonProbe probe(*dp_);
    EXPECT_EQ(backend_of_frame(run(syn).out), moved_to);
    EXPECT_EQ(probe.moved(), SL_R_TX_HIT);
  }
  ASSERT_TRUE(dp_->backend_put(uint32_t(be), *saved).ok());
}

}  // namespace
}  // namespace sluice::test
