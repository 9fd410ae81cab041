// SPDX-License-Identifier: Apache-2.0
// VrrpNode on a fake clock with a recording transport and effects: what the
// node does to the host, and in which order.
#include "control/vrrp/vrrp_node.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "control/vrrp/vrrp_service.h"

namespace sluice::vrrp {
namespace {

using std::chrono::milliseconds;

IpAddr ip(const char* s) { return *IpAddr::parse(s); }

struct Recorder final : AdvertTransport, RoleEffects {
  std::vector<std::string> log;
  std::vector<Advert> sent;
  std::vector<std::chrono::nanoseconds> heartbeats;
  bool fail_send = false;

  Result<void> send(const Advert& a) override {
    if (fail_send) return make_error("send", 101);
    sent.push_back(a);
    log.push_back("advert " + std::to_string(a.priority));
    return {};
  }
  Result<void> set_role(bool active) override {
    log.push_back(active ? "role active" : "role passive");
    return {};
  }
  Result<void> hold_vips(const std::vector<IpAddr>& v) override {
    log.push_back("hold " + list(v));
    return {};
  }
  Result<void> renew_vips() override {
    log.push_back("renew");
    return {};
  }
  Result<void> release_vips(const std::vector<IpAddr>& also) override {
    log.push_back("release " + list(also));
    return {};
  }
  void announce(const std::vector<IpAddr>& v) override { log.push_back("announce " + list(v)); }
  void heartbeat(std::chrono::nanoseconds t) override { heartbeats.push_back(t); }

  static std::string list(const std::vector<IpAddr>& v) {
    std::string s;
    for (const auto& a : v) s += (s.empty() ? "" : ",") + a.str();
    return s;
  }
  std::vector<std::string> take() { return std::exchange(log, {}); }
};

VrrpConfig vrrp_config(uint32_t priority = 200) {
  VrrpConfig c;
  c.vrid = 51;
  c.priority = priority;
  c.advert_interval_ms = 100;
  c.track.no_serving_backend = 50;
  c.track.interface_down = 100;
  return c;
}

struct VrrpNodeTest : ::testing::Test {
  Recorder rec;
  TimePoint t0 = TimePoint{} + std::chrono::hours(1);
  std::vector<Transition> transitions;

  NodeConfig node_config(uint32_t priority = 200) {
    NodeConfig c;
    c.name = "VI_51";
    c.interface = "eth0";
    c.vrrp = vrrp_config(priority);
    c.primary = ip("198.18.0.1");
    c.vips = {ip("198.18.0.100"), ip("2001:2::100")};
    return c;
  }
  std::unique_ptr<VrrpNode> make(uint32_t priority = 200) {
    auto n = std::make_unique<VrrpNode>(node_config(priority), rec, rec);
    n->on_transition([this](const Transition& t) { transitions.push_back(t); });
    return n;
  }
  // An advert from `src` as the socket would hand it over.
  RxAdvert from(const char* src, uint8_t priority, uint8_t ttl = 255) {
    Advert a{51, priority, 10, {ip("198.18.0.100")}};
    RxAdvert rx;
    rx.src = ip(src);
    rx.dst = ip("224.0.0.18");
    rx.ttl = ttl;
    rx.msg = advert_encode(a, rx.src, rx.dst);
    return rx;
  }
  // Backup -> Master after Master_Down_Interval (3 x 100 ms + skew).
  void to_master(VrrpNode& n) {
    n.start(t0);
    n.on_timer(t0 + milliseconds(400));
    ASSERT_EQ(n.state(), State::master);
  }
};

TEST_F(VrrpNodeTest, StartsAsBackupWithNoVipAndPassive) {
  auto n = make();
  n->start(t0);
  EXPECT_EQ(n->state(), State::backup);
  // The VIPs a previous run may have left are removed, then the role.
  EXPECT_EQ(rec.take(),
            (std::vector<std::string>{"release 198.18.0.100,2001:2::100", "role passive"}));
  EXPECT_TRUE(rec.sent.empty());
  ASSERT_EQ(transitions.size(), 1u);
  EXPECT_EQ(transitions[0].to, State::backup);
  EXPECT_STREQ(notify_state_name(transitions[0].to), "BACKUP");
}

TEST_F(VrrpNodeTest, TakingOverActivatesBeforeAddingVipsThenAdvertsThenAnnounces) {
  auto n = make();
  n->start(t0);
  rec.take();
  n->on_timer(t0 + milliseconds(400));
  EXPECT_EQ(rec.take(),
            (std::vector<std::string>{"role active", "hold 198.18.0.100,2001:2::100", "advert 200",
                                      "announce 198.18.0.100,2001:2::100"}));
  ASSERT_EQ(transitions.size(), 2u);
  EXPECT_EQ(transitions[1].from, State::backup);
  EXPECT_EQ(transitions[1].to, State::master);
  EXPECT_EQ(transitions[1].reason, Reason::master_down);
  EXPECT_EQ(transitions[1].priority, 200);
  EXPECT_EQ(transitions[1].master, ip("198.18.0.1"));
}

TEST_F(VrrpNodeTest, AdvertsListOnlyTheVipsOfTheSourceFamily) {
  auto n = make();
  to_master(*n);
  ASSERT_EQ(rec.sent.size(), 1u);
  EXPECT_EQ(rec.sent[0].addrs, std::vector<IpAddr>{ip("198.18.0.100")});
  EXPECT_EQ(rec.sent[0].vrid, 51);
  EXPECT_EQ(rec.sent[0].max_adver_int_cs, 10);
}

TEST_F(VrrpNodeTest, AnnouncesAFewTimesThenStops) {
  auto n = make();
  to_master(*n);
  rec.take();
  TimePoint t = t0 + milliseconds(400);
  int announces = 1;  // the one on taking over
  for (int i = 0; i < 40; ++i) {
    t += milliseconds(100);
    n->on_timer(t);
    for (const auto& l : rec.take()) announces += l.rfind("announce", 0) == 0;
  }
  EXPECT_EQ(announces, 3);
}

TEST_F(VrrpNodeTest, YieldingRemovesVipsBeforeGoingPassive) {
  auto n = make();
  to_master(*n);
  rec.take();
  n->on_receive(t0 + milliseconds(450), from("198.18.0.2", 250));
  EXPECT_EQ(n->state(), State::backup);
  EXPECT_EQ(rec.take(),
            (std::vector<std::string>{"release 198.18.0.100,2001:2::100", "role passive"}));
  EXPECT_EQ(transitions.back().reason, Reason::higher_priority);
  EXPECT_EQ(transitions.back().master, ip("198.18.0.2"));
  EXPECT_EQ(n->report().adverts_received, 1u);
}

TEST_F(VrrpNodeTest, ShutdownSendsPriorityZeroThenLetsGo) {
  auto n = make();
  to_master(*n);
  rec.take();
  n->shutdown(t0 + milliseconds(450));
  EXPECT_EQ(rec.take(), (std::vector<std::string>{"advert 0", "release 198.18.0.100,2001:2::100",
                                                  "role passive"}));
  EXPECT_STREQ(notify_state_name(transitions.back().to), "STOP");
}

TEST_F(VrrpNodeTest, ALateAdvertIsCountedWithHowLate) {
  auto n = make();
  to_master(*n);  // sends at +400; the next is due at +500
  n->on_timer(t0 + milliseconds(500));
  n->on_timer(t0 + milliseconds(605));  // 5 ms late: within 10% of the interval
  n->on_timer(t0 + milliseconds(735));  // 30 ms late
  VrrpReport r = n->report();
  EXPECT_EQ(r.adverts_sent, 4u);
  EXPECT_EQ(r.advert_late, 1u);
  EXPECT_DOUBLE_EQ(r.advert_jitter_max_ms, 30.0);
}

TEST_F(VrrpNodeTest, DropsAreCountedByReasonAndChangeNothing) {
  auto n = make();
  to_master(*n);
  n->on_receive(t0 + milliseconds(410), from("198.18.0.2", 250, 254));
  RxAdvert cut = from("198.18.0.2", 250);
  cut.truncated = true;
  n->on_receive(t0 + milliseconds(420), cut);
  RxAdvert bad_header = from("198.18.0.2", 250);
  bad_header.drop = AdvertDrop::too_short;
  n->on_receive(t0 + milliseconds(430), bad_header);
  RxAdvert other_vrid = from("198.18.0.2", 250);
  other_vrid.msg =
      advert_encode({52, 250, 10, {ip("198.18.0.100")}}, other_vrid.src, other_vrid.dst);
  n->on_receive(t0 + milliseconds(440), other_vrid);
  EXPECT_EQ(n->state(), State::master);
  VrrpReport r = n->report();
  EXPECT_EQ(r.advert_drops[static_cast<size_t>(AdvertDrop::bad_ttl)], 1u);
  EXPECT_EQ(r.advert_drops[static_cast<size_t>(AdvertDrop::bad_length)], 1u);
  EXPECT_EQ(r.advert_drops[static_cast<size_t>(AdvertDrop::too_short)], 1u);
  EXPECT_EQ(r.advert_drops[static_cast<size_t>(AdvertDrop::bad_vrid)], 1u);
  EXPECT_EQ(r.adverts_received, 0u);
}

TEST_F(VrrpNodeTest, OurOwnLoopedBackAdvertIsIgnored) {
  auto n = make();
  to_master(*n);
  n->on_receive(t0 + milliseconds(410), from("198.18.0.1", 200));
  EXPECT_EQ(n->report().adverts_received, 0u);
  EXPECT_EQ(n->state(), State::master);
}

TEST_F(VrrpNodeTest, VipListChangesAreHeldOnlyWhileMaster) {
  auto n = make();
  n->start(t0);
  rec.take();
  n->set_vips(t0 + milliseconds(10), {ip("198.18.0.100"), ip("198.18.0.101")});
  EXPECT_TRUE(rec.take().empty());  // backup: kept for later
  n->on_timer(t0 + milliseconds(400));
  EXPECT_EQ(rec.sent.back().addrs, (std::vector<IpAddr>{ip("198.18.0.100"), ip("198.18.0.101")}));
  rec.take();
  n->set_vips(t0 + milliseconds(450), {ip("198.18.0.101"), ip("198.18.0.102")});
  EXPECT_EQ(rec.take(),
            (std::vector<std::string>{"hold 198.18.0.101,198.18.0.102", "announce 198.18.0.102"}));
}

TEST_F(VrrpNodeTest, TrackingLowersTheAdvertisedPriorityAtOnce) {
  auto n = make();
  to_master(*n);
  rec.take();
  n->set_tracking(t0 + milliseconds(410), true, false);
  EXPECT_EQ(rec.take(), std::vector<std::string>{"advert 150"});
  n->set_tracking(t0 + milliseconds(420), true, true);
  EXPECT_EQ(rec.take(), std::vector<std::string>{"advert 50"});
  n->set_tracking(t0 + milliseconds(430), true, true);  // no change: nothing sent
  EXPECT_TRUE(rec.take().empty());
  EXPECT_EQ(n->report().track_penalty, 150u);
  EXPECT_EQ(n->report().instance.effective_priority, 50);
  n->set_tracking(t0 + milliseconds(440), false, false);
  EXPECT_EQ(rec.take(), std::vector<std::string>{"advert 200"});
}

TEST_F(VrrpNodeTest, AHealthierBackupTakesOverFromATrackedMaster) {
  // lb2 (100) hears lb1 (200) tracked down to 50: it preempts.
  auto n = make(100);
  n->start(t0);
  n->on_receive(t0 + milliseconds(50), from("198.18.0.2", 200));
  n->on_receive(t0 + milliseconds(150), from("198.18.0.2", 50));
  n->on_timer(t0 + milliseconds(600));
  EXPECT_EQ(n->state(), State::master);
  EXPECT_EQ(transitions.back().reason, Reason::preempt);
}

TEST_F(VrrpNodeTest, HeartbeatEveryIntervalOutlastingAnyPeersTakeover) {
  auto n = make();
  n->start(t0);
  n->on_timer(t0);
  n->on_timer(t0 + milliseconds(50));
  n->on_timer(t0 + milliseconds(100));
  ASSERT_EQ(rec.heartbeats.size(), 2u);
  // Past the slowest peer's takeover (3 x 100 ms + skew < 400 ms) and its
  // announcements.
  EXPECT_EQ(rec.heartbeats[0], std::chrono::milliseconds(500));
}

TEST_F(VrrpNodeTest, VipsAreRenewedWhileMasterOnly) {
  auto n = make();
  n->start(t0);
  for (int ms = 0; ms <= 300; ms += 100) n->on_timer(t0 + milliseconds(ms));
  for (const auto& l : rec.take()) EXPECT_NE(l, "renew");
  n->on_timer(t0 + milliseconds(400));  // master
  int renews = 0;
  for (int ms = 500; ms <= 3400; ms += 100) {
    n->on_timer(t0 + milliseconds(ms));
    for (const auto& l : rec.take()) renews += l == "renew";
  }
  EXPECT_EQ(renews, 3);  // +1400, +2400, +3400
}

TEST_F(VrrpNodeTest, NextWakeupIsTheEarliestDeadline) {
  auto n = make();
  n->start(t0);
  EXPECT_EQ(n->next_wakeup(), t0);  // the first heartbeat
  n->on_timer(t0);
  EXPECT_EQ(n->next_wakeup(), t0 + milliseconds(100));  // the next heartbeat
  for (int ms = 100; ms <= 400; ms += 100) n->on_timer(t0 + milliseconds(ms));
  ASSERT_EQ(n->state(), State::master);
  // Advert and heartbeat at +500; the next announcement +900, renewal +1400.
  EXPECT_EQ(n->next_wakeup(), t0 + milliseconds(500));
}

TEST_F(VrrpNodeTest, ASendFailureIsNotCountedAsSent) {
  auto n = make();
  rec.fail_send = true;
  to_master(*n);
  EXPECT_EQ(n->report().adverts_sent, 0u);
  EXPECT_EQ(n->state(), State::master);
}

TEST(AdvertFamily, PeersThenIpv4ThenIpv6) {
  VrrpConfig c;
  std::vector<IpAddr> both = {ip("2001:2::100"), ip("198.18.0.100")};
  std::vector<IpAddr> v6 = {ip("2001:2::100")};
  EXPECT_EQ(advert_family(c, both), SL_AF_INET);
  EXPECT_EQ(advert_family(c, v6), SL_AF_INET6);
  EXPECT_EQ(advert_family(c, {}), SL_AF_INET);
  c.unicast_peers = {ip("2001:2::2")};
  EXPECT_EQ(advert_family(c, both), SL_AF_INET6);
}

}  // namespace
}  // namespace sluice::vrrp
