// SPDX-License-Identifier: Apache-2.0
// The packets every XDP benchmark sends, and how one is timed: shared by
// xdp_bench (sluice alone) and katran_compare (sluice beside Katran), so
// both time the very same bytes the very same way.
#pragma once

#include <arpa/inet.h>
#include <bpf/bpf.h>

#include <cstdint>
#include <cstring>

namespace sluice::bench {

// A 64-byte Ethernet/IPv4/TCP frame to dst:80 (the 10 GbE minimum-size worst
// case). Neither program checks L4 checksums, so flows are made by patching
// the source address and port.
struct Frame {
  uint8_t b[64] = {};
  Frame(uint32_t dst, uint8_t tcp_flags) {
    const uint8_t dmac[6] = {2, 0, 0, 0, 0, 1}, smac[6] = {2, 0, 0, 0, 0, 0xc1};
    std::memcpy(b, dmac, 6);
    std::memcpy(b + 6, smac, 6);
    b[12] = 0x08;
    uint8_t* ip = b + 14;
    ip[0] = 0x45;
    uint16_t tot = htons(64 - 14);
    std::memcpy(ip + 2, &tot, 2);
    ip[6] = 0x40;  // DF
    ip[8] = 64;
    ip[9] = 6;
    uint32_t d = htonl(dst);
    std::memcpy(ip + 16, &d, 4);
    uint8_t* tcp = ip + 20;
    tcp[3] = 80;  // dport 80
    tcp[12] = 0x50;
    tcp[13] = tcp_flags;
    set_flow(0);
  }
  // Flow i: a distinct source address and port for every i < 2^16 * 60000.
  // Sources are in 198.19.0.0/16, apart from the VIPs (198.18.0.x): a
  // source equal to the VIP is dropped as a spoof.
  void set_flow(uint32_t i) {
    uint32_t s = htonl(0xc6130000u + (i & 0xffff));
    std::memcpy(b + 26, &s, 4);
    uint16_t sp = htons(uint16_t(1024 + (i >> 16) % 60000));
    std::memcpy(b + 34, &sp, 2);
  }
};

// One packet, one BPF_PROG_TEST_RUN call (repeat = 1: the kernel does not
// restore the frame between repeats, and a program that encapsulates would
// see its own output); returns the kernel-measured ns, or -1.
inline int64_t run_once(int prog_fd, const Frame& f, uint32_t* action) {
  LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = f.b, .data_size_in = sizeof(f.b), .repeat = 1);
  if (bpf_prog_test_run_opts(prog_fd, &o) != 0) return -1;
  *action = o.retval;
  return o.duration;
}

// `repeat` runs of the same frame in one BPF_PROG_TEST_RUN call: the
// kernel does not restore the frame between runs, so only for a program
// whose output is its input again (a dsr rewrite, a drop). Between runs of
// one call the TLB and caches stay warm, as under NAPI; a repeat=1 call
// starts cold (this VM's PTI flushes the TLB at every syscall). Returns
// the kernel-measured ns per run, or -1. Each call with repeat > 1 also
// swaps the XDP dispatcher twice, each swap a synchronize_rcu (expedited
// here): milliseconds per call, not counted in the duration, so make calls
// few and repeats many.
inline double run_repeat(int prog_fd, const Frame& f, uint32_t repeat, uint32_t* action) {
  Frame out = f;
  LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = f.b, .data_out = out.b,
              .data_size_in = sizeof(f.b), .data_size_out = sizeof(out.b), .repeat = int(repeat));
  if (bpf_prog_test_run_opts(prog_fd, &o) != 0) return -1;
  *action = o.retval;
  return double(o.duration);
}

// The floor: a no-op program's kernel-measured ns per call, the mean of
// `runs` calls on an ACK to `vip`.
inline double floor_measure(int prog_fd, uint32_t vip, int runs = 200000) {
  Frame f(vip, 0x10);
  uint32_t action = 0;
  int64_t sum = 0;
  for (int i = 0; i < runs; ++i) sum += run_once(prog_fd, f, &action);
  return double(sum) / runs;
}

}  // namespace sluice::bench
