// SPDX-License-Identifier: Apache-2.0
// Backend side: loads xdp/decap.bpf.c, tells it this host's addresses and
// attaches it. The skeleton is freed on return; the interface keeps the
// program (and through it the maps) alive.
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <ifaddrs.h>
#include <netinet/in.h>

#include <cerrno>
#include <cstring>
#include <memory>

#include "decap.skel.h"
#include "xdp/decap.h"
#include "xdp/xdp_attach.h"
#include "xdp/xdp_dataplane.h"

namespace sluice {
namespace {

struct DecapDeleter {
  void operator()(decap_bpf* s) const { decap_bpf__destroy(s); }
};
struct IfaddrsDeleter {
  void operator()(ifaddrs* a) const { freeifaddrs(a); }
};

// Every address of the host, not only of `ifname`: with the VIP on lo and
// asymmetric routing, a tunnel may be addressed to any of them.
Result<void> local_addrs_fill(int map_fd) {
  ifaddrs* raw = nullptr;
  if (getifaddrs(&raw) != 0) return make_error("getifaddrs", errno);
  std::unique_ptr<ifaddrs, IfaddrsDeleter> list(raw);
  for (ifaddrs* a = raw; a != nullptr; a = a->ifa_next) {
    if (a->ifa_addr == nullptr) continue;
    sl_decap_addr key{};
    if (a->ifa_addr->sa_family == AF_INET) {
      key.addr[0] = reinterpret_cast<sockaddr_in*>(a->ifa_addr)->sin_addr.s_addr;
    } else if (a->ifa_addr->sa_family == AF_INET6) {
      std::memcpy(key.addr, &reinterpret_cast<sockaddr_in6*>(a->ifa_addr)->sin6_addr, 16);
    } else {
      continue;
    }
    uint8_t one = 1;
    if (bpf_map_update_elem(map_fd, &key, &one, BPF_ANY) != 0)
      return make_error("bpf_map_update_elem", errno, "decap_addrs");
  }
  return {};
}

}  // namespace

Result<void> decap_attach(const std::string& ifname, bool generic) {
  auto idx = xdp_ifindex(ifname);
  if (!idx.ok()) return idx.error();
  std::unique_ptr<decap_bpf, DecapDeleter> skel(decap_bpf__open_and_load());
  if (!skel) return make_error("decap_bpf__open_and_load", errno, "decap.bpf.o");
  if (auto r = local_addrs_fill(bpf_map__fd(skel->maps.decap_addrs)); !r.ok()) return r;
  return xdp_attach(*idx, bpf_program__fd(skel->progs.sluice_decap), "sluice_decap", generic,
                    ifname);
}

Result<void> decap_detach(const std::string& ifname) {
  auto idx = xdp_ifindex(ifname);
  if (!idx.ok()) return idx.error();
  return xdp_detach_named(*idx, "sluice_decap", ifname);
}

}  // namespace sluice
