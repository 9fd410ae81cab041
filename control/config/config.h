// SPDX-License-Identifier: Apache-2.0
// The sluiced configuration (one YAML file, see DESIGN.md "Config"), parsed
// and validated as a whole: any error names the field path and why.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/host/ip_addr.h"
#include "core/host/result.h"
#include "core/abi.h"

namespace sluice {

enum class DataplaneKind { xdp, dpdk };

struct BackendConfig {
  IpAddr address;
  uint32_t weight = 1;  // 0..1000; 0 takes it out of the ring
  bool backup = false;
  // Taken out of the ring (`sluicectl backend drain`) while `weight` keeps
  // what undrain restores; persisted so a restart keeps it drained.
  bool drained = false;

  bool operator==(const BackendConfig&) const = default;
};

struct HealthCheckConfig {
  std::string type;  // tcp | http
  std::string path = "/";
  std::string host;   // http Host header; empty: the backend's address
  uint16_t port = 0;  // 0: the VIP's port
  uint32_t interval_ms = 1000;  // 100..3600000
  uint32_t timeout_ms = 500;    // < interval_ms
  uint32_t rise = 2;            // successes that bring a DOWN backend back
  uint32_t fall = 3;            // failures that take an UP backend down
  std::vector<uint16_t> expect; // http: healthy codes; empty: 2xx and 3xx

  bool operator==(const HealthCheckConfig&) const = default;
};

// What happens to a backend's established flows when its health check
// fails (core/abi.h SL_BE_F_*): they stay, are scheduled again, or dropped.
enum class BackendDownPolicy { keep, reschedule, drop };

// Source prefixes a scope (the node, or one VIP) allows or denies; see
// core/acl.h for how a packet is judged. Host bits must be zero.
struct AclConfig {
  std::vector<Cidr> allow;
  std::vector<Cidr> deny;

  bool empty() const { return allow.empty() && deny.empty(); }
  bool operator==(const AclConfig&) const = default;
};

// The dataplane's rule ids, less the default denies allow lists add (two
// per scope at most): the cap on prefixes, all scopes together.
inline constexpr size_t kAclMaxRules = SL_ACL_MAX_RULES - 2 * (SL_MAX_VIPS + 1);
inline constexpr size_t kAclMaxPerScope = kAclMaxRules;
// A prefix listed twice in one scope (in one list, or in both), if any.
std::optional<Cidr> acl_duplicate(const AclConfig& acl);
// No bit set past the prefix length (203.0.113.0/24, not 203.0.113.5/24).
bool acl_host_bits_zero(const Cidr& c);

// `limits:` (core/limit.h): new flows per source address (an IPv6 source
// per /64), as a token bucket; established flows are never limited.
inline constexpr uint32_t kLimitMaxRate = 10000000;  // per second: one token per 100 ns
struct LimitsConfig {
  uint32_t new_flows_per_source = 0;  // per second, 1..kLimitMaxRate
  uint32_t burst = 0;                 // bucket depth, 1..65535

  // One token per interval (the dataplane's unit).
  uint32_t interval_ns() const { return uint32_t(1000000000u / new_flows_per_source); }
  bool operator==(const LimitsConfig&) const = default;
};

struct VipConfig {
  IpAddr address;
  uint16_t port = 0;     // host order
  uint8_t protocol = 0;  // IPPROTO_TCP / IPPROTO_UDP
  sl_mode mode = SL_MODE_DSR;
  std::vector<BackendConfig> backends;
  std::optional<HealthCheckConfig> health_check;
  BackendDownPolicy on_backend_down = BackendDownPolicy::keep;
  std::optional<AclConfig> acl;
  std::optional<LimitsConfig> limits;  // unset: the global one, if any
  // false: SYNs go straight to the connection table (SL_VIP_F_ONE_TABLE),
  // where a SYN flood can evict established flows. Unset: the global one.
  std::optional<bool> syn_flood_protection;

  std::string name() const { return service_name(address, port, protocol); }

  bool operator==(const VipConfig&) const = default;
};

// How much each failed check lowers the advertised priority (keepalived's
// `weight`); 0: not tracked. The result never goes below 1.
struct VrrpTrackConfig {
  uint32_t no_serving_backend = 0;  // 0..254: some VIP has no serving backend
  uint32_t interface_down = 0;      // 0..254: the VRRP interface is down

  bool operator==(const VrrpTrackConfig&) const = default;
};

struct VrrpConfig {
  uint32_t vrid = 0;                  // 1..255
  uint32_t priority = 100;            // 1..254
  uint32_t advert_interval_ms = 1000; // multiple of 10, 10..40950
  bool preempt = true;
  uint32_t preempt_delay_ms = 0;      // 0..1000000; needs preempt
  std::vector<IpAddr> unicast_peers;
  std::string interface;              // adverts go here; empty: Config::interface
  bool virtual_mac = false;           // 00-00-5E-00-01-{VRID} (IPv6: -02-)
  VrrpTrackConfig track;
  std::string notify;                 // absolute path run on each transition; empty: none

  bool operator==(const VrrpConfig&) const = default;
};

struct SyncConfig {
  IpAddr peer;
  uint16_t port = 7900;
  std::string key_file;  // absolute path: HMAC-SHA256 key; empty: unsigned

  bool operator==(const SyncConfig&) const = default;
};

// `dpdk:` (dataplane: dpdk). `interface` then names the TAP sluiced
// creates as the kernel's side of the port.
struct DpdkConfig {
  std::vector<std::string> eal;  // EAL arguments; sluiced's `-- ARGS` replace them
  std::string port;              // ethdev name (net_af_packet0, 0000:01:00.0); empty: the first
  uint32_t workers = 0;          // 0: one per worker lcore
  uint32_t idle_sleep_us = 0;    // 0: poll flat out
  std::vector<Cidr> addresses;   // the node's own addresses, put on the TAP

  bool operator==(const DpdkConfig&) const = default;
};

struct Config {
  std::string interface;
  DataplaneKind dataplane = DataplaneKind::xdp;
  bool xdp_generic = false;
  std::string api_socket = "/run/sluice/sluiced.sock";
  std::string metrics_listen = "127.0.0.1:9477";
  uint32_t conn_table_size = SL_CONN_TABLE_DEFAULT;
  // Records of SYNs not answered yet (xdp: the map conns_syn); unless the
  // file says, as many as conn_table_size: a flood must be held for the
  // handshake time of the real clients it competes with (rate x RTT).
  uint32_t syn_table_size = SL_CONN_TABLE_DEFAULT;
  // xdp: nodes of the firewall's IPv4 trie (128 bytes each); 0: the
  // dataplane's default (SL_ACL_DEFAULT_NODES). Rules past it are judged
  // by the slower LPM trie.
  uint32_t acl_trie_nodes = 0;
  bool syn_flood_protection = true;    // for VIPs that do not say
  std::optional<LimitsConfig> limits;  // per source, across all VIPs
  std::vector<VipConfig> vips;
  std::optional<VrrpConfig> vrrp;
  std::optional<SyncConfig> sync;
  std::optional<AclConfig> acl;  // global: every VIP, after the VIP's own
  std::optional<DpdkConfig> dpdk;

  // Parsed but not acted on yet (none today).
  std::vector<std::string> ignored_blocks() const;

  bool operator==(const Config&) const = default;
};

// ACL prefixes in every scope together (capped at kAclMaxRules).
size_t acl_prefix_count(const Config& c);

// A key given twice in one map, at any depth, is an error naming the key
// and its line. Errors are one printable line (control bytes escaped).
Result<Config> config_parse(const std::string& yaml_text);
// config_file_read (a regular file, at most kConfigMaxBytes), then parse.
Result<Config> config_load(const std::string& path);

}  // namespace sluice
