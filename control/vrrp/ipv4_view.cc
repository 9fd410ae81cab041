// SPDX-License-Identifier: Apache-2.0
#include "control/vrrp/ipv4_view.h"

#include <cstring>

namespace sluice::vrrp {

namespace {

IpAddr v4_at(const uint8_t* p) {
  IpAddr a;
  a.family = SL_AF_INET;
  std::memcpy(a.bytes.data(), p, 4);
  return a;
}

}  // namespace

std::variant<Ipv4View, AdvertDrop> ipv4_advert_view(std::span<const uint8_t> d) {
  if (d.size() < 20 || d[0] >> 4 != 4) return AdvertDrop::too_short;
  size_t ihl = size_t{d[0] & 0x0fu} * 4;
  size_t total = size_t{d[2]} << 8 | d[3];
  if (ihl < 20 || total < ihl || total > d.size() || d[9] != kIpProto) return AdvertDrop::too_short;
  Ipv4View v;
  v.ttl = d[8];
  v.src = v4_at(d.data() + 12);
  v.dst = v4_at(d.data() + 16);
  v.msg = d.subspan(ihl, total - ihl);
  return v;
}

}  // namespace sluice::vrrp
