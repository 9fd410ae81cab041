// SPDX-License-Identifier: Apache-2.0
// sluice.bpf.o beside Katran's balancer, in one process, on one CPU, with
// the same packets, in interleaved rounds, each beside the floor (a no-op
// XDP_TX program) measured in the same round. bench/compare-katran builds
// Katran's object from a checkout the user supplies and runs this.
//
// Katran is loaded with libbpf and programmed the way its user space does:
// one VIP (flags 0) with three reals (indices 1..3), its ring of RING_SIZE
// (65537) slots in ch_rings at vip_num * RING_SIZE, the default router's
// MAC in ctl_array[0], and one LRU per CPU (1,048,576 entries, as
// --lru_size gives it on one CPU) in lru_mapping. The ring is filled round
// robin, not by Maglev: which real a slot names costs nothing different.
//
// Katran stops recording new flows above MAX_CONN_RATE (125,000/s per CPU)
// by default; BPF_PROG_TEST_RUN drives far more than that. Its rate counter
// (stats[MAX_VIPS + NEW_CONN_RATE_CNTR]) is reset between timed calls, every
// kRateResetEvery SYNs, outside the kernel-measured window, so every SYN it
// sees is timed on the path that records the flow (verified: every one
// counted as an LRU miss, the flows found in the LRU afterwards).
//
// Beside them, each case's lower bound (bench/katran_prims.bpf.c): the map
// operations the case cannot avoid, alone, on maps shaped as sluice's (a
// 20-byte-key VIP hash, a 1,048,576-entry LRU hash of 40-byte flow keys),
// twice: the LRU as sluice has it ("prim") and with BPF_F_NO_COMMON_LRU
// ("prim_nocommon": per-CPU LRU lists, as Katran's per-CPU LRUs). Their
// tables are prepared per case as sluice's and Katran's are.
//
// Usage (root): katran_compare --katran-obj balancer.bpf.o [--rounds 5]
//               [--calls 100000] [--json OUT]
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/bpf.h>
#include <sched.h>

#include <algorithm>
#include <cerrno>
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
#include "katran_prims.skel.h"
#include "noop_tx.skel.h"
#include "xdp/xdp_dataplane.h"

namespace sluice::bench {
namespace {

constexpr uint32_t kVipKatran = 0xc6120066;  // 198.18.0.102
constexpr uint32_t kVipDsr = 0xc6120064;     // 198.18.0.100
constexpr uint32_t kVipIpip = 0xc6120065;    // 198.18.0.101
constexpr uint32_t kVipPrim = 0xc6120067;    // 198.18.0.103
constexpr uint32_t kNotVip = 0xc61200c8;     // 198.18.0.200
constexpr int kReals = 3;
constexpr uint32_t kFlows100k = 100000;
constexpr uint32_t kLruSize = 1u << 20;

// Katran's constants and map layouts at the commit the tool was written
// against (19f08fe), as facts: checked against the object's BTF sizes.
constexpr uint32_t kRingSize = 65537;
constexpr uint32_t kMaxVips = 512;
constexpr uint32_t kLruCntrs = 0, kLruMissCntr = 1, kNewConnRateCntr = 2, kFallbackLruCntr = 3;
constexpr uint32_t kRateResetEvery = 1000;
struct KVipDef {
  uint32_t addr[4];
  uint16_t port;
  uint8_t proto;
  uint8_t pad;
};
struct KVipMeta {
  uint32_t flags, vip_num;
};
struct KReal {
  uint32_t addr[4];
  uint8_t flags;
  uint8_t pad[3];
};
struct KStats {
  uint64_t v1, v2;
};

[[noreturn]] void die(const std::string& m) {
  std::fprintf(stderr, "katran_compare: %s\n", m.c_str());
  std::exit(1);
}

// Empties an LRU hash in place (--tables flushed): the freed entries go
// back to the LRU's free list in hash order, not in memory order as in a
// fresh map.
void flush_map(int fd, uint32_t key_size, uint32_t value_size) {
  std::vector<uint8_t> keys(size_t(key_size) * 4096), vals(size_t(value_size) * 4096);
  void* in = nullptr;
  uint64_t out = 0;
  for (;;) {
    uint32_t n = 4096;
    int rc = bpf_map_lookup_and_delete_batch(fd, in ? &out : nullptr, &out, keys.data(),
                                             vals.data(), &n, nullptr);
    if (rc != 0 && errno != ENOENT) die("flushing an LRU failed");
    if (rc != 0) return;
    in = &out;
  }
}

int ncpus() {
  int n = libbpf_num_possible_cpus();
  if (n <= 0) die("cannot count possible CPUs");
  return n;
}

// ---- Katran ---------------------------------------------------------------

struct Katran {
  bpf_object* obj = nullptr;
  int prog = -1, vip_map = -1, reals = -1, ch_rings = -1, ctl = -1, stats = -1, lru_mapping = -1;
  int lru = -1;  // CPU 0's LRU
  uint32_t key_size = 0, value_size = 0;

  static int map_fd(bpf_object* o, const char* name, uint32_t key, uint32_t value) {
    bpf_map* m = bpf_object__find_map_by_name(o, name);
    if (!m) die(std::string("Katran object has no map ") + name);
    if ((key && bpf_map__key_size(m) != key) || (value && bpf_map__value_size(m) != value))
      die(std::string("Katran map ") + name + " has another layout than this tool knows");
    return bpf_map__fd(m);
  }

  void open(const std::string& path) {
    obj = bpf_object__open_file(path.c_str(), nullptr);
    if (!obj) die("cannot open " + path);
    bpf_program* p = bpf_object__find_program_by_name(obj, "balancer_ingress");
    if (!p) die(path + ": no program balancer_ingress");
    if (bpf_object__load(obj) != 0) die("loading " + path + " failed (root? verifier log above)");
    prog = bpf_program__fd(p);
    vip_map = map_fd(obj, "vip_map", sizeof(KVipDef), sizeof(KVipMeta));
    reals = map_fd(obj, "reals", 4, 0);
    ch_rings = map_fd(obj, "ch_rings", 4, 4);
    ctl = map_fd(obj, "ctl_array", 4, 8);
    stats = map_fd(obj, "stats", 4, sizeof(KStats));
    lru_mapping = map_fd(obj, "lru_mapping", 4, 4);
    bpf_map* fb = bpf_object__find_map_by_name(obj, "fallback_cache");
    if (!fb) die("Katran object has no fallback_cache");
    key_size = bpf_map__key_size(fb);
    value_size = bpf_map__value_size(fb);
    fresh_lru();
    program();
  }

  // A new, empty per-CPU LRU for CPU 0 (the CPU this process runs on).
  void fresh_lru() {
    LIBBPF_OPTS(bpf_map_create_opts, o);
    int fd = bpf_map_create(BPF_MAP_TYPE_LRU_HASH, "katran_lru", key_size, value_size, kLruSize, &o);
    if (fd < 0) die("cannot create Katran's LRU");
    uint32_t cpu = 0;
    if (bpf_map_update_elem(lru_mapping, &cpu, &fd, BPF_ANY) != 0) die("lru_mapping update failed");
    if (lru >= 0) close(lru);
    lru = fd;
  }

  // Empties CPU 0's LRU in place (--tables flushed).
  void flush_lru() const { flush_map(lru, key_size, value_size); }

  void program() {
    for (uint32_t i = 1; i <= kReals; ++i) {
      std::vector<uint8_t> r(bpf_map__value_size(bpf_object__find_map_by_name(obj, "reals")));
      uint32_t a = htonl(0xc6120020 + i);  // 198.18.0.33+
      std::memcpy(r.data(), &a, 4);
      if (bpf_map_update_elem(reals, &i, r.data(), BPF_ANY) != 0) die("reals update failed");
    }
    for (uint32_t i = 0; i < kRingSize; ++i) {
      uint32_t real = 1 + i % kReals;
      if (bpf_map_update_elem(ch_rings, &i, &real, BPF_ANY) != 0) die("ch_rings update failed");
    }
    KVipDef d{};
    d.addr[0] = htonl(kVipKatran);
    d.port = htons(80);
    d.proto = 6;
    KVipMeta m{0, 0};
    if (bpf_map_update_elem(vip_map, &d, &m, BPF_ANY) != 0) die("vip_map update failed");
    uint64_t mac = 0;
    const uint8_t gw[6] = {2, 0, 0, 0, 0, 0xfe};
    std::memcpy(&mac, gw, 6);
    uint32_t zero = 0;
    if (bpf_map_update_elem(ctl, &zero, &mac, BPF_ANY) != 0) die("ctl_array update failed");
  }

  KStats stat(uint32_t key) const {
    std::vector<KStats> v(static_cast<size_t>(ncpus()));
    if (bpf_map_lookup_elem(stats, &key, v.data()) != 0) die("stats lookup failed");
    KStats s{};
    for (auto& x : v) s.v1 += x.v1, s.v2 += x.v2;
    return s;
  }
  void reset_rate() const {
    std::vector<KStats> v(static_cast<size_t>(ncpus()));
    uint32_t key = kMaxVips + kNewConnRateCntr;
    if (bpf_map_update_elem(stats, &key, v.data(), BPF_ANY) != 0) die("stats update failed");
  }
  bool has_flow(const Frame& f) const {
    std::vector<uint8_t> k(key_size), v(value_size);
    std::memcpy(k.data(), f.b + 26, 4);       // src
    std::memcpy(k.data() + 16, f.b + 30, 4);  // dst
    std::memcpy(k.data() + 32, f.b + 34, 4);  // ports
    k[36] = 6;
    return bpf_map_lookup_elem(lru, k.data(), v.data()) == 0;
  }
};

// ---- sluice ---------------------------------------------------------------

struct Sluice {
  std::unique_ptr<XdpDataplane> dp;

  // The two VIPs of xdp_bench, three backends each, as Katran has.
  void open() {
    XdpOptions o;
    o.attach = false;
    o.pin = false;
    auto d = XdpDataplane::open(o);
    if (!d.ok()) die("loading sluice.bpf.o: " + d.error().message());
    dp = std::move(*d);
    check(two_vips_fill(*dp, kVipDsr, kVipIpip, kReals));
  }
  template <class R>
  static void check(const R& r) {
    if (!r.ok()) die(r.error().message());
  }
  uint64_t reason(sl_reason r) const {
    auto c = dp->reason_counters();
    if (!c.ok()) die(c.error().message());
    return (*c)[r].packets;
  }
};

// ---- the lower bounds -----------------------------------------------------

// bench/katran_prims.bpf.c, loaded once per table kind. Which program a
// packet gets is what that packet needs: prim_pass for a packet not to the
// VIP, prim_new for a SYN (lookup miss + insert), prim_hit otherwise.
struct Prim {
  katran_prims_bpf* skel = nullptr;
  bool nocommon = false;
  int pass = -1, hit = -1, fresh = -1, conns = -1;

  void open() {
    skel = katran_prims_bpf__open();
    if (!skel) die("cannot open katran_prims.bpf.o");
    if (nocommon &&
        bpf_map__set_map_flags(skel->maps.prim_conns,
                               bpf_map__map_flags(skel->maps.prim_conns) | BPF_F_NO_COMMON_LRU))
      die("cannot set BPF_F_NO_COMMON_LRU");
    if (katran_prims_bpf__load(skel) != 0) die("loading katran_prims.bpf.o failed");
    pass = bpf_program__fd(skel->progs.prim_pass);
    hit = bpf_program__fd(skel->progs.prim_hit);
    fresh = bpf_program__fd(skel->progs.prim_new);
    conns = bpf_map__fd(skel->maps.prim_conns);
    sl_vip_key k{};
    k.addr[0] = htonl(kVipPrim);
    k.port = htons(80);
    k.proto = 6;
    k.family = SL_AF_INET;
    sl_vip_meta m{};
    m.vip_id = 1;
    if (bpf_map_update_elem(bpf_map__fd(skel->maps.prim_vips), &k, &m, BPF_ANY) != 0)
      die("prim_vips update failed");
  }
  void close() {
    katran_prims_bpf__destroy(skel);
    skel = nullptr;
  }
  int prog_for(const Frame& f) const {
    uint32_t dst;
    std::memcpy(&dst, f.b + 30, 4);
    if (dst != htonl(kVipPrim)) return pass;
    return f.b[47] & 0x02 ? fresh : hit;
  }
  bool has_flow(const Frame& f) const {
    sl_flow_key k{};
    std::memcpy(&k.src[0], f.b + 26, 4);
    std::memcpy(&k.dst[0], f.b + 30, 4);
    std::memcpy(&k.sport, f.b + 34, 2);
    std::memcpy(&k.dport, f.b + 36, 2);
    k.proto = 6;
    k.family = SL_AF_INET;
    sl_conn v{};
    return bpf_map_lookup_elem(conns, &k, &v) == 0;
  }
};

// ---- the runs -------------------------------------------------------------

enum class Sys { floor, katran, sluice_ipip, sluice_dsr, prim, prim_nocommon };
constexpr int kSystems = 6;
bool is_prim(Sys s) { return s == Sys::prim || s == Sys::prim_nocommon; }
const char* sys_name(Sys s) {
  switch (s) {
    case Sys::floor: return "floor";
    case Sys::katran: return "katran";
    case Sys::sluice_ipip: return "sluice_ipip";
    case Sys::sluice_dsr: return "sluice_dsr";
    case Sys::prim: return "prim";
    case Sys::prim_nocommon: return "prim_nocommon";
  }
  return "?";
}

struct Ctx {
  Katran k;
  Sluice s;
  Prim p, pn;  // the lower bounds: common LRU, BPF_F_NO_COMMON_LRU
  int noop = -1;
  uint32_t calls = 100000;
  uint32_t next_flow[kSystems] = {0x400000, 0x800000, 0xc00000, 0,  // by Sys, new-flow numbering
                                  0x1000000, 0x1400000};
  uint32_t filled = 0;  // full-table filler flows, shared numbering
  bool flushed = false;  // --tables flushed: both tables emptied in place
};

Prim& prim_of(Ctx& c, Sys s) { return s == Sys::prim ? c.p : c.pn; }
// The program `s` runs for packet `f` (the lower bounds: per packet kind).
int prog_of(Ctx& c, Sys s, const Frame& f) {
  switch (s) {
    case Sys::floor: return c.noop;
    case Sys::katran: return c.k.prog;
    case Sys::prim:
    case Sys::prim_nocommon: return prim_of(c, s).prog_for(f);
    default: return c.s.dp->prog_fd();
  }
}
uint32_t vip_of(Sys s) {
  if (is_prim(s)) return kVipPrim;
  return s == Sys::katran ? kVipKatran : s == Sys::sluice_ipip ? kVipIpip : kVipDsr;
}

// Every case but the hot hit starts from an empty connection table, the
// same kind for both (--tables): `fresh`, new maps (Katran: a new LRU;
// sluice: the program loaded again with new maps), whose entries are handed
// out in memory order, as in a balancer just started; or `flushed`, the
// same maps emptied in place, whose freed entries come back in hash order,
// scattered over the whole preallocated table, as in a balancer whose table
// has turned over. The two differ by ~300 ns per lookup on this machine
// (cache and TLB misses), more than the programs differ: both are stated.
void empty_table(Ctx& c, Sys s) {
  if (s == Sys::floor) return;
  if (s == Sys::katran) {
    if (c.flushed) c.k.flush_lru();
    else c.k.fresh_lru();
  } else if (is_prim(s)) {
    Prim& p = prim_of(c, s);
    if (c.flushed) {
      flush_map(p.conns, sizeof(sl_flow_key), sizeof(sl_conn));
    } else {
      p.close();
      p.open();
    }
  } else if (c.flushed) {
    Sluice::check(c.s.dp->conns_flush());
  } else {
    c.s.dp.reset();  // the old maps go first: one 1M-entry table at a time
    c.s.open();
  }
}

// Establishes flows `first`..`first + n - 1` untimed (filling a table),
// keeping Katran under its new-connection rate limit. Katran records a flow
// on its SYN. sluice keeps a SYN's record apart, unconfirmed, until the
// client's ACK (core/pipeline.h: a SYN flood churns only that small table),
// so it gets the SYN and then the ACK: an established flow in either.
void fill(Ctx& c, Sys s, uint32_t first, uint32_t n) {
  Frame syn(vip_of(s), 0x02), ack(vip_of(s), 0x10);
  uint32_t action;
  for (uint32_t i = 0; i < n; ++i) {
    if (s == Sys::katran && i % kRateResetEvery == 0) c.k.reset_rate();
    syn.set_flow(first + i);
    if (run_once(prog_of(c, s, syn), syn, &action) < 0 || action != XDP_TX)
      die(std::string(sys_name(s)) + ": a SYN was not forwarded while filling (action " +
          std::to_string(action) + ")");
    if (s == Sys::katran || is_prim(s)) continue;  // recorded on the SYN
    ack.set_flow(first + i);
    if (run_once(prog_of(c, s, ack), ack, &action) < 0 || action != XDP_TX)
      die(std::string(sys_name(s)) + ": an ACK was not forwarded while filling");
  }
}

// SYNs of flows `first`..`first + n - 1`, never answered, untimed: fills
// sluice's table of unconfirmed records.
void fill_syns(Ctx& c, Sys s, uint32_t first, uint32_t n) {
  Frame syn(vip_of(s), 0x02);
  uint32_t action;
  for (uint32_t i = 0; i < n; ++i) {
    syn.set_flow(first + i);
    if (run_once(prog_of(c, s, syn), syn, &action) < 0 || action != XDP_TX)
      die(std::string(sys_name(s)) + ": a SYN was not forwarded while filling");
  }
}

struct Sample {
  double ns = 0;
  uint64_t wrong_action = 0;
  std::string check;  // empty: the program's own counters agree
};

// Times `calls` packets from next(i); `want` the action each must get.
Sample timed(Ctx& c, Sys s, uint32_t want, const std::function<const Frame&(uint32_t)>& next,
             bool katran_syns = false) {
  Sample r;
  int64_t total = 0;
  for (uint32_t i = 0; i < c.calls; ++i) {
    if (katran_syns && i % kRateResetEvery == 0) c.k.reset_rate();
    uint32_t action;
    const Frame& f = next(i);
    int64_t ns = run_once(prog_of(c, s, f), f, &action);
    if (ns < 0) die("BPF_PROG_TEST_RUN failed");
    total += ns;
    r.wrong_action += action != want;
  }
  r.ns = double(total) / c.calls;
  return r;
}

// Counter checks: Katran's stats (LRU_CNTRS: packets, misses; LRU_MISS_CNTR:
// SYN misses, non-SYN misses), sluice's reasons.
struct Before {
  KStats lru{}, miss{};
  uint64_t reason = 0;
};
Before before(Ctx& c, Sys s, sl_reason r) {
  Before b;
  if (s == Sys::katran) {
    b.lru = c.k.stat(kMaxVips + kLruCntrs);
    b.miss = c.k.stat(kMaxVips + kLruMissCntr);
  } else if (s != Sys::floor && !is_prim(s)) {
    b.reason = c.s.reason(r);
  }
  return b;
}
// `misses`: how many of the calls Katran must have scheduled (SYN misses).
// The lower bounds have no counters: their actions say what their map
// operations did (bench/katran_prims.bpf.c).
std::string verify(Ctx& c, Sys s, sl_reason r, const Before& b, uint64_t syn_misses) {
  if (s == Sys::floor || is_prim(s)) return {};
  if (s != Sys::katran) {
    uint64_t got = c.s.reason(r) - b.reason;
    return got == c.calls ? "" : "sluice: " + std::to_string(got) + " of " +
                                     std::to_string(c.calls) + " took the expected reason";
  }
  KStats lru = c.k.stat(kMaxVips + kLruCntrs), miss = c.k.stat(kMaxVips + kLruMissCntr);
  uint64_t pkts = lru.v1 - b.lru.v1, misses = lru.v2 - b.lru.v2;
  uint64_t syn = miss.v1 - b.miss.v1, nonsyn = miss.v2 - b.miss.v2;
  if (c.k.stat(kMaxVips + kFallbackLruCntr).v1) return "katran: fell back to its global LRU";
  if (r == SL_R_PASS_NOT_VIP) return pkts == 0 ? "" : "katran: a non-VIP packet was counted";
  if (pkts != c.calls) return "katran: counted " + std::to_string(pkts) + " packets";
  if (nonsyn) return "katran: " + std::to_string(nonsyn) + " hits missed the LRU";
  if (syn != syn_misses || misses != syn_misses)
    return "katran: " + std::to_string(syn) + " SYN misses, expected " + std::to_string(syn_misses);
  return {};
}

using Case = std::function<Sample(Ctx&, Sys)>;

Sample hot(Ctx& c, Sys s) {
  Frame syn(vip_of(s), 0x02), ack(vip_of(s), 0x10);
  syn.set_flow(0xf00000);
  ack.set_flow(0xf00000);
  uint32_t a;
  if (s != Sys::floor) run_once(prog_of(c, s, syn), syn, &a);  // may find it already there
  auto b = before(c, s, SL_R_TX_HIT);
  Sample r = timed(c, s, XDP_TX, [&](uint32_t) -> const Frame& { return ack; });
  r.check = verify(c, s, SL_R_TX_HIT, b, 0);
  return r;
}

Sample hit_100k(Ctx& c, Sys s) {
  uint32_t base = 0x100000 * (1 + uint32_t(s));
  empty_table(c, s);
  if (s != Sys::floor) fill(c, s, base, kFlows100k);
  Frame ack(vip_of(s), 0x10);
  auto b = before(c, s, SL_R_TX_HIT);
  Sample r = timed(c, s, XDP_TX, [&](uint32_t n) -> const Frame& {
    ack.set_flow(base + n % kFlows100k);
    return ack;
  });
  r.check = verify(c, s, SL_R_TX_HIT, b, 0);
  return r;
}

// New flows into an empty table.
Sample new_flow(Ctx& c, Sys s) {
  empty_table(c, s);
  Frame syn(vip_of(s), 0x02);
  auto b = before(c, s, SL_R_TX_NEW);
  uint32_t& next = c.next_flow[int(s)];
  Sample r = timed(c, s, XDP_TX, [&](uint32_t) -> const Frame& {
    syn.set_flow(next++);
    return syn;
  }, s == Sys::katran);
  r.check = verify(c, s, SL_R_TX_NEW, b, s == Sys::floor ? 0 : c.calls);
  if ((s == Sys::katran || is_prim(s)) && r.check.empty()) {  // the last flows are in the LRU
    for (uint32_t i = next - 100; i < next; ++i) {
      syn.set_flow(i);
      if (s == Sys::katran ? !c.k.has_flow(syn) : !prim_of(c, s).has_flow(syn))
        r.check = std::string(sys_name(s)) + ": a new flow was not recorded in its LRU";
    }
  }
  return r;
}

// New flows once the table is full: every insert evicts. Katran: its LRU
// holds kLruSize flows. sluice: as many established flows, and its table of
// unconfirmed records full of unanswered SYNs (where a new SYN goes, and
// what it evicts from).
Sample new_flow_full(Ctx& c, Sys s) {
  empty_table(c, s);
  if (s != Sys::floor) {
    fill(c, s, 0x2000000 + c.filled, kLruSize);
    c.filled += kLruSize;
  }
  if (s == Sys::sluice_ipip || s == Sys::sluice_dsr) {
    fill_syns(c, s, 0x2000000 + c.filled, SL_SYN_TABLE_DEFAULT);
    c.filled += SL_SYN_TABLE_DEFAULT;
  }
  Frame syn(vip_of(s), 0x02);
  auto b = before(c, s, SL_R_TX_NEW);
  Sample r = timed(c, s, XDP_TX, [&](uint32_t) -> const Frame& {
    syn.set_flow(0x2000000 + c.filled++);
    return syn;
  }, s == Sys::katran);
  r.check = verify(c, s, SL_R_TX_NEW, b, s == Sys::floor ? 0 : c.calls);
  if (is_prim(s) && r.check.empty() && !prim_of(c, s).has_flow(syn))
    r.check = std::string(sys_name(s)) + ": the last new flow was not recorded in its LRU";
  return r;
}

Sample pass(Ctx& c, Sys s) {
  Frame f(kNotVip, 0x10);
  auto b = before(c, s, SL_R_PASS_NOT_VIP);
  Sample r = timed(c, s, s == Sys::floor ? XDP_TX : XDP_PASS,
                   [&](uint32_t) -> const Frame& { return f; });
  r.check = verify(c, s, SL_R_PASS_NOT_VIP, b, 0);
  return r;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  size_t n = v.size();
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

}  // namespace
}  // namespace sluice::bench

int main(int argc, char** argv) {
  using namespace sluice::bench;
  std::string katran_obj, json_out, only;
  int rounds = 5;
  Ctx c;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto val = [&]() -> std::string {
      if (i + 1 >= argc) die(a + " needs a value");
      return argv[++i];
    };
    if (a == "--katran-obj") katran_obj = val();
    else if (a == "--rounds") rounds = std::stoi(val());
    else if (a == "--calls") c.calls = uint32_t(std::stoul(val()));
    else if (a == "--json") json_out = val();
    else if (a == "--cases") only = "," + val() + ",";
    else if (a == "--tables") {
      std::string t = val();
      if (t != "fresh" && t != "flushed") die("--tables fresh|flushed");
      c.flushed = t == "flushed";
    }
    else if (a == "-h" || a == "--help") {
      std::puts("usage: katran_compare --katran-obj BALANCER_BPF_O [--rounds 5] [--calls 100000] "
                "[--json OUT] [--cases hit_hot,...] [--tables fresh|flushed]");
      return 0;
    } else die("unknown argument " + a + " (--help)");
  }
  if (katran_obj.empty()) die("--katran-obj is required (bench/compare-katran builds it)");
  if (rounds < 1 || c.calls < 1000) die("--rounds >= 1 and --calls >= 1000");
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(0, &set);
  if (sched_setaffinity(0, sizeof(set), &set) != 0) die("cannot pin to CPU 0");

  c.k.open(katran_obj);
  c.s.open();
  c.p.open();
  c.pn.nocommon = true;
  c.pn.open();
  noop_tx_bpf* noop = noop_tx_bpf__open_and_load();
  if (!noop) die("loading noop_tx.bpf.o failed");
  c.noop = bpf_program__fd(noop->progs.sluice_noop_tx);

  const std::vector<std::pair<std::string, Case>> all_cases = {
      {"hit_hot", hot}, {"hit_100k", hit_100k}, {"new_flow", new_flow},
      {"new_flow_full_table", new_flow_full}, {"pass", pass}};
  std::vector<std::pair<std::string, Case>> cases;
  for (const auto& cs : all_cases)
    if (only.empty() || only.find("," + cs.first + ",") != std::string::npos) cases.push_back(cs);
  if (cases.empty()) die("--cases names none of hit_hot, hit_100k, new_flow, new_flow_full_table, pass");
  const Sys systems[kSystems] = {Sys::floor, Sys::katran, Sys::sluice_ipip, Sys::sluice_dsr,
                                 Sys::prim, Sys::prim_nocommon};
  // ns[case][sys] per round; over-floor figures use the same round's floor.
  std::map<std::string, std::map<std::string, std::vector<double>>> ns, over;
  nlohmann::json raw = nlohmann::json::array();
  bool ok = true;
  for (int round = 0; round < rounds; ++round) {
    for (const auto& [name, fn] : cases) {
      std::map<Sys, double> got;
      for (int j = 0; j < kSystems; ++j) {  // the order rotates every round
        Sys s = systems[(j + round) % kSystems];
        Sample r = fn(c, s);
        if (r.wrong_action || !r.check.empty()) {
          std::fprintf(stderr, "katran_compare: %s/%s round %d: %llu wrong actions %s\n",
                       name.c_str(), sys_name(s), round, (unsigned long long)r.wrong_action,
                       r.check.c_str());
          ok = false;
        }
        got[s] = r.ns;
        raw.push_back({{"round", round}, {"case", name}, {"system", sys_name(s)}, {"ns", r.ns}});
      }
      for (Sys s : systems) {
        ns[name][sys_name(s)].push_back(got[s]);
        over[name][sys_name(s)].push_back(got[s] - got[Sys::floor]);
      }
    }
    std::fprintf(stderr, "round %d of %d done\n", round + 1, rounds);
  }
  nlohmann::json out;
  out["rounds"] = rounds;
  out["calls_per_sample"] = c.calls;
  out["katran_object"] = katran_obj;
  out["tables"] = c.flushed ? "flushed" : "fresh";
  out["raw"] = raw;
  std::printf("| case | floor ns | Katran | sluice ipip | sluice dsr | prim | prim_nocommon "
              "| ipip / Katran | dsr / Katran | prim / Katran | prim_nocommon / Katran |\n");
  std::printf("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
  auto ratio = [](double a, double k) { return k > 0 ? a / k : 0.0; };
  for (const auto& [name, fn] : cases) {
    double fl = median(ns[name]["floor"]), k = median(over[name]["katran"]);
    double si = median(over[name]["sluice_ipip"]), sd = median(over[name]["sluice_dsr"]);
    double p = median(over[name]["prim"]), pn = median(over[name]["prim_nocommon"]);
    out["median_over_floor_ns"][name] = {{"floor_ns", fl}, {"katran", k}, {"sluice_ipip", si},
                                         {"sluice_dsr", sd}, {"prim", p}, {"prim_nocommon", pn}};
    std::printf("| %s | %.0f | %.0f | %.0f | %.0f | %.0f | %.0f | %.2f | %.2f | %.2f | %.2f |\n",
                name.c_str(), fl, k, si, sd, p, pn, ratio(si, k), ratio(sd, k), ratio(p, k),
                ratio(pn, k));
  }
  // Per case: is 0.5 x Katran within reach of the primitives alone?
  // "rounds above half": in how many rounds the cheaper lower bound cost more
  // than half of Katran's figure of the same round.
  std::printf("\n| case | half of Katran | cheapest primitives | rounds above half | verdict |\n"
              "|---|---:|---:|---:|---|\n");
  for (const auto& [name, fn] : cases) {
    double k = median(over[name]["katran"]);
    double si = median(over[name]["sluice_ipip"]), sd = median(over[name]["sluice_dsr"]);
    double p = median(over[name]["prim"]), pn = median(over[name]["prim_nocommon"]);
    double best = std::min(p, pn);
    const char* which = p <= pn ? "prim" : "prim_nocommon";
    int above = 0;
    for (int r = 0; r < rounds; ++r)
      above += over[name][which][size_t(r)] > over[name]["katran"][size_t(r)] / 2;
    std::string verdict;
    char buf[200];
    if (std::max(si, sd) <= k / 2) {
      verdict = "sluice at or below 0.5 (ipip and dsr)";
    } else if (best > k / 2) {
      std::snprintf(buf, sizeof buf, "cannot: the primitives alone (%s) cost %.0f ns, %.2f x Katran",
                    which, best, ratio(best, k));
      verdict = buf;
    } else {
      std::snprintf(buf, sizeof buf, "within reach: the primitives (%s) leave %.0f ns under half of Katran",
                    which, k / 2 - best);
      verdict = buf;
    }
    out["lower_bound"][name] = {{"half_katran", k / 2}, {"cheapest", which},
                                {"rounds_above_half", above}, {"verdict", verdict}};
    std::printf("| %s | %.0f | %.0f (%s) | %d of %d | %s |\n", name.c_str(), k / 2, best, which,
                above, rounds, verdict.c_str());
  }
  out["all_checks_passed"] = ok;
  if (!json_out.empty()) {
    FILE* f = std::fopen(json_out.c_str(), "w");
    if (!f) die("cannot write " + json_out);
    std::fputs(out.dump(1).c_str(), f);
    std::fclose(f);
  }
  noop_tx_bpf__destroy(noop);
  c.p.close();
  c.pn.close();
  return ok ? 0 : 1;
}
