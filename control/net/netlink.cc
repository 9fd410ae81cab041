// SPDX-License-Identifier: Apache-2.0
// Netlink socket plumbing, links and addresses. Neighbours and routes live in
// netlink_neigh.cc.
#include "control/net/netlink.h"
#include "control/net/netlink_attr.h"

#include <linux/if_addr.h>
#include <linux/if_link.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>
#include <vector>

namespace sluice {

namespace {

int run_callback(const nlmsghdr* nlh, void* data) {
  return (*static_cast<const std::function<int(const nlmsghdr*)>*>(data))(nlh);
}

// Reads an interface address message: ifindex, scope and the address.
bool parse_ifaddr(const nlmsghdr* nlh, int* ifindex, uint8_t* scope, IpAddr* out) {
  auto* ifa = static_cast<const ifaddrmsg*>(mnl_nlmsg_get_payload(nlh));
  if (ifa->ifa_family != AF_INET && ifa->ifa_family != AF_INET6) return false;
  const nlattr* local = nullptr;
  const nlattr* address = nullptr;
  for_each_attr(nlh, sizeof(*ifa), [&](const nlattr* attr) {
    if (mnl_attr_get_type(attr) == IFA_LOCAL) local = attr;
    if (mnl_attr_get_type(attr) == IFA_ADDRESS) address = attr;
  });
  const nlattr* a = local ? local : address;
  size_t len = ifa->ifa_family == AF_INET ? 4 : 16;
  if (!a || mnl_attr_get_payload_len(a) != len) return false;
  out->family = ifa->ifa_family == AF_INET ? SL_AF_INET : SL_AF_INET6;
  out->bytes = {};
  std::memcpy(out->bytes.data(), mnl_attr_get_payload(a), len);
  *ifindex = static_cast<int>(ifa->ifa_index);
  *scope = ifa->ifa_scope;
  return true;
}

}  // namespace

Netlink::Netlink(mnl_socket* s) : sock_(s), portid_(mnl_socket_get_portid(s)) {}

Result<Netlink> Netlink::open() {
  mnl_socket* s = mnl_socket_open2(NETLINK_ROUTE, SOCK_CLOEXEC);
  if (!s) return make_error("netlink: socket", errno);
  if (mnl_socket_bind(s, 0, MNL_SOCKET_AUTOPID) < 0) {
    int err = errno;
    mnl_socket_close(s);
    return make_error("netlink: bind", err);
  }
  return Netlink(s);
}

Result<void> Netlink::transact(nlmsghdr* req, const Callback& cb, const char* op) {
  req->nlmsg_seq = ++seq_;
  req->nlmsg_flags |= NLM_F_REQUEST | NLM_F_ACK;
  if (mnl_socket_sendto(sock_.get(), req, req->nlmsg_len) < 0)
    return make_error(op, errno);
  std::vector<char> buf(kNetlinkDumpSize);
  for (;;) {
    ssize_t n = mnl_socket_recvfrom(sock_.get(), buf.data(), buf.size());
    if (n < 0) return make_error(op, errno);
    int rc = mnl_cb_run(buf.data(), n, seq_, portid_, run_callback,
                        const_cast<Callback*>(&cb));
    if (rc < 0) return make_error(op, errno);
    if (rc == MNL_CB_STOP) return {};
  }
}

Result<LinkInfo> Netlink::link(const std::string& ifname) {
  char buf[MNL_SOCKET_BUFFER_SIZE];
  nlmsghdr* nlh = mnl_nlmsg_put_header(buf);
  nlh->nlmsg_type = RTM_GETLINK;
  auto* ifi = static_cast<ifinfomsg*>(mnl_nlmsg_put_extra_header(nlh, sizeof(ifinfomsg)));
  ifi->ifi_family = AF_UNSPEC;
  mnl_attr_put_strz(nlh, IFLA_IFNAME, ifname.c_str());
  LinkInfo info;
  auto r = transact(nlh, [&](const nlmsghdr* m) {
    if (m->nlmsg_type != RTM_NEWLINK) return MNL_CB_OK;
    auto* reply = static_cast<const ifinfomsg*>(mnl_nlmsg_get_payload(m));
    info.ifindex = reply->ifi_index;
    info.flags = reply->ifi_flags;
    for_each_attr(m, sizeof(*reply), [&](const nlattr* attr) {
      uint16_t type = mnl_attr_get_type(attr);
      if (type == IFLA_MTU) info.mtu = mnl_attr_get_u32(attr);
      if (type == IFLA_IFNAME) info.name = mnl_attr_get_str(attr);
      if (type == IFLA_ADDRESS && mnl_attr_get_payload_len(attr) == 6)
        std::memcpy(info.mac.data(), mnl_attr_get_payload(attr), 6);
    });
    return MNL_CB_OK;
  }, "netlink: get link");
  if (!r) return Error{r.error().op, r.error().err, ifname};
  if (info.ifindex == 0) return make_error("netlink: get link", ENODEV, ifname);
  return info;
}

Result<std::vector<std::pair<IpAddr, uint8_t>>> Netlink::scoped_addresses(int ifindex) {
  std::vector<std::pair<IpAddr, uint8_t>> out;
  char buf[MNL_SOCKET_BUFFER_SIZE];
  nlmsghdr* nlh = mnl_nlmsg_put_header(buf);
  nlh->nlmsg_type = RTM_GETADDR;
  nlh->nlmsg_flags = NLM_F_DUMP;
  auto* ifa = static_cast<ifaddrmsg*>(mnl_nlmsg_put_extra_header(nlh, sizeof(ifaddrmsg)));
  ifa->ifa_family = AF_UNSPEC;
  auto r = transact(nlh, [&](const nlmsghdr* m) {
    int idx = 0;
    uint8_t scope = 0;
    IpAddr a;
    if (m->nlmsg_type == RTM_NEWADDR && parse_ifaddr(m, &idx, &scope, &a) && idx == ifindex)
      out.emplace_back(a, scope);
    return MNL_CB_OK;
  }, "netlink: dump addresses");
  if (!r) return r.error();
  return out;
}

Result<std::vector<IpAddr>> Netlink::addresses(int ifindex) {
  auto all = scoped_addresses(ifindex);
  if (!all) return all.error();
  std::vector<IpAddr> out;
  for (const auto& [a, scope] : *all)
    if (scope == RT_SCOPE_UNIVERSE) out.push_back(a);
  return out;
}

Result<std::optional<IpAddr>> Netlink::global_address(int ifindex, uint8_t family,
                                                      const std::vector<IpAddr>& skip) {
  auto all = addresses(ifindex);
  if (!all) return all.error();
  for (const IpAddr& a : *all) {
    if (a.family != family) continue;
    bool skipped = false;
    for (const IpAddr& s : skip) skipped = skipped || s == a;
    if (!skipped) return std::optional<IpAddr>(a);
  }
  return std::optional<IpAddr>();
}

nlmsghdr* address_request(char* buf, int ifindex, const IpAddr& addr, bool add,
                          const std::optional<AddrLifetime>& lifetime) {
  nlmsghdr* nlh = mnl_nlmsg_put_header(buf);
  nlh->nlmsg_type = add ? RTM_NEWADDR : RTM_DELADDR;
  nlh->nlmsg_flags = 0;
  if (add) nlh->nlmsg_flags = NLM_F_CREATE | (lifetime ? NLM_F_REPLACE : NLM_F_EXCL);
  auto* ifa = static_cast<ifaddrmsg*>(mnl_nlmsg_put_extra_header(nlh, sizeof(ifaddrmsg)));
  ifa->ifa_family = static_cast<uint8_t>(addr.af());
  ifa->ifa_prefixlen = static_cast<uint8_t>(addr.host_prefix());
  ifa->ifa_scope = RT_SCOPE_UNIVERSE;
  ifa->ifa_index = static_cast<uint32_t>(ifindex);
  // A VIP must answer at once: no duplicate address detection.
  if (addr.is_v6()) ifa->ifa_flags = IFA_F_NODAD;
  mnl_attr_put(nlh, IFA_LOCAL, addr.size(), addr.bytes.data());
  mnl_attr_put(nlh, IFA_ADDRESS, addr.size(), addr.bytes.data());
  if (add && lifetime) {
    ifa_cacheinfo ci{};
    ci.ifa_valid = lifetime->valid_s;
    ci.ifa_prefered = lifetime->preferred_s;
    mnl_attr_put(nlh, IFA_CACHEINFO, sizeof(ci), &ci);
  }
  return nlh;
}

Result<void> Netlink::address_change(int ifindex, const IpAddr& addr, bool add,
                                     const std::optional<AddrLifetime>& lifetime) {
  char buf[MNL_SOCKET_BUFFER_SIZE];
  nlmsghdr* nlh = address_request(buf, ifindex, addr, add, lifetime);
  auto r = transact(nlh, [](const nlmsghdr*) { return MNL_CB_OK; },
                    add ? "netlink: add address" : "netlink: remove address");
  if (r) return {};
  int err = r.error().err;
  if ((add && err == EEXIST) || (!add && err == EADDRNOTAVAIL)) return {};
  char name[IF_NAMESIZE] = "?";
  if_indextoname(static_cast<unsigned>(ifindex), name);
  return Error{r.error().op, err, addr.str() + " on " + name};
}

Result<void> Netlink::address_add(int ifindex, const IpAddr& addr,
                                  const std::optional<AddrLifetime>& lifetime) {
  return address_change(ifindex, addr, true, lifetime);
}

Result<void> Netlink::address_add(int ifindex, const Cidr& prefix) {
  char buf[MNL_SOCKET_BUFFER_SIZE];
  nlmsghdr* nlh = address_request(buf, ifindex, prefix.addr, true, std::nullopt);
  static_cast<ifaddrmsg*>(mnl_nlmsg_get_payload(nlh))->ifa_prefixlen = prefix.prefix;
  auto r = transact(nlh, [](const nlmsghdr*) { return MNL_CB_OK; }, "netlink: add address");
  if (r || r.error().err == EEXIST) return {};
  return Error{r.error().op, r.error().err, prefix.str()};
}

Result<void> Netlink::address_del(int ifindex, const IpAddr& addr) {
  return address_change(ifindex, addr, false, std::nullopt);
}

Result<std::optional<IpAddr>> Netlink::link_local_address(int ifindex) {
  auto all = scoped_addresses(ifindex);
  if (!all) return all.error();
  for (const auto& [a, scope] : *all)
    if (a.is_v6() && scope == RT_SCOPE_LINK) return std::optional<IpAddr>(a);
  return std::optional<IpAddr>();
}

}  // namespace sluice
