// SPDX-License-Identifier: Apache-2.0
#include "core/too_big.h"

#include <gtest/gtest.h>

#include <cstring>

#include "tests/common/frame_spec.h"

namespace sluice::test {
namespace {

sl_pkt parsed(const Bytes& b) {
  sl_pkt p;
  EXPECT_EQ(sl_parse(b.data(), b.data() + b.size(), &p), SL_R_NONE);
  return p;
}

FrameSpec big(bool v6, int vlan = -1) {
  FrameSpec f;
  if (v6) {
    f.src = Addr::parse("2001:2::10");
    f.dst = Addr::parse("2001:2::100");
  }
  f.vlan = vlan;
  f.frag_off = SL_IP_DF;
  f.l4.payload = 1400;
  return f;
}

// What the dataplane does before writing: grow in front, trim the tail.
Bytes prepared(const Bytes& in, const sl_pkt& p) {
  Bytes out(sl_too_big_grow(&p), 0);
  out.insert(out.end(), in.begin(), in.end());
  out.resize(p.l3_off + sl_too_big_grow(&p) + sl_too_big_quote(&p));
  return out;
}

TEST(TooBig, AnswerableOnlyWhereIcmpMayBeSent) {
  sl_pkt v4 = parsed(frame(big(false))), v6 = parsed(frame(big(true)));
  EXPECT_TRUE(sl_too_big_answerable(&v4));
  EXPECT_TRUE(sl_too_big_answerable(&v6));
  FrameSpec no_df = big(false);
  no_df.frag_off = 0;
  sl_pkt p = parsed(frame(no_df));
  EXPECT_FALSE(sl_too_big_answerable(&p)) << "IPv4 without DF";
  sl_pkt err = parsed(icmp_too_big(big(false), "198.18.0.254", 1400));
  EXPECT_FALSE(sl_too_big_answerable(&err)) << "never about an ICMP error";
}

TEST(TooBig, Ipv4BehindAVlanTag) {
  Bytes in = frame(big(false, 9));
  sl_pkt p = parsed(in);
  Bytes out = prepared(in, p);
  ASSERT_EQ(sl_too_big_write(out.data(), out.data() + out.size(), &p, 1480), 0);
  ASSERT_EQ(out.size(), 18u + 28 + SL_TOO_BIG_QUOTE4);
  EXPECT_TRUE(std::equal(in.begin() + 6, in.begin() + 12, out.begin()));
  EXPECT_TRUE(std::equal(in.begin(), in.begin() + 6, out.begin() + 6));
  EXPECT_TRUE(std::equal(in.begin() + 12, in.begin() + 18, out.begin() + 12)) << "tag kept";
  const uint8_t* ip = out.data() + 18;
  EXPECT_EQ(csum_fold(csum_add(0, ip, 20)), 0);
  EXPECT_EQ(0, std::memcmp(ip + 12, in.data() + 18 + 16, 4)) << "from the VIP";
  EXPECT_EQ(0, std::memcmp(ip + 16, in.data() + 18 + 12, 4)) << "to the client";
  EXPECT_EQ(get16(ip + 20 + 6), 1480);
  EXPECT_EQ(csum_fold(csum_add(0, ip + 20, 8 + SL_TOO_BIG_QUOTE4)), 0);
  EXPECT_TRUE(std::equal(in.begin() + 18, in.begin() + 18 + SL_TOO_BIG_QUOTE4, ip + 28));
}

TEST(TooBig, ShortFrameIsRefused) {
  Bytes in = frame(big(true));
  sl_pkt p = parsed(in);
  Bytes out = prepared(in, p);
  out.pop_back();
  EXPECT_EQ(sl_too_big_write(out.data(), out.data() + out.size(), &p, 1460), -1);
}

}  // namespace
}  // namespace sluice::test
