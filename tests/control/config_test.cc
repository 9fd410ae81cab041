// SPDX-License-Identifier: Apache-2.0
#include "control/config/config.h"

#include <gtest/gtest.h>
#include <netinet/in.h>

#include <string>

namespace sluice {
namespace {

const char* kGood = R"(
interface: veth-lb1
dataplane: xdp
xdp_mode: generic
api_socket: /tmp/sluice-test.sock
metrics_listen: 127.0.0.1:9477
conn_table_size: 65536
vips:
  - address: 198.18.0.100
    port: 80
    protocol: tcp
    mode: dsr
    backends:
      - { address: 198.18.0.11, weight: 1 }
      - { address: 198.18.0.12, weight: 2 }
      - { address: 198.18.0.13, backup: true }
    health_check: { type: http, path: /, interval_ms: 1000, timeout_ms: 500, rise: 2, fall: 3 }
    acl: { deny: [203.0.113.0/24] }
  - address: 198.18.0.100
    port: 53
    protocol: udp
    mode: ipip
    backends:
      - { address: "2001:2::11" }
vrrp:
  vrid: 51
  priority: 200
  advert_interval_ms: 100
  preempt: true
  unicast_peers: []
sync: { peer: 198.18.0.2, port: 7900 }
)";

TEST(Config, ParsesTheDesignExample) {
  auto c = config_parse(kGood);
  ASSERT_TRUE(c.ok()) << c.error().message();
  EXPECT_EQ(c->interface, "veth-lb1");
  EXPECT_TRUE(c->xdp_generic);
  EXPECT_EQ(c->conn_table_size, 65536u);
  ASSERT_EQ(c->vips.size(), 2u);
  EXPECT_EQ(c->vips[0].name(), "198.18.0.100:80/tcp");
  EXPECT_EQ(c->vips[0].backends[1].weight, 2u);
  EXPECT_TRUE(c->vips[0].backends[2].backup);
  EXPECT_EQ(c->vips[0].backends[2].weight, 1u);
  EXPECT_EQ(c->vips[1].protocol, IPPROTO_UDP);
  EXPECT_EQ(c->vips[1].mode, SL_MODE_IPIP);
  EXPECT_TRUE(c->vips[1].backends[0].address.is_v6());
  ASSERT_TRUE(c->vrrp.has_value());
  EXPECT_EQ(c->vrrp->priority, 200u);
  const auto& hc = c->vips[0].health_check;
  ASSERT_TRUE(hc.has_value());
  EXPECT_EQ(hc->type, "http");
  EXPECT_EQ(hc->fall, 3u);
  EXPECT_TRUE(hc->expect.empty());
  EXPECT_EQ(c->vips[0].on_backend_down, BackendDownPolicy::keep);
  // Every block is acted on.
  EXPECT_TRUE(c->ignored_blocks().empty());
}

TEST(Config, Defaults) {
  auto c = config_parse("interface: eth0\n");
  ASSERT_TRUE(c.ok()) << c.error().message();
  EXPECT_EQ(c->api_socket, "/run/sluice/sluiced.sock");
  EXPECT_EQ(c->conn_table_size, 1048576u);
  EXPECT_FALSE(c->xdp_generic);
  EXPECT_EQ(c->dataplane, DataplaneKind::xdp);
  EXPECT_TRUE(c->ignored_blocks().empty());
}

TEST(Config, EmptyMetricsListenTurnsTheEndpointOff) {
  auto c = config_parse("interface: eth0\nmetrics_listen: \"\"\n");
  ASSERT_TRUE(c.ok()) << c.error().message();
  EXPECT_EQ(c->metrics_listen, "");
  auto d = config_parse("interface: eth0\n");
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->metrics_listen, "127.0.0.1:9477");
}

struct BadCase {
  const char* name;
  std::string yaml;
  std::string error;  // the whole one-line message
};
void PrintTo(const BadCase& c, std::ostream* os) { *os << c.name; }

const std::string kHead = "interface: eth0\n";
std::string vip(const std::string& body) {
  return kHead + "vips:\n  - address: 198.18.0.100\n    port: 80\n" + body;
}
std::string backends(const std::string& mode, const std::string& list) {
  return vip("    mode: " + mode + "\n    backends:\n" + list);
}

class ConfigErrors : public ::testing::TestWithParam<BadCase> {};

TEST_P(ConfigErrors, NamesTheField) {
  auto c = config_parse(GetParam().yaml);
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.error().message(), GetParam().error);
}

const BadCase kBadCases[] = {
    {"MissingInterface", "vips: []\n", "config: interface: required"},
    {"UnknownTopKey", kHead + "colour: blue\n", "config: colour: unknown key"},
    {"BadDataplane", kHead + "dataplane: ebpf\n",
     "config: dataplane: must be xdp|dpdk, got 'ebpf'"},
    {"BadXdpMode", kHead + "xdp_mode: offload\n",
     "config: xdp_mode: must be native|generic, got 'offload'"},
    {"ConnTableZero", kHead + "conn_table_size: 0\n",
     "config: conn_table_size: must be 1..134217728, got 0"},
    {"ConnTableTooBig", kHead + "conn_table_size: 134217729\n",
     "config: conn_table_size: must be 1..134217728, got 134217729"},
    {"BadMetricsListen", kHead + "metrics_listen: localhost\n",
     "config: metrics_listen: must be ADDR:PORT ([ADDR]:PORT for IPv6), got 'localhost'"},
    {"VipsNotAList", kHead + "vips: 3\n", "config: vips: must be a list, got '3'"},
    {"BadVipAddress", kHead + "vips:\n  - { address: 198.18.0.300, port: 80 }\n",
     "config: vips[0].address: must be an IPv4 or IPv6 address, got '198.18.0.300'"},
    {"PortZero", kHead + "vips:\n  - { address: 198.18.0.100, port: 0 }\n",
     "config: vips[0].port: must be 1..65535, got 0"},
    {"PortNotNumber", kHead + "vips:\n  - { address: 198.18.0.100, port: http }\n",
     "config: vips[0].port: must be an integer 1..65535, got 'http'"},
    {"MissingPort", kHead + "vips:\n  - { address: 198.18.0.100 }\n",
     "config: vips[0].port: required"},
    {"BadProtocol", vip("    protocol: sctp\n"),
     "config: vips[0].protocol: must be tcp|udp, got 'sctp'"},
    {"BadMode", vip("    mode: nat\n"), "config: vips[0].mode: must be dsr|ipip, got 'nat'"},
    {"UnknownVipKey", vip("    scheduler: wrr\n"), "config: vips[0].scheduler: unknown key"},
    {"WeightTooBig",
     backends("dsr", "      - { address: 198.18.0.11 }\n      - { address: 198.18.0.12, weight: 5000 }\n"),
     "config: vips[0].backends[1].weight: must be 0..1000, got 5000"},
    {"NegativeWeight", backends("dsr", "      - { address: 198.18.0.11, weight: -1 }\n"),
     "config: vips[0].backends[0].weight: must be an integer 0..1000, got '-1'"},
    {"BadBackup", backends("dsr", "      - { address: 198.18.0.11, backup: maybe }\n"),
     "config: vips[0].backends[0].backup: must be true or false, got 'maybe'"},
    {"UnknownBackendKey", backends("dsr", "      - { address: 198.18.0.11, port: 8080 }\n"),
     "config: vips[0].backends[0].port: unknown key"},
    {"BackendWithoutAddress", backends("dsr", "      - { weight: 3 }\n"),
     "config: vips[0].backends[0].address: required"},
    {"DuplicateBackend",
     backends("dsr", "      - { address: 198.18.0.11 }\n      - { address: 198.18.0.11 }\n"),
     "config: vips[0].backends[1].address: duplicate of vips[0].backends[0] (198.18.0.11)"},
    {"DuplicateVip",
     kHead + "vips:\n  - { address: 198.18.0.100, port: 80 }\n"
             "  - { address: 198.18.0.100, port: 80, protocol: tcp }\n",
     "config: vips[1]: duplicate of vips[0] (198.18.0.100:80/tcp)"},
    {"DsrMixedFamily", backends("dsr", "      - { address: \"2001:2::11\" }\n"),
     "config: vips[0].backends[0].address: dsr needs the backend in the VIP's family (IPv4), "
     "got 2001:2::11"},
    {"SixInFour",
     kHead + "vips:\n  - address: 2001:2::100\n    port: 80\n    mode: ipip\n"
             "    backends:\n      - { address: 198.18.0.11 }\n",
     "config: vips[0].backends[0].address: an IPv6 VIP cannot use an IPv4 backend (no 6in4), "
     "got 198.18.0.11"},
    {"HealthCheckType", vip("    health_check: { type: icmp }\n"),
     "config: vips[0].health_check.type: must be tcp|http, got 'icmp'"},
    {"HealthCheckTimeout", vip("    health_check: { type: tcp, interval_ms: 100, timeout_ms: 200 }\n"),
     "config: vips[0].health_check.timeout_ms: must be less than interval_ms (100), got 200"},
    {"HealthCheckTimeoutEqualsInterval",
     vip("    health_check: { type: tcp, interval_ms: 1000, timeout_ms: 1000 }\n"),
     "config: vips[0].health_check.timeout_ms: must be less than interval_ms (1000), got 1000"},
    {"HealthCheckDefaultTimeoutOverShortInterval",
     vip("    health_check: { type: tcp, interval_ms: 500 }\n"),
     "config: vips[0].health_check.timeout_ms: must be less than interval_ms (500), got 500"},
    {"HealthCheckIntervalTooShort", vip("    health_check: { type: tcp, interval_ms: 99 }\n"),
     "config: vips[0].health_check.interval_ms: must be 100..3600000, got 99"},
    {"HealthCheckIntervalTooLong", vip("    health_check: { type: tcp, interval_ms: 3600001 }\n"),
     "config: vips[0].health_check.interval_ms: must be 100..3600000, got 3600001"},
    {"HealthCheckRiseZero", vip("    health_check: { type: tcp, rise: 0 }\n"),
     "config: vips[0].health_check.rise: must be 1..100, got 0"},
    {"HealthCheckFallTooBig", vip("    health_check: { type: tcp, fall: 101 }\n"),
     "config: vips[0].health_check.fall: must be 1..100, got 101"},
    {"HealthCheckMissingType", vip("    health_check: { path: / }\n"),
     "config: vips[0].health_check.type: required"},
    {"HealthCheckUnknownKey", vip("    health_check: { type: tcp, retries: 3 }\n"),
     "config: vips[0].health_check.retries: unknown key"},
    {"HealthCheckPathRelative", vip("    health_check: { type: http, path: healthz }\n"),
     "config: vips[0].health_check.path: must start with '/', got 'healthz'"},
    {"HealthCheckPathWithSpace", vip("    health_check: { type: http, path: \"/a b\" }\n"),
     "config: vips[0].health_check.path: must not contain spaces or control characters"},
    {"HealthCheckPathForTcp", vip("    health_check: { type: tcp, path: / }\n"),
     "config: vips[0].health_check.path: only for type: http"},
    {"HealthCheckHostInjection",
     vip("    health_check: { type: http, host: \"a\\r\\nX: y\" }\n"),
     "config: vips[0].health_check.host: must not contain spaces or control characters"},
    {"HealthCheckExpectCode", vip("    health_check: { type: http, expect: [200, 99] }\n"),
     "config: vips[0].health_check.expect[1]: must be 100..599, got 99"},
    {"HealthCheckExpectEmpty", vip("    health_check: { type: http, expect: [] }\n"),
     "config: vips[0].health_check.expect: must list at least one status code"},
    {"HealthCheckExpectNotAList", vip("    health_check: { type: http, expect: 200 }\n"),
     "config: vips[0].health_check.expect: must be a list, got '200'"},
    {"HealthCheckPortZero", vip("    health_check: { type: tcp, port: 0 }\n"),
     "config: vips[0].health_check.port: must be 1..65535, got 0"},
    {"HealthCheckUdpNeedsPort",
     vip("    protocol: udp\n    health_check: { type: tcp }\n"),
     "config: vips[0].health_check.port: required for a udp VIP (tcp and http checks connect "
     "over TCP)"},
    {"OnBackendDown", vip("    on_backend_down: failover\n"),
     "config: vips[0].on_backend_down: must be keep|reschedule|drop, got 'failover'"},
    {"LimitsRateZero", vip("    limits: { new_flows_per_source: 0 }\n"),
     "config: vips[0].limits.new_flows_per_source: must be 1..10000000, got 0"},
    {"LimitsRateTooHigh", kHead + "limits: { new_flows_per_source: 10000001, burst: 5 }\n",
     "config: limits.new_flows_per_source: must be 1..10000000, got 10000001"},
    {"LimitsBurstTooDeep", vip("    limits: { new_flows_per_source: 10, burst: 65536 }\n"),
     "config: vips[0].limits.burst: must be 1..65535, got 65536"},
    {"LimitsBurstZero", kHead + "limits: { new_flows_per_source: 10, burst: 0 }\n",
     "config: limits.burst: must be 1..65535, got 0"},
    {"LimitsRateMissing", vip("    limits: { burst: 5 }\n"),
     "config: vips[0].limits.new_flows_per_source: required"},
    {"LimitsUnknownKey", kHead + "limits: { new_flows_per_source: 5, per_prefix: 24 }\n",
     "config: limits.per_prefix: unknown key"},
    {"LimitsNotAMap", kHead + "limits: 100\n", "config: limits: must be a map, got '100'"},
    {"SynFloodProtection", vip("    syn_flood_protection: sometimes\n"),
     "config: vips[0].syn_flood_protection: must be true or false, got 'sometimes'"},
    {"SynTableSizeZero", kHead + "syn_table_size: 0\n",
     "config: syn_table_size: must be 1..134217728, got 0"},
    {"AclTrieNodesTooFew", kHead + "acl_trie_nodes: 100\n",
     "config: acl_trie_nodes: must be 1024..262144, got 100"},
    {"AclBadCidr", vip("    acl: { deny: [203.0.113.0/33] }\n"),
     "config: vips[0].acl.deny[0]: must be an address/prefix (CIDR), got '203.0.113.0/33'"},
    {"AclWrongFamily", vip("    acl: { allow: [\"2001:db8::/32\"] }\n"),
     "config: vips[0].acl.allow[0]: must be in the VIP's address family, got 2001:db8::/32"},
    {"VrrpPriority", kHead + "vrrp: { vrid: 51, priority: 255 }\n",
     "config: vrrp.priority: must be 1..254, got 255"},
    {"VrrpAdvertInterval", kHead + "vrrp: { vrid: 51, advert_interval_ms: 105 }\n",
     "config: vrrp.advert_interval_ms: must be a multiple of 10 (sent as centiseconds), got 105"},
    {"VrrpMissingVrid", kHead + "vrrp: { priority: 100 }\n", "config: vrrp.vrid: required"},
    {"SyncBadPeer", kHead + "sync: { peer: lb2 }\n",
     "config: sync.peer: must be an IPv4 or IPv6 address, got 'lb2'"},
    {"NotYaml", "interface: [eth0\n", "config: line 2: end of sequence flow not found"},
};

INSTANTIATE_TEST_SUITE_P(Table, ConfigErrors, ::testing::ValuesIn(kBadCases),
                         [](const auto& info) { return std::string(info.param.name); });

TEST(Config, HealthCheckFields) {
  auto c = config_parse(
      vip("    on_backend_down: drop\n"
          "    health_check: { type: http, path: /healthz, host: www.example.com, port: 8080,\n"
          "                    interval_ms: 100, timeout_ms: 99, rise: 1, fall: 100,\n"
          "                    expect: [200, 204] }\n"));
  ASSERT_TRUE(c.ok()) << c.error().message();
  const HealthCheckConfig& hc = *c->vips[0].health_check;
  EXPECT_EQ(hc.path, "/healthz");
  EXPECT_EQ(hc.host, "www.example.com");
  EXPECT_EQ(hc.port, 8080);
  EXPECT_EQ(hc.interval_ms, 100u);
  EXPECT_EQ(hc.timeout_ms, 99u);
  EXPECT_EQ(hc.rise, 1u);
  EXPECT_EQ(hc.fall, 100u);
  EXPECT_EQ(hc.expect, (std::vector<uint16_t>{200, 204}));
  EXPECT_EQ(c->vips[0].on_backend_down, BackendDownPolicy::drop);
  auto d = config_parse(vip("    health_check: { type: tcp }\n    on_backend_down: reschedule\n"));
  ASSERT_TRUE(d.ok()) << d.error().message();
  EXPECT_EQ(d->vips[0].health_check->interval_ms, 1000u);
  EXPECT_EQ(d->vips[0].health_check->timeout_ms, 500u);
  EXPECT_EQ(d->vips[0].health_check->rise, 2u);
  EXPECT_EQ(d->vips[0].on_backend_down, BackendDownPolicy::reschedule);
}

// yaml-cpp would let the first of two equal keys win: each depth refuses.
struct DuplicateCase {
  const char* name;
  std::string yaml;
  std::string error;
};
void PrintTo(const DuplicateCase& c, std::ostream* os) { *os << c.name; }

class ConfigDuplicateKeys : public ::testing::TestWithParam<DuplicateCase> {};

TEST_P(ConfigDuplicateKeys, AreRefusedNamingKeyAndLine) {
  auto c = config_parse(GetParam().yaml);
  ASSERT_FALSE(c.ok()) << GetParam().name;
  EXPECT_EQ(c.error().message(), GetParam().error);
}

const DuplicateCase kDuplicateCases[] = {
    {"TopLevel", "vips: []\ninterface: eth0\ninterface: lo\n",
     "config: duplicate key 'interface' (line 3)"},
    {"TopLevelQuoted", "interface: eth0\n\"interface\": lo\n",
     "config: duplicate key 'interface' (line 2)"},
    {"VipEntry", vip("    port: 81\n"), "config: vips[0]: duplicate key 'port' (line 5)"},
    {"Backend", backends("dsr", "      - { address: 198.18.0.11, weight: 1, weight: 9 }\n"),
     "config: vips[0].backends[0]: duplicate key 'weight' (line 7)"},
    {"HealthCheck",
     vip("    health_check:\n      type: tcp\n      rise: 2\n      type: http\n"),
     "config: vips[0].health_check: duplicate key 'type' (line 8)"},
    {"Acl", vip("    acl: { deny: [203.0.113.0/24], deny: [] }\n"),
     "config: vips[0].acl: duplicate key 'deny' (line 5)"},
    {"Vrrp", kHead + "vrrp:\n  vrid: 51\n  priority: 200\n  priority: 10\n",
     "config: vrrp: duplicate key 'priority' (line 5)"},
    {"Limits", vip("    limits: { new_flows_per_source: 5, burst: 1, burst: 9 }\n"),
     "config: vips[0].limits: duplicate key 'burst' (line 5)"},
    {"Sync", kHead + "sync: { peer: 198.18.0.2, port: 7900, peer: 198.18.0.3 }\n",
     "config: sync: duplicate key 'peer' (line 2)"},
    {"WholeBlockTwice", kHead + "sync: { peer: 198.18.0.2 }\nsync: { peer: 198.18.0.3 }\n",
     "config: duplicate key 'sync' (line 3)"},
    // An alias shares its node: still checked, once, and a cycle ends.
    {"InsideAnAlias", kHead + "x: &a { p: 1, p: 2 }\nsync: *a\n",
     "config: x: duplicate key 'p' (line 2)"},
};
INSTANTIATE_TEST_SUITE_P(Depths, ConfigDuplicateKeys, ::testing::ValuesIn(kDuplicateCases),
                         [](const auto& info) { return std::string(info.param.name); });

TEST(Config, AnAliasCycleEndsWithAnErrorNotAHang) {
  auto c = config_parse(kHead + "sync: &a { peer: *a }\n");
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.error().message(), "config: sync.peer: must be an IPv4 or IPv6 address, got a map");
}

TEST(Config, EqualValuesUnderDifferentParentsAreNoDuplicates) {
  auto c = config_parse(backends("dsr", "      - { address: 198.18.0.11, weight: 1 }\n"
                                        "      - { address: 198.18.0.12, weight: 1 }\n"));
  ASSERT_TRUE(c.ok()) << c.error().message();
}

// The file's bytes reach the error line only as printable text.
TEST(Config, ControlBytesInErrorsAreEscaped) {
  std::string esc = kHead + "dataplane: \"\\e[2J\\0\"\n";  // YAML escapes: ESC, NUL
  auto c = config_parse(esc);
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.error().message(), "config: dataplane: must be xdp|dpdk, got '\\x1b[2J\\x00'");
  auto raw = config_parse(kHead + "dataplane: x\x7f\xff\xc3\xa9\n");
  ASSERT_FALSE(raw.ok());
  EXPECT_EQ(raw.error().message(), "config: dataplane: must be xdp|dpdk, got 'x\\x7f\\xff\xc3\xa9'");
  auto key = config_parse(kHead + "\"a\\tb\": 1\n");
  ASSERT_FALSE(key.ok());
  EXPECT_EQ(key.error().message(), "config: a\\x09b: unknown key");
}

TEST(Config, FloodProtectionAndLimits) {
  auto d = config_parse(kHead);
  ASSERT_TRUE(d.ok()) << d.error().message();
  EXPECT_TRUE(d->syn_flood_protection);
  EXPECT_EQ(d->syn_table_size, d->conn_table_size) << "unless said, as the connection table";
  auto sized = config_parse(kHead + "conn_table_size: 8192\n");
  ASSERT_TRUE(sized.ok()) << sized.error().message();
  EXPECT_EQ(sized->syn_table_size, 8192u);
  EXPECT_FALSE(d->limits.has_value());
  auto c = config_parse(kHead +
                        "syn_table_size: 4096\nsyn_flood_protection: false\n"
                        "limits: { new_flows_per_source: 3 }\n"
                        "vips:\n  - address: 198.18.0.100\n    port: 80\n"
                        "    syn_flood_protection: true\n"
                        "    limits: { new_flows_per_source: 10000000, burst: 65535 }\n"
                        "  - { address: 198.18.0.100, port: 81 }\n");
  ASSERT_TRUE(c.ok()) << c.error().message();
  EXPECT_EQ(c->syn_table_size, 4096u);
  EXPECT_FALSE(c->syn_flood_protection);
  ASSERT_TRUE(c->limits.has_value());
  EXPECT_EQ(c->limits->burst, 3u);  // default: one second's worth
  EXPECT_EQ(c->limits->interval_ns(), 333333333u);
  EXPECT_EQ(c->vips[0].syn_flood_protection, std::optional<bool>(true));
  EXPECT_EQ(c->vips[0].limits->interval_ns(), 100u);
  EXPECT_EQ(c->vips[0].limits->burst, 65535u);
  EXPECT_FALSE(c->vips[1].syn_flood_protection.has_value());
  EXPECT_FALSE(c->vips[1].limits.has_value());
}

TEST(Config, FourInSixIsAllowedForIpip) {
  auto c = config_parse(backends("ipip", "      - { address: \"2001:2::11\" }\n"));
  ASSERT_TRUE(c.ok()) << c.error().message();
}

TEST(Config, LoadReportsAMissingFile) {
  auto c = config_load("/nonexistent/sluice.yaml");
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.error().message(),
            "config: cannot read (/nonexistent/sluice.yaml): No such file or directory");
}

}  // namespace
}  // namespace sluice
