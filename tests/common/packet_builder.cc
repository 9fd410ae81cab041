// SPDX-License-Identifier: Apache-2.0
#include "tests/common/packet_builder.h"

#include <arpa/inet.h>

#include <cstdlib>
#include <cstring>

namespace sluice::test {
namespace {

void put16(Bytes& b, size_t off, uint16_t v) { sluice::test::put16(&b[off], v); }

void append(Bytes& b, const uint8_t* p, size_t n) { b.insert(b.end(), p, p + n); }

// Pseudo header of RFC 793 / RFC 8200 section 8.1.
uint32_t pseudo_sum(const Addr& src, const Addr& dst, uint8_t proto, size_t len) {
  size_t alen = src.v6 ? 16 : 4;
  uint32_t s = csum_add(0, src.b.data(), alen);
  s = csum_add(s, dst.b.data(), alen);
  uint8_t tail[8] = {0, 0, uint8_t(len >> 24), uint8_t(len >> 16), uint8_t(len >> 8),
                     uint8_t(len), 0, proto};
  return csum_add(s, tail, sizeof(tail));
}

}  // namespace

Addr Addr::parse(const std::string& text) {
  Addr a;
  a.v6 = text.find(':') != std::string::npos;
  if (inet_pton(a.v6 ? AF_INET6 : AF_INET, text.c_str(), a.b.data()) != 1) std::abort();
  return a;
}

void Addr::to_words(uint32_t out[4]) const {
  std::memset(out, 0, 16);
  std::memcpy(out, b.data(), v6 ? 16 : 4);
}

uint32_t csum_add(uint32_t sum, const uint8_t* data, size_t len) {
  for (size_t i = 0; i + 1 < len; i += 2) sum += (uint32_t(data[i]) << 8) | data[i + 1];
  if (len & 1) sum += uint32_t(data[len - 1]) << 8;
  return sum;
}

uint16_t csum_fold(uint32_t sum) {
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return uint16_t(~sum);
}

Bytes l4_segment(const Addr& src, const Addr& dst, const L4& l4) {
  bool tcp = l4.proto == 6;
  Bytes b(tcp ? 20 : 8, 0);
  put16(b, 0, l4.sport);
  put16(b, 2, l4.dport);
  if (tcp) {
    put16(b, 4, 0x1234);   // seq
    b[12] = 5 << 4;        // data offset
    b[13] = l4.tcp_flags;
    put16(b, 14, 65535);   // window
  }
  for (size_t i = 0; i < l4.payload; ++i) b.push_back(uint8_t('a' + i % 26));
  if (!tcp) put16(b, 4, uint16_t(b.size()));
  uint16_t c = csum_fold(csum_add(pseudo_sum(src, dst, l4.proto, b.size()), b.data(), b.size()));
  if (!tcp && c == 0) c = 0xffff;  // RFC 768: zero means "no checksum"
  put16(b, tcp ? 16 : 6, c);
  return b;
}

Bytes ip_packet(const Addr& src, const Addr& dst, uint8_t proto, const Bytes& payload,
                uint16_t frag_off, const IpExtras& extras) {
  Bytes b;
  if (src.v6) {
    b.assign(40, 0);
    b[0] = 0x60;
    b[7] = 64;
    std::memcpy(&b[8], src.b.data(), 16);
    std::memcpy(&b[24], dst.b.data(), 16);
    size_t nh = 6;  // where the next "next header" byte goes
    for (auto [type, len] : extras.v6_ext) {
      b[nh] = type;
      nh = b.size();
      b.resize(b.size() + len, 0);
      b[nh + 1] = type == 44 ? 0 : uint8_t(len / 8 - 1);
    }
    b[nh] = proto;
    put16(b, 4, uint16_t(b.size() - 40 + payload.size()));
  } else {
    size_t hl = 20 + extras.v4_options;
    b.assign(hl, 0);
    b[0] = uint8_t(0x40 | (hl / 4));
    put16(b, 2, uint16_t(hl + payload.size()));
    put16(b, 4, 0x4242);  // id
    put16(b, 6, frag_off);
    b[8] = 64;
    b[9] = proto;
    std::memcpy(&b[12], src.b.data(), 4);
    std::memcpy(&b[16], dst.b.data(), 4);
    for (size_t i = 20; i < hl; ++i) b[i] = 1;  // NOP options
    put16(b, 10, csum_fold(csum_add(0, b.data(), hl)));
  }
  append(b, payload.data(), payload.size());
  return b;
}

Bytes ip_l4(const Addr& src, const Addr& dst, const L4& l4) {
  return ip_packet(src, dst, l4.proto, l4_segment(src, dst, l4));
}

Bytes icmp_message(const Addr& src, const Addr& dst, uint8_t type, uint8_t code, uint32_t rest,
                   const Bytes& body) {
  Bytes m(8, 0);
  m[0] = type;
  m[1] = code;
  put16(m, 4, uint16_t(rest >> 16));
  put16(m, 6, uint16_t(rest));
  append(m, body.data(), body.size());
  uint8_t proto = src.v6 ? 58 : 1;  // ICMPv6 sums a pseudo header, ICMP does not
  uint32_t s = src.v6 ? pseudo_sum(src, dst, proto, m.size()) : 0;
  put16(m, 2, csum_fold(csum_add(s, m.data(), m.size())));
  return m;
}

Bytes icmp_too_big(const Addr& src, const Addr& dst, const Bytes& quoted, uint16_t mtu) {
  // v4: type 3 code 4, next-hop MTU in the low half of the second word
  // (RFC 1191); v6: type 2 code 0, MTU in the second word (RFC 4443).
  Bytes m = icmp_message(src, dst, src.v6 ? 2 : 3, src.v6 ? 0 : 4, mtu, quoted);
  return ip_packet(src, dst, src.v6 ? 58 : 1, m);
}

Bytes ether(uint16_t ethertype, const Bytes& l3, const Mac& dst, const Mac& src, int vlan) {
  Bytes b;
  append(b, dst.data(), 6);
  append(b, src.data(), 6);
  if (vlan >= 0) {
    b.push_back(0x81);
    b.push_back(0x00);
    b.push_back(uint8_t(vlan >> 8));
    b.push_back(uint8_t(vlan));
  }
  b.push_back(uint8_t(ethertype >> 8));
  b.push_back(uint8_t(ethertype));
  append(b, l3.data(), l3.size());
  return b;
}

Bytes arp_request() {
  Bytes a = {0, 1, 0x08, 0, 6, 4, 0, 1};
  append(a, kClientMac.data(), 6);
  Addr s = Addr::parse("198.18.0.50"), t = Addr::parse("198.18.0.100");
  append(a, s.b.data(), 4);
  a.insert(a.end(), 6, 0);
  append(a, t.b.data(), 4);
  Mac bcast = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
  return ether(0x0806, a, bcast);
}

Bytes frame(const Addr& src, const Addr& dst, const L4& l4) {
  return ether(src.v6 ? 0x86dd : 0x0800, ip_l4(src, dst, l4));
}

}  // namespace sluice::test
