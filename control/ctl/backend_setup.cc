// SPDX-License-Identifier: Apache-2.0
#include "control/ctl/backend_setup.h"

#include <cerrno>
#include <cstdio>
#include <algorithm>
#include <fstream>

#include "control/net/netlink.h"
#include "xdp/xdp_dataplane.h"

namespace sluice {

namespace {

// net.ipv4.conf.<dev>.<key>; the path is built, not derived from the dotted
// name, because interface names may hold dots (VLANs).
Result<void> write_conf_sysctl(const std::string& dev, const std::string& key,
                               const std::string& value) {
  std::string name = "net.ipv4.conf." + dev + "." + key;
  std::string path = "/proc/sys/net/ipv4/conf/" + dev + "/" + key;
  std::ofstream out(path);
  if (!out) return make_error("sysctl " + name, errno, path);
  out << value << "\n";
  out.close();
  if (!out) return make_error("sysctl " + name, errno, path);
  std::printf("set %s=%s\n", name.c_str(), value.c_str());
  return {};
}

// arp_ignore=1: answer ARP only for addresses on the receiving interface
// (the VIP is on lo); arp_announce=2: never use the VIP as ARP source.
Result<void> arp_sysctls(const std::string& iface, bool undo) {
  for (const std::string& dev : {std::string("all"), iface}) {
    if (auto r = write_conf_sysctl(dev, "arp_ignore", undo ? "0" : "1"); !r) return r;
    if (auto r = write_conf_sysctl(dev, "arp_announce", undo ? "0" : "2"); !r) return r;
  }
  return {};
}

Result<void> vips_on_lo(Netlink& nl, const std::vector<IpAddr>& vips, bool undo) {
  auto lo = nl.link("lo");
  if (!lo) return lo.error();
  for (const IpAddr& vip : vips) {
    auto r = undo ? nl.address_del(lo->ifindex, vip) : nl.address_add(lo->ifindex, vip);
    if (!r) return r;
    std::printf("%s %s/%d %s lo\n", undo ? "removed" : "added", vip.str().c_str(),
                vip.host_prefix(), undo ? "from" : "on");
  }
  return {};
}

Result<void> decap(const BackendSetupOptions& opts, uint32_t mtu) {
  if (opts.undo) {
    if (auto r = decap_detach(opts.iface); !r) return r;
    std::printf("detached the decap program from %s\n", opts.iface.c_str());
    return {};
  }
  if (auto r = decap_attach(opts.iface, opts.generic); !r) return r;
  std::printf("attached the decap program to %s (%s mode)\n", opts.iface.c_str(),
              opts.generic ? "generic" : "native");
  std::string warning = encap_mtu_warning(opts.iface, mtu, opts.vips);
  if (!warning.empty()) std::fprintf(stderr, "sluicectl: warning: %s\n", warning.c_str());
  return {};
}

}  // namespace

std::string encap_mtu_warning(const std::string& iface, uint32_t mtu,
                              const std::vector<IpAddr>& vips) {
  uint32_t need = 0;
  for (const IpAddr& v : vips) need = std::max<uint32_t>(need, v.is_v4() ? 1520 : 1540);
  if (mtu >= need) return {};
  return iface + " MTU is " + std::to_string(mtu) +
         ": encapsulated packets need MTU >= " + std::to_string(need) +
         " on the lb->backend path; raise it or clamp MSS";
}

Result<void> backend_setup(const BackendSetupOptions& opts) {
  auto nl = Netlink::open();
  if (!nl) return nl.error();
  auto link = nl->link(opts.iface);
  if (!link) return link.error();
  if (!opts.undo) {
    if (auto r = vips_on_lo(*nl, opts.vips, false); !r) return r;
    if (auto r = arp_sysctls(opts.iface, false); !r) return r;
    if (opts.mode == SL_MODE_IPIP) return decap(opts, link->mtu);
    return {};
  }
  // Undo is best effort: every step runs, the first failure is reported.
  Result<void> first;
  auto keep = [&first](Result<void> r) {
    if (!r && first) first = r;
  };
  if (opts.mode == SL_MODE_IPIP) keep(decap(opts, link->mtu));
  keep(vips_on_lo(*nl, opts.vips, true));
  keep(arp_sysctls(opts.iface, true));
  return first;
}

}  // namespace sluice
