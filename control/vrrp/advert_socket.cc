// SPDX-License-Identifier: Apache-2.0
#include "control/vrrp/advert_socket.h"

#include <arpa/inet.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>

namespace sluice::vrrp {

namespace {

// keepalived marks adverts as network control (precedence 6).
constexpr int kTos = 0xc0;
// Enough for a burst of adverts, small enough that a flood costs little.
constexpr int kRcvBuf = 256 * 1024;

Result<void> opt(int fd, int level, int name, const void* v, socklen_t len, const char* what) {
  if (setsockopt(fd, level, name, v, len) < 0) return make_error(what, errno);
  return {};
}

Result<void> opt_int(int fd, int level, int name, int v, const char* what) {
  return opt(fd, level, name, &v, sizeof(v), what);
}

Result<void> setup_v4(int fd, const AdvertSocketOptions& o) {
  ip_mreqn mif{};
  mif.imr_ifindex = o.ifindex;
  for (auto r : {opt_int(fd, IPPROTO_IP, IP_TTL, kTtl, "vrrp: IP_TTL"),
                 opt_int(fd, IPPROTO_IP, IP_MULTICAST_TTL, kTtl, "vrrp: IP_MULTICAST_TTL"),
                 opt_int(fd, IPPROTO_IP, IP_MULTICAST_LOOP, 0, "vrrp: IP_MULTICAST_LOOP"),
                 opt_int(fd, IPPROTO_IP, IP_TOS, kTos, "vrrp: IP_TOS"),
                 opt(fd, IPPROTO_IP, IP_MULTICAST_IF, &mif, sizeof(mif), "vrrp: IP_MULTICAST_IF")})
    if (!r) return r;
  if (!o.unicast_peers.empty()) return {};
  ip_mreqn join{};
  std::memcpy(&join.imr_multiaddr, advert_group(SL_AF_INET).bytes.data(), 4);
  join.imr_ifindex = o.ifindex;
  return opt(fd, IPPROTO_IP, IP_ADD_MEMBERSHIP, &join, sizeof(join), "vrrp: join 224.0.0.18");
}

Result<void> setup_v6(int fd, const AdvertSocketOptions& o) {
  for (auto r : {opt_int(fd, IPPROTO_IPV6, IPV6_UNICAST_HOPS, kTtl, "vrrp: IPV6_UNICAST_HOPS"),
                 opt_int(fd, IPPROTO_IPV6, IPV6_MULTICAST_HOPS, kTtl, "vrrp: IPV6_MULTICAST_HOPS"),
                 opt_int(fd, IPPROTO_IPV6, IPV6_MULTICAST_LOOP, 0, "vrrp: IPV6_MULTICAST_LOOP"),
                 opt_int(fd, IPPROTO_IPV6, IPV6_MULTICAST_IF, o.ifindex, "vrrp: IPV6_MULTICAST_IF"),
                 opt_int(fd, IPPROTO_IPV6, IPV6_TCLASS, kTos, "vrrp: IPV6_TCLASS"),
                 opt_int(fd, IPPROTO_IPV6, IPV6_RECVHOPLIMIT, 1, "vrrp: IPV6_RECVHOPLIMIT"),
                 opt_int(fd, IPPROTO_IPV6, IPV6_RECVPKTINFO, 1, "vrrp: IPV6_RECVPKTINFO")})
    if (!r) return r;
  if (!o.unicast_peers.empty()) return {};
  ipv6_mreq join{};
  std::memcpy(&join.ipv6mr_multiaddr, advert_group(SL_AF_INET6).bytes.data(), 16);
  join.ipv6mr_interface = static_cast<unsigned>(o.ifindex);
  return opt(fd, IPPROTO_IPV6, IPV6_ADD_MEMBERSHIP, &join, sizeof(join), "vrrp: join ff02::12");
}

IpAddr addr_of(const void* p, uint8_t family) {
  IpAddr a;
  a.family = family;
  std::memcpy(a.bytes.data(), p, family == SL_AF_INET ? 4 : 16);
  return a;
}

uint16_t ip_header_checksum(const uint8_t* h) {
  uint32_t sum = 0;
  for (int i = 0; i < 20; i += 2) sum += static_cast<uint32_t>(h[i]) << 8 | h[i + 1];
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<uint16_t>(~sum);
}

}  // namespace

std::vector<uint8_t> advert_frame(const Mac& mac, const IpAddr& src, const IpAddr& dst,
                                  std::span<const uint8_t> msg) {
  bool v6 = src.is_v6();
  size_t ip_len = v6 ? 40 : 20;
  std::vector<uint8_t> f(14 + ip_len + msg.size());
  uint8_t* p = f.data();
  // RFC 1112 / RFC 2464 multicast MACs: the group's low 23 / 32 bits.
  Mac to = v6 ? Mac{0x33, 0x33, dst.bytes[12], dst.bytes[13], dst.bytes[14], dst.bytes[15]}
              : Mac{0x01,         0x00,        0x5e, static_cast<uint8_t>(dst.bytes[1] & 0x7f),
                    dst.bytes[2], dst.bytes[3]};
  std::memcpy(p, to.data(), 6);
  std::memcpy(p + 6, mac.data(), 6);
  p[12] = v6 ? 0x86 : 0x08;
  p[13] = v6 ? 0xdd : 0x00;
  uint8_t* ip = p + 14;
  if (v6) {
    ip[0] = 0x60 | kTos >> 4;  // version, then the traffic class across the nibbles
    ip[1] = static_cast<uint8_t>((kTos & 0x0f) << 4);
    ip[4] = static_cast<uint8_t>(msg.size() >> 8);
    ip[5] = static_cast<uint8_t>(msg.size());
    ip[6] = kIpProto;
    ip[7] = kTtl;
    std::memcpy(ip + 8, src.bytes.data(), 16);
    std::memcpy(ip + 24, dst.bytes.data(), 16);
  } else {
    size_t total = 20 + msg.size();
    ip[0] = 0x45;
    ip[1] = kTos;
    ip[2] = static_cast<uint8_t>(total >> 8);
    ip[3] = static_cast<uint8_t>(total);
    ip[6] = 0x40;  // DF: an atomic datagram, so ID 0 is fine (RFC 6864)
    ip[8] = kTtl;
    ip[9] = kIpProto;
    std::memcpy(ip + 12, src.bytes.data(), 4);
    std::memcpy(ip + 16, dst.bytes.data(), 4);
    uint16_t c = ip_header_checksum(ip);
    ip[10] = static_cast<uint8_t>(c >> 8);
    ip[11] = static_cast<uint8_t>(c);
  }
  std::memcpy(ip + ip_len, msg.data(), msg.size());
  return f;
}

Result<AdvertSocket> AdvertSocket::open(const AdvertSocketOptions& o) {
  bool v6 = o.primary.is_v6();
  Fd fd(::socket(v6 ? AF_INET6 : AF_INET, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, kIpProto));
  if (!fd) return make_error("vrrp: raw socket (protocol 112)", errno, o.ifname);
  if (auto r = opt(fd.get(), SOL_SOCKET, SO_BINDTODEVICE, o.ifname.c_str(),
                   static_cast<socklen_t>(o.ifname.size()), "vrrp: SO_BINDTODEVICE");
      !r)
    return Error{r.error().op, r.error().err, o.ifname};
  (void)opt_int(fd.get(), SOL_SOCKET, SO_RCVBUF, kRcvBuf, "vrrp: SO_RCVBUF");
  auto r = v6 ? setup_v6(fd.get(), o) : setup_v4(fd.get(), o);
  if (!r) return Error{r.error().op, r.error().err, o.ifname};
  // Protocol 0: sends only.
  Fd packet(::socket(AF_PACKET, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!packet) return make_error("vrrp: AF_PACKET socket", errno, o.ifname);
  return AdvertSocket(std::move(fd), std::move(packet), o);
}

Result<void> AdvertSocket::send(const Advert& a) {
  if (o_.unicast_peers.empty()) return send_frame(a, advert_group(o_.primary.family));
  Result<void> first;
  for (const IpAddr& peer : o_.unicast_peers)
    if (auto r = send_to(a, peer); !r && first) first = r;
  return first;
}

Result<void> AdvertSocket::send_to(const Advert& a, const IpAddr& dst) {
  std::vector<uint8_t> msg = advert_encode(a, o_.primary, dst);
  iovec iov{msg.data(), msg.size()};
  msghdr mh{};
  mh.msg_iov = &iov;
  mh.msg_iovlen = 1;
  // The source must be the primary address the checksum was computed over,
  // whatever else (the VIPs) the interface holds.
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(in6_pktinfo))] = {};
  sockaddr_in sin{};
  sockaddr_in6 sin6{};
  mh.msg_control = control;
  cmsghdr* c = reinterpret_cast<cmsghdr*>(control);
  if (dst.is_v4()) {
    sin.sin_family = AF_INET;
    std::memcpy(&sin.sin_addr, dst.bytes.data(), 4);
    mh.msg_name = &sin;
    mh.msg_namelen = sizeof(sin);
    in_pktinfo pi{};
    pi.ipi_ifindex = o_.ifindex;
    std::memcpy(&pi.ipi_spec_dst, o_.primary.bytes.data(), 4);
    c->cmsg_level = IPPROTO_IP;
    c->cmsg_type = IP_PKTINFO;
    c->cmsg_len = CMSG_LEN(sizeof(pi));
    std::memcpy(CMSG_DATA(c), &pi, sizeof(pi));
    mh.msg_controllen = CMSG_SPACE(sizeof(pi));
  } else {
    sin6.sin6_family = AF_INET6;
    std::memcpy(&sin6.sin6_addr, dst.bytes.data(), 16);
    sin6.sin6_scope_id = static_cast<uint32_t>(o_.ifindex);
    mh.msg_name = &sin6;
    mh.msg_namelen = sizeof(sin6);
    in6_pktinfo pi{};
    pi.ipi6_ifindex = static_cast<unsigned>(o_.ifindex);
    std::memcpy(&pi.ipi6_addr, o_.primary.bytes.data(), 16);
    c->cmsg_level = IPPROTO_IPV6;
    c->cmsg_type = IPV6_PKTINFO;
    c->cmsg_len = CMSG_LEN(sizeof(pi));
    std::memcpy(CMSG_DATA(c), &pi, sizeof(pi));
    mh.msg_controllen = CMSG_SPACE(sizeof(pi));
  }
  if (::sendmsg(fd_.get(), &mh, MSG_DONTWAIT) < 0)
    return make_error("vrrp: send advert", errno, dst.str() + " on " + o_.ifname);
  return {};
}

Result<void> AdvertSocket::send_frame(const Advert& a, const IpAddr& dst) {
  std::vector<uint8_t> msg = advert_encode(a, o_.primary, dst);
  std::vector<uint8_t> f = advert_frame(o_.mac, o_.primary, dst, msg);
  sockaddr_ll to{};
  to.sll_family = AF_PACKET;
  to.sll_ifindex = o_.ifindex;
  to.sll_halen = 6;
  std::memcpy(to.sll_addr, f.data(), 6);
  std::memcpy(&to.sll_protocol, f.data() + 12, 2);
  if (::sendto(packet_.get(), f.data(), f.size(), MSG_DONTWAIT, reinterpret_cast<sockaddr*>(&to),
               sizeof(to)) < 0)
    return make_error("vrrp: send advert", errno, dst.str() + " on " + o_.ifname);
  return {};
}

std::optional<RxAdvert> AdvertSocket::receive() {
  sockaddr_in6 from{};
  iovec iov{buf_.data(), buf_.size()};
  alignas(cmsghdr) char control[256];
  msghdr mh{};
  mh.msg_name = &from;
  mh.msg_namelen = sizeof(from);
  mh.msg_iov = &iov;
  mh.msg_iovlen = 1;
  mh.msg_control = control;
  mh.msg_controllen = sizeof(control);
  ssize_t n = ::recvmsg(fd_.get(), &mh, MSG_DONTWAIT);
  if (n < 0) return std::nullopt;
  RxAdvert rx;
  rx.truncated = (mh.msg_flags & MSG_TRUNC) != 0;
  std::span<const uint8_t> got(buf_.data(), static_cast<size_t>(n));
  if (o_.primary.is_v4()) {
    auto v = ipv4_advert_view(got);
    if (auto* view = std::get_if<Ipv4View>(&v)) {
      rx.src = view->src;
      rx.dst = view->dst;
      rx.ttl = view->ttl;
      rx.msg.assign(view->msg.begin(), view->msg.end());
    } else {
      rx.drop = std::get<AdvertDrop>(v);
    }
    return rx;
  }
  if (from.sin6_family == AF_INET6) rx.src = addr_of(&from.sin6_addr, SL_AF_INET6);
  for (cmsghdr* c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
    if (c->cmsg_level != IPPROTO_IPV6) continue;
    if (c->cmsg_type == IPV6_HOPLIMIT && c->cmsg_len >= CMSG_LEN(sizeof(int))) {
      int hops = 0;
      std::memcpy(&hops, CMSG_DATA(c), sizeof(hops));
      rx.ttl = static_cast<uint8_t>(hops);
    } else if (c->cmsg_type == IPV6_PKTINFO && c->cmsg_len >= CMSG_LEN(sizeof(in6_pktinfo))) {
      in6_pktinfo pi{};
      std::memcpy(&pi, CMSG_DATA(c), sizeof(pi));
      rx.dst = addr_of(&pi.ipi6_addr, SL_AF_INET6);
    }
  }
  rx.msg.assign(got.begin(), got.end());
  return rx;
}

}  // namespace sluice::vrrp
