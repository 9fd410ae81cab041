// SPDX-License-Identifier: Apache-2.0
// What the firewall costs a packet (core/acl.h): sluice.bpf.o under
// BPF_PROG_TEST_RUN, one packet per call (bench/xdp_bench.cc's method),
// beside the no-op XDP_TX floor and the same hit without ACLs, measured in
// the same run. Rules are random source prefixes (/8 to /32, most of them
// /20 to /32, as block lists are); the client's own source is allowed by
// a /32, so its lookup walks as deep as the trie goes. Needs root.
//
// --repeat=N (N > 1): the warm mode. Each call runs the frame N times
// (bench_frame.h run_repeat), so caches and TLB stay warm between packets
// as under NAPI; every case here returns its input frame unchanged or
// rewritten the same way each time (dsr rewrites MACs only; a drop leaves
// it), so the N runs see the same packet. The reason counters' deltas
// check that every run of every call ended with the case's reason.
//
// --lpm: a trie with no room for a rule, so the program judges by the
// kernel's LPM trie acl_v4 (the lookup main had): both in one build, one
// session. Otherwise the trie has SL_ACL_MAX_NODES nodes; the `trie`
// counter says which one judged each case (below 8 rules: the LPM trie).
#include <arpa/inet.h>
#include <benchmark/benchmark.h>
#include <bpf/libbpf.h>
#include <linux/bpf.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <random>
#include <string>

#include "bench/bench_frame.h"
#include "bench/bench_tables.h"
#include "core/abi.h"
#include "core/acl.h"
#include "noop_tx.skel.h"
#include "xdp/xdp_dataplane.h"

namespace sluice {
namespace {

constexpr uint32_t kVip = 0xc6120064;   // 198.18.0.100, dsr
constexpr uint32_t kVip2 = 0xc6120065;  // 198.18.0.101
constexpr uint32_t kClient = 0xc6130000;  // 198.19.0.0: bench::Frame's flow 0
constexpr uint32_t kDenied = 0xc6130001;  // 198.19.0.1: flow 1
constexpr int kFloorRuns = 200000;
constexpr int64_t kPacketsPerCase = 500000;
uint32_t g_repeat = 1;  // --repeat
bool g_lpm = false;     // --lpm

struct NoopDeleter {
  void operator()(noop_tx_bpf* s) const { noop_tx_bpf__destroy(s); }
};

struct Env {
  std::unique_ptr<XdpDataplane> dp;
  std::unique_ptr<noop_tx_bpf, NoopDeleter> noop;
  double floor_ns = 0;
  double no_acl_ns = 0;
  double syn_no_acl_ns = 0;
  uint32_t vip_id = 0;
  uint32_t rules = 0;  // random rules in the VIP's scope so far
  std::mt19937 rng{9};
  std::string error;
};
Env g_env;

using bench::Frame;
using bench::run_once;

sl_vip_key vip_key() {
  sl_vip_key k{};
  k.addr[0] = htonl(kVip);
  k.port = htons(80);
  k.proto = 6;
  k.family = SL_AF_INET;
  return k;
}

Result<void> vip_flags(uint8_t flags) {
  auto m = g_env.dp->vip_get(vip_key());
  if (!m.ok()) return m.error();
  if (!*m) return make_error("bench VIP", ENOENT, "not programmed");
  sl_vip_meta meta = **m;
  meta.flags = flags;
  return g_env.dp->vip_put(vip_key(), meta);
}

Result<void> put(uint32_t scope, uint32_t addr, uint8_t len, sl_acl_action a, uint32_t id) {
  AclEntry e;
  e.scope = scope;
  e.family = SL_AF_INET;
  e.prefix_len = len;
  e.addr[0] = htonl(len == 0 ? 0 : addr & ~((1ull << (32 - len)) - 1));
  e.rule.rule_id = id;
  e.rule.action = static_cast<uint8_t>(a);
  return g_env.dp->acl_put(e);
}

// Grows the VIP's random deny rules to `n` (the client's allow and the
// denied source's /32 count among them). Prefixes never hold 198.19/16.
Result<void> rules_grow(uint32_t n) {
  uint32_t scope = sl_acl_scope_of_vip(g_env.vip_id);
  if (g_env.rules == 0) {
    if (auto r = put(scope, kClient, 32, SL_ACL_ALLOW, 0); !r.ok()) return r;
    if (auto r = put(scope, kDenied, 32, SL_ACL_DENY, 1); !r.ok()) return r;
    g_env.rules = 2;
  }
  std::uniform_int_distribution<int> len_of(0, 99);
  while (g_env.rules < n) {
    int l = len_of(g_env.rng);
    uint8_t len = uint8_t(l < 10 ? 8 + l : 20 + (l - 10) * 13 / 90);  // 10% /8../17, 90% /20../32
    uint32_t a = g_env.rng();
    if ((a >> 16) == (kClient >> 16) || (a >> 24) == (kClient >> 24)) continue;
    if (auto r = put(scope, a, len, SL_ACL_DENY, 2 + g_env.rules); !r.ok()) return r;
    ++g_env.rules;
  }
  return {};
}

bool env_init() {
  auto dp = bench::open_two_vips(kVip, kVip2, 4, 0,
                                 g_lpm ? SL_ACL_FIRST_FREE_NODE + 1 : SL_ACL_MAX_NODES);
  if (!dp.ok()) {
    g_env.error = dp.error().message();
    return false;
  }
  g_env.dp = std::move(*dp);
  auto m = g_env.dp->vip_get(vip_key());
  if (!m.ok() || !*m) {
    g_env.error = "bench VIP not programmed";
    return false;
  }
  g_env.vip_id = (*m)->vip_id;
  g_env.noop.reset(noop_tx_bpf__open_and_load());
  if (!g_env.noop) {
    g_env.error = "loading noop_tx.bpf.o failed";
    return false;
  }
  g_env.floor_ns = bench::floor_measure(bpf_program__fd(g_env.noop->progs.sluice_noop_tx), kVip,
                                        kFloorRuns);
  // The client's flow, established once: every case then times its ACK.
  Frame syn(kVip, 0x02);
  uint32_t action = 0;
  run_once(g_env.dp->prog_fd(), syn, &action);
  return action == XDP_TX;
}

// Packets of each reason so far, summed over CPUs.
std::array<uint64_t, SL_R_MAX> reasons_now() {
  std::array<uint64_t, SL_R_MAX> out{};
  auto c = g_env.dp->reason_counters();
  if (c.ok())
    for (uint32_t r = 0; r < SL_R_MAX; ++r) out[r] = (*c)[r].packets;
  return out;
}

// Times `f` through `fd`: repeat=1 calls, or --repeat runs per call. For
// sluice's program (want_reason != SL_R_NONE) the reason counters must
// have grown by exactly the packets sent, all under want_reason; the
// packets that did not are the `wrong_reason` counter.
void measure(benchmark::State& st, int fd, const Frame& f, uint32_t want_action,
             sl_reason want_reason, bool is_floor = false, bool is_no_acl = false) {
  double total = 0;
  int64_t n = 0, wrong = 0;
  auto before = reasons_now();
  for (auto _ : st) {
    uint32_t action = 0;
    double ns = g_repeat > 1 ? run_repeat(fd, f, g_repeat, &action) : double(run_once(fd, f, &action));
    if (ns < 0) {
      st.SkipWithError("BPF_PROG_TEST_RUN failed");
      return;
    }
    wrong += action != want_action;
    total += ns;
    ++n;
    st.SetIterationTime(ns * g_repeat * 1e-9);
  }
  int64_t packets = n * int64_t(g_repeat);
  int64_t wrong_reason = 0;
  if (want_reason != SL_R_NONE) {
    auto after = reasons_now();
    uint64_t all = 0;
    for (uint32_t r = 0; r < SL_R_MAX; ++r) all += after[r] - before[r];
    uint64_t right = after[want_reason] - before[want_reason];
    wrong_reason = int64_t(all - right) + std::abs(int64_t(right) - packets);
  }
  st.counters["wrong_reason"] = double(wrong_reason);
  st.counters["trie"] = g_env.dp->acl_trie_in_use() ? 1 : 0;
  st.counters["trie_nodes_used"] = g_env.dp->acl_trie_nodes_used();
  st.counters["packets"] = double(packets);
  double per = total / double(n);
  if (is_floor) g_env.floor_ns = per;
  if (is_no_acl) g_env.no_acl_ns = per;
  st.counters["ns_per_pkt"] = per;
  st.counters["floor_ns"] = g_env.floor_ns;
  st.counters["over_floor_ns"] = per - g_env.floor_ns;
  if (!is_floor && !is_no_acl) st.counters["over_no_acl_ns"] = per - g_env.no_acl_ns;
  if (g_env.syn_no_acl_ns > 0) st.counters["over_syn_no_acl_ns"] = per - g_env.syn_no_acl_ns;
  st.counters["mpps_per_core"] = 1e3 / per;
  st.counters["wrong_action"] = double(wrong);
}

void BM_floor(benchmark::State& st) {
  Frame f(kVip, 0x10);
  measure(st, bpf_program__fd(g_env.noop->progs.sluice_noop_tx), f, XDP_TX, SL_R_NONE, true);
}

// The client's established flow, no ACL flag on the VIP: the reference.
void BM_hit_no_acl(benchmark::State& st) {
  if (auto r = vip_flags(0); !r.ok()) return st.SkipWithError(r.error().message().c_str());
  Frame ack(kVip, 0x10);
  measure(st, g_env.dp->prog_fd(), ack, XDP_TX, SL_R_TX_HIT, false, true);
}

// The same hit, its source allowed by a /32 among `n` rules of the VIP.
// Adding the rules bumped the rule generation: the first timed packet is
// judged (and restamps the record), the rest compare generations.
void BM_hit_acl(benchmark::State& st) {
  uint32_t n = uint32_t(st.range(0));
  if (auto r = rules_grow(n); !r.ok()) return st.SkipWithError(r.error().message().c_str());
  if (auto r = vip_flags(SL_VIP_F_ACL); !r.ok())
    return st.SkipWithError(r.error().message().c_str());
  Frame ack(kVip, 0x10);
  measure(st, g_env.dp->prog_fd(), ack, XDP_TX, SL_R_TX_HIT);
}

// Two lookups: no rule of the VIP holds the source (the client's /32 is
// moved to the global scope), the global scope decides.
void BM_hit_acl_global(benchmark::State& st) {
  uint32_t n = uint32_t(st.range(0));
  if (auto r = rules_grow(n); !r.ok()) return st.SkipWithError(r.error().message().c_str());
  Frame ack(kVip, 0x10);
  ack.set_flow(2);                // 198.19.0.2: in no VIP rule
  uint32_t action = 0;
  if (auto r = vip_flags(0); !r.ok()) return st.SkipWithError(r.error().message().c_str());
  Frame syn(kVip, 0x02);
  syn.set_flow(2);
  run_once(g_env.dp->prog_fd(), syn, &action);
  if (auto r = put(SL_ACL_SCOPE_GLOBAL, 0xc6130002, 32, SL_ACL_ALLOW, SL_ACL_MAX_RULES - 1); !r.ok())
    return st.SkipWithError(r.error().message().c_str());
  if (auto r = vip_flags(SL_VIP_F_ACL | SL_VIP_F_ACL_GLOBAL); !r.ok())
    return st.SkipWithError(r.error().message().c_str());
  measure(st, g_env.dp->prog_fd(), ack, XDP_TX, SL_R_TX_HIT);
}

// A SYN of the client's flow (a retransmission: it finds its record, and
// goes to its backend). A SYN is judged at every packet, before the table
// (core/pipeline.h), so this is what a new connection's check costs; the
// reference is the same SYN with no ACL flag.
void BM_syn_no_acl(benchmark::State& st) {
  if (auto r = vip_flags(0); !r.ok()) return st.SkipWithError(r.error().message().c_str());
  Frame syn(kVip, 0x02);
  g_env.syn_no_acl_ns = 0;
  measure(st, g_env.dp->prog_fd(), syn, XDP_TX, SL_R_TX_HIT);
  g_env.syn_no_acl_ns = st.counters["ns_per_pkt"];
}

void BM_syn_acl(benchmark::State& st) {
  uint32_t n = uint32_t(st.range(0));
  if (auto r = rules_grow(n); !r.ok()) return st.SkipWithError(r.error().message().c_str());
  if (auto r = vip_flags(SL_VIP_F_ACL); !r.ok())
    return st.SkipWithError(r.error().message().c_str());
  Frame syn(kVip, 0x02);
  measure(st, g_env.dp->prog_fd(), syn, XDP_TX, SL_R_TX_HIT);
}

// A denied source (a /32 deny among `n` rules): dropped before the table.
void BM_drop_acl(benchmark::State& st) {
  uint32_t n = uint32_t(st.range(0));
  if (auto r = rules_grow(n); !r.ok()) return st.SkipWithError(r.error().message().c_str());
  if (auto r = vip_flags(SL_VIP_F_ACL); !r.ok())
    return st.SkipWithError(r.error().message().c_str());
  Frame syn(kVip, 0x02);
  syn.set_flow(1);
  measure(st, g_env.dp->prog_fd(), syn, XDP_DROP, SL_R_DROP_ACL);
}

void register_all() {
  auto manual = [](benchmark::internal::Benchmark* b, int64_t packets) {
    b->UseManualTime()->Iterations(std::max<int64_t>(1, packets / g_repeat))
        ->Unit(benchmark::kNanosecond);
  };
  manual(benchmark::RegisterBenchmark("noop_tx_floor", BM_floor), 500000);
  manual(benchmark::RegisterBenchmark("hit_no_acl", BM_hit_no_acl), 500000);
  manual(benchmark::RegisterBenchmark("syn_no_acl", BM_syn_no_acl), 500000);
  for (int64_t n : {1, 8, 64, 1000, 100000}) {
    std::string s = std::to_string(n);
    manual(benchmark::RegisterBenchmark(("hit_acl/" + s).c_str(), BM_hit_acl)->Arg(n), 500000);
    manual(benchmark::RegisterBenchmark(("syn_acl/" + s).c_str(), BM_syn_acl)->Arg(n), 500000);
    manual(benchmark::RegisterBenchmark(("drop_acl/" + s).c_str(), BM_drop_acl)->Arg(n), 500000);
  }
  manual(benchmark::RegisterBenchmark("hit_acl_global/100000", BM_hit_acl_global)->Arg(100000),
         500000);
  manual(benchmark::RegisterBenchmark("hit_no_acl_again", BM_hit_no_acl), 500000);
}

}  // namespace
}  // namespace sluice

int main(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--lpm") == 0)
      sluice::g_lpm = true;
    else if (std::strncmp(argv[i], "--repeat=", 9) == 0)
      sluice::g_repeat = uint32_t(std::max(1L, std::strtol(argv[i] + 9, nullptr, 10)));
    else
      continue;
    for (int j = i; j + 1 < argc; ++j) argv[j] = argv[j + 1];
    --argc;
    --i;
  }
  benchmark::Initialize(&argc, argv);
  if (!sluice::env_init()) {
    std::fprintf(stderr, "acl_bench: %s\n", sluice::g_env.error.c_str());
    return 1;
  }
  benchmark::AddCustomContext("acl_lookup", sluice::g_lpm ? "LPM tries (--lpm)" : "trie");
  benchmark::AddCustomContext(
      "method", sluice::g_repeat > 1
                    ? "BPF_PROG_TEST_RUN, repeat=" + std::to_string(sluice::g_repeat) +
                          " per call (warm), kernel duration"
                    : std::string("BPF_PROG_TEST_RUN, repeat=1 per packet, kernel duration"));
  sluice::register_all();
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
