// SPDX-License-Identifier: Apache-2.0
// The lab's spoofed SYN flood (issue 9), as fast as this machine sends:
// TCP SYNs (--flags ack: ACKs of flows nobody opened) to VIP:PORT, each
// from a random source in 198.18.0.0/15 (never
// 198.18.0.0/24, the lab's own hosts) and a random port, written to one
// destination MAC (the balancer's) out of one interface. Run inside the
// flooding host's namespace (`ip netns exec client synflood ...`).
//
//   --sender live  BPF_PROG_RUN + BPF_F_TEST_XDP_LIVE_FRAMES of
//                  synflood.bpf.o (the frame made in the kernel, XDP_TX
//                  out of the interface), one thread per sender CPU, as
//                  bench/line_rate's generator. The interface's veth peer
//                  must take XDP frames (an XDP program on it, or GRO on),
//                  or the kernel drops them all.
//   --sender mmsg  an AF_PACKET socket, frames built here, sendmmsg() in
//                  batches of 64, qdisc bypassed: the fallback where live
//                  frames cannot reach the balancer.
//
// Bounded by --seconds (at most 60) and --count; --mpps caps the flood
// (live only: the kernel program sends every n-th run, see synflood.bpf.c,
// n from the program's speed when it sends nothing; a frame sent costs the
// CPU the whole path's softirq work too, so the rate reached is below the
// cap: 0.125 M/s for --mpps 0.3 in the lab).
// Prints one JSON line: {"sender", "sent", "seconds", "pps", "errors", ...}.
#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <CLI/CLI.hpp>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "bench/bench_frame.h"
#include "bench/line_rate/live_frames.h"
#include "lr_synflood.skel.h"

namespace sluice::bench {
namespace {

[[noreturn]] void die(const std::string& m) {
  std::fprintf(stderr, "synflood: %s\n", m.c_str());
  std::exit(1);
}

void pin(int cpu) { (void)pin_cpu(cpu); }  // best effort: the flood runs unpinned too

struct Opts {
  std::string iface = "eth0", dmac, vip, sender = "live", flags = "syn";
  int port = 80, cpus = 1;
  double seconds = 10, mpps = 0;
  uint64_t count = 100'000'000;
  uint32_t batch = 65536;
};

// bench_frame.h's 64-byte SYN to the VIP, made a well-formed one: the
// balancer's and this interface's MACs, IP total length 40 (the rest is
// Ethernet padding), window 64240. Sources, ports and checksums are set per
// frame by whichever sender.
Frame syn_template(const Opts& o, const uint8_t smac[6], uint32_t vip) {
  Frame f(vip, o.flags == "ack" ? 0x10 : 0x02);
  unsigned m[6];
  if (std::sscanf(o.dmac.c_str(), "%x:%x:%x:%x:%x:%x", &m[0], &m[1], &m[2], &m[3], &m[4],
                  &m[5]) != 6)
    die("--dmac: aa:bb:cc:dd:ee:ff");
  for (int i = 0; i < 6; ++i) f.b[i] = uint8_t(m[i]);
  std::memcpy(f.b + 6, smac, 6);
  uint16_t tot = htons(40), dport = htons(uint16_t(o.port)), win = htons(64240);
  std::memcpy(f.b + 16, &tot, 2);
  std::memcpy(f.b + 36, &dport, 2);
  std::memcpy(f.b + 48, &win, 2);
  return f;
}

// ------------------------------------------------------------ live frames

struct Result {
  uint64_t sent = 0, errors = 0;
  double seconds = 0;
};

uint64_t sum8(const __u64* a) {
  uint64_t s = 0;
  for (int c = 0; c < 64; ++c) s += a[c * 8];
  return s;
}

using Skel = std::unique_ptr<lr_synflood_bpf, decltype(&lr_synflood_bpf__destroy)>;

Skel live_load(uint32_t tx_every) {
  Skel s(lr_synflood_bpf__open(), &lr_synflood_bpf__destroy);
  if (!s) die("opening synflood.bpf.o failed");
  s->rodata->sf_tx_every = tx_every ? tx_every : 1;
  if (lr_synflood_bpf__load(s.get()) != 0)
    die("loading synflood.bpf.o failed (root? kernel >= 5.18?)");
  return s;
}

// Runs the program on `cpus` threads until `seconds` pass or `budget` runs
// are spent; returns the wall time taken.
double live_run(const Skel& s, const Frame& tmpl, int ifindex, int cpus, double seconds,
                uint64_t budget, uint32_t batch) {
  std::atomic<int64_t> left{int64_t(budget)};
  std::vector<std::thread> th;
  double t0 = now_s();
  for (int q = 0; q < cpus; ++q) {
    th.emplace_back([&, q] {
      pin(q);
      Frame f = tmpl;
      for (;;) {
        if (now_s() - t0 >= seconds) break;
        int64_t want = std::min<int64_t>(batch, left.fetch_sub(batch));
        if (want <= 0) break;
        if (int e = live_frames_run(bpf_program__fd(s->progs.sf_syn), f.b, sizeof(f.b), ifindex,
                                    uint32_t(want), 16))
          die(std::string("live BPF_PROG_RUN failed: ") + std::strerror(e));
      }
    });
  }
  for (auto& t : th) t.join();
  return now_s() - t0;
}

Result live(const Opts& o, const Frame& tmpl, int ifindex) {
  uint32_t every = 1;
  if (o.mpps > 0) {
    // The program's own speed (every run dropped): the pacing divisor.
    Skel cal = live_load(1u << 30);
    double el = live_run(cal, tmpl, ifindex, o.cpus, 0.3, ~0ull >> 2, o.batch);
    double raw = double(sum8(cal->bss->sf_runs)) / el / 1e6;
    every = uint32_t(std::max(1.0, raw / o.mpps));
  }
  Skel s = live_load(every);
  // --count bounds frames sent: at most count * every runs.
  double el = live_run(s, tmpl, ifindex, o.cpus, o.seconds, o.count * every, o.batch);
  Result r;
  r.sent = sum8(s->bss->sf_sent);
  r.seconds = el;
  return r;
}

// ------------------------------------------------------------ sendmmsg

uint16_t fold(uint32_t s) {
  while (s >> 16) s = (s & 0xffff) + (s >> 16);
  return uint16_t(~s);
}
uint32_t sum16(const uint8_t* p, int n) {
  uint32_t s = 0;
  for (int i = 0; i < n; ++i) s += uint32_t(p[2 * i]) << 8 | p[2 * i + 1];
  return s;
}

// The same frame as synflood.bpf.c makes, from a xorshift generator.
void randomize(uint8_t* d, uint64_t& x) {
  auto next = [&x] {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return uint32_t(x);
  };
  uint32_t r = next(), r2 = next(), seq = next();
  uint32_t host = r & 0x1ffff;
  if (host < 0x100) host |= 0x10000;
  uint32_t src = htonl(0xc6120000u + host);
  uint16_t sport = htons(uint16_t(1024 + (r2 & 0xffff) % 64512)), id = uint16_t(r2 >> 16);
  uint8_t *ip = d + 14, *tcp = d + 34;
  std::memcpy(ip + 12, &src, 4);
  std::memcpy(ip + 4, &id, 2);
  std::memcpy(tcp, &sport, 2);
  std::memcpy(tcp + 4, &seq, 4);
  ip[10] = ip[11] = 0;
  uint16_t c = htons(fold(sum16(ip, 10)));
  std::memcpy(ip + 10, &c, 2);
  tcp[16] = tcp[17] = 0;
  c = htons(fold(sum16(ip + 12, 4) + 6 + 20 + sum16(tcp, 10)));
  std::memcpy(tcp + 16, &c, 2);
}

Result mmsg(const Opts& o, const Frame& tmpl, int ifindex) {
  constexpr int kVec = 64;
  std::atomic<uint64_t> sent{0}, errors{0};
  std::atomic<int64_t> left{int64_t(o.count)};
  std::vector<std::thread> th;
  double t0 = now_s();
  for (int q = 0; q < o.cpus; ++q) {
    th.emplace_back([&, q] {
      pin(q);
      int fd = socket(AF_PACKET, SOCK_RAW, 0);
      if (fd < 0) die("AF_PACKET socket failed (root?)");
      int one = 1;
      (void)setsockopt(fd, SOL_PACKET, PACKET_QDISC_BYPASS, &one, sizeof(one));
      sockaddr_ll sa{};
      sa.sll_family = AF_PACKET;
      sa.sll_ifindex = ifindex;
      sa.sll_halen = 6;
      std::memcpy(sa.sll_addr, tmpl.b, 6);
      std::vector<Frame> fr(kVec, tmpl);
      iovec iov[kVec];
      mmsghdr mh[kVec];
      for (int i = 0; i < kVec; ++i) {
        iov[i] = {fr[i].b, sizeof(fr[i].b)};
        mh[i] = {};
        mh[i].msg_hdr.msg_iov = &iov[i];
        mh[i].msg_hdr.msg_iovlen = 1;
        mh[i].msg_hdr.msg_name = &sa;
        mh[i].msg_hdr.msg_namelen = sizeof(sa);
      }
      uint64_t x = 0x9e3779b97f4a7c15ull * uint64_t(q + 1) ^ uint64_t(now_s() * 1e9);
      uint64_t mine = 0, err = 0;
      for (int k = 0;; ++k) {
        if ((k & 15) == 0 && now_s() - t0 >= o.seconds) break;
        int64_t want = std::min<int64_t>(kVec, left.fetch_sub(kVec));
        if (want <= 0) break;
        for (int i = 0; i < want; ++i) randomize(fr[i].b, x);
        int n = sendmmsg(fd, mh, unsigned(want), 0);
        if (n < 0) {
          ++err;  // ENOBUFS under load: counted, not fatal
          continue;
        }
        mine += uint64_t(n);
      }
      close(fd);
      sent += mine;
      errors += err;
    });
  }
  for (auto& t : th) t.join();
  return {sent, errors, now_s() - t0};
}

}  // namespace
}  // namespace sluice::bench

int main(int argc, char** argv) {
  using namespace sluice::bench;
  Opts o;
  CLI::App app{"Spoofed SYNs (or ACKs) from 198.18.0.0/15 (not 198.18.0.0/24) to a VIP, as fast "
               "as a CPU sends them; run inside the lab (tests/e2e/e2e_flood.py)",
               "synflood"};
  app.add_option("--dmac", o.dmac, "the balancer's MAC (aa:bb:cc:dd:ee:ff)")->required();
  app.add_option("--vip", o.vip, "the VIP, IPv4 in 198.18.0.0/15")->required();
  app.add_option("--iface", o.iface, "interface to send on")->capture_default_str();
  app.add_option("--port", o.port, "the VIP's port")->check(CLI::Range(1, 65535))->capture_default_str();
  app.add_option("--sender", o.sender, "live: BPF live frames; mmsg: sendmmsg on a packet socket")
      ->check(CLI::IsMember({"live", "mmsg"}))->capture_default_str();
  app.add_option("--flags", o.flags, "TCP flags of every frame")
      ->check(CLI::IsMember({"syn", "ack"}))->capture_default_str();
  app.add_option("--cpus", o.cpus, "sending threads")->check(CLI::Range(1, 64))->capture_default_str();
  app.add_option("--seconds", o.seconds, "at most this long")->check(CLI::Range(0.001, 60.0))
      ->capture_default_str();
  app.add_option("--count", o.count, "at most this many frames")->check(CLI::Range(1ull, 1'000'000'000ull))
      ->capture_default_str();
  app.add_option("--mpps", o.mpps, "paced rate (live sender only); 0: unpaced")
      ->check(CLI::NonNegativeNumber)->capture_default_str();
  app.add_option("--batch", o.batch, "frames per BPF_PROG_RUN call")->check(CLI::PositiveNumber)
      ->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  in_addr va{};
  if (inet_pton(AF_INET, o.vip.c_str(), &va) != 1) die("--vip: an IPv4 address");
  uint32_t vip = ntohl(va.s_addr);
  if ((vip & 0xfffe0000u) != 0xc6120000u) die("refusing --vip " + o.vip + ": outside 198.18.0.0/15");
  int ncpu = int(std::thread::hardware_concurrency());
  if (o.cpus > ncpu) die("--cpus: 1.." + std::to_string(ncpu) + " (this machine's CPUs)");
  if (o.mpps > 0 && o.sender != "live") die("--mpps: live sender only");

  int ifindex = int(if_nametoindex(o.iface.c_str()));
  if (!ifindex) die("no interface " + o.iface);
  ifreq ifr{};
  std::snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", o.iface.c_str());
  int s = socket(AF_INET, SOCK_DGRAM, 0);
  if (s < 0 || ioctl(s, SIOCGIFHWADDR, &ifr) != 0) die("cannot read the MAC of " + o.iface);
  close(s);
  Frame tmpl = syn_template(o, reinterpret_cast<uint8_t*>(ifr.ifr_hwaddr.sa_data), vip);

  Result r = o.sender == "live" ? live(o, tmpl, ifindex) : mmsg(o, tmpl, ifindex);
  std::printf("{\"sender\": \"%s\", \"cpus\": %d, \"sent\": %llu, \"seconds\": %.3f, "
              "\"pps\": %.0f, \"errors\": %llu}\n",
              o.sender.c_str(), o.cpus, (unsigned long long)r.sent, r.seconds,
              r.seconds > 0 ? double(r.sent) / r.seconds : 0.0, (unsigned long long)r.errors);
  return 0;
}
