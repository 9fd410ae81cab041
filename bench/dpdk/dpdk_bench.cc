// SPDX-License-Identifier: Apache-2.0
// ns per packet per worker of the DPDK worker (dataplane/dpdk/worker.h) on
// bursts of 32 prebuilt mbufs of many distinct flows — hit, new flow, pass
// — beside a no-op rx -> tx loop on the same PMD, measured in the same run.
//
// Each worker owns a net_ring port whose RX and TX are one ring (a
// loopback): rx_burst takes 32 mbufs, the worker steers them, tx_burst puts
// them back, so the same mbufs go round without allocation. The floor is
// that loop with no worker. DSR rewrites only MACs, so a frame can go round
// again as it is; `new` also writes a fresh source address into each frame
// before its burst (4 bytes, cache-hot), so every packet is a new flow;
// once the table is full every insert evicts (the steady state of a full
// table). 1 and 2 workers (lcores 0 and 1); conn tables of 1e3, 1e5, 1e6
// (hit: the table held 90% full; at most 32768 distinct hit flows in
// flight, fewer for a small table).
//
// Output: one JSON object per line on stdout. Needs no root beyond what
// EAL needs; runs with --no-huge.
//   dpdk_bench [--packets N] [--reps R]
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_eth_ring.h>
#include <rte_ethdev.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "core/wire.h"
#include "core/wrr.h"
#include "dataplane/dpdk/worker.h"
#include "tests/common/packet_builder.h"

namespace {

using namespace sluice;
using sluice::test::Addr;
using sluice::test::Bytes;
using sluice::test::L4;

constexpr uint32_t kInFlight = 32768;  // mbufs per worker's loop
constexpr uint32_t kRingSize = 65536;

enum class Mode { floor, hit, new_flow, pass };
const char* mode_name(Mode m) {
  return m == Mode::floor ? "noop_rx_tx" : m == Mode::hit ? "hit" : m == Mode::new_flow ? "new" : "pass";
}

// The lane thread's CPU time: the machine is shared, and time the thread
// spent preempted is not the worker's cost.
uint64_t now_ns() {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return uint64_t(ts.tv_sec) * 1000000000ull + uint64_t(ts.tv_nsec);
}

rte_mempool* g_pool;

const char* const kVip = "198.18.0.100";  // :80/tcp dsr, backends 0..2 weights 1:2:1

bool fill(dpdk::Tables& t) {
  for (uint32_t i = 0; i < 3; i++) {
    sl_backend be{};
    Addr a = Addr::parse("198.18.0." + std::to_string(11 + i));
    a.to_words(be.addr);
    uint8_t mac[6] = {2, 0, 0, 0, 0, uint8_t(0x10 + i)};
    std::memcpy(be.mac, mac, 6);
    be.family = SL_AF_INET;
    be.flags = SL_BE_F_LIVE;
    be.gen = 1;
    if (!t.backend_put(i, be).ok()) return false;
  }
  auto ring = std::make_unique<sl_ring>();
  std::memset(ring.get(), 0, sizeof(*ring));
  uint32_t w[3] = {1, 2, 1};
  ring->len = sl_wrr_build(w, 3, ring->slots, SL_RING_SLOTS);
  if (!t.ring_put(0, *ring).ok()) return false;
  sl_vip_key k{};
  Addr::parse(kVip).to_words(k.addr);
  k.port = htons(80);
  k.proto = 6;
  k.family = SL_AF_INET;
  sl_vip_meta m{};
  if (!t.vip_put(k, m).ok()) return false;
  sl_global g{};
  g.role = SL_ROLE_ACTIVE;
  std::memcpy(g.lb_mac, sluice::test::kLbMac.data(), 6);
  return t.global_set(g).ok();
}

// Client i: 10.x.y.z from a counter, port from it too (never a refused
// source).
Addr client(uint32_t i) {
  char s[32];
  uint32_t a = 0x0a000000u | ((i + 1) & 0x00ffffffu);
  snprintf(s, sizeof(s), "%u.%u.%u.%u", a >> 24, (a >> 16) & 0xff, (a >> 8) & 0xff, a & 0xff);
  return Addr::parse(s);
}

struct Lane {  // one worker: its port, its worker, its mbufs
  uint16_t port = 0;
  rte_ring* ring = nullptr;
  std::unique_ptr<dpdk::Worker> worker;
  Mode mode = Mode::floor;
  uint64_t packets = 0, target = 0, elapsed_ns = 0;
  uint32_t next_src = 0;
};

bool lane_port(Lane& l, unsigned id) {
  std::string rn = "sl_bench_ring" + std::to_string(id);
  l.ring = rte_ring_create(rn.c_str(), kRingSize, rte_socket_id(), RING_F_SP_ENQ | RING_F_SC_DEQ);
  if (!l.ring) return false;
  int port = rte_eth_from_rings(("sl_bench" + std::to_string(id)).c_str(), &l.ring, 1, &l.ring, 1,
                                rte_socket_id());
  if (port < 0) return false;
  l.port = uint16_t(port);
  rte_eth_conf conf{};
  if (rte_eth_dev_configure(l.port, 1, 1, &conf) != 0) return false;
  if (rte_eth_rx_queue_setup(l.port, 0, 1024, rte_socket_id(), nullptr, g_pool) != 0) return false;
  if (rte_eth_tx_queue_setup(l.port, 0, 1024, rte_socket_id(), nullptr) != 0) return false;
  return rte_eth_dev_start(l.port) == 0;
}

void lane_drain(Lane& l) {
  rte_mbuf* m[64];
  unsigned n;
  while ((n = rte_ring_dequeue_burst(l.ring, reinterpret_cast<void**>(m), 64, nullptr)) > 0)
    rte_pktmbuf_free_bulk(m, n);
}

bool lane_load(Lane& l, Mode mode, uint32_t flows, uint32_t base) {
  lane_drain(l);
  l.mode = mode;
  for (uint32_t i = 0; i < kInFlight; i++) {
    uint32_t f = base + i % flows;
    Addr dst = Addr::parse(mode == Mode::pass ? "198.18.0.200" : kVip);
    uint8_t flags = mode == Mode::new_flow ? SL_TCP_SYN : SL_TCP_ACK;
    Bytes b = sluice::test::frame(client(f), dst, L4{6, uint16_t(1024 + f % 60000), 80, flags, 16});
    rte_mbuf* m = rte_pktmbuf_alloc(g_pool);
    if (!m) return false;
    std::memcpy(rte_pktmbuf_append(m, uint16_t(b.size())), b.data(), b.size());
    if (rte_ring_enqueue(l.ring, m) != 0) return false;
  }
  return true;
}

int lane_run(void* arg) {
  Lane& l = *static_cast<Lane*>(arg);
  rte_mbuf* pkts[dpdk::kBurst];
  uint64_t done = 0;
  uint64_t t0 = now_ns();
  while (done < l.target) {
    uint16_t n = rte_eth_rx_burst(l.port, 0, pkts, dpdk::kBurst);
    if (n == 0) break;  // lost mbufs: should not happen
    if (l.mode == Mode::floor) {
      uint16_t s = rte_eth_tx_burst(l.port, 0, pkts, n);
      if (s < n) rte_pktmbuf_free_bulk(pkts + s, n - s);
    } else {
      if (l.mode == Mode::new_flow)
        for (uint16_t i = 0; i < n; i++) {
          // A fresh IPv4 source (10/8): bytes 26..29 of an untagged frame.
          uint32_t a = htonl(0x0a000000u | (++l.next_src & 0x00ffffffu));
          std::memcpy(rte_pktmbuf_mtod_offset(pkts[i], uint8_t*, 26), &a, 4);
        }
      dpdk::BurstOut out;
      l.worker->burst(pkts, n, out);
      uint16_t s = rte_eth_tx_burst(l.port, 0, out.tx, out.n_tx);
      if (s < out.n_tx) rte_pktmbuf_free_bulk(out.tx + s, out.n_tx - s);
      s = rte_eth_tx_burst(l.port, 0, out.exc, out.n_exc);
      if (s < out.n_exc) rte_pktmbuf_free_bulk(out.exc + s, out.n_exc - s);
      l.worker->quiescent();
    }
    done += n;
  }
  l.elapsed_ns = now_ns() - t0;
  l.packets = done;
  return 0;
}

// Runs every lane at once (lane k on lcore k); ns/packet of each.
std::vector<double> run_lanes(std::vector<Lane>& lanes, uint64_t packets) {
  for (auto& l : lanes) l.target = packets;
  unsigned lcore = rte_get_next_lcore(-1, 1, 0);
  for (size_t k = 1; k < lanes.size(); k++) {
    rte_eal_remote_launch(lane_run, &lanes[k], lcore);
    lcore = rte_get_next_lcore(lcore, 1, 0);
  }
  lane_run(&lanes[0]);
  rte_eal_mp_wait_lcore();
  std::vector<double> ns;
  for (auto& l : lanes) ns.push_back(l.packets ? double(l.elapsed_ns) / double(l.packets) : -1);
  return ns;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

void prefill(dpdk::Worker& w, uint32_t entries, uint32_t base) {
  for (uint32_t i = 0; i < entries;) {
    uint32_t chunk = std::min<uint32_t>(2048, entries - i);
    for (uint32_t j = 0; j < chunk; j++, i++) {
      sl_flow_key k{};
      client(base + i).to_words(k.src);
      Addr::parse("198.18.0.99").to_words(k.dst);  // never a frame's flow
      k.sport = htons(uint16_t(1024 + i % 60000));
      k.dport = htons(80);
      k.proto = 6;
      k.family = SL_AF_INET;
      sl_conn c{};
      c.backend = i % 3;
      c.gen = 1;
      (void)w.conn_put(k, c);
    }
    w.poll_commands();
  }
}

}  // namespace

int main(int argc, char** argv) {
  uint64_t packets = 4000000;
  int reps = 3;
  for (int i = 1; i + 1 < argc; i++) {
    if (!std::strcmp(argv[i], "--packets")) packets = std::strtoull(argv[++i], nullptr, 10);
    else if (!std::strcmp(argv[i], "--reps")) reps = std::atoi(argv[++i]);
  }
  std::string prefix = "--file-prefix=sl-h1-bench-" + std::to_string(getpid());
  std::vector<std::string> args = {"dpdk_bench", "--no-huge", "-m", "1536", "--no-pci",
                                   "--no-shconf", "--no-telemetry", "--log-level=lib.eal:warning",
                                   prefix, "-l", "0-1"};
  std::vector<char*> eargv;
  for (auto& a : args) eargv.push_back(a.data());
  if (rte_eal_init(int(eargv.size()), eargv.data()) < 0) {
    std::fprintf(stderr, "dpdk_bench: rte_eal_init: %s\n", rte_strerror(rte_errno));
    return 1;
  }
  std::string runtime_dir = rte_eal_get_runtime_dir();
  int rc = 0;
  {
    g_pool = rte_pktmbuf_pool_create("sl_bench_pool", 2 * kInFlight + 4096, 256, 0,
                                     RTE_PKTMBUF_HEADROOM + 256, rte_socket_id());
    unsigned max_workers = std::min(2u, rte_lcore_count());
    std::vector<Lane> all(max_workers);
    for (unsigned k = 0; k < max_workers; k++)
      if (!g_pool || !lane_port(all[k], k)) {
        std::fprintf(stderr, "dpdk_bench: port setup failed: %s\n", rte_strerror(rte_errno));
        return 1;
      }
    const uint32_t tables[] = {1000, 100000, 1000000};
    for (unsigned workers = 1; workers <= max_workers; workers++) {
      for (uint32_t size : tables) {
        auto t = dpdk::Tables::create({workers, SOCKET_ID_ANY});
        if (!t.ok() || !fill(**t)) {
          std::fprintf(stderr, "dpdk_bench: tables\n");
          rc = 1;
          break;
        }
        std::vector<Lane> lanes(workers);
        for (unsigned k = 0; k < workers; k++) {
          lanes[k].port = all[k].port;
          lanes[k].ring = all[k].ring;
          dpdk::WorkerConfig wc;
          wc.id = k;
          wc.conn_table_size = size;
          auto w = dpdk::Worker::create(**t, wc);
          if (!w.ok()) {
            std::fprintf(stderr, "dpdk_bench: worker: %s\n", w.error().message().c_str());
            return 1;
          }
          lanes[k].worker = std::move(*w);
        }
        for (Mode mode : {Mode::floor, Mode::hit, Mode::new_flow, Mode::pass}) {
          uint32_t flows = mode == Mode::hit ? std::min<uint32_t>(kInFlight, size * 9 / 10)
                                             : kInFlight;
          for (unsigned k = 0; k < workers; k++) {
            uint32_t base = (k + 1) * 0x100000u;
            lane_load(lanes[k], mode, flows, base);
            if (mode == Mode::hit) {
              // Record the hit flows (their first pass is mid-flow), then
              // fill the table to 90% with other flows.
              lanes[k].target = kInFlight;
              lane_run(&lanes[k]);
              uint64_t have = lanes[k].worker->conn_count();
              if (have < size * 9 / 10) prefill(*lanes[k].worker, uint32_t(size * 9 / 10 - have), base + 0x80000u);
            }
          }
          sl_counters before[SL_R_MAX];
          for (int r = 0; r < SL_R_MAX; r++) {
            before[r] = {};
            for (auto& l : lanes) before[r].packets += l.worker->reason_counters(r).packets;
          }
          std::vector<std::vector<double>> per_lane(workers);
          for (int rep = 0; rep < reps; rep++) {
            auto ns = run_lanes(lanes, packets);
            for (unsigned k = 0; k < workers; k++) per_lane[k].push_back(ns[k]);
          }
          // The reason most of the measured packets got (a check on the mode).
          int top = 0;
          uint64_t top_n = 0, total = 0;
          for (int r = 0; r < SL_R_MAX; r++) {
            uint64_t n = 0;
            for (auto& l : lanes) n += l.worker->reason_counters(r).packets;
            n -= before[r].packets;
            total += n;
            if (n > top_n) top_n = n, top = r;
          }
          double sum = 0;
          std::string lanes_json;
          for (unsigned k = 0; k < workers; k++) {
            double m = median(per_lane[k]);
            sum += m;
            lanes_json += (k ? "," : "") + std::to_string(m);
          }
          uint64_t conns = 0, evicted = 0;
          for (auto& l : lanes) conns += l.worker->conn_count(), evicted += l.worker->stats().conn_evicted;
          std::printf("{\"mode\":\"%s\",\"workers\":%u,\"conn_table\":%u,\"ns_per_packet\":%.2f,"
                      "\"ns_per_lane\":[%s],\"packets_per_lane\":%llu,\"reps\":%d,"
                      "\"reason\":\"%s\",\"reason_share\":%.4f,\"conns\":%llu,\"evicted\":%llu}\n",
                      mode_name(mode), workers, size, sum / workers, lanes_json.c_str(),
                      (unsigned long long)packets, reps,
                      mode == Mode::floor ? "-" : sl_reason_names[top],
                      total ? double(top_n) / double(total) : 0.0, (unsigned long long)conns,
                      (unsigned long long)evicted);
          std::fflush(stdout);
        }
        for (auto& l : lanes) lane_drain(l);
        lanes.clear();  // workers before their tables
      }
    }
    for (auto& l : all) {
      rte_eth_dev_stop(l.port);
      rte_eth_dev_close(l.port);
      rte_ring_free(l.ring);
    }
    rte_mempool_free(g_pool);
  }
  rte_eal_cleanup();
  std::error_code ec;
  std::filesystem::remove_all(runtime_dir, ec);
  return rc;
}
