// SPDX-License-Identifier: Apache-2.0
// The raw socket VRRP adverts travel on (IP protocol 112), one family,
// bound to the interface: multicast to 224.0.0.18 / ff02::12 (joined on the
// interface, loop off) or unicast to each peer; TTL / hop limit 255 sent;
// received TTL and destination read from the IPv4 header the socket
// delivers, or from IPV6_HOPLIMIT / IPV6_PKTINFO.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "core/host/fd.h"
#include "core/host/ip_addr.h"
#include "core/host/result.h"
#include "control/vrrp/advert.h"
#include "control/vrrp/ipv4_view.h"
#include "control/vrrp/vrrp_node.h"

namespace sluice::vrrp {

// Read cap: an IPv4 header with options and 255 IPv6 addresses fit.
inline constexpr size_t kAdvertReadCap = 60 + kHeaderLen + 255 * 16;

// A multicast advert as a whole Ethernet frame: to 01:00:5e:00:00:12 /
// 33:33:00:00:00:12 from `mac`, an IPv4 (TOS 0xc0, DF, TTL 255, header
// checksum) or IPv6 (traffic class 0xc0, hop limit 255) header, then `msg`.
std::vector<uint8_t> advert_frame(const Mac& mac, const IpAddr& src, const IpAddr& dst,
                                  std::span<const uint8_t> msg);

struct AdvertSocketOptions {
  std::string ifname;
  int ifindex = 0;
  Mac mac{};                          // the interface's: source of multicast adverts
  IpAddr primary;                     // source; its family is the socket's
  std::vector<IpAddr> unicast_peers;  // empty: multicast
};

class AdvertSocket final : public AdvertTransport {
 public:
  static Result<AdvertSocket> open(const AdvertSocketOptions& o);

  int fd() const { return fd_.get(); }
  Result<void> send(const Advert& a) override;
  // One datagram if one is waiting (never blocks); nullopt: none.
  std::optional<RxAdvert> receive();

 private:
  AdvertSocket(Fd fd, Fd packet, AdvertSocketOptions o)
      : fd_(std::move(fd)), packet_(std::move(packet)), o_(std::move(o)) {}
  Result<void> send_to(const Advert& a, const IpAddr& dst);
  Result<void> send_frame(const Advert& a, const IpAddr& dst);

  Fd fd_;  // raw IP: receives, and sends unicast adverts
  // Multicast adverts go out as frames: they never need a neighbour entry,
  // so a full neighbour table (thousands of backends being resolved, on
  // any namespace of the host) cannot drop them.
  Fd packet_;
  AdvertSocketOptions o_;
  std::vector<uint8_t> buf_ = std::vector<uint8_t>(kAdvertReadCap);
};

}  // namespace sluice::vrrp
