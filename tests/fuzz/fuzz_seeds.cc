// SPDX-License-Identifier: Apache-2.0
// Writes a seed corpus for parse_fuzz: one valid frame per parser path, so
// the fuzzer starts from deep inside the header chains.
#include <arpa/inet.h>
#include <cstdio>
#include <string>

#include "tests/common/frame_spec.h"
#include "tests/common/malformed_frames.h"

using namespace sluice::test;

int main(int argc, char** argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: fuzz_seeds DIR\n");
    return 2;
  }
  FrameSpec v4, v6;
  v6.src = Addr::parse("2001:2::10");
  v6.dst = Addr::parse("2001:2::100");
  std::vector<Bytes> seeds = {frame(v4), frame(v6), icmp_too_big(v4, "198.18.0.254", 1400),
                              icmp_too_big(v6, "2001:2::fe", 1280)};
  FrameSpec f = v4;
  f.vlan = 5;
  f.ip_options = 16;
  f.l4.proto = SL_IPPROTO_UDP;
  seeds.push_back(frame(f));
  f = v6;
  f.ext = {{SL_IPPROTO_HOPOPTS, 8}, {SL_IPPROTO_ROUTING, 24}, {SL_IPPROTO_FRAGMENT, 8}};
  seeds.push_back(frame(f));
  // Length fields that disagree with the frame (issue 9): one field away
  // from a valid frame, so mutations explore both sides of each check.
  for (auto& m : l4_length_frames(v4.src, v4.dst, v4.dst, v6.src, v6.dst, 40000, 9000))
    seeds.push_back(m.bytes);
  seeds.push_back(with_tot_len(icmp_too_big(v4, "198.18.0.254", 1400), 20 + 8 + 20));
  // What the screen refuses: SYN+FIN, a multicast source.
  f = v4;
  f.l4.tcp_flags = SL_TCP_SYN | SL_TCP_FIN;
  seeds.push_back(frame(f));
  f = v6;
  f.src = Addr::parse("ff02::1");
  seeds.push_back(frame(f));
  // Two VLAN tags (802.1ad outer): passed as not IP.
  Bytes qinq = frame(v4);
  const uint8_t tags[8] = {0x88, 0xa8, 0, 1, 0x81, 0x00, 0, 2};
  qinq.insert(qinq.begin() + 12, tags, tags + 8);
  seeds.push_back(qinq);
  for (size_t i = 0; i < seeds.size(); i++) {
    std::string path = std::string(argv[1]) + "/seed" + std::to_string(i);
    FILE* out = fopen(path.c_str(), "wb");
    if (!out || fwrite(seeds[i].data(), 1, seeds[i].size(), out) != seeds[i].size()) {
      perror(path.c_str());
      return 1;
    }
    fclose(out);
  }
  return 0;
}
