// SPDX-License-Identifier: Apache-2.0
#include "control/vrrp/advert.h"

#include <algorithm>

namespace sluice::vrrp {

namespace {

// RFC 1071 sum of 16-bit big-endian words; an odd last byte is padded.
uint32_t sum_words(std::span<const uint8_t> b, uint32_t sum) {
  size_t i = 0;
  for (; i + 1 < b.size(); i += 2) sum += static_cast<uint32_t>(b[i]) << 8 | b[i + 1];
  if (i < b.size()) sum += static_cast<uint32_t>(b[i]) << 8;
  return sum;
}

uint16_t fold(uint32_t sum) {
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<uint16_t>(~sum & 0xffff);
}

bool same_addrs(std::vector<IpAddr> got, std::span<const IpAddr> want) {
  std::vector<IpAddr> w(want.begin(), want.end());
  std::sort(got.begin(), got.end());
  std::sort(w.begin(), w.end());
  return got == w;
}

}  // namespace

const char* advert_drop_name(AdvertDrop d) {
  switch (d) {
    case AdvertDrop::too_short:
      return "too_short";
    case AdvertDrop::bad_ttl:
      return "bad_ttl";
    case AdvertDrop::bad_version:
      return "bad_version";
    case AdvertDrop::bad_type:
      return "bad_type";
    case AdvertDrop::bad_vrid:
      return "bad_vrid";
    case AdvertDrop::bad_length:
      return "bad_length";
    case AdvertDrop::bad_addr_count:
      return "bad_addr_count";
    case AdvertDrop::bad_checksum:
      return "bad_checksum";
    case AdvertDrop::bad_interval:
      return "bad_interval";
    case AdvertDrop::addr_mismatch:
      return "addr_mismatch";
    case AdvertDrop::bad_family:
      return "bad_family";
  }
  return "unknown";
}

uint16_t advert_checksum(std::span<const uint8_t> msg, const IpAddr& src, const IpAddr& dst) {
  uint32_t sum = 0;
  sum = sum_words({src.bytes.data(), src.size()}, sum);
  sum = sum_words({dst.bytes.data(), dst.size()}, sum);
  // IPv4: zero, protocol, 16-bit length. IPv6: 32-bit length, three zero
  // bytes, next header. As 16-bit words both add the same two numbers
  // (messages here are far below 64 KiB).
  sum += kIpProto;
  sum += static_cast<uint32_t>(msg.size() & 0xffff);
  sum += static_cast<uint32_t>(msg.size() >> 16);
  return fold(sum_words(msg, sum));
}

std::vector<uint8_t> advert_encode(const Advert& a, const IpAddr& src, const IpAddr& dst) {
  std::vector<uint8_t> m(kHeaderLen);
  m[0] = kVersion << 4 | kTypeAdvertisement;
  m[1] = a.vrid;
  m[2] = a.priority;
  m[3] = static_cast<uint8_t>(a.addrs.size());
  uint16_t interval = a.max_adver_int_cs & kMaxIntervalCs;  // 4 reserved bits stay 0
  m[4] = static_cast<uint8_t>(interval >> 8);
  m[5] = static_cast<uint8_t>(interval);
  for (const IpAddr& addr : a.addrs)
    m.insert(m.end(), addr.bytes.begin(), addr.bytes.begin() + src.size());
  uint16_t csum = advert_checksum(m, src, dst);
  m[6] = static_cast<uint8_t>(csum >> 8);
  m[7] = static_cast<uint8_t>(csum);
  return m;
}

AdvertDecoded advert_decode(std::span<const uint8_t> msg, const AdvertRx& rx) {
  if (rx.src.family == 0 || rx.src.family != rx.dst.family) return AdvertDrop::bad_family;
  // RFC 5798 7.1: a TTL below 255 means the advert crossed a router.
  if (rx.ttl != kTtl) return AdvertDrop::bad_ttl;
  if (msg.size() < kHeaderLen) return AdvertDrop::too_short;
  if (msg[0] >> 4 != kVersion) return AdvertDrop::bad_version;
  if ((msg[0] & 0x0f) != kTypeAdvertisement) return AdvertDrop::bad_type;
  size_t count = msg[3];
  if (count == 0) return AdvertDrop::bad_addr_count;
  if (msg.size() != kHeaderLen + count * rx.src.size()) return AdvertDrop::bad_length;
  if (advert_checksum(msg, rx.src, rx.dst) != 0) return AdvertDrop::bad_checksum;
  if (msg[1] != rx.vrid) return AdvertDrop::bad_vrid;
  Advert a;
  a.vrid = msg[1];
  a.priority = msg[2];
  // The top four bits are reserved: sent as 0, ignored on receipt.
  a.max_adver_int_cs = static_cast<uint16_t>((msg[4] & 0x0f) << 8 | msg[5]);
  if (a.max_adver_int_cs == 0) return AdvertDrop::bad_interval;
  for (size_t i = 0; i < count; ++i) {
    IpAddr addr;
    addr.family = rx.src.family;
    std::copy_n(msg.data() + kHeaderLen + i * rx.src.size(), rx.src.size(), addr.bytes.begin());
    a.addrs.push_back(addr);
  }
  // RFC 5798 7.1: a mismatched list is dropped unless the address owner
  // (priority 255) sent it.
  if (!rx.expected_addrs.empty() && a.priority != kOwnerPriority &&
      !same_addrs(a.addrs, rx.expected_addrs))
    return AdvertDrop::addr_mismatch;
  return a;
}

IpAddr advert_group(uint8_t family) {
  return *IpAddr::parse(family == SL_AF_INET6 ? "ff02::12" : "224.0.0.18");
}

Mac virtual_mac(uint8_t vrid, uint8_t family) {
  return {0x00, 0x00, 0x5e, 0x00, static_cast<uint8_t>(family == SL_AF_INET6 ? 0x02 : 0x01), vrid};
}

}  // namespace sluice::vrrp
