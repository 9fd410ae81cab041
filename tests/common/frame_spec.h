// SPDX-License-Identifier: Apache-2.0
// A whole frame described as data (addresses, VLAN, IPv4 options, IPv6
// extension headers, fragment bits, L4 or ICMP), built with the shared
// packet builder: the parser tests and the fuzz seeds vary one field at a
// time from a valid frame.
#pragma once

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/wire.h"
#include "tests/common/packet_builder.h"

namespace sluice::test {

struct IcmpSpec {
  uint8_t type = 0;
  uint8_t code = 0;
  uint32_t rest = 0;
  Bytes body;
};

struct FrameSpec {
  Addr src = Addr::parse("198.18.0.10"), dst = Addr::parse("198.18.0.100");
  Mac smac = kClientMac, dmac = kLbMac;
  int vlan = -1;                                   // VLAN id, -1: untagged
  size_t ip_options = 0;                           // IPv4 option bytes (multiple of 4)
  uint16_t frag_off = 0;                           // IPv4 flags + offset
  std::vector<std::pair<uint8_t, size_t>> ext;     // IPv6 extension headers
  L4 l4 = {SL_IPPROTO_TCP, 40000, 80, SL_TCP_SYN, 0};
  std::optional<IcmpSpec> icmp;                    // set: an ICMP message instead of l4

  uint16_t ethertype() const { return src.v6 ? SL_ETH_P_IPV6 : SL_ETH_P_IP; }
};

// The IP packet (no L2) described by `f`.
inline Bytes ip_packet(const FrameSpec& f) {
  IpExtras extras{f.ip_options, f.ext};
  if (f.icmp) {
    uint8_t proto = f.src.v6 ? SL_IPPROTO_ICMPV6 : SL_IPPROTO_ICMP;
    Bytes m = icmp_message(f.src, f.dst, f.icmp->type, f.icmp->code, f.icmp->rest, f.icmp->body);
    return ip_packet(f.src, f.dst, proto, m, f.frag_off, extras);
  }
  return ip_packet(f.src, f.dst, f.l4.proto, l4_segment(f.src, f.dst, f.l4), f.frag_off, extras);
}

inline Bytes frame(const FrameSpec& f) {
  return ether(f.ethertype(), ip_packet(f), f.dmac, f.smac, f.vlan);
}

// An ICMP frag-needed (v4) / packet-too-big (v6) from `router` to the VIP,
// quoting the VIP's reply to the client of `flow` (client -> VIP): the
// quoted IP header and the first 8 bytes of its L4 header.
inline Bytes icmp_too_big(const FrameSpec& flow, const std::string& router, uint16_t mtu) {
  L4 reply = {flow.l4.proto, flow.l4.dport, flow.l4.sport, SL_TCP_ACK, 0};
  Bytes quoted = ip_l4(flow.dst, flow.src, reply);
  quoted.resize((flow.src.v6 ? 40 : 20) + 8);
  Bytes ip = icmp_too_big(Addr::parse(router), flow.dst, quoted, mtu);
  return ether(flow.ethertype(), ip, flow.dmac, flow.smac, flow.vlan);
}

}  // namespace sluice::test
