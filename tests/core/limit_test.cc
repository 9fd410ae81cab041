// SPDX-License-Identifier: Apache-2.0
// core/limit.h: the per-source token bucket (GCRA) and its key.
#include "core/limit.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>

namespace sluice::test {
namespace {

TEST(Limit, BurstThenOneTokenPerInterval) {
  __u64 tat = 0;
  const __u64 t0 = 5000000000ull;
  for (int i = 0; i < 4; i++) EXPECT_TRUE(sl_limit_take(&tat, t0, 1000, 4)) << i;
  EXPECT_FALSE(sl_limit_take(&tat, t0, 1000, 4));
  EXPECT_FALSE(sl_limit_take(&tat, t0 + 999, 1000, 4));
  EXPECT_TRUE(sl_limit_take(&tat, t0 + 1000, 1000, 4));
  EXPECT_FALSE(sl_limit_take(&tat, t0 + 1000, 1000, 4));
  // A refused flow takes no token: the next interval still gives one.
  EXPECT_TRUE(sl_limit_take(&tat, t0 + 2000, 1000, 4));
  // Idle long enough, the bucket is full again, never fuller.
  const __u64 t1 = t0 + 1000000;
  for (int i = 0; i < 4; i++) EXPECT_TRUE(sl_limit_take(&tat, t1, 1000, 4)) << i;
  EXPECT_FALSE(sl_limit_take(&tat, t1, 1000, 4));
}

TEST(Limit, ZeroBurstAdmitsNothing) {
  __u64 tat = 0;
  EXPECT_FALSE(sl_limit_take(&tat, 1000000, 1000, 0));
}

TEST(Limit, RateOverTimeIsTheConfiguredOne) {
  __u64 tat = 0;
  int admitted = 0;
  // 1 ms of a new flow every 100 ns against 1 per 10 us, burst 5.
  for (__u64 t = 1000000; t < 2000000; t += 100) admitted += sl_limit_take(&tat, t, 10000, 5);
  EXPECT_EQ(admitted, 100 + 4);  // the burst, then one per interval
}

TEST(Limit, VipLimitFirstThenGlobal) {
  sl_vip_meta vip{};
  sl_global g{};
  __u32 scope = 0, interval = 0, burst = 0;
  vip.vip_id = 7;
  EXPECT_FALSE(sl_limit_pick(&vip, &g, &scope, &interval, &burst));
  g.limit_interval_ns = 100;
  g.limit_burst = 2;
  ASSERT_TRUE(sl_limit_pick(&vip, &g, &scope, &interval, &burst));
  EXPECT_EQ(scope, SL_LIMIT_SCOPE_GLOBAL);
  EXPECT_EQ(interval, 100u);
  vip.limit_interval_ns = 50;
  vip.limit_burst = 9;
  ASSERT_TRUE(sl_limit_pick(&vip, &g, &scope, &interval, &burst));
  EXPECT_EQ(scope, 7u);
  EXPECT_EQ(burst, 9u);
}

TEST(Limit, KeyIsTheSourceAndAnIpv6OneItsSlash64) {
  sl_flow_key f{};
  f.family = SL_AF_INET6;
  inet_pton(AF_INET6, "2001:2::1:2:3:4", f.src);
  f.sport = 1234;
  sl_limit_key k;
  sl_limit_key_of(&f, 3, &k);
  EXPECT_EQ(k.addr[0], f.src[0]);
  EXPECT_EQ(k.addr[1], f.src[1]);
  EXPECT_EQ(k.addr[2], 0u);
  EXPECT_EQ(k.addr[3], 0u);
  EXPECT_EQ(k.scope, 3u);
  sl_flow_key f4{};
  f4.family = SL_AF_INET;
  f4.src[0] = htonl(0xc6120001);
  sl_limit_key_of(&f4, SL_LIMIT_SCOPE_GLOBAL, &k);
  EXPECT_EQ(k.addr[0], htonl(0xc6120001));
  EXPECT_EQ(k.addr[1], 0u);
  EXPECT_EQ(k.family, SL_AF_INET);
}

}  // namespace
}  // namespace sluice::test
