// SPDX-License-Identifier: Apache-2.0
#include "control/vrrp/vrrp_state.h"

#include <gtest/gtest.h>

#include "tests/control/fake_clock.h"

namespace sluice::vrrp {
namespace {

using namespace std::chrono_literals;
using Kind = Action::Kind;

IpAddr ip(const char* s) { return *IpAddr::parse(s); }

const IpAddr kMe = ip("198.18.0.1");
const IpAddr kPeer = ip("198.18.0.2");  // higher than kMe
const IpAddr kLow = ip("198.18.0.0");   // lower than kMe

Params params(uint8_t priority, bool preempt = true, uint32_t delay_ms = 0,
              const IpAddr& me = kMe) {
  return Params{51, priority, 100, preempt, delay_ms, me};
}

Advert advert(uint8_t priority, uint16_t interval_cs = 100) {
  return Advert{51, priority, interval_cs, {ip("198.18.0.100")}};
}

Action send(uint8_t p) { return {Kind::send_advert, p, Reason::none}; }
Action master(Reason r) { return {Kind::become_master, 0, r}; }
Action backup(Reason r) { return {Kind::become_backup, 0, r}; }

class VrrpState : public ::testing::Test {
 protected:
  // An instance that has started and is MASTER after its master-down timer.
  void make_master(VrrpInstance& v) {
    v.start(clock.t);
    clock.t = *v.next_deadline();
    ASSERT_EQ(v.on_timer(clock.t).size(), 2u);
    ASSERT_EQ(v.state(), State::master);
  }
  // Advances the fake clock to `at`, firing every deadline on the way.
  Actions run_until(VrrpInstance& v, TimePoint at) {
    Actions all;
    while (v.next_deadline() && *v.next_deadline() <= at) {
      clock.t = *v.next_deadline();
      for (auto& a : v.on_timer(clock.t)) all.push_back(a);
    }
    clock.t = at;
    return all;
  }
  FakeClock clock;
};

TEST_F(VrrpState, SkewAndMasterDownIntervalInCentiseconds) {
  struct Case {
    uint8_t priority;
    uint16_t interval;
    uint16_t skew, down;
  };
  // Skew_Time = ((256 - Priority) * Master_Adver_Interval) / 256, truncated;
  // Master_Down_Interval = 3 * Master_Adver_Interval + Skew_Time.
  for (Case c : {Case{100, 100, 60, 360},      // 15600 / 256 = 60.9
                 Case{200, 100, 21, 321},      // 5600 / 256 = 21.9
                 Case{254, 10, 0, 30},         // 20 / 256 = 0.08
                 Case{1, 4095, 4079, 16364}})  // 1044225 / 256 = 4079.0
  {
    Params p = params(c.priority);
    p.advert_interval_cs = c.interval;
    VrrpInstance v(p);
    EXPECT_EQ(v.skew_time_cs(), c.skew) << int(c.priority);
    EXPECT_EQ(v.master_down_interval_cs(), c.down) << int(c.priority);
  }
}

TEST_F(VrrpState, StartsBackupAndBecomesMasterAfterMasterDownInterval) {
  VrrpInstance v(params(100));
  EXPECT_EQ(v.state(), State::initialize);
  EXPECT_FALSE(v.next_deadline());
  TimePoint t0 = clock.t;
  EXPECT_EQ(v.start(clock.t), (Actions{backup(Reason::startup)}));
  EXPECT_EQ(v.state(), State::backup);
  ASSERT_TRUE(v.next_deadline());
  EXPECT_EQ(*v.next_deadline(), t0 + 3600ms);
  EXPECT_TRUE(v.on_timer(t0 + 3599ms).empty());
  EXPECT_EQ(v.on_timer(t0 + 3600ms), (Actions{master(Reason::master_down), send(100)}));
  EXPECT_EQ(v.state(), State::master);
  EXPECT_EQ(v.status().master, kMe);
  EXPECT_EQ(v.start(clock.t), Actions{});  // only from Initialize
}

TEST_F(VrrpState, MasterAdvertisesEveryIntervalWithoutBurstingWhenLate) {
  VrrpInstance v(params(100));
  make_master(v);
  TimePoint t = clock.t;
  EXPECT_EQ(*v.next_deadline(), t + 1000ms);
  EXPECT_TRUE(v.on_timer(t + 999ms).empty());
  EXPECT_EQ(v.on_timer(t + 1000ms), (Actions{send(100)}));
  EXPECT_EQ(*v.next_deadline(), t + 2000ms);
  // Called 5 s late: one advert, the next an interval from now.
  EXPECT_EQ(v.on_timer(t + 7000ms), (Actions{send(100)}));
  EXPECT_EQ(*v.next_deadline(), t + 8000ms);
}

TEST_F(VrrpState, BackupStaysWhileAdvertsArriveAndTakesOverWhenTheyStop) {
  VrrpInstance v(params(100));
  v.start(clock.t);
  for (int i = 0; i < 20; ++i) {
    EXPECT_TRUE(run_until(v, clock.t + 1s).empty());
    EXPECT_TRUE(v.on_advert(clock.t, kPeer, advert(200)).empty());
  }
  EXPECT_EQ(v.state(), State::backup);
  EXPECT_EQ(v.status().master, kPeer);
  EXPECT_EQ(v.status().master_priority, 200);
  TimePoint last = clock.t;
  EXPECT_EQ(run_until(v, last + 3599ms), Actions{});
  EXPECT_EQ(run_until(v, last + 3600ms), (Actions{master(Reason::master_down), send(100)}));
}

TEST_F(VrrpState, BackupAdoptsTheMastersAdvertInterval) {
  VrrpInstance v(params(100));
  v.start(clock.t);
  v.on_advert(clock.t, kPeer, advert(200, 50));
  // 3 x 50 + (156 x 50) / 256 = 150 + 30 centiseconds.
  EXPECT_EQ(v.status().master_adver_interval_cs, 50);
  EXPECT_EQ(v.master_down_interval_cs(), 180);
  EXPECT_EQ(*v.next_deadline(), clock.t + 1800ms);
  // Once master, it advertises at its own interval again.
  run_until(v, clock.t + 1800ms);
  EXPECT_EQ(v.state(), State::master);
  EXPECT_EQ(v.status().master_adver_interval_cs, 100);
  EXPECT_EQ(*v.next_deadline(), clock.t + 1000ms);
}

TEST_F(VrrpState, MasterYieldsToAHigherPriority) {
  VrrpInstance v(params(100));
  make_master(v);
  EXPECT_EQ(v.on_advert(clock.t, kLow, advert(150, 200)),
            (Actions{backup(Reason::higher_priority)}));
  EXPECT_EQ(v.state(), State::backup);
  EXPECT_EQ(v.status().master, kLow);
  // Its interval is adopted: 3 x 200 + (156 x 200) / 256 = 600 + 121.
  EXPECT_EQ(*v.next_deadline(), clock.t + 7210ms);
  EXPECT_EQ(v.status().last_reason, Reason::higher_priority);
}

TEST_F(VrrpState, MasterIgnoresALowerPriority) {
  VrrpInstance v(params(100));
  make_master(v);
  TimePoint next = *v.next_deadline();
  EXPECT_TRUE(v.on_advert(clock.t, kPeer, advert(99)).empty());
  EXPECT_EQ(v.state(), State::master);
  EXPECT_EQ(*v.next_deadline(), next);
}

TEST_F(VrrpState, EqualPrioritiesGoToTheHigherPrimaryAddress) {
  VrrpInstance v(params(100));
  make_master(v);
  EXPECT_TRUE(v.on_advert(clock.t, kLow, advert(100)).empty());
  EXPECT_EQ(v.state(), State::master);
  EXPECT_EQ(v.on_advert(clock.t, kPeer, advert(100)),
            (Actions{backup(Reason::tie_higher_address)}));

  // IPv6 link-local sources compare the same way (as 128-bit numbers).
  VrrpInstance v6(params(100, true, 0, ip("fe80::1:0")));
  make_master(v6);
  EXPECT_TRUE(v6.on_advert(clock.t, ip("fe80::ffff"), advert(100)).empty());
  EXPECT_EQ(v6.on_advert(clock.t, ip("fe80::2:0"), advert(100)),
            (Actions{backup(Reason::tie_higher_address)}));
}

TEST_F(VrrpState, ABackupDoesNotBreakTiesItJustFollows) {
  VrrpInstance v(params(100));
  v.start(clock.t);
  EXPECT_TRUE(v.on_advert(clock.t, kLow, advert(100)).empty());
  EXPECT_EQ(v.state(), State::backup);
  EXPECT_EQ(v.status().master, kLow);
}

// Two instances wired to each other: every advert one sends, the other gets.
struct Pair {
  VrrpInstance a, b;
  IpAddr a_addr, b_addr;
  // Adverts in `from_a` reach b and those in `from_b` reach a, and so on
  // with whatever they answer.
  void deliver(TimePoint now, const Actions& from_a, const Actions& from_b) {
    Actions answer_a, answer_b;
    for (const auto& act : from_a)
      if (act.kind == Kind::send_advert)
        for (const auto& x : b.on_advert(now, a_addr, advert(act.priority))) answer_b.push_back(x);
    for (const auto& act : from_b)
      if (act.kind == Kind::send_advert)
        for (const auto& x : a.on_advert(now, b_addr, advert(act.priority))) answer_a.push_back(x);
    if (!answer_a.empty() || !answer_b.empty()) deliver(now, answer_a, answer_b);
  }
  void run(FakeClock& clock, std::chrono::milliseconds for_how_long) {
    TimePoint end = clock.t + for_how_long;
    for (;;) {
      TimePoint next = std::min(a.next_deadline().value_or(end), b.next_deadline().value_or(end));
      if (next > end) break;
      clock.t = next;
      Actions fa = a.on_timer(next), fb = b.on_timer(next);
      deliver(next, fa, fb);
      if (next == end) break;
    }
    clock.t = end;
  }
};

TEST_F(VrrpState, TwoEqualNodesStartingTogetherSettleOnTheHigherAddress) {
  Pair p{VrrpInstance(params(100)), VrrpInstance(params(100, true, 0, kPeer)), kMe, kPeer};
  p.a.start(clock.t);
  p.b.start(clock.t);
  p.run(clock, 10s);
  EXPECT_EQ(p.a.state(), State::backup);
  EXPECT_EQ(p.b.state(), State::master);
  EXPECT_EQ(p.a.status().last_reason, Reason::tie_higher_address);
}

TEST_F(VrrpState, PriorityZeroMakesTheBackupTakeOverAfterSkewTime) {
  VrrpInstance v(params(200));
  v.start(clock.t);
  v.on_advert(clock.t, kPeer, advert(250));
  clock.advance(500ms);
  EXPECT_TRUE(v.on_advert(clock.t, kPeer, advert(0)).empty());
  // Skew_Time = (56 x 100) / 256 = 21 cs.
  EXPECT_EQ(*v.next_deadline(), clock.t + 210ms);
  EXPECT_EQ(run_until(v, clock.t + 210ms), (Actions{master(Reason::master_released), send(200)}));
}

TEST_F(VrrpState, ShutdownOfAMasterSendsPriorityZero) {
  VrrpInstance v(params(100));
  make_master(v);
  EXPECT_EQ(v.shutdown(clock.t), (Actions{send(0), {Kind::stop, 0, Reason::shutdown}}));
  EXPECT_EQ(v.state(), State::initialize);
  EXPECT_FALSE(v.next_deadline());
  EXPECT_TRUE(v.on_advert(clock.t, kPeer, advert(100)).empty());
  EXPECT_TRUE(v.shutdown(clock.t).empty());
  // And it may start again.
  EXPECT_EQ(v.start(clock.t), (Actions{backup(Reason::startup)}));
}

TEST_F(VrrpState, ShutdownOfABackupSendsNothing) {
  VrrpInstance v(params(100));
  v.start(clock.t);
  EXPECT_EQ(v.shutdown(clock.t), (Actions{{Kind::stop, 0, Reason::shutdown}}));
}

TEST_F(VrrpState, GracefulStopHandsOverWithinSkewTime) {
  Pair p{VrrpInstance(params(200)), VrrpInstance(params(100, true, 0, kPeer)), kMe, kPeer};
  p.a.start(clock.t);
  p.run(clock, 100ms);
  p.b.start(clock.t);
  p.run(clock, 10s);
  ASSERT_EQ(p.a.state(), State::master);
  ASSERT_EQ(p.b.state(), State::backup);
  TimePoint stop = clock.t;
  p.deliver(clock.t, p.a.shutdown(clock.t), {});
  // b's Skew_Time at priority 100: (156 x 100) / 256 = 60 cs, not 3.6 s.
  p.run(clock, 600ms);
  EXPECT_EQ(p.b.state(), State::master);
  EXPECT_EQ(p.b.status().last_change, stop + 600ms);
  EXPECT_EQ(p.b.status().last_reason, Reason::master_released);
}

TEST_F(VrrpState, MasterAnswersAPriorityZeroAtOnce) {
  VrrpInstance v(params(100));
  make_master(v);
  clock.advance(300ms);
  EXPECT_EQ(v.on_advert(clock.t, kPeer, advert(0)), (Actions{send(100)}));
  EXPECT_EQ(*v.next_deadline(), clock.t + 1000ms);
}

TEST_F(VrrpState, PreemptTakesOverFromALowerPriorityMaster) {
  VrrpInstance v(params(200));
  TimePoint t0 = clock.t;
  v.start(t0);
  Actions seen;
  for (int i = 1; i <= 5 && v.state() == State::backup; ++i) {
    for (auto& a : run_until(v, t0 + i * 1s)) seen.push_back(a);
    if (v.state() == State::backup) v.on_advert(clock.t, kPeer, advert(100));
  }
  // Its adverts are discarded: the master-down timer from start runs out.
  EXPECT_EQ(seen, (Actions{master(Reason::preempt), send(200)}));
  EXPECT_EQ(v.status().last_change, t0 + 3210ms);
}

TEST_F(VrrpState, WithoutPreemptALowerPriorityMasterIsFollowed) {
  VrrpInstance v(params(200, false));
  v.start(clock.t);
  for (int i = 0; i < 30; ++i) {
    EXPECT_TRUE(run_until(v, clock.t + 1s).empty());
    v.on_advert(clock.t, kPeer, advert(100));
  }
  EXPECT_EQ(v.state(), State::backup);
  EXPECT_EQ(v.status().master, kPeer);
}

TEST_F(VrrpState, PreemptDelayToleratesALowerMasterThatLong) {
  VrrpInstance v(params(200, true, 5000));
  TimePoint t0 = clock.t;
  v.start(t0);
  Actions seen;
  for (int i = 1; i <= 12 && v.state() == State::backup; ++i) {
    for (auto& a : run_until(v, t0 + i * 1s)) seen.push_back(a);
    if (v.state() == State::backup) v.on_advert(clock.t, kPeer, advert(100));
  }
  // First seen at 1 s: followed until 6 s, when its advert is discarded; the
  // timer set by the one at 5 s runs out at 5 s + 3.21 s.
  EXPECT_EQ(seen, (Actions{master(Reason::preempt), send(200)}));
  EXPECT_EQ(v.status().last_change, t0 + 8210ms);
}

TEST_F(VrrpState, PreemptDelayStartsAgainAfterAHigherMaster) {
  VrrpInstance v(params(200, true, 3000));
  TimePoint t0 = clock.t;
  v.start(t0);
  v.on_advert(t0 + 1s, kPeer, advert(100));  // lower: the delay starts
  v.on_advert(t0 + 2s, kLow, advert(250));   // higher: the delay is forgotten
  v.on_advert(t0 + 3s, kPeer, advert(100));  // lower again: starts over at 3 s
  v.on_advert(t0 + 5s, kPeer, advert(100));
  EXPECT_EQ(*v.next_deadline(), t0 + 5s + 3210ms);  // still followed at 5 s
  v.on_advert(t0 + 6s, kPeer, advert(100));         // 3 s passed: discarded
  EXPECT_EQ(*v.next_deadline(), t0 + 5s + 3210ms);
}

TEST_F(VrrpState, PreemptWaitsWhileHeldForResync) {
  VrrpInstance v(params(200));
  v.set_preempt_hold(true);
  v.start(clock.t);
  for (int i = 0; i < 30; ++i) {
    EXPECT_TRUE(run_until(v, clock.t + 1s).empty());
    v.on_advert(clock.t, kPeer, advert(100));
  }
  EXPECT_EQ(v.state(), State::backup);
  EXPECT_TRUE(v.status().preempt_held);
  v.set_preempt_hold(false);  // resync complete
  TimePoint released = clock.t;
  Actions seen;
  for (int i = 1; i <= 5 && v.state() == State::backup; ++i) {
    for (auto& a : run_until(v, released + i * 1s)) seen.push_back(a);
    if (v.state() == State::backup) v.on_advert(clock.t, kPeer, advert(100));
  }
  EXPECT_EQ(seen, (Actions{master(Reason::preempt), send(200)}));
  EXPECT_EQ(v.status().last_change, released + 3210ms);
}

TEST_F(VrrpState, PreemptDelayCountsFromTheRelease) {
  VrrpInstance v(params(200, true, 3000));
  v.set_preempt_hold(true);
  v.start(clock.t);
  for (int i = 0; i < 10; ++i) {
    run_until(v, clock.t + 1s);
    v.on_advert(clock.t, kPeer, advert(100));
  }
  v.set_preempt_hold(false);
  TimePoint released = clock.t;
  Actions seen;
  for (int i = 1; i <= 10 && v.state() == State::backup; ++i) {
    for (auto& a : run_until(v, released + i * 1s)) seen.push_back(a);
    if (v.state() == State::backup) v.on_advert(clock.t, kPeer, advert(100));
  }
  // First lower advert after the release at +1 s, followed until +4 s; the
  // timer set at +3 s runs out 3.21 s later.
  EXPECT_EQ(seen, (Actions{master(Reason::preempt), send(200)}));
  EXPECT_EQ(v.status().last_change, released + 6210ms);
}

TEST_F(VrrpState, HoldDoesNotKeepASilentMastersPlaceEmpty) {
  VrrpInstance v(params(200));
  v.set_preempt_hold(true);
  v.start(clock.t);
  v.on_advert(clock.t, kPeer, advert(100));
  EXPECT_EQ(run_until(v, clock.t + 3210ms), (Actions{master(Reason::master_down), send(200)}));
}

TEST_F(VrrpState, TrackingPenaltyIsAdvertisedAtOnceAndClampedToOne) {
  VrrpInstance v(params(200));
  make_master(v);
  clock.advance(400ms);
  EXPECT_EQ(v.set_track_penalty(clock.t, 150), (Actions{send(50)}));
  EXPECT_EQ(v.effective_priority(), 50);
  EXPECT_EQ(*v.next_deadline(), clock.t + 1000ms);
  EXPECT_TRUE(v.set_track_penalty(clock.t, 150).empty());  // unchanged: nothing to say
  EXPECT_EQ(v.set_track_penalty(clock.t, 1000), (Actions{send(1)}));
  EXPECT_EQ(v.set_track_penalty(clock.t, 0), (Actions{send(200)}));
  EXPECT_EQ(run_until(v, clock.t + 1s), (Actions{send(200)}));
}

TEST_F(VrrpState, TrackingPenaltyOnABackupChangesItsSkew) {
  VrrpInstance v(params(200));
  v.start(clock.t);
  EXPECT_TRUE(v.set_track_penalty(clock.t, 100).empty());
  EXPECT_EQ(v.effective_priority(), 100);
  EXPECT_EQ(v.skew_time_cs(), 60);
}

TEST_F(VrrpState, APenalisedMasterLosesToAPreemptingBackup) {
  Pair p{VrrpInstance(params(200)), VrrpInstance(params(150, true, 0, kPeer)), kMe, kPeer};
  p.a.start(clock.t);
  p.run(clock, 100ms);
  p.b.start(clock.t);
  p.run(clock, 10s);
  ASSERT_EQ(p.a.state(), State::master);
  // No serving backend on a: weight 100 off, 200 -> 100 < 150.
  p.deliver(clock.t, p.a.set_track_penalty(clock.t, 100), {});
  p.run(clock, 5s);
  EXPECT_EQ(p.b.state(), State::master);
  EXPECT_EQ(p.b.status().last_reason, Reason::preempt);
  EXPECT_EQ(p.a.state(), State::backup);
  EXPECT_EQ(p.a.status().last_reason, Reason::higher_priority);
}

TEST_F(VrrpState, OwnAdvertsLoopedBackAreIgnored) {
  VrrpInstance v(params(100));
  make_master(v);
  EXPECT_TRUE(v.on_advert(clock.t, kMe, advert(254)).empty());
  EXPECT_EQ(v.state(), State::master);
}

TEST_F(VrrpState, TheAddressOwnerIsMasterAtOnce) {
  VrrpInstance v(params(255));
  EXPECT_EQ(v.start(clock.t), (Actions{master(Reason::owner_startup), send(255)}));
  EXPECT_EQ(v.set_track_penalty(clock.t, 50), Actions{});  // the owner is not tracked
}

TEST_F(VrrpState, StatusCountsTransitions) {
  VrrpInstance v(params(100));
  make_master(v);
  v.on_advert(clock.t, kPeer, advert(200));
  Status s = v.status();
  EXPECT_EQ(s.state, State::backup);
  EXPECT_EQ(s.transitions, 3u);  // INIT->BACKUP->MASTER->BACKUP
  EXPECT_EQ(s.last_change, clock.t);
  EXPECT_STREQ(state_name(s.state), "BACKUP");
  EXPECT_STREQ(reason_name(s.last_reason), "higher_priority");
}

}  // namespace
}  // namespace sluice::vrrp
