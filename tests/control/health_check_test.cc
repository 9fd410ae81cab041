// SPDX-License-Identifier: Apache-2.0
#include "control/health/health_check.h"

#include <gtest/gtest.h>

#include "tests/control/fake_clock.h"

namespace sluice {
namespace {

using std::chrono::milliseconds;

const ProbeResult kOk{true, ""};
const ProbeResult kRefused{false, "connect: Connection refused"};
const ProbeResult kTimeout{false, "timeout after 500 ms (connect)"};

class HealthCheckTest : public ::testing::Test {
 protected:
  // One probe now, its result, then the clock moves one interval.
  std::optional<Health> probe(const ProbeResult& r) {
    EXPECT_TRUE(check.due(clock.now()));
    check.probe_started(clock.now());
    auto t = check.record(r, clock.now());
    clock.advance(milliseconds(1000));
    return t;
  }

  FakeClock clock;
  HealthCheck check{{2, 3, milliseconds(1000)}, clock.now()};
};

TEST_F(HealthCheckTest, StartsUpWithTheFirstProbeDueAtOnce) {
  EXPECT_EQ(check.status().state, Health::up);
  EXPECT_TRUE(check.due(clock.now()));
  EXPECT_EQ(check.status().transitions, 0u);
}

TEST_F(HealthCheckTest, FallConsecutiveFailuresTakeItDown) {
  EXPECT_EQ(probe(kRefused), std::nullopt);
  EXPECT_EQ(probe(kRefused), std::nullopt);
  auto when = clock.now();
  EXPECT_EQ(probe(kRefused), Health::down);
  const HealthStatus& s = check.status();
  EXPECT_EQ(s.state, Health::down);
  EXPECT_EQ(s.consecutive_fail, 3u);
  EXPECT_EQ(s.consecutive_ok, 0u);
  EXPECT_EQ(s.last_error, "connect: Connection refused");
  EXPECT_EQ(s.last_change, when);
  EXPECT_EQ(s.transitions, 1u);
  EXPECT_FALSE(s.healthy());
}

TEST_F(HealthCheckTest, RiseConsecutiveSuccessesBringItBack) {
  for (int i = 0; i < 3; ++i) (void)probe(kRefused);
  EXPECT_EQ(probe(kOk), std::nullopt);
  EXPECT_EQ(check.status().state, Health::down);
  EXPECT_EQ(probe(kOk), Health::up);
  EXPECT_EQ(check.status().consecutive_ok, 2u);
  EXPECT_EQ(check.status().transitions, 2u);
  // The reason of the last failure stays visible after recovery.
  EXPECT_EQ(check.status().last_error, "connect: Connection refused");
}

TEST_F(HealthCheckTest, TimeoutCountsAsAFailure) {
  for (int i = 0; i < 2; ++i) (void)probe(kTimeout);
  EXPECT_EQ(probe(kTimeout), Health::down);
  EXPECT_EQ(check.status().last_error, "timeout after 500 ms (connect)");
}

TEST_F(HealthCheckTest, ASuccessResetsTheFailureCount) {
  (void)probe(kRefused);
  (void)probe(kRefused);
  (void)probe(kOk);
  (void)probe(kRefused);
  EXPECT_EQ(probe(kRefused), std::nullopt);
  EXPECT_EQ(check.status().state, Health::up);
  EXPECT_EQ(probe(kRefused), Health::down);
}

TEST_F(HealthCheckTest, FlappingWhileDownNeedsRiseInARow) {
  for (int i = 0; i < 3; ++i) (void)probe(kRefused);
  for (int i = 0; i < 5; ++i) {
    EXPECT_EQ(probe(kOk), std::nullopt);
    EXPECT_EQ(probe(kRefused), std::nullopt);
  }
  EXPECT_EQ(check.status().state, Health::down);
  EXPECT_EQ(check.status().transitions, 1u);
}

TEST_F(HealthCheckTest, RiseAndFallOfOneFollowEveryResult) {
  HealthCheck quick({1, 1, milliseconds(100)}, clock.now());
  EXPECT_EQ(quick.record(kRefused, clock.now()), Health::down);
  EXPECT_EQ(quick.record(kOk, clock.now()), Health::up);
  EXPECT_EQ(quick.record(kRefused, clock.now()), Health::down);
  EXPECT_EQ(quick.status().transitions, 3u);
}

TEST_F(HealthCheckTest, NextProbeIsDueOneIntervalAfterTheLastStarted) {
  auto start = clock.now();
  check.probe_started(start);
  EXPECT_EQ(check.next_due(), start + milliseconds(1000));
  // Not while the probe is in flight, even past its due time.
  clock.advance(milliseconds(1500));
  EXPECT_FALSE(check.due(clock.now()));
  (void)check.record(kOk, clock.now());
  EXPECT_TRUE(check.due(clock.now()));
  // A slow probe does not shift the cadence: due at start + interval.
  check.probe_started(start + milliseconds(1000));
  (void)check.record(kOk, start + milliseconds(1400));
  EXPECT_FALSE(check.due(start + milliseconds(1999)));
  EXPECT_TRUE(check.due(start + milliseconds(2000)));
}

TEST_F(HealthCheckTest, NewParamsKeepTheState) {
  for (int i = 0; i < 3; ++i) (void)probe(kRefused);
  check.set_params({1, 1, milliseconds(500)});
  EXPECT_EQ(check.status().state, Health::down);
  EXPECT_EQ(check.status().consecutive_fail, 3u);
  EXPECT_EQ(probe(kOk), Health::up);  // rise is 1 now
}

TEST(HealthName, Names) {
  EXPECT_STREQ(health_name(Health::up), "up");
  EXPECT_STREQ(health_name(Health::down), "down");
  EXPECT_STREQ(health_name(Health::unchecked), "unchecked");
}

}  // namespace
}  // namespace sluice
