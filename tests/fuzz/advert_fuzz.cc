// SPDX-License-Identifier: Apache-2.0
// libFuzzer target for the VRRP advert decoder: any bytes get an advert or a
// drop reason, never a crash; an accepted advert is what it claims (its
// VRID, at least one address, a non-zero interval) and encodes back to the
// same bytes (up to the reserved bits, which are ignored on receipt).
//
// Input: byte 0 bit 0 IPv6, bit 1 check the address list; byte 1 the TTL;
// then the VRRP message.
#include <cstdint>
#include <cstdlib>
#include <vector>

#include "control/vrrp/advert.h"

using namespace sluice;
using namespace sluice::vrrp;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  bool v6 = data[0] & 1;
  IpAddr src = *IpAddr::parse(v6 ? "fe80::1" : "198.18.0.1");
  IpAddr dst = advert_group(v6 ? SL_AF_INET6 : SL_AF_INET);
  std::vector<IpAddr> ours = {*IpAddr::parse(v6 ? "2001:2::100" : "198.18.0.100")};
  AdvertRx rx{src, dst, data[1], 51, {}};
  if (data[0] & 2) rx.expected_addrs = ours;
  std::span<const uint8_t> msg(data + 2, size - 2);
  AdvertDecoded d = advert_decode(msg, rx);
  if (auto* drop = std::get_if<AdvertDrop>(&d)) {
    int n = static_cast<int>(*drop);
    if (n < 1 || n > kAdvertDropCount) abort();
    return 0;
  }
  const Advert& a = std::get<Advert>(d);
  if (a.vrid != 51 || a.addrs.empty() || a.max_adver_int_cs == 0 || rx.ttl != kTtl) abort();
  std::vector<uint8_t> again = advert_encode(a, src, dst);
  if (again.size() != msg.size()) abort();
  // Equal bytes, up to the reserved bits and the checksum's form: 0x0000 and
  // 0xffff are both ones'-complement zero, and a receiver accepts either.
  auto same = [&](size_t i) { return again[i] == msg[i] || i == 6 || i == 7; };
  for (size_t i = 0; i < again.size() && (msg[4] & 0xf0) == 0; ++i)
    if (!same(i)) abort();
  if (!std::holds_alternative<Advert>(advert_decode(again, rx))) abort();
  return 0;
}
