// SPDX-License-Identifier: Apache-2.0
// Which reason counter one packet moved: the counters are read before and
// after, and exactly one must have gained exactly one packet.
#pragma once

#include <gtest/gtest.h>

#include "xdp/xdp_dataplane.h"

namespace sluice::test {

class ReasonProbe {
 public:
  explicit ReasonProbe(XdpDataplane& dp) : dp_(dp), before_(read()) {}

  // The reason that moved, SL_R_NONE if none did, SL_R_MAX if several did.
  sl_reason moved() {
    auto after = read();
    sl_reason found = SL_R_NONE;
    int n = 0;
    for (int i = 0; i < SL_R_MAX; ++i) {
      uint64_t d = after[i].packets - before_[i].packets;
      if (d == 0) continue;
      ++n;
      found = d == 1 ? sl_reason(i) : SL_R_MAX;
    }
    return n > 1 ? SL_R_MAX : found;
  }

 private:
  std::array<sl_counters, SL_R_MAX> read() {
    auto r = dp_.reason_counters();
    EXPECT_TRUE(r.ok()) << r.error().message();
    return r.ok() ? *r : std::array<sl_counters, SL_R_MAX>{};
  }

  XdpDataplane& dp_;
  std::array<sl_counters, SL_R_MAX> before_;
};

}  // namespace sluice::test
