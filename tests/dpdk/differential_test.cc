// SPDX-License-Identifier: Apache-2.0
// The promise of issue 8: the XDP program and the DPDK worker give the same
// verdict, the same reason and the same bytes for the same packet. One
// sequence — golden-style cases, then thousands of seeded random flows with
// malformed frames among them — goes packet by packet through the real
// sluice.bpf.o (BPF_PROG_TEST_RUN; the reason from the reason_stats delta)
// and, in bursts of 32, through a Worker over dpdk::Tables holding the same
// VIPs, backends, rings and global. Both see a 1500-byte MTU: the XDP run
// takes it from a veth in the test's own namespace (tests/bpf/test_netns.h).
// Root only (it loads the program); without root it fails.
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <gtest/gtest.h>
#include <linux/bpf.h>
#include <net/if.h>
#include <unistd.h>

#include <random>

#include "dataplane/dpdk/worker.h"
#include "tests/bpf/reason_probe.h"
#include "tests/bpf/test_lb.h"
#include "tests/bpf/test_netns.h"
#include "tests/common/acl_entry.h"
#include "tests/common/frame_spec.h"
#include "tests/common/malformed_frames.h"
#include "tests/dpdk/dpdk_test_env.h"

namespace sluice::test {
namespace {

using dpdk::kBurst;

const Addr client4 = Addr::parse(lb::kClient4), client6 = Addr::parse(lb::kClient6);
const Addr vips4[] = {Addr::parse(lb::kVipA), Addr::parse(lb::kVipB), Addr::parse(lb::kVipD),
                      Addr::parse(lb::kVipF), Addr::parse("198.18.0.200")};
const Addr vips6[] = {Addr::parse(lb::kVipC), Addr::parse(lb::kVipE), Addr::parse("2001:2::200")};

struct Case {
  std::string name;
  Bytes in;
};

struct Result1 {
  sl_verdict verdict;
  sl_reason reason;
  Bytes out;  // empty for a drop
};

sl_verdict verdict_of_action(int a) {
  return a == XDP_TX ? SL_VERDICT_TX : a == XDP_DROP ? SL_VERDICT_DROP : SL_VERDICT_PASS;
}

// The golden tables' kinds of packet (tests/bpf/sluice_golden_test.cc),
// each a distinct flow, with their priming packets in front.
std::vector<Case> golden_cases() {
  auto tcp = [](uint16_t sport, uint8_t flags = SL_TCP_SYN, uint16_t dport = 80) {
    return L4{6, sport, dport, flags};
  };
  const Addr& A = vips4[0];
  const Addr& B = vips4[1];
  const Addr& D = vips4[2];
  const Addr& F = vips4[3];
  const Addr& C = vips6[0];
  const Addr& E = vips6[1];
  auto quoted = [](const Addr& vip, const Addr& client, uint16_t port) {
    Bytes q = ip_l4(vip, client, {6, 80, port, 0x12, 0});
    q.resize(vip.v6 ? 48 : 28);
    return q;
  };
  std::vector<Case> c = {
      {"dsr_new_syn", frame(client4, A, tcp(43001))},
      {"prime_hit", frame(client4, A, tcp(43002))},
      {"dsr_hit", frame(client4, A, tcp(43002, SL_TCP_ACK))},
      {"midflow", frame(client4, A, tcp(43003, SL_TCP_ACK))},
      {"dsr_vlan", ether(0x0800, ip_l4(client4, A, tcp(43004)), kLbMac, kClientMac, 7)},
      {"dsr6_new", frame(client6, E, tcp(43005))},
      {"ipip_new", frame(client4, B, tcp(43006))},
      {"ip6ip6_new", frame(client6, C, tcp(43007))},
      {"udp_4in6_new", frame(client4, D, {17, 43008, 53, 0})},
      {"prime_icmp", frame(client4, A, tcp(43009))},
      {"icmp_frag_needed_follows_flow",
       ether(0x0800, icmp_too_big(Addr::parse("198.19.0.1"), A, quoted(A, client4, 43009), 1400))},
      {"prime_icmp6", frame(client6, E, tcp(43010))},
      {"icmp6_too_big_follows_flow",
       ether(0x86dd, icmp_too_big(Addr::parse("2001:2:ffff::1"), E, quoted(E, client6, 43010), 1280))},
      {"icmp_about_unknown_flow",
       ether(0x0800, icmp_too_big(Addr::parse("198.19.0.1"), A, quoted(A, client4, 43011), 1400))},
      {"arp", arp_request()},
      {"not_a_vip", frame(client4, vips4[4], tcp(43012))},
      {"vip_other_port", frame(client4, A, tcp(43013, SL_TCP_SYN, 81))},
      {"vip_other_proto", frame(client4, A, {17, 43014, 80, 0})},
      {"ipv4_first_fragment",
       ether(0x0800, ip_packet(client4, A, 6, l4_segment(client4, A, tcp(43015)), 0x2000))},
      {"ipv4_later_fragment", ether(0x0800, ip_packet(client4, A, 6, Bytes(24, 0xab), 0x0010))},
      {"vip_without_backend", frame(client4, F, tcp(43018))},
      {"syn_fin", frame(client4, A, tcp(43019, 0x03))},
      {"syn_rst", frame(client4, A, tcp(43020, 0x06))},
      {"source_is_the_vip", frame(A, A, tcp(43021))},
      {"source_broadcast", frame(Addr::parse("255.255.255.255"), A, tcp(43022))},
      {"source6_multicast", frame(Addr::parse("ff02::1"), E, tcp(43023))},
  };
  Bytes t = frame(client4, A, tcp(43017));
  t.resize(t.size() - 10);
  c.push_back({"truncated_ipv4", t});
  for (auto& m : l4_length_frames(client4, A, D, client6, C, 43100, 53))
    c.push_back({m.name, m.bytes});
  // Too big once encapsulated (MTU 1500): DF set, DF clear, IPv6, and one
  // that fits exactly.
  auto sized = [](const Addr& src, const Addr& dst, uint8_t proto, uint16_t dport, size_t l3,
                  uint16_t sport, uint16_t frag) {
    FrameSpec f;
    f.src = src;
    f.dst = dst;
    f.frag_off = frag;
    size_t hdrs = (src.v6 ? 40 : 20) + (proto == 6 ? 20 : 8);
    f.l4 = {proto, sport, dport, uint8_t(proto == 6 ? SL_TCP_SYN : 0), l3 - hdrs};
    return frame(f);
  };
  c.push_back({"too_big_df", sized(client4, B, 6, 80, 1490, 43200, 0x4000)});
  c.push_back({"too_big_no_df", sized(client4, B, 6, 80, 1490, 43201, 0)});
  c.push_back({"fits_exactly", sized(client4, B, 6, 80, 1480, 43202, 0x4000)});
  c.push_back({"too_big_v6", sized(client6, C, 6, 80, 1480, 43203, 0)});
  c.push_back({"too_big_4in6", sized(client4, D, 17, 53, 1470, 43204, 0x4000)});
  return c;
}

// Seeded random traffic: flows that repeat (hits), new and mid-flow TCP,
// UDP, VLAN tags, IPv4 options, IPv6 extension headers, fragments, refused
// sources and flags, sizes around the MTU, ICMP errors about flows seen,
// and malformed frames (truncated, a header byte changed).
std::vector<Case> random_cases(uint32_t seed, size_t n) {
  std::mt19937 rng(seed);
  auto pick = [&](size_t k) { return size_t(rng() % k); };
  std::vector<FrameSpec> seen;
  std::vector<Case> out;
  const uint8_t flags[] = {SL_TCP_SYN, SL_TCP_ACK, SL_TCP_ACK | 0x08, SL_TCP_SYN | SL_TCP_ACK,
                           SL_TCP_FIN | SL_TCP_ACK, SL_TCP_RST, SL_TCP_SYN | SL_TCP_FIN};
  while (out.size() < n) {
    FrameSpec f;
    if (!seen.empty() && pick(3) == 0) {
      f = seen[pick(seen.size())];  // the same flow again
      if (f.l4.proto == 6) f.l4.tcp_flags = pick(2) ? SL_TCP_ACK : SL_TCP_SYN;
    } else {
      bool v6 = pick(3) == 0;
      f.dst = v6 ? vips6[pick(3)] : vips4[pick(5)];
      char src[64];
      if (v6)
        snprintf(src, sizeof(src), "2001:2:ffff::%x", unsigned(1 + pick(200)));
      else
        snprintf(src, sizeof(src), "198.19.%u.%u", unsigned(pick(4)), unsigned(1 + pick(250)));
      f.src = Addr::parse(src);
      if (pick(50) == 0) f.src = f.dst;  // refused: from the VIP itself
      bool udp = pick(4) == 0;
      f.l4.proto = udp ? 17 : 6;
      f.l4.sport = uint16_t(1024 + pick(60000));
      f.l4.dport = udp ? (pick(5) ? 53 : 80) : (pick(10) ? 80 : 81);
      f.l4.tcp_flags = flags[pick(sizeof(flags))];
      f.l4.payload = pick(10) == 0 ? 1380 + pick(130) : pick(200);
      f.frag_off = pick(4) ? 0x4000 : 0;
      if (!v6 && pick(30) == 0) f.frag_off = uint16_t(pick(2) ? 0x2000 : 0x0008);
      if (!v6 && pick(10) == 0) f.ip_options = 4 * (1 + pick(3));
      if (v6 && pick(10) == 0) f.ext = {{SL_IPPROTO_DSTOPTS, 8}};
      if (pick(10) == 0) f.vlan = int(1 + pick(100));
      seen.push_back(f);
    }
    Bytes b = frame(f);
    std::string name = "random";
    int kind = int(pick(40));
    if (kind == 0) {  // an ICMP error about this flow, from a router
      L4 reply = {f.l4.proto, f.l4.dport, f.l4.sport, SL_TCP_ACK, 0};
      Bytes q = ip_l4(f.dst, f.src, reply);
      q.resize((f.src.v6 ? 40 : 20) + 8);
      Addr router = Addr::parse(f.src.v6 ? "2001:2:ffff::1" : "198.19.0.1");
      b = ether(f.src.v6 ? 0x86dd : 0x0800, icmp_too_big(router, f.dst, q, 1400));
      name = "random_icmp";
    } else if (kind == 1) {
      // BPF_PROG_TEST_RUN refuses a frame shorter than Ethernet (no driver
      // delivers one); worker_test covers those on the DPDK side.
      b.resize(14 + pick(b.size() - 14));
      name = "random_truncated";
    } else if (kind == 2 && b.size() > 14) {
      b[14 + pick(std::min<size_t>(b.size() - 14, 60))] ^= uint8_t(1 + pick(255));
      name = "random_header_byte";
    }
    out.push_back({name + "_" + std::to_string(out.size()), b});
  }
  return out;
}

class Differential : public ::testing::Test {
 protected:
  void SetUp() override {
    SL_REQUIRE_EAL();
    ASSERT_TRUE(test_lb().dp) << test_lb().error;
    netns_ = std::make_unique<TestNetns>();
    ASSERT_TRUE(netns_->error().empty()) << netns_->error();
    ASSERT_EQ(0, std::system("ip link set dev sl0 mtu 1500"));
    ifindex_ = if_nametoindex(TestNetns::kDev);
    ASSERT_NE(ifindex_, 0u);

    std::string why;
    tables_ = lb::filled_tables(1, &why);
    ASSERT_TRUE(tables_) << why;
    // The two table sets hold the same records.
    XdpDataplane& dp = *test_lb().dp;
    for (uint32_t i = 0; i < lb::kBackends; i++) {
      auto x = dp.backend_get(i);
      ASSERT_TRUE(x.ok());
      sl_backend y = tables_->backend_get(i);
      ASSERT_EQ(0, std::memcmp(&*x, &y, sizeof(y))) << "backend " << i;
    }
    auto xl = dp.vip_list();
    ASSERT_TRUE(xl.ok());
    ASSERT_EQ(xl->size(), tables_->vip_list().size());
    for (auto& [k, m] : *xl) {
      auto y = tables_->vip_get(k);
      ASSERT_TRUE(y.ok() && y->has_value());
      ASSERT_EQ(0, std::memcmp(&m, &**y, sizeof(m)));
    }
    dpdk::WorkerConfig wc;
    wc.id = 0;
    wc.conn_table_size = 1 << 16;  // as test_lb's program: no eviction here
    wc.mtu = 1500;
    auto w = dpdk::Worker::create(*tables_, wc);
    ASSERT_TRUE(w.ok()) << w.error().message();
    worker_ = std::move(*w);
  }
  void TearDown() override {
    worker_.reset();
    tables_.reset();
    netns_.reset();
  }

  Result1 xdp(const Bytes& in) {
    ReasonProbe probe(*test_lb().dp);
    Bytes out(in.size() + 256);
    xdp_md ctx{};
    ctx.data_end = uint32_t(in.size());
    ctx.ingress_ifindex = ifindex_;
    LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = in.data(), .data_out = out.data(),
                .data_size_in = uint32_t(in.size()), .data_size_out = uint32_t(out.size()),
                .ctx_in = &ctx, .ctx_size_in = sizeof(ctx), .repeat = 1);
    int rc = bpf_prog_test_run_opts(test_lb().dp->prog_fd(), &o);
    EXPECT_EQ(rc, 0) << "BPF_PROG_TEST_RUN: " << strerror(errno);
    out.resize(o.data_size_out);
    sl_verdict v = verdict_of_action(int(o.retval));
    if (v == SL_VERDICT_DROP) out.clear();
    return {v, probe.moved(), out};
  }

  std::vector<Result1> dpdk_burst(const std::vector<Case>& cases, size_t at, uint16_t n) {
    rte_mbuf* m[kBurst];
    for (uint16_t i = 0; i < n; i++) {
      m[i] = mbuf_of(cases[at + i].in);
      EXPECT_NE(m[i], nullptr);
    }
    dpdk::BurstOut o;
    uint8_t r[kBurst];
    worker_->burst(m, n, o, r);
    std::vector<Result1> res;
    uint16_t tx = 0, exc = 0;
    for (uint16_t i = 0; i < n; i++) {
      sl_reason reason = sl_reason(r[i]);
      sl_verdict v = sl_reason_verdict(reason);
      Bytes b;
      if (v == SL_VERDICT_TX) b = bytes_of(o.tx[tx++]);
      if (v == SL_VERDICT_PASS) b = bytes_of(o.exc[exc++]);
      res.push_back({v, reason, b});
    }
    for (uint16_t i = 0; i < o.n_tx; i++) rte_pktmbuf_free(o.tx[i]);
    for (uint16_t i = 0; i < o.n_exc; i++) rte_pktmbuf_free(o.exc[i]);
    return res;
  }

  // Both dataplanes, packet for packet; returns the mismatches.
  size_t compare(const std::vector<Case>& cases, std::array<size_t, SL_R_MAX>* hist) {
    size_t bad = 0;
    for (size_t at = 0; at < cases.size(); at += kBurst) {
      uint16_t n = uint16_t(std::min<size_t>(kBurst, cases.size() - at));
      std::vector<Result1> x;
      for (uint16_t i = 0; i < n; i++) x.push_back(xdp(cases[at + i].in));
      std::vector<Result1> d = dpdk_burst(cases, at, n);
      for (uint16_t i = 0; i < n; i++) {
        const Case& c = cases[at + i];
        if (x[i].reason < SL_R_MAX && hist) (*hist)[x[i].reason]++;
        bool same = x[i].verdict == d[i].verdict && x[i].reason == d[i].reason &&
                    x[i].out == d[i].out;
        if (!same && bad++ < 10)
          ADD_FAILURE() << c.name << ": xdp " << sl_verdict_names[x[i].verdict] << "/"
                        << (x[i].reason < SL_R_MAX ? sl_reason_names[x[i].reason] : "?")
                        << " (" << x[i].out.size() << " bytes), dpdk "
                        << sl_verdict_names[d[i].verdict] << "/" << sl_reason_names[d[i].reason]
                        << " (" << d[i].out.size() << " bytes)";
      }
    }
    return bad;
  }

  std::unique_ptr<TestNetns> netns_;
  uint32_t ifindex_ = 0;
  std::unique_ptr<dpdk::Tables> tables_;
  std::unique_ptr<dpdk::Worker> worker_;
};

TEST_F(Differential, GoldenCasesThenRandomFlowsAgreePacketForPacket) {
  std::array<size_t, SL_R_MAX> hist{};
  std::vector<Case> cases = golden_cases();
  size_t golden = cases.size();
  EXPECT_EQ(compare(cases, &hist), 0u) << "golden cases";
  for (uint32_t seed : {1u, 2u, 3u}) {
    cases = random_cases(seed, 3000);
    EXPECT_EQ(compare(cases, &hist), 0u) << "seed " << seed;
  }
  // Backends leave (reschedule) or fail with policy drop, in both tables,
  // and the same flows come again; then the node turns passive.
  XdpDataplane& dp = *test_lb().dp;
  sl_backend gone = lb::backend(1), down = lb::backend(2);
  gone.flags = 0;
  down.flags = SL_BE_F_DROP_FLOWS;
  for (auto [slot, be] : {std::pair{1u, gone}, std::pair{2u, down}}) {
    ASSERT_TRUE(dp.backend_put(slot, be).ok());
    ASSERT_TRUE(tables_->backend_put(slot, be).ok());
  }
  EXPECT_EQ(compare(random_cases(1, 3000), &hist), 0u) << "backends gone and down";
  ASSERT_TRUE(dp.global_set(lb::global(SL_ROLE_PASSIVE)).ok());
  ASSERT_TRUE(tables_->global_set(lb::global(SL_ROLE_PASSIVE)).ok());
  EXPECT_EQ(compare(random_cases(4, 500), &hist), 0u) << "passive";
  // Back as test_lb() left it, for any later test in this program.
  for (uint32_t slot : {1u, 2u}) ASSERT_TRUE(dp.backend_put(slot, lb::backend(slot)).ok());
  ASSERT_TRUE(dp.global_set(lb::global(SL_ROLE_ACTIVE)).ok());
  // The sequence covered what it claims to.
  for (sl_reason r : {SL_R_TX_RESCHEDULED, SL_R_DROP_BACKEND_DOWN, SL_R_PASS_PASSIVE, SL_R_PASS_NOT_IP, SL_R_PASS_MALFORMED, SL_R_PASS_FRAGMENT, SL_R_PASS_NOT_VIP,
                      SL_R_PASS_ICMP_NO_FLOW, SL_R_TX_HIT, SL_R_TX_NEW, SL_R_TX_MIDFLOW,
                      SL_R_TX_ICMP, SL_R_DROP_NO_BACKEND, SL_R_DROP_BAD_TCP_FLAGS,
                      SL_R_DROP_BAD_SOURCE, SL_R_DROP_TOO_BIG, SL_R_TX_ICMP_TOO_BIG})
    EXPECT_GT(hist[r], 0u) << "no packet with reason " << sl_reason_names[r];
  std::string h;
  for (int r = 0; r < SL_R_MAX; r++)
    if (hist[r]) h += std::string(sl_reason_names[r]) + "=" + std::to_string(hist[r]) + " ";
  RecordProperty("golden", std::to_string(golden));
  RecordProperty("reasons", h);
  std::printf("packets: %zu golden + 12500 random; reasons: %s\n", golden, h.c_str());
}

// The XDP program's schedule cursors back at zero, as a fresh worker's:
// they outlive a test (the program is loaded once per test program).
void xdp_cursors_zero(int prog_fd) {
  bpf_prog_info info{};
  uint32_t ids[64] = {};
  info.nr_map_ids = 64;
  info.map_ids = reinterpret_cast<uint64_t>(ids);
  uint32_t len = sizeof(info);
  ASSERT_EQ(0, bpf_obj_get_info_by_fd(prog_fd, &info, &len));
  for (uint32_t i = 0; i < std::min<uint32_t>(info.nr_map_ids, 64); i++) {
    int fd = bpf_map_get_fd_by_id(ids[i]);
    ASSERT_GE(fd, 0);
    bpf_map_info mi{};
    uint32_t mlen = sizeof(mi);
    bool cursors = bpf_obj_get_info_by_fd(fd, &mi, &mlen) == 0 && std::string(mi.name) == "cursors";
    if (cursors) {
      std::vector<uint64_t> zero(size_t(libbpf_num_possible_cpus()), 0);  // 8 bytes per CPU
      for (uint32_t k = 0; k < mi.max_entries; k++)
        EXPECT_EQ(0, bpf_map_update_elem(fd, &k, zero.data(), BPF_ANY));
    }
    close(fd);
    if (cursors) return;
  }
  FAIL() << "no cursors map";
}

// ACLs programmed into both (the same rules, the same VIP flags): global
// and per-VIP scopes, allow-only with its /0 default deny, nested
// prefixes, IPv4 and IPv6; then random flows (fresh seeds: the XDP
// program's connection table outlives the test above) through both, and
// the same hits per rule.
TEST_F(Differential, AclsAgreePacketForPacket) {
  XdpDataplane& dp = *test_lb().dp;
  xdp_cursors_zero(dp.prog_fd());
  const uint32_t sA = sl_acl_scope_of_vip(0), sE = sl_acl_scope_of_vip(4);
  const std::vector<AclEntry> rules = {
      acl_entry(SL_ACL_SCOPE_GLOBAL, "198.19.1.0", 24, SL_ACL_DENY, 100),
      acl_entry(SL_ACL_SCOPE_GLOBAL, "198.19.3.128", 25, SL_ACL_DENY, 101),
      acl_entry(sA, "0.0.0.0", 0, SL_ACL_DENY, 102),
      acl_entry(sA, "198.19.0.0", 23, SL_ACL_ALLOW, 103),
      acl_entry(sA, "198.19.0.128", 25, SL_ACL_DENY, 104),
      acl_entry(sA, "198.19.0.200", 32, SL_ACL_ALLOW, 105),
      acl_entry(SL_ACL_SCOPE_GLOBAL, "2001:2:ffff::", 120, SL_ACL_DENY, 106),
      acl_entry(sE, "2001:2:ffff::", 48, SL_ACL_ALLOW, 107),
      acl_entry(sE, "2001:2:ffff::80", 121, SL_ACL_DENY, 108),
      acl_entry(sE, "2001:2:ffff::c8", 128, SL_ACL_ALLOW, 109),
  };
  for (const AclEntry& e : rules) {
    ASSERT_TRUE(dp.acl_hits_reset(e.rule.rule_id).ok());
    auto x = dp.acl_put(e);
    ASSERT_TRUE(x.ok()) << x.error().message();
    ASSERT_TRUE(tables_->acl_put(e).ok());
  }
  // Every VIP looks at the global scope; A and E at their own too.
  auto xl = dp.vip_list();
  ASSERT_TRUE(xl.ok());
  const auto saved = *xl;
  for (auto [k, m] : saved) {
    m.flags |= SL_VIP_F_ACL_GLOBAL | (m.vip_id == 0 || m.vip_id == 4 ? SL_VIP_F_ACL : 0);
    ASSERT_TRUE(dp.vip_put(k, m).ok());
    ASSERT_TRUE(tables_->vip_put(k, m).ok());
  }
  std::array<size_t, SL_R_MAX> hist{};
  // One source under each rule, then random flows.
  std::vector<Case> named;
  uint16_t port = 44000;
  for (const char* src : {"198.19.1.9", "198.19.3.200", "198.19.2.9", "198.19.0.9", "198.19.0.130",
                          "198.19.0.200", "198.20.0.1"})
    named.push_back({std::string("acl_") + src, frame(Addr::parse(src), vips4[0],
                                                      {6, port++, 80, SL_TCP_SYN})});
  for (const char* src : {"198.19.1.9", "198.19.3.200"})
    named.push_back({std::string("acl_B_") + src, frame(Addr::parse(src), vips4[1],
                                                        {6, port++, 80, SL_TCP_SYN})});
  for (const char* src : {"2001:2:ffff::9", "2001:2:ffff::90", "2001:2:ffff::c8", "2001:2:fffe::9"})
    named.push_back({std::string("acl_") + src, frame(Addr::parse(src), vips6[1],
                                                      {6, port++, 80, SL_TCP_SYN})});
  named.push_back({"acl_C_global", frame(Addr::parse("2001:2:ffff::9"), vips6[0],
                                         {6, port++, 80, SL_TCP_SYN})});
  EXPECT_EQ(compare(named, &hist), 0u) << "one source per rule";
  for (uint32_t seed : {11u, 12u}) EXPECT_EQ(compare(random_cases(seed, 3000), &hist), 0u) << seed;
  auto xh = dp.acl_hits();
  ASSERT_TRUE(xh.ok());
  for (const AclEntry& e : rules) {
    uint32_t id = e.rule.rule_id;
    EXPECT_EQ((*xh)[id], worker_->acl_hits(id)) << "rule " << id;
    EXPECT_GT(worker_->acl_hits(id), 0u) << "rule " << id << " never matched";
  }
  EXPECT_GT(hist[SL_R_DROP_ACL], 0u);
  // Back as test_lb() left it.
  for (const AclEntry& e : rules) ASSERT_TRUE(dp.acl_del(e).ok());
  for (const auto& [k, m] : saved) ASSERT_TRUE(dp.vip_put(k, m).ok());
}

}  // namespace
}  // namespace sluice::test
