// SPDX-License-Identifier: Apache-2.0
#include "core/host/ip_addr.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <charconv>
#include <cstring>

namespace sluice {

std::optional<IpAddr> IpAddr::parse(std::string_view text) {
  std::string s(text);
  IpAddr a;
  if (inet_pton(AF_INET, s.c_str(), a.bytes.data()) == 1) {
    a.family = SL_AF_INET;
    return a;
  }
  if (inet_pton(AF_INET6, s.c_str(), a.bytes.data()) == 1) {
    a.family = SL_AF_INET6;
    return a;
  }
  return std::nullopt;
}

IpAddr IpAddr::from_abi(const __u32 addr[4], uint8_t family) {
  IpAddr a;
  a.family = family;
  std::memcpy(a.bytes.data(), addr, family == SL_AF_INET ? 4 : 16);
  return a;
}

std::string IpAddr::str() const {
  char buf[INET6_ADDRSTRLEN] = {};
  if (family == 0) return "-";
  inet_ntop(af(), bytes.data(), buf, sizeof(buf));
  return buf;
}

void IpAddr::to_abi(__u32 out[4]) const {
  std::memset(out, 0, 16);
  std::memcpy(out, bytes.data(), size());
}

int IpAddr::af() const { return is_v4() ? AF_INET : AF_INET6; }

std::optional<Cidr> Cidr::parse(std::string_view text) {
  size_t slash = text.find('/');
  auto addr = IpAddr::parse(text.substr(0, slash));
  if (!addr) return std::nullopt;
  int max = addr->host_prefix();
  int prefix = max;
  if (slash != std::string_view::npos) {
    std::string_view p = text.substr(slash + 1);
    auto [end, ec] = std::from_chars(p.data(), p.data() + p.size(), prefix);
    if (ec != std::errc() || end != p.data() + p.size() || p.empty()) return std::nullopt;
    if (prefix < 0 || prefix > max) return std::nullopt;
  }
  return Cidr{*addr, static_cast<uint8_t>(prefix)};
}

std::string Cidr::str() const { return addr.str() + "/" + std::to_string(prefix); }

std::string mac_str(const Mac& mac) {
  char buf[18];
  snprintf(buf, sizeof(buf), "%02x:%02x:%02x:%02x:%02x:%02x", mac[0], mac[1], mac[2],
           mac[3], mac[4], mac[5]);
  return buf;
}

std::string service_name(const IpAddr& addr, uint16_t port, uint8_t proto) {
  // Appended piecewise: GCC 12 warns falsely (-Wrestrict) on "[" + string.
  std::string name;
  if (addr.is_v6()) name += '[';
  name += addr.str();
  if (addr.is_v6()) name += ']';
  name += ':';
  name += std::to_string(port);
  name += proto == IPPROTO_UDP ? "/udp" : "/tcp";
  return name;
}

}  // namespace sluice
