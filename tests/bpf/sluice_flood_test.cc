// SPDX-License-Identifier: Apache-2.0
// SYN-flood resilience and per-source new-flow limits on the real program
// (BPF_PROG_TEST_RUN): a SYN's record waits in `conns_syn`, unconfirmed,
// until the client's ACK moves it to `conns`; a flood of SYNs churns only
// `conns_syn`. The single table (SL_VIP_F_ONE_TABLE) shows the loss the
// split prevents.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <linux/bpf.h>
#include <sched.h>

#include <cstring>
#include <set>
#include <tuple>

#include "core/wire.h"
#include "frame_checks.h"
#include "reason_probe.h"
#include "test_lb.h"

namespace sluice::test {
namespace {

const Addr client4 = Addr::parse(kClient4), vipA = Addr::parse(kVipA);

// Every packet on one CPU: LRU free lists are per CPU.
class OneCpu {
 public:
  OneCpu() {
    sched_getaffinity(0, sizeof(old_), &old_);
    cpu_set_t one;
    CPU_ZERO(&one);
    CPU_SET(sched_getcpu(), &one);
    sched_setaffinity(0, sizeof(one), &one);
  }
  ~OneCpu() { sched_setaffinity(0, sizeof(old_), &old_); }

 private:
  cpu_set_t old_;
};

using FlowId = std::tuple<uint16_t, uint32_t>;  // client port (host order), backend

sl_vip_key vip_a_key() {
  sl_vip_key k{};
  std::memcpy(k.addr, vipA.b.data(), 4);
  k.port = htons(80);
  k.proto = SL_IPPROTO_TCP;
  k.family = SL_AF_INET;
  return k;
}

class Flood : public ::testing::Test {
 protected:
  static constexpr uint32_t kTable = 1024, kSynTable = 256;

  void SetUp() override {
    XdpOptions o;
    o.attach = false;
    o.pin = false;
    o.conn_table_size = kTable;
    o.syn_table_size = kSynTable;
    auto dp = XdpDataplane::open(o);
    ASSERT_TRUE(dp.ok()) << dp.error().message();
    dp_ = std::move(*dp);
    ASSERT_TRUE(test_lb_fill(*dp_).ok());
  }

  Bytes tcp(const Addr& src, uint16_t port, uint8_t flags) {
    return frame(src, vipA, {SL_IPPROTO_TCP, port, 80, flags});
  }
  ProgRun send(const Bytes& f) { return prog_run(dp_->prog_fd(), f); }

  std::set<FlowId> table() {
    std::set<FlowId> s;
    auto conns = dp_->conns(0);
    EXPECT_TRUE(conns.ok()) << conns.error().message();
    if (conns.ok())
      for (const ConnEntry& e : *conns) s.insert(FlowId(ntohs(e.key.sport), e.conn.backend));
    return s;
  }

  // `n` established flows (SYN, then the client's ACK) on ports 10000..
  void establish(uint32_t n) {
    for (uint32_t i = 0; i < n; ++i) {
      ASSERT_EQ(send(tcp(client4, uint16_t(10000 + i), SL_TCP_SYN)).action, XDP_TX);
      ASSERT_EQ(send(tcp(client4, uint16_t(10000 + i), SL_TCP_ACK)).action, XDP_TX);
    }
  }

  // `n` SYNs (or other `flags`) from spoofed sources in 198.19.0.0/16,
  // one packet per flow, never answered.
  void flood(uint32_t n, uint8_t flags = SL_TCP_SYN) {
    for (uint32_t i = 0; i < n; ++i) {
      Addr src = Addr::parse("198.19.0.1");
      src.b[2] = uint8_t(1 + i / 250 % 250);
      src.b[3] = uint8_t(1 + i % 250);
      ASSERT_EQ(send(tcp(src, uint16_t(20000 + i % 40000), flags)).action, XDP_TX);
    }
  }

  void one_table(bool on) {
    auto m = dp_->vip_get(vip_a_key());
    ASSERT_TRUE(m.ok() && m->has_value());
    sl_vip_meta meta = **m;
    meta.flags = on ? uint8_t(meta.flags | SL_VIP_F_ONE_TABLE) : uint8_t(meta.flags & ~SL_VIP_F_ONE_TABLE);
    ASSERT_TRUE(dp_->vip_put(vip_a_key(), meta).ok());
  }

  std::unique_ptr<XdpDataplane> dp_;
};

TEST_F(Flood, SynRecordIsConfirmedByTheAckAndOnlyThenListed) {
  ReasonProbe first(*dp_);
  ProgRun syn = send(tcp(client4, 40000, SL_TCP_SYN));
  EXPECT_EQ(first.moved(), SL_R_TX_NEW);
  int be = backend_of_frame(syn.out);
  EXPECT_TRUE(table().empty());  // unconfirmed: in conns_syn only
  ReasonProbe again(*dp_);
  EXPECT_EQ(backend_of_frame(send(tcp(client4, 40000, SL_TCP_SYN)).out), be);
  EXPECT_EQ(again.moved(), SL_R_TX_HIT);  // a retransmission finds its record
  EXPECT_TRUE(table().empty());
  ReasonProbe ack(*dp_);
  EXPECT_EQ(backend_of_frame(send(tcp(client4, 40000, SL_TCP_ACK)).out), be);
  EXPECT_EQ(ack.moved(), SL_R_TX_HIT);
  EXPECT_EQ(table(), (std::set<FlowId>{{40000, uint32_t(be)}}));
  ReasonProbe later(*dp_);
  EXPECT_EQ(backend_of_frame(send(tcp(client4, 40000, SL_TCP_ACK)).out), be);
  EXPECT_EQ(later.moved(), SL_R_TX_HIT);
}

// The property: a SYN flood four times the size of both tables evicts no
// confirmed flow, and each keeps its backend.
TEST_F(Flood, SynFloodEvictsNoConfirmedFlow) {
  OneCpu pin;
  establish(kTable / 2);
  std::set<FlowId> before = table();
  ASSERT_EQ(before.size(), kTable / 2);
  flood(4 * kTable);
  EXPECT_EQ(table(), before) << "confirmed flows evicted by the flood";
  for (const auto& [port, backend] : before) {
    ReasonProbe probe(*dp_);
    ProgRun r = send(tcp(client4, port, SL_TCP_ACK));
    ASSERT_EQ(probe.moved(), SL_R_TX_HIT) << "port " << port;
    ASSERT_EQ(backend_of_frame(r.out), int(backend)) << "port " << port;
  }
}

// A flood of spoofed ACKs (mid-flow packets of flows nobody recorded) is
// held apart as a SYN flood is: each one's record waits unconfirmed until
// a second packet of its flow, which never comes.
TEST_F(Flood, AckFloodEvictsNoConfirmedFlow) {
  OneCpu pin;
  establish(kTable / 2);
  std::set<FlowId> before = table();
  ASSERT_EQ(before.size(), kTable / 2);
  flood(4 * kTable, SL_TCP_ACK);
  EXPECT_EQ(table(), before) << "confirmed flows evicted by the ACK flood";
  for (const auto& [port, backend] : before) {
    ReasonProbe probe(*dp_);
    ProgRun r = send(tcp(client4, port, SL_TCP_ACK));
    ASSERT_EQ(probe.moved(), SL_R_TX_HIT) << "port " << port;
    ASSERT_EQ(backend_of_frame(r.out), int(backend)) << "port " << port;
  }
}

// A flow first seen mid-way (its record lost, or made on the peer) is
// never confirmed, whatever it sends: it stays with the unconfirmed
// records. Its backend comes from its hash, so when a flood pushes its
// record out, its next packet goes to the same backend.
TEST_F(Flood, MidFlowFlowStaysApartOnItsHashedBackend) {
  OneCpu pin;
  ReasonProbe first(*dp_);
  int be = backend_of_frame(send(tcp(client4, 41000, SL_TCP_ACK)).out);
  EXPECT_EQ(first.moved(), SL_R_TX_MIDFLOW);
  for (int i = 0; i < 3; ++i) {
    ReasonProbe next(*dp_);
    EXPECT_EQ(backend_of_frame(send(tcp(client4, 41000, SL_TCP_ACK)).out), be);
    EXPECT_EQ(next.moved(), SL_R_TX_HIT);
  }
  EXPECT_TRUE(table().empty()) << "never confirmed";
  // A flood through the unconfirmed table: whether the kernel's LRU kept
  // this (recently used) record or not, the flow stays on its backend.
  flood(16 * kSynTable);
  ReasonProbe again(*dp_);
  EXPECT_EQ(backend_of_frame(send(tcp(client4, 41000, SL_TCP_ACK)).out), be);
  EXPECT_TRUE(again.moved() == SL_R_TX_HIT || again.moved() == SL_R_TX_MIDFLOW);
  EXPECT_TRUE(table().empty());
}

// Spoofed ACKs sent twice each (a second packet of the same made-up flow)
// confirm nothing either.
TEST_F(Flood, RepeatedAckFloodEvictsNoConfirmedFlow) {
  OneCpu pin;
  establish(kTable / 2);
  std::set<FlowId> before = table();
  flood(2 * kTable, SL_TCP_ACK);
  flood(2 * kTable, SL_TCP_ACK);  // the same flows again
  EXPECT_EQ(table(), before);
}

// The same flood against the single table: established flows are lost.
TEST_F(Flood, WithOneTableTheSameFloodEvictsEstablishedFlows) {
  OneCpu pin;
  one_table(true);
  establish(kTable / 2);
  std::set<FlowId> before = table();
  ASSERT_EQ(before.size(), kTable / 2);
  flood(4 * kTable);
  std::set<FlowId> after = table();
  size_t kept = 0;
  for (const FlowId& f : before) kept += after.count(f);
  EXPECT_LT(kept, before.size()) << "the single table should have lost flows";
}

// A retransmitted SYN into a full unconfirmed table finds its own record:
// it evicts nothing and keeps its backend; its ACK confirms it.
TEST_F(Flood, RetransmittedSynIntoAFullSynTableHitsItsRecord) {
  OneCpu pin;
  flood(2 * kSynTable);
  ReasonProbe first(*dp_);
  int be = backend_of_frame(send(tcp(client4, 41000, SL_TCP_SYN)).out);
  EXPECT_EQ(first.moved(), SL_R_TX_NEW);
  for (int i = 0; i < 3; i++) {
    ReasonProbe again(*dp_);
    EXPECT_EQ(backend_of_frame(send(tcp(client4, 41000, SL_TCP_SYN)).out), be);
    EXPECT_EQ(again.moved(), SL_R_TX_HIT);
  }
  ReasonProbe ack(*dp_);
  EXPECT_EQ(backend_of_frame(send(tcp(client4, 41000, SL_TCP_ACK)).out), be);
  EXPECT_EQ(ack.moved(), SL_R_TX_HIT);
  EXPECT_EQ(table().count(FlowId{41000, uint32_t(be)}), 1u);
}

// Per-source limits: the burst passes, the next new flow is dropped under
// its own reason and recorded nowhere; established flows are never limited.
TEST_F(Flood, NewFlowsOverTheSourceLimitAreDropped) {
  establish(1);  // port 10000, before the limit
  sl_global g{};  // test_lb_set_role's, with a limit
  g.role = SL_ROLE_ACTIVE;
  Addr s4 = Addr::parse(kLbSrc4), s6 = Addr::parse(kLbSrc6);
  std::memcpy(&g.src_v4, s4.b.data(), 4);
  std::memcpy(g.src_v6, s6.b.data(), 16);
  std::memcpy(g.lb_mac, kLbMac.data(), 6);
  g.limit_interval_ns = 1000000000u;  // 1 new flow/s: no refill during the test
  g.limit_burst = 3;
  ASSERT_TRUE(dp_->global_set(g).ok());
  for (uint16_t p = 0; p < 3; ++p) {
    ReasonProbe probe(*dp_);
    send(tcp(client4, uint16_t(42000 + p), SL_TCP_SYN));
    EXPECT_EQ(probe.moved(), SL_R_TX_NEW) << p;
  }
  ReasonProbe over(*dp_);
  EXPECT_EQ(send(tcp(client4, 42003, SL_TCP_SYN)).action, XDP_DROP);
  EXPECT_EQ(over.moved(), SL_R_DROP_NEW_FLOW_LIMIT);
  ReasonProbe retrans(*dp_);
  EXPECT_EQ(send(tcp(client4, 42001, SL_TCP_SYN)).action, XDP_TX);
  EXPECT_EQ(retrans.moved(), SL_R_TX_HIT);
  ReasonProbe est(*dp_);
  EXPECT_EQ(send(tcp(client4, 10000, SL_TCP_ACK)).action, XDP_TX);
  EXPECT_EQ(est.moved(), SL_R_TX_HIT);
  // Another source has a bucket of its own.
  ReasonProbe other(*dp_);
  send(tcp(Addr::parse("198.19.7.7"), 42000, SL_TCP_SYN));
  EXPECT_EQ(other.moved(), SL_R_TX_NEW);
  // A VIP's own limit replaces the global one for that VIP.
  auto m = dp_->vip_get(vip_a_key());
  ASSERT_TRUE(m.ok() && m->has_value());
  sl_vip_meta meta = **m;
  meta.limit_interval_ns = 1000000000u;
  meta.limit_burst = 5;
  ASSERT_TRUE(dp_->vip_put(vip_a_key(), meta).ok());
  for (uint16_t p = 0; p < 5; ++p) {
    ReasonProbe probe(*dp_);
    send(tcp(client4, uint16_t(43000 + p), SL_TCP_SYN));
    EXPECT_EQ(probe.moved(), SL_R_TX_NEW) << p;
  }
  ReasonProbe vip_over(*dp_);
  send(tcp(client4, 43005, SL_TCP_SYN));
  EXPECT_EQ(vip_over.moved(), SL_R_DROP_NEW_FLOW_LIMIT);
}

}  // namespace
}  // namespace sluice::test
