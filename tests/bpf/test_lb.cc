// SPDX-License-Identifier: Apache-2.0
#include "test_lb.h"

#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <initializer_list>
#include <vector>

#include "core/wrr.h"

namespace sluice::test {
namespace {

const char* const kBackendAddrs[kBackends] = {
    "198.18.0.11", "198.18.0.12", "198.18.0.13", "198.18.0.21",
    "2001:2::31",  "2001:2::41",  "2001:2::51",
};
// The VIP (index in tables_fill's list) each backend serves.
const uint32_t kBackendVip[kBackends] = {0, 0, 0, 1, 2, 3, 4};

sl_vip_key vip_key(const char* addr, uint16_t port, uint8_t proto) {
  sl_vip_key k{};
  Addr a = Addr::parse(addr);
  a.to_words(k.addr);
  k.port = htons(port);
  k.proto = proto;
  k.family = a.v6 ? SL_AF_INET6 : SL_AF_INET;
  return k;
}

// The VIP's live ring holds `members` in smooth-WRR order of `weights`,
// built by the same core/ function the controller uses.
Result<void> ring_set(XdpDataplane& dp, uint32_t ring_id, std::initializer_list<uint32_t> members,
                      std::initializer_list<uint32_t> weights) {
  auto ring = std::make_unique<sl_ring>();
  std::memset(ring.get(), 0, sizeof(*ring));
  std::vector<uint32_t> m(members), w(weights);
  if (!m.empty()) {
    ring->len = sl_wrr_build(w.data(), w.size(), ring->slots, SL_RING_SLOTS);
    for (uint32_t i = 0; i < ring->len; ++i) ring->slots[i] = uint16_t(m[ring->slots[i]]);
  }
  return dp.ring_put(ring_id, *ring);
}

struct VipSpec {
  const char* addr;
  uint16_t port;
  uint8_t proto;
  sl_mode mode;
  std::initializer_list<uint32_t> members;
  std::initializer_list<uint32_t> weights;
};

}  // namespace

Result<void> test_lb_fill(XdpDataplane& dp) {
  for (uint32_t i = 0; i < kBackends; ++i) {
    sl_backend be{};
    Addr a = backend_addr(i);
    a.to_words(be.addr);
    Mac mac = backend_mac(i);
    std::memcpy(be.mac, mac.data(), 6);
    be.family = a.v6 ? SL_AF_INET6 : SL_AF_INET;
    be.flags = SL_BE_F_LIVE;
    be.gen = 1;
    be.vip_id = kBackendVip[i];
    if (auto r = dp.backend_put(i, be); !r.ok()) return r;
  }
  const VipSpec vips[] = {
      {kVipA, 80, 6, SL_MODE_DSR, {kBeA1, kBeA2, kBeA3}, {1, 2, 1}},
      {kVipB, 80, 6, SL_MODE_IPIP, {kBeIpip4}, {1}},
      {kVipC, 80, 6, SL_MODE_IPIP, {kBeIp6ip6}, {1}},
      {kVipD, 53, 17, SL_MODE_IPIP, {kBe4in6}, {1}},
      {kVipE, 80, 6, SL_MODE_DSR, {kBeDsr6}, {1}},
      {kVipF, 80, 6, SL_MODE_DSR, {}, {}},
  };
  uint32_t id = 0;
  for (const VipSpec& v : vips) {
    sl_vip_meta meta{};
    meta.vip_id = id;
    meta.ring_id = id * 2;
    meta.mode = uint8_t(v.mode);
    if (auto r = ring_set(dp, meta.ring_id, v.members, v.weights); !r.ok()) return r;
    if (auto r = dp.vip_put(vip_key(v.addr, v.port, v.proto), meta); !r.ok()) return r;
    ++id;
  }
  return test_lb_set_role(dp, SL_ROLE_ACTIVE);
}

namespace {

TestLb load() {
  TestLb lb;
  XdpOptions o;
  o.attach = false;
  o.pin = false;
  o.conn_table_size = 1 << 16;  // small: the tests hold a few hundred flows
  auto dp = XdpDataplane::open(o);
  if (!dp.ok()) {
    lb.error = "loading sluice.bpf.o failed: " + dp.error().message() +
               (geteuid() != 0 ? " -- the BPF tests need root (CAP_BPF, CAP_NET_ADMIN)" : "");
    return lb;
  }
  if (auto r = test_lb_fill(**dp); !r.ok()) {
    lb.error = "programming the test tables failed: " + r.error().message();
    return lb;
  }
  lb.dp = std::move(*dp);
  return lb;
}

}  // namespace

Mac backend_mac(uint32_t index) { return {0x02, 0, 0, 0, 0, uint8_t(0x10 + index)}; }
Addr backend_addr(uint32_t index) { return Addr::parse(kBackendAddrs[index]); }

int backend_of_frame(const Bytes& out) {
  if (out.size() < 6) return -1;
  for (uint32_t i = 0; i < kBackends; ++i) {
    Mac m = backend_mac(i);
    if (std::memcmp(out.data(), m.data(), 6) == 0) return int(i);
  }
  return -1;
}

ProgRun prog_run(int prog_fd, const Bytes& in) {
  ProgRun r;
  r.out.resize(in.size() + 256);  // room for any encapsulation
  LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = in.data(), .data_out = r.out.data(),
              .data_size_in = uint32_t(in.size()), .data_size_out = uint32_t(r.out.size()),
              .repeat = 1);
  if (bpf_prog_test_run_opts(prog_fd, &o) != 0) {
    r.err = errno;
    r.out.clear();
    return r;
  }
  r.action = int(o.retval);
  r.out.resize(o.data_size_out);
  return r;
}

TestLb& test_lb() {
  static TestLb lb = load();
  return lb;
}

Result<void> test_lb_set_role(XdpDataplane& dp, sl_role role) {
  sl_global g{};
  g.role = role;
  Addr s4 = Addr::parse(kLbSrc4), s6 = Addr::parse(kLbSrc6);
  std::memcpy(&g.src_v4, s4.b.data(), 4);
  std::memcpy(g.src_v6, s6.b.data(), 16);
  std::memcpy(g.lb_mac, kLbMac.data(), 6);
  return dp.global_set(g);
}

}  // namespace sluice::test
