// SPDX-License-Identifier: Apache-2.0
// The nested config blocks: health checks, ACLs, VRRP and state sync.
#include <yaml-cpp/yaml.h>

#include <algorithm>

#include "control/config/config.h"
#include "control/config/config_fields.h"

namespace sluice::cfg {

namespace {

// Path and Host go into the request line and a header verbatim: no spaces
// (request line) and no control characters (header injection).
std::string read_http_token(const YAML::Node& n, const std::string& path) {
  std::string s = read_string(n, path);
  for (unsigned char c : s)
    if (c <= ' ' || c == 0x7f) fail(path, "must not contain spaces or control characters");
  return s;
}

std::vector<uint16_t> read_codes(const YAML::Node& n, const std::string& path) {
  require_seq(n, path);
  if (n.size() == 0) fail(path, "must list at least one status code");
  std::vector<uint16_t> out;
  for (size_t i = 0; i < n.size(); ++i)
    out.push_back(static_cast<uint16_t>(read_uint(n[i], index(path, i), 100, 599)));
  return out;
}

void parse_http_fields(const YAML::Node& n, const std::string& path, HealthCheckConfig& hc) {
  for (const char* key : {"path", "host", "expect"})
    if (n[key] && hc.type != "http") fail(join(path, key), "only for type: http");
  if (n["path"]) {
    hc.path = read_http_token(n["path"], join(path, "path"));
    if (hc.path[0] != '/') fail(join(path, "path"), "must start with '/', got '" + hc.path + "'");
  }
  if (n["host"]) hc.host = read_http_token(n["host"], join(path, "host"));
  if (n["expect"]) hc.expect = read_codes(n["expect"], join(path, "expect"));
}

}  // namespace

HealthCheckConfig parse_health_check(const YAML::Node& n, const std::string& path) {
  require_map(n, path);
  check_keys(n, path, {"type", "path", "host", "port", "interval_ms", "timeout_ms", "rise",
                       "fall", "expect"});
  if (!n["type"]) fail(join(path, "type"), "required");
  HealthCheckConfig hc;
  hc.type = read_choice(n["type"], join(path, "type"), {"tcp", "http"}) == 0 ? "tcp" : "http";
  parse_http_fields(n, path, hc);
  if (n["port"]) hc.port = read_uint(n["port"], join(path, "port"), 1, 65535);
  if (n["interval_ms"])
    hc.interval_ms = read_uint(n["interval_ms"], join(path, "interval_ms"), 100, 3600000);
  if (n["timeout_ms"])
    hc.timeout_ms = read_uint(n["timeout_ms"], join(path, "timeout_ms"), 1, 3599999);
  if (n["rise"]) hc.rise = read_uint(n["rise"], join(path, "rise"), 1, 100);
  if (n["fall"]) hc.fall = read_uint(n["fall"], join(path, "fall"), 1, 100);
  // A probe still running when the next is due would overlap it.
  if (hc.timeout_ms >= hc.interval_ms)
    fail(join(path, "timeout_ms"), "must be less than interval_ms (" +
                                       std::to_string(hc.interval_ms) + "), got " +
                                       std::to_string(hc.timeout_ms));
  return hc;
}

// `family` 0: either (the global block).
static std::vector<Cidr> parse_cidrs(const YAML::Node& n, const std::string& path,
                                     uint8_t family) {
  require_seq(n, path);
  if (n.size() > kAclMaxPerScope)
    fail(path, "at most " + std::to_string(kAclMaxPerScope) + " prefixes, got " +
                   std::to_string(n.size()));
  std::vector<Cidr> out;
  for (size_t i = 0; i < n.size(); ++i) {
    Cidr c = read_cidr(n[i], index(path, i));
    if (family != 0 && c.addr.family != family)
      fail(index(path, i), "must be in the VIP's address family, got " + c.str());
    if (!acl_host_bits_zero(c))
      fail(index(path, i), "host bits set past the prefix length, got " + c.str());
    out.push_back(c);
  }
  return out;
}

AclConfig parse_acl(const YAML::Node& n, const std::string& path, uint8_t family) {
  require_map(n, path);
  check_keys(n, path, {"allow", "deny"});
  AclConfig acl;
  if (n["allow"]) acl.allow = parse_cidrs(n["allow"], join(path, "allow"), family);
  if (n["deny"]) acl.deny = parse_cidrs(n["deny"], join(path, "deny"), family);
  if (auto dup = acl_duplicate(acl))
    fail(path, "prefix " + dup->str() + " is listed twice (allow and deny lists together)");
  if (acl.allow.size() + acl.deny.size() > kAclMaxPerScope)
    fail(path, "at most " + std::to_string(kAclMaxPerScope) + " prefixes in all, got " +
                   std::to_string(acl.allow.size() + acl.deny.size()));
  return acl;
}

static std::string read_abs_path(const YAML::Node& n, const std::string& path) {
  std::string s = read_string(n, path);
  if (s[0] != '/') fail(path, "must be an absolute path, got '" + s + "'");
  for (unsigned char c : s)
    if (c < ' ' || c == 0x7f) fail(path, "must not contain control characters");
  return s;
}

static VrrpTrackConfig parse_track(const YAML::Node& n, const std::string& path) {
  require_map(n, path);
  check_keys(n, path, {"no_serving_backend", "interface_down"});
  VrrpTrackConfig t;
  if (n["no_serving_backend"])
    t.no_serving_backend =
        read_uint(n["no_serving_backend"], join(path, "no_serving_backend"), 0, 254);
  if (n["interface_down"])
    t.interface_down = read_uint(n["interface_down"], join(path, "interface_down"), 0, 254);
  return t;
}

VrrpConfig parse_vrrp(const YAML::Node& n, const std::string& path) {
  require_map(n, path);
  check_keys(n, path, {"vrid", "priority", "advert_interval_ms", "preempt", "preempt_delay_ms",
                       "unicast_peers", "interface", "virtual_mac", "track", "notify"});
  if (!n["vrid"]) fail(join(path, "vrid"), "required");
  VrrpConfig v;
  v.vrid = read_uint(n["vrid"], join(path, "vrid"), 1, 255);
  if (n["priority"]) v.priority = read_uint(n["priority"], join(path, "priority"), 1, 254);
  if (n["advert_interval_ms"]) {
    std::string p = join(path, "advert_interval_ms");
    v.advert_interval_ms = read_uint(n["advert_interval_ms"], p, 10, 40950);
    // RFC 5798 carries the interval in centiseconds (12 bits).
    if (v.advert_interval_ms % 10 != 0)
      fail(p, "must be a multiple of 10 (sent as centiseconds), got " +
                  std::to_string(v.advert_interval_ms));
  }
  if (n["preempt"]) v.preempt = read_bool(n["preempt"], join(path, "preempt"));
  if (n["preempt_delay_ms"]) {
    std::string p = join(path, "preempt_delay_ms");
    v.preempt_delay_ms = read_uint(n["preempt_delay_ms"], p, 0, 1000000);
    if (v.preempt_delay_ms != 0 && !v.preempt) fail(p, "needs preempt: true");
  }
  if (n["unicast_peers"]) {
    std::string p = join(path, "unicast_peers");
    require_seq(n["unicast_peers"], p);
    for (size_t i = 0; i < n["unicast_peers"].size(); ++i)
      v.unicast_peers.push_back(read_addr(n["unicast_peers"][i], index(p, i)));
  }
  if (n["interface"]) {
    v.interface = read_string(n["interface"], join(path, "interface"));
    if (v.interface.size() >= 16) fail(join(path, "interface"), "name longer than 15 characters");
  }
  if (n["virtual_mac"]) v.virtual_mac = read_bool(n["virtual_mac"], join(path, "virtual_mac"));
  if (n["track"]) v.track = parse_track(n["track"], join(path, "track"));
  if (n["notify"]) v.notify = read_abs_path(n["notify"], join(path, "notify"));
  return v;
}

SyncConfig parse_sync(const YAML::Node& n, const std::string& path) {
  require_map(n, path);
  check_keys(n, path, {"peer", "port", "key_file"});
  if (!n["peer"]) fail(join(path, "peer"), "required");
  SyncConfig s;
  s.peer = read_addr(n["peer"], join(path, "peer"));
  if (n["port"]) s.port = read_uint(n["port"], join(path, "port"), 1, 65535);
  if (n["key_file"]) s.key_file = read_abs_path(n["key_file"], join(path, "key_file"));
  return s;
}

LimitsConfig parse_limits(const YAML::Node& n, const std::string& path) {
  require_map(n, path);
  check_keys(n, path, {"new_flows_per_source", "burst"});
  const std::string rate = join(path, "new_flows_per_source");
  if (!n["new_flows_per_source"]) fail(rate, "required");
  LimitsConfig l;
  l.new_flows_per_source = uint32_t(read_uint(n["new_flows_per_source"], rate, 1, kLimitMaxRate));
  // Default: one second's worth, as deep as the bucket goes.
  l.burst = n["burst"] ? uint32_t(read_uint(n["burst"], join(path, "burst"), 1, 65535))
                       : (l.new_flows_per_source < 65535 ? l.new_flows_per_source : 65535);
  return l;
}

}  // namespace sluice::cfg

namespace sluice {

// A prefix with host bits set is refused rather than cut: 203.0.113.5/24
// is more likely a typo for a /32 than a wish for the /24.
bool acl_host_bits_zero(const Cidr& c) {
  int bits = c.addr.host_prefix();
  for (int i = c.prefix; i < bits; ++i)
    if (c.addr.bytes[size_t(i / 8)] & (0x80 >> (i % 8))) return false;
  return true;
}

std::optional<Cidr> acl_duplicate(const AclConfig& acl) {
  std::vector<Cidr> all = acl.allow;
  all.insert(all.end(), acl.deny.begin(), acl.deny.end());
  std::sort(all.begin(), all.end());
  auto dup = std::adjacent_find(all.begin(), all.end());
  if (dup == all.end()) return std::nullopt;
  return *dup;
}

}  // namespace sluice
