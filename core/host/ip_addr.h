// SPDX-License-Identifier: Apache-2.0
// IpAddr: an IPv4 or IPv6 address as the controller handles it (network
// byte order, IPv4 in the first four bytes), and a MAC address.
#pragma once

#include <array>
#include <compare>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "core/abi.h"

namespace sluice {

struct IpAddr {
  uint8_t family = 0;  // enum sl_family; 0: unset
  std::array<uint8_t, 16> bytes{};

  static std::optional<IpAddr> parse(std::string_view text);
  static IpAddr from_abi(const __u32 addr[4], uint8_t family);
  std::string str() const;
  void to_abi(__u32 out[4]) const;
  bool is_v4() const { return family == SL_AF_INET; }
  bool is_v6() const { return family == SL_AF_INET6; }
  int af() const;  // AF_INET / AF_INET6
  size_t size() const { return is_v4() ? 4 : 16; }
  int host_prefix() const { return is_v4() ? 32 : 128; }

  auto operator<=>(const IpAddr&) const = default;
};

struct Cidr {
  IpAddr addr;
  uint8_t prefix = 0;

  static std::optional<Cidr> parse(std::string_view text);
  std::string str() const;
  auto operator<=>(const Cidr&) const = default;
};

using Mac = std::array<uint8_t, 6>;
std::string mac_str(const Mac& mac);

// "ADDR:PORT/PROTO" with brackets around IPv6: 198.18.0.100:80/tcp,
// [2001:2::100]:80/tcp.
std::string service_name(const IpAddr& addr, uint16_t port, uint8_t proto);

}  // namespace sluice
