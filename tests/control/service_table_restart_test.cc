// SPDX-License-Identifier: Apache-2.0
// A restarted sluiced takes over the tables its predecessor left: the fake
// dataplane is filled by a first ServiceTable (the previous run) and a
// second one, fresh from memory, applies the new config on top of it.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <netinet/in.h>

#include <map>

#include "control/daemon/service_table.h"
#include "core/steer.h"
#include "tests/control/fake_dataplane.h"

namespace sluice {
namespace {

IpAddr ip(const char* s) { return *IpAddr::parse(s); }

VipConfig make_vip(const char* addr, std::vector<const char*> backends) {
  VipConfig v;
  v.address = ip(addr);
  v.port = 80;
  v.protocol = IPPROTO_TCP;
  for (const char* b : backends) v.backends.push_back(BackendConfig{ip(b), 1, false});
  return v;
}

// A flow as the XDP program records it on its first packet.
sl_conn conn_on(const sl_backend& be, uint32_t slot) {
  sl_conn c{};
  c.backend = slot;
  c.gen = be.gen;
  c.vip_id = be.vip_id;
  return c;
}

class RestartTest : public ::testing::Test {
 protected:
  void run(ServiceTable& t, const std::vector<VipConfig>& vips) {
    auto r = t.apply(vips, {});
    ASSERT_TRUE(r.ok()) << r.error().message();
  }
  const sl_vip_meta& meta(const ServiceTable& t, size_t i) const {
    return dp.vips.at(FakeDataplane::key_str(t.vips()[i].key())).meta;
  }
  uint32_t slot(const ServiceTable& t, size_t vip, size_t backend) const {
    return t.vips()[vip].backends[backend].index;
  }
  // Does a flow recorded on `slot` as `c` still reach `addr`?
  bool reaches(const sl_conn& c, const char* addr) const {
    const sl_backend& be = dp.backends.at(c.backend);
    return sl_conn_usable(&c, &be) && IpAddr::from_abi(be.addr, be.family) == ip(addr);
  }
  std::vector<std::string> ring_log() const {
    std::vector<std::string> got;
    for (const auto& l : dp.log)
      if (l.rfind("ring_put", 0) == 0 || l.rfind("vip_put", 0) == 0) got.push_back(l);
    return got;
  }

  FakeDataplane dp;
  FakeMacResolver resolver;
  ServiceTable before{dp, resolver};
  ServiceTable after{dp, resolver};
};

TEST_F(RestartTest, SameConfigKeepsIdsSlotsGensAndBuildsIntoTheRingNotLive) {
  std::vector<VipConfig> cfg = {make_vip("198.18.0.100", {"198.18.0.11", "198.18.0.12"}),
                                make_vip("198.18.0.101", {"198.18.0.13"})};
  // Leave slot 1 at gen 1, VIP 0 on its even ring and VIP 1 on its odd one.
  run(before, {make_vip("198.18.0.100", {"198.18.0.11", "198.18.0.19"})});
  run(before, {make_vip("198.18.0.100", {"198.18.0.11"}), cfg[1]});
  run(before, cfg);
  ASSERT_EQ(slot(before, 0, 1), 1u);
  ASSERT_EQ(dp.backends.at(1).gen, 1u);
  std::map<uint32_t, sl_backend> old_backends = dp.backends;
  ASSERT_EQ(meta(before, 0).ring_id, 0u);
  ASSERT_EQ(meta(before, 1).ring_id, 3u);
  sl_conn flow = conn_on(dp.backends.at(1), 1);
  dp.log.clear();

  run(after, cfg);
  for (size_t v = 0; v < 2; ++v) {
    EXPECT_EQ(meta(after, v).vip_id, meta(before, v).vip_id);
    for (size_t b = 0; b < after.vips()[v].backends.size(); ++b)
      EXPECT_EQ(slot(after, v, b), slot(before, v, b));
  }
  for (const auto& [i, be] : old_backends) {
    EXPECT_EQ(dp.backends.at(i).gen, be.gen) << "slot " << i;
    EXPECT_EQ(dp.backends.at(i).flags, be.flags) << "slot " << i;
  }
  EXPECT_EQ(ring_log(), (std::vector<std::string>{"ring_put 1", "vip_put 0 ring 1",
                                                  "ring_put 2", "vip_put 1 ring 2"}));
  EXPECT_TRUE(reaches(flow, "198.18.0.12"));
  EXPECT_EQ(dp.vips.size(), 2u);
}

TEST_F(RestartTest, RemovedBackendLosesLiveAndItsGenIsNeverGivenToAnotherAddress) {
  run(before, {make_vip("198.18.0.100", {"198.18.0.11", "198.18.0.12", "198.18.0.13"})});
  uint32_t gone = slot(before, 0, 1);
  sl_conn to_gone = conn_on(dp.backends.at(gone), gone);
  sl_conn to_kept = conn_on(dp.backends.at(slot(before, 0, 2)), slot(before, 0, 2));

  run(after, {make_vip("198.18.0.100", {"198.18.0.11", "198.18.0.13"})});
  EXPECT_EQ(dp.backends.at(gone).flags & SL_BE_F_LIVE, 0u);
  EXPECT_EQ(dp.backends.at(gone).gen, to_gone.gen);
  EXPECT_FALSE(reaches(to_gone, "198.18.0.12"));
  EXPECT_TRUE(reaches(to_kept, "198.18.0.13"));
  EXPECT_THAT(dp.live_ring(meta(after, 0)), ::testing::Not(::testing::Contains(gone)));

  // A new backend reuses the slot: the old flows must not follow it.
  run(after, {make_vip("198.18.0.100", {"198.18.0.11", "198.18.0.13", "198.18.0.14"})});
  ASSERT_EQ(slot(after, 0, 2), gone);
  EXPECT_EQ(dp.backends.at(gone).gen, to_gone.gen + 1);
  EXPECT_FALSE(sl_conn_usable(&to_gone, &dp.backends.at(gone)));
}

TEST_F(RestartTest, AddedBackendGetsAFreshGenEvenInASlotRetiredBeforeTheRestart) {
  run(before, {make_vip("198.18.0.100", {"198.18.0.11", "198.18.0.12"})});
  sl_conn to_retired = conn_on(dp.backends.at(1), 1);
  run(before, {make_vip("198.18.0.100", {"198.18.0.11"})});  // slot 1 retired, gen 0

  run(after, {make_vip("198.18.0.100", {"198.18.0.11", "198.18.0.14"})});
  run(after, {make_vip("198.18.0.100", {"198.18.0.11", "198.18.0.14", "198.18.0.15"})});
  bool reused = false;
  for (size_t b = 1; b < 3; ++b) {
    uint32_t i = slot(after, 0, b);
    EXPECT_EQ(dp.backends.at(i).flags, SL_BE_F_LIVE);
    // Slot 1 had gen 0 before the restart; the others were never written.
    EXPECT_EQ(dp.backends.at(i).gen, i == 1 ? 1u : 0u) << "slot " << i;
    reused = reused || i == 1;
  }
  EXPECT_TRUE(reused);
  EXPECT_FALSE(sl_conn_usable(&to_retired, &dp.backends.at(1)));
}

TEST_F(RestartTest, VipGoneFromTheConfigIsDeletedAndANewOneTakesAnIdNobodyHolds) {
  run(before, {make_vip("198.18.0.100", {"198.18.0.11"}),
               make_vip("198.18.0.101", {"198.18.0.12"})});
  run(after, {make_vip("198.18.0.101", {"198.18.0.12"}),
              make_vip("198.18.0.102", {"198.18.0.13"})});
  ASSERT_EQ(dp.vips.size(), 2u);
  EXPECT_FALSE(dp.vips.contains(FakeDataplane::key_str(before.vips()[0].key())));
  EXPECT_EQ(meta(after, 0).vip_id, 1u);
  EXPECT_EQ(meta(after, 1).vip_id, 2u);
  EXPECT_EQ(meta(after, 1).ring_id, 4u);
  EXPECT_EQ(dp.backends.at(0).flags & SL_BE_F_LIVE, 0u);
  EXPECT_EQ(dp.backends.at(0).gen, 0u);
  EXPECT_EQ(slot(after, 1, 0), 2u);
}

TEST_F(RestartTest, InconsistentLeftoversAreClearedNotTrusted) {
  run(before, {make_vip("198.18.0.100", {"198.18.0.11"})});
  // A second VIP entry claiming id 0 and a LIVE slot no VIP owns.
  sl_vip_key dup = before.vips()[0].key();
  dup.port = sl_htons(81);
  dp.vips[FakeDataplane::key_str(dup)] = {dup, meta(before, 0)};
  sl_backend stray = dp.backends.at(0);
  stray.vip_id = 7;
  stray.gen = 5;
  dp.backends[9] = stray;

  ASSERT_TRUE(after.adopt().ok());
  EXPECT_EQ(dp.vips.size(), 1u);
  EXPECT_EQ(dp.backends.at(9).flags & SL_BE_F_LIVE, 0u);
  EXPECT_EQ(dp.backends.at(9).gen, 5u);
  ASSERT_EQ(after.vips().size(), 1u);
  EXPECT_EQ(after.vips()[0].backends.size(), 1u);
}

TEST_F(RestartTest, AdoptingAnEmptyDataplaneStartsAfresh) {
  ASSERT_TRUE(after.adopt().ok());
  EXPECT_TRUE(after.vips().empty());
  EXPECT_TRUE(dp.log.empty());
  run(after, {make_vip("198.18.0.100", {"198.18.0.11"})});
  EXPECT_EQ(meta(after, 0).ring_id, 0u);
  EXPECT_EQ(dp.backends.at(0).gen, 0u);
}

}  // namespace
}  // namespace sluice
