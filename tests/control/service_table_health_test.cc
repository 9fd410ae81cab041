// SPDX-License-Identifier: Apache-2.0
// ServiceTable under health changes: who is in the ring, the flags that
// decide about established flows, and the order they are written in.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <netinet/in.h>

#include <algorithm>

#include "control/health/health_monitor.h"
#include "control/daemon/service_table.h"
#include "tests/control/fake_clock.h"
#include "tests/control/fake_dataplane.h"

namespace sluice {
namespace {

using ::testing::ElementsAre;

IpAddr ip(const char* s) { return *IpAddr::parse(s); }

BackendConfig be(const char* addr, uint32_t weight = 1, bool backup = false) {
  return BackendConfig{ip(addr), weight, backup};
}

VipConfig checked_vip(std::vector<BackendConfig> backends,
                      BackendDownPolicy policy = BackendDownPolicy::keep) {
  VipConfig v;
  v.address = ip("198.18.0.100");
  v.port = 80;
  v.protocol = IPPROTO_TCP;
  v.backends = std::move(backends);
  v.health_check = HealthCheckConfig{};
  v.health_check->type = "tcp";
  v.on_backend_down = policy;
  return v;
}

HealthStatus status(Health h) {
  HealthStatus s;
  s.state = h;
  return s;
}

class ServiceTableHealthTest : public ::testing::Test {
 protected:
  void apply(const std::vector<VipConfig>& vips) {
    auto r = table.apply(vips, {});
    ASSERT_TRUE(r.ok()) << r.error().message();
  }
  void set(const char* backend, Health h) {
    auto r = table.set_health({ip("198.18.0.100"), 80, IPPROTO_TCP, ip(backend)}, status(h));
    ASSERT_TRUE(r.ok()) << r.error().message();
  }
  std::vector<uint16_t> ring() const {
    return dp.live_ring(dp.vips.at(FakeDataplane::key_str(table.vips()[0].key())).meta);
  }
  uint32_t index_of(size_t b) const { return table.vips()[0].backends[b].index; }
  uint8_t flags_of(size_t b) const { return dp.backends.at(index_of(b)).flags; }
  const BackendState& state_of(size_t b) const { return table.vips()[0].backends[b]; }

  FakeDataplane dp;
  FakeMacResolver resolver;
  ServiceTable table{dp, resolver};
};

TEST_F(ServiceTableHealthTest, CheckedBackendsStartUpAndServe) {
  apply({checked_vip({be("198.18.0.11"), be("198.18.0.12")})});
  EXPECT_EQ(state_of(0).health.state, Health::up);
  EXPECT_THAT(ring(), ElementsAre(index_of(0), index_of(1)));
  VipConfig unchecked = checked_vip({be("198.18.0.11")});
  unchecked.health_check.reset();
  apply({unchecked});
  EXPECT_EQ(state_of(0).health.state, Health::unchecked);
}

struct PolicyCase {
  BackendDownPolicy policy;
  uint8_t flags_when_down;
};

class DownPolicy : public ServiceTableHealthTest,
                   public ::testing::WithParamInterface<PolicyCase> {};

TEST_P(DownPolicy, DownBackendLeavesTheRingAndItsFlagsFollowThePolicy) {
  apply({checked_vip({be("198.18.0.11"), be("198.18.0.12")}, GetParam().policy)});
  set("198.18.0.12", Health::down);
  EXPECT_THAT(ring(), ElementsAre(index_of(0)));
  EXPECT_FALSE(state_of(1).serving);
  EXPECT_EQ(flags_of(1), GetParam().flags_when_down);
  EXPECT_EQ(flags_of(0), SL_BE_F_LIVE);
  set("198.18.0.12", Health::up);
  EXPECT_THAT(ring(), ElementsAre(index_of(0), index_of(1)));
  EXPECT_EQ(flags_of(1), SL_BE_F_LIVE);
}

INSTANTIATE_TEST_SUITE_P(Policies, DownPolicy,
                         ::testing::Values(PolicyCase{BackendDownPolicy::keep, SL_BE_F_LIVE | SL_BE_F_DOWN},
                                           PolicyCase{BackendDownPolicy::reschedule, 0},
                                           PolicyCase{BackendDownPolicy::drop,
                                                      SL_BE_F_DROP_FLOWS}));

TEST_F(ServiceTableHealthTest, RingSwitchesBeforeTheFlagsChangeOnDown) {
  apply({checked_vip({be("198.18.0.11"), be("198.18.0.12")}, BackendDownPolicy::drop)});
  dp.log.clear();
  set("198.18.0.12", Health::down);
  std::string put = "backend_put " + std::to_string(index_of(1));
  EXPECT_THAT(dp.log, ElementsAre("ring_put 1", "vip_put 0 ring 1", put));
  dp.log.clear();
  set("198.18.0.12", Health::up);  // the reverse: LIVE before the ring points at it
  EXPECT_THAT(dp.log, ElementsAre(put, "ring_put 0", "vip_put 0 ring 0"));
}

TEST_F(ServiceTableHealthTest, AllPrimariesDownThenBackupsServeUntilAPrimaryIsBack) {
  apply({checked_vip({be("198.18.0.11"), be("198.18.0.12"), be("198.18.0.13", 1, true),
                      be("198.18.0.14", 2, true)})});
  EXPECT_THAT(ring(), ElementsAre(index_of(0), index_of(1)));
  set("198.18.0.11", Health::down);
  set("198.18.0.12", Health::down);
  EXPECT_THAT(ring(), ElementsAre(index_of(3), index_of(2), index_of(3)));
  EXPECT_TRUE(state_of(2).serving);
  set("198.18.0.12", Health::up);
  EXPECT_THAT(ring(), ElementsAre(index_of(1)));
  EXPECT_FALSE(state_of(2).serving);
  // Standby backups keep LIVE: their flows from the outage stay on them.
  EXPECT_EQ(flags_of(2), SL_BE_F_LIVE);
}

TEST_F(ServiceTableHealthTest, DownBackupIsSkippedAndNothingLeftMeansAnEmptyRing) {
  apply({checked_vip({be("198.18.0.11"), be("198.18.0.13", 1, true)})});
  set("198.18.0.11", Health::down);
  set("198.18.0.13", Health::down);
  EXPECT_TRUE(ring().empty());
  EXPECT_EQ(table.vips()[0].ring_len, 0u);
}

// Drained (sluicectl backend drain) reaches the table as weight 0.
TEST_F(ServiceTableHealthTest, DrainedBackendStaysLive) {
  apply({checked_vip({be("198.18.0.11"), be("198.18.0.12", 0)}, BackendDownPolicy::drop)});
  EXPECT_THAT(ring(), ElementsAre(index_of(0)));
  EXPECT_EQ(flags_of(1), SL_BE_F_LIVE);
  EXPECT_EQ(state_of(1).health.state, Health::up);
}

TEST_F(ServiceTableHealthTest, ReapplyKeepsTheHealthOfBackendsThatStay) {
  apply({checked_vip({be("198.18.0.11"), be("198.18.0.12")}, BackendDownPolicy::drop)});
  set("198.18.0.12", Health::down);
  apply({checked_vip({be("198.18.0.12"), be("198.18.0.11", 3), be("198.18.0.15")},
                     BackendDownPolicy::drop)});
  EXPECT_EQ(state_of(0).health.state, Health::down);
  EXPECT_EQ(flags_of(0), SL_BE_F_DROP_FLOWS);
  EXPECT_EQ(state_of(2).health.state, Health::up);
  EXPECT_THAT(ring(), ElementsAre(index_of(1), index_of(1), index_of(2), index_of(1)));
  // A policy change re-flags a backend that is already down.
  apply({checked_vip({be("198.18.0.12"), be("198.18.0.11")}, BackendDownPolicy::reschedule)});
  EXPECT_EQ(flags_of(0), 0u);
}

TEST_F(ServiceTableHealthTest, UnknownBackendIsIgnored) {
  apply({checked_vip({be("198.18.0.11")})});
  dp.log.clear();
  set("198.18.0.99", Health::down);
  EXPECT_TRUE(dp.log.empty());
}

TEST_F(ServiceTableHealthTest, MonitorFollowsApplies) {
  FakeClock clock;
  HealthMonitor monitor(clock, nullptr, {});
  table.on_apply([&] { monitor.sync(health_check_defs(table)); });
  apply({checked_vip({be("198.18.0.11"), be("198.18.0.12")})});
  EXPECT_EQ(monitor.checks(), 2u);
  EXPECT_EQ(monitor.poll_timeout_ms(), 0);  // first probes due at once
  VipConfig plain = checked_vip({be("198.18.0.11")});
  plain.health_check.reset();
  apply({plain, [] {
           VipConfig v = checked_vip({be("198.18.0.21")});
           v.port = 443;
           return v;
         }()});
  EXPECT_EQ(monitor.checks(), 1u);
  auto defs = health_check_defs(table);
  ASSERT_EQ(defs.size(), 1u);
  EXPECT_EQ(defs[0].name, "198.18.0.100:443/tcp backend 198.18.0.21");
  EXPECT_EQ(defs[0].spec.port, 443);
}

}  // namespace
}  // namespace sluice
