// SPDX-License-Identifier: Apache-2.0
// Dataplane::counters_reset on the real program: a VIP id's or backend
// slot's per-CPU counters read zero after it, and count afresh from there.
#include <gtest/gtest.h>
#include <linux/bpf.h>

#include <cstring>

#include "frame_checks.h"

namespace sluice::test {
namespace {

TEST(CountersReset, VipAndBackendCountersReadZeroThenCountAgain) {
  ASSERT_TRUE(test_lb().dp) << test_lb().error;
  XdpDataplane& dp = *test_lb().dp;
  const Addr client = Addr::parse(kClient4), vip = Addr::parse(kVipA);
  ProgRun r = prog_run(dp.prog_fd(), frame(client, vip, {6, 42901, 80, 0x02}));
  ASSERT_EQ(r.err, 0) << strerror(r.err);
  ASSERT_EQ(r.action, XDP_TX);
  int be = backend_of_frame(r.out);
  ASSERT_TRUE(any_of_vip_a(be));
  auto v = dp.vip_counters(0);
  auto b = dp.backend_counters(uint32_t(be));
  ASSERT_TRUE(v.ok() && b.ok());
  ASSERT_GT(v->packets, 0u);
  ASSERT_GT(b->packets, 0u);

  ASSERT_TRUE(dp.counters_reset(CounterKind::vip, 0).ok());
  ASSERT_TRUE(dp.counters_reset(CounterKind::backend, uint32_t(be)).ok());
  v = dp.vip_counters(0);
  b = dp.backend_counters(uint32_t(be));
  ASSERT_TRUE(v.ok() && b.ok());
  EXPECT_EQ(v->packets, 0u);
  EXPECT_EQ(v->bytes, 0u);
  EXPECT_EQ(v->new_conns, 0u);
  EXPECT_EQ(b->packets, 0u);
  EXPECT_EQ(b->bytes, 0u);

  Bytes ack = frame(client, vip, {6, 42901, 80, 0x10});
  r = prog_run(dp.prog_fd(), ack);
  ASSERT_EQ(r.action, XDP_TX);
  v = dp.vip_counters(0);
  b = dp.backend_counters(uint32_t(be));
  ASSERT_TRUE(v.ok() && b.ok());
  EXPECT_EQ(v->packets, 1u);
  EXPECT_EQ(v->bytes, ack.size());
  EXPECT_EQ(b->packets, 1u);
}

TEST(CountersReset, AnIdOutsideTheTableIsAnError) {
  ASSERT_TRUE(test_lb().dp) << test_lb().error;
  EXPECT_FALSE(test_lb().dp->counters_reset(CounterKind::vip, SL_MAX_VIPS).ok());
  EXPECT_FALSE(test_lb().dp->counters_reset(CounterKind::backend, SL_MAX_BACKENDS).ok());
}

}  // namespace
}  // namespace sluice::test
