// SPDX-License-Identifier: Apache-2.0
#include <gtest/gtest.h>

#include <set>
#include <string>

#include "control/vrrp/advert.h"

namespace sluice::vrrp {
namespace {

using Bytes = std::vector<uint8_t>;

IpAddr ip(const char* s) { return *IpAddr::parse(s); }

const IpAddr kSrc4 = ip("198.18.0.1");
const IpAddr kGroup4 = ip("224.0.0.18");
const IpAddr kVip4 = ip("198.18.0.100");
const IpAddr kSrc6 = ip("fe80::1");
const IpAddr kGroup6 = ip("ff02::12");
const IpAddr kVip6 = ip("2001:2::100");

// RFC 5798 5.1, IPv4: 198.18.0.1 -> 224.0.0.18, VRID 51, priority 200, one
// address (198.18.0.100), Max Adver Int 100 cs (1 s).
//   31      version 3, type 1 (ADVERTISEMENT)
//   33      VRID 51
//   c8      priority 200
//   01      count IPvX addr
//   00 64   rsvd 0, Max Adver Int 100
//   99 4d   checksum, derived below
//   c6 12 00 64   198.18.0.100
// 16-bit one's complement sum, pseudo-header (RFC 768 layout, protocol 112,
// VRRP length 12) then the message with the checksum field 0:
//   c612 + 0001 (src) + e000 + 0012 (dst) + 0070 (proto) + 000c (length)
//   + 3133 + c801 + 0064 + 0000 + c612 + 0064                 = 0x366af
//   fold: 0x66af + 0x3 = 0x66b2;  ~0x66b2 = 0x994d
const Bytes kAdvert4 = {0x31, 0x33, 0xc8, 0x01, 0x00, 0x64, 0x99, 0x4d, 0xc6, 0x12, 0x00, 0x64};

// The same over IPv6: fe80::1 -> ff02::12, address 2001:2::100.
// Pseudo-header of RFC 8200 8.1: src, dst, 32-bit length 24, 3 zero bytes,
// next header 112. Non-zero 16-bit words:
//   fe80 + 0001 (src) + ff02 + 0012 (dst) + 0018 (length) + 0070 (nh)
//   + 3133 + c801 + 0064 (header, checksum 0)
//   + 2001 + 0002 + 0100 (2001:2::100)                        = 0x318b8
//   fold: 0x18b8 + 0x3 = 0x18bb;  ~0x18bb = 0xe744
const Bytes kAdvert6 = {0x31, 0x33, 0xc8, 0x01, 0x00, 0x64, 0xe7, 0x44, 0x20, 0x01, 0x00, 0x02,
                        0,    0,    0,    0,    0,    0,    0,    0,    0,    0,    0x01, 0x00};

Advert sample(const IpAddr& vip) { return Advert{51, 200, 100, {vip}}; }

AdvertRx rx4(std::span<const IpAddr> expect = {}) {
  return AdvertRx{kSrc4, kGroup4, 255, 51, expect};
}

AdvertDecoded decode4(const Bytes& m) { return advert_decode(m, rx4()); }

// After a mutation: the checksum again right for the new bytes, so the
// check under test is the one that fires.
Bytes resum(Bytes m, const IpAddr& src = kSrc4, const IpAddr& dst = kGroup4) {
  m[6] = m[7] = 0;
  uint16_t c = advert_checksum(m, src, dst);
  m[6] = c >> 8;
  m[7] = c & 0xff;
  return m;
}

// The VRRPv2 habit (RFC 3768): the checksum over the message alone.
Bytes sum_message_only(Bytes m) {
  m[6] = m[7] = 0;
  uint32_t sum = 0;
  for (size_t i = 0; i < m.size(); i += 2) sum += m[i] << 8 | m[i + 1];
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  m[6] = static_cast<uint8_t>(~sum >> 8);
  m[7] = static_cast<uint8_t>(~sum);
  return m;
}

std::string reason_of(const AdvertDecoded& d) {
  if (std::holds_alternative<Advert>(d)) return "accepted";
  return advert_drop_name(std::get<AdvertDrop>(d));
}

TEST(VrrpAdvert, EncodesTheHandComputedIpv4Bytes) {
  EXPECT_EQ(advert_encode(sample(kVip4), kSrc4, kGroup4), kAdvert4);
}

TEST(VrrpAdvert, EncodesTheHandComputedIpv6Bytes) {
  EXPECT_EQ(advert_encode(sample(kVip6), kSrc6, kGroup6), kAdvert6);
}

TEST(VrrpAdvert, DecodesTheHandComputedBytes) {
  auto d4 = decode4(kAdvert4);
  ASSERT_EQ(reason_of(d4), "accepted");
  EXPECT_EQ(std::get<Advert>(d4), sample(kVip4));
  auto d6 = advert_decode(kAdvert6, AdvertRx{kSrc6, kGroup6, 255, 51, {}});
  ASSERT_EQ(reason_of(d6), "accepted");
  EXPECT_EQ(std::get<Advert>(d6), sample(kVip6));
}

// Captured from keepalived 2.2.7 (Debian 12; vrrp_version 3, VRID 51,
// priority 200, advert_int 1) on a veth pair in a private network namespace,
// the IP header first so the addresses the checksum covers are visible.
const Bytes kKeepalived4 = {
    0x45, 0xc0, 0x00, 0x20, 0x00, 0x01, 0x00, 0x00, 0xff, 0x70, 0x0f, 0x87,  // TTL 255, proto 112
    0xc6, 0x12, 0x05, 0x01, 0xe0, 0x00, 0x00, 0x12,  // 198.18.5.1 -> 224.0.0.18
    0x31, 0x33, 0xc8, 0x01, 0x00, 0x64, 0x8f, 0x4d, 0xc6, 0x12, 0x05, 0x64};  // VIP 198.18.5.100
const Bytes kKeepalived6 = {
    0x6c, 0x0c, 0x85, 0x72, 0x00, 0x18, 0x70, 0xff,  // payload 24, next header 112, hop limit 255
    0xfe, 0x80, 0,    0,    0,    0,    0,    0,
    0xe0, 0x12, 0x64, 0xff, 0xfe, 0x5f, 0x63, 0x4d,  // src
    0xff, 0x02, 0,    0,    0,    0,    0,    0,
    0,    0,    0,    0,    0,    0,    0,    0x12,  // ff02::12
    0x31, 0x33, 0xc8, 0x01, 0x00, 0x64, 0x40, 0x86,  // VRRP header
    0x20, 0x01, 0x00, 0x02, 0,    0,    0,    0,
    0,    0,    0,    0,    0,    0,    0x01, 0x00};  // 2001:2::100

IpAddr addr_at(const Bytes& b, size_t at, size_t len) {
  IpAddr a;
  a.family = len == 4 ? SL_AF_INET : SL_AF_INET6;
  std::copy_n(b.begin() + at, len, a.bytes.begin());
  return a;
}

TEST(VrrpAdvert, InteroperatesWithAKeepalivedCaptureOverIpv4) {
  IpAddr src = addr_at(kKeepalived4, 12, 4), dst = addr_at(kKeepalived4, 16, 4);
  Bytes msg(kKeepalived4.begin() + 20, kKeepalived4.end());
  auto d = advert_decode(msg, AdvertRx{src, dst, kKeepalived4[8], 51, {}});
  ASSERT_EQ(reason_of(d), "accepted");
  Advert want{51, 200, 100, {ip("198.18.5.100")}};
  EXPECT_EQ(std::get<Advert>(d), want);
  EXPECT_EQ(advert_encode(want, src, dst), msg);
}

TEST(VrrpAdvert, InteroperatesWithAKeepalivedCaptureOverIpv6) {
  IpAddr src = addr_at(kKeepalived6, 8, 16), dst = addr_at(kKeepalived6, 24, 16);
  EXPECT_EQ(src, ip("fe80::e012:64ff:fe5f:634d"));
  Bytes msg(kKeepalived6.begin() + 40, kKeepalived6.end());
  auto d = advert_decode(msg, AdvertRx{src, dst, kKeepalived6[7], 51, {}});
  ASSERT_EQ(reason_of(d), "accepted");
  Advert want{51, 200, 100, {kVip6}};
  EXPECT_EQ(std::get<Advert>(d), want);
  EXPECT_EQ(advert_encode(want, src, dst), msg);
}

TEST(VrrpAdvert, ChecksumOfAMessageWithItsChecksumIsZero) {
  EXPECT_EQ(advert_checksum(kAdvert4, kSrc4, kGroup4), 0);
  EXPECT_EQ(advert_checksum(kAdvert6, kSrc6, kGroup6), 0);
}

TEST(VrrpAdvert, RoundTripsManyAddressesAndExtremes) {
  Advert a{255, 254, 4095, {}};
  for (int i = 1; i <= 255; ++i) {
    IpAddr v = kVip4;
    v.bytes[3] = static_cast<uint8_t>(i);
    v.bytes[2] = static_cast<uint8_t>(i % 3);
    a.addrs.push_back(v);
  }
  IpAddr unicast = ip("198.18.0.2");
  Bytes m = advert_encode(a, kSrc4, unicast);
  ASSERT_EQ(m.size(), 8u + 255 * 4);
  auto d = advert_decode(m, AdvertRx{kSrc4, unicast, 255, 255, a.addrs});
  ASSERT_EQ(reason_of(d), "accepted");
  EXPECT_EQ(std::get<Advert>(d), a);
}

TEST(VrrpAdvert, AddressListMayComeInAnyOrder) {
  std::vector<IpAddr> two = {kVip4, ip("198.18.0.101")};
  std::vector<IpAddr> swapped = {two[1], two[0]};
  Bytes m = advert_encode(Advert{51, 100, 100, two}, kSrc4, kGroup4);
  EXPECT_EQ(reason_of(advert_decode(m, rx4(swapped))), "accepted");
}

TEST(VrrpAdvert, ReservedIntervalBitsAreIgnored) {
  Bytes m = kAdvert4;
  m[4] |= 0xf0;
  auto d = decode4(resum(m));
  ASSERT_EQ(reason_of(d), "accepted");
  EXPECT_EQ(std::get<Advert>(d).max_adver_int_cs, 100);
}

struct Malformed {
  const char* name;
  Bytes msg;
  AdvertRx rx;
  AdvertDrop want;
};

const std::vector<IpAddr> kOther = {ip("198.18.0.200")};
const std::vector<IpAddr> kTwo = {kVip4, ip("198.18.0.101")};

Bytes with(Bytes m, size_t at, uint8_t v) {
  m[at] = v;
  return m;
}

std::vector<Malformed> malformed_cases() {
  Bytes truncated = kAdvert4;
  truncated.pop_back();
  Bytes longer = kAdvert4;
  longer.push_back(0);
  Bytes two_addrs_claimed = with(kAdvert4, 3, 2);
  return {
      {"TtlBelow255", kAdvert4, {kSrc4, kGroup4, 254, 51, {}}, AdvertDrop::bad_ttl},
      {"TtlOne", kAdvert4, {kSrc4, kGroup4, 1, 51, {}}, AdvertDrop::bad_ttl},
      {"Empty", {}, rx4(), AdvertDrop::too_short},
      {"SevenBytes", Bytes(kAdvert4.begin(), kAdvert4.begin() + 7), rx4(), AdvertDrop::too_short},
      {"Version2", resum(with(kAdvert4, 0, 0x21)), rx4(), AdvertDrop::bad_version},
      {"Version0", resum(with(kAdvert4, 0, 0x01)), rx4(), AdvertDrop::bad_version},
      {"Type0", resum(with(kAdvert4, 0, 0x30)), rx4(), AdvertDrop::bad_type},
      {"Type2", resum(with(kAdvert4, 0, 0x32)), rx4(), AdvertDrop::bad_type},
      {"CountZero", resum(with(kAdvert4, 3, 0)), rx4(), AdvertDrop::bad_addr_count},
      {"CountZeroNoAddresses", resum(with(Bytes(kAdvert4.begin(), kAdvert4.begin() + 8), 3, 0)),
       rx4(), AdvertDrop::bad_addr_count},
      {"CountTwoOneAddress", resum(two_addrs_claimed), rx4(), AdvertDrop::bad_length},
      {"AddressCutShort", resum(truncated), rx4(), AdvertDrop::bad_length},
      {"TrailingByte", resum(longer), rx4(), AdvertDrop::bad_length},
      {"Ipv6LengthOverIpv4", kAdvert6, rx4(), AdvertDrop::bad_length},
      {"ChecksumFlipped", with(kAdvert4, 7, 0x4c), rx4(), AdvertDrop::bad_checksum},
      {"AddressFlipped", with(kAdvert4, 11, 0x65), rx4(), AdvertDrop::bad_checksum},
      {"PriorityChangedInFlight", with(kAdvert4, 2, 0xc9), rx4(), AdvertDrop::bad_checksum},
      {"ChecksumForAnotherDestination", resum(kAdvert4, kSrc4, ip("198.18.0.2")), rx4(),
       AdvertDrop::bad_checksum},
      {"ChecksumWithoutPseudoHeader", sum_message_only(kAdvert4), rx4(), AdvertDrop::bad_checksum},
      {"OtherVrid", kAdvert4, {kSrc4, kGroup4, 255, 52, {}}, AdvertDrop::bad_vrid},
      {"IntervalZero", resum(with(with(kAdvert4, 4, 0), 5, 0)), rx4(), AdvertDrop::bad_interval},
      {"OtherAddress", kAdvert4, rx4(kOther), AdvertDrop::addr_mismatch},
      {"MissingAddress", kAdvert4, rx4(kTwo), AdvertDrop::addr_mismatch},
      {"FamiliesDiffer", kAdvert4, {kSrc4, kGroup6, 255, 51, {}}, AdvertDrop::bad_family},
      {"NoSource", kAdvert4, {IpAddr{}, IpAddr{}, 255, 51, {}}, AdvertDrop::bad_family},
  };
}

class VrrpAdvertMalformed : public ::testing::TestWithParam<Malformed> {};

TEST_P(VrrpAdvertMalformed, IsDroppedWithItsReason) {
  const Malformed& c = GetParam();
  EXPECT_EQ(reason_of(advert_decode(c.msg, c.rx)), advert_drop_name(c.want));
}

INSTANTIATE_TEST_SUITE_P(Table, VrrpAdvertMalformed, ::testing::ValuesIn(malformed_cases()),
                         [](const auto& info) { return std::string(info.param.name); });

TEST(VrrpAdvert, EveryDropReasonHasATableCase) {
  std::set<AdvertDrop> seen;
  for (const auto& c : malformed_cases()) seen.insert(c.want);
  EXPECT_EQ(seen.size(), static_cast<size_t>(kAdvertDropCount));
}

TEST(VrrpAdvert, TheOwnerMayAdvertiseAnotherAddressList) {
  // RFC 5798 7.1: a mismatched list is dropped unless priority is 255.
  Bytes owner = resum(with(kAdvert4, 2, 255));
  EXPECT_EQ(reason_of(advert_decode(owner, rx4(kOther))), "accepted");
}

TEST(VrrpAdvert, DropNamesAreDistinctMetricLabels) {
  std::set<std::string> names;
  for (int i = 1; i <= kAdvertDropCount; ++i) {
    std::string n = advert_drop_name(static_cast<AdvertDrop>(i));
    EXPECT_NE(n, "unknown") << i;
    EXPECT_EQ(n.find_first_not_of("abcdefghijklmnopqrstuvwxyz_"), std::string::npos) << n;
    names.insert(n);
  }
  EXPECT_EQ(names.size(), static_cast<size_t>(kAdvertDropCount));
}

TEST(VrrpAdvert, GroupsAndVirtualMacs) {
  EXPECT_EQ(advert_group(SL_AF_INET), kGroup4);
  EXPECT_EQ(advert_group(SL_AF_INET6), kGroup6);
  EXPECT_EQ(mac_str(virtual_mac(51, SL_AF_INET)), "00:00:5e:00:01:33");
  EXPECT_EQ(mac_str(virtual_mac(255, SL_AF_INET6)), "00:00:5e:00:02:ff");
}

}  // namespace
}  // namespace sluice::vrrp

namespace sluice::vrrp {
namespace {

// Found by advert_fuzz: a checksum written as 0xffff (ones'-complement
// zero's other form) verifies and decodes; re-encoding writes the other form.
TEST(VrrpAdvert, ChecksumOfAllOnesIsTheSameZero) {
  const std::vector<uint8_t> msg = {0x31, 0x33, 0x00, 0x04, 0x00, 0xf7, 0xff, 0xff,
                                    0x0f, 0x03, 0xc4, 0xb8, 0xc6, 0x12, 0x00, 0x64,
                                    0xc6, 0x12, 0x00, 0x65, 0xc6, 0x12, 0x00, 0x66};
  IpAddr src = *IpAddr::parse("198.18.0.1");
  IpAddr dst = advert_group(SL_AF_INET);
  AdvertDecoded d = advert_decode(msg, AdvertRx{src, dst, kTtl, 51, {}});
  ASSERT_TRUE(std::holds_alternative<Advert>(d));
  const Advert& a = std::get<Advert>(d);
  EXPECT_EQ(a.priority, 0);
  EXPECT_EQ(a.addrs.size(), 4u);
  std::vector<uint8_t> again = advert_encode(a, src, dst);
  ASSERT_EQ(again.size(), msg.size());
  EXPECT_TRUE(std::equal(again.begin() + 8, again.end(), msg.begin() + 8));
  EXPECT_TRUE(std::holds_alternative<Advert>(advert_decode(again, AdvertRx{src, dst, kTtl, 51, {}})));
}

}  // namespace
}  // namespace sluice::vrrp
