// SPDX-License-Identifier: Apache-2.0
// Gratuitous ARP and unsolicited NA frames, byte for byte.
#include "control/vrrp/announce.h"

#include <gtest/gtest.h>

namespace sluice::vrrp {
namespace {

const Mac kMac{0x52, 0x54, 0x00, 0x12, 0x34, 0x56};

TEST(Announce, GratuitousArpIsABroadcastRequestForTheVip) {
  auto f = garp_frame(kMac, *IpAddr::parse("198.18.0.100"));
  std::vector<uint8_t> want = {
      0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x52, 0x54, 0x00, 0x12, 0x34, 0x56, 0x08, 0x06,  // eth
      0x00, 0x01, 0x08, 0x00, 0x06, 0x04, 0x00, 0x01,              // request
      0x52, 0x54, 0x00, 0x12, 0x34, 0x56, 198,  18,   0,    100,   // sender
      0,    0,    0,    0,    0,    0,    198,  18,   0,    100};  // target
  EXPECT_EQ(f, want);
}

uint32_t sum16(const uint8_t* p, size_t n, uint32_t s) {
  for (size_t i = 0; i + 1 < n; i += 2) s += p[i] << 8 | p[i + 1];
  return s;
}

TEST(Announce, UnsolicitedNaOverridesFromTheVipToAllNodes) {
  IpAddr vip = *IpAddr::parse("2001:2::100");
  auto f = unsolicited_na_frame(kMac, vip);
  ASSERT_EQ(f.size(), 14u + 40 + 32);
  EXPECT_EQ(std::vector<uint8_t>(f.begin(), f.begin() + 14),
            (std::vector<uint8_t>{0x33, 0x33, 0, 0, 0, 1, 0x52, 0x54, 0x00, 0x12, 0x34, 0x56, 0x86,
                                  0xdd}));
  const uint8_t* ip6 = f.data() + 14;
  EXPECT_EQ(ip6[0] >> 4, 6);
  EXPECT_EQ(ip6[4] << 8 | ip6[5], 32);  // payload length
  EXPECT_EQ(ip6[6], 58);                // ICMPv6
  EXPECT_EQ(ip6[7], 255);               // hop limit
  EXPECT_TRUE(std::equal(vip.bytes.begin(), vip.bytes.end(), ip6 + 8));
  IpAddr all_nodes = *IpAddr::parse("ff02::1");
  EXPECT_TRUE(std::equal(all_nodes.bytes.begin(), all_nodes.bytes.end(), ip6 + 24));
  const uint8_t* na = ip6 + 40;
  EXPECT_EQ(na[0], 136);
  EXPECT_EQ(na[4], 0x20);  // Override, not Solicited, not Router
  EXPECT_TRUE(std::equal(vip.bytes.begin(), vip.bytes.end(), na + 8));
  EXPECT_EQ(na[24], 2);  // target link-layer address option
  EXPECT_EQ(na[25], 1);
  EXPECT_TRUE(std::equal(kMac.begin(), kMac.end(), na + 26));
  // The checksum over the pseudo-header and the message folds to 0xffff.
  uint32_t s = sum16(ip6 + 8, 32, 0) + 32 + 58;
  s = sum16(na, 32, s);
  while (s >> 16) s = (s & 0xffff) + (s >> 16);
  EXPECT_EQ(s, 0xffffu);
}

TEST(Announce, TheFrameFollowsTheFamily) {
  EXPECT_EQ(announce_frame(kMac, *IpAddr::parse("198.18.0.100")).size(), 42u);
  EXPECT_EQ(announce_frame(kMac, *IpAddr::parse("2001:2::100")).size(), 86u);
}

}  // namespace
}  // namespace sluice::vrrp
