// SPDX-License-Identifier: Apache-2.0
#include "core/wrr.h"

#include <gtest/gtest.h>

#include <map>
#include <vector>

namespace {

std::vector<int> build(std::vector<__u32> w, __u32 cap = SL_RING_SLOTS) {
  static sl_ring ring;
  ring.len = sl_wrr_build(w.data(), w.size(), ring.slots, cap);
  return std::vector<int>(ring.slots, ring.slots + ring.len);
}

TEST(Wrr, OneTwoOneInterleaves) {
  // Smooth WRR: B A C B, never the two B's of a period side by side.
  EXPECT_EQ(build({1, 2, 1}), (std::vector<int>{1, 0, 2, 1}));
}

TEST(Wrr, NginxKnownSequence) {
  // nginx's documented example: weights a=5, b=1, c=1 give a a b a c a a.
  EXPECT_EQ(build({5, 1, 1}), (std::vector<int>{0, 0, 1, 0, 2, 0, 0}));
}

TEST(Wrr, CommonFactorIsReduced) {
  EXPECT_EQ(build({2, 4, 2}), build({1, 2, 1}));
  EXPECT_EQ(build({100, 100, 100}), (std::vector<int>{0, 1, 2}));
}

TEST(Wrr, ZeroWeightNeverScheduled) {
  auto r = build({3, 0, 1});
  EXPECT_EQ(r.size(), 4u);
  for (int i : r) EXPECT_NE(i, 1);
  EXPECT_TRUE(build({0, 0}).empty());
  EXPECT_TRUE(build({}).empty());
}

TEST(Wrr, CountsMatchWeightsEachPeriod) {
  std::vector<__u32> w = {7, 3, 11, 1, 5};
  auto r = build(w);
  ASSERT_EQ(r.size(), 27u);
  std::map<int, int> n;
  for (int i : r) n[i]++;
  for (size_t i = 0; i < w.size(); i++) EXPECT_EQ(n[i], (int)w[i]) << i;
}

TEST(Wrr, HeavyBackendIsSpreadNotBunched) {
  // 1:2:1 over many periods: the heavy one never runs three in a row.
  auto r = build({1, 2, 1});
  std::vector<int> seq;
  for (int k = 0; k < 10; k++) seq.insert(seq.end(), r.begin(), r.end());
  for (size_t i = 2; i < seq.size(); i++)
    EXPECT_FALSE(seq[i] == seq[i - 1] && seq[i] == seq[i - 2]) << i;
}

TEST(Wrr, LargeWeightsScaleIntoTheRing) {
  auto r = build({10000, 9999, 1}, 1000);
  ASSERT_GT(r.size(), 0u);
  ASSERT_LE(r.size(), 1000u);
  std::map<int, int> n;
  for (int i : r) n[i]++;
  EXPECT_GE(n[2], 1);  // never scaled to nothing
  EXPECT_NEAR(double(n[0]) / n[1], 1.0, 0.02);
}

TEST(Wrr, MoreBackendsThanSlotsIsRefused) {
  std::vector<__u32> w(20, 1);
  w[0] = 2;  // not all equal, so no plain round robin either
  EXPECT_TRUE(build(w, 10).empty());
}

TEST(Wrr, ManyEqualBackendsRoundRobin) {
  std::vector<__u32> w(10000, 3);
  auto r = build(w);
  ASSERT_EQ(r.size(), 10000u);
  for (int i = 0; i < 10000; i++) ASSERT_EQ(r[i], i);
}

TEST(RingPick, CyclesAndWraps) {
  static sl_ring ring;
  __u32 w[3] = {1, 2, 1};
  ring.len = sl_wrr_build(w, 3, ring.slots, SL_RING_SLOTS);
  __u32 cursor = 0;
  std::vector<__u32> got;
  for (int i = 0; i < 8; i++) got.push_back(sl_ring_pick(&ring, &cursor));
  EXPECT_EQ(got, (std::vector<__u32>{1, 0, 2, 1, 1, 0, 2, 1}));
}

TEST(RingPick, EmptyOrCorruptRingHasNoBackend) {
  static sl_ring ring;
  __u32 cursor = 0;
  ring.len = 0;
  EXPECT_EQ(sl_ring_pick(&ring, &cursor), SL_NO_BACKEND);
  ring.len = SL_RING_SLOTS + 1;
  EXPECT_EQ(sl_ring_pick(&ring, &cursor), SL_NO_BACKEND);
}

TEST(RingPick, CursorBeyondShrunkRingRestarts) {
  static sl_ring ring;
  ring.len = 2;
  ring.slots[0] = 5;
  ring.slots[1] = 6;
  __u32 cursor = 9;  // left over from a longer ring
  EXPECT_EQ(sl_ring_pick(&ring, &cursor), 5u);
  EXPECT_EQ(sl_ring_pick(&ring, &cursor), 6u);
}

}  // namespace
