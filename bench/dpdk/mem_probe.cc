// SPDX-License-Identifier: Apache-2.0
// What one random memory line costs the core on this machine, apart from
// the worker: the floor under a DPDK hit in a large table (a hit reads one
// record line picked by the flow's hash; dpdk_bench's line mode).
//
// Two probes, each over one anonymous buffer (2 MiB aligned, advised for
// transparent huge pages unless --small-pages), in batches of 32 as a
// burst (all the batch's prefetches, then all its reads):
//
//   pages  one line per 4 KiB page over P pages spread across the buffer,
//          so the lines are few (P x 64 bytes, held in the cache) and only
//          the address translations miss: a TLB miss's cost, for P from
//          what the TLB holds to far beyond it; beside it, as many lines
//          packed together (the same cache footprint in P / 64 pages).
//   work   W rounds of independent ALU work per item (no memory), alone,
//          and beside one random line of the buffer per item, prefetched
//          with the batch (as the worker does), a whole batch earlier, or
//          spread: one prefetch per item, kSpreadAhead items ahead.
//          Where memory overlapped the work, work + line would read
//          max(work, line); where it costs the core time, their sum.
//          Three interleaved rounds each; the medians.
//
// Output: one JSON object per line. No root, no DPDK.
//   mem_probe [--mb N] [--items N] [--small-pages]
#include <sys/mman.h>
#include <time.h>
#include <x86intrin.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

namespace {

constexpr int kBatch = 32;

uint64_t now_ns() {
  timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return uint64_t(t.tv_sec) * 1000000000ull + uint64_t(t.tv_nsec);
}

struct Rng {
  uint64_t s = 0x9e3779b97f4a7c15ull;
  uint64_t next() {
    s ^= s << 13;
    s ^= s >> 7;
    s ^= s << 17;
    return s;
  }
  // Uniform in [0, n) without a division.
  uint64_t below(uint64_t n) { return uint64_t((unsigned __int128)(next() >> 11) * n >> 53); }
};

// W dependent multiply-adds on a value of its own: items do not wait for
// each other, so the core overlaps them as it would independent packets.
inline uint64_t work(uint64_t x, int w) {
  for (int i = 0; i < w; i++) {
    x = x * 6364136223846793005ull + 1442695040888963407ull;
    asm volatile("" : "+r"(x));
  }
  return x;
}

struct Buffer {
  uint8_t* p = nullptr;
  size_t len = 0;
};

bool buffer_make(Buffer& b, size_t mb, bool huge) {
  b.len = mb << 20;
  size_t align = size_t(2) << 20;
  void* m =
      mmap(nullptr, b.len + align, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (m == MAP_FAILED) return false;
  b.p = reinterpret_cast<uint8_t*>((uintptr_t(m) + align - 1) & ~(uintptr_t(align) - 1));
  if (huge) madvise(b.p, b.len, MADV_HUGEPAGE);
  std::memset(b.p, 1, b.len);  // touch: no page fault in the timed loops
  return true;
}

// pages: ns per item for one line in each of `pages` pages.
double probe_pages(const Buffer& b, uint64_t pages, bool dense, uint64_t items, uint64_t& sink) {
  uint64_t total = b.len / 4096, stride = total / pages;
  Rng r;
  const uint8_t* at[kBatch];
  uint64_t batches = items / kBatch, x = 0;
  uint64_t t0 = now_ns();
  for (uint64_t k = 0; k < batches; k++) {
    for (int i = 0; i < kBatch; i++) {
      uint64_t pg = r.below(pages);
      at[i] = dense ? b.p + pg * 64 : b.p + pg * stride * 4096 + (pg & 63) * 64;
      _mm_prefetch(reinterpret_cast<const char*>(at[i]), _MM_HINT_T0);
    }
    for (int i = 0; i < kBatch; i++) x += *reinterpret_cast<const volatile uint64_t*>(at[i]);
  }
  sink += x;
  return double(now_ns() - t0) / double(batches * kBatch);
}

enum class Lines { none, batch, ahead, spread };
// Lines::spread: each item's prefetch goes out kSpreadAhead items before
// its read, one per item amid the work (not a batch's worth at once).
constexpr int kSpreadAhead = 16;

// work: ns per item for `w` rounds of work, with or without a line.
double probe_work(const Buffer& b, int w, Lines lines, uint64_t items, uint64_t& sink) {
  uint64_t n_lines = b.len / 64;
  Rng r;
  const uint8_t* at[2][kBatch];
  auto fetch = [&](const uint8_t** a) {
    for (int i = 0; i < kBatch; i++) {
      a[i] = b.p + r.below(n_lines) * 64;
      _mm_prefetch(reinterpret_cast<const char*>(a[i]), _MM_HINT_T0);
    }
  };
  uint64_t batches = items / kBatch, x = 0;
  if (lines == Lines::ahead) fetch(at[0]);
  if (lines == Lines::spread)  // at[0] and at[1] as one ring of 2 x kBatch
    for (int i = 0; i < kSpreadAhead; i++) {
      at[0][i] = b.p + r.below(n_lines) * 64;
      _mm_prefetch(reinterpret_cast<const char*>(at[0][i]), _MM_HINT_T0);
    }
  const uint8_t** ring = at[0];
  uint64_t t0 = now_ns();
  for (uint64_t k = 0; k < batches; k++) {
    const uint8_t** cur = at[k & 1];
    if (lines == Lines::batch) fetch(cur);
    if (lines == Lines::ahead) fetch(at[(k + 1) & 1]);
    for (int i = 0; i < kBatch; i++) {
      uint64_t v;
      if (lines == Lines::none) {
        v = r.next();
      } else if (lines == Lines::spread) {
        unsigned j = unsigned(k * kBatch + unsigned(i)) % (2 * kBatch);
        const uint8_t*& next = ring[(j + kSpreadAhead) % (2 * kBatch)];
        next = b.p + r.below(n_lines) * 64;
        _mm_prefetch(reinterpret_cast<const char*>(next), _MM_HINT_T0);
        v = *reinterpret_cast<const volatile uint64_t*>(ring[j]);
      } else {
        v = *reinterpret_cast<const volatile uint64_t*>(cur[i]);
      }
      x += v + work(uint64_t(i) + k, w);
    }
  }
  sink += x;
  return double(now_ns() - t0) / double(batches * kBatch);
}

void usage(FILE* f) {
  std::fprintf(f,
               "usage: mem_probe [--mb N] [--items N] [--small-pages]\n"
               "  --mb N         buffer size in MiB (default 96: the records of a table of 1e6)\n"
               "  --items N      items per figure (default 4000000)\n"
               "  --small-pages  do not advise transparent huge pages\n");
}

}  // namespace

int main(int argc, char** argv) {
  size_t mb = 96;
  uint64_t items = 4000000;
  bool huge = true;
  for (int i = 1; i < argc; i++) {
    std::string a = argv[i];
    if (a == "--help" || a == "-h") {
      usage(stdout);
      return 0;
    } else if (a == "--mb" && i + 1 < argc) {
      mb = std::strtoul(argv[++i], nullptr, 10);
    } else if (a == "--items" && i + 1 < argc) {
      items = std::strtoull(argv[++i], nullptr, 10);
    } else if (a == "--small-pages") {
      huge = false;
    } else {
      std::fprintf(stderr, "mem_probe: unknown or incomplete argument '%s'\n", a.c_str());
      usage(stderr);
      return 2;
    }
  }
  if (mb < 8 || mb > 16384 || items < kBatch || items > 1000000000ull) {
    std::fprintf(stderr, "mem_probe: --mb must be 8..16384 and --items 32..1e9\n");
    return 2;
  }
  Buffer b;
  if (!buffer_make(b, mb, huge)) {
    std::perror("mem_probe: mmap");
    return 1;
  }
  uint64_t sink = 0;
  const char* pages_kind = huge ? "huge" : "small";
  for (uint64_t pages : {256ull, 2048ull, 8192ull, 16384ull, 24576ull}) {
    if (pages > b.len / 4096) continue;
    // The same number of lines packed together (pages / 64 pages): the
    // same cache footprint, few translations.
    double spread = probe_pages(b, pages, false, items, sink);
    double dense = probe_pages(b, pages, true, items, sink);
    std::printf(
        "{\"probe\":\"pages\",\"mb\":%zu,\"pages\":%llu,\"line_kb\":%llu,\"advice\":\"%s\","
        "\"ns_per_item\":%.2f,\"packed_ns_per_item\":%.2f}\n",
        mb, (unsigned long long)pages, (unsigned long long)(pages * 64 / 1024), pages_kind, spread,
        dense);
  }
  // Interleaved rounds, medians: the host drifts between figures.
  auto median3 = [](double a, double b, double c) {
    return std::max(std::min(a, b), std::min(std::max(a, b), c));
  };
  for (int w : {0, 20, 40}) {
    double v[4][3];
    for (int k = 0; k < 3; k++) {
      v[0][k] = probe_work(b, w, Lines::none, items, sink);
      v[1][k] = probe_work(b, w, Lines::batch, items, sink);
      v[2][k] = probe_work(b, w, Lines::ahead, items, sink);
      v[3][k] = probe_work(b, w, Lines::spread, items, sink);
    }
    double none = median3(v[0][0], v[0][1], v[0][2]);
    double batch = median3(v[1][0], v[1][1], v[1][2]);
    double ahead = median3(v[2][0], v[2][1], v[2][2]);
    double spread = median3(v[3][0], v[3][1], v[3][2]);
    std::printf(
        "{\"probe\":\"work\",\"mb\":%zu,\"work_rounds\":%d,\"advice\":\"%s\",\"work_ns\":%.2f,"
        "\"with_line_ns\":%.2f,\"with_line_ahead_ns\":%.2f,\"with_line_spread_ns\":%.2f}\n",
        mb, w, pages_kind, none, batch, ahead, spread);
  }
  std::fflush(stdout);
  asm volatile("" : : "r"(sink));  // the sums are used
  return 0;
}
