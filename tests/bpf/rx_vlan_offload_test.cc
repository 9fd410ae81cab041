// SPDX-License-Identifier: Apache-2.0
// Receive VLAN stripping is turned off where sluice attaches (a veth pair in
// a namespace of the test's own), checked with ethtool -k itself.
#include <gtest/gtest.h>

#include <cstdio>
#include <string>

#include "test_netns.h"
#include "xdp/rx_vlan_offload.h"
#include "xdp/xdp_dataplane.h"

namespace sluice::test {
namespace {

// `ethtool -k DEV`'s state of `feature` (as it prints it: rx-vlan-hw-parse
// is "rx-vlan-offload"): "on", "off" (any [fixed] dropped),
// or "" when not listed. Run in the calling thread's namespace.
std::string ethtool_feature(const std::string& dev, const std::string& feature) {
  std::string out;
  FILE* p = popen(("ethtool -k " + dev + " 2>/dev/null").c_str(), "r");
  if (!p) return out;
  char line[256];
  std::string want = feature + ": ";
  while (fgets(line, sizeof(line), p)) {
    std::string l(line);
    if (l.rfind(want, 0) == 0) out = l.substr(want.size(), l[want.size() + 1] == 'n' ? 2 : 3);
  }
  pclose(p);
  return out;
}

bool run(const std::string& cmd) { return std::system(cmd.c_str()) == 0; }

TEST(RxVlanOffload, TurnsBothStrippingFeaturesOffOnce) {
  TestNetns ns;
  ASSERT_TRUE(ns.error().empty()) << ns.error();
  const std::string dev = TestNetns::kDev;
  ASSERT_TRUE(run("ethtool -K " + dev + " rxvlan on rx-vlan-stag-hw-parse on >/dev/null"));
  ASSERT_EQ(ethtool_feature(dev, "rx-vlan-offload"), "on");

  auto r = rx_vlan_strip_off(dev);
  ASSERT_TRUE(r.ok()) << r.error().message();
  EXPECT_EQ(r->driver, "veth");
  EXPECT_EQ(r->turned_off, (std::vector<std::string>{"rx-vlan-hw-parse", "rx-vlan-stag-hw-parse"}));
  EXPECT_TRUE(r->fixed_on.empty());
  EXPECT_EQ(ethtool_feature(dev, "rx-vlan-offload"), "off");
  EXPECT_EQ(ethtool_feature(dev, "rx-vlan-stag-hw-parse"), "off");
  std::string note = rx_vlan_offload_note(*r, dev);
  EXPECT_NE(note.find("turned off rx-vlan-hw-parse, rx-vlan-stag-hw-parse"), std::string::npos)
      << note;
  EXPECT_NE(note.find("txvlan"), std::string::npos) << "veth caveat: " << note;

  auto again = rx_vlan_strip_off(dev);
  ASSERT_TRUE(again.ok()) << again.error().message();
  EXPECT_TRUE(again->turned_off.empty());
  EXPECT_EQ(rx_vlan_offload_note(*again, dev), "") << "nothing to log the second time";
}

TEST(RxVlanOffload, NoInterfaceIsAnError) {
  TestNetns ns;
  ASSERT_TRUE(ns.error().empty()) << ns.error();
  auto r = rx_vlan_strip_off("sl-nonexistent");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message().find("sl-nonexistent"), std::string::npos);
}

class AttachTurnsOff : public ::testing::TestWithParam<bool> {};

TEST_P(AttachTurnsOff, BeforeTheProgramSeesAPacket) {
  TestNetns ns;
  ASSERT_TRUE(ns.error().empty()) << ns.error();
  const std::string dev = TestNetns::kDev;
  ASSERT_TRUE(run("ethtool -K " + dev + " rxvlan on rx-vlan-stag-hw-parse on >/dev/null"));
  // Native XDP on a veth needs the peer to have a program only for XDP_TX;
  // attaching works without.
  XdpOptions o;
  o.ifname = dev;
  o.generic = GetParam();
  o.pin = false;
  o.conn_table_size = 1024;
  auto dp = XdpDataplane::open(o);
  ASSERT_TRUE(dp.ok()) << dp.error().message();
  EXPECT_EQ(ethtool_feature(dev, "rx-vlan-offload"), "off");
  EXPECT_EQ(ethtool_feature(dev, "rx-vlan-stag-hw-parse"), "off");
  EXPECT_TRUE((*dp)->detach().ok());
}

INSTANTIATE_TEST_SUITE_P(Modes, AttachTurnsOff, ::testing::Values(false, true),
                         [](const auto& info) { return info.param ? "generic" : "native"; });

}  // namespace
}  // namespace sluice::test
