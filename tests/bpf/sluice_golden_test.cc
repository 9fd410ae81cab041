// SPDX-License-Identifier: Apache-2.0
// Golden cases for the real sluice.bpf.o, Katran style: each row is an input
// frame, the expected XDP action, the expected reason counter and a check of
// the output bytes. Rows use distinct flows so their order does not matter.
#include <gtest/gtest.h>
#include <linux/bpf.h>

#include "frame_checks.h"
#include "reason_probe.h"
#include "tests/common/malformed_frames.h"

namespace sluice::test {
namespace {

const Addr client4 = Addr::parse(kClient4), client6 = Addr::parse(kClient6);
const Addr vipA = Addr::parse(kVipA), vipB = Addr::parse(kVipB), vipC = Addr::parse(kVipC),
           vipD = Addr::parse(kVipD), vipE = Addr::parse(kVipE), vipF = Addr::parse(kVipF);

// Client ports of the refused rows and the malformed cases.
constexpr uint16_t kRefusedPort = 41100;
constexpr uint16_t kMalformedPort = 41200;

L4 tcp(uint16_t sport, uint8_t flags = 0x02, uint16_t dport = 80) { return {6, sport, dport, flags}; }
L4 udp(uint16_t sport, uint16_t dport) { return {17, sport, dport, 0}; }

// What a backend's reply to `client` looked like, quoted by an ICMP error
// (IP header + first 8 bytes of L4).
Bytes quoted_reply(const Addr& vip, const Addr& client, uint16_t client_port) {
  Bytes q = ip_l4(vip, client, {6, 80, client_port, 0x12, 0});
  q.resize(vip.v6 ? 48 : 28);
  return q;
}

Bytes ipv6_fragment(uint16_t sport) {
  Bytes l4 = l4_segment(client6, vipC, tcp(sport));
  // Fragment header (RFC 8200 4.5): offset 0 but M set: not atomic.
  Bytes b(8 + l4.size(), 0);
  b[0] = 6;     // next header: TCP
  b[3] = 0x01;  // offset 0, M=1
  b[7] = 0x34;  // identification
  std::copy(l4.begin(), l4.end(), b.begin() + 8);
  return ether(0x86dd, ip_packet(client6, vipC, 44, b));
}

Bytes icmp_echo() {
  Bytes m(8, 0);
  m[0] = 8;  // echo request; checksum of the zero rest: ~0x0800
  m[2] = 0xf7;
  m[3] = 0xff;
  return m;
}

size_t conn_entries(XdpDataplane& dp) {
  auto n = dp.conn_count();
  EXPECT_TRUE(n.ok()) << n.error().message();
  return n.ok() ? size_t(*n) : 0;
}

struct Golden {
  const char* name;
  Bytes (*input)();
  int action;
  sl_reason reason;
  // `primed`: the backend the priming packet went to, -1 without one.
  void (*check)(const Bytes& in, const Bytes& out, int primed);
  Bytes (*prime)() = nullptr;  // establishes the flow first
};

const Golden kGolden[] = {
    {"dsr_new_syn", [] { return frame(client4, vipA, tcp(41001)); }, XDP_TX, SL_R_TX_NEW,
     [](const Bytes& in, const Bytes& out, int) {
       int be = backend_of_frame(out);
       EXPECT_TRUE(any_of_vip_a(be));
       expect_dsr(in, out, be);
     }},
    {"dsr_hit_keeps_backend", [] { return frame(client4, vipA, tcp(41002, 0x10)); }, XDP_TX,
     SL_R_TX_HIT, [](const Bytes& in, const Bytes& out, int primed) { expect_dsr(in, out, primed); },
     [] { return frame(client4, vipA, tcp(41002)); }},
    {"tcp_midflow_miss", [] { return frame(client4, vipA, tcp(41003, 0x10)); }, XDP_TX,
     SL_R_TX_MIDFLOW,
     [](const Bytes& in, const Bytes& out, int) { expect_dsr(in, out, backend_of_frame(out)); }},
    {"dsr_vlan", [] { return ether(0x0800, ip_l4(client4, vipA, tcp(41004)), kLbMac, kClientMac, 7); },
     XDP_TX, SL_R_TX_NEW,
     [](const Bytes& in, const Bytes& out, int) { expect_dsr(in, out, backend_of_frame(out)); }},
    {"dsr6_new", [] { return frame(client6, vipE, tcp(41005)); }, XDP_TX, SL_R_TX_NEW,
     [](const Bytes& in, const Bytes& out, int) { expect_dsr(in, out, kBeDsr6); }},
    {"ipip_new", [] { return frame(client4, vipB, tcp(41006)); }, XDP_TX, SL_R_TX_NEW,
     [](const Bytes& in, const Bytes& out, int) {
       expect_link_to(out, kBeIpip4);
       expect_outer_ipv4(in, out, kBeIpip4);
     }},
    {"ip6ip6_new", [] { return frame(client6, vipC, tcp(41007)); }, XDP_TX, SL_R_TX_NEW,
     [](const Bytes& in, const Bytes& out, int) {
       expect_link_to(out, kBeIp6ip6);
       expect_outer_ipv6(in, out, kBeIp6ip6, 41);
     }},
    {"udp_4in6_new", [] { return frame(client4, vipD, udp(41008, 53)); }, XDP_TX, SL_R_TX_NEW,
     [](const Bytes& in, const Bytes& out, int) {
       expect_link_to(out, kBe4in6);
       expect_outer_ipv6(in, out, kBe4in6, 4);
     }},
    {"icmp_frag_needed_follows_flow",
     [] { return ether(0x0800, icmp_too_big(Addr::parse("198.19.0.1"), vipA,
                                            quoted_reply(vipA, client4, 41009), 1400)); },
     XDP_TX, SL_R_TX_ICMP,
     [](const Bytes& in, const Bytes& out, int primed) { expect_dsr(in, out, primed); },
     [] { return frame(client4, vipA, tcp(41009)); }},
    {"icmp6_too_big_follows_flow",
     [] { return ether(0x86dd, icmp_too_big(Addr::parse("2001:2:ffff::1"), vipE,
                                            quoted_reply(vipE, client6, 41010), 1280)); },
     XDP_TX, SL_R_TX_ICMP,
     [](const Bytes& in, const Bytes& out, int primed) { expect_dsr(in, out, primed); },
     [] { return frame(client6, vipE, tcp(41010)); }},
    {"icmp_about_unknown_flow",
     [] { return ether(0x0800, icmp_too_big(Addr::parse("198.19.0.1"), vipA,
                                            quoted_reply(vipA, client4, 41011), 1400)); },
     XDP_PASS, SL_R_PASS_ICMP_NO_FLOW, [](const Bytes& in, const Bytes& out, int) { expect_untouched(in, out); }},
    {"icmp_echo_to_vip",
     [] { return ether(0x0800, ip_packet(client4, vipA, 1, icmp_echo())); },
     XDP_PASS, SL_R_PASS_OTHER_PROTO, [](const Bytes& in, const Bytes& out, int) { expect_untouched(in, out); }},
    {"arp", [] { return arp_request(); }, XDP_PASS, SL_R_PASS_NOT_IP,
     [](const Bytes& in, const Bytes& out, int) { expect_untouched(in, out); }},
    {"not_a_vip_address", [] { return frame(client4, Addr::parse("198.18.0.200"), tcp(41012)); },
     XDP_PASS, SL_R_PASS_NOT_VIP, [](const Bytes& in, const Bytes& out, int) { expect_untouched(in, out); }},
    {"vip_address_other_port", [] { return frame(client4, vipA, tcp(41013, 0x02, 81)); }, XDP_PASS,
     SL_R_PASS_NOT_VIP, [](const Bytes& in, const Bytes& out, int) { expect_untouched(in, out); }},
    {"vip_address_other_proto", [] { return frame(client4, vipA, udp(41014, 80)); }, XDP_PASS,
     SL_R_PASS_NOT_VIP, [](const Bytes& in, const Bytes& out, int) { expect_untouched(in, out); }},
    {"ipv4_first_fragment",
     [] { return ether(0x0800, ip_packet(client4, vipA, 6, l4_segment(client4, vipA, tcp(41015)), 0x2000)); },
     XDP_PASS, SL_R_PASS_FRAGMENT, [](const Bytes& in, const Bytes& out, int) { expect_untouched(in, out); }},
    {"ipv4_later_fragment",
     [] { return ether(0x0800, ip_packet(client4, vipA, 6, Bytes(24, 0xab), 0x0010)); },
     XDP_PASS, SL_R_PASS_FRAGMENT, [](const Bytes& in, const Bytes& out, int) { expect_untouched(in, out); }},
    {"ipv6_fragment", [] { return ipv6_fragment(41016); }, XDP_PASS, SL_R_PASS_FRAGMENT,
     [](const Bytes& in, const Bytes& out, int) { expect_untouched(in, out); }},
    {"truncated_ipv4",
     [] { Bytes f = frame(client4, vipA, tcp(41017)); f.resize(f.size() - 10); return f; },
     XDP_PASS, SL_R_PASS_MALFORMED, [](const Bytes& in, const Bytes& out, int) { expect_untouched(in, out); }},
    {"vip_without_backend", [] { return frame(client4, vipF, tcp(41018)); }, XDP_DROP,
     SL_R_DROP_NO_BACKEND, [](const Bytes&, const Bytes&, int) {}},
    // Issue 9: what no client sends is dropped before the table.
    {"syn_fin", [] { return frame(client4, vipA, tcp(kRefusedPort + 0, 0x03)); }, XDP_DROP,
     SL_R_DROP_BAD_TCP_FLAGS, [](const Bytes&, const Bytes&, int) {}},
    {"syn_rst", [] { return frame(client4, vipA, tcp(kRefusedPort + 1, 0x06)); }, XDP_DROP,
     SL_R_DROP_BAD_TCP_FLAGS, [](const Bytes&, const Bytes&, int) {}},
    {"source_is_the_vip", [] { return frame(vipA, vipA, tcp(kRefusedPort + 2)); }, XDP_DROP,
     SL_R_DROP_BAD_SOURCE, [](const Bytes&, const Bytes&, int) {}},
    {"source_broadcast",
     [] { return frame(Addr::parse("255.255.255.255"), vipA, tcp(kRefusedPort + 3)); }, XDP_DROP,
     SL_R_DROP_BAD_SOURCE, [](const Bytes&, const Bytes&, int) {}},
    {"source_multicast",
     [] { return frame(Addr::parse("224.0.0.5"), vipA, tcp(kRefusedPort + 4)); }, XDP_DROP,
     SL_R_DROP_BAD_SOURCE, [](const Bytes&, const Bytes&, int) {}},
    {"udp_source_multicast",
     [] { return frame(Addr::parse("239.1.1.1"), vipD, udp(kRefusedPort + 5, 53)); }, XDP_DROP,
     SL_R_DROP_BAD_SOURCE, [](const Bytes&, const Bytes&, int) {}},
    {"source6_is_the_vip", [] { return frame(vipE, vipE, tcp(kRefusedPort + 6)); }, XDP_DROP,
     SL_R_DROP_BAD_SOURCE, [](const Bytes&, const Bytes&, int) {}},
    {"source6_multicast", [] { return frame(Addr::parse("ff02::1"), vipE, tcp(kRefusedPort + 7)); },
     XDP_DROP, SL_R_DROP_BAD_SOURCE, [](const Bytes&, const Bytes&, int) {}},
    {"syn_ack_fin_is_not_a_syn_but_still_refused",
     [] { return frame(client4, vipA, tcp(kRefusedPort + 8, 0x13)); }, XDP_DROP,
     SL_R_DROP_BAD_TCP_FLAGS, [](const Bytes&, const Bytes&, int) {}},
};

class SluiceGolden : public ::testing::TestWithParam<Golden> {};

TEST_P(SluiceGolden, ActionReasonAndBytes) {
  TestLb& lb = test_lb();
  ASSERT_TRUE(lb.dp) << lb.error;
  const Golden& g = GetParam();
  int primed = -1;
  if (g.prime) {
    ProgRun p = prog_run(lb.dp->prog_fd(), g.prime());
    ASSERT_EQ(p.err, 0) << "BPF_PROG_TEST_RUN: " << strerror(p.err);
    ASSERT_EQ(p.action, XDP_TX) << "priming packet not forwarded";
    primed = backend_of_frame(p.out);
  }
  Bytes in = g.input();
  size_t recorded = conn_entries(*lb.dp);
  ReasonProbe probe(*lb.dp);
  ProgRun r = prog_run(lb.dp->prog_fd(), in);
  ASSERT_EQ(r.err, 0) << "BPF_PROG_TEST_RUN: " << strerror(r.err);
  EXPECT_EQ(r.action, g.action);
  EXPECT_EQ(probe.moved(), g.reason) << "reason counter";
  if (r.action != XDP_TX) {
    EXPECT_EQ(conn_entries(*lb.dp), recorded) << "a packet not forwarded left a record";
  }
  g.check(in, r.out, primed);
}

INSTANTIATE_TEST_SUITE_P(Xdp, SluiceGolden, ::testing::ValuesIn(kGolden),
                         [](const auto& info) { return std::string(info.param.name); });

// Headers that fit the frame but not the IP length: passed untouched as
// malformed, never steered (the lab delivered them to a backend before).
class SluiceL4Length : public ::testing::TestWithParam<MalformedFrame> {};

TEST_P(SluiceL4Length, PassedUntouchedAsMalformed) {
  TestLb& lb = test_lb();
  ASSERT_TRUE(lb.dp) << lb.error;
  const Bytes& in = GetParam().bytes;
  size_t recorded = conn_entries(*lb.dp);
  ReasonProbe probe(*lb.dp);
  ProgRun r = prog_run(lb.dp->prog_fd(), in);
  ASSERT_EQ(r.err, 0) << "BPF_PROG_TEST_RUN: " << strerror(r.err);
  EXPECT_EQ(r.action, XDP_PASS);
  EXPECT_EQ(probe.moved(), SL_R_PASS_MALFORMED);
  EXPECT_EQ(conn_entries(*lb.dp), recorded) << "recorded";
  expect_untouched(in, r.out);
}

INSTANTIATE_TEST_SUITE_P(Xdp, SluiceL4Length,
                         ::testing::ValuesIn(l4_length_frames(client4, vipA, vipD, client6, vipE,
                                                              kMalformedPort, 53)),
                         [](const auto& info) { return info.param.name; });

}  // namespace
}  // namespace sluice::test
