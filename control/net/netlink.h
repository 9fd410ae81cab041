// SPDX-License-Identifier: Apache-2.0
// The rtnetlink queries and changes the controller needs (libmnl): links,
// addresses, neighbours and routes of the caller's network namespace. Uses
// netlink only (no /sys), so it works under `nsenter --net=...`.
#pragma once

#include <libmnl/libmnl.h>

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/host/ip_addr.h"
#include "core/host/result.h"

namespace sluice {

struct LinkInfo {
  int ifindex = 0;
  std::string name;
  Mac mac{};
  uint32_t mtu = 0;
  unsigned flags = 0;  // IFF_UP, IFF_RUNNING, ...
};

// A finite lifetime for an address (IFA_CACHEINFO), in seconds: the kernel
// removes the address when it runs out unless it is renewed, so a VIP held
// under VRRP leaves with a controller that was killed.
struct AddrLifetime {
  uint32_t valid_s = 0;
  uint32_t preferred_s = 0;
};

// The RTM_NEWADDR / RTM_DELADDR request for addr/32 or addr/128 written into
// `buf` (MNL_SOCKET_BUFFER_SIZE bytes). With a lifetime the add replaces an
// existing address (renewing its lifetime) instead of leaving it as it is.
nlmsghdr* address_request(char* buf, int ifindex, const IpAddr& addr, bool add,
                          const std::optional<AddrLifetime>& lifetime);

struct NextHop {
  int ifindex = 0;
  IpAddr addr;      // the gateway, or the destination itself when on-link
  bool via_gateway = false;
};

class Netlink {
 public:
  static Result<Netlink> open();

  Result<LinkInfo> link(const std::string& ifname);
  // First address of global scope on the interface in `family`
  // (SL_AF_INET / SL_AF_INET6), skipping those in `skip` (our VIPs).
  Result<std::optional<IpAddr>> global_address(int ifindex, uint8_t family,
                                               const std::vector<IpAddr>& skip = {});
  // All addresses on the interface.
  Result<std::vector<IpAddr>> addresses(int ifindex);
  // Adds / removes addr/32 or addr/128. Adding one that exists and removing
  // one that is absent both succeed.
  Result<void> address_add(int ifindex, const IpAddr& addr,
                           const std::optional<AddrLifetime>& lifetime = {});
  Result<void> address_del(int ifindex, const IpAddr& addr);
  // Adds addr/prefix (a node's own address, with its on-link route).
  Result<void> address_add(int ifindex, const Cidr& prefix);
  // The interface's first IPv6 link-local address (the source of VRRP
  // adverts to ff02::12).
  Result<std::optional<IpAddr>> link_local_address(int ifindex);

  // The neighbour entry's MAC if it is usable (reachable, stale, delay,
  // probe or permanent).
  Result<std::optional<Mac>> neighbour(int ifindex, const IpAddr& addr);
  // Every usable entry of one family (SL_AF_INET / SL_AF_INET6), one dump.
  Result<std::map<IpAddr, Mac>> neighbours(int ifindex, uint8_t family);
  // Asks the kernel to resolve addr on the interface (NTF_USE).
  Result<void> neighbour_probe(int ifindex, const IpAddr& addr);
  Result<NextHop> route(const IpAddr& dst);

 private:
  struct SocketCloser {
    void operator()(mnl_socket* s) const { mnl_socket_close(s); }
  };
  using Callback = std::function<int(const nlmsghdr*)>;

  explicit Netlink(mnl_socket* s);
  // Sends one request and runs `cb` on every reply message until the ack or
  // the end of the dump.
  Result<void> transact(nlmsghdr* req, const Callback& cb, const char* op);
  Result<void> address_change(int ifindex, const IpAddr& addr, bool add,
                              const std::optional<AddrLifetime>& lifetime);
  Result<std::vector<std::pair<IpAddr, uint8_t>>> scoped_addresses(int ifindex);

  std::unique_ptr<mnl_socket, SocketCloser> sock_;
  uint32_t portid_ = 0;
  uint32_t seq_ = 0;
};

}  // namespace sluice
