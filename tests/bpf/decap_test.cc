// SPDX-License-Identifier: Apache-2.0
// The backend-side decapsulator (xdp/decap.bpf.c) on crafted frames, and a
// round trip through sluice's own encapsulation.
#include <bpf/bpf.h>
#include <gtest/gtest.h>
#include <linux/bpf.h>

#include <memory>

#include "decap.skel.h"
#include "frame_checks.h"
#include "xdp/decap.h"

namespace sluice::test {
namespace {

// This "host" is all the tunnel backends of test_lb at once.
const Addr local4 = Addr::parse("198.18.0.21"), local6 = Addr::parse("2001:2::41"),
           local6b = Addr::parse("2001:2::31");
const Addr remote4 = Addr::parse("198.18.0.99"), lb4 = Addr::parse(kLbSrc4),
           lb6 = Addr::parse(kLbSrc6), client4 = Addr::parse(kClient4),
           client6 = Addr::parse(kClient6), vip4 = Addr::parse(kVipB), vip6 = Addr::parse(kVipC);

struct DecapDeleter {
  void operator()(decap_bpf* s) const { decap_bpf__destroy(s); }
};

class Decap : public ::testing::Test {
 protected:
  void SetUp() override {
    skel_.reset(decap_bpf__open_and_load());
    ASSERT_TRUE(skel_) << "loading decap.bpf.o failed (errno " << errno
                       << "): the BPF tests need root (CAP_BPF, CAP_NET_ADMIN)";
    for (const Addr* a : {&local4, &local6, &local6b}) {
      sl_decap_addr key{};
      a->to_words(key.addr);
      uint8_t one = 1;
      ASSERT_EQ(0, bpf_map_update_elem(bpf_map__fd(skel_->maps.decap_addrs), &key, &one, BPF_ANY));
    }
  }
  int fd() const { return bpf_program__fd(skel_->progs.sluice_decap); }
  uint64_t decapsulated() const {
    std::vector<sl_decap_counters> per(static_cast<size_t>(libbpf_num_possible_cpus()));
    uint32_t zero = 0;
    EXPECT_EQ(0, bpf_map_lookup_elem(bpf_map__fd(skel_->maps.decap_stats), &zero, per.data()));
    uint64_t n = 0;
    for (const auto& c : per) n += c.decapsulated;
    return n;
  }
  std::unique_ptr<decap_bpf, DecapDeleter> skel_;
};

struct DecapCase {
  const char* name;
  Bytes (*input)();
  Bytes (*expected)();  // nullptr: the input, untouched
};

Bytes inner4() { return ip_l4(client4, vip4, {6, 40000, 80, 0x02}); }
Bytes inner6() { return ip_l4(client6, vip6, {6, 40000, 80, 0x02}); }

const DecapCase kCases[] = {
    {"ipip_to_us", [] { return ether(0x0800, ip_packet(lb4, local4, 4, inner4())); },
     [] { return ether(0x0800, inner4()); }},
    {"ip6ip6_to_us", [] { return ether(0x86dd, ip_packet(lb6, local6, 41, inner6())); },
     [] { return ether(0x86dd, inner6()); }},
    {"4in6_to_us", [] { return ether(0x86dd, ip_packet(lb6, local6, 4, inner4())); },
     [] { return ether(0x0800, inner4()); }},
    {"ipip_vlan_to_us",
     [] { return ether(0x0800, ip_packet(lb4, local4, 4, inner4()), kLbMac, kClientMac, 5); },
     [] { return ether(0x0800, inner4(), kLbMac, kClientMac, 5); }},
    {"ipip_to_another_host", [] { return ether(0x0800, ip_packet(lb4, remote4, 4, inner4())); },
     nullptr},
    {"ipip_fragment", [] { return ether(0x0800, ip_packet(lb4, local4, 4, inner4(), 0x2000)); },
     nullptr},
    {"plain_tcp", [] { return ether(0x0800, inner4()); }, nullptr},
    {"arp", [] { return arp_request(); }, nullptr},
};

TEST_F(Decap, Table) {
  for (const DecapCase& c : kCases) {
    SCOPED_TRACE(c.name);
    Bytes in = c.input();
    uint64_t before = decapsulated();
    ProgRun r = prog_run(fd(), in);
    ASSERT_EQ(r.err, 0) << "BPF_PROG_TEST_RUN: " << strerror(r.err);
    EXPECT_EQ(r.action, XDP_PASS);
    EXPECT_EQ(r.out, c.expected ? c.expected() : in);
    EXPECT_EQ(decapsulated() - before, c.expected ? 1u : 0u);
  }
}

// What sluice encapsulates, the backend's decap turns back into the
// client's packet, addressed to the backend's MAC.
TEST_F(Decap, RoundTripThroughSluice) {
  TestLb& lb = test_lb();
  ASSERT_TRUE(lb.dp) << lb.error;
  struct Trip {
    Addr client, vip;
    uint16_t dport;
    uint8_t proto;
    uint16_t ethertype;
  };
  const Trip trips[] = {
      {client4, vip4, 80, 6, 0x0800},                            // ipip
      {client6, vip6, 80, 6, 0x86dd},                            // ip6ip6
      {client4, Addr::parse(kVipD), 53, 17, 0x0800},             // 4in6
  };
  uint16_t sport = 44000;
  for (const Trip& t : trips) {
    Bytes l3 = ip_l4(t.client, t.vip, {t.proto, sport++, t.dport, 0x02});
    ProgRun enc = prog_run(lb.dp->prog_fd(), ether(t.ethertype, l3));
    ASSERT_EQ(enc.action, XDP_TX);
    int be = backend_of_frame(enc.out);
    ASSERT_GE(be, 0);
    ProgRun dec = prog_run(fd(), enc.out);
    ASSERT_EQ(dec.action, XDP_PASS);
    EXPECT_EQ(dec.out, ether(t.ethertype, l3, backend_mac(uint32_t(be)), kLbMac));
  }
}

}  // namespace
}  // namespace sluice::test
