// SPDX-License-Identifier: Apache-2.0
// What the sync tests and sync_bench build their flows and sockets from.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdint>

#include "core/host/ip_addr.h"
#include "core/abi.h"

namespace sluice::sync::testing {

inline IpAddr ip(const char* s) { return *IpAddr::parse(s); }

// 198.18.0.100:80/tcp.
inline sl_vip_key vip_key() {
  sl_vip_key k{};
  ip("198.18.0.100").to_abi(k.addr);
  k.port = htons(80);
  k.proto = 6;
  k.family = SL_AF_INET;
  return k;
}

// 198.19.0.5:sport -> 198.18.0.100:80/tcp.
inline sl_flow_key flow(uint16_t sport) {
  sl_flow_key f{};
  ip("198.19.0.5").to_abi(f.src);
  ip("198.18.0.100").to_abi(f.dst);
  f.sport = htons(sport);
  f.dport = htons(80);
  f.proto = 6;
  f.family = SL_AF_INET;
  return f;
}

// A loopback UDP port nothing listens on now (bound, read back, closed).
inline uint16_t free_udp_port() {
  int fd = ::socket(AF_INET, SOCK_DGRAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a));
  socklen_t len = sizeof(a);
  getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  ::close(fd);
  return ntohs(a.sin_port);
}

}  // namespace sluice::sync::testing
