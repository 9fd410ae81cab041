// SPDX-License-Identifier: Apache-2.0
// Writes a seed corpus for parse_fuzz: one valid frame per parser path, so
// the fuzzer starts from deep inside the header chains.
#include <arpa/inet.h>
#include <cstdio>
#include <string>

#include "tests/common/frame_spec.h"

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
