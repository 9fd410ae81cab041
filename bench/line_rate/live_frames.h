// SPDX-License-Identifier: Apache-2.0
// What bench/line_rate's senders share (linerate's generator, synflood):
// the clock, pinning a thread, and one BPF_PROG_RUN of a frame-making XDP
// program as live frames (BPF_F_TEST_XDP_LIVE_FRAMES: each run's XDP_TX
// leaves by the interface).
#ifndef SLUICE_BENCH_LINE_RATE_LIVE_FRAMES_H
#define SLUICE_BENCH_LINE_RATE_LIVE_FRAMES_H

#include <bpf/bpf.h>
#include <linux/bpf.h>
#include <sched.h>
#include <time.h>

#include <cerrno>
#include <cstdint>

namespace sluice::bench {

inline double now_s() {
  timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return double(t.tv_sec) + double(t.tv_nsec) * 1e-9;
}

// This thread on `cpu`; false if the kernel refused.
inline bool pin_cpu(int cpu) {
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  return sched_setaffinity(0, sizeof(set), &set) == 0;
}

// `runs` runs of `prog_fd` on `frame` (`len` bytes) as if received on
// `ifindex`, flushed to the device every `kernel_batch` runs. 0, or errno.
inline int live_frames_run(int prog_fd, void* frame, uint32_t len, int ifindex, uint32_t runs,
                           uint32_t kernel_batch) {
  xdp_md ctx{};
  ctx.data_end = len;
  ctx.ingress_ifindex = uint32_t(ifindex);
  LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = frame, .data_size_in = len, .ctx_in = &ctx,
              .ctx_size_in = sizeof(ctx), .repeat = int(runs),
              .flags = BPF_F_TEST_XDP_LIVE_FRAMES, .batch_size = kernel_batch);
  return bpf_prog_test_run_opts(prog_fd, &o) == 0 ? 0 : errno;
}

}  // namespace sluice::bench

#endif
