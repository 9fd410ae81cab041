// SPDX-License-Identifier: Apache-2.0
// An IPv4 datagram as a raw socket delivers it (header included): what the
// VRRP receiver needs of the header. Pure, fuzzed (tests/vrrp).
#pragma once

#include <cstdint>
#include <span>
#include <variant>

#include "core/host/ip_addr.h"
#include "control/vrrp/advert.h"

namespace sluice::vrrp {

// The header's source, destination and TTL, and the VRRP message it
// carries (bounded by the header's total length).
struct Ipv4View {
  IpAddr src;
  IpAddr dst;
  uint8_t ttl = 0;
  std::span<const uint8_t> msg;
};

// A header that is not IPv4 / protocol 112, or is cut short: too_short.
std::variant<Ipv4View, AdvertDrop> ipv4_advert_view(std::span<const uint8_t> datagram);

}  // namespace sluice::vrrp
