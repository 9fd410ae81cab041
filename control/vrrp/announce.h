// SPDX-License-Identifier: Apache-2.0
// What a new MASTER sends so the segment learns where the VIPs went: a
// gratuitous ARP request (IPv4, RFC 5227's announcement) and an unsolicited
// neighbour advertisement (IPv6, RFC 4861 7.2.6, Override set, hop limit
// 255), as whole Ethernet frames sent on an AF_PACKET socket.
#pragma once

#include <cstdint>
#include <vector>

#include "core/host/fd.h"
#include "core/host/ip_addr.h"
#include "core/host/result.h"

namespace sluice::vrrp {

// Ethernet broadcast, ARP request: sender = target = vip, sender MAC = mac.
std::vector<uint8_t> garp_frame(const Mac& mac, const IpAddr& vip);
// To ff02::1 (33:33:00:00:00:01) from vip: target vip, its link-layer
// address option = mac, with the ICMPv6 checksum.
std::vector<uint8_t> unsolicited_na_frame(const Mac& mac, const IpAddr& vip);
// The frame for vip's family.
std::vector<uint8_t> announce_frame(const Mac& mac, const IpAddr& vip);

class Announcer {
 public:
  static Result<Announcer> open(int ifindex, const Mac& mac);
  // One frame per address; errors are the first failure.
  Result<void> announce(const std::vector<IpAddr>& vips);

 private:
  Announcer(Fd fd, int ifindex, const Mac& mac)
      : fd_(std::move(fd)), ifindex_(ifindex), mac_(mac) {}
  Fd fd_;
  int ifindex_;
  Mac mac_;
};

}  // namespace sluice::vrrp
