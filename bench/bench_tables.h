// SPDX-License-Identifier: Apache-2.0
// The tables the XDP benchmarks program into sluice.bpf.o: two VIPs on
// port 80/tcp, `dsr_vip` in dsr (VIP id 0, ring 0) and `ipip_vip` in ipip
// (VIP id 1, ring 2), each over `per_vip` equal-weight IPv4 backends
// (slots 0.. for the first VIP, then the second's), and the node's globals.
#pragma once

#include <arpa/inet.h>

#include <cstdint>
#include <cstring>
#include <memory>
#include <vector>

#include "dataplane/dataplane.h"
#include "core/abi.h"
#include "core/wrr.h"
#include "xdp/xdp_dataplane.h"

namespace sluice::bench {

inline Result<void> two_vips_fill(Dataplane& dp, uint32_t dsr_vip, uint32_t ipip_vip,
                                  uint32_t per_vip) {
  for (uint32_t i = 0; i < 2 * per_vip; ++i) {
    sl_backend be{};
    be.addr[0] = htonl(0xc6120010 + i);  // 198.18.0.16+
    uint8_t mac[6] = {2, 0, 0, 0, 0, uint8_t(0x10 + i)};
    std::memcpy(be.mac, mac, 6);
    be.family = SL_AF_INET;
    be.flags = SL_BE_F_LIVE;
    be.gen = 1;
    be.vip_id = i / per_vip;
    if (auto r = dp.backend_put(i, be); !r.ok()) return r;
  }
  std::vector<uint32_t> w(per_vip, 1);
  for (uint32_t v = 0; v < 2; ++v) {
    auto ring = std::make_unique<sl_ring>();
    std::memset(ring.get(), 0, sizeof(*ring));
    ring->len = sl_wrr_build(w.data(), per_vip, ring->slots, SL_RING_SLOTS);
    for (uint32_t i = 0; i < ring->len; ++i) ring->slots[i] = uint16_t(v * per_vip + ring->slots[i]);
    if (auto r = dp.ring_put(v * 2, *ring); !r.ok()) return r;
    sl_vip_key k{};
    k.addr[0] = htonl(v == 0 ? dsr_vip : ipip_vip);
    k.port = htons(80);
    k.proto = 6;
    k.family = SL_AF_INET;
    sl_vip_meta m{};
    m.vip_id = v;
    m.ring_id = v * 2;
    m.mode = v == 0 ? SL_MODE_DSR : SL_MODE_IPIP;
    if (auto r = dp.vip_put(k, m); !r.ok()) return r;
  }
  sl_global g{};
  g.role = SL_ROLE_ACTIVE;
  g.src_v4 = htonl(0xc6120001);
  uint8_t lb[6] = {2, 0, 0, 0, 0, 1};
  std::memcpy(g.lb_mac, lb, 6);
  return dp.global_set(g);
}

// sluice.bpf.o loaded for BPF_PROG_TEST_RUN only (not attached, nothing
// pinned) with two_vips_fill's tables; conn_table_size and acl_trie_nodes
// 0: the defaults.
inline Result<std::unique_ptr<XdpDataplane>> open_two_vips(uint32_t dsr_vip, uint32_t ipip_vip,
                                                           uint32_t per_vip,
                                                           uint32_t conn_table_size = 0,
                                                           uint32_t acl_trie_nodes = 0) {
  XdpOptions o;
  o.attach = false;
  o.pin = false;
  if (conn_table_size) o.conn_table_size = conn_table_size;
  if (acl_trie_nodes) o.acl_trie_nodes = acl_trie_nodes;
  auto dp = XdpDataplane::open(o);
  if (!dp.ok())
    return make_error("loading sluice.bpf.o: " + dp.error().message() + " (needs root)");
  if (auto r = two_vips_fill(**dp, dsr_vip, ipip_vip, per_vip); !r.ok()) return r.error();
  return std::move(*dp);
}

}  // namespace sluice::bench
