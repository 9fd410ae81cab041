// SPDX-License-Identifier: Apache-2.0
// Frames whose headers all fit the frame but whose length fields say the
// transport header is not (all) part of the IP packet: the bytes past the IP
// length are link padding. Each is a valid frame with one field changed, so
// the parser tests, the BPF golden tests and the fuzz seeds share them.
#pragma once

#include <string>
#include <vector>

#include "tests/common/frame_spec.h"

namespace sluice::test {

struct MalformedFrame {
  std::string name;
  Bytes bytes;
};

// Offsets in an untagged frame without IPv4 options / IPv6 extensions.
inline constexpr size_t kL3 = 14, kL4v4 = 34, kL4v6 = 54;

// IPv4 total length set to `tot`, header checksum recomputed (so only the
// length is wrong).
inline Bytes with_tot_len(Bytes b, uint16_t tot) {
  put16(&b[kL3 + 2], tot);
  put16(&b[kL3 + 10], 0);
  put16(&b[kL3 + 10], csum_fold(csum_add(0, &b[kL3], 20)));
  return b;
}

inline Bytes with_payload_len(Bytes b, uint16_t len) {
  put16(&b[kL3 + 4], len);
  return b;
}

// Every case is addressed from `client4` / `client6` to `vip4` / `vip6`
// port 80 (TCP), or `udp_vip4` / `vip6` port `udp_port` (UDP), source ports
// from `sport` up, one per case.
inline std::vector<MalformedFrame> l4_length_frames(const Addr& client4, const Addr& vip4,
                                                    const Addr& udp_vip4, const Addr& client6,
                                                    const Addr& vip6, uint16_t sport,
                                                    uint16_t udp_port) {
  auto spec = [&](bool v6, uint8_t proto, size_t payload) {
    FrameSpec f;
    f.src = v6 ? client6 : client4;
    f.dst = v6 ? vip6 : proto == SL_IPPROTO_UDP ? udp_vip4 : vip4;
    f.l4 = {proto, sport++, uint16_t(proto == SL_IPPROTO_UDP ? udp_port : 80),
            uint8_t(proto == SL_IPPROTO_TCP ? SL_TCP_SYN : 0), payload};
    return frame(f);
  };
  std::vector<MalformedFrame> out;
  // A 20-byte TCP header (no data) sits in the frame each time.
  out.push_back(
      {"ipv4_tot_len_20_tcp_in_padding", with_tot_len(spec(false, SL_IPPROTO_TCP, 0), 20)});
  out.push_back(
      {"ipv4_tot_len_28_half_a_tcp_header", with_tot_len(spec(false, SL_IPPROTO_TCP, 0), 28)});
  Bytes doff = spec(false, SL_IPPROTO_TCP, 0);
  doff[kL4v4 + 12] = 15 << 4;  // 60 bytes claimed, 20 there
  out.push_back({"tcp_data_offset_15_in_20_bytes", doff});
  for (uint16_t len : {0, 4, 500}) {
    Bytes u = spec(false, SL_IPPROTO_UDP, 12);
    put16(&u[kL4v4 + 4], len);
    out.push_back({"udp_length_" + std::to_string(len), u});
  }
  out.push_back(
      {"ipv6_payload_len_0_tcp_in_padding", with_payload_len(spec(true, SL_IPPROTO_TCP, 0), 0)});
  out.push_back(
      {"ipv6_payload_len_8_half_a_tcp_header", with_payload_len(spec(true, SL_IPPROTO_TCP, 0), 8)});
  Bytes u6 = spec(true, SL_IPPROTO_UDP, 12);
  put16(&u6[kL4v6 + 4], 500);
  out.push_back({"ipv6_udp_length_500", u6});
  // An extension header (8 bytes) and TCP, but payload_len covers only 4.
  FrameSpec hop;
  hop.src = client6;
  hop.dst = vip6;
  hop.ext = {{SL_IPPROTO_HOPOPTS, 8}};
  hop.l4 = {SL_IPPROTO_TCP, sport++, 80, SL_TCP_SYN, 0};
  out.push_back({"ipv6_extension_beyond_payload_len", with_payload_len(frame(hop), 4)});
  return out;
}

}  // namespace sluice::test
