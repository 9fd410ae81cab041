// SPDX-License-Identifier: Apache-2.0
#include "control/config/config_writer.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "control/config/config_file.h"

namespace sluice {
namespace {

// DESIGN.md's example, verbatim.
const char* kDesignExample = R"(
interface: veth-lb1          # the NIC sluice attaches to
dataplane: xdp               # xdp | dpdk
xdp_mode: native             # native | generic
api_socket: /run/sluice/sluiced.sock
metrics_listen: 127.0.0.1:9477
conn_table_size: 1048576
vips:
  - address: 198.18.0.100    # IPv4 or IPv6
    port: 80
    protocol: tcp            # tcp | udp
    mode: dsr                # dsr | ipip
    backends:
      - { address: 198.18.0.11, weight: 1 }
      - { address: 198.18.0.12, weight: 2 }
      - { address: 198.18.0.13, backup: true }
    health_check: { type: http, path: /, interval_ms: 1000, timeout_ms: 500, rise: 2, fall: 3 }
    acl: { deny: [203.0.113.0/24] }
vrrp:
  vrid: 51
  priority: 200              # 1..254
  advert_interval_ms: 100    # sent as centiseconds
  preempt: true
  unicast_peers: []          # empty: multicast 224.0.0.18 / ff02::12
sync: { peer: 198.18.0.2, port: 7900 }
)";

// Every field away from its default, IPv6 everywhere it may be.
const char* kEverything = R"(
interface: "eth0"
dataplane: dpdk
xdp_mode: generic
api_socket: "/tmp/a dir/sluiced: sock"
metrics_listen: "[::1]:9100"
conn_table_size: 4096
syn_table_size: 1024
acl_trie_nodes: 65536
syn_flood_protection: false
limits: { new_flows_per_source: 10000000, burst: 65535 }
vips:
  - address: 2001:2::100
    port: 443
    protocol: udp
    mode: ipip
    backends:
      - { address: 2001:2::11, weight: 0 }
      - { address: 2001:2::12, weight: 1000, backup: true, drained: true }
    health_check: { type: tcp, port: 8443, interval_ms: 200, timeout_ms: 100, rise: 5, fall: 7 }
    on_backend_down: drop
    acl: { allow: [2001:2::/48, "2001:db8::1"], deny: ["2001:db8::/32"] }
    limits: { new_flows_per_source: 1, burst: 7 }
    syn_flood_protection: true
  - address: 198.18.0.100
    port: 80
    mode: ipip
    backends:
      - { address: 2001:2::13, weight: 3 }
    health_check: { type: http, path: "/health?x=1", host: svc.example, expect: [200, 204],
                    interval_ms: 3000, timeout_ms: 2999 }
    on_backend_down: reschedule
  - { address: 198.18.0.101, port: 1, backends: [] }
vrrp:
  vrid: 255
  priority: 1
  advert_interval_ms: 40950
  preempt: false
  unicast_peers: [198.18.0.2, 2001:2::2]
sync: { peer: 2001:2::3, port: 1 }
)";

const char* kMinimal = "interface: lo\n";

class RoundTrip : public ::testing::TestWithParam<const char*> {};

TEST_P(RoundTrip, ParseEmitParseIsTheSameConfig) {
  auto first = config_parse(GetParam());
  ASSERT_TRUE(first.ok()) << first.error().message();
  std::string text = config_emit(*first);
  auto second = config_parse(text);
  ASSERT_TRUE(second.ok()) << second.error().message() << "\n" << text;
  EXPECT_TRUE(*second == *first) << text;
  EXPECT_EQ(config_emit(*second), text);
}

INSTANTIATE_TEST_SUITE_P(Configs, RoundTrip,
                         ::testing::Values(kDesignExample, kEverything, kMinimal));

TEST(ConfigWriter, EveryFieldIsAwayFromItsDefaultInTheBigSample) {
  // Guards the round trip above: a field the writer forgot would read back
  // as its default, so the sample must not hold defaults.
  auto c = config_parse(kEverything);
  ASSERT_TRUE(c.ok()) << c.error().message();
  Config d;
  EXPECT_NE(c->dataplane, d.dataplane);
  EXPECT_NE(c->xdp_generic, d.xdp_generic);
  EXPECT_NE(c->api_socket, d.api_socket);
  EXPECT_NE(c->metrics_listen, d.metrics_listen);
  EXPECT_NE(c->conn_table_size, d.conn_table_size);
  EXPECT_NE(c->syn_table_size, d.syn_table_size);
  EXPECT_NE(c->syn_flood_protection, d.syn_flood_protection);
  EXPECT_NE(c->limits, d.limits);
  EXPECT_TRUE(c->vips[0].limits.has_value());
  EXPECT_TRUE(c->vips[0].syn_flood_protection.has_value());
  const VipConfig& v = c->vips[0];
  EXPECT_TRUE(v.backends[1].backup && v.backends[1].drained);
  EXPECT_EQ(v.on_backend_down, BackendDownPolicy::drop);
  EXPECT_EQ(c->vips[1].health_check->expect, (std::vector<uint16_t>{200, 204}));
  EXPECT_EQ(c->vips[1].health_check->host, "svc.example");
  EXPECT_EQ(v.acl->allow.size(), 2u);
  EXPECT_FALSE(c->vrrp->preempt);
}

TEST(ConfigWriter, ReadsLikeTheDesignExample) {
  auto c = config_parse(kDesignExample);
  ASSERT_TRUE(c.ok());
  std::string text = config_emit(*c);
  EXPECT_NE(text.find("interface: veth-lb1\n"), std::string::npos) << text;
  EXPECT_NE(text.find("  - address: 198.18.0.100\n"), std::string::npos) << text;
  EXPECT_NE(text.find("      - {address: 198.18.0.13, weight: 1, backup: true}\n"),
            std::string::npos) << text;
}

TEST(ConfigFile, ReplacesAtomicallyAndLeavesNoTemp) {
  char tmpl[] = "/tmp/sluice-cfgfile-test-XXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  std::string path = std::string(tmpl) + "/c.yaml";
  ASSERT_TRUE(file_replace_atomic(path, "a: 1\n").ok());
  {
    auto pending = PendingFile::prepare(path, "a: 2\n");
    ASSERT_TRUE(pending.ok());
    size_t n = 0;
    for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator(tmpl)) ++n;
    EXPECT_EQ(n, 2u);  // the file and the temp beside it
  }  // never committed: the temp goes, the file stays
  auto c = config_load(path);
  size_t n = 0;
  for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator(tmpl)) ++n;
  EXPECT_EQ(n, 1u);
  EXPECT_FALSE(c.ok());  // "a: 1" is not a config, but it is the old text:
  EXPECT_EQ(c.error().message(), "config: a: unknown key");
  EXPECT_FALSE(file_replace_atomic("/nonexistent-dir/c.yaml", "x").ok());
  std::filesystem::remove_all(tmpl);
}

}  // namespace
}  // namespace sluice
