// SPDX-License-Identifier: Apache-2.0
// Where the nanoseconds go: sluice.bpf.o beside variants of itself that each
// replace one step with the cheapest stand-in that keeps the decision
// (bench/breakdown/variant.bpf.c), plus core/parse.h alone and the no-op
// floor, in one process, one CPU, the same packets, interleaved rounds.
// A step's cost is (variant without it) subtracted from (the full program)
// in the same round, the median over rounds.
//
// Usage (root): breakdown [--obj-dir DIR] [--rounds 5] [--calls 100000]
//               [--json OUT]
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/bpf.h>
#include <sched.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "bench/bench_frame.h"
#include "bench/bench_tables.h"
#include "core/abi.h"
#include "noop_tx.skel.h"
#include "xdp/xdp_dataplane.h"

#ifndef BD_OBJ_DIR
#define BD_OBJ_DIR "."
#endif

namespace sluice::bench {
namespace {

constexpr uint32_t kVipDsr = 0xc6120064;   // 198.18.0.100
constexpr uint32_t kVipIpip = 0xc6120065;  // 198.18.0.101
constexpr uint32_t kNotVip = 0xc61200c8;   // 198.18.0.200
constexpr int kBackendsPerVip = 3;         // as katran_compare
constexpr uint32_t kFlows100k = 100000;

[[noreturn]] void die(const std::string& m) {
  std::fprintf(stderr, "breakdown: %s\n", m.c_str());
  std::exit(1);
}

// One program under test. `steer`: a sluice build (has tables and counters).
struct Prog {
  std::string name;      // "full", "no_counters", ...
  std::string step;      // what it leaves out ("" for the references)
  std::unique_ptr<XdpDataplane> dp;
  bpf_object* obj = nullptr;  // parse_only
  int fd = -1;
  bool counts = true;     // its reason counters work
  uint32_t vip = kVipIpip;
};

enum class Case { hit_hot, hit_100k, new_flow, pass };
const char* case_name(Case c) {
  switch (c) {
    case Case::hit_hot: return "hit_hot";
    case Case::hit_100k: return "hit_100k";
    case Case::new_flow: return "new_flow";
    case Case::pass: return "pass";
  }
  return "?";
}

struct Ctx {
  std::vector<Prog> progs;
  uint32_t calls = 100000;
  uint32_t next_flow = 0x400000;  // new-flow numbering, shared
};

std::unique_ptr<XdpDataplane> sluice_open(const std::string& object) {
  XdpOptions o;
  o.attach = false;
  o.pin = false;
  o.bpf_object = object;
  auto d = XdpDataplane::open(o);
  if (!d.ok()) die("loading " + (object.empty() ? "sluice.bpf.o" : object) + ": " +
                   d.error().message());
  if (auto r = two_vips_fill(**d, kVipDsr, kVipIpip, kBackendsPerVip); !r.ok())
    die(r.error().message());
  return std::move(*d);
}

bool is_steer(const Prog& p) { return p.dp != nullptr; }

// Which programs a case times: the references always, the variants whose
// stand-in keeps that case's decision.
bool applies(const Prog& p, Case c) {
  if (p.step.empty()) return true;
  if (p.name == "conn_cached") return c == Case::hit_hot || c == Case::hit_100k;
  if (p.name == "no_conn_insert" || p.name == "no_conn" || p.name == "no_clock")
    return c == Case::new_flow;
  if (p.name == "backend_cached" || p.name == "no_forward_helpers") return c != Case::pass;
  return true;
}

uint64_t reason(const Prog& p, sl_reason r) {
  auto c = p.dp->reason_counters();
  if (!c.ok()) die(c.error().message());
  return (*c)[r].packets;
}

struct Sample {
  double ns = 0;
  std::string check;  // empty: actions and reasons as expected
};

Sample timed(Ctx& c, const Prog& p, Case k) {
  Frame syn(p.vip, 0x02), ack(p.vip, 0x10), other(kNotVip, 0x10);
  uint32_t action;
  uint32_t want = k == Case::pass && is_steer(p) ? XDP_PASS : XDP_TX;
  sl_reason want_r = k == Case::pass ? SL_R_PASS_NOT_VIP
                     : k == Case::new_flow ? SL_R_TX_NEW : SL_R_TX_HIT;
  uint32_t base = 0x100000 * (p.vip == kVipDsr ? 1 : 2);
  if (is_steer(p)) {
    if (k == Case::hit_hot) {
      syn.set_flow(0xf00000);
      ack.set_flow(0xf00000);
      run_once(p.fd, syn, &action);
    } else if (k != Case::pass) {
      if (auto r = p.dp->conns_flush(); !r.ok()) die(r.error().message());
    }
    if (k == Case::hit_100k) {
      for (uint32_t i = 0; i < kFlows100k; ++i) {
        syn.set_flow(base + i);
        if (run_once(p.fd, syn, &action) < 0 || action != XDP_TX)
          die(p.name + ": a SYN was not forwarded while filling");
      }
    }
  }
  uint64_t before = is_steer(p) && p.counts ? reason(p, want_r) : 0;
  int64_t total = 0;
  uint64_t wrong = 0;
  for (uint32_t i = 0; i < c.calls; ++i) {
    const Frame* f = &ack;
    switch (k) {
      case Case::hit_hot: break;
      case Case::hit_100k: ack.set_flow(base + i % kFlows100k); break;
      case Case::new_flow: syn.set_flow(c.next_flow++ % 0x1000000 + 0x1000000); f = &syn; break;
      case Case::pass: f = &other; break;
    }
    int64_t ns = run_once(p.fd, *f, &action);
    if (ns < 0) die("BPF_PROG_TEST_RUN failed");
    total += ns;
    wrong += action != want;
  }
  Sample s;
  s.ns = double(total) / c.calls;
  if (wrong) s.check = std::to_string(wrong) + " wrong actions";
  if (is_steer(p) && p.counts) {
    uint64_t got = reason(p, want_r) - before;
    if (got != c.calls)
      s.check += " " + std::to_string(got) + " of " + std::to_string(c.calls) +
                 " took the expected reason";
  }
  return s;
}

double median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  size_t n = v.size();
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

// name, -D it was built with (file variant-<name>.bpf.o), the step it removes
struct VariantDef {
  const char* name;
  const char* step;
};
const VariantDef kVariants[] = {
    {"no_counters", "counters (3 per-CPU lookups)"},
    {"vip_cached", "VIP lookup (+ global, control)"},
    {"conn_cached", "conn lookup (hit)"},
    {"no_conn_insert", "conn insert"},
    {"no_conn", "conn lookup (miss) + insert"},
    {"backend_cached", "backend record + cursor"},
    {"no_forward_helpers", "check_mtu + adjust_head"},
    {"no_clock", "bpf_ktime_get_ns"},
};

}  // namespace
}  // namespace sluice::bench

int main(int argc, char** argv) {
  using namespace sluice::bench;
  std::string dir = BD_OBJ_DIR, json_out;
  int rounds = 5;
  Ctx c;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto val = [&]() -> std::string {
      if (i + 1 >= argc) die(a + " needs a value");
      return argv[++i];
    };
    if (a == "--obj-dir") dir = val();
    else if (a == "--rounds") rounds = std::stoi(val());
    else if (a == "--calls") c.calls = uint32_t(std::stoul(val()));
    else if (a == "--json") json_out = val();
    else if (a == "-h" || a == "--help") {
      std::puts("usage: breakdown [--obj-dir DIR] [--rounds 5] [--calls 100000] [--json OUT]");
      return 0;
    } else die("unknown argument " + a + " (--help)");
  }
  if (rounds < 1 || c.calls < 1000) die("--rounds >= 1 and --calls >= 1000");
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(0, &set);
  if (sched_setaffinity(0, sizeof(set), &set) != 0) die("cannot pin to CPU 0");

  noop_tx_bpf* noop = noop_tx_bpf__open_and_load();
  if (!noop) die("loading noop_tx.bpf.o failed (root?)");
  {
    Prog p;
    p.name = "floor";
    p.fd = bpf_program__fd(noop->progs.sluice_noop_tx);
    c.progs.push_back(std::move(p));
  }
  {
    Prog p;
    p.name = "parse_only";
    std::string path = dir + "/parse_only.bpf.o";
    p.obj = bpf_object__open_file(path.c_str(), nullptr);
    if (!p.obj || bpf_object__load(p.obj) != 0) die("cannot load " + path);
    p.fd = bpf_program__fd(bpf_object__find_program_by_name(p.obj, "bd_parse_only"));
    c.progs.push_back(std::move(p));
  }
  for (uint32_t vip : {kVipIpip, kVipDsr}) {
    Prog p;
    p.name = vip == kVipIpip ? "full" : "full_dsr";
    p.dp = sluice_open("");
    p.fd = p.dp->prog_fd();
    p.vip = vip;
    c.progs.push_back(std::move(p));
  }
  for (const auto& v : kVariants) {
    Prog p;
    p.name = v.name;
    p.step = v.step;
    p.dp = sluice_open(dir + "/variant-" + v.name + ".bpf.o");
    p.fd = p.dp->prog_fd();
    p.counts = p.name != "no_counters";
    c.progs.push_back(std::move(p));
  }

  const Case cases[] = {Case::hit_hot, Case::hit_100k, Case::new_flow, Case::pass};
  std::map<std::string, std::map<std::string, std::vector<double>>> ns, over, saved;
  nlohmann::json raw = nlohmann::json::array();
  bool ok = true;
  for (int round = 0; round < rounds; ++round) {
    for (Case k : cases) {
      std::vector<Prog*> run;
      for (auto& p : c.progs)
        if (applies(p, k)) run.push_back(&p);
      std::map<std::string, double> got;
      for (size_t j = 0; j < run.size(); ++j) {  // the order rotates every round
        Prog& p = *run[(j + size_t(round)) % run.size()];
        Sample s = timed(c, p, k);
        if (!s.check.empty()) {
          std::fprintf(stderr, "breakdown: %s/%s round %d: %s\n", case_name(k), p.name.c_str(),
                       round, s.check.c_str());
          ok = false;
        }
        got[p.name] = s.ns;
        raw.push_back({{"round", round}, {"case", case_name(k)}, {"program", p.name},
                       {"ns", s.ns}});
      }
      for (auto& [name, v] : got) {
        ns[case_name(k)][name].push_back(v);
        over[case_name(k)][name].push_back(v - got["floor"]);
        saved[case_name(k)][name].push_back(got["full"] - v);
      }
    }
    std::fprintf(stderr, "round %d of %d done\n", round + 1, rounds);
  }

  nlohmann::json out;
  out["rounds"] = rounds;
  out["calls_per_sample"] = c.calls;
  out["raw"] = raw;
  out["all_checks_passed"] = ok;
  // Table 1: each program over the floor; table 2: what each step costs.
  std::printf("| program | hit_hot | hit_100k | new_flow | pass |\n|---|---:|---:|---:|---:|\n");
  auto cell = [&](const std::string& cs, const std::string& prog,
                  std::map<std::string, std::map<std::string, std::vector<double>>>& m) {
    auto& v = m[cs][prog];
    if (v.empty()) return std::string("-");
    char b[32];
    std::snprintf(b, sizeof b, "%.0f", median(v));
    out["median"][cs][prog][&m == &ns ? "ns" : &m == &over ? "over_floor" : "step_cost"] =
        median(v);
    return std::string(b);
  };
  for (const auto& p : c.progs) {
    auto& m = p.name == "floor" ? ns : over;
    std::printf("| %s%s |", p.name.c_str(), p.name == "floor" ? " (ns, absolute)" : "");
    for (Case k : cases) std::printf(" %s |", cell(case_name(k), p.name, m).c_str());
    std::printf("\n");
  }
  std::printf("\nSTEPS\n| step (variant) | hit_hot | hit_100k | new_flow | pass |\n"
              "|---|---:|---:|---:|---:|\n");
  for (const auto& p : c.progs) {
    if (p.step.empty()) continue;
    std::printf("| %s (`%s`) |", p.step.c_str(), p.name.c_str());
    for (Case k : cases) std::printf(" %s |", cell(case_name(k), p.name, saved).c_str());
    std::printf("\n");
  }
  std::printf("| parse alone, over the floor (`parse_only`) |");
  for (Case k : cases) std::printf(" %s |", cell(case_name(k), "parse_only", over).c_str());
  std::printf("\n| ipip encap minus dsr rewrite (`full` - `full_dsr`) |");
  for (Case k : cases) std::printf(" %s |", cell(case_name(k), "full_dsr", saved).c_str());
  std::printf("\n");
  if (!json_out.empty()) {
    FILE* f = std::fopen(json_out.c_str(), "w");
    if (!f) die("cannot write " + json_out);
    std::fputs(out.dump(1).c_str(), f);
    std::fclose(f);
  }
  for (auto& p : c.progs)
    if (p.obj) bpf_object__close(p.obj);
  noop_tx_bpf__destroy(noop);
  return ok ? 0 : 1;
}
