// SPDX-License-Identifier: Apache-2.0
// Crafts test frames layer by layer with real checksums, so the BPF
// program sees what a NIC would hand it and outputs can be checked byte
// for byte.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace sluice::test {

using Bytes = std::vector<uint8_t>;
using Mac = std::array<uint8_t, 6>;

inline constexpr Mac kClientMac = {0x02, 0, 0, 0, 0, 0xc1};
inline constexpr Mac kLbMac = {0x02, 0, 0, 0, 0, 0x01};

// An IPv4 or IPv6 address from its text form (aborts the test on a typo).
struct Addr {
  bool v6 = false;
  std::array<uint8_t, 16> b{};
  static Addr parse(const std::string& text);
  // As sluice stores it: IPv4 in word 0, network order.
  void to_words(uint32_t out[4]) const;
};

struct L4 {
  uint8_t proto = 6;  // IPPROTO_TCP / IPPROTO_UDP
  uint16_t sport = 40000;
  uint16_t dport = 80;
  uint8_t tcp_flags = 0x02;  // SYN
  size_t payload = 16;
};

inline void put16(uint8_t* p, uint16_t v) {
  p[0] = uint8_t(v >> 8);
  p[1] = uint8_t(v);
}
inline uint16_t get16(const uint8_t* p) { return uint16_t((p[0] << 8) | p[1]); }

// RFC 1071 sum of `data` added to `sum` (not folded).
uint32_t csum_add(uint32_t sum, const uint8_t* data, size_t len);
uint16_t csum_fold(uint32_t sum);

// TCP/UDP segment with its checksum over the pseudo header of src/dst.
Bytes l4_segment(const Addr& src, const Addr& dst, const L4& l4);
// What the parser must walk past before L4: IPv4 options (NOPs, a multiple
// of 4 bytes) or an IPv6 extension-header chain (type, total length; a
// fragment header is 8 bytes and atomic).
struct IpExtras {
  size_t v4_options = 0;
  std::vector<std::pair<uint8_t, size_t>> v6_ext;
};

// IP header (v4 or v6 by the addresses) in front of `payload`.
Bytes ip_packet(const Addr& src, const Addr& dst, uint8_t proto, const Bytes& payload,
                uint16_t frag_off = 0x4000, const IpExtras& extras = {});
Bytes ip_l4(const Addr& src, const Addr& dst, const L4& l4);
// An ICMP (v4) / ICMPv6 (v6) message with its checksum: the 8-byte header
// (type, code, `rest` in the second word) followed by `body`.
Bytes icmp_message(const Addr& src, const Addr& dst, uint8_t type, uint8_t code, uint32_t rest,
                   const Bytes& body);
// ICMP frag-needed (v4) / packet-too-big (v6) quoting `quoted`.
Bytes icmp_too_big(const Addr& src, const Addr& dst, const Bytes& quoted, uint16_t mtu);
Bytes ether(uint16_t ethertype, const Bytes& l3, const Mac& dst = kLbMac,
            const Mac& src = kClientMac, int vlan = -1);
Bytes arp_request();

// Whole frames for the common case.
Bytes frame(const Addr& src, const Addr& dst, const L4& l4);

}  // namespace sluice::test
