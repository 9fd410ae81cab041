// SPDX-License-Identifier: Apache-2.0
// ns per packet per worker of the DPDK worker (dataplane/dpdk/worker.h) on
// bursts of 32 mbufs of many distinct flows — hit, new flow, pass — beside
// a floor on the same PMD, measured in the same run, interleaved rep by rep.
//
// Each worker owns a net_ring port whose RX and TX are one ring (a
// loopback): rx_burst takes 32 mbufs, tx_burst puts them back, so the same
// mbufs go round without allocation. Before each burst a generator writes
// every frame's flow (IPv4 source address and source port): for hit a
// flow drawn uniformly from all live flows of the table, for new flow (TCP
// SYNs, or UDP datagrams) a fresh one, for pass one drawn as for hit. The
// measured loop is rx -> generate -> Worker::burst -> tx; the floor is
// rx -> generate -> tx with the same frames, so the difference is the
// worker's own cost.
//
// line is the floor's loop plus one read per packet of a random line
// (picked by the frame's flow) in memory the size of the table's records,
// fetched as the worker fetches them: what a hit cannot cost less than on
// this machine, beside what it costs.
//
// --in-flight sets the mbufs per worker's loop: the default, 1024, is an
// RX ring's worth, as a NIC keeps in flight, so mbufs and frames are found
// in the cache as a NIC with DDIO would leave them. --in-flight 32768 is the
// cold mode of the first results: ~12 MB of mbufs cycling, every mbuf and
// frame read from memory.
//
// Tables: each worker's table is filled to --fill (0.9) of its size with
// flows to the VIP before hit; DSR rewrites only MACs, so a frame goes
// round again as it is. new runs next: the table is full almost
// throughout, so every insert evicts (the steady state of a full table).
// Its frames are SYNs, which may evict only unconfirmed records (the SYN
// flood defence), and the prefill's records are confirmed: a SYN that
// finds none to evict goes out unrecorded (`not_recorded` in the output).
// new-udp is the same with UDP datagrams to the VIP's UDP port: each is
// recorded, confirmed, and a full table evicts whatever record the hand
// finds, so every packet pays the whole recording path.
//
// Pages: production runs the EAL on hugepages, and so a worker's table.
// These machines have none (EAL --no-huge), so the table takes its memory
// from transparent huge pages (dataplane/dpdk/conn_table.h), which is what
// the bench models; `anon_huge_mb` in the output says how much of the
// process THP backs. --table-pages small puts the table on 4 KiB pages.
//
// Output: one JSON object per line on stdout (`evicted`, `not_recorded`:
// this mode's, over its measured runs). No root; EAL with --no-huge.
//   dpdk_bench [--packets N] [--reps R] [--in-flight N] [--workers 1|2]
//              [--tables 1000,100000,1000000] [--modes hit,new,new-udp,pass,line]
//              [--fill F] [--mem MB] [--table-pages huge|small]
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_eth_ring.h>
#include <rte_ethdev.h>
#include <rte_lcore.h>
#include <rte_hash_crc.h>
#include <rte_mbuf.h>
#include <rte_prefetch.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <iterator>
#include <memory>
#include <sstream>
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

enum class Mode { hit, new_flow, new_udp, pass, line };
// The modes by their --modes names (and the JSON's "mode").
constexpr struct {
  Mode mode;
  const char* name;
} kModes[] = {{Mode::hit, "hit"},   {Mode::new_flow, "new"}, {Mode::new_udp, "new-udp"},
              {Mode::pass, "pass"}, {Mode::line, "line"}};
const char* mode_name(Mode m) {
  for (const auto& k : kModes)
    if (k.mode == m) return k.name;
  return "?";
}
bool fresh_flows(Mode m) { return m == Mode::new_flow || m == Mode::new_udp; }

// The lane thread's CPU time: the machine is shared, and time the thread
// spent preempted is not the worker's cost.
uint64_t now_ns() {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return uint64_t(ts.tv_sec) * 1000000000ull + uint64_t(ts.tv_nsec);
}

rte_mempool* g_pool;

const char* const kVip = "198.18.0.100";  // :80/tcp and :80/udp dsr, backends 0..2 weights 1:2:1

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
  k.proto = 17;  // the same ring, VIP id 1
  m.vip_id = 1;
  if (!t.vip_put(k, m).ok()) return false;
  sl_global g{};
  g.role = SL_ROLE_ACTIVE;
  std::memcpy(g.lb_mac, sluice::test::kLbMac.data(), 6);
  return t.global_set(g).ok();
}

// Frames carry only the project's addresses (198.18.0.0/15). Live flow i:
// source 198.19.x.y = i mod 2^16, port 1024 + i / 2^16 (1e7 flows: ports
// up to 1176). Fresh flow j: source in 198.18.128.0/17, port 20000 +
// (j / 2^15) mod 40000: never live. VIP, backends and the pass destination
// are in 198.18.0.0/24.
inline uint32_t live_addr(uint32_t i) { return 0xc6130000u | (i & 0xffffu); }
inline uint16_t live_port(uint32_t i) { return uint16_t(1024 + (i >> 16)); }

struct Lane {  // one worker: its port, its worker, its mbufs
  uint16_t port = 0;
  rte_ring* ring = nullptr;
  std::unique_ptr<dpdk::Worker> worker;
  Mode mode = Mode::hit;
  bool floor = false;    // rx -> generate -> tx, no worker
  uint32_t live = 1;     // flows in the table, drawn from for hit and pass
  uint64_t rng = 0x9e3779b97f4a7c15ull;
  uint32_t next_fresh = 0;
  uint64_t packets = 0, target = 0, elapsed_ns = 0;
  // Mode::line: memory the size of the worker's records, read one random
  // line per packet.
  const uint8_t* lines = nullptr;
  uint64_t n_lines = 0;
  uint64_t sink = 0;
};

// Mode::line, the memory floor of a hit: the floor's loop plus, for each
// packet of the burst, one line of `l.lines` picked by its flow's hash,
// fetched as the worker fetches records (all the burst's prefetches, then
// all the reads). What a hit costs beyond it is the worker's own work.
inline void read_lines(Lane& l, rte_mbuf** pkts, uint16_t n) {
  const uint8_t* at[dpdk::kBurst];
  for (uint16_t i = 0; i < n; i++) {
    const uint8_t* d = rte_pktmbuf_mtod(pkts[i], const uint8_t*);
    uint32_t a;
    uint16_t p;
    std::memcpy(&a, d + 26, 4);
    std::memcpy(&p, d + 34, 2);
    uint32_t h = rte_hash_crc_4byte(p, rte_hash_crc_4byte(a, 0x5eed));
    at[i] = l.lines + ((uint64_t(h) * l.n_lines) >> 32) * 64;
    rte_prefetch0(at[i]);
  }
  uint64_t x = 0;
  for (uint16_t i = 0; i < n; i++) x += *reinterpret_cast<const volatile uint64_t*>(at[i]);
  l.sink += x;
}

// The generator: writes one frame's flow (untagged IPv4 frame: source
// address at bytes 26..29, TCP or UDP source port at 34..35).
inline void generate(Lane& l, rte_mbuf* m) {
  uint8_t* d = rte_pktmbuf_mtod(m, uint8_t*);
  uint32_t a;
  uint16_t p;
  if (fresh_flows(l.mode)) {
    uint32_t j = l.next_fresh++;
    a = 0xc6128000u | (j & 0x7fffu);
    p = uint16_t(20000 + (j >> 15) % 40000);
  } else {
    l.rng ^= l.rng << 13;
    l.rng ^= l.rng >> 7;
    l.rng ^= l.rng << 17;
    uint32_t i = uint32_t((uint64_t(uint32_t(l.rng >> 32)) * l.live) >> 32);
    a = live_addr(i);
    p = live_port(i);
  }
  a = htonl(a);
  p = htons(p);
  std::memcpy(d + 26, &a, 4);
  std::memcpy(d + 34, &p, 2);
}

bool lane_port(Lane& l, unsigned id, uint32_t ring_size) {
  std::string rn = "sl_bench_ring" + std::to_string(id);
  l.ring = rte_ring_create(rn.c_str(), ring_size, rte_socket_id(), RING_F_SP_ENQ | RING_F_SC_DEQ);
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

// `in_flight` frames of the mode's kind; the generator sets their flows.
bool lane_load(Lane& l, Mode mode, uint32_t in_flight) {
  lane_drain(l);
  l.mode = mode;
  Addr dst = Addr::parse(mode == Mode::pass ? "198.18.0.200" : kVip);
  uint8_t flags = mode == Mode::new_flow ? SL_TCP_SYN : SL_TCP_ACK;
  uint8_t proto = mode == Mode::new_udp ? 17 : 6;  // the source port is at 34 in both
  Bytes b = sluice::test::frame(Addr::parse("198.19.0.0"), dst, L4{proto, 1024, 80, flags, 16});
  for (uint32_t i = 0; i < in_flight; i++) {
    rte_mbuf* m = rte_pktmbuf_alloc(g_pool);
    if (!m) return false;
    std::memcpy(rte_pktmbuf_append(m, uint16_t(b.size())), b.data(), b.size());
    generate(l, m);
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
    for (uint16_t i = 0; i < n; i++) generate(l, pkts[i]);
    if (l.floor || l.mode == Mode::line) {
      if (!l.floor) read_lines(l, pkts, n);
      uint16_t s = rte_eth_tx_burst(l.port, 0, pkts, n);
      if (s < n) rte_pktmbuf_free_bulk(pkts + s, n - s);
    } else {
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
std::vector<double> run_lanes(std::vector<Lane>& lanes, uint64_t packets, bool floor) {
  for (auto& l : lanes) l.target = packets, l.floor = floor;
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

// Records live flows 0..entries-1 (to the VIP, confirmed) through the
// worker's command ring, as sync imports them.
void prefill(dpdk::Worker& w, uint32_t entries) {
  for (uint32_t i = 0; i < entries;) {
    uint32_t chunk = std::min<uint32_t>(2048, entries - i);
    for (uint32_t j = 0; j < chunk; j++, i++) {
      sl_flow_key k{};
      k.src[0] = htonl(live_addr(i));
      Addr::parse(kVip).to_words(k.dst);
      k.sport = htons(live_port(i));
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

std::vector<uint32_t> parse_list(const char* s) {
  std::vector<uint32_t> v;
  std::stringstream ss(s);
  std::string item;
  while (std::getline(ss, item, ',')) v.push_back(uint32_t(std::strtod(item.c_str(), nullptr)));
  return v;
}

struct Options {
  uint64_t packets = 2000000;
  int reps = 3;
  uint32_t in_flight = 1024;
  unsigned workers = 2;
  double fill = 0.9;
  unsigned mem_mb = 0;  // 0: from the largest table
  std::vector<uint32_t> tables = {1000, 100000, 1000000};
  std::vector<Mode> modes = {Mode::hit, Mode::new_flow, Mode::pass};
  bool huge_table = true;
};

// MB of the process's anonymous memory on transparent huge pages.
unsigned anon_huge_mb() {
  FILE* f = std::fopen("/proc/self/smaps_rollup", "r");
  if (!f) return 0;
  char line[256];
  unsigned long kb = 0;
  while (std::fgets(line, sizeof(line), f))
    if (std::sscanf(line, "AnonHugePages: %lu kB", &kb) == 1) break;
  std::fclose(f);
  return unsigned(kb >> 10);
}

// Measures every mode on `workers` lanes with tables of `size`.
bool run_table(const Options& o, std::vector<Lane>& all, unsigned workers, uint32_t size) {
  auto t = dpdk::Tables::create({workers, SOCKET_ID_ANY});
  if (!t.ok() || !fill(**t)) return false;
  std::vector<Lane> lanes(workers);
  uint32_t live = std::max<uint32_t>(1, uint32_t(double(size) * o.fill));
  for (unsigned k = 0; k < workers; k++) {
    lanes[k].port = all[k].port;
    lanes[k].ring = all[k].ring;
    lanes[k].live = live;
    lanes[k].rng += k;
    dpdk::WorkerConfig wc;
    wc.id = k;
    wc.conn_table_size = size;
    wc.conn_huge_pages = o.huge_table;
    auto w = dpdk::Worker::create(**t, wc);
    if (!w.ok()) {
      std::fprintf(stderr, "dpdk_bench: worker: %s\n", w.error().message().c_str());
      return false;
    }
    lanes[k].worker = std::move(*w);
    prefill(*lanes[k].worker, live);
  }
  // Mode::line: per lane, memory the size of its table's records.
  std::vector<std::pair<void*, size_t>> line_maps;
  if (std::find(o.modes.begin(), o.modes.end(), Mode::line) != o.modes.end())
    for (auto& l : lanes) {
      l.n_lines = dpdk::ConnTable::slots_for(size);
      size_t len = size_t(l.n_lines) * 64;
      void* m = mmap(nullptr, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
      if (m == MAP_FAILED) return false;
      if (o.huge_table) (void)madvise(m, len, MADV_HUGEPAGE);
      std::memset(m, 1, len);
      line_maps.emplace_back(m, len);
      l.lines = static_cast<const uint8_t*>(m);
    }
  unsigned huge_mb = anon_huge_mb();
  for (Mode mode : o.modes) {
    for (auto& l : lanes)
      if (!lane_load(l, mode, o.in_flight)) return false;
    uint64_t before[SL_R_MAX] = {};
    for (int r = 0; r < SL_R_MAX; r++)
      for (auto& l : lanes) before[r] += l.worker->reason_counters(r).packets;
    uint64_t evicted0 = 0, not_recorded0 = 0;  // this mode's figures are the growth
    for (auto& l : lanes) {
      evicted0 += l.worker->stats().conn_evicted;
      not_recorded0 += l.worker->stats().conn_not_recorded;
    }
    // Interleaved: floor, measured, floor, measured, ...
    std::vector<std::vector<double>> fl(workers), ms(workers);
    for (int rep = 0; rep < o.reps; rep++) {
      auto f = run_lanes(lanes, o.packets, true);
      auto m = run_lanes(lanes, o.packets, false);
      for (unsigned k = 0; k < workers; k++) fl[k].push_back(f[k]), ms[k].push_back(m[k]);
    }
    // The reason most of the measured packets got (a check on the mode).
    int top = 0;
    uint64_t top_n = 0, total = 0;
    for (int r = 0; r < SL_R_MAX; r++) {
      uint64_t n = 0;
      for (auto& l : lanes) n += l.worker->reason_counters(r).packets;
      n -= before[r];
      total += n;
      if (n > top_n) top_n = n, top = r;
    }
    double fsum = 0, msum = 0;
    std::string lanes_json, floors_json;
    for (unsigned k = 0; k < workers; k++) {
      double f = median(fl[k]), m = median(ms[k]);
      fsum += f, msum += m;
      lanes_json += (k ? "," : "") + std::to_string(m);
      floors_json += (k ? "," : "") + std::to_string(f);
    }
    uint64_t conns = 0, evicted = 0, not_recorded = 0;
    for (auto& l : lanes) {
      conns += l.worker->conn_count();
      evicted += l.worker->stats().conn_evicted;
      not_recorded += l.worker->stats().conn_not_recorded;
    }
    evicted -= evicted0;
    not_recorded -= not_recorded0;
    std::printf("{\"mode\":\"%s\",\"workers\":%u,\"conn_table\":%u,\"live_flows\":%u,"
                "\"in_flight\":%u,\"ns_per_packet\":%.2f,\"floor_ns\":%.2f,\"over_floor_ns\":%.2f,"
                "\"ns_per_lane\":[%s],\"floor_per_lane\":[%s],\"packets_per_lane\":%llu,\"reps\":%d,"
                "\"reason\":\"%s\",\"reason_share\":%.4f,\"conns\":%llu,\"evicted\":%llu,\"not_recorded\":%llu,"
                "\"table_pages\":\"%s\",\"anon_huge_mb\":%u}\n",
                mode_name(mode), workers, size, live, o.in_flight, msum / workers, fsum / workers,
                (msum - fsum) / workers, lanes_json.c_str(), floors_json.c_str(),
                (unsigned long long)o.packets, o.reps, sl_reason_names[top],
                total ? double(top_n) / double(total) : 0.0, (unsigned long long)conns,
                (unsigned long long)evicted, (unsigned long long)not_recorded, o.huge_table ? "huge" : "small", huge_mb);
    std::fflush(stdout);
  }
  for (auto& l : lanes) lane_drain(l);
  lanes.clear();  // workers before their tables
  for (auto& [m, len] : line_maps) munmap(m, len);
  return true;
}

bool parse_args(int argc, char** argv, Options& o) {
  for (int i = 1; i < argc; i++) {
    std::string a = argv[i];
    if (i + 1 >= argc) return false;
    const char* v = argv[++i];
    if (a == "--packets") o.packets = std::strtoull(v, nullptr, 10);
    else if (a == "--reps") o.reps = std::atoi(v);
    else if (a == "--in-flight") o.in_flight = uint32_t(std::strtoul(v, nullptr, 10));
    else if (a == "--workers") o.workers = unsigned(std::atoi(v));
    else if (a == "--fill") o.fill = std::strtod(v, nullptr);
    else if (a == "--mem") o.mem_mb = unsigned(std::atoi(v));
    else if (a == "--tables") o.tables = parse_list(v);
    else if (a == "--table-pages") {
      if (std::string(v) != "huge" && std::string(v) != "small") return false;
      o.huge_table = std::string(v) == "huge";
    }
    else if (a == "--modes") {
      o.modes.clear();
      std::stringstream ss(v);
      std::string m;
      while (std::getline(ss, m, ',')) {
        auto k = std::find_if(std::begin(kModes), std::end(kModes),
                              [&](const auto& x) { return m == x.name; });
        if (k == std::end(kModes)) return false;
        o.modes.push_back(k->mode);
      }
    } else return false;
  }
  return o.reps > 0 && o.in_flight >= dpdk::kBurst && o.workers >= 1 && o.workers <= 2 &&
         !o.tables.empty() && o.fill > 0 && o.fill <= 1;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  if (!parse_args(argc, argv, o)) {
    std::fprintf(stderr, "usage: dpdk_bench [--packets N] [--reps R] [--in-flight N] [--workers 1|2]\n"
                         "  [--tables 1000,100000,1000000] [--modes hit,new,new-udp,pass,line] [--fill F] [--mem MB]\n"
                         "  [--table-pages huge|small]\n");
    return 2;
  }
  // The mbufs and the rings; the connection tables are not EAL memory
  // under --no-huge (conn_table.h).
  unsigned mem = o.mem_mb ? o.mem_mb
                          : unsigned(768 + (uint64_t(o.in_flight) * 2560 * o.workers >> 20));
  std::string prefix = "--file-prefix=sl-ha-bench-" + std::to_string(getpid());
  std::vector<std::string> args = {"dpdk_bench", "--no-huge", "-m", std::to_string(mem), "--no-pci",
                                   "--no-shconf", "--no-telemetry", "--log-level=lib.eal:warning",
                                   prefix, "-l", o.workers == 2 ? "0-1" : "0"};
  std::vector<char*> eargv;
  for (auto& a : args) eargv.push_back(a.data());
  if (rte_eal_init(int(eargv.size()), eargv.data()) < 0) {
    std::fprintf(stderr, "dpdk_bench: rte_eal_init: %s\n", rte_strerror(rte_errno));
    return 1;
  }
  std::string runtime_dir = rte_eal_get_runtime_dir();
  int rc = 0;
  {
    g_pool = rte_pktmbuf_pool_create("sl_bench_pool", o.workers * o.in_flight + 4096, 256, 0,
                                     RTE_PKTMBUF_HEADROOM + 256, rte_socket_id());
    unsigned max_workers = std::min(o.workers, rte_lcore_count());
    uint32_t ring_size = rte_align32pow2(o.in_flight * 2);
    std::vector<Lane> all(max_workers);
    for (unsigned k = 0; k < max_workers; k++)
      if (!g_pool || !lane_port(all[k], k, ring_size)) {
        std::fprintf(stderr, "dpdk_bench: port setup failed: %s\n", rte_strerror(rte_errno));
        return 1;
      }
    for (unsigned workers = 1; workers <= max_workers && rc == 0; workers++)
      for (uint32_t size : o.tables)
        if (!run_table(o, all, workers, size)) {
          std::fprintf(stderr, "dpdk_bench: %u worker(s), table %u failed\n", workers, size);
          rc = 1;
          break;
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
