// SPDX-License-Identifier: Apache-2.0
// The vrrp: and sync: blocks' fields for the active-passive pair (issue 7):
// parsed, validated with the field named, and written back unchanged.
#include <gtest/gtest.h>

#include <string>

#include "control/config/config.h"
#include "control/config/config_writer.h"
#include "control/vrrp/vrrp_params.h"

namespace sluice {
namespace {

const std::string kHead = "interface: veth-lb1\n";

const char* kFull = R"(interface: veth-lb1
vrrp:
  vrid: 51
  priority: 200
  advert_interval_ms: 100
  preempt: true
  preempt_delay_ms: 5000
  unicast_peers: [198.18.0.2]
  interface: veth-vrrp
  virtual_mac: true
  track: { no_serving_backend: 60, interface_down: 254 }
  notify: /etc/sluice/notify.sh
sync: { peer: 198.18.0.2, port: 7900, key_file: /etc/sluice/sync.key }
)";

TEST(VrrpConfig, ParsesEveryNewField) {
  auto c = config_parse(kFull);
  ASSERT_TRUE(c.ok()) << c.error().message();
  const VrrpConfig& v = *c->vrrp;
  EXPECT_EQ(v.preempt_delay_ms, 5000u);
  EXPECT_EQ(v.interface, "veth-vrrp");
  EXPECT_TRUE(v.virtual_mac);
  EXPECT_EQ(v.track.no_serving_backend, 60u);
  EXPECT_EQ(v.track.interface_down, 254u);
  EXPECT_EQ(v.notify, "/etc/sluice/notify.sh");
  EXPECT_EQ(c->sync->key_file, "/etc/sluice/sync.key");
}

TEST(VrrpConfig, DefaultsAreOff) {
  auto c = config_parse(kHead + "vrrp: { vrid: 1 }\nsync: { peer: 198.18.0.2 }\n");
  ASSERT_TRUE(c.ok()) << c.error().message();
  EXPECT_EQ(c->vrrp->preempt_delay_ms, 0u);
  EXPECT_TRUE(c->vrrp->interface.empty());
  EXPECT_FALSE(c->vrrp->virtual_mac);
  EXPECT_EQ(c->vrrp->track, VrrpTrackConfig{});
  EXPECT_TRUE(c->vrrp->notify.empty());
  EXPECT_TRUE(c->sync->key_file.empty());
}

TEST(VrrpConfig, RoundTripsThroughTheWriter) {
  for (const std::string& text :
       {std::string(kFull), kHead + "vrrp: { vrid: 1, track: { interface_down: 5 } }\n"}) {
    auto first = config_parse(text);
    ASSERT_TRUE(first.ok()) << first.error().message();
    std::string out = config_emit(*first);
    auto second = config_parse(out);
    ASSERT_TRUE(second.ok()) << second.error().message() << "\n" << out;
    EXPECT_TRUE(*second == *first) << out;
  }
}

struct Bad {
  const char* name;
  std::string yaml;
  const char* error;
};

class VrrpConfigErrors : public ::testing::TestWithParam<Bad> {};

TEST_P(VrrpConfigErrors, NameTheField) {
  auto c = config_parse(GetParam().yaml);
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.error().message(), GetParam().error);
}

const Bad kBad[] = {
    {"PreemptDelayRange", kHead + "vrrp: { vrid: 1, preempt_delay_ms: 1000001 }\n",
     "config: vrrp.preempt_delay_ms: must be 0..1000000, got 1000001"},
    {"PreemptDelayWithoutPreempt",
     kHead + "vrrp: { vrid: 1, preempt: false, preempt_delay_ms: 10 }\n",
     "config: vrrp.preempt_delay_ms: needs preempt: true"},
    {"TrackUnknownCheck", kHead + "vrrp: { vrid: 1, track: { link: 10 } }\n",
     "config: vrrp.track.link: unknown key"},
    {"TrackWeightRange", kHead + "vrrp: { vrid: 1, track: { no_serving_backend: 255 } }\n",
     "config: vrrp.track.no_serving_backend: must be 0..254, got 255"},
    {"TrackInterfaceWeight", kHead + "vrrp: { vrid: 1, track: { interface_down: -1 } }\n",
     "config: vrrp.track.interface_down: must be an integer 0..254, got '-1'"},
    {"TrackNotAMap", kHead + "vrrp: { vrid: 1, track: [no_serving_backend] }\n",
     "config: vrrp.track: must be a map, got a list"},
    {"NotifyRelative", kHead + "vrrp: { vrid: 1, notify: notify.sh }\n",
     "config: vrrp.notify: must be an absolute path, got 'notify.sh'"},
    {"NotifyControlCharacter", kHead + "vrrp: { vrid: 1, notify: \"/bin/a\\nb\" }\n",
     "config: vrrp.notify: must not contain control characters"},
    {"VirtualMacNotBool", kHead + "vrrp: { vrid: 1, virtual_mac: 2 }\n",
     "config: vrrp.virtual_mac: must be true or false, got '2'"},
    {"InterfaceTooLong", kHead + "vrrp: { vrid: 1, interface: abcdefghijklmnop }\n",
     "config: vrrp.interface: name longer than 15 characters"},
    {"InterfaceEmpty", kHead + "vrrp: { vrid: 1, interface: \"\" }\n",
     "config: vrrp.interface: must be a non-empty string, got ''"},
    {"UnknownVrrpKey", kHead + "vrrp: { vrid: 1, weight: 10 }\n",
     "config: vrrp.weight: unknown key"},
    {"SyncKeyFileRelative", kHead + "sync: { peer: 198.18.0.2, key_file: sync.key }\n",
     "config: sync.key_file: must be an absolute path, got 'sync.key'"},
    {"SyncKeyFileEmpty", kHead + "sync: { peer: 198.18.0.2, key_file: \"\" }\n",
     "config: sync.key_file: must be a non-empty string, got ''"},
    {"SyncPortZero", kHead + "sync: { peer: 198.18.0.2, port: 0 }\n",
     "config: sync.port: must be 1..65535, got 0"},
    {"SyncMissingPeer", kHead + "sync: { port: 7900 }\n", "config: sync.peer: required"},
    {"SyncUnknownKey", kHead + "sync: { peer: 198.18.0.2, secret: x }\n",
     "config: sync.secret: unknown key"},
};

INSTANTIATE_TEST_SUITE_P(Table, VrrpConfigErrors, ::testing::ValuesIn(kBad),
                         [](const auto& info) { return std::string(info.param.name); });

TEST(VrrpConfig, BecomesTheStateMachinesParams) {
  auto c = config_parse(kFull);
  ASSERT_TRUE(c.ok()) << c.error().message();
  IpAddr me = *IpAddr::parse("198.18.0.1");
  vrrp::Params p = vrrp::params_from_config(*c->vrrp, me);
  EXPECT_EQ(p.vrid, 51);
  EXPECT_EQ(p.priority, 200);
  EXPECT_EQ(p.advert_interval_cs, 10);  // 100 ms
  EXPECT_TRUE(p.preempt);
  EXPECT_EQ(p.preempt_delay_ms, 5000u);
  EXPECT_EQ(p.primary_addr, me);
  const VrrpTrackConfig& t = c->vrrp->track;  // 60 and 254
  EXPECT_EQ(vrrp::track_penalty(t, false, false), 0u);
  EXPECT_EQ(vrrp::track_penalty(t, true, false), 60u);
  EXPECT_EQ(vrrp::track_penalty(t, true, true), 314u);  // the instance clamps to priority 1
}

}  // namespace
}  // namespace sluice
