// SPDX-License-Identifier: Apache-2.0
// The core/ steering path on the host, as the DPDK dataplane will run it:
// over a batch of prebuilt frames, one decision per frame, beside a floor
// that only touches each frame (reads the ethertype, writes the MACs).
// Table lookups are the dataplane's and are not in here.
#include <arpa/inet.h>
#include <benchmark/benchmark.h>

#include <cstring>
#include <vector>

#include "core/encap.h"
#include "core/flow.h"
#include "core/steer.h"
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

// parse -> admit -> (miss) schedule -> forward, the decisions of a new flow.
void BM_steer(benchmark::State& st, FrameSpec spec, int mode) {
  Batch b = make_batch(spec);
  Tables t;
  __u32 cursor = 0;
  sl_pkt p;
  for (auto _ : st)
    for (auto& f : b.frames) {
      uint8_t* d = f.data() + kHeadroom;
      if (sl_parse(d, d + b.len, &p) != SL_R_NONE || sl_steer_admit(&t.vip, &t.g))
        st.SkipWithError("frame not steered");
      __u32 i = sl_ring_pick(&t.ring, &cursor);
      const sl_backend* be = &t.be[i];
      sl_conn c;
      sl_conn_init(&c, i, be, 0, 0);
      benchmark::DoNotOptimize(c);
      if (mode == SL_MODE_DSR) {
        sl_dsr_rewrite(reinterpret_cast<sl_ethhdr*>(d), be, &t.g);
      } else {
        uint8_t* n = d - sl_encap_len(be);
        benchmark::DoNotOptimize(sl_encap_write(n, d + b.len, &p, be, &t.g, 0));
        // The outer header overwrote the original Ethernet header; put it
        // back so the frame can be steered again next round.
        memcpy(d, b.eth, sizeof(b.eth));
      }
      benchmark::ClobberMemory();
    }
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
BENCHMARK(BM_flow_hash);
BENCHMARK(BM_wrr_build)->Arg(3)->Arg(100)->Arg(1000)->Unit(benchmark::kMicrosecond);

}  // namespace
}  // namespace sluice::test

BENCHMARK_MAIN();
