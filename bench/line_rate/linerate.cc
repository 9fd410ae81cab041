// SPDX-License-Identifier: Apache-2.0
// The whole XDP path at the highest rate this machine allows (issue 10,
// items 4 and 5). bench/linerate builds the lab (one namespace, one veth
// pair: gen <-> lb) and runs this inside it:
//
//   generator  BPF_PROG_RUN + BPF_F_TEST_XDP_LIVE_FRAMES of gen.bpf.o on
//              `gen` (one thread per sender CPU, paced in batches): XDP_TX
//              sends each frame out of `gen` into `lb`
//   balancer   sluice.bpf.o attached native to `lb` (XdpDataplane, the
//              benchmarks' tables): XDP_TX sends it back out of `lb`
//   backends   counter.bpf.o attached native to `gen` counts what arrives
//              (IPIP / DSR / other) and drops it
//
// A veth delivers into the peer's receive queue smp_processor_id() %
// queues, and runs that queue's NAPI on the sending CPU: "queues" here are
// sender CPUs, each with its own veth queue, and each CPU runs generator,
// balancer and counter for its packets. Offered = frames the generators
// sent per second; forwarded = frames the counter saw per second; loss =
// 1 - forwarded / offered. Every point is bounded (--seconds).
//
// Modes:
//   rates  Mpps forwarded against offered rate, for one mix and queue count
//   scale  cost against live flows: for each N, a fresh 16M-entry table
//          holding N flows; ns per hit (BPF_PROG_TEST_RUN, beside the
//          no-op floor) and forwarded Mpps at the highest rate (1 queue)
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/if_link.h>
#include <net/if.h>
#include <dirent.h>
#include <pthread.h>
#include <sys/mount.h>
#include <sched.h>
#include <time.h>
#include <unistd.h>

#include <fstream>

#include <CLI/CLI.hpp>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "bench/bench_frame.h"
#include "bench/bench_tables.h"
#include "core/abi.h"
#include "lr_counter.skel.h"
#include "lr_gen.skel.h"
#include "noop_tx.skel.h"
#include "xdp/xdp_dataplane.h"
#include "bench/line_rate/live_frames.h"

namespace sluice::bench {
namespace {

constexpr uint32_t kVipDsr = 0xc6120064;   // 198.18.0.100
constexpr uint32_t kVipIpip = 0xc6120065;  // 198.18.0.101
uint32_t kBatch = 65536;   // runs per BPF_PROG_RUN call (--batch): a call costs ~2 ms to set up
uint32_t kKernelBatch = 16;  // runs per kernel batch, flushed to the veth (--kernel-batch)

[[noreturn]] void die(const std::string& m) {
  std::fprintf(stderr, "linerate: %s\n", m.c_str());
  std::exit(1);
}

void pin(int cpu) {
  if (!pin_cpu(cpu)) die("cannot pin to CPU " + std::to_string(cpu));
}

struct Opts {
  std::string mode = "rates";  // rates | scale
  std::string gen_if = "gen", lb_if = "lb";
  std::string mix = "hit";     // hit | new
  std::string encap = "ipip";  // ipip | dsr
  int queues = 1;
  uint32_t flows = 10000;
  std::vector<double> rates{0.25, 0.5, 1, 2, 0};  // Mpps offered; 0: as fast as possible
  std::vector<uint64_t> scale_flows{1000, 10000, 100000, 1000000, 10000000};
  uint32_t table = SL_CONN_TABLE_DEFAULT;
  double seconds = 2;
  std::string json;
};

void napi_threaded(const std::string& ifname, int cpu);

struct Lab {
  std::unique_ptr<XdpDataplane> dp;
  lr_counter_bpf* counter = nullptr;
  int gen_ifindex = 0, lb_ifindex = 0;
  uint32_t vip = kVipIpip;
  ~Lab() {
    if (counter) {
      bpf_xdp_detach(gen_ifindex, XDP_FLAGS_DRV_MODE, nullptr);
      lr_counter_bpf__destroy(counter);
    }
    if (dp) (void)dp->detach();
  }
};

void lab_open(Lab& lab, const Opts& o, uint32_t table) {
  lab.gen_ifindex = int(if_nametoindex(o.gen_if.c_str()));
  lab.lb_ifindex = int(if_nametoindex(o.lb_if.c_str()));
  if (!lab.gen_ifindex || !lab.lb_ifindex) die("no interfaces " + o.gen_if + "/" + o.lb_if);
  if (lab.dp) {
    (void)lab.dp->detach();
    lab.dp.reset();
  }
  XdpOptions x;
  x.ifname = o.lb_if;
  x.pin = false;
  x.conn_table_size = table;
  auto d = XdpDataplane::open(x);
  if (!d.ok()) die("sluice on " + o.lb_if + ": " + d.error().message());
  lab.dp = std::move(*d);
  if (auto r = two_vips_fill(*lab.dp, kVipDsr, kVipIpip, 3); !r.ok()) die(r.error().message());
  lab.vip = o.encap == "dsr" ? kVipDsr : kVipIpip;
  if (!lab.counter) {
    lab.counter = lr_counter_bpf__open_and_load();
    if (!lab.counter) die("loading counter.bpf.o failed");
    if (bpf_xdp_attach(lab.gen_ifindex, bpf_program__fd(lab.counter->progs.lr_count),
                       XDP_FLAGS_DRV_MODE, nullptr) != 0)
      die("attaching the counter to " + o.gen_if + " failed");
  }
  // 1 queue: generator and counter on CPU 0, the balancer on CPU 1 (a
  // balancer core of its own, as on a NIC). 2 queues: both CPUs do all.
  bool split = o.queues == 1 && std::thread::hardware_concurrency() >= 2;
  napi_threaded(o.lb_if, split ? 1 : -1);
  napi_threaded(o.gen_if, split ? 0 : -1);
}

// /sys of this network namespace, in a mount namespace of our own (what
// `ip netns exec` does): the NAPI switches below live there.
void own_sysfs() {
  if (unshare(CLONE_NEWNS) != 0 || mount("", "/", nullptr, MS_SLAVE | MS_REC, nullptr) != 0 ||
      umount2("/sys", MNT_DETACH) != 0 || mount("sysfs", "/sys", "sysfs", 0, nullptr) != 0)
    die("cannot mount this namespace's /sys");
}

// Threaded NAPI: each veth queue's receive work runs in a kthread
// (napi/<if>-<id>) instead of the sending CPU's softirq. Without it a veth
// receives only when the BPF_PROG_RUN call ends, one ring (256 frames) per
// call. `cpu` < 0: leave the threads to the scheduler.
void napi_threaded(const std::string& ifname, int cpu) {
  std::ofstream f("/sys/class/net/" + ifname + "/threaded");
  f << "1";
  f.close();
  if (!f) die("cannot turn on threaded NAPI on " + ifname);
  if (cpu < 0) return;
  DIR* d = opendir("/proc");
  if (!d) die("cannot read /proc");
  std::string want = "napi/" + ifname + "-";
  while (dirent* e = readdir(d)) {
    std::ifstream c(std::string("/proc/") + e->d_name + "/comm");
    std::string comm;
    if (!std::getline(c, comm) || comm.rfind(want, 0) != 0) continue;
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    sched_setaffinity(std::stoi(e->d_name), sizeof(set), &set);
  }
  closedir(d);
}

uint64_t counted(const Lab& lab, uint32_t cls) {
  int n = libbpf_num_possible_cpus();
  std::vector<uint64_t> v(size_t(n > 0 ? n : 1));
  if (bpf_map_lookup_elem(bpf_map__fd(lab.counter->maps.lr_counts), &cls, v.data()) != 0)
    die("reading the counter failed");
  uint64_t s = 0;
  for (auto x : v) s += x;
  return s;
}
uint64_t forwarded(const Lab& lab) { return counted(lab, 0) + counted(lab, 1); }

uint64_t reason(const Lab& lab, sl_reason r) {
  auto c = lab.dp->reason_counters();
  if (!c.ok()) die(c.error().message());
  return (*c)[r].packets;
}

// A generator loaded for one mix; its sequence starts at zero.
struct Gen {
  lr_gen_bpf* skel = nullptr;
  Gen(bool new_flows, uint32_t flows, uint32_t base, uint32_t tx_every = 1) {
    skel = lr_gen_bpf__open();
    if (!skel) die("opening gen.bpf.o failed");
    skel->rodata->lr_flows = flows ? flows : 1;
    skel->rodata->lr_new_flows = new_flows;
    skel->rodata->lr_base = base;
    skel->rodata->lr_tx_every = tx_every ? tx_every : 1;
    if (lr_gen_bpf__load(skel) != 0) die("loading gen.bpf.o failed");
  }
  ~Gen() { lr_gen_bpf__destroy(skel); }
  int fd() const { return bpf_program__fd(skel->progs.lr_gen); }
  uint64_t sum(const __u64* a) const {
    uint64_t s = 0;
    for (int c = 0; c < 64; ++c) s += a[c * 8];
    return s;
  }
  uint64_t sent() const { return sum(skel->bss->lr_seq); }
  uint64_t runs() const { return sum(skel->bss->lr_iter); }
};

// Sends for `seconds` at `mpps` in total (0: as fast as it can) from
// `queues` sender CPUs; returns the frames sent.
uint64_t send(const Lab& lab, const Gen& g, int queues, double mpps, double seconds) {
  std::atomic<uint64_t> sent{0};
  std::vector<std::thread> th;
  for (int q = 0; q < queues; ++q) {
    th.emplace_back([&, q] {
      pin(q);
      Frame f(lab.vip, 0x10);
      double start = now_s();
      uint64_t mine = 0;
      (void)mpps;
      for (;;) {
        if (now_s() - start >= seconds) break;
        if (live_frames_run(g.fd(), f.b, sizeof(f.b), lab.gen_ifindex, kBatch, kKernelBatch) != 0)
          die("live BPF_PROG_RUN failed");
        mine += kBatch;
      }
      sent += mine;
    });
  }
  for (auto& t : th) t.join();
  return sent;
}

struct Point {
  double offered_mpps, forwarded_mpps, loss;
  uint64_t sent, got;
};

Point measure(const Lab& lab, const Gen& g, int queues, double mpps, double seconds) {
  uint64_t before = forwarded(lab), sent0 = g.sent();
  double t0 = now_s();
  send(lab, g, queues, mpps, seconds);
  uint64_t sent = g.sent() - sent0;
  double el = now_s() - t0;
  // Frames still in a veth ring are counted within a few ms.
  struct timespec ts{0, 20 * 1000 * 1000};
  nanosleep(&ts, nullptr);
  uint64_t got = forwarded(lab) - before;
  return {double(sent) / el / 1e6, double(got) / el / 1e6,
          sent ? 1.0 - double(got) / double(sent) : 0.0, sent, got};
}

// Records flows [base, base + n) as the balancer itself would: one SYN each
// through BPF_PROG_TEST_RUN (not live), checked.
// Each flow's SYN, then its ACK: a SYN's record waits in the SYN table
// (65,536 entries) until the ACK confirms it into the connection table.
void establish(const Lab& lab, uint32_t base, uint64_t n) {
  Frame syn(lab.vip, 0x02), ack(lab.vip, 0x10);
  uint32_t action;
  uint64_t before = reason(lab, SL_R_TX_NEW);
  for (uint64_t i = 0; i < n; ++i) {
    syn.set_flow(base + uint32_t(i));
    ack.set_flow(base + uint32_t(i));
    if (run_once(lab.dp->prog_fd(), syn, &action) < 0 || action != XDP_TX ||
        run_once(lab.dp->prog_fd(), ack, &action) < 0 || action != XDP_TX)
      die("a SYN or its ACK was not forwarded while establishing flows");
  }
  uint64_t got = reason(lab, SL_R_TX_NEW) - before;
  if (got != n) die("established " + std::to_string(got) + " of " + std::to_string(n));
}

nlohmann::json context(const Opts& o) {
  return {{"kernel", ""}, {"queues", o.queues}, {"mix", o.mix}, {"encap", o.encap},
          {"seconds_per_point", o.seconds}, {"frame_bytes", 64}, {"batch", kBatch},
          {"dataplane", "xdp"}};
}

int run_rates(const Opts& o) {
  Lab lab;
  lab_open(lab, o, o.table);
  bool new_flows = o.mix == "new";
  uint32_t base = 0x1000000;
  if (!new_flows) establish(lab, base, o.flows);
  nlohmann::json out = context(o);
  out["flows"] = new_flows ? 0 : o.flows;
  out["conn_table_size"] = o.table;
  // The generator's own speed per sender CPU (every run dropped): the
  // pacing divisor for a target rate is that over the target.
  double raw;
  {
    Gen cal(false, 1, base, 1u << 30);
    double t0 = now_s();
    send(lab, cal, o.queues, 0, 0.5);
    raw = double(cal.runs()) / (now_s() - t0) / 1e6;
  }
  std::printf("generator: %.2f M runs/s over %d sender CPU(s)\n", raw, o.queues);
  out["generator_runs_mpps"] = raw;
  uint32_t next_base = 0x2000000;
  for (double r : o.rates) {
    uint32_t every = r > 0 ? uint32_t(std::max(1.0, raw / r)) : 1;
    Gen g(new_flows, o.flows, new_flows ? next_base : base, every);
    next_base += 0x1000000;
    uint64_t hit0 = reason(lab, SL_R_TX_HIT), new0 = reason(lab, SL_R_TX_NEW);
    Point p = measure(lab, g, o.queues, r, o.seconds);
    uint64_t hits = reason(lab, SL_R_TX_HIT) - hit0, news = reason(lab, SL_R_TX_NEW) - new0;
    std::printf("%-6s %d queue(s)  offered %7.3f Mpps (%s)  forwarded %7.3f Mpps  loss %5.1f%%"
                "  [hits %llu, new %llu]\n",
                o.mix.c_str(), o.queues, p.offered_mpps, r > 0 ? "paced" : "max",
                p.forwarded_mpps, 100 * p.loss, (unsigned long long)hits,
                (unsigned long long)news);
    std::fflush(stdout);
    out["points"].push_back({{"target_mpps", r}, {"offered_mpps", p.offered_mpps},
                             {"forwarded_mpps", p.forwarded_mpps}, {"loss", p.loss},
                             {"sent", p.sent}, {"forwarded", p.got}, {"balancer_hits", hits},
                             {"balancer_new", news}});
  }
  if (!o.json.empty()) {
    FILE* f = std::fopen(o.json.c_str(), "w");
    if (!f) die("cannot write " + o.json);
    std::fputs(out.dump(1).c_str(), f);
    std::fclose(f);
  }
  return 0;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

int run_scale(const Opts& o) {
  noop_tx_bpf* noop = noop_tx_bpf__open_and_load();
  if (!noop) die("loading noop_tx.bpf.o failed");
  int floor_fd = bpf_program__fd(noop->progs.sluice_noop_tx);
  nlohmann::json out = context(o);
  out["conn_table_size"] = o.table;
  Lab lab;
  for (uint64_t n : o.scale_flows) {
    if (n > o.table) die("more flows than --table");
    lab_open(lab, o, o.table);  // a fresh, empty table each time
    uint32_t base = 0x1000000;
    double t0 = now_s();
    pin(0);
    establish(lab, base, n);
    double fill_s = now_s() - t0;
    // ns per hit over the floor: 5 samples of 100k calls, flows visited in
    // a scattered order (a stride prime to n), medians.
    Frame ack(lab.vip, 0x10), fl(lab.vip, 0x10);
    std::vector<double> over;
    uint64_t hit0 = reason(lab, SL_R_TX_HIT);
    uint64_t calls = 0, k = 0;
    for (int s = 0; s < 5; ++s) {
      int64_t tp = 0, tf = 0;
      uint32_t action;
      for (int i = 0; i < 100000; ++i) {
        k = (k + 7919) % n;
        ack.set_flow(base + uint32_t(k));
        tp += run_once(lab.dp->prog_fd(), ack, &action);
        tf += run_once(floor_fd, fl, &action);
        ++calls;
      }
      over.push_back(double(tp - tf) / 100000);
    }
    uint64_t hits = reason(lab, SL_R_TX_HIT) - hit0;
    if (hits != calls) die("scale: " + std::to_string(hits) + " of " + std::to_string(calls) +
                           " hits at " + std::to_string(n) + " flows");
    Gen g(false, uint32_t(n), base);
    Point p = measure(lab, g, 1, 0, o.seconds);
    std::printf("flows %9llu  table %u  hit %6.0f ns over floor  forwarded %6.3f Mpps (offered "
                "%6.3f, 1 queue)  fill %.1f s\n",
                (unsigned long long)n, o.table, median(over), p.forwarded_mpps, p.offered_mpps,
                fill_s);
    std::fflush(stdout);
    out["points"].push_back({{"flows", n}, {"hit_over_floor_ns", median(over)},
                             {"hit_over_floor_ns_samples", over},
                             {"forwarded_mpps", p.forwarded_mpps},
                             {"offered_mpps", p.offered_mpps}, {"loss", p.loss}});
  }
  noop_tx_bpf__destroy(noop);
  if (!o.json.empty()) {
    FILE* f = std::fopen(o.json.c_str(), "w");
    if (!f) die("cannot write " + o.json);
    std::fputs(out.dump(1).c_str(), f);
    std::fclose(f);
  }
  return 0;
}

}  // namespace
}  // namespace sluice::bench

int main(int argc, char** argv) {
  using namespace sluice::bench;
  Opts o;
  std::vector<double> scale_flows(o.scale_flows.begin(), o.scale_flows.end());
  CLI::App app{"Drives live frames into the balancer's interface and counts what reaches the "
               "backends (run by bench/linerate, inside its lab)",
               "linerate_drive"};
  app.add_option("--mode", o.mode, "rates: Mpps against offered rate; scale: cost against flows")
      ->check(CLI::IsMember({"rates", "scale"}))->capture_default_str();
  app.add_option("--gen-if", o.gen_if, "the generator's interface")->capture_default_str();
  app.add_option("--lb-if", o.lb_if, "the balancer's interface")->capture_default_str();
  app.add_option("--mix", o.mix, "hit: live flows; new: fresh flows")
      ->check(CLI::IsMember({"hit", "new"}))->capture_default_str();
  app.add_option("--encap", o.encap, "the VIP's mode")->check(CLI::IsMember({"ipip", "dsr"}))
      ->capture_default_str();
  app.add_option("--queues", o.queues, "RX queues (and generator CPUs)")
      ->check(CLI::Range(1, 64))->capture_default_str();
  app.add_option("--flows", o.flows, "live flows (rates mode)")->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_option("--rates", o.rates, "offered Mpps, comma separated; 0: as fast as possible")
      ->delimiter(',')->check(CLI::NonNegativeNumber);
  app.add_option("--scale-flows", scale_flows, "live flows per scale point, comma separated")
      ->delimiter(',')->check(CLI::Range(1.0, 1e8));
  app.add_option("--table", o.table, "connection table size")->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_option("--seconds", o.seconds, "per point")->check(CLI::Range(0.001, 60.0))
      ->capture_default_str();
  app.add_option("--json", o.json, "write the results here");
  app.add_option("--batch", kBatch, "runs per BPF_PROG_RUN call")->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_option("--kernel-batch", kKernelBatch, "runs per kernel batch")
      ->check(CLI::PositiveNumber)->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  o.scale_flows.assign(scale_flows.begin(), scale_flows.end());
  own_sysfs();
  int cpus = int(std::thread::hardware_concurrency());
  if (o.queues > cpus) die("--queues: 1.." + std::to_string(cpus) + " (this machine's CPUs)");
  if (o.rates.size() > 20) die("at most 20 rates");
  return o.mode == "scale" ? run_scale(o) : run_rates(o);
}
