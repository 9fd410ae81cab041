// SPDX-License-Identifier: Apache-2.0
// The fast path at its limits: a full connection table (an LRU hash) and an
// encapsulation that would exceed the interface MTU.
#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <gtest/gtest.h>
#include <linux/bpf.h>
#include <net/if.h>
#include <sched.h>

#include <cstring>
#include <set>
#include <tuple>

#include "core/wire.h"
#include "frame_checks.h"
#include "reason_probe.h"
#include "test_netns.h"

namespace sluice::test {
namespace {

const Addr client4 = Addr::parse(kClient4), client6 = Addr::parse(kClient6);
const Addr vipA = Addr::parse(kVipA), vipB = Addr::parse(kVipB), vipC = Addr::parse(kVipC),
           vipD = Addr::parse(kVipD);

// Every packet on one CPU: LRU free lists are per CPU.
class CpuPin {
 public:
  CpuPin() {
    sched_getaffinity(0, sizeof(old_), &old_);
    cpu_set_t one;
    CPU_ZERO(&one);
    CPU_SET(sched_getcpu(), &one);
    sched_setaffinity(0, sizeof(one), &one);
  }
  ~CpuPin() { sched_setaffinity(0, sizeof(old_), &old_); }

 private:
  cpu_set_t old_;
};

using FlowId = std::tuple<uint16_t, uint32_t>;  // client port (host order), backend

class FullTable : public ::testing::Test {
 protected:
  static constexpr uint32_t kTable = 1024;

  void SetUp() override {
    XdpOptions o;
    o.attach = false;
    o.pin = false;
    o.conn_table_size = kTable;
    auto dp = XdpDataplane::open(o);
    ASSERT_TRUE(dp.ok()) << dp.error().message();
    dp_ = std::move(*dp);
    ASSERT_TRUE(test_lb_fill(*dp_).ok());
  }

  Bytes syn(uint16_t port) { return frame(client4, vipA, {SL_IPPROTO_TCP, port, 80, SL_TCP_SYN}); }

  std::set<FlowId> table() {
    std::set<FlowId> s;
    auto conns = dp_->conns(0);
    EXPECT_TRUE(conns.ok()) << conns.error().message();
    if (conns.ok())
      for (const ConnEntry& e : *conns) s.insert(FlowId(ntohs(e.key.sport), e.conn.backend));
    return s;
  }

  // Opens flows on ports 10000.. (SYN, then the client's ACK confirms
  // each) until the table is full and has evicted.
  void fill() {
    for (uint32_t i = 0; i < 4 * kTable; ++i) {
      ASSERT_EQ(prog_run(dp_->prog_fd(), syn(uint16_t(10000 + i))).action, XDP_TX);
      Bytes ack = frame(client4, vipA, {SL_IPPROTO_TCP, uint16_t(10000 + i), 80, SL_TCP_ACK});
      ASSERT_EQ(prog_run(dp_->prog_fd(), ack).action, XDP_TX);
    }
  }

  std::unique_ptr<XdpDataplane> dp_;
};

// An LRU hash update takes a free node before it looks at the key; in a
// full table that evicts flows. A retransmitted SYN (its record exists)
// must therefore not be an update: the table keeps every flow it held.
TEST_F(FullTable, RetransmittedSynEvictsNothing) {
  CpuPin pin;
  fill();
  std::set<FlowId> before = table();
  ASSERT_GE(before.size(), kTable / 2) << "the table should be (nearly) full";
  int retransmitted = 0;
  for (const auto& [port, backend] : before) {
    if (++retransmitted > 32) break;
    ReasonProbe probe(*dp_);
    ProgRun r = prog_run(dp_->prog_fd(), syn(port));
    EXPECT_EQ(r.action, XDP_TX);
    EXPECT_EQ(backend_of_frame(r.out), int(backend)) << "port " << port;
    EXPECT_EQ(probe.moved(), SL_R_TX_HIT) << "port " << port;
  }
  std::set<FlowId> after = table();
  EXPECT_EQ(after.size(), before.size()) << "flows evicted by retransmitted SYNs";
  EXPECT_TRUE(after == before);
}

// A flow whose backend was removed is scheduled again into its own record:
// no other flow loses its place for it.
TEST_F(FullTable, RescheduledFlowEvictsNothing) {
  CpuPin pin;
  fill();
  std::set<FlowId> before = table();
  ASSERT_FALSE(before.empty());
  auto [port, backend] = *before.begin();
  auto saved = dp_->backend_get(backend);
  ASSERT_TRUE(saved.ok());
  sl_backend gone = *saved;
  gone.gen += 1;  // the slot now holds another backend
  ASSERT_TRUE(dp_->backend_put(backend, gone).ok());
  ReasonProbe probe(*dp_);
  ProgRun r =
      prog_run(dp_->prog_fd(), frame(client4, vipA, {SL_IPPROTO_TCP, port, 80, SL_TCP_ACK}));
  EXPECT_EQ(r.action, XDP_TX);
  EXPECT_EQ(probe.moved(), SL_R_TX_RESCHEDULED);
  std::set<FlowId> after = table();
  EXPECT_EQ(after.size(), before.size()) << "flows evicted by a rescheduled one";
  size_t kept = 0;
  for (const FlowId& f : before) kept += after.count(f);
  EXPECT_GE(kept, before.size() - 1) << "only the rescheduled flow may change its backend";
}

// Encapsulation grows the frame by 20 / 40 bytes; past the interface MTU
// the driver would drop it without a trace. The program answers the client
// with ICMP frag-needed / packet-too-big instead (IPv4 without DF: dropped
// and counted, nothing may be said).
// BPF_PROG_TEST_RUN takes the MTU of the ingress device it is given: a
// veth of the test's own namespace, MTU 1500.
class Mtu : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(test_lb().dp) << test_lb().error;
    ASSERT_TRUE(netns_.error().empty()) << netns_.error();
    ASSERT_EQ(0, std::system("ip link set dev sl0 mtu 1500"));
    ifindex_ = if_nametoindex(TestNetns::kDev);
    ASSERT_NE(ifindex_, 0u);
  }

  // A frame whose IP packet is `l3` bytes long (TCP SYN with payload).
  static Bytes sized(const Addr& src, const Addr& dst, uint8_t proto, uint16_t dport, size_t l3,
                     uint16_t sport) {
    size_t hdrs = (src.v6 ? 40 : 20) + (proto == SL_IPPROTO_TCP ? 20 : 8);
    L4 l4 = {proto, sport, dport, uint8_t(proto == SL_IPPROTO_TCP ? SL_TCP_SYN : 0), l3 - hdrs};
    return frame(src, dst, l4);
  }

  ProgRun run(const Bytes& in) {
    ProgRun r;
    r.out.resize(in.size() + 256);
    xdp_md ctx{};
    ctx.data_end = uint32_t(in.size());
    ctx.ingress_ifindex = ifindex_;
    LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = in.data(), .data_out = r.out.data(),
                .data_size_in = uint32_t(in.size()), .data_size_out = uint32_t(r.out.size()),
                .ctx_in = &ctx, .ctx_size_in = sizeof(ctx), .repeat = 1);
    if (bpf_prog_test_run_opts(test_lb().dp->prog_fd(), &o) != 0) {
      r.err = errno;
      return r;
    }
    r.action = int(o.retval);
    r.out.resize(o.data_size_out);
    return r;
  }

  TestNetns netns_;
  uint32_t ifindex_ = 0;
};

// The answer, byte for byte: back to the sender's MAC, from the VIP to the
// client, the MTU that fits, valid checksums, the client's packet quoted.
void expect_too_big(const Bytes& in, const Bytes& out, const Addr& vip, const Addr& client,
                    uint32_t mtu) {
  size_t ip_len = client.v6 ? 40 : 20, quote = client.v6 ? 128 : 68;
  ASSERT_EQ(out.size(), 14 + ip_len + 8 + quote);
  EXPECT_TRUE(std::equal(in.begin() + 6, in.begin() + 12, out.begin())) << "to the sender";
  EXPECT_TRUE(std::equal(in.begin(), in.begin() + 6, out.begin() + 6)) << "from us";
  EXPECT_EQ(get16(out, 12), client.v6 ? 0x86dd : 0x0800);
  const uint8_t* ip = out.data() + 14;
  const uint8_t* icmp = ip + ip_len;
  uint32_t sum = 0;
  if (client.v6) {
    EXPECT_EQ(ip[0] >> 4, 6);
    EXPECT_EQ(get16(out, 18), 8 + quote) << "payload length";
    EXPECT_EQ(ip[6], 58) << "next header ICMPv6";
    EXPECT_EQ(0, std::memcmp(ip + 8, vip.b.data(), 16)) << "from the VIP";
    EXPECT_EQ(0, std::memcmp(ip + 24, client.b.data(), 16)) << "to the client";
    EXPECT_EQ(icmp[0], 2) << "packet too big";
    EXPECT_EQ(icmp[1], 0);
    EXPECT_EQ(uint32_t(get16(out, 14 + 40 + 4)) << 16 | get16(out, 14 + 40 + 6), mtu);
    sum = csum_add(0, ip + 8, 32);
    uint8_t tail[8] = {0, 0, 0, uint8_t(8 + quote), 0, 0, 0, 58};
    sum = csum_add(sum, tail, 8);
  } else {
    EXPECT_EQ(ip[0], 0x45);
    EXPECT_EQ(get16(out, 16), 20 + 8 + quote) << "total length";
    EXPECT_EQ(ip[9], 1) << "protocol ICMP";
    EXPECT_EQ(csum_fold(csum_add(0, ip, 20)), 0) << "IPv4 header checksum";
    EXPECT_EQ(0, std::memcmp(ip + 12, vip.b.data(), 4)) << "from the VIP";
    EXPECT_EQ(0, std::memcmp(ip + 16, client.b.data(), 4)) << "to the client";
    EXPECT_EQ(icmp[0], 3) << "destination unreachable";
    EXPECT_EQ(icmp[1], 4) << "fragmentation needed";
    EXPECT_EQ(get16(out, 14 + 20 + 4), 0);
    EXPECT_EQ(get16(out, 14 + 20 + 6), mtu) << "next-hop MTU";
  }
  EXPECT_EQ(csum_fold(csum_add(sum, icmp, 8 + quote)), 0) << "ICMP checksum";
  EXPECT_TRUE(std::equal(in.begin() + 14, in.begin() + 14 + long(quote), icmp + 8))
      << "the client's packet quoted";
}

TEST_F(Mtu, EncapsulationAboveTheMtuIsAnsweredWithIcmp) {
  struct Case {
    const char* name;
    Addr src, vip;
    uint8_t proto;
    uint16_t port;
    size_t fits;  // the largest IP packet that fits once encapsulated
  } cases[] = {
      {"ipip", client4, vipB, SL_IPPROTO_TCP, 80, 1480},
      {"ip6ip6", client6, vipC, SL_IPPROTO_TCP, 80, 1460},
      {"4in6", client4, vipD, SL_IPPROTO_UDP, 53, 1460},
  };
  uint16_t sport = 44001;  // 43000.. belong to the weights test
  for (const Case& c : cases) {
    {
      ReasonProbe probe(*test_lb().dp);
      ProgRun r = run(sized(c.src, c.vip, c.proto, c.port, c.fits, sport++));
      ASSERT_EQ(r.err, 0) << strerror(r.err);
      EXPECT_EQ(r.action, XDP_TX) << c.name << " at the MTU";
      EXPECT_EQ(probe.moved(), SL_R_TX_NEW) << c.name;
    }
    {
      ReasonProbe probe(*test_lb().dp);
      Bytes in = sized(c.src, c.vip, c.proto, c.port, c.fits + 1, sport++);
      ProgRun r = run(in);
      ASSERT_EQ(r.err, 0) << strerror(r.err);
      EXPECT_EQ(r.action, XDP_TX) << c.name << " one byte over";
      EXPECT_EQ(probe.moved(), SL_R_TX_ICMP_TOO_BIG) << c.name;
      SCOPED_TRACE(c.name);
      expect_too_big(in, r.out, c.vip, c.src, uint32_t(c.fits));
    }
  }
}

// IPv4 without DF asks to be fragmented on the way, which XDP cannot do,
// and must not be answered with frag-needed: dropped and counted.
TEST_F(Mtu, Ipv4WithoutDfAboveTheMtuIsDroppedAndCounted) {
  L4 l4 = {SL_IPPROTO_TCP, 44201, 80, SL_TCP_SYN, 1481 - 40};
  Bytes in = ether(0x0800, ip_packet(client4, vipB, SL_IPPROTO_TCP,
                                     l4_segment(client4, vipB, l4), 0));
  ReasonProbe probe(*test_lb().dp);
  ProgRun r = run(in);
  ASSERT_EQ(r.err, 0) << strerror(r.err);
  EXPECT_EQ(r.action, XDP_DROP);
  EXPECT_EQ(probe.moved(), SL_R_DROP_TOO_BIG);
}

TEST_F(Mtu, DsrAtTheMtuIsForwarded) {
  ReasonProbe probe(*test_lb().dp);
  ProgRun r = run(sized(client4, vipA, SL_IPPROTO_TCP, 80, 1500, 44101));
  EXPECT_EQ(r.action, XDP_TX);
  EXPECT_EQ(probe.moved(), SL_R_TX_NEW);
}

}  // namespace
}  // namespace sluice::test
