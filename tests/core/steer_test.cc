// SPDX-License-Identifier: Apache-2.0
#include "core/steer.h"

#include <gtest/gtest.h>

#include "core/flow.h"

#include <arpa/inet.h>

#include <cstring>

namespace {

sl_pkt pkt(uint8_t proto, uint8_t flags) {
  sl_pkt p{};
  p.flow.proto = proto;
  p.flags = flags;
  return p;
}

TEST(Steer, AdmitNeedsVipAndActiveRole) {
  sl_vip_meta vip{};
  sl_global active{}, passive{};
  active.role = SL_ROLE_ACTIVE;
  passive.role = SL_ROLE_PASSIVE;
  EXPECT_EQ(sl_steer_admit(nullptr, &active), SL_R_PASS_NOT_VIP);
  EXPECT_EQ(sl_steer_admit(&vip, &passive), SL_R_PASS_PASSIVE);
  EXPECT_EQ(sl_steer_admit(&vip, nullptr), SL_R_PASS_PASSIVE);
  EXPECT_EQ(sl_steer_admit(&vip, &active), SL_R_NONE);
}

TEST(Steer, RecordUsableOnlyForLiveSameGenerationBackend) {
  sl_backend be{};
  be.flags = SL_BE_F_LIVE;
  be.gen = 3;
  sl_conn c{};
  sl_conn_init(&c, 7, &be, 1, 99);
  EXPECT_EQ(c.backend, 7u);
  EXPECT_EQ(c.created_ns, 99u);
  EXPECT_TRUE(sl_conn_usable(&c, &be));
  be.gen = 4;  // slot reused by another backend
  EXPECT_FALSE(sl_conn_usable(&c, &be));
  be.gen = 3;
  be.flags = 0;  // removed
  EXPECT_FALSE(sl_conn_usable(&c, &be));
  EXPECT_FALSE(sl_conn_usable(nullptr, &be));
  EXPECT_FALSE(sl_conn_usable(&c, nullptr));
}

TEST(Steer, FlowsOfAFailedBackendDropOnlyUnderDropPolicy) {
  sl_backend be{};
  be.gen = 2;
  be.flags = SL_BE_F_LIVE;
  sl_conn c{};
  sl_conn_init(&c, 1, &be, 0, 0);
  EXPECT_FALSE(sl_conn_dropped(&c, &be));  // keep
  be.flags = 0;
  EXPECT_FALSE(sl_conn_dropped(&c, &be));  // reschedule
  EXPECT_FALSE(sl_conn_usable(&c, &be));
  be.flags = SL_BE_F_DROP_FLOWS;
  EXPECT_TRUE(sl_conn_dropped(&c, &be));  // drop
  EXPECT_FALSE(sl_conn_usable(&c, &be));
  be.gen = 3;  // the slot now holds another backend: its flows are not this one's
  EXPECT_FALSE(sl_conn_dropped(&c, &be));
  EXPECT_EQ(sl_reason_verdict(SL_R_DROP_BACKEND_DOWN), SL_VERDICT_DROP);
}

TEST(Steer, RecordDecidesFollowDropOrSchedule) {
  sl_backend be{};
  be.gen = 1;
  be.flags = SL_BE_F_LIVE;
  sl_conn c{};
  sl_conn_init(&c, 0, &be, 0, 0);
  sl_pkt ack = pkt(SL_IPPROTO_TCP, 0), icmp = pkt(SL_IPPROTO_TCP, SL_PKT_F_ICMP_ERR);
  EXPECT_EQ(sl_record_decide(&ack, &c, &be), SL_R_TX_HIT);
  EXPECT_EQ(sl_record_decide(&icmp, &c, &be), SL_R_TX_ICMP);
  be.flags = SL_BE_F_DROP_FLOWS;
  EXPECT_EQ(sl_record_decide(&ack, &c, &be), SL_R_DROP_BACKEND_DOWN);
  be.flags = 0;
  EXPECT_EQ(sl_record_decide(&ack, &c, &be), SL_R_TX_RESCHEDULED);
  EXPECT_EQ(sl_record_decide(&icmp, &c, &be), SL_R_PASS_ICMP_NO_FLOW);
  EXPECT_EQ(sl_record_decide(&ack, nullptr, nullptr), SL_R_TX_MIDFLOW);
  EXPECT_TRUE(sl_reason_is_new_conn(sl_record_decide(&ack, nullptr, nullptr)));
  EXPECT_FALSE(sl_reason_is_new_conn(sl_record_decide(&icmp, nullptr, nullptr)));
}

// on_backend_down: keep leaves a failed backend LIVE for its flows; a SYN
// reusing a recorded port is a new connection the backend will not answer.
TEST(Steer, SynFollowsARecordOnlyToABackendThatIsUp) {
  sl_backend be{};
  be.gen = 1;
  be.flags = SL_BE_F_LIVE | SL_BE_F_DOWN;
  sl_conn c{};
  sl_conn_init(&c, 0, &be, 0, 0);
  sl_pkt ack = pkt(SL_IPPROTO_TCP, 0), syn = pkt(SL_IPPROTO_TCP, SL_PKT_F_SYN);
  EXPECT_EQ(sl_record_decide(&ack, &c, &be), SL_R_TX_HIT);
  EXPECT_EQ(sl_record_decide(&syn, &c, &be), SL_R_TX_RESCHEDULED);
  be.flags = SL_BE_F_LIVE;  // up again: a retransmitted SYN keeps its backend
  EXPECT_EQ(sl_record_decide(&syn, &c, &be), SL_R_TX_HIT);
}

// A client -> VIP packet from `src` (v4 or v6 by the text) to 198.18.0.100
// or 2001:2::100, with TCP flags `tcp_flags`.
sl_pkt from(const char* src, uint8_t tcp_flags = SL_TCP_SYN, uint8_t flags = SL_PKT_F_SYN) {
  sl_pkt p = pkt(SL_IPPROTO_TCP, flags);
  p.tcp_flags = tcp_flags;
  bool v6 = std::strchr(src, ':') != nullptr;
  p.flow.family = v6 ? SL_AF_INET6 : SL_AF_INET;
  EXPECT_EQ(inet_pton(v6 ? AF_INET6 : AF_INET, src, p.flow.src), 1) << src;
  EXPECT_EQ(inet_pton(v6 ? AF_INET6 : AF_INET, v6 ? "2001:2::100" : "198.18.0.100", p.flow.dst),
            1);
  return p;
}

TEST(Steer, ScreenPassesWhatClientsSend) {
  for (const char* src : {"198.18.0.10", "198.19.255.254", "223.255.255.255", "2001:2::10",
                          "2001:2::101", "fe80::1", "::2", "::ffff:198.18.0.10"}) {
    sl_pkt p = from(src);
    EXPECT_EQ(sl_steer_screen(&p), SL_R_NONE) << src;
  }
  for (uint8_t f : {SL_TCP_SYN, SL_TCP_ACK, SL_TCP_ACK | SL_TCP_FIN, SL_TCP_ACK | SL_TCP_RST,
                    SL_TCP_RST, SL_TCP_SYN | SL_TCP_ACK}) {
    sl_pkt p = from("198.18.0.10", f, 0);
    EXPECT_EQ(sl_steer_screen(&p), SL_R_NONE) << int(f);
  }
}

TEST(Steer, ScreenDropsWhatNoClientSends) {
  for (uint8_t f : {SL_TCP_SYN | SL_TCP_FIN, SL_TCP_SYN | SL_TCP_RST,
                    SL_TCP_SYN | SL_TCP_ACK | SL_TCP_FIN}) {
    sl_pkt p = from("198.18.0.10", f, 0);
    EXPECT_EQ(sl_steer_screen(&p), SL_R_DROP_BAD_TCP_FLAGS) << int(f);
  }
  for (const char* src : {"198.18.0.100", "255.255.255.255", "224.0.0.1", "239.1.2.3",
                          "0.0.0.0", "0.1.2.3", "127.0.0.1", "2001:2::100", "ff02::1",
                          "ff0e::5", "::", "::1"}) {
    sl_pkt p = from(src);
    EXPECT_EQ(sl_steer_screen(&p), SL_R_DROP_BAD_SOURCE) << src;
  }
  sl_pkt udp = from("224.0.0.1");
  udp.flow.proto = SL_IPPROTO_UDP;
  EXPECT_EQ(sl_steer_screen(&udp), SL_R_DROP_BAD_SOURCE);
}

TEST(Steer, ScreenLeavesIcmpErrorsAlone) {
  // The quoted flow of an error is the VIP's reply; flags are not read.
  sl_pkt p = from("224.0.0.1", SL_TCP_SYN | SL_TCP_FIN, SL_PKT_F_ICMP_ERR);
  EXPECT_EQ(sl_steer_screen(&p), SL_R_NONE);
}

TEST(Steer, MissReasons) {
  sl_pkt syn = pkt(SL_IPPROTO_TCP, SL_PKT_F_SYN), ack = pkt(SL_IPPROTO_TCP, 0);
  sl_pkt udp = pkt(SL_IPPROTO_UDP, 0), icmp = pkt(SL_IPPROTO_TCP, SL_PKT_F_ICMP_ERR);
  EXPECT_EQ(sl_miss_reason(&syn, 0), SL_R_TX_NEW);
  EXPECT_EQ(sl_miss_reason(&udp, 0), SL_R_TX_NEW);
  EXPECT_EQ(sl_miss_reason(&ack, 0), SL_R_TX_MIDFLOW);
  EXPECT_EQ(sl_miss_reason(&ack, 1), SL_R_TX_RESCHEDULED);
  EXPECT_EQ(sl_miss_reason(&icmp, 0), SL_R_PASS_ICMP_NO_FLOW);
  EXPECT_EQ(sl_hit_reason(&icmp), SL_R_TX_ICMP);
  EXPECT_EQ(sl_hit_reason(&ack), SL_R_TX_HIT);
}

TEST(Steer, ReasonVerdictsAndNames) {
  for (int r = 0; r < SL_R_MAX; r++) ASSERT_NE(sl_reason_names[r], nullptr);
  EXPECT_EQ(sl_reason_verdict(SL_R_TX_HIT), SL_VERDICT_TX);
  EXPECT_EQ(sl_reason_verdict(SL_R_TX_ICMP), SL_VERDICT_TX);
  EXPECT_EQ(sl_reason_verdict(SL_R_DROP_NO_BACKEND), SL_VERDICT_DROP);
  EXPECT_EQ(sl_reason_verdict(SL_R_DROP_ACL), SL_VERDICT_DROP);
  EXPECT_EQ(sl_reason_verdict(SL_R_DROP_BAD_TCP_FLAGS), SL_VERDICT_DROP);
  EXPECT_EQ(sl_reason_verdict(SL_R_DROP_BAD_SOURCE), SL_VERDICT_DROP);
  EXPECT_EQ(sl_reason_verdict(SL_R_DROP_TOO_BIG), SL_VERDICT_DROP);
  EXPECT_EQ(sl_reason_verdict(SL_R_TX_ICMP_TOO_BIG), SL_VERDICT_TX);
  EXPECT_EQ(int(SL_R_TX_ICMP_TOO_BIG), 20);
  EXPECT_STREQ(sl_reason_names[SL_R_TX_ICMP_TOO_BIG], "tx_icmp_too_big");
  // Stable numbers: metrics and dashboards key on them.
  EXPECT_EQ(int(SL_R_DROP_BAD_TCP_FLAGS), 17);
  EXPECT_EQ(int(SL_R_DROP_BAD_SOURCE), 18);
  EXPECT_EQ(int(SL_R_DROP_TOO_BIG), 19);
  EXPECT_STREQ(sl_reason_names[SL_R_DROP_BAD_TCP_FLAGS], "drop_bad_tcp_flags");
  EXPECT_STREQ(sl_reason_names[SL_R_DROP_BAD_SOURCE], "drop_bad_source");
  EXPECT_STREQ(sl_reason_names[SL_R_DROP_TOO_BIG], "drop_too_big");
  EXPECT_EQ(sl_reason_verdict(SL_R_PASS_FRAGMENT), SL_VERDICT_PASS);
  EXPECT_EQ(sl_reason_verdict(SL_R_PASS_ICMP_NO_FLOW), SL_VERDICT_PASS);
  EXPECT_TRUE(sl_reason_is_new_conn(SL_R_TX_MIDFLOW));
  EXPECT_FALSE(sl_reason_is_new_conn(SL_R_TX_HIT));
}

TEST(Flow, VipKeyAndHash) {
  sl_flow_key f{};
  f.family = SL_AF_INET;
  f.proto = SL_IPPROTO_TCP;
  f.dst[0] = 0x640012c6;
  f.dport = htons(80);
  f.sport = htons(1234);
  sl_vip_key k;
  sl_vip_key_of_flow(&f, &k);
  EXPECT_EQ(k.addr[0], f.dst[0]);
  EXPECT_EQ(k.port, f.dport);
  EXPECT_EQ(k.proto, SL_IPPROTO_TCP);
  __u32 h = sl_flow_hash(&f, SL_FLOW_HASH_SEED);
  EXPECT_EQ(h, sl_flow_hash(&f, SL_FLOW_HASH_SEED));
  f.sport = htons(1235);
  EXPECT_NE(h, sl_flow_hash(&f, SL_FLOW_HASH_SEED));
  // Spread: 4096 consecutive ports over 16 buckets, none starved or flooded.
  int buckets[16] = {};
  for (int port = 0; port < 4096; port++) {
    f.sport = htons(port);
    buckets[sl_flow_hash(&f, SL_FLOW_HASH_SEED) & 15]++;
  }
  for (int b : buckets) EXPECT_NEAR(b, 256, 64);
}

}  // namespace
