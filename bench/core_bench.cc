// SPDX-License-Identifier: Apache-2.0
// The core/ steering path on the host, as the DPDK dataplane will run it:
// core/pipeline.h over a batch of prebuilt frames, one run per frame,
// beside a floor that only touches each frame (reads the ethertype, writes
// the MACs). The tables are the host tests' plain C ones
// (tests/core/pipeline_tables.h): arrays and a small open-addressing
// connection hash, not a dataplane's.
#include <arpa/inet.h>
#include <benchmark/benchmark.h>

#include <cstring>
#include <memory>
#include <vector>

#include "tests/core/pipeline_tables.h"

#include "core/wrr.h"
#include "tests/common/frame_spec.h"

namespace sluice::test {
namespace {

constexpr size_t kBatch = 1024;
constexpr size_t kHeadroom = 64;

struct Batch {
  std::vector<Bytes> frames;  // kHeadroom bytes of room, then the frame
  size_t len;
  uint8_t eth[14];
};

Batch make_batch(FrameSpec f) {
  Batch b;
  for (size_t i = 0; i < kBatch; i++) {
    f.l4.sport = uint16_t(1024 + i);
    Bytes fr = frame(f);
    Bytes room(kHeadroom, 0);
    room.insert(room.end(), fr.begin(), fr.end());
    b.frames.push_back(room);
    b.len = fr.size();
    memcpy(b.eth, fr.data(), sizeof(b.eth));
  }
  return b;
}

FrameSpec v4() { return FrameSpec{}; }
FrameSpec v6_ext() {
  FrameSpec f;
  f.src = Addr::parse("2001:2::10");
  f.dst = Addr::parse("2001:2::100");
  f.ext = {{SL_IPPROTO_HOPOPTS, 8}, {SL_IPPROTO_DSTOPTS, 16}};
  return f;
}

struct Tables {
  sl_global g{};
  sl_backend be[3]{};
  sl_ring ring{};
  sl_vip_meta vip{};
  Tables() {
    g.role = SL_ROLE_ACTIVE;
    for (int i = 0; i < 3; i++) {
      be[i].family = SL_AF_INET;
      be[i].addr[0] = htonl(0xc612000b + i);
      be[i].flags = SL_BE_F_LIVE;
    }
    __u32 w[3] = {1, 2, 1};
    ring.len = sl_wrr_build(w, 3, ring.slots, SL_RING_SLOTS);
  }
};

void report(benchmark::State& st) {
  st.SetItemsProcessed(int64_t(st.iterations()) * kBatch);
  st.counters["ns_per_pkt"] = benchmark::Counter(double(st.iterations()) * kBatch,
                                                 benchmark::Counter::kIsRate |
                                                     benchmark::Counter::kInvert);
}

void BM_floor_touch(benchmark::State& st) {
  Batch b = make_batch(v4());
  Tables t;
  for (auto _ : st)
    for (auto& f : b.frames) {
      auto* eth = reinterpret_cast<sl_ethhdr*>(f.data() + kHeadroom);
      __u16 proto = eth->proto;
      benchmark::DoNotOptimize(proto);
      sl_dsr_rewrite(eth, &t.be[0], &t.g);
      benchmark::ClobberMemory();
    }
  report(st);
}

void BM_parse(benchmark::State& st, FrameSpec spec) {
  Batch b = make_batch(spec);
  sl_pkt p;
  for (auto _ : st)
    for (auto& f : b.frames) {
      const uint8_t* d = f.data() + kHeadroom;
      benchmark::DoNotOptimize(sl_parse(d, d + b.len, &p));
      benchmark::DoNotOptimize(p);
    }
  report(st);
}

// The pipeline's tables for one VIP (id 0, ring 0) of three backends.
struct PlainTables {
  std::unique_ptr<sl_plain_tables> t{new sl_plain_tables{}};
  std::vector<sl_plain_conn_slot> conns{4 * kBatch};
  PlainTables(const Batch& b, int mode) {
    Tables base;
    t->g = base.g;
    t->have_global = 1;
    for (int i = 0; i < 3; i++) t->backends[i] = base.be[i];
    t->rings[0] = base.ring;
    t->conns = conns.data();
    t->conn_cap = __u32(conns.size());
    sl_pkt p;
    const uint8_t* d = b.frames[0].data() + kHeadroom;
    sl_parse(d, d + b.len, &p);
    sl_vip_key_of_flow(&p.flow, &t->vip_keys[0]);
    t->vips[0].mode = __u8(mode);
    t->nvips = 1;
  }
  void forget_flows() {
    memset(conns.data(), 0, conns.size() * sizeof(conns[0]));
    t->conn_count = 0;
  }
};

// One pass of core/pipeline.h over the batch. Encapsulation wrote over the
// original Ethernet header: it is put back so the frame can be steered
// again next round.
void steer_batch(benchmark::State& st, Batch& b, PlainTables& pt, sl_reason want) {
  for (auto& f : b.frames) {
    sl_plain_ctx ctx{pt.t.get(), f.data(), __u32(f.size()), __u32(kHeadroom), __u32(b.len), 1500};
    sl_pl_state s;
    if (sl_pl_run(&ctx, &s) != want) st.SkipWithError("frame not steered as expected");
    if (ctx.head != kHeadroom) memcpy(f.data() + kHeadroom, b.eth, sizeof(b.eth));
    benchmark::ClobberMemory();
  }
}

// The whole pipeline for a new flow: parse -> VIP -> admit -> screen ->
// conn lookup (miss) -> schedule (insert) -> count -> forward -> count.
// The connection table is emptied between rounds, untimed.
void BM_steer(benchmark::State& st, FrameSpec spec, int mode) {
  Batch b = make_batch(spec);
  PlainTables pt(b, mode);
  for (auto _ : st) {
    steer_batch(st, b, pt, SL_R_TX_NEW);
    st.PauseTiming();
    pt.forget_flows();
    st.ResumeTiming();
  }
  report(st);
}

// The same for established flows: conn lookup (hit) -> forward.
void BM_steer_hit(benchmark::State& st, FrameSpec spec, int mode) {
  Batch b = make_batch(spec);
  PlainTables pt(b, mode);
  steer_batch(st, b, pt, SL_R_TX_NEW);
  for (auto _ : st) steer_batch(st, b, pt, SL_R_TX_HIT);
  report(st);
}

void BM_flow_hash(benchmark::State& st) {
  sl_flow_key k{};
  for (auto _ : st) {
    for (size_t i = 0; i < kBatch; i++) {
      k.sport = uint16_t(i);
      benchmark::DoNotOptimize(sl_flow_hash(&k, SL_FLOW_HASH_SEED));
    }
  }
  report(st);
}

// Controller side: building a ring for N backends of mixed weights.
void BM_wrr_build(benchmark::State& st) {
  std::vector<__u32> w(st.range(0));
  for (size_t i = 0; i < w.size(); i++) w[i] = 1 + i % 4;
  static sl_ring ring;
  for (auto _ : st) benchmark::DoNotOptimize(sl_wrr_build(w.data(), w.size(), ring.slots, SL_RING_SLOTS));
}

BENCHMARK(BM_floor_touch);
BENCHMARK_CAPTURE(BM_parse, tcp4, v4());
BENCHMARK_CAPTURE(BM_parse, tcp6_ext, v6_ext());
BENCHMARK_CAPTURE(BM_steer, dsr_v4, v4(), SL_MODE_DSR);
BENCHMARK_CAPTURE(BM_steer, ipip_v4, v4(), SL_MODE_IPIP);
BENCHMARK_CAPTURE(BM_steer_hit, dsr_v4, v4(), SL_MODE_DSR);
BENCHMARK_CAPTURE(BM_steer_hit, ipip_v4, v4(), SL_MODE_IPIP);
BENCHMARK(BM_flow_hash);
BENCHMARK(BM_wrr_build)->Arg(3)->Arg(100)->Arg(1000)->Unit(benchmark::kMicrosecond);

}  // namespace
}  // namespace sluice::test

BENCHMARK_MAIN();
