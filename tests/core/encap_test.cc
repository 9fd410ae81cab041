// SPDX-License-Identifier: Apache-2.0
#include "core/encap.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>

#include "tests/common/frame_spec.h"

namespace sluice::test {
namespace {

sl_global global() {
  sl_global g{};
  g.role = SL_ROLE_ACTIVE;
  Addr v4 = Addr::parse("198.18.0.1"), v6 = Addr::parse("2001:2::1");
  memcpy(&g.src_v4, v4.b.data(), 4);
  memcpy(g.src_v6, v6.b.data(), 16);
  uint8_t mac[6] = {0x02, 0, 0, 0, 0, 0x01};
  memcpy(g.lb_mac, mac, 6);
  return g;
}

sl_backend backend(const char* addr) {
  sl_backend be{};
  Addr a = Addr::parse(addr);
  be.family = a.v6 ? SL_AF_INET6 : SL_AF_INET;
  memcpy(be.addr, a.b.data(), a.v6 ? 16 : 4);
  uint8_t mac[6] = {0x02, 0, 0, 0, 0, 0x11};
  memcpy(be.mac, mac, 6);
  be.flags = SL_BE_F_LIVE;
  return be;
}

struct Encapsulated {
  Bytes out;
  int rc;
};

// Runs the writer the way a dataplane does: headroom prepended, then write.
Encapsulated encap(const Bytes& in, const sl_backend& be, const sl_global& g) {
  sl_pkt p;
  EXPECT_EQ(sl_parse(in.data(), in.data() + in.size(), &p), SL_R_NONE);
  Bytes out(sl_encap_len(&be), 0xee);
  out.insert(out.end(), in.begin(), in.end());
  int rc = sl_encap_write(out.data(), out.data() + out.size(), &p, &be, &g, 0x12345);
  return {out, rc};
}

Bytes inner_ip(const Bytes& frame, size_t l2) { return Bytes(frame.begin() + l2, frame.end()); }

TEST(Encap, Ipip) {
  FrameSpec f;
  f.frag_off = SL_IP_DF;
  Bytes in = frame(f);
  sl_global g = global();
  sl_backend be = backend("198.18.0.11");
  auto [out, rc] = encap(in, be, g);
  ASSERT_EQ(rc, 0);
  ASSERT_EQ(out.size(), in.size() + 20);
  EXPECT_EQ(memcmp(&out[0], be.mac, 6), 0);
  EXPECT_EQ(memcmp(&out[6], g.lb_mac, 6), 0);
  EXPECT_EQ(get16(&out[12]), SL_ETH_P_IP);
  const uint8_t* o = &out[14];
  EXPECT_EQ(o[0], 0x45);
  EXPECT_EQ(get16(o + 2), in.size() - 14 + 20);
  EXPECT_EQ(get16(o + 6), SL_IP_DF);  // DF follows the inner packet
  EXPECT_EQ(o[8], SL_TTL_OUTER);
  EXPECT_EQ(o[9], SL_IPPROTO_IPIP);
  EXPECT_EQ(memcmp(o + 12, &g.src_v4, 4), 0);
  EXPECT_EQ(memcmp(o + 16, be.addr, 4), 0);
  EXPECT_EQ(csum_fold(csum_add(0, o, 20)), 0) << "outer checksum must verify";
  EXPECT_EQ(inner_ip(out, 34), inner_ip(in, 14));
}

TEST(Encap, Ip6ip6) {
  FrameSpec f;
  f.src = Addr::parse("2001:2::10");
  f.dst = Addr::parse("2001:2::100");
  f.l4.payload = 100;
  Bytes in = frame(f);
  sl_global g = global();
  sl_backend be = backend("2001:2::11");
  auto [out, rc] = encap(in, be, g);
  ASSERT_EQ(rc, 0);
  EXPECT_EQ(get16(&out[12]), SL_ETH_P_IPV6);
  const uint8_t* o = &out[14];
  EXPECT_EQ(o[0] >> 4, 6);
  EXPECT_EQ(get16(o + 4), in.size() - 14);
  EXPECT_EQ(o[6], SL_IPPROTO_IPV6);
  EXPECT_EQ(o[7], SL_TTL_OUTER);
  EXPECT_EQ(((o[1] & 0x0f) << 16 | o[2] << 8 | o[3]), 0x12345) << "flow label from the hash";
  EXPECT_EQ(memcmp(o + 8, g.src_v6, 16), 0);
  EXPECT_EQ(memcmp(o + 24, be.addr, 16), 0);
  EXPECT_EQ(inner_ip(out, 54), inner_ip(in, 14));
}

TEST(Encap, FourInSix) {
  Bytes in = frame(FrameSpec{});
  auto [out, rc] = encap(in, backend("2001:2::12"), global());
  ASSERT_EQ(rc, 0);
  EXPECT_EQ(out[14 + 6], SL_IPPROTO_IPIP);
  EXPECT_EQ(get16(&out[14 + 4]), in.size() - 14);
  EXPECT_EQ(inner_ip(out, 54), inner_ip(in, 14));
}

TEST(Encap, VlanTagIsKept) {
  FrameSpec f;
  f.vlan = 300;
  Bytes in = frame(f);
  auto [out, rc] = encap(in, backend("198.18.0.11"), global());
  ASSERT_EQ(rc, 0);
  EXPECT_EQ(get16(&out[12]), SL_ETH_P_8021Q);
  EXPECT_EQ(get16(&out[14]) & 0x0fff, 300);
  EXPECT_EQ(get16(&out[16]), SL_ETH_P_IP);
  EXPECT_EQ(out[18 + 9], SL_IPPROTO_IPIP);
  EXPECT_EQ(inner_ip(out, 38), inner_ip(in, 18));
}

TEST(Encap, SixInFourIsRefused) {
  FrameSpec f;
  f.src = Addr::parse("2001:2::10");
  f.dst = Addr::parse("2001:2::100");
  auto [out, rc] = encap(frame(f), backend("198.18.0.11"), global());
  EXPECT_EQ(rc, -1);
}

TEST(Encap, DsrRewritesOnlyMacs) {
  Bytes in = frame(FrameSpec{});
  Bytes out = in;
  sl_global g = global();
  sl_backend be = backend("198.18.0.12");
  sl_dsr_rewrite(reinterpret_cast<sl_ethhdr*>(out.data()), &be, &g);
  EXPECT_EQ(memcmp(&out[0], be.mac, 6), 0);
  EXPECT_EQ(memcmp(&out[6], g.lb_mac, 6), 0);
  EXPECT_EQ(Bytes(out.begin() + 12, out.end()), Bytes(in.begin() + 12, in.end()));
}

TEST(Encap, Ipv4ChecksumKnownAnswer) {
  // RFC 1071 worked header: 4500 0073 0000 4000 4011 ---- c0a8 0001 c0a8 00c7 -> b861
  uint8_t h[20] = {0x45, 0, 0, 0x73, 0, 0, 0x40, 0, 0x40, 0x11, 0, 0,
                   0xc0, 0xa8, 0, 1, 0xc0, 0xa8, 0, 0xc7};
  EXPECT_EQ(ntohs(sl_ipv4_csum(reinterpret_cast<sl_iphdr*>(h))), 0xb861);
}

}  // namespace
}  // namespace sluice::test
