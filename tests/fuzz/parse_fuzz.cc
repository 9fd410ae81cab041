// SPDX-License-Identifier: Apache-2.0
// libFuzzer target for the shared parser and the writers that trust it:
// any frame the parser accepts must be safe to encapsulate, and the flow it
// reports must stay inside the frame. Run under ASan/UBSan.
#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <vector>

#include "core/encap.h"
#include "core/flow.h"
#include "core/parse.h"
#include "core/too_big.h"
#include "core/wire.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // An exact-size heap copy: one byte past the end is an ASan report
  // (new[0] is a valid, non-null pointer; an empty vector's data() is not).
  std::unique_ptr<uint8_t[]> frame(new uint8_t[size]);
  if (size) memcpy(frame.get(), data, size);
  const uint8_t* begin = frame.get();
  sl_pkt p;
  enum sl_reason r = sl_parse(begin, begin + size, &p);
  if (r >= SL_R_MAX) abort();
  if (r != SL_R_NONE) return 0;
  if (p.l3_off + p.l3_len > size || p.l4_off > size) abort();
  if (p.flow.family != SL_AF_INET && p.flow.family != SL_AF_INET6) abort();
  // The transport header (and a UDP length) lies inside the IP packet, not
  // merely inside the frame.
  size_t ip_end = size_t(p.l3_off) + p.l3_len;
  if (!(p.flags & SL_PKT_F_ICMP_ERR)) {
    size_t l4_hdr = p.flow.proto == SL_IPPROTO_TCP ? size_t(begin[p.l4_off + 12] >> 4) * 4 : 8;
    if (p.l4_off + l4_hdr > ip_end) abort();
    if (p.flow.proto == SL_IPPROTO_UDP &&
        p.l4_off + size_t((begin[p.l4_off + 4] << 8) | begin[p.l4_off + 5]) > ip_end)
      abort();
  } else if (p.l4_off + 8 > ip_end) {
    abort();
  }

  sl_global g{};
  sl_backend be{};
  be.flags = SL_BE_F_LIVE;
  for (int family : {SL_AF_INET, SL_AF_INET6}) {
    be.family = family;
    std::vector<uint8_t> out(sl_encap_len(&be) + size);
    memcpy(out.data() + sl_encap_len(&be), begin, size);
    int rc = sl_encap_write(out.data(), out.data() + out.size(), &p, &be, &g,
                            sl_flow_hash(&p.flow, SL_FLOW_HASH_SEED));
    if (rc == 0 && memcmp(out.data() + out.size() - p.l3_len - (size - p.l3_off - p.l3_len),
                          begin + p.l3_off, p.l3_len) != 0)
      abort();  // the inner packet must come through byte for byte
  }
  // The too-big answer, prepared as the XDP program does (grown in front,
  // trimmed to the quote): the writer must stay inside that frame.
  if (sl_too_big_answerable(&p)) {
    size_t want = p.l3_off + sl_too_big_grow(&p) + sl_too_big_quote(&p);
    std::unique_ptr<uint8_t[]> out(new uint8_t[want]);
    size_t copy = std::min(size, want - sl_too_big_grow(&p));
    memcpy(out.get() + sl_too_big_grow(&p), begin, copy);
    if (copy + sl_too_big_grow(&p) == want &&
        sl_too_big_write(out.get(), out.get() + want, &p, 1280) != 0)
      abort();
  }
  return 0;
}
