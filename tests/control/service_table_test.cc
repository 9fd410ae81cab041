// SPDX-License-Identifier: Apache-2.0
#include "control/daemon/service_table.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <netinet/in.h>

#include <algorithm>

#include "tests/control/fake_dataplane.h"

namespace sluice {
namespace {

using ::testing::ElementsAre;

IpAddr ip(const char* s) { return *IpAddr::parse(s); }

VipConfig make_vip(const char* addr, uint16_t port, std::vector<BackendConfig> backends,
                   sl_mode mode = SL_MODE_DSR) {
  VipConfig v;
  v.address = ip(addr);
  v.port = port;
  v.protocol = IPPROTO_TCP;
  v.mode = mode;
  v.backends = std::move(backends);
  return v;
}

BackendConfig be(const char* addr, uint32_t weight = 1, bool backup = false) {
  return BackendConfig{ip(addr), weight, backup};
}

class ServiceTableTest : public ::testing::Test {
 protected:
  const sl_vip_meta& meta(size_t i) const {
    return dp.vips.at(FakeDataplane::key_str(table.vips()[i].key())).meta;
  }
  std::vector<uint16_t> ring(size_t i) const { return dp.live_ring(meta(i)); }
  uint32_t index_of(size_t vip, size_t backend) const {
    return table.vips()[vip].backends[backend].index;
  }
  void apply(const std::vector<VipConfig>& vips) {
    auto r = table.apply(vips, {});
    ASSERT_TRUE(r.ok()) << r.error().message();
  }

  FakeDataplane dp;
  FakeMacResolver resolver;
  ServiceTable table{dp, resolver};
};

TEST_F(ServiceTableTest, AssignsVipIdsAndBackendSlots) {
  apply({make_vip("198.18.0.100", 80, {be("198.18.0.11"), be("198.18.0.12")}),
         make_vip("2001:2::100", 443, {be("2001:2::11")}, SL_MODE_IPIP)});
  ASSERT_EQ(dp.vips.size(), 2u);
  EXPECT_EQ(meta(0).vip_id, 0u);
  EXPECT_EQ(meta(1).vip_id, 1u);
  EXPECT_EQ(meta(0).mode, SL_MODE_DSR);
  EXPECT_EQ(meta(1).mode, SL_MODE_IPIP);
  EXPECT_EQ(index_of(0, 0), 0u);
  EXPECT_EQ(index_of(0, 1), 1u);
  EXPECT_EQ(index_of(1, 0), 2u);
  const sl_backend& b = dp.backends.at(2);
  EXPECT_EQ(b.family, SL_AF_INET6);
  EXPECT_EQ(b.vip_id, 1u);
  EXPECT_EQ(b.flags, SL_BE_F_LIVE);
  EXPECT_EQ(IpAddr::from_abi(b.addr, b.family), ip("2001:2::11"));
  EXPECT_EQ(b.mac[0], 0x02);
  EXPECT_EQ(b.mac[5], 0x11);
  sl_vip_key k = table.vips()[0].key();
  EXPECT_EQ(k.port, htons(80));
  EXPECT_EQ(k.proto, IPPROTO_TCP);
  EXPECT_EQ(k.family, SL_AF_INET);
}

// syn_flood_protection: false is the one-table flag; a VIP's own limit
// goes on its entry, the node's on sl_global; a re-apply without them
// clears them.
TEST_F(ServiceTableTest, FloodProtectionAndLimitsReachTheDataplane) {
  VipConfig off = make_vip("198.18.0.100", 80, {be("198.18.0.11")});
  off.syn_flood_protection = false;
  off.limits = LimitsConfig{1000, 20};
  VipConfig on = make_vip("198.18.0.100", 81, {be("198.18.0.11")});
  on.syn_flood_protection = true;
  apply({off, on});
  EXPECT_EQ(meta(0).flags & SL_VIP_F_ONE_TABLE, SL_VIP_F_ONE_TABLE);
  EXPECT_EQ(meta(0).limit_interval_ns, 1000000u);
  EXPECT_EQ(meta(0).limit_burst, 20u);
  EXPECT_EQ(meta(1).flags & SL_VIP_F_ONE_TABLE, 0u);
  EXPECT_EQ(meta(1).limit_interval_ns, 0u);
  off.syn_flood_protection = true;
  off.limits.reset();
  apply({off, on});
  EXPECT_EQ(meta(0).flags & SL_VIP_F_ONE_TABLE, 0u);
  EXPECT_EQ(meta(0).limit_interval_ns, 0u);
  EXPECT_EQ(meta(0).limit_burst, 0u);

  ASSERT_TRUE(table.global().set_limits(LimitsConfig{10000000, 65535}).ok());
  EXPECT_EQ(dp.global.limit_interval_ns, 100u);
  EXPECT_EQ(dp.global.limit_burst, 65535u);
  ASSERT_TRUE(table.global().set_role(SL_ROLE_PASSIVE).ok());
  EXPECT_EQ(dp.global.limit_interval_ns, 100u);  // the role's write keeps it
  ASSERT_TRUE(table.global().set_limits(std::nullopt).ok());
  EXPECT_EQ(dp.global.limit_interval_ns, 0u);
  EXPECT_EQ(dp.global.role, uint32_t(SL_ROLE_PASSIVE));
}

TEST_F(ServiceTableTest, RingFollowsSmoothWeights121) {
  apply({make_vip("198.18.0.100", 80,
                  {be("198.18.0.11", 1), be("198.18.0.12", 2), be("198.18.0.13", 1)})});
  uint16_t a = index_of(0, 0), b = index_of(0, 1), c = index_of(0, 2);
  EXPECT_THAT(ring(0), ElementsAre(b, a, c, b));
  EXPECT_EQ(table.vips()[0].ring_len, 4u);
}

TEST_F(ServiceTableTest, BackupTierOnlyWhenEveryPrimaryHasWeightZero) {
  apply({make_vip("198.18.0.100", 80,
                  {be("198.18.0.11", 1), be("198.18.0.12", 0), be("198.18.0.13", 1, true)})});
  EXPECT_THAT(ring(0), ElementsAre(index_of(0, 0)));
  apply({make_vip("198.18.0.100", 80,
                  {be("198.18.0.11", 0), be("198.18.0.12", 0), be("198.18.0.13", 1, true)})});
  EXPECT_THAT(ring(0), ElementsAre(index_of(0, 2)));
  EXPECT_TRUE(table.vips()[0].backends[2].serving);
}

TEST_F(ServiceTableTest, NoServingBackendGivesAnEmptyRing) {
  apply({make_vip("198.18.0.100", 80, {be("198.18.0.11", 0)})});
  EXPECT_TRUE(ring(0).empty());
}

TEST_F(ServiceTableTest, RemovedBackendLosesLiveAndItsSlotComesBackWithANewGen) {
  apply({make_vip("198.18.0.100", 80, {be("198.18.0.11"), be("198.18.0.12"), be("198.18.0.13")})});
  uint32_t gone = index_of(0, 1);
  uint32_t gen_before = dp.backends.at(gone).gen;
  apply({make_vip("198.18.0.100", 80, {be("198.18.0.11"), be("198.18.0.13")})});
  EXPECT_EQ(dp.backends.at(gone).flags & SL_BE_F_LIVE, 0u);
  EXPECT_EQ(dp.backends.at(index_of(0, 0)).flags, SL_BE_F_LIVE);
  EXPECT_THAT(ring(0), ElementsAre(index_of(0, 0), index_of(0, 1)));
  // Kept backends keep their slots.
  EXPECT_EQ(index_of(0, 0), 0u);
  EXPECT_EQ(index_of(0, 1), 2u);
  apply({make_vip("198.18.0.100", 80, {be("198.18.0.11"), be("198.18.0.13"), be("198.18.0.14")})});
  EXPECT_EQ(index_of(0, 2), gone);
  EXPECT_EQ(dp.backends.at(gone).gen, gen_before + 1);
  EXPECT_EQ(dp.backends.at(gone).flags, SL_BE_F_LIVE);
}

TEST_F(ServiceTableTest, RingIsWrittenToTheInactiveRingBeforeTheSwitch) {
  auto vips = std::vector<VipConfig>{make_vip("198.18.0.100", 80, {be("198.18.0.11")})};
  vips.push_back(make_vip("198.18.0.101", 80, {be("198.18.0.12")}));
  apply(vips);
  EXPECT_EQ(meta(1).ring_id, 2u);
  dp.log.clear();
  apply(vips);
  std::vector<std::string> want = {"ring_put 1", "vip_put 0 ring 1", "ring_put 3",
                                   "vip_put 1 ring 3"};
  std::vector<std::string> got;
  for (const auto& l : dp.log)
    if (l.rfind("ring_put", 0) == 0 || l.rfind("vip_put", 0) == 0) got.push_back(l);
  EXPECT_EQ(got, want);
  dp.log.clear();
  apply(vips);
  EXPECT_EQ(dp.log[dp.log.size() - 2], "ring_put 2");
  EXPECT_EQ(dp.log.back(), "vip_put 1 ring 2");
}

TEST_F(ServiceTableTest, BackendsAreLiveBeforeTheRingPointsAtThem) {
  apply({make_vip("198.18.0.100", 80, {be("198.18.0.11")})});
  auto put = std::find(dp.log.begin(), dp.log.end(), "backend_put 0");
  auto ring_put = std::find(dp.log.begin(), dp.log.end(), "ring_put 0");
  EXPECT_LT(put, ring_put);
}

TEST_F(ServiceTableTest, RemovedVipIsDeletedAndItsIdReused) {
  apply({make_vip("198.18.0.100", 80, {be("198.18.0.11")}),
         make_vip("198.18.0.101", 80, {be("198.18.0.12")})});
  apply({make_vip("198.18.0.101", 80, {be("198.18.0.12")})});
  EXPECT_EQ(dp.vips.size(), 1u);
  EXPECT_EQ(meta(0).vip_id, 1u);
  EXPECT_EQ(dp.backends.at(0).flags, 0u);
  apply({make_vip("198.18.0.101", 80, {be("198.18.0.12")}),
         make_vip("198.18.0.102", 80, {be("198.18.0.13")})});
  EXPECT_EQ(meta(1).vip_id, 0u);
}

// A new VIP or backend starts its counters from zero, even in a reused id
// or slot; one that stays keeps its totals.
TEST_F(ServiceTableTest, CountersAreResetWhenAnIdIsAllocatedOnly) {
  apply({make_vip("198.18.0.100", 80, {be("198.18.0.11"), be("198.18.0.12")}),
         make_vip("198.18.0.101", 80, {be("198.18.0.13")})});
  EXPECT_THAT(dp.resets, ElementsAre("vip 0", "backend 0", "backend 1", "vip 1", "backend 2"));
  dp.resets.clear();
  apply({make_vip("198.18.0.100", 80, {be("198.18.0.11"), be("198.18.0.12")}),
         make_vip("198.18.0.101", 80, {be("198.18.0.13")})});
  EXPECT_TRUE(dp.resets.empty());
  apply({make_vip("198.18.0.101", 80, {be("198.18.0.13")})});
  EXPECT_TRUE(dp.resets.empty());
  apply({make_vip("198.18.0.101", 80, {be("198.18.0.13")}),
         make_vip("198.18.0.102", 80, {be("198.18.0.14")})});
  EXPECT_THAT(dp.resets, ElementsAre("vip 0", "backend 0"));  // reused id and slot
}

TEST_F(ServiceTableTest, UnresolvedBackendIsNotScheduledUntilItsMacIsKnown) {
  resolver.missing = {ip("198.18.0.12")};
  apply({make_vip("198.18.0.100", 80, {be("198.18.0.11"), be("198.18.0.12")})});
  EXPECT_THAT(ring(0), ElementsAre(index_of(0, 0)));
  EXPECT_EQ(dp.backends.at(index_of(0, 1)).flags, 0u);
  resolver.missing.clear();
  auto changed = table.refresh_macs();
  ASSERT_TRUE(changed.ok());
  EXPECT_EQ(*changed, 1u);
  EXPECT_THAT(ring(0), ElementsAre(index_of(0, 0), index_of(0, 1)));
  EXPECT_EQ(dp.backends.at(index_of(0, 1)).flags, SL_BE_F_LIVE);
}

TEST_F(ServiceTableTest, RefreshReprogramsOnlyChangedMacs) {
  apply({make_vip("198.18.0.100", 80, {be("198.18.0.11"), be("198.18.0.12")})});
  dp.log.clear();
  auto same = table.refresh_macs();
  ASSERT_TRUE(same.ok());
  EXPECT_EQ(*same, 0u);
  EXPECT_TRUE(dp.log.empty());
  resolver.shift = 7;
  auto changed = table.refresh_macs();
  ASSERT_TRUE(changed.ok());
  EXPECT_EQ(*changed, 2u);
  EXPECT_EQ(dp.backends.at(0).mac[1], 7);
}

TEST_F(ServiceTableTest, NodeSettingsMakeTheNodeActive) {
  NodeAddrs node;
  node.lb_mac = {0x02, 0, 0, 0, 0, 0x01};
  node.src_v4 = ip("198.18.0.1");
  node.src_v6 = ip("2001:2::1");
  ASSERT_TRUE(table.set_node(node).ok());
  EXPECT_EQ(dp.global.role, SL_ROLE_ACTIVE);
  EXPECT_EQ(dp.global.lb_mac[5], 0x01);
  EXPECT_EQ(dp.global.src_v4, htonl(0xc6120001));
  EXPECT_EQ(IpAddr::from_abi(dp.global.src_v6, SL_AF_INET6), ip("2001:2::1"));
}

}  // namespace
}  // namespace sluice
