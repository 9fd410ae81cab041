// SPDX-License-Identifier: Apache-2.0
#include "control/vrrp/announce.h"

#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>

namespace sluice::vrrp {

namespace {

constexpr uint8_t kIcmp6Proto = 58;
constexpr uint8_t kNeighbourAdvert = 136;
constexpr uint8_t kFlagOverride = 0x20;
constexpr uint8_t kOptTargetLinkAddr = 2;

// Writes a frame of known size front to back.
struct FrameWriter {
  std::vector<uint8_t> f;
  size_t at = 0;
  explicit FrameWriter(size_t size) : f(size) {}
  void u8(uint8_t v) { f[at++] = v; }
  void u16(uint16_t v) {
    u8(static_cast<uint8_t>(v >> 8));
    u8(static_cast<uint8_t>(v));
  }
  void bytes(const uint8_t* p, size_t n) {
    std::memcpy(f.data() + at, p, n);
    at += n;
  }
  void zeros(size_t n) { at += n; }
  void ethernet(const Mac& dst, const Mac& src, uint16_t type) {
    bytes(dst.data(), 6);
    bytes(src.data(), 6);
    u16(type);
  }
};

constexpr size_t kEthLen = 14;
constexpr size_t kArpLen = 28;
constexpr size_t kIp6Len = 40;
constexpr size_t kNaLen = 32;  // header, target, one link-layer address option

uint32_t sum16(const uint8_t* p, size_t n, uint32_t sum) {
  for (size_t i = 0; i + 1 < n; i += 2) sum += static_cast<uint32_t>(p[i]) << 8 | p[i + 1];
  if (n % 2) sum += static_cast<uint32_t>(p[n - 1]) << 8;
  return sum;
}

}  // namespace

std::vector<uint8_t> garp_frame(const Mac& mac, const IpAddr& vip) {
  FrameWriter w(kEthLen + kArpLen);
  w.ethernet(Mac{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, mac, ETH_P_ARP);
  w.u16(1);         // hardware: Ethernet
  w.u16(ETH_P_IP);  // protocol: IPv4
  w.u8(6);
  w.u8(4);
  w.u16(1);  // request
  w.bytes(mac.data(), 6);
  w.bytes(vip.bytes.data(), 4);
  w.zeros(6);  // target MAC: unknown, RFC 5227
  w.bytes(vip.bytes.data(), 4);
  return std::move(w.f);
}

std::vector<uint8_t> unsolicited_na_frame(const Mac& mac, const IpAddr& vip) {
  IpAddr all_nodes = *IpAddr::parse("ff02::1");
  FrameWriter w(kEthLen + kIp6Len + kNaLen);
  w.ethernet(Mac{0x33, 0x33, 0, 0, 0, 1}, mac, ETH_P_IPV6);
  w.u8(0x60);
  w.zeros(3);  // traffic class, flow label
  w.u16(kNaLen);
  w.u8(kIcmp6Proto);
  w.u8(255);  // RFC 4861 7.1.2: receivers require hop limit 255
  w.bytes(vip.bytes.data(), 16);
  w.bytes(all_nodes.bytes.data(), 16);
  size_t icmp = w.at;
  w.u8(kNeighbourAdvert);
  w.u8(0);
  w.u16(0);  // checksum, below
  w.u8(kFlagOverride);
  w.zeros(3);
  w.bytes(vip.bytes.data(), 16);
  w.u8(kOptTargetLinkAddr);
  w.u8(1);  // in units of 8 bytes
  w.bytes(mac.data(), 6);
  // RFC 8200 8.1 pseudo-header: source, destination, length, next header.
  uint32_t sum = sum16(vip.bytes.data(), 16, 0);
  sum = sum16(all_nodes.bytes.data(), 16, sum);
  sum += static_cast<uint32_t>(kNaLen) + kIcmp6Proto;
  sum = sum16(w.f.data() + icmp, kNaLen, sum);
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  uint16_t csum = static_cast<uint16_t>(~sum);
  w.f[icmp + 2] = static_cast<uint8_t>(csum >> 8);
  w.f[icmp + 3] = static_cast<uint8_t>(csum);
  return std::move(w.f);
}

std::vector<uint8_t> announce_frame(const Mac& mac, const IpAddr& vip) {
  return vip.is_v4() ? garp_frame(mac, vip) : unsolicited_na_frame(mac, vip);
}

Result<Announcer> Announcer::open(int ifindex, const Mac& mac) {
  // Protocol 0: this socket sends only, it receives nothing.
  Fd fd(::socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (!fd) return make_error("vrrp: AF_PACKET socket (gratuitous ARP / NA)", errno);
  return Announcer(std::move(fd), ifindex, mac);
}

Result<void> Announcer::announce(const std::vector<IpAddr>& vips) {
  Result<void> first;
  for (const IpAddr& vip : vips) {
    std::vector<uint8_t> f = announce_frame(mac_, vip);
    sockaddr_ll to{};
    to.sll_family = AF_PACKET;
    to.sll_ifindex = ifindex_;
    to.sll_halen = 6;
    std::memcpy(to.sll_addr, f.data(), 6);
    std::memcpy(&to.sll_protocol, f.data() + 12, 2);  // the EtherType, network order
    if (::sendto(fd_.get(), f.data(), f.size(), MSG_DONTWAIT, reinterpret_cast<sockaddr*>(&to),
                 sizeof(to)) < 0 &&
        first)
      first = make_error("vrrp: announce", errno, vip.str());
  }
  return first;
}

}  // namespace sluice::vrrp
