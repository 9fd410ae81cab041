// SPDX-License-Identifier: Apache-2.0
// Multicast adverts leave as whole frames (no neighbour entry needed): the
// headers a receiver checks, and the round trip through the receive side.
#include <gtest/gtest.h>

#include "control/vrrp/advert_socket.h"

namespace sluice::vrrp {
namespace {

const Mac kMac{0x52, 0x54, 0x00, 0x12, 0x34, 0x56};

TEST(AdvertFrame, Ipv4HeaderAsTheKernelWouldWriteIt) {
  IpAddr src = *IpAddr::parse("198.18.0.1");
  IpAddr dst = advert_group(SL_AF_INET);
  Advert a{51, 200, 10, {*IpAddr::parse("198.18.0.100")}};
  auto msg = advert_encode(a, src, dst);
  auto f = advert_frame(kMac, src, dst, msg);
  ASSERT_EQ(f.size(), 14u + 20 + msg.size());
  EXPECT_EQ(std::vector<uint8_t>(f.begin(), f.begin() + 14),
            (std::vector<uint8_t>{0x01, 0x00, 0x5e, 0x00, 0x00, 0x12, 0x52, 0x54, 0x00, 0x12, 0x34,
                                  0x56, 0x08, 0x00}));
  const uint8_t* ip = f.data() + 14;
  EXPECT_EQ(ip[1], 0xc0);  // network control
  uint32_t sum = 0;
  for (int i = 0; i < 20; i += 2) sum += ip[i] << 8 | ip[i + 1];
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  EXPECT_EQ(sum, 0xffffu);  // header checksum
  auto view = std::get<Ipv4View>(ipv4_advert_view({ip, f.size() - 14}));
  EXPECT_EQ(view.src, src);
  EXPECT_EQ(view.dst, dst);
  EXPECT_EQ(view.ttl, 255);
  AdvertRx rx{view.src, view.dst, view.ttl, 51, {}};
  auto back = advert_decode(view.msg, rx);
  ASSERT_TRUE(std::holds_alternative<Advert>(back));
  EXPECT_EQ(std::get<Advert>(back), a);
}

TEST(AdvertFrame, Ipv6HeaderAsTheKernelWouldWriteIt) {
  IpAddr src = *IpAddr::parse("fe80::1");
  IpAddr dst = advert_group(SL_AF_INET6);
  Advert a{51, 100, 100, {*IpAddr::parse("2001:2::100")}};
  auto msg = advert_encode(a, src, dst);
  auto f = advert_frame(kMac, src, dst, msg);
  ASSERT_EQ(f.size(), 14u + 40 + msg.size());
  EXPECT_EQ(std::vector<uint8_t>(f.begin(), f.begin() + 6),
            (std::vector<uint8_t>{0x33, 0x33, 0x00, 0x00, 0x00, 0x12}));
  EXPECT_EQ(f[12], 0x86);
  EXPECT_EQ(f[13], 0xdd);
  const uint8_t* ip = f.data() + 14;
  EXPECT_EQ(ip[0], 0x6c);  // version 6, traffic class 0xc0 ...
  EXPECT_EQ(ip[1], 0x00);  // ... its low nibble, flow label 0
  EXPECT_EQ(ip[4] << 8 | ip[5], static_cast<int>(msg.size()));
  EXPECT_EQ(ip[6], 112);
  EXPECT_EQ(ip[7], 255);
  EXPECT_TRUE(std::equal(src.bytes.begin(), src.bytes.end(), ip + 8));
  EXPECT_TRUE(std::equal(dst.bytes.begin(), dst.bytes.end(), ip + 24));
  EXPECT_TRUE(std::equal(msg.begin(), msg.end(), ip + 40));
}

}  // namespace
}  // namespace sluice::vrrp
