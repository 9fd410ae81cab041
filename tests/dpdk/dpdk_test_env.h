// SPDX-License-Identifier: Apache-2.0
// What every DPDK test shares: EAL, initialised once per test program
// without hugepages or PCI (no vdev: the tests call the worker directly),
// a mempool, frames to and from mbufs, and the BPF tests' VIPs and
// backends (tests/bpf/test_lb.h) programmed into any table set with the
// Dataplane write calls (the XDP dataplane or dpdk::Tables).
// Under CI=true an EAL that does not start fails the tests; elsewhere they
// skip, saying why.
#pragma once

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <rte_mbuf.h>

#include <cstring>
#include <initializer_list>
#include <memory>
#include <string>
#include <vector>

#include "core/abi.h"
#include "core/wrr.h"
#include "dataplane/dpdk/tables.h"
#include "tests/common/packet_builder.h"

namespace sluice::test {

// Empty once EAL is up; else why not.
const std::string& eal_error();
rte_mempool* test_pool();

// Skips (or, under CI=true, fails) a test when EAL is not up.
#define SL_REQUIRE_EAL()                                                   \
  do {                                                                     \
    if (!::sluice::test::eal_error().empty()) {                            \
      if (::sluice::test::under_ci()) FAIL() << ::sluice::test::eal_error(); \
      GTEST_SKIP() << ::sluice::test::eal_error();                         \
    }                                                                      \
  } while (0)
bool under_ci();

rte_mbuf* mbuf_of(const Bytes& b);
Bytes bytes_of(const rte_mbuf* m);

// The tables of tests/bpf/test_lb.h: backends 0..6, VIPs A..F (ids 0..5,
// live ring 2 * id), role ACTIVE. Same addresses, MACs, weights.
namespace lb {
inline const char* const kBackendAddrs[] = {
    "198.18.0.11", "198.18.0.12", "198.18.0.13", "198.18.0.21",
    "2001:2::31",  "2001:2::41",  "2001:2::51",
};
inline constexpr uint32_t kBackendVip[] = {0, 0, 0, 1, 2, 3, 4};
inline constexpr uint32_t kBackends = 7;
inline const char* const kLbSrc4 = "198.18.0.1";
inline const char* const kLbSrc6 = "2001:2::1";
inline const char* const kClient4 = "198.19.0.5";
inline const char* const kClient6 = "2001:2:ffff::5";
inline const char* const kVipA = "198.18.0.100";  // :80/tcp dsr, 3 backends 1:2:1
inline const char* const kVipB = "198.18.0.101";  // :80/tcp ipip, IPv4 backend
inline const char* const kVipC = "2001:2::100";   // :80/tcp ipip, IPv6 backend
inline const char* const kVipD = "198.18.0.102";  // :53/udp ipip, 4in6
inline const char* const kVipE = "2001:2::101";   // :80/tcp dsr
inline const char* const kVipF = "198.18.0.103";  // :80/tcp dsr, no backend

inline Mac backend_mac(uint32_t i) { return {0x02, 0, 0, 0, 0, uint8_t(0x10 + i)}; }

inline sl_vip_key vip_key(const char* addr, uint16_t port, uint8_t proto) {
  sl_vip_key k{};
  Addr a = Addr::parse(addr);
  a.to_words(k.addr);
  k.port = htons(port);
  k.proto = proto;
  k.family = a.v6 ? SL_AF_INET6 : SL_AF_INET;
  return k;
}

inline sl_backend backend(uint32_t i) {
  sl_backend be{};
  Addr a = Addr::parse(kBackendAddrs[i]);
  a.to_words(be.addr);
  Mac mac = backend_mac(i);
  std::memcpy(be.mac, mac.data(), 6);
  be.family = a.v6 ? SL_AF_INET6 : SL_AF_INET;
  be.flags = SL_BE_F_LIVE;
  be.gen = 1;
  be.vip_id = kBackendVip[i];
  return be;
}

inline std::unique_ptr<sl_ring> ring(std::initializer_list<uint32_t> members,
                                     std::initializer_list<uint32_t> weights) {
  auto r = std::make_unique<sl_ring>();
  std::memset(r.get(), 0, sizeof(*r));
  std::vector<uint32_t> m(members), w(weights);
  if (!m.empty()) {
    r->len = sl_wrr_build(w.data(), uint32_t(w.size()), r->slots, SL_RING_SLOTS);
    for (uint32_t i = 0; i < r->len; ++i) r->slots[i] = uint16_t(m[r->slots[i]]);
  }
  return r;
}

inline sl_global global(sl_role role) {
  sl_global g{};
  g.role = role;
  Addr s4 = Addr::parse(kLbSrc4), s6 = Addr::parse(kLbSrc6);
  std::memcpy(&g.src_v4, s4.b.data(), 4);
  std::memcpy(g.src_v6, s6.b.data(), 16);
  std::memcpy(g.lb_mac, kLbMac.data(), 6);
  return g;
}

struct VipSpec {
  const char* addr;
  uint16_t port;
  uint8_t proto;
  sl_mode mode;
  std::initializer_list<uint32_t> members;
  std::initializer_list<uint32_t> weights;
};

// Works on anything with the Dataplane write calls.
template <class Tables>
bool fill(Tables& t, std::string* why = nullptr) {
  auto ok = [&](const auto& r) {
    if (!r.ok() && why) *why = r.error().message();
    return r.ok();
  };
  for (uint32_t i = 0; i < kBackends; ++i)
    if (!ok(t.backend_put(i, backend(i)))) return false;
  const VipSpec vips[] = {
      {kVipA, 80, 6, SL_MODE_DSR, {0, 1, 2}, {1, 2, 1}},
      {kVipB, 80, 6, SL_MODE_IPIP, {3}, {1}},
      {kVipC, 80, 6, SL_MODE_IPIP, {4}, {1}},
      {kVipD, 53, 17, SL_MODE_IPIP, {5}, {1}},
      {kVipE, 80, 6, SL_MODE_DSR, {6}, {1}},
      {kVipF, 80, 6, SL_MODE_DSR, {}, {}},
  };
  uint32_t id = 0;
  for (const VipSpec& v : vips) {
    sl_vip_meta meta{};
    meta.vip_id = id;
    meta.ring_id = id * 2;
    meta.mode = uint8_t(v.mode);
    if (!ok(t.ring_put(meta.ring_id, *ring(v.members, v.weights)))) return false;
    if (!ok(t.vip_put(vip_key(v.addr, v.port, v.proto), meta))) return false;
    ++id;
  }
  return ok(t.global_set(global(SL_ROLE_ACTIVE)));
}

// DPDK tables for `readers` workers (RCU reader ids) holding fill()'s
// entries; null, and `why`, when either step fails.
inline std::unique_ptr<dpdk::Tables> filled_tables(unsigned readers, std::string* why) {
  auto t = dpdk::Tables::create({readers, SOCKET_ID_ANY});
  if (!t.ok()) {
    *why = t.error().message();
    return nullptr;
  }
  return fill(**t, why) ? std::move(*t) : nullptr;
}
}  // namespace lb

}  // namespace sluice::test
