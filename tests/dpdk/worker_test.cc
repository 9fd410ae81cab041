// SPDX-License-Identifier: Apache-2.0
// The DPDK worker on prebuilt mbufs, called directly (no port): verdicts,
// reasons and bytes, counters per worker, the connection table (full
// table, commands, paging), flow events, and RCU table swaps under a
// worker that keeps steering.
#include <gtest/gtest.h>
#include <pthread.h>
#include <sched.h>

#include <atomic>
#include <set>
#include <thread>

#include "dataplane/dpdk/worker.h"
#include "tests/common/malformed_frames.h"
#include "tests/dpdk/dpdk_test_env.h"

namespace sluice::test {
namespace {

using dpdk::BurstOut;
using dpdk::kBurst;
using dpdk::Tables;
using dpdk::Worker;
using dpdk::WorkerConfig;

const Addr client4 = Addr::parse(lb::kClient4), client6 = Addr::parse(lb::kClient6);
const Addr vipA = Addr::parse(lb::kVipA), vipB = Addr::parse(lb::kVipB),
           vipD = Addr::parse(lb::kVipD), vipF = Addr::parse(lb::kVipF);

L4 tcp(uint16_t sport, uint8_t flags = 0x02) { return {6, sport, 80, flags}; }

struct Fixture : ::testing::Test {
  void SetUp() override {
    SL_REQUIRE_EAL();
    std::string why;
    tables = lb::filled_tables(2, &why);
    ASSERT_TRUE(tables) << why;
    w0 = make_worker(0, 1 << 12);
    w1 = make_worker(1, 1 << 12);
    ASSERT_TRUE(w0 && w1);
  }
  void TearDown() override {
    w0.reset();
    w1.reset();
    tables.reset();
  }

  std::unique_ptr<Worker> make_worker(unsigned id, uint32_t size, uint32_t mtu = 1500) {
    WorkerConfig c;
    c.id = id;
    c.conn_table_size = size;
    c.mtu = mtu;
    auto w = Worker::create(*tables, c);
    EXPECT_TRUE(w.ok()) << w.error().message();
    return w.ok() ? std::move(*w) : nullptr;
  }

  struct Out {
    sl_reason reason;
    sl_verdict verdict;
    Bytes bytes;
  };
  // Steers `frames` as one burst; the outputs in input order. TX and PASS
  // mbufs are freed here after their bytes are taken.
  std::vector<Out> burst(Worker& w, const std::vector<Bytes>& frames) {
    std::vector<Out> out;
    for (size_t at = 0; at < frames.size(); at += kBurst) {
      rte_mbuf* m[kBurst];
      uint16_t n = uint16_t(std::min<size_t>(kBurst, frames.size() - at));
      for (uint16_t i = 0; i < n; i++) {
        m[i] = mbuf_of(frames[at + i]);
        EXPECT_NE(m[i], nullptr);
      }
      BurstOut o;
      uint8_t reasons[kBurst];
      w.burst(m, n, o, reasons);
      size_t tx = 0, exc = 0;
      for (uint16_t i = 0; i < n; i++) {
        sl_reason r = sl_reason(reasons[i]);
        sl_verdict v = sl_reason_verdict(r);
        Bytes b;
        if (v == SL_VERDICT_TX) b = bytes_of(o.tx[tx++]);
        if (v == SL_VERDICT_PASS) b = bytes_of(o.exc[exc++]);
        out.push_back({r, v, b});
      }
      EXPECT_EQ(tx, o.n_tx);
      EXPECT_EQ(exc, o.n_exc);
      for (uint16_t i = 0; i < o.n_tx; i++) rte_pktmbuf_free(o.tx[i]);
      for (uint16_t i = 0; i < o.n_exc; i++) rte_pktmbuf_free(o.exc[i]);
    }
    return out;
  }
  Out one(Worker& w, const Bytes& f) { return burst(w, {f})[0]; }

  std::unique_ptr<Tables> tables;
  std::unique_ptr<Worker> w0, w1;
};

int backend_of(const Bytes& out) {
  if (out.size() < 6) return -1;
  for (uint32_t i = 0; i < lb::kBackends; i++)
    if (std::memcmp(out.data(), lb::backend_mac(i).data(), 6) == 0) return int(i);
  return -1;
}

TEST_F(Fixture, NewFlowThenHitKeepsTheBackend) {
  Bytes syn = frame(client4, vipA, tcp(42001));
  Out a = one(*w0, syn);
  EXPECT_EQ(a.reason, SL_R_TX_NEW);
  int be = backend_of(a.bytes);
  EXPECT_TRUE(be >= 0 && be <= 2) << be;
  // DSR: only the MACs change.
  ASSERT_EQ(a.bytes.size(), syn.size());
  EXPECT_TRUE(std::equal(syn.begin() + 12, syn.end(), a.bytes.begin() + 12));
  EXPECT_EQ(0, std::memcmp(a.bytes.data() + 6, kLbMac.data(), 6));
  EXPECT_EQ(w0->conn_count(), 1u);
  for (int i = 0; i < 5; i++) {
    Out h = one(*w0, frame(client4, vipA, tcp(42001, 0x10)));
    EXPECT_EQ(h.reason, SL_R_TX_HIT);
    EXPECT_EQ(backend_of(h.bytes), be);
  }
  EXPECT_EQ(w0->conn_count(), 1u);
}

TEST_F(Fixture, MissesAreScheduledAndEncapsulated) {
  Out mid = one(*w0, frame(client4, vipA, tcp(42002, 0x10)));
  EXPECT_EQ(mid.reason, SL_R_TX_MIDFLOW);
  Bytes udp = frame(client4, vipD, {17, 42003, 53, 0});
  Out u = one(*w0, udp);
  EXPECT_EQ(u.reason, SL_R_TX_NEW);
  EXPECT_EQ(u.bytes.size(), udp.size() + 40) << "4in6 adds an IPv6 header";
  EXPECT_EQ(backend_of(u.bytes), 5);
  Bytes v4 = frame(client4, vipB, tcp(42004));
  Out b = one(*w0, v4);
  EXPECT_EQ(b.reason, SL_R_TX_NEW);
  EXPECT_EQ(b.bytes.size(), v4.size() + 20) << "IPIP adds an IPv4 header";
  EXPECT_EQ(w0->conn_count(), 3u);
}

TEST_F(Fixture, NonVipTrafficGoesToTheExceptionPathUntouched) {
  struct {
    Bytes in;
    sl_reason r;
  } cases[] = {
      {arp_request(), SL_R_PASS_NOT_IP},
      {frame(client4, Addr::parse("198.18.0.200"), tcp(42010)), SL_R_PASS_NOT_VIP},
      {frame(client4, vipA, {17, 42011, 80, 0}), SL_R_PASS_NOT_VIP},
      {ether(0x0800, ip_packet(client4, vipA, 6, l4_segment(client4, vipA, tcp(42012)), 0x2000)),
       SL_R_PASS_FRAGMENT},
  };
  for (auto& c : cases) {
    Out o = one(*w0, c.in);
    EXPECT_EQ(o.reason, c.r);
    EXPECT_EQ(o.verdict, SL_VERDICT_PASS);
    EXPECT_EQ(o.bytes, c.in);
  }
  EXPECT_EQ(w0->conn_count(), 0u);
}

// The worker keeps a burst's last VIP lookup: packets to one address that
// differ in port or protocol, or alternate between VIPs, each get their
// own answer, and a VIP removed between bursts is gone for the next one.
TEST_F(Fixture, VipLookupsFollowTheKeyAndTheTableInForce) {
  std::vector<Bytes> mixed = {
      frame(client4, vipA, tcp(42100)),
      frame(client4, vipA, tcp(42101)),
      frame(client4, vipA, {17, 42102, 80, 0}),  // udp: not a VIP
      frame(client4, vipA, {6, 42103, 81, 0x02}),  // port 81: not a VIP
      frame(client4, vipB, tcp(42104)),
      frame(client4, vipA, tcp(42105)),
      frame(client4, Addr::parse("198.18.0.200"), tcp(42106)),
      frame(client4, vipA, tcp(42107)),
  };
  const sl_reason want[] = {SL_R_TX_NEW,       SL_R_TX_NEW, SL_R_PASS_NOT_VIP, SL_R_PASS_NOT_VIP,
                            SL_R_TX_NEW,       SL_R_TX_NEW, SL_R_PASS_NOT_VIP, SL_R_TX_NEW};
  auto out = burst(*w0, mixed);
  ASSERT_EQ(out.size(), mixed.size());
  for (size_t i = 0; i < out.size(); i++) EXPECT_EQ(out[i].reason, want[i]) << i;

  ASSERT_TRUE(tables->vip_del(lb::vip_key(lb::kVipA, 80, 6)).ok());
  w0->quiescent();
  out = burst(*w0, {frame(client4, vipA, tcp(42100)), frame(client4, vipA, tcp(42108))});
  EXPECT_EQ(out[0].reason, SL_R_PASS_NOT_VIP) << "removed between bursts";
  EXPECT_EQ(out[1].reason, SL_R_PASS_NOT_VIP);
  EXPECT_EQ(out[1].bytes, frame(client4, vipA, tcp(42108)));
}

TEST_F(Fixture, PassiveNodePassesVipTraffic) {
  ASSERT_TRUE(tables->global_set(lb::global(SL_ROLE_PASSIVE)).ok());
  Bytes syn = frame(client4, vipA, tcp(42015));
  Out o = one(*w0, syn);
  EXPECT_EQ(o.reason, SL_R_PASS_PASSIVE);
  EXPECT_EQ(o.bytes, syn);
}

TEST_F(Fixture, MalformedFramesArePassedUntouched) {
  std::vector<Bytes> frames;
  Bytes trunc = frame(client4, vipA, tcp(42020));
  trunc.resize(trunc.size() - 10);
  frames.push_back(trunc);
  frames.push_back(Bytes(5, 0xaa));  // shorter than Ethernet
  for (auto& m : l4_length_frames(client4, vipA, vipD, client6, Addr::parse(lb::kVipC), 42030, 53))
    frames.push_back(m.bytes);
  auto outs = burst(*w0, frames);
  for (size_t i = 0; i < frames.size(); i++) {
    EXPECT_EQ(outs[i].reason, SL_R_PASS_MALFORMED) << i;
    EXPECT_EQ(outs[i].bytes, frames[i]) << i;
  }
  EXPECT_EQ(w0->conn_count(), 0u);
}

TEST_F(Fixture, DropsAreFreedAndCounted) {
  unsigned before = rte_mempool_avail_count(test_pool());
  auto outs = burst(*w0, {frame(client4, vipF, tcp(42040)), frame(client4, vipA, tcp(42041, 0x03))});
  EXPECT_EQ(outs[0].reason, SL_R_DROP_NO_BACKEND);
  EXPECT_EQ(outs[1].reason, SL_R_DROP_BAD_TCP_FLAGS);
  EXPECT_EQ(rte_mempool_avail_count(test_pool()), before) << "a dropped mbuf leaked";
  EXPECT_EQ(w0->reason_counters(SL_R_DROP_NO_BACKEND).packets, 1u);
  EXPECT_EQ(w0->vip_counters(5).packets, 1u) << "VIP F counts its dropped packet";
}

TEST_F(Fixture, CountersArePerWorkerAndSum) {
  Bytes syn = frame(client4, vipA, tcp(42050));
  Out a = one(*w0, syn);
  one(*w0, frame(client4, vipA, tcp(42050, 0x10)));
  one(*w1, frame(client4, vipA, tcp(42051)));
  one(*w1, arp_request());
  uint64_t l3 = syn.size() - 14;
  EXPECT_EQ(w0->vip_counters(0).packets, 2u);
  EXPECT_EQ(w0->vip_counters(0).new_conns, 1u);
  EXPECT_EQ(w0->vip_counters(0).bytes, 2 * (l3 + 14));
  EXPECT_EQ(w1->vip_counters(0).packets, 1u);
  EXPECT_EQ(w0->vip_counters(0).packets + w1->vip_counters(0).packets, 3u);
  EXPECT_EQ(w0->reason_counters(SL_R_TX_NEW).packets, 1u);
  EXPECT_EQ(w0->reason_counters(SL_R_TX_HIT).packets, 1u);
  EXPECT_EQ(w1->reason_counters(SL_R_PASS_NOT_IP).packets, 1u);
  EXPECT_EQ(w0->reason_counters(SL_R_PASS_NOT_IP).packets, 0u);
  int be = backend_of(a.bytes);
  ASSERT_GE(be, 0);
  EXPECT_EQ(w0->backend_counters(uint32_t(be)).packets, 2u);
  w0->counters_reset(CounterKind::vip, 0);
  w0->counters_reset(CounterKind::backend, uint32_t(be));
  EXPECT_EQ(w0->vip_counters(0).packets, 0u);
  EXPECT_EQ(w0->backend_counters(uint32_t(be)).packets, 0u);
  EXPECT_EQ(w1->vip_counters(0).packets, 1u) << "a reset touches one worker's id only";
}

// A retransmitted SYN in the same burst finds the record its first copy
// made (the re-lookup of a bulk miss): the same as two bursts.
TEST_F(Fixture, BurstEqualsOnePacketAtATime) {
  std::vector<Bytes> frames;
  for (uint16_t p = 0; p < 12; p++) {
    frames.push_back(frame(client4, vipA, tcp(uint16_t(42100 + p % 4), p < 4 ? 0x02 : 0x10)));
    frames.push_back(frame(client6, Addr::parse(lb::kVipE), tcp(uint16_t(42200 + p % 3))));
  }
  auto together = burst(*w0, frames);
  std::vector<Out> apart;
  for (auto& f : frames) apart.push_back(one(*w1, f));
  for (size_t i = 0; i < frames.size(); i++) {
    EXPECT_EQ(together[i].reason, apart[i].reason) << i;
    EXPECT_EQ(together[i].bytes, apart[i].bytes) << i;
  }
  EXPECT_EQ(w0->conn_count(), w1->conn_count());
  EXPECT_EQ(w0->conn_count(), 7u);
}

TEST_F(Fixture, FullTableEvictsAndNeverStalls) {
  w1.reset();  // its RCU reader id goes to a worker with a 64-entry table
  auto w = make_worker(1, 64);
  ASSERT_TRUE(w);
  std::vector<Bytes> frames;
  for (uint16_t p = 0; p < 2000; p++) frames.push_back(frame(client4, vipA, tcp(uint16_t(10000 + p))));
  auto outs = burst(*w, frames);
  for (size_t i = 0; i < outs.size(); i++) ASSERT_EQ(outs[i].reason, SL_R_TX_NEW) << i;
  EXPECT_LE(w->conn_count(), 64u);
  EXPECT_GE(w->conn_count(), 32u);
  auto st = w->stats();
  EXPECT_GE(st.conn_evicted, 2000u - 64u);
  // The newest flow is recorded and hits.
  Out h = one(*w, frame(client4, vipA, tcp(uint16_t(10000 + 1999), 0x10)));
  EXPECT_EQ(h.reason, SL_R_TX_HIT);
}

TEST_F(Fixture, MtuTooBigAnswersOrDrops) {
  // IPIP adds 20: an L3 packet of 1490 no longer fits 1500.
  FrameSpec f;
  f.src = client4;
  f.dst = vipB;
  f.frag_off = 0x4000;  // DF
  f.l4 = {6, 42300, 80, 0x02, 1490 - 40};
  Bytes df = frame(f);
  Out a = one(*w0, df);
  EXPECT_EQ(a.reason, SL_R_TX_ICMP_TOO_BIG);
  ASSERT_GE(a.bytes.size(), 14u);
  EXPECT_EQ(0, std::memcmp(a.bytes.data(), kClientMac.data(), 6)) << "back to the client";
  f.frag_off = 0;
  f.l4.sport = 42301;
  Out b = one(*w0, frame(f));
  EXPECT_EQ(b.reason, SL_R_DROP_TOO_BIG);
  f.l4.payload = 1480 - 40;  // fits exactly
  f.l4.sport = 42302;
  Out c = one(*w0, frame(f));
  EXPECT_EQ(c.reason, SL_R_TX_NEW);
}

TEST_F(Fixture, ConnPutDelThroughCommandsAndPaging) {
  sl_flow_key k{};
  k.src[0] = 0x050013c6;
  k.dst[0] = 0x640012c6;
  k.sport = htons(5555);
  k.dport = htons(80);
  k.proto = 6;
  k.family = SL_AF_INET;
  sl_conn c{};
  c.backend = 2;
  c.gen = 1;
  c.vip_id = 0;
  c.created_ns = 77;
  ASSERT_TRUE(w0->conn_put(k, c).ok());
  EXPECT_EQ(w0->conn_count(), 0u) << "queued, not applied";
  w0->poll_commands();
  EXPECT_EQ(w0->conn_count(), 1u);
  ConnCursor cur;
  auto page = w0->conns_page(cur, 10);
  ASSERT_EQ(page.size(), 1u);
  EXPECT_EQ(0, std::memcmp(&page[0].key, &k, sizeof(k)));
  EXPECT_EQ(page[0].conn.backend, 2u);
  EXPECT_EQ(page[0].conn.created_ns, 77u);
  EXPECT_TRUE(cur.done);
  // The imported flow is steered to its backend.
  Out h = one(*w0, frame(Addr::parse("198.19.0.5"), vipA, tcp(5555, 0x10)));
  EXPECT_EQ(h.reason, SL_R_TX_HIT);
  EXPECT_EQ(backend_of(h.bytes), 2);
  ASSERT_TRUE(w0->conn_del(k).ok());
  w0->poll_commands();
  EXPECT_EQ(w0->conn_count(), 0u);
  EXPECT_EQ(w0->stats().commands_applied, 2u);
  Out m = one(*w0, frame(Addr::parse("198.19.0.5"), vipA, tcp(5555, 0x10)));
  EXPECT_EQ(m.reason, SL_R_TX_MIDFLOW);
}

TEST_F(Fixture, ConnsPageWalksEveryRecordOnce) {
  std::vector<Bytes> frames;
  // Each flow's SYN, then its ACK, which confirms it (an unconfirmed
  // record is not listed).
  std::vector<Bytes> acks;
  for (uint16_t p = 0; p < 1000; p++) {
    frames.push_back(frame(client4, vipA, tcp(uint16_t(20000 + p))));
    acks.push_back(frame(client4, vipA, tcp(uint16_t(20000 + p), 0x10)));
  }
  burst(*w0, frames);
  burst(*w0, acks);
  ASSERT_EQ(w0->conn_count(), 1000u);
  ConnCursor cur;
  std::set<uint16_t> seen;
  size_t total = 0, pages = 0;
  while (!cur.done && pages < 1000) {
    auto page = w0->conns_page(cur, 64);
    EXPECT_LE(page.size(), 64u);
    for (auto& e : page) seen.insert(ntohs(e.key.sport));
    total += page.size();
    pages++;
  }
  EXPECT_TRUE(cur.done);
  EXPECT_EQ(total, 1000u);
  EXPECT_EQ(seen.size(), 1000u);
}

TEST_F(Fixture, FlowEventsPerRecordedFlow) {
  __atomic_store_n(&tables->control()->flags, SL_CTL_F_FLOW_EVENTS, __ATOMIC_RELAXED);
  burst(*w0, {frame(client4, vipA, tcp(42400)), frame(client4, vipA, tcp(42400, 0x10)),
              frame(client4, vipB, tcp(42401)), frame(client4, vipB, tcp(42401, 0x10))});
  // Announced when the client's ACK confirms them, once each.
  std::vector<sl_flow_event> ev;
  EXPECT_EQ(w0->flow_events_take(ev, 10), 2u);
  ASSERT_EQ(ev.size(), 2u);
  EXPECT_EQ(ntohs(ev[0].flow.sport), 42400);
  EXPECT_EQ(ev[1].vip_id, 1u);
  EXPECT_EQ(ev[1].backend, 3u);
}

// A replaced object stays until every worker has passed a quiescent state.
TEST_F(Fixture, ReplacedObjectsWaitForQuiescence) {
  tables->reclaim();
  w0->quiescent();
  w1->quiescent();
  tables->reclaim();
  uint64_t freed = tables->reclaimed();
  ASSERT_TRUE(tables->ring_put(0, *lb::ring({1}, {1})).ok());
  ASSERT_TRUE(tables->backend_put(1, lb::backend(1)).ok());
  EXPECT_EQ(tables->reclaim(), 2u);
  w0->quiescent();
  EXPECT_EQ(tables->reclaim(), 2u) << "worker 1 has not passed yet";
  w1->offline();  // an idle worker is not waited for
  EXPECT_EQ(tables->reclaim(), 0u);
  EXPECT_EQ(tables->reclaimed(), freed + 2);
  w1->online();
}

// The controller swaps rings, backends and a VIP as fast as it can while a
// worker thread steers bursts without a pause. Every freed object is
// poisoned first (tables.cc), so a worker that read one after its grace
// period would pass, drop or send to a MAC no backend has.
TEST_F(Fixture, RcuSwapsUnderAWorkerThatNeverStops) {
  w1->offline();
  std::vector<Bytes> frames;
  for (uint16_t p = 0; p < kBurst; p++)
    frames.push_back(frame(client4, vipA, tcp(uint16_t(30000 + p % 16), p < 16 ? 0x02 : 0x10)));
  std::atomic<bool> stop{false};
  std::atomic<uint64_t> bursts{0}, bad{0};
  std::string first_bad;
  std::thread worker([&] {
    // Off the main lcore (EAL pinned this process's main thread to CPU 0),
    // so the swaps and the bursts truly overlap.
    cpu_set_t other;
    CPU_ZERO(&other);
    CPU_SET(1, &other);
    pthread_setaffinity_np(pthread_self(), sizeof(other), &other);
    uint16_t sport = 0;
    while (!stop.load(std::memory_order_relaxed)) {
      rte_mbuf* m[kBurst];
      for (uint16_t i = 0; i < kBurst; i++) {
        // Half the flows new each time (new ports), half established.
        Bytes f = i < 16 ? frame(client4, vipA, tcp(uint16_t(1024 + (sport++ % 60000)))) : frames[i];
        m[i] = mbuf_of(f);
      }
      BurstOut o;
      uint8_t r[kBurst];
      w0->burst(m, kBurst, o, r);
      for (uint16_t i = 0; i < kBurst; i++) {
        if (sl_reason_verdict(sl_reason(r[i])) != SL_VERDICT_TX) {
          if (bad++ == 0) first_bad = std::string("reason ") + sl_reason_names[r[i]];
        }
      }
      for (uint16_t i = 0; i < o.n_tx; i++) {
        Bytes b = bytes_of(o.tx[i]);
        bool ok = backend_of(b) >= 0 && backend_of(b) <= 2;
        if (!ok && b.size() >= 6 && b[0] == 0x02 && b[4] == 0x0a && b[5] == 0x11) ok = true;
        if (!ok && bad++ == 0) first_bad = "a MAC no backend has";
        rte_pktmbuf_free(o.tx[i]);
      }
      for (uint16_t i = 0; i < o.n_exc; i++) rte_pktmbuf_free(o.exc[i]);
      w0->quiescent();
      bursts++;
    }
  });
  // Ring of VIP A: all three, or only slot 1; slot 1's backend in two
  // versions (MAC ..:0a:11 and the original); VIP F deleted and re-added.
  auto all3 = lb::ring({0, 1, 2}, {1, 2, 1});
  auto only1 = lb::ring({1}, {1});
  sl_backend alt = lb::backend(1);
  alt.mac[4] = 0x0a;
  sl_vip_key f = lb::vip_key(lb::kVipF, 80, 6);
  sl_vip_meta fm{};
  fm.vip_id = 5;
  fm.ring_id = 10;
  uint64_t swaps = 0;
  size_t max_pending = 0;
  for (int i = 0; i < 20000 && (i < 2000 || bursts.load() < 2000); i++) {
    ASSERT_TRUE(tables->ring_put(0, i % 2 ? *all3 : *only1).ok());
    ASSERT_TRUE(tables->backend_put(1, i % 3 ? alt : lb::backend(1)).ok());
    ASSERT_TRUE((i % 2 ? tables->vip_del(f) : tables->vip_put(f, fm)).ok());
    swaps += 3;
    max_pending = std::max(max_pending, tables->reclaim());
  }
  // Let the worker pass a few more quiescent states, then stop it.
  uint64_t seen = bursts.load();
  while (bursts.load() < seen + 3) std::this_thread::yield();
  stop = true;
  worker.join();
  EXPECT_EQ(bad.load(), 0u) << first_bad << " in " << bursts.load() << " bursts";
  EXPECT_GT(bursts.load(), 100u);
  EXPECT_EQ(tables->reclaim(), 0u) << "every replaced object freed after quiescence";
  EXPECT_GE(tables->reclaimed(), swaps - 3);
  RecordProperty("swaps", std::to_string(swaps));
  RecordProperty("bursts", std::to_string(bursts.load()));
  RecordProperty("max_pending", std::to_string(max_pending));
  w1->online();
}

}  // namespace
}  // namespace sluice::test
