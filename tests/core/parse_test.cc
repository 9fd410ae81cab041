// SPDX-License-Identifier: Apache-2.0
#include "core/parse.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>

#include "tests/common/frame_spec.h"
#include "tests/common/malformed_frames.h"

namespace sluice::test {
namespace {

enum sl_reason parse(const Bytes& b, sl_pkt* p) { return sl_parse(b.data(), b.data() + b.size(), p); }

FrameSpec tcp4() { return FrameSpec{}; }
FrameSpec tcp6() {
  FrameSpec f;
  f.src = Addr::parse("2001:2::10");
  f.dst = Addr::parse("2001:2::100");
  return f;
}
FrameSpec udp(FrameSpec f) {
  f.l4.proto = SL_IPPROTO_UDP;
  f.l4.dport = 9000;
  f.l4.payload = 12;
  return f;
}

TEST(Parse, Tcp4FlowAndOffsets) {
  sl_pkt p;
  ASSERT_EQ(parse(frame(tcp4()), &p), SL_R_NONE);
  Addr c = Addr::parse("198.18.0.10"), v = Addr::parse("198.18.0.100");
  EXPECT_EQ(memcmp(p.flow.src, c.b.data(), 4), 0);
  EXPECT_EQ(memcmp(p.flow.dst, v.b.data(), 4), 0);
  EXPECT_EQ(p.flow.src[1] | p.flow.dst[3], 0u);
  EXPECT_EQ(ntohs(p.flow.sport), 40000);
  EXPECT_EQ(ntohs(p.flow.dport), 80);
  EXPECT_EQ(p.flow.proto, SL_IPPROTO_TCP);
  EXPECT_EQ(p.flow.family, SL_AF_INET);
  EXPECT_EQ(p.l3_off, 14);
  EXPECT_EQ(p.l4_off, 34);
  EXPECT_EQ(p.l3_len, 40);
  EXPECT_TRUE(p.flags & SL_PKT_F_SYN);
}

TEST(Parse, SynAckIsNotAConnectionAttempt) {
  FrameSpec f = tcp4();
  f.l4.tcp_flags = SL_TCP_SYN | SL_TCP_ACK;
  sl_pkt p;
  ASSERT_EQ(parse(frame(f), &p), SL_R_NONE);
  EXPECT_FALSE(p.flags & SL_PKT_F_SYN);
  EXPECT_EQ(p.tcp_flags, SL_TCP_SYN | SL_TCP_ACK);
}

TEST(Parse, Udp6) {
  sl_pkt p;
  ASSERT_EQ(parse(frame(udp(tcp6())), &p), SL_R_NONE);
  Addr v = Addr::parse("2001:2::100");
  EXPECT_EQ(memcmp(p.flow.dst, v.b.data(), 16), 0);
  EXPECT_EQ(p.flow.family, SL_AF_INET6);
  EXPECT_EQ(p.flow.proto, SL_IPPROTO_UDP);
  EXPECT_EQ(ntohs(p.flow.dport), 9000);
  EXPECT_EQ(p.l4_off, 54);
  EXPECT_EQ(p.l3_len, 40 + 8 + 12);
}

TEST(Parse, VlanTag) {
  FrameSpec f = tcp4();
  f.vlan = 42;
  sl_pkt p;
  ASSERT_EQ(parse(frame(f), &p), SL_R_NONE);
  EXPECT_EQ(p.l3_off, 18);
  EXPECT_EQ(p.l4_off, 38);
  EXPECT_TRUE(p.flags & SL_PKT_F_VLAN);
}

TEST(Parse, SecondVlanTagIsNotIp) {
  Bytes b = frame(tcp4());
  uint8_t tags[8] = {0x88, 0xa8, 0, 1, 0x81, 0x00, 0, 2};
  b.insert(b.begin() + 12, tags, tags + 8);  // QinQ: outer 802.1ad, inner 802.1Q
  sl_pkt p;
  EXPECT_EQ(parse(b, &p), SL_R_PASS_NOT_IP);
}

TEST(Parse, Ipv4OptionsMoveL4) {
  FrameSpec f = tcp4();
  f.ip_options = 12;
  sl_pkt p;
  ASSERT_EQ(parse(frame(f), &p), SL_R_NONE);
  EXPECT_EQ(p.l4_off, 14 + 32);
  EXPECT_EQ(ntohs(p.flow.dport), 80);
}

TEST(Parse, MaximalIpv4Options) {
  FrameSpec f = tcp4();
  f.ip_options = 40;
  sl_pkt p;
  ASSERT_EQ(parse(frame(f), &p), SL_R_NONE);
  EXPECT_EQ(p.l4_off, 14 + 60);
}

struct BadV4 {
  const char* name;
  size_t byte;
  uint8_t value;
};

TEST(Parse, InconsistentIpv4HeadersAreMalformed) {
  const BadV4 cases[] = {
      {"ihl 4", 14, 0x44}, {"ihl 0", 14, 0x40}, {"version 6 in ipv4 ethertype", 14, 0x65},
      {"tot_len below ihl", 17, 10}, {"tot_len beyond frame", 17, 0xff},
  };
  for (const auto& c : cases) {
    Bytes b = frame(tcp4());
    b[c.byte] = c.value;
    sl_pkt p;
    EXPECT_EQ(parse(b, &p), SL_R_PASS_MALFORMED) << c.name;
  }
}

TEST(Parse, TcpDataOffsetBelowFiveIsMalformed) {
  Bytes b = frame(tcp4());
  b[34 + 12] = 4 << 4;
  sl_pkt p;
  EXPECT_EQ(parse(b, &p), SL_R_PASS_MALFORMED);
}

// Issue 9: L4 is bounded by the IP length, not by the frame.
TEST(Parse, L4BeyondTheIpLengthIsMalformed) {
  Addr c4 = Addr::parse("198.18.0.10"), v4 = Addr::parse("198.18.0.100");
  Addr c6 = Addr::parse("2001:2::10"), v6 = Addr::parse("2001:2::100");
  for (const auto& m : l4_length_frames(c4, v4, v4, c6, v6, 40000, 9000)) {
    sl_pkt p;
    EXPECT_EQ(parse(m.bytes, &p), SL_R_PASS_MALFORMED) << m.name;
  }
}

TEST(Parse, L4LengthFieldsThatFitAreAccepted) {
  FrameSpec opts = tcp4();
  opts.l4.payload = 40;
  Bytes b = frame(opts);
  b[kL4v4 + 12] = 15 << 4;  // 40 option bytes, all inside the IP packet
  sl_pkt p;
  EXPECT_EQ(parse(b, &p), SL_R_NONE);
  // A UDP length short of the IP payload: the kernel trims, so do we accept.
  FrameSpec u = udp(tcp4());
  Bytes short_udp = frame(u);
  put16(&short_udp[kL4v4 + 4], 8);
  EXPECT_EQ(parse(short_udp, &p), SL_R_NONE);
  // Exactly the L4 header, no data.
  FrameSpec bare = tcp4();
  bare.l4.payload = 0;
  EXPECT_EQ(parse(frame(bare), &p), SL_R_NONE);
  EXPECT_EQ(p.l3_len, 40);
}

TEST(Parse, IcmpQuoteBeyondTheIpLengthIsMalformed) {
  // The quoted ports lie in the padding: tot_len stops after the quoted
  // IP header.
  Bytes b4 = with_tot_len(icmp_too_big(tcp4(), "198.18.0.254", 1400), 20 + 8 + 20);
  sl_pkt p;
  EXPECT_EQ(parse(b4, &p), SL_R_PASS_MALFORMED);
  Bytes b6 = with_payload_len(icmp_too_big(tcp6(), "2001:2::fe", 1280), 8 + 40);
  EXPECT_EQ(parse(b6, &p), SL_R_PASS_MALFORMED);
}

TEST(Parse, EthernetPaddingIsAccepted) {
  Bytes b = frame(tcp4());
  b.resize(b.size() + 6, 0);
  sl_pkt p;
  EXPECT_EQ(parse(b, &p), SL_R_NONE);
  EXPECT_EQ(p.l3_len, 40);
}

TEST(Parse, Ipv4Fragments) {
  const uint16_t frags[] = {SL_IP_MF, 100, SL_IP_MF | 7};
  for (uint16_t fo : frags) {
    FrameSpec f = tcp4();
    f.frag_off = fo;
    sl_pkt p;
    EXPECT_EQ(parse(frame(f), &p), SL_R_PASS_FRAGMENT) << fo;
  }
  FrameSpec df = tcp4();
  df.frag_off = SL_IP_DF;
  sl_pkt p;
  EXPECT_EQ(parse(frame(df), &p), SL_R_NONE);
}

TEST(Parse, Ipv6ExtensionChain) {
  FrameSpec f = tcp6();
  f.ext = {{SL_IPPROTO_HOPOPTS, 8}, {SL_IPPROTO_ROUTING, 24}, {SL_IPPROTO_DSTOPTS, 16}};
  sl_pkt p;
  ASSERT_EQ(parse(frame(f), &p), SL_R_NONE);
  EXPECT_EQ(p.l4_off, 14 + 40 + 8 + 24 + 16);
  EXPECT_EQ(ntohs(p.flow.dport), 80);
  EXPECT_EQ(p.flow.proto, SL_IPPROTO_TCP);
}

TEST(Parse, Ipv6AtomicFragmentIsSteered) {
  FrameSpec f = tcp6();
  f.ext = {{SL_IPPROTO_FRAGMENT, 8}};
  sl_pkt p;
  ASSERT_EQ(parse(frame(f), &p), SL_R_NONE);
  EXPECT_EQ(p.l4_off, 14 + 48);
}

TEST(Parse, Ipv6RealFragmentsPass) {
  for (uint16_t fo : {uint16_t(1), uint16_t(8 << 3), uint16_t((8 << 3) | 1)}) {
    FrameSpec f = tcp6();
    f.ext = {{SL_IPPROTO_FRAGMENT, 8}};
    Bytes b = frame(f);
    put16(&b[14 + 40 + 2], fo);
    sl_pkt p;
    EXPECT_EQ(parse(b, &p), SL_R_PASS_FRAGMENT) << fo;
  }
}

TEST(Parse, Ipv6ChainLongerThanWalkedIsMalformed) {
  FrameSpec f = tcp6();
  for (int i = 0; i <= SL_IPV6_MAX_EXT; i++) f.ext.push_back({SL_IPPROTO_DSTOPTS, 8});
  sl_pkt p;
  EXPECT_EQ(parse(frame(f), &p), SL_R_PASS_MALFORMED);
}

TEST(Parse, Ipv6ExtensionLengthBeyondFrameIsMalformed) {
  FrameSpec f = tcp6();
  f.ext = {{SL_IPPROTO_HOPOPTS, 8}};
  Bytes b = frame(f);
  b[14 + 40 + 1] = 200;  // claims 1608 bytes
  sl_pkt p;
  EXPECT_EQ(parse(b, &p), SL_R_PASS_MALFORMED);
}

TEST(Parse, NonIpAndOtherProtocols) {
  Bytes arp = frame(tcp4());
  arp[12] = 0x08; arp[13] = 0x06;
  sl_pkt p;
  EXPECT_EQ(parse(arp, &p), SL_R_PASS_NOT_IP);
  Bytes gre = frame(tcp4());
  gre[14 + 9] = 47;
  EXPECT_EQ(parse(gre, &p), SL_R_PASS_OTHER_PROTO);
  FrameSpec echo = tcp4();
  echo.icmp = IcmpSpec{8, 0, 0, {}};  // echo request
  EXPECT_EQ(parse(frame(echo), &p), SL_R_PASS_OTHER_PROTO);
  FrameSpec ns = tcp6();
  ns.icmp = IcmpSpec{135, 0, 0, Bytes(16, 0)};  // neighbour solicitation: the kernel's
  EXPECT_EQ(parse(frame(ns), &p), SL_R_PASS_OTHER_PROTO);
}

TEST(Parse, IcmpFragNeededFollowsTheQuotedFlow) {
  for (FrameSpec f : {tcp4(), tcp6(), udp(tcp4()), udp(tcp6())}) {
    const char* router = f.src.v6 ? "2001:2::fe" : "198.18.0.254";
    sl_pkt want, got;
    ASSERT_EQ(parse(frame(f), &want), SL_R_NONE);
    ASSERT_EQ(parse(icmp_too_big(f, router, 1400), &got), SL_R_NONE);
    EXPECT_TRUE(got.flags & SL_PKT_F_ICMP_ERR);
    EXPECT_EQ(memcmp(&got.flow, &want.flow, sizeof(want.flow)), 0) << (f.src.v6 ? "IPv6" : "IPv4");
  }
}

TEST(Parse, IcmpQuotingOtherProtocolPasses) {
  FrameSpec f = tcp4();
  Bytes b = icmp_too_big(f, "198.18.0.254", 1400);
  b[14 + 20 + 8 + 9] = 47;  // quoted protocol: GRE
  sl_pkt p;
  EXPECT_EQ(parse(b, &p), SL_R_PASS_OTHER_PROTO);
}

// Every prefix of a valid frame is a truncated frame: it must be refused
// whatever byte it stops at, and never read past its end (ASan in the fuzz
// build; here the verdict).
TEST(Parse, TruncatedAtEveryByteOffset) {
  FrameSpec vlan6 = tcp6();
  vlan6.vlan = 7;
  vlan6.ext = {{SL_IPPROTO_HOPOPTS, 8}, {SL_IPPROTO_FRAGMENT, 8}};
  FrameSpec opts4 = udp(tcp4());
  opts4.ip_options = 8;
  std::vector<Bytes> frames = {frame(tcp4()), frame(vlan6), frame(opts4), frame(udp(tcp6())),
                               icmp_too_big(tcp4(), "198.18.0.254", 1400),
                               icmp_too_big(tcp6(), "2001:2::fe", 1280)};
  for (size_t k = 0; k < frames.size(); k++) {
    const Bytes& full = frames[k];
    sl_pkt p;
    ASSERT_EQ(parse(full, &p), SL_R_NONE) << "frame " << k;
    for (size_t n = 0; n < full.size(); n++) {
      Bytes cut(full.begin(), full.begin() + n);
      EXPECT_EQ(parse(cut, &p), SL_R_PASS_MALFORMED) << "frame " << k << " cut at " << n;
    }
  }
}

}  // namespace
}  // namespace sluice::test
