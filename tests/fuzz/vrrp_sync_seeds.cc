// SPDX-License-Identifier: Apache-2.0
// Writes the seed corpus of advert_fuzz (built with SEEDS_ADVERT) or of
// sync_fuzz: valid inputs made by the encoders, in the fuzzers' input
// framing, so the fuzzer starts past every check.
#include <netinet/in.h>

#include <cstdio>
#include <string>
#include <vector>

#include "control/sync/sync_codec.h"
#include "control/vrrp/advert.h"
#include "tests/fuzz/sync_fuzz_key.h"

using namespace sluice;
using Bytes = std::vector<uint8_t>;

namespace {

IpAddr ip(const char* s) { return *IpAddr::parse(s); }

Bytes framed(std::initializer_list<uint8_t> prefix, const Bytes& body) {
  Bytes b(prefix);
  b.insert(b.end(), body.begin(), body.end());
  return b;
}

[[maybe_unused]] std::vector<Bytes> advert_seeds() {
  using namespace sluice::vrrp;
  IpAddr v4 = ip("198.18.0.1"), v6 = ip("fe80::1");
  Advert one4{51, 200, 100, {ip("198.18.0.100")}};
  Advert many4{51, 0, 4095, {ip("198.18.0.100"), ip("198.18.0.101"), ip("198.18.0.102")}};
  Advert one6{51, 255, 1, {ip("2001:2::100")}};
  return {
      framed({2, 255}, advert_encode(one4, v4, advert_group(SL_AF_INET))),
      framed({0, 255}, advert_encode(many4, v4, advert_group(SL_AF_INET))),
      framed({3, 255}, advert_encode(one6, v6, advert_group(SL_AF_INET6))),
      framed({0, 254}, advert_encode(one4, v4, advert_group(SL_AF_INET))),
  };
}

[[maybe_unused]] std::vector<Bytes> sync_seeds() {
  using namespace sluice::sync;
  sl_flow_key f{};
  ip("198.18.0.50").to_abi(f.src);
  ip("198.18.0.100").to_abi(f.dst);
  f.sport = htons(40000);
  f.dport = htons(80);
  f.proto = IPPROTO_TCP;
  f.family = SL_AF_INET;
  sl_vip_key v{};
  ip("198.18.0.100").to_abi(v.addr);
  v.port = htons(81);
  v.proto = IPPROTO_TCP;
  v.family = SL_AF_INET;
  std::vector<sl_sync_record> recs = {
      record_make(f, v, ip("198.18.0.11"), SL_SYNC_OP_NEW, 1, 2'000'000'000),
      record_make(f, v, ip("2001:2::11"), SL_SYNC_OP_CLOSED, 0, 0)};
  Bytes key(kFuzzKey.begin(), kFuzzKey.end());
  Sender plain(1, 1), keyed(2, 1, key);
  std::vector<Bytes> out;
  out.push_back(framed({0}, plain.control(Kind::resync_request)));
  out.push_back(framed({0}, plain.control(Kind::resync_begin)));
  for (const auto& d : plain.records(recs)) out.push_back(framed({0}, d));
  out.push_back(framed({0}, plain.control(Kind::resync_end)));
  for (const auto& d : keyed.records(recs)) out.push_back(framed({1}, d));
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: %s DIR\n", argv[0]);
    return 2;
  }
#ifdef SEEDS_ADVERT
  std::vector<Bytes> seeds = advert_seeds();
  const char* stem = "advert-seed";
#else
  std::vector<Bytes> seeds = sync_seeds();
  const char* stem = "sync-seed";
#endif
  for (size_t i = 0; i < seeds.size(); i++) {
    std::string path = std::string(argv[1]) + "/" + stem + std::to_string(i);
    FILE* out = fopen(path.c_str(), "wb");
    if (!out || fwrite(seeds[i].data(), 1, seeds[i].size(), out) != seeds[i].size()) {
      perror(path.c_str());
      return 1;
    }
    fclose(out);
  }
  return 0;
}
