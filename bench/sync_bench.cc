// SPDX-License-Identifier: Apache-2.0
// Connection-state sync throughput: new flows per second the BACKUP applies
// with lag under 100 ms.
//
// Method: two real sluice.bpf.o programs (loaded, not attached) stand for
// the MASTER and the BACKUP, each with its own connection table, and two
// SyncServices talk over loopback UDP in this process. New flows are made
// by BPF_PROG_TEST_RUN of SYNs on the MASTER's program at a fixed offered
// rate, so they travel the whole way: fast path -> ring buffer -> sync
// thread -> UDP -> BACKUP's sync thread -> its connection table. The bench
// marks the time of every 32nd flow it makes, and every 5 ms reads how many
// the BACKUP has applied; the lag of a reading is how long ago the newest
// applied flow was made (an upper bound: from the mark before it). A rate holds when every flow arrives
// (none lost in the ring, none dropped) and the worst lag stays < 100 ms.
// Needs root. Usage: sync_bench [seconds per rate] [rate ...]
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "bench/bench_frame.h"
#include "control/sync/sync_service.h"
#include "core/wrr.h"
#include "tests/sync/sync_test_util.h"
#include "xdp/xdp_dataplane.h"

namespace sluice {
namespace {

constexpr uint32_t kVip = 0xc6120064;  // 198.18.0.100
constexpr int kBackends = 4;

using Clock = std::chrono::steady_clock;
using sync::testing::free_udp_port;

// One VIP (198.18.0.100:80/tcp, dsr) over backends 198.18.0.11..14 at
// slots `first`.., generation `gen`; the tables sync needs, returned.
Result<sync::SyncTables> fill(XdpDataplane& dp, uint32_t first, uint32_t gen) {
  sync::SyncTables t;
  sync::SyncTables::Vip v;
  v.key.addr[0] = htonl(kVip);
  v.key.port = htons(80);
  v.key.proto = 6;
  v.key.family = SL_AF_INET;
  v.vip_id = 0;
  for (uint32_t i = 0; i < kBackends; ++i) {
    sl_backend be{};
    be.addr[0] = htonl(0xc612000b + i);
    be.mac[0] = 2;
    be.mac[5] = uint8_t(0x10 + i);
    be.family = SL_AF_INET;
    be.flags = SL_BE_F_LIVE;
    be.gen = gen;
    if (auto r = dp.backend_put(first + i, be); !r.ok()) return r.error();
    IpAddr a;
    a.family = SL_AF_INET;
    std::memcpy(a.bytes.data(), &be.addr[0], 4);
    v.backends.push_back({first + i, a});
  }
  auto ring = std::make_unique<sl_ring>();
  std::memset(ring.get(), 0, sizeof(*ring));
  uint32_t w[kBackends] = {1, 1, 1, 1};
  ring->len = sl_wrr_build(w, kBackends, ring->slots, SL_RING_SLOTS);
  for (uint32_t i = 0; i < ring->len; ++i) ring->slots[i] = uint16_t(first + ring->slots[i]);
  if (auto r = dp.ring_put(0, *ring); !r.ok()) return r.error();
  sl_vip_meta meta{};
  if (auto r = dp.vip_put(v.key, meta); !r.ok()) return r.error();
  sl_global g{};
  g.role = SL_ROLE_ACTIVE;
  g.lb_mac[0] = 2;
  g.lb_mac[5] = 1;
  if (auto r = dp.global_set(g); !r.ok()) return r.error();
  t.vips.push_back(v);
  return t;
}

struct Outcome {
  uint64_t offered_rate = 0;
  uint64_t made = 0;
  double seconds = 0;     // how long making them took
  uint64_t applied = 0;
  uint64_t events_lost = 0;
  uint64_t no_backend = 0;
  uint64_t drops = 0;
  uint64_t resyncs = 0;   // asked by the BACKUP while flows were made (a gap)
  uint64_t outbox_full = 0;
  double lag_max_ms = 0;
  double lag_mean_ms = 0;
  double drain_ms = 0;    // after the last flow, until the BACKUP had them all
  bool ok() const {
    return applied == made && events_lost == 0 && resyncs == 0 && lag_max_ms < 100;
  }
};

Result<std::unique_ptr<XdpDataplane>> open_dp() {
  XdpOptions o;
  o.attach = false;
  o.pin = false;
  o.conn_table_size = 4u << 20;
  return XdpDataplane::open(o);
}

Result<Outcome> run_rate(uint64_t rate, double seconds, uint32_t flow_base) {
  auto m = open_dp();
  if (!m.ok()) return m.error();
  auto b = open_dp();
  if (!b.ok()) return b.error();
  auto tm = fill(**m, 0, 1);
  if (!tm.ok()) return tm.error();
  auto tb = fill(**b, 100, 5);  // other slots and gens: the translation is real
  if (!tb.ok()) return tb.error();

  uint16_t pm = free_udp_port(), pb = free_udp_port();
  auto svc = [&](XdpDataplane& dp, uint16_t own, uint16_t peer) {
    sync::SyncOptions o;
    o.config.peer = *IpAddr::parse("127.0.0.1");
    o.config.port = own;
    o.bind = o.config.peer;
    o.peer_port = peer;
    return sync::SyncService::start(o, dp);
  };
  auto sm = svc(**m, pm, pb);
  if (!sm.ok()) return sm.error();
  auto sb = svc(**b, pb, pm);
  if (!sb.ok()) return sb.error();
  (*sm)->set_tables(*tm);
  (*sb)->set_tables(*tb);
  (*sm)->set_master(true);
  auto wait_start = Clock::now();
  while (!(*sb)->resynced()) {
    if (Clock::now() - wait_start > std::chrono::seconds(10))
      return make_error("sync_bench: the BACKUP never resynced");
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(50));  // events on
  uint64_t resyncs_before = (*sb)->report().resyncs_requested;

  Outcome out;
  out.offered_rate = rate;
  uint64_t total = uint64_t(double(rate) * seconds);
  bench::Frame f(kVip, 0x02);
  int prog = (*m)->prog_fd();
  // (time, flows made by then), one entry per sample.
  std::vector<std::pair<double, uint64_t>> made_at;
  double lag_sum = 0;
  uint64_t lag_n = 0;
  auto sample = [&](double t) {
    made_at.emplace_back(t, out.made);
    uint64_t applied = (*sb)->report().records_applied;
    if (applied == 0) return applied;
    // The newest applied flow was made after the last mark that had made
    // fewer: its lag is at most now minus that mark (marks every 32 flows).
    auto it = std::lower_bound(made_at.begin(), made_at.end(), applied,
                               [](const auto& s, uint64_t v) { return s.second < v; });
    if (it != made_at.end()) {
      if (it != made_at.begin()) --it;
      double lag = (t - it->first) * 1000;
      out.lag_max_ms = std::max(out.lag_max_ms, lag);
      lag_sum += lag;
      ++lag_n;
    }
    return applied;
  };
  auto t0 = Clock::now();
  auto secs = [&] { return std::chrono::duration<double>(Clock::now() - t0).count(); };
  double next_sample = 0;
  while (out.made < total) {
    double t = secs();
    uint64_t due = std::min<uint64_t>(total, uint64_t(t * double(rate)) + 1);
    while (out.made < due) {
      f.set_flow(flow_base + uint32_t(out.made));
      uint32_t action = 0;
      if (bench::run_once(prog, f, &action) < 0) return make_error("BPF_PROG_TEST_RUN", errno);
      ++out.made;
      if ((out.made & 31) == 0) {
        double now = secs();
        made_at.emplace_back(now, out.made);
        if (now >= next_sample) break;
      }
    }
    t = secs();
    if (t >= next_sample) {
      sample(t);
      next_sample = t + 0.005;
    }
    if (out.made >= due) std::this_thread::sleep_for(std::chrono::microseconds(200));
  }
  out.seconds = secs();
  double last = out.seconds;
  uint64_t applied = 0;
  while (secs() - last < 5) {
    double t = secs();
    applied = sample(t);
    if (applied >= out.made) {
      out.drain_ms = (t - last) * 1000;
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  auto rb = (*sb)->report();
  auto rm = (*sm)->report();
  out.applied = rb.records_applied;
  out.events_lost = rm.events_lost;
  out.no_backend = rb.records_no_backend;
  for (auto d : rb.drops) out.drops += d;
  out.resyncs = rb.resyncs_requested - resyncs_before;
  out.outbox_full = (*sm)->extra().outbox_full;
  out.lag_mean_ms = lag_n ? lag_sum / double(lag_n) : 0;
  return out;
}

}  // namespace
}  // namespace sluice

int main(int argc, char** argv) {
  double seconds = argc > 1 ? std::atof(argv[1]) : 2.0;
  std::vector<uint64_t> rates;
  for (int i = 2; i < argc; ++i) rates.push_back(std::strtoull(argv[i], nullptr, 10));
  if (rates.empty()) rates = {25000, 50000, 100000, 150000, 200000};
  std::printf("| offered flows/s | made/s | made | took s | applied | ring lost | dropped | send queue full | resyncs | "
              "lag max ms | lag mean ms | drain ms | holds |\n"
              "|---|---|---|---|---|---|---|---|---|---|---|---|---|\n");
  uint32_t base = 0;
  for (uint64_t r : rates) {
    auto o = sluice::run_rate(r, seconds, base);
    if (!o.ok()) {
      std::fprintf(stderr, "sync_bench: %s\n", o.error().message().c_str());
      return 1;
    }
    base += uint32_t(o->made);
    std::printf("| %llu | %.0f | %llu | %.2f | %llu | %llu | %llu | %llu | %llu | %.1f | %.1f | %.1f | %s |\n",
                (unsigned long long)o->offered_rate, double(o->made) / o->seconds,
                (unsigned long long)o->made, o->seconds,
                (unsigned long long)o->applied, (unsigned long long)o->events_lost,
                (unsigned long long)o->drops, (unsigned long long)o->outbox_full,
                (unsigned long long)o->resyncs, o->lag_max_ms, o->lag_mean_ms, o->drain_ms,
                o->ok() ? "yes" : "no");
    std::fflush(stdout);
  }
  return 0;
}
