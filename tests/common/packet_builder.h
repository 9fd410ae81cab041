// SPDX-License-Identifier: Apache-2.0
// Builds real frames for the tests: Ethernet (+ VLAN), IPv4 (+ options) or
// IPv6 (+ extension headers), TCP / UDP / ICMP, with lengths and checksums
// filled in, so what the parser and the BPF program see is what a NIC sees.
#pragma once

#include <arpa/inet.h>

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "core/wire.h"

namespace sluice::test {

using Bytes = std::vector<uint8_t>;

struct Addr {
  int family = 4;
  uint8_t b[16] = {};
  static Addr parse(const std::string& s) {
    Addr a;
    if (s.find(':') != std::string::npos) {
      a.family = 6;
      inet_pton(AF_INET6, s.c_str(), a.b);
    } else {
      inet_pton(AF_INET, s.c_str(), a.b);
    }
    return a;
  }
};

inline uint32_t csum_add(uint32_t sum, const uint8_t* p, size_t n) {
  for (size_t i = 0; i + 1 < n; i += 2) sum += (p[i] << 8) | p[i + 1];
  if (n & 1) sum += p[n - 1] << 8;
  return sum;
}
inline uint16_t csum_fold(uint32_t sum) {
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<uint16_t>(~sum);
}
inline void put16(uint8_t* p, uint16_t v) { p[0] = v >> 8; p[1] = v & 0xff; }
inline uint16_t get16(const uint8_t* p) { return (p[0] << 8) | p[1]; }

struct L4 {
  uint8_t proto = SL_IPPROTO_TCP;
  uint16_t sport = 40000, dport = 80;
  uint8_t tcp_flags = SL_TCP_SYN;
  size_t payload = 0;
  Bytes raw;  // ICMP: the whole L4 body after the 8-byte ICMP header
  uint8_t icmp_type = 0, icmp_code = 0;
  uint32_t icmp_rest = 0;
};

struct FrameSpec {
  Addr src = Addr::parse("198.18.0.10"), dst = Addr::parse("198.18.0.100");
  uint8_t smac[6] = {0x02, 0, 0, 0, 0, 0x10}, dmac[6] = {0x02, 0, 0, 0, 0, 0x01};
  int vlan = -1;                 // VLAN id, -1: untagged
  size_t ip_options = 0;         // IPv4 option bytes (multiple of 4, NOPs)
  uint16_t frag_off = 0;         // IPv4 flags+offset, host order
  std::vector<std::pair<uint8_t, size_t>> ext;  // IPv6 ext (type, total length)
  L4 l4;
};

// L4 bytes (header + payload) with a zero checksum.
inline Bytes l4_bytes(const FrameSpec& f) {
  Bytes b;
  const L4& l = f.l4;
  if (l.proto == SL_IPPROTO_TCP) {
    b.assign(20 + l.payload, 0);
    put16(&b[0], l.sport); put16(&b[2], l.dport);
    b[12] = 5 << 4; b[13] = l.tcp_flags; put16(&b[14], 65535);
  } else if (l.proto == SL_IPPROTO_UDP) {
    b.assign(8 + l.payload, 0);
    put16(&b[0], l.sport); put16(&b[2], l.dport); put16(&b[4], b.size());
  } else {
    b.assign(8, 0);
    b[0] = l.icmp_type; b[1] = l.icmp_code;
    uint32_t r = htonl(l.icmp_rest); memcpy(&b[4], &r, 4);
    b.insert(b.end(), l.raw.begin(), l.raw.end());
  }
  for (size_t i = 0; i < l.payload && l.proto != SL_IPPROTO_ICMP; i++) b[b.size() - l.payload + i] = i;
  return b;
}

inline void l4_checksum(Bytes& l4, const FrameSpec& f, uint8_t proto) {
  size_t at = proto == SL_IPPROTO_TCP ? 16 : proto == SL_IPPROTO_UDP ? 6 : 2;
  uint32_t sum = 0;
  if (proto != SL_IPPROTO_ICMP) {  // pseudo header (ICMPv6 has one, ICMPv4 not)
    size_t alen = f.src.family == 4 ? 4 : 16;
    sum = csum_add(sum, f.src.b, alen);
    sum = csum_add(sum, f.dst.b, alen);
    sum += proto + l4.size();
  }
  uint16_t c = csum_fold(csum_add(sum, l4.data(), l4.size()));
  if (proto == SL_IPPROTO_UDP && c == 0) c = 0xffff;
  put16(&l4[at], c);
}

// The IP packet (no L2) described by `f`.
inline Bytes ip_packet(const FrameSpec& f) {
  uint8_t proto = f.l4.proto;
  if (proto == SL_IPPROTO_ICMP && f.src.family == 6) proto = SL_IPPROTO_ICMPV6;
  Bytes l4 = l4_bytes(f);
  l4_checksum(l4, f, proto);
  Bytes ip;
  if (f.src.family == 4) {
    size_t hl = 20 + f.ip_options;
    ip.assign(hl, 0);
    ip[0] = 0x40 | (hl / 4); put16(&ip[2], hl + l4.size()); put16(&ip[6], f.frag_off);
    ip[8] = 64; ip[9] = proto;
    memcpy(&ip[12], f.src.b, 4); memcpy(&ip[16], f.dst.b, 4);
    for (size_t i = 20; i < hl; i++) ip[i] = 1;  // NOP options
    put16(&ip[10], csum_fold(csum_add(0, ip.data(), hl)));
  } else {
    ip.assign(40, 0);
    ip[0] = 0x60; ip[7] = 64;
    memcpy(&ip[8], f.src.b, 16); memcpy(&ip[24], f.dst.b, 16);
    uint8_t* nh = &ip[6];
    for (auto [type, len] : f.ext) {
      *nh = type;
      size_t at = ip.size();
      ip.resize(at + len, 0);
      ip[at + 1] = type == SL_IPPROTO_FRAGMENT ? 0 : len / 8 - 1;
      nh = &ip[at];
    }
    *nh = proto;
    put16(&ip[4], ip.size() - 40 + l4.size());
  }
  ip.insert(ip.end(), l4.begin(), l4.end());
  return ip;
}

inline Bytes frame(const FrameSpec& f) {
  Bytes b(f.dmac, f.dmac + 6);
  b.insert(b.end(), f.smac, f.smac + 6);
  if (f.vlan >= 0) {
    b.push_back(0x81); b.push_back(0x00);
    b.push_back((f.vlan >> 8) & 0x0f); b.push_back(f.vlan & 0xff);
  }
  uint16_t et = f.src.family == 4 ? SL_ETH_P_IP : SL_ETH_P_IPV6;
  b.push_back(et >> 8); b.push_back(et & 0xff);
  Bytes ip = ip_packet(f);
  b.insert(b.end(), ip.begin(), ip.end());
  return b;
}

// An ICMP frag-needed (v4) / packet-too-big (v6) from `router` to the VIP,
// quoting the VIP's reply to the client of flow `flow` (client -> VIP).
inline Bytes icmp_too_big(const FrameSpec& flow, const std::string& router, uint32_t mtu) {
  FrameSpec reply = flow;
  std::swap(reply.src, reply.dst);
  std::swap(reply.l4.sport, reply.l4.dport);
  reply.l4.tcp_flags = SL_TCP_ACK;
  reply.l4.payload = 0;
  Bytes quoted = ip_packet(reply);
  quoted.resize(quoted.size() - (flow.l4.proto == SL_IPPROTO_TCP ? 12 : 0));  // IP + 8 bytes
  FrameSpec e = flow;
  e.src = Addr::parse(router);
  e.ext.clear();
  e.l4 = L4{};
  e.l4.proto = SL_IPPROTO_ICMP;
  e.l4.icmp_type = flow.src.family == 4 ? SL_ICMP_DEST_UNREACH : SL_ICMPV6_PKT_TOOBIG;
  e.l4.icmp_code = flow.src.family == 4 ? SL_ICMP_FRAG_NEEDED : 0;
  e.l4.icmp_rest = mtu;
  e.l4.raw = quoted;
  return frame(e);
}

}  // namespace sluice::test
