// SPDX-License-Identifier: Apache-2.0
// Neighbour table and route lookups.
#include <linux/neighbour.h>
#include <linux/rtnetlink.h>

#include <cerrno>
#include <cstring>

#include "control/net/netlink.h"
#include "control/net/netlink_attr.h"

namespace sluice {

namespace {

constexpr uint16_t kUsableStates =
    NUD_REACHABLE | NUD_STALE | NUD_DELAY | NUD_PROBE | NUD_PERMANENT;

}  // namespace

// One dump for the whole table: asking per address would dump it once per
// backend, O(backends x neighbours) with 10,000 backends.
Result<std::map<IpAddr, Mac>> Netlink::neighbours(int ifindex, uint8_t family) {
  char buf[MNL_SOCKET_BUFFER_SIZE];
  nlmsghdr* nlh = mnl_nlmsg_put_header(buf);
  nlh->nlmsg_type = RTM_GETNEIGH;
  nlh->nlmsg_flags = NLM_F_DUMP;
  auto* ndm = static_cast<ndmsg*>(mnl_nlmsg_put_extra_header(nlh, sizeof(ndmsg)));
  ndm->ndm_family = family == SL_AF_INET6 ? AF_INET6 : AF_INET;
  std::map<IpAddr, Mac> found;
  auto r = transact(nlh, [&](const nlmsghdr* m) {
    auto* n = static_cast<const ndmsg*>(mnl_nlmsg_get_payload(m));
    if (m->nlmsg_type != RTM_NEWNEIGH || n->ndm_ifindex != ifindex ||
        !(n->ndm_state & kUsableStates))
      return MNL_CB_OK;
    const nlattr* dst = nullptr;
    const nlattr* lladdr = nullptr;
    for_each_attr(m, sizeof(*n), [&](const nlattr* attr) {
      if (mnl_attr_get_type(attr) == NDA_DST) dst = attr;
      if (mnl_attr_get_type(attr) == NDA_LLADDR) lladdr = attr;
    });
    size_t alen = family == SL_AF_INET6 ? 16 : 4;
    if (!dst || !lladdr || mnl_attr_get_payload_len(dst) != alen ||
        mnl_attr_get_payload_len(lladdr) != 6)
      return MNL_CB_OK;
    IpAddr addr;
    addr.family = family;
    std::memcpy(addr.bytes.data(), mnl_attr_get_payload(dst), alen);
    Mac mac;
    std::memcpy(mac.data(), mnl_attr_get_payload(lladdr), 6);
    found[addr] = mac;
    return MNL_CB_OK;
  }, "netlink: dump neighbours");
  if (!r) return r.error();
  return found;
}

Result<std::optional<Mac>> Netlink::neighbour(int ifindex, const IpAddr& addr) {
  auto all = neighbours(ifindex, addr.family);
  if (!all) return all.error();
  auto it = all->find(addr);
  if (it == all->end()) return std::optional<Mac>();
  return std::optional<Mac>(it->second);
}

Result<void> Netlink::neighbour_probe(int ifindex, const IpAddr& addr) {
  char buf[MNL_SOCKET_BUFFER_SIZE];
  nlmsghdr* nlh = mnl_nlmsg_put_header(buf);
  nlh->nlmsg_type = RTM_NEWNEIGH;
  nlh->nlmsg_flags = NLM_F_CREATE | NLM_F_REPLACE;
  auto* ndm = static_cast<ndmsg*>(mnl_nlmsg_put_extra_header(nlh, sizeof(ndmsg)));
  ndm->ndm_family = static_cast<uint8_t>(addr.af());
  ndm->ndm_ifindex = ifindex;
  // NTF_USE: the kernel treats it as if a packet used the entry, which
  // starts resolution (ARP request / neighbour solicitation).
  ndm->ndm_flags = NTF_USE;
  mnl_attr_put(nlh, NDA_DST, addr.size(), addr.bytes.data());
  auto r = transact(nlh, [](const nlmsghdr*) { return MNL_CB_OK; }, "netlink: resolve neighbour");
  if (!r) return Error{r.error().op, r.error().err, addr.str()};
  return {};
}

Result<NextHop> Netlink::route(const IpAddr& dst) {
  char buf[MNL_SOCKET_BUFFER_SIZE];
  nlmsghdr* nlh = mnl_nlmsg_put_header(buf);
  nlh->nlmsg_type = RTM_GETROUTE;
  auto* rtm = static_cast<rtmsg*>(mnl_nlmsg_put_extra_header(nlh, sizeof(rtmsg)));
  rtm->rtm_family = static_cast<uint8_t>(dst.af());
  rtm->rtm_dst_len = static_cast<uint8_t>(dst.host_prefix());
  mnl_attr_put(nlh, RTA_DST, dst.size(), dst.bytes.data());
  NextHop hop;
  hop.addr = dst;
  auto r = transact(nlh, [&](const nlmsghdr* m) {
    if (m->nlmsg_type != RTM_NEWROUTE) return MNL_CB_OK;
    auto* reply = static_cast<const rtmsg*>(mnl_nlmsg_get_payload(m));
    for_each_attr(m, sizeof(*reply), [&](const nlattr* attr) {
      uint16_t type = mnl_attr_get_type(attr);
      if (type == RTA_OIF) hop.ifindex = static_cast<int>(mnl_attr_get_u32(attr));
      if (type == RTA_GATEWAY && mnl_attr_get_payload_len(attr) == dst.size()) {
        std::memcpy(hop.addr.bytes.data(), mnl_attr_get_payload(attr), dst.size());
        hop.via_gateway = true;
      }
    });
    return MNL_CB_OK;
  }, "netlink: route lookup");
  if (!r) return Error{r.error().op, r.error().err, dst.str()};
  if (hop.ifindex == 0) return make_error("netlink: route lookup", ENETUNREACH, dst.str());
  return hop;
}

}  // namespace sluice
