// SPDX-License-Identifier: Apache-2.0
#include "control/vrrp/ipv4_view.h"

#include <gtest/gtest.h>

#include <vector>

namespace sluice::vrrp {
namespace {

// 198.18.0.1 -> 224.0.0.18, TTL 255, protocol 112, carrying 12 bytes.
std::vector<uint8_t> datagram(size_t payload = 12) {
  std::vector<uint8_t> d = {0x45, 0xc0, 0,   0,  0, 0, 0,   0, 255, 112,
                            0,    0,    198, 18, 0, 1, 224, 0, 0,   18};
  d.resize(20 + payload, 0xab);
  d[2] = static_cast<uint8_t>(d.size() >> 8);
  d[3] = static_cast<uint8_t>(d.size());
  return d;
}

TEST(Ipv4View, ReadsAddressesTtlAndTheMessage) {
  auto d = datagram();
  auto v = std::get<Ipv4View>(ipv4_advert_view(d));
  EXPECT_EQ(v.src, *IpAddr::parse("198.18.0.1"));
  EXPECT_EQ(v.dst, *IpAddr::parse("224.0.0.18"));
  EXPECT_EQ(v.ttl, 255);
  EXPECT_EQ(v.msg.size(), 12u);
}

TEST(Ipv4View, OptionsAndTrailingBytesAreSkipped) {
  auto d = datagram(12);
  d.insert(d.begin() + 20, 4, 0x01);  // 4 bytes of NOP options
  d[0] = 0x46;
  d[3] = static_cast<uint8_t>(d.size());
  d.push_back(0xee);  // beyond the total length: not part of the message
  auto v = std::get<Ipv4View>(ipv4_advert_view(d));
  EXPECT_EQ(v.msg.size(), 12u);
  EXPECT_EQ(v.msg[0], 0xab);
}

TEST(Ipv4View, BrokenHeadersAreTooShort) {
  auto bad = [](std::vector<uint8_t> d) {
    auto r = ipv4_advert_view(d);
    return std::holds_alternative<AdvertDrop>(r) &&
           std::get<AdvertDrop>(r) == AdvertDrop::too_short;
  };
  EXPECT_TRUE(bad({}));
  auto cut = datagram();
  cut.resize(19);
  EXPECT_TRUE(bad(cut));
  auto v6 = datagram();
  v6[0] = 0x65;
  EXPECT_TRUE(bad(v6));
  auto ihl = datagram();
  ihl[0] = 0x44;
  EXPECT_TRUE(bad(ihl));
  auto longer = datagram();
  longer[3] += 1;  // total length past the end
  EXPECT_TRUE(bad(longer));
  auto shorter = datagram();
  shorter[2] = 0;
  shorter[3] = 19;  // total length inside the header
  EXPECT_TRUE(bad(shorter));
  auto udp = datagram();
  udp[9] = 17;
  EXPECT_TRUE(bad(udp));
}

}  // namespace
}  // namespace sluice::vrrp
