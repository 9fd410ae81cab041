// SPDX-License-Identifier: Apache-2.0
// core/pipeline.h over plain C tables (tests/core/pipeline_tables.h), no
// root: the order of the steps, what each one records and counts.
#include "tests/core/pipeline_tables.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>

#include <memory>
#include <vector>

#include "core/wrr.h"
#include "tests/common/frame_spec.h"

namespace sluice::test {
namespace {

constexpr __u32 kVipId = 3;
constexpr __u32 kHeadroom = 128;

struct Pipeline {
  std::unique_ptr<sl_plain_tables> t{new sl_plain_tables{}};
  std::vector<sl_plain_conn_slot> conns;

  explicit Pipeline(__u8 mode = SL_MODE_DSR, __u32 conn_cap = 64) : conns(conn_cap) {
    t->conns = conns.data();
    t->conn_cap = conn_cap;
    t->have_global = 1;
    t->g.role = SL_ROLE_ACTIVE;
    t->g.src_v4 = htonl(0xc6120001);
    for (__u8 i = 0; i < 6; i++) t->g.lb_mac[i] = 0xa0 + i;
    for (__u32 i = 0; i < 3; i++) {
      sl_backend& b = t->backends[i];
      b.family = SL_AF_INET;
      b.addr[0] = htonl(0xc612000b + i);
      b.mac[5] = __u8(0xb0 + i);
      b.flags = SL_BE_F_LIVE;
      b.gen = 1;
      b.vip_id = kVipId;
    }
    ring({0, 1, 2});
    sl_pkt p = parse(frame(FrameSpec{}));
    sl_vip_key_of_flow(&p.flow, &t->vip_keys[0]);
    t->vips[0].vip_id = kVipId;
    t->vips[0].ring_id = 1;
    t->vips[0].mode = mode;
    t->nvips = 1;
    t->ctl.flags = SL_CTL_F_FLOW_EVENTS;
    t->now_ns = 777;
    t->coarse_ns = 777;
  }

  // Ring 1 (the VIP's) over `slots`, weight 1 each.
  void ring(std::vector<__u16> slots) {
    t->rings[1].len = __u32(slots.size());
    for (size_t i = 0; i < slots.size(); i++) t->rings[1].slots[i] = slots[i];
  }

  static sl_pkt parse(const Bytes& f) {
    sl_pkt p{};
    EXPECT_EQ(sl_parse(f.data(), f.data() + f.size(), &p), SL_R_NONE);
    return p;
  }

  struct Out {
    sl_reason r;
    Bytes bytes;  // the frame as it leaves
  };

  Out run(const FrameSpec& spec, __u32 headroom = kHeadroom, __u32 mtu = 1500) {
    Bytes f = frame(spec);
    std::vector<__u8> buf(headroom + f.size() + 256);
    memcpy(buf.data() + headroom, f.data(), f.size());
    sl_plain_ctx ctx{t.get(), buf.data(), __u32(buf.size()), headroom, __u32(f.size()), mtu};
    t->nsteps = 0;
    sl_pl_state s;
    sl_reason r = sl_pl_run(&ctx, &s);
    return {r, Bytes(buf.begin() + ctx.head, buf.begin() + ctx.head + ctx.len)};
  }

  std::vector<sl_pl_counter> steps() const {
    std::vector<sl_pl_counter> v;
    for (__u32 i = 0; i < t->nsteps; i++) v.push_back(t->steps[i].table);
    return v;
  }
  const sl_conn* conn(const FrameSpec& spec) {
    sl_pkt p = parse(frame(spec));
    sl_plain_ctx ctx{t.get(), nullptr, 0, 0, 0, 0};
    return sl_pl_conn_lookup(&ctx, &p.flow);
  }
};

FrameSpec syn(uint16_t sport = 40000) {
  FrameSpec f;
  f.l4.sport = sport;
  return f;
}
FrameSpec ack(uint16_t sport = 40000) {
  FrameSpec f = syn(sport);
  f.l4.tcp_flags = SL_TCP_ACK;
  return f;
}

const std::vector<sl_pl_counter> kSteered = {SL_PL_COUNT_VIP, SL_PL_COUNT_BACKEND,
                                             SL_PL_COUNT_REASON};
const std::vector<sl_pl_counter> kVipOnly = {SL_PL_COUNT_VIP, SL_PL_COUNT_REASON};
const std::vector<sl_pl_counter> kReasonOnly = {SL_PL_COUNT_REASON};

TEST(Pipeline, SynIsRecordedAnnouncedCountedAndRewritten) {
  Pipeline pl;
  auto o = pl.run(syn());
  EXPECT_EQ(o.r, SL_R_TX_NEW);
  EXPECT_EQ(pl.t->conn_count, 1u);
  const sl_conn* c = pl.conn(syn());
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->backend, 0u);  // the ring's first slot
  EXPECT_EQ(c->gen, 1u);
  EXPECT_EQ(c->vip_id, kVipId);
  EXPECT_EQ(c->created_ns, 777u);
  EXPECT_EQ(pl.t->nevents, 0u);  // unconfirmed: announced by the ACK (below)
  // VIP counted before the backend, the reason last.
  EXPECT_EQ(pl.steps(), kSteered);
  EXPECT_EQ(pl.t->steps[0].idx, kVipId);
  EXPECT_EQ(pl.t->steps[1].idx, 0u);
  EXPECT_EQ(pl.t->steps[2].idx, __u32(SL_R_TX_NEW));
  EXPECT_EQ(pl.t->vip_stats[kVipId].new_conns, 1u);
  EXPECT_EQ(pl.t->backend_stats[0].new_conns, 1u);
  EXPECT_EQ(pl.t->reason_stats[SL_R_TX_NEW].packets, 1u);
  EXPECT_EQ(pl.t->vip_stats[kVipId].bytes, pl.t->reason_stats[SL_R_TX_NEW].bytes);
  // DSR: to the backend's MAC from ours, nothing else changed.
  Bytes in = frame(syn());
  EXPECT_EQ(o.bytes[5], 0xb0);
  EXPECT_EQ(o.bytes[11], 0xa5);
  EXPECT_TRUE(std::equal(in.begin() + 12, in.end(), o.bytes.begin() + 12));
  // The client's ACK confirms the record, which is announced only now.
  EXPECT_EQ(pl.run(ack()).r, SL_R_TX_HIT);
  ASSERT_EQ(pl.t->nevents, 1u);
  EXPECT_EQ(pl.t->events[0].backend, 0u);
  EXPECT_EQ(pl.t->events[0].created_ns, 777u);
}

TEST(Pipeline, RetransmittedSynAndAckHitTheRecord) {
  Pipeline pl;
  ASSERT_EQ(pl.run(syn()).r, SL_R_TX_NEW);
  EXPECT_EQ(pl.run(syn()).r, SL_R_TX_HIT);  // looked up first: no second pick
  EXPECT_EQ(pl.run(ack()).r, SL_R_TX_HIT);
  EXPECT_EQ(pl.steps(), kSteered);
  EXPECT_EQ(pl.t->backend_stats[0].packets, 3u);
  EXPECT_EQ(pl.t->backend_stats[0].new_conns, 1u);
  EXPECT_EQ(pl.t->cursors[kVipId], 1u);  // one pick only
  EXPECT_EQ(pl.t->nevents, 1u);
  // A second flow takes the next slot.
  EXPECT_EQ(pl.run(syn(40001)).r, SL_R_TX_NEW);
  EXPECT_EQ(pl.conn(syn(40001))->backend, 1u);
}

TEST(Pipeline, StaleRecordIsRescheduledInPlace) {
  Pipeline pl;
  ASSERT_EQ(pl.run(syn()).r, SL_R_TX_NEW);
  const sl_conn* before = pl.conn(syn());
  pl.t->backends[0].gen = 2;  // slot 0 reused by another backend
  pl.t->coarse_ns = 888;  // created_ns: the coarse clock
  EXPECT_EQ(pl.run(ack()).r, SL_R_TX_RESCHEDULED);
  const sl_conn* after = pl.conn(syn());
  EXPECT_EQ(after, before);  // the same record, overwritten
  EXPECT_EQ(pl.t->conn_count, 1u);
  EXPECT_EQ(after->backend, 1u);
  EXPECT_EQ(after->created_ns, 888u);
  ASSERT_EQ(pl.t->nevents, 1u);  // confirmed by this ACK: announced once, rescheduled
  EXPECT_EQ(pl.t->events[0].backend, 1u);
  EXPECT_EQ(pl.t->vip_stats[kVipId].new_conns, 2u);
  EXPECT_EQ(pl.t->reason_stats[SL_R_TX_RESCHEDULED].packets, 1u);
}

TEST(Pipeline, SynToADownBackendIsScheduledAfreshItsAcksStay) {
  Pipeline pl;
  ASSERT_EQ(pl.run(syn()).r, SL_R_TX_NEW);
  pl.t->backends[0].flags = SL_BE_F_LIVE | SL_BE_F_DOWN;
  pl.ring({1, 2});
  EXPECT_EQ(pl.run(ack()).r, SL_R_TX_HIT);  // keep: the flow stays
  EXPECT_EQ(pl.conn(syn())->backend, 0u);
  EXPECT_EQ(pl.run(syn()).r, SL_R_TX_RESCHEDULED);  // a reused port
  EXPECT_EQ(pl.conn(syn())->backend, 2u);  // ring {1, 2}, cursor at 1
  // A stale ring still naming the down backend: no pick.
  pl.ring({0});
  EXPECT_EQ(pl.run(syn(41000)).r, SL_R_DROP_NO_BACKEND);
  EXPECT_EQ(pl.steps(), kVipOnly);
  EXPECT_EQ(pl.conn(syn(41000)), nullptr);
}

TEST(Pipeline, DropPolicyDropsTheFlowAfterCountingItsVip) {
  Pipeline pl;
  ASSERT_EQ(pl.run(syn()).r, SL_R_TX_NEW);
  pl.t->backends[0].flags = SL_BE_F_DROP_FLOWS;
  auto o = pl.run(ack());
  EXPECT_EQ(o.r, SL_R_DROP_BACKEND_DOWN);
  EXPECT_EQ(pl.steps(), kVipOnly);
  EXPECT_EQ(pl.t->reason_stats[SL_R_DROP_BACKEND_DOWN].packets, 1u);
  EXPECT_EQ(pl.t->backend_stats[0].packets, 1u);  // the SYN only
}

TEST(Pipeline, FullTableForwardsButDoesNotRecordNorAnnounce) {
  Pipeline pl(SL_MODE_DSR, 2);
  ASSERT_EQ(pl.run(syn(1)).r, SL_R_TX_NEW);
  ASSERT_EQ(pl.run(syn(2)).r, SL_R_TX_NEW);
  ASSERT_EQ(pl.t->conn_count, 2u);
  EXPECT_EQ(pl.run(syn(3)).r, SL_R_TX_NEW);
  EXPECT_EQ(pl.t->conn_count, 2u);
  EXPECT_EQ(pl.t->nevents, 0u);  // unconfirmed: not announced yet
  EXPECT_EQ(pl.steps(), kSteered);
  EXPECT_EQ(pl.run(ack(3)).r, SL_R_TX_MIDFLOW);  // still no record
  EXPECT_EQ(pl.run(ack(1)).r, SL_R_TX_HIT);      // the others keep theirs
}

TEST(Pipeline, PassiveRoleAndNonVipTrafficPassUncountedByVip) {
  Pipeline pl;
  pl.t->g.role = SL_ROLE_PASSIVE;
  EXPECT_EQ(pl.run(syn()).r, SL_R_PASS_PASSIVE);
  EXPECT_EQ(pl.steps(), kReasonOnly);
  pl.t->have_global = 0;
  EXPECT_EQ(pl.run(syn()).r, SL_R_PASS_PASSIVE);
  pl.t->have_global = 1;
  pl.t->g.role = SL_ROLE_ACTIVE;
  FrameSpec other = syn();
  other.l4.dport = 81;
  EXPECT_EQ(pl.run(other).r, SL_R_PASS_NOT_VIP);
  EXPECT_EQ(pl.steps(), kReasonOnly);
  EXPECT_EQ(pl.t->vip_stats[kVipId].packets, 0u);
  EXPECT_EQ(pl.t->conn_lookups, 0u);
  EXPECT_EQ(pl.t->conn_count, 0u);
}

TEST(Pipeline, StaleHeartbeatPassesFreshOneSteers) {
  Pipeline pl;
  pl.t->ctl.heartbeat_timeout_ns = 100;
  pl.t->ctl.heartbeat_ns = 1000;
  pl.t->coarse_ns = 1101;
  EXPECT_EQ(pl.run(syn()).r, SL_R_PASS_PASSIVE);
  EXPECT_EQ(pl.steps(), kReasonOnly);
  EXPECT_EQ(pl.t->conn_count, 0u);
  pl.t->coarse_ns = 1100;
  EXPECT_EQ(pl.run(syn()).r, SL_R_TX_NEW);
  pl.t->coarse_ns = 900;  // a coarse clock behind the stamp: fresh
  EXPECT_EQ(pl.run(syn()).r, SL_R_TX_HIT);
}

TEST(Pipeline, ScreenDropsAfterAdmissionWithoutALookup) {
  Pipeline pl;
  FrameSpec bad = syn();
  bad.l4.tcp_flags = SL_TCP_SYN | SL_TCP_FIN;
  EXPECT_EQ(pl.run(bad).r, SL_R_DROP_BAD_TCP_FLAGS);
  EXPECT_EQ(pl.steps(), kVipOnly);
  EXPECT_EQ(pl.t->conn_lookups, 0u);
  EXPECT_EQ(pl.t->conn_count, 0u);
}

TEST(Pipeline, NoFlowEventsWhenSwitchedOff) {
  Pipeline pl;
  pl.t->ctl.flags = 0;
  ASSERT_EQ(pl.run(syn()).r, SL_R_TX_NEW);
  EXPECT_EQ(pl.t->nevents, 0u);
  EXPECT_EQ(pl.t->conn_count, 1u);
}

TEST(Pipeline, EncapNeedsHeadRoom) {
  Pipeline pl(SL_MODE_IPIP);
  Bytes in = frame(syn());
  auto o = pl.run(syn(), 0);
  EXPECT_EQ(o.r, SL_R_DROP_ENCAP);
  EXPECT_EQ(pl.steps(), kVipOnly);  // the backend never saw it
  EXPECT_EQ(o.bytes, in);
  EXPECT_EQ(pl.t->conn_count, 1u);  // recorded before forward, as in XDP

  o = pl.run(ack(), 20);
  EXPECT_EQ(o.r, SL_R_TX_HIT);
  EXPECT_EQ(pl.steps(), kSteered);
  ASSERT_EQ(o.bytes.size(), in.size() + 20);
  EXPECT_EQ(o.bytes[14], 0x45);          // outer IPv4
  EXPECT_EQ(o.bytes[14 + 9], 4);         // carrying IPv4
  EXPECT_EQ(o.bytes[14 + 16], 198);      // to the backend
  EXPECT_EQ(o.bytes[14 + 19], 0x0b);
  EXPECT_EQ(o.bytes[34], 0x45);          // the client's packet follows
}

TEST(Pipeline, EncapAboveTheMtuIsDroppedWithoutDf) {
  Pipeline pl(SL_MODE_IPIP);
  Bytes in = frame(syn());
  __u32 l3 = __u32(in.size() - 14);
  EXPECT_EQ(pl.run(syn(), kHeadroom, l3 + 20).r, SL_R_TX_NEW);  // just fits
  auto o = pl.run(ack(), kHeadroom, l3 + 19);
  EXPECT_EQ(o.r, SL_R_DROP_TOO_BIG);  // no DF: no ICMP may be sent
  EXPECT_EQ(pl.steps(), kVipOnly);
  EXPECT_EQ(pl.t->reason_stats[SL_R_DROP_TOO_BIG].packets, 1u);
}

// The burst shape: every parse, then the rest of every front, the
// connection lookups in one pass (a bulk call on DPDK), then every back; a
// miss looked up again so a flow's second packet in the same burst follows
// its first.
TEST(Pipeline, BurstMatchesOnePacketAtATime) {
  std::vector<FrameSpec> burst = {syn(1), syn(2), ack(1), syn(3), ack(2), syn(1)};
  burst[3].l4.dport = 81;  // not a VIP

  Pipeline one;
  std::vector<sl_reason> want;
  for (auto& f : burst) want.push_back(one.run(f).r);
  ASSERT_EQ(want, (std::vector<sl_reason>{SL_R_TX_NEW, SL_R_TX_NEW, SL_R_TX_HIT,
                                          SL_R_PASS_NOT_VIP, SL_R_TX_HIT, SL_R_TX_HIT}));

  Pipeline pl;
  size_t n = burst.size();
  std::vector<Bytes> bufs(n);
  std::vector<sl_plain_ctx> ctx(n);
  std::vector<sl_pl_state> s(n);
  std::vector<sl_reason> got(n);
  for (size_t i = 0; i < n; i++) {
    Bytes f = frame(burst[i]);
    bufs[i].assign(kHeadroom, 0);
    bufs[i].insert(bufs[i].end(), f.begin(), f.end());
    ctx[i] = {pl.t.get(), bufs[i].data(), __u32(bufs[i].size()), kHeadroom, __u32(f.size()), 1500};
    sl_pl_parse(&ctx[i], &s[i]);
  }
  for (size_t i = 0; i < n; i++) got[i] = sl_pl_front_parsed(&ctx[i], &s[i]);
  std::vector<sl_conn*> recs(n, nullptr);
  for (size_t i = 0; i < n; i++)  // the bulk call
    if (sl_pl_wants_conn(&s[i])) recs[i] = sl_pl_conn_lookup(&ctx[i], &s[i].p.flow);
  EXPECT_EQ(pl.t->conn_lookups, 5u);
  for (size_t i = 0; i < n; i++) {
    if (s[i].in_vip) {
      sl_conn* c = recs[i];
      if (!c && sl_pl_wants_conn(&s[i])) c = sl_pl_conn_lookup(&ctx[i], &s[i].p.flow);
      got[i] = sl_pl_back(&ctx[i], &s[i], c);
    }
    sl_pl_finish(&ctx[i], &s[i], got[i]);
  }
  EXPECT_EQ(got, want);
  for (__u32 i = 0; i < SL_REASON_SLOTS; i++)
    EXPECT_EQ(pl.t->reason_stats[i].packets, one.t->reason_stats[i].packets) << i;
  EXPECT_EQ(pl.t->backend_stats[0].packets, one.t->backend_stats[0].packets);
  EXPECT_EQ(pl.t->backend_stats[1].packets, one.t->backend_stats[1].packets);
  EXPECT_EQ(pl.t->nevents, 2u);
}

// SYN-flood resilience: a SYN's record is unconfirmed until the client's
// first packet that is not a SYN (core/pipeline.h, sl_pl_split).
TEST(Pipeline, SynRecordIsUnconfirmedUntilTheClientAcks) {
  Pipeline pl;
  ASSERT_EQ(pl.run(syn()).r, SL_R_TX_NEW);
  sl_plain_ctx ctx{pl.t.get(), nullptr, 0, 0, 0, 0};
  sl_conn* c = const_cast<sl_conn*>(pl.conn(syn()));
  ASSERT_NE(c, nullptr);
  EXPECT_TRUE(sl_pl_conn_unconfirmed(&ctx, c));
  EXPECT_EQ(pl.run(syn()).r, SL_R_TX_HIT);  // a retransmission keeps it unconfirmed
  EXPECT_TRUE(sl_pl_conn_unconfirmed(&ctx, c));
  EXPECT_EQ(pl.t->conn_confirms, 0u);
  EXPECT_EQ(pl.t->cursors[kVipId], 1u);  // and no second pick
  EXPECT_EQ(pl.run(ack()).r, SL_R_TX_HIT);
  EXPECT_FALSE(sl_pl_conn_unconfirmed(&ctx, c));
  EXPECT_EQ(pl.t->conn_confirms, 1u);
  EXPECT_EQ(pl.run(ack()).r, SL_R_TX_HIT);
  EXPECT_EQ(pl.t->conn_confirms, 1u);  // once
  EXPECT_EQ(pl.t->nevents, 1u);
}

// A flow first seen mid-way is never confirmed (nothing proves it was
// opened: a spoofed ACK looks the same, sent once or many times): its
// record stays unconfirmed and unannounced, and its backend is the one
// its hash picks on the ring, so it stays put when the record goes.
TEST(Pipeline, MidflowRecordStaysUnconfirmedOnItsHashedBackend) {
  Pipeline pl;
  ASSERT_EQ(pl.run(ack(50000)).r, SL_R_TX_MIDFLOW);
  sl_plain_ctx ctx{pl.t.get(), nullptr, 0, 0, 0, 0};
  ASSERT_NE(pl.conn(ack(50000)), nullptr);
  EXPECT_TRUE(sl_pl_conn_unconfirmed(&ctx, pl.conn(ack(50000))));
  EXPECT_TRUE(pl.conn(ack(50000))->flags & SL_CONN_F_MIDFLOW);
  __u32 be = pl.conn(ack(50000))->backend;
  for (int i = 0; i < 3; ++i) ASSERT_EQ(pl.run(ack(50000)).r, SL_R_TX_HIT);
  EXPECT_TRUE(sl_pl_conn_unconfirmed(&ctx, pl.conn(ack(50000))));
  EXPECT_EQ(pl.t->nevents, 0u);
  EXPECT_EQ(pl.t->conn_confirms, 0u);
  // The same flow on a node that never saw it (fresh tables, cursors
  // moved by other flows first): the same backend, by its hash.
  Pipeline other;
  for (uint16_t p = 0; p < 5; ++p) ASSERT_EQ(other.run(syn(uint16_t(51000 + p))).r, SL_R_TX_NEW);
  ASSERT_EQ(other.run(ack(50000)).r, SL_R_TX_MIDFLOW);
  EXPECT_EQ(other.conn(ack(50000))->backend, be);
}

TEST(Pipeline, OneTableFlagRecordsSynsConfirmedAndAnnouncesThem) {
  Pipeline pl;
  pl.t->vips[0].flags |= SL_VIP_F_ONE_TABLE;
  ASSERT_EQ(pl.run(syn()).r, SL_R_TX_NEW);
  sl_plain_ctx ctx{pl.t.get(), nullptr, 0, 0, 0, 0};
  EXPECT_FALSE(sl_pl_conn_unconfirmed(&ctx, pl.conn(syn())));
  EXPECT_EQ(pl.t->nevents, 1u);
  EXPECT_EQ(pl.run(ack()).r, SL_R_TX_HIT);
  EXPECT_EQ(pl.t->conn_confirms, 0u);
}

TEST(Pipeline, IcmpErrorDoesNotConfirm) {
  Pipeline pl;
  ASSERT_EQ(pl.run(syn()).r, SL_R_TX_NEW);
  FrameSpec e = syn();
  Bytes err = icmp_too_big(syn(), "198.18.0.1", 1400);
  (void)e;
  Bytes buf(kHeadroom + err.size() + 64);
  std::copy(err.begin(), err.end(), buf.begin() + kHeadroom);
  sl_plain_ctx ctx{pl.t.get(), buf.data(), __u32(buf.size()), kHeadroom, __u32(err.size()), 1500};
  sl_pl_state s;
  EXPECT_EQ(sl_pl_run(&ctx, &s), SL_R_TX_ICMP);
  EXPECT_EQ(pl.t->conn_confirms, 0u);
}

// Per-source new-flow limits (core/limit.h).
TEST(Pipeline, NewFlowsOverTheSourceLimitAreDroppedEstablishedOnesNever) {
  Pipeline pl;
  pl.t->g.limit_interval_ns = 1000000;  // 1,000 new flows/s
  pl.t->g.limit_burst = 2;
  pl.t->now_ns = 10000000;
  EXPECT_EQ(pl.run(syn(1)).r, SL_R_TX_NEW);
  EXPECT_EQ(pl.run(syn(2)).r, SL_R_TX_NEW);
  EXPECT_EQ(pl.run(syn(3)).r, SL_R_DROP_NEW_FLOW_LIMIT);
  EXPECT_EQ(pl.steps(), kVipOnly);
  EXPECT_EQ(pl.conn(syn(3)), nullptr);  // no record
  EXPECT_EQ(pl.t->reason_stats[SL_R_DROP_NEW_FLOW_LIMIT].packets, 1u);
  // Established, retransmitted and mid-flow packets pass the empty bucket.
  EXPECT_EQ(pl.run(syn(1)).r, SL_R_TX_HIT);
  EXPECT_EQ(pl.run(ack(1)).r, SL_R_TX_HIT);
  EXPECT_EQ(pl.run(ack(9)).r, SL_R_TX_MIDFLOW);
  // Another source has its own bucket.
  FrameSpec other = syn(4);
  other.src = Addr::parse("198.18.0.11");
  EXPECT_EQ(pl.run(other).r, SL_R_TX_NEW);
  // One interval later, one more token.
  pl.t->now_ns += 1000000;
  EXPECT_EQ(pl.run(syn(5)).r, SL_R_TX_NEW);
  EXPECT_EQ(pl.run(syn(6)).r, SL_R_DROP_NEW_FLOW_LIMIT);
}

TEST(Pipeline, VipLimitOverridesTheGlobalOne) {
  Pipeline pl;
  pl.t->g.limit_interval_ns = 1000000;
  pl.t->g.limit_burst = 1;
  pl.t->vips[0].limit_interval_ns = 1000000;
  pl.t->vips[0].limit_burst = 3;
  pl.t->now_ns = 10000000;
  for (uint16_t p = 1; p <= 3; p++) EXPECT_EQ(pl.run(syn(p)).r, SL_R_TX_NEW) << p;
  EXPECT_EQ(pl.run(syn(4)).r, SL_R_DROP_NEW_FLOW_LIMIT);
  EXPECT_EQ(pl.t->buckets[0].key.scope, kVipId);
}

TEST(Pipeline, Ipv6SourcesShareTheirSlash64Bucket) {
  Pipeline pl;
  FrameSpec a = syn(1);
  a.src = Addr::parse("2001:2::10");
  a.dst = Addr::parse("2001:2::100");
  sl_pkt p = Pipeline::parse(frame(a));
  sl_vip_key_of_flow(&p.flow, &pl.t->vip_keys[1]);
  pl.t->vips[1] = pl.t->vips[0];
  pl.t->nvips = 2;
  pl.t->g.limit_interval_ns = 1000000;
  pl.t->g.limit_burst = 1;
  pl.t->now_ns = 10000000;
  EXPECT_EQ(pl.run(a).r, SL_R_TX_NEW);
  FrameSpec b = a;
  b.src = Addr::parse("2001:2::ffff:1:2:3");  // same /64
  b.l4.sport = 2;
  EXPECT_EQ(pl.run(b).r, SL_R_DROP_NEW_FLOW_LIMIT);
  FrameSpec c = a;
  c.src = Addr::parse("2001:2:0:1::10");  // another /64
  c.l4.sport = 3;
  EXPECT_EQ(pl.run(c).r, SL_R_TX_NEW);
}

}  // namespace
}  // namespace sluice::test
