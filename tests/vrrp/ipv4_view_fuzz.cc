// SPDX-License-Identifier: Apache-2.0
// libFuzzer target for the IPv4 header view of a received VRRP datagram:
// any bytes give a view inside the input or too_short, never a crash; a
// view's message lies within the datagram, after a header of 20..60 bytes.
#include <cstdint>
#include <cstdlib>

#include "control/vrrp/ipv4_view.h"

using namespace sluice::vrrp;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::span<const uint8_t> d(data, size);
  auto r = ipv4_advert_view(d);
  if (auto* drop = std::get_if<AdvertDrop>(&r)) {
    if (*drop != AdvertDrop::too_short) abort();
    return 0;
  }
  const Ipv4View& v = std::get<Ipv4View>(r);
  size_t off = static_cast<size_t>(v.msg.data() - data);
  if (off < 20 || off > 60 || off + v.msg.size() > size) abort();
  if (!v.src.is_v4() || !v.dst.is_v4() || v.ttl != data[8]) abort();
  return 0;
}
