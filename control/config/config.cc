// SPDX-License-Identifier: Apache-2.0
// The top level, VIPs and backends of the config; the nested blocks (health
// checks, ACLs, VRRP, sync) live in config_blocks.cc.
#include "control/config/config.h"

#include <netinet/in.h>
#include <yaml-cpp/yaml.h>

#include <map>
#include <set>

#include "control/config/config_fields.h"
#include "control/config/config_file.h"
#include "control/config/printable.h"

namespace sluice {

using namespace cfg;

// config_blocks.cc
namespace cfg {
HealthCheckConfig parse_health_check(const YAML::Node& n, const std::string& path);
AclConfig parse_acl(const YAML::Node& n, const std::string& path, uint8_t family);
VrrpConfig parse_vrrp(const YAML::Node& n, const std::string& path);
SyncConfig parse_sync(const YAML::Node& n, const std::string& path);
LimitsConfig parse_limits(const YAML::Node& n, const std::string& path);
DpdkConfig parse_dpdk(const YAML::Node& n, const std::string& path);
}  // namespace cfg

namespace {

const char* family_name(const IpAddr& a) { return a.is_v4() ? "IPv4" : "IPv6"; }

void check_backend_family(const VipConfig& vip, const IpAddr& be, const std::string& path) {
  if (be.family == vip.address.family) return;
  if (vip.mode == SL_MODE_DSR)
    fail(path, std::string("dsr needs the backend in the VIP's family (") +
                   family_name(vip.address) + "), got " + be.str());
  if (vip.address.is_v6())
    fail(path, "an IPv6 VIP cannot use an IPv4 backend (no 6in4), got " + be.str());
  // IPv4 VIP, IPv6 backend, ipip: 4in6, allowed.
}

BackendConfig parse_backend(const YAML::Node& n, const std::string& path) {
  require_map(n, path);
  check_keys(n, path, {"address", "weight", "backup", "drained"});
  if (!n["address"]) fail(join(path, "address"), "required");
  BackendConfig be;
  be.address = read_addr(n["address"], join(path, "address"));
  if (n["weight"]) be.weight = read_uint(n["weight"], join(path, "weight"), 0, 1000);
  if (n["backup"]) be.backup = read_bool(n["backup"], join(path, "backup"));
  if (n["drained"]) be.drained = read_bool(n["drained"], join(path, "drained"));
  return be;
}

void parse_backends(const YAML::Node& n, const std::string& path, VipConfig& vip) {
  require_seq(n, path);
  // By address, not pairwise: 10,000 backends were 50 million compares.
  std::map<IpAddr, size_t> seen;
  for (size_t i = 0; i < n.size(); ++i) {
    std::string p = index(path, i);
    BackendConfig be = parse_backend(n[i], p);
    check_backend_family(vip, be.address, join(p, "address"));
    if (auto [it, fresh] = seen.try_emplace(be.address, i); !fresh)
      fail(join(p, "address"),
           "duplicate of " + index(path, it->second) + " (" + be.address.str() + ")");
    vip.backends.push_back(be);
  }
}

VipConfig parse_vip(const YAML::Node& n, const std::string& path) {
  require_map(n, path);
  check_keys(n, path, {"address", "port", "protocol", "mode", "backends", "health_check",
                       "on_backend_down", "acl", "limits", "syn_flood_protection"});
  for (const char* key : {"address", "port"})
    if (!n[key]) fail(join(path, key), "required");
  VipConfig vip;
  vip.address = read_addr(n["address"], join(path, "address"));
  vip.port = static_cast<uint16_t>(read_uint(n["port"], join(path, "port"), 1, 65535));
  if (n["protocol"])
    vip.protocol = read_choice(n["protocol"], join(path, "protocol"), {"tcp", "udp"}) == 0
                       ? IPPROTO_TCP : IPPROTO_UDP;
  else
    vip.protocol = IPPROTO_TCP;
  if (n["mode"])
    vip.mode = read_choice(n["mode"], join(path, "mode"), {"dsr", "ipip"}) == 0 ? SL_MODE_DSR
                                                                               : SL_MODE_IPIP;
  if (n["backends"]) parse_backends(n["backends"], join(path, "backends"), vip);
  if (n["health_check"])
    vip.health_check = parse_health_check(n["health_check"], join(path, "health_check"));
  if (vip.health_check && vip.health_check->port == 0 && vip.protocol == IPPROTO_UDP)
    fail(join(path, "health_check.port"),
         "required for a udp VIP (tcp and http checks connect over TCP)");
  if (n["on_backend_down"])
    vip.on_backend_down = static_cast<BackendDownPolicy>(read_choice(
        n["on_backend_down"], join(path, "on_backend_down"), {"keep", "reschedule", "drop"}));
  if (n["acl"]) vip.acl = parse_acl(n["acl"], join(path, "acl"), vip.address.family);
  if (n["limits"]) vip.limits = parse_limits(n["limits"], join(path, "limits"));
  if (n["syn_flood_protection"])
    vip.syn_flood_protection =
        read_bool(n["syn_flood_protection"], join(path, "syn_flood_protection"));
  return vip;
}

void parse_vips(const YAML::Node& n, Config& c) {
  require_seq(n, "vips");
  if (n.size() > SL_MAX_VIPS)
    fail("vips", "at most " + std::to_string(SL_MAX_VIPS) + " VIPs, got " +
                     std::to_string(n.size()));
  size_t backends = 0;
  for (size_t i = 0; i < n.size(); ++i) {
    std::string p = index("vips", i);
    VipConfig vip = parse_vip(n[i], p);
    for (size_t j = 0; j < c.vips.size(); ++j)
      if (c.vips[j].address == vip.address && c.vips[j].port == vip.port &&
          c.vips[j].protocol == vip.protocol)
        fail(p, "duplicate of " + index("vips", j) + " (" + vip.name() + ")");
    backends += vip.backends.size();
    if (backends > SL_MAX_BACKENDS)
      fail(join(p, "backends"), "more than " + std::to_string(SL_MAX_BACKENDS) +
                                    " backends in all VIPs together");
    c.vips.push_back(std::move(vip));
  }
}

// yaml-cpp keeps both entries of a repeated key and node["key"] finds the
// first, so `interface: eth0` then `interface: lo` would quietly attach to
// eth0: every map, at every depth, is checked before any field is read.
// Aliases share nodes and may even form cycles: each collection is walked
// once, known by where it starts in the text.
void check_unique_keys(const YAML::Node& n, const std::string& path, std::set<int>& walked) {
  if (!n.IsMap() && !n.IsSequence()) return;
  if (!walked.insert(n.Mark().pos).second) return;
  if (n.IsSequence()) {
    size_t i = 0;
    for (const auto& item : n) check_unique_keys(item, index(path, i++), walked);
    return;
  }
  std::set<std::string> keys;
  for (const auto& kv : n) {
    if (!kv.first.IsScalar()) continue;  // check_keys refuses it
    const std::string& key = kv.first.Scalar();
    if (!keys.insert(key).second)
      throw FieldError{(path.empty() ? "" : path + ": ") + "duplicate key '" + key + "' (line " +
                       std::to_string(kv.first.Mark().line + 1) + ")"};
    check_unique_keys(kv.second, join(path, key), walked);
  }
}

// Every scope's prefixes together fit the dataplane's rule ids.
void acl_check_total(const Config& c) {
  size_t n = acl_prefix_count(c);
  if (n > kAclMaxRules)
    fail("acl", "at most " + std::to_string(kAclMaxRules) + " prefixes in all scopes together, got " +
                    std::to_string(n));
}

void parse_top(const YAML::Node& n, Config& c) {
  require_map(n, "config");
  check_keys(n, "", {"interface", "dataplane", "xdp_mode", "api_socket", "metrics_listen",
                     "conn_table_size", "syn_table_size", "acl_trie_nodes", "syn_flood_protection", "limits", "vips", "vrrp", "sync", "acl", "dpdk"});
  if (!n["interface"]) fail("interface", "required");
  c.interface = read_string(n["interface"], "interface");
  if (c.interface.size() >= 16) fail("interface", "name longer than 15 characters");
  if (n["dataplane"])
    c.dataplane = read_choice(n["dataplane"], "dataplane", {"xdp", "dpdk"}) == 0
                      ? DataplaneKind::xdp : DataplaneKind::dpdk;
  if (n["xdp_mode"])
    c.xdp_generic = read_choice(n["xdp_mode"], "xdp_mode", {"native", "generic"}) == 1;
  if (n["api_socket"]) c.api_socket = read_string(n["api_socket"], "api_socket");
  if (n["metrics_listen"]) {
    // "" turns the endpoint off; anything else must be a listen address.
    const YAML::Node& m = n["metrics_listen"];
    bool off = m.IsScalar() && m.Scalar().empty();
    if (!off) check_listen(m, "metrics_listen");
    c.metrics_listen = off ? "" : m.Scalar();
  }
  if (n["conn_table_size"])
    c.conn_table_size = read_uint(n["conn_table_size"], "conn_table_size", 1, 1u << 27);
  c.syn_table_size = n["syn_table_size"]
                         ? read_uint(n["syn_table_size"], "syn_table_size", 1, 1u << 27)
                         : c.conn_table_size;
  if (n["acl_trie_nodes"])
    c.acl_trie_nodes = read_uint(n["acl_trie_nodes"], "acl_trie_nodes", 1024, SL_ACL_MAX_NODES);
  if (n["syn_flood_protection"])
    c.syn_flood_protection = read_bool(n["syn_flood_protection"], "syn_flood_protection");
  if (n["limits"]) c.limits = parse_limits(n["limits"], "limits");
  if (n["vips"]) parse_vips(n["vips"], c);
  if (n["vrrp"]) c.vrrp = parse_vrrp(n["vrrp"], "vrrp");
  if (n["sync"]) c.sync = parse_sync(n["sync"], "sync");
  if (n["acl"]) c.acl = parse_acl(n["acl"], "acl", 0);
  acl_check_total(c);
  if (n["dpdk"]) c.dpdk = parse_dpdk(n["dpdk"], "dpdk");
}

}  // namespace

std::vector<std::string> Config::ignored_blocks() const { return {}; }

size_t acl_prefix_count(const Config& c) {
  size_t n = c.acl ? c.acl->allow.size() + c.acl->deny.size() : 0;
  for (const auto& v : c.vips)
    if (v.acl) n += v.acl->allow.size() + v.acl->deny.size();
  return n;
}

Result<Config> config_parse(const std::string& yaml_text) {
  try {
    YAML::Node root = YAML::Load(yaml_text);
    std::set<int> walked;
    check_unique_keys(root, "", walked);
    Config c;
    parse_top(root, c);
    return c;
  } catch (const FieldError& e) {
    // Both may quote the file's bytes: keep the error one printable line.
    return make_error("config: " + printable(e.message));
  } catch (const YAML::Exception& e) {
    return make_error("config: line " + std::to_string(e.mark.line + 1) + ": " + printable(e.msg));
  }
}

Result<Config> config_load(const std::string& path) {
  auto text = config_file_read(path);
  if (!text) return text.error();
  return config_parse(*text);
}

}  // namespace sluice
