// SPDX-License-Identifier: Apache-2.0
#include "control/config/config_writer.h"

#include <netinet/in.h>
#include <yaml-cpp/yaml.h>

namespace sluice {

namespace cfg {
void emit_dpdk(YAML::Emitter& out, const DpdkConfig& d);  // config_dpdk.cc
}

namespace {

void emit_backend(YAML::Emitter& out, const BackendConfig& be) {
  out << YAML::Flow << YAML::BeginMap;
  out << YAML::Key << "address" << YAML::Value << be.address.str();
  out << YAML::Key << "weight" << YAML::Value << be.weight;
  if (be.backup) out << YAML::Key << "backup" << YAML::Value << true;
  if (be.drained) out << YAML::Key << "drained" << YAML::Value << true;
  out << YAML::EndMap;
}

void emit_health_check(YAML::Emitter& out, const HealthCheckConfig& hc) {
  out << YAML::Flow << YAML::BeginMap;
  out << YAML::Key << "type" << YAML::Value << hc.type;
  if (hc.type == "http") {  // the parser takes these for http only
    out << YAML::Key << "path" << YAML::Value << hc.path;
    if (!hc.host.empty()) out << YAML::Key << "host" << YAML::Value << hc.host;
    if (!hc.expect.empty()) {
      out << YAML::Key << "expect" << YAML::Value << YAML::Flow << YAML::BeginSeq;
      for (uint16_t code : hc.expect) out << code;
      out << YAML::EndSeq;
    }
  }
  if (hc.port != 0) out << YAML::Key << "port" << YAML::Value << hc.port;
  out << YAML::Key << "interval_ms" << YAML::Value << hc.interval_ms;
  out << YAML::Key << "timeout_ms" << YAML::Value << hc.timeout_ms;
  out << YAML::Key << "rise" << YAML::Value << hc.rise;
  out << YAML::Key << "fall" << YAML::Value << hc.fall;
  out << YAML::EndMap;
}

void emit_cidrs(YAML::Emitter& out, const char* key, const std::vector<Cidr>& cidrs) {
  out << YAML::Key << key << YAML::Value << YAML::Flow << YAML::BeginSeq;
  for (const auto& c : cidrs) out << c.str();
  out << YAML::EndSeq;
}

void emit_acl(YAML::Emitter& out, const AclConfig& acl) {
  out << YAML::Flow << YAML::BeginMap;
  if (!acl.allow.empty()) emit_cidrs(out, "allow", acl.allow);
  if (!acl.deny.empty()) emit_cidrs(out, "deny", acl.deny);
  out << YAML::EndMap;
}

void emit_limits(YAML::Emitter& out, const LimitsConfig& l) {
  out << YAML::Key << "limits" << YAML::Value << YAML::Flow << YAML::BeginMap;
  out << YAML::Key << "new_flows_per_source" << YAML::Value << l.new_flows_per_source;
  out << YAML::Key << "burst" << YAML::Value << l.burst;
  out << YAML::EndMap;
}

void emit_vip(YAML::Emitter& out, const VipConfig& v) {
  out << YAML::BeginMap;
  out << YAML::Key << "address" << YAML::Value << v.address.str();
  out << YAML::Key << "port" << YAML::Value << v.port;
  out << YAML::Key << "protocol" << YAML::Value << (v.protocol == IPPROTO_UDP ? "udp" : "tcp");
  out << YAML::Key << "mode" << YAML::Value << (v.mode == SL_MODE_IPIP ? "ipip" : "dsr");
  out << YAML::Key << "backends" << YAML::Value << YAML::BeginSeq;
  for (const auto& be : v.backends) emit_backend(out, be);
  out << YAML::EndSeq;
  if (v.health_check) {
    out << YAML::Key << "health_check" << YAML::Value;
    emit_health_check(out, *v.health_check);
  }
  static const char* kDown[] = {"keep", "reschedule", "drop"};
  out << YAML::Key << "on_backend_down" << YAML::Value
      << kDown[static_cast<int>(v.on_backend_down)];
  if (v.acl) {
    out << YAML::Key << "acl" << YAML::Value;
    emit_acl(out, *v.acl);
  }
  if (v.limits) emit_limits(out, *v.limits);
  if (v.syn_flood_protection)
    out << YAML::Key << "syn_flood_protection" << YAML::Value << *v.syn_flood_protection;
  out << YAML::EndMap;
}

void emit_vrrp(YAML::Emitter& out, const VrrpConfig& v) {
  out << YAML::Key << "vrrp" << YAML::Value << YAML::BeginMap;
  out << YAML::Key << "vrid" << YAML::Value << v.vrid;
  out << YAML::Key << "priority" << YAML::Value << v.priority;
  out << YAML::Key << "advert_interval_ms" << YAML::Value << v.advert_interval_ms;
  out << YAML::Key << "preempt" << YAML::Value << v.preempt;
  if (v.preempt_delay_ms != 0)
    out << YAML::Key << "preempt_delay_ms" << YAML::Value << v.preempt_delay_ms;
  out << YAML::Key << "unicast_peers" << YAML::Value << YAML::Flow << YAML::BeginSeq;
  for (const auto& p : v.unicast_peers) out << p.str();
  out << YAML::EndSeq;
  if (!v.interface.empty()) out << YAML::Key << "interface" << YAML::Value << v.interface;
  if (v.virtual_mac) out << YAML::Key << "virtual_mac" << YAML::Value << true;
  if (v.track != VrrpTrackConfig{}) {
    out << YAML::Key << "track" << YAML::Value << YAML::Flow << YAML::BeginMap;
    out << YAML::Key << "no_serving_backend" << YAML::Value << v.track.no_serving_backend;
    out << YAML::Key << "interface_down" << YAML::Value << v.track.interface_down;
    out << YAML::EndMap;
  }
  if (!v.notify.empty()) out << YAML::Key << "notify" << YAML::Value << v.notify;
  out << YAML::EndMap;
}

void emit_sync(YAML::Emitter& out, const SyncConfig& s) {
  out << YAML::Key << "sync" << YAML::Value << YAML::Flow << YAML::BeginMap;
  out << YAML::Key << "peer" << YAML::Value << s.peer.str();
  out << YAML::Key << "port" << YAML::Value << s.port;
  if (!s.key_file.empty()) out << YAML::Key << "key_file" << YAML::Value << s.key_file;
  out << YAML::EndMap;
}

void emit_top(YAML::Emitter& out, const Config& c) {
  out << YAML::Key << "interface" << YAML::Value << c.interface;
  out << YAML::Key << "dataplane" << YAML::Value
      << (c.dataplane == DataplaneKind::dpdk ? "dpdk" : "xdp");
  out << YAML::Key << "xdp_mode" << YAML::Value << (c.xdp_generic ? "generic" : "native");
  out << YAML::Key << "api_socket" << YAML::Value << c.api_socket;
  out << YAML::Key << "metrics_listen" << YAML::Value << c.metrics_listen;
  out << YAML::Key << "conn_table_size" << YAML::Value << c.conn_table_size;
  out << YAML::Key << "syn_table_size" << YAML::Value << c.syn_table_size;
  if (c.acl_trie_nodes) out << YAML::Key << "acl_trie_nodes" << YAML::Value << c.acl_trie_nodes;
  out << YAML::Key << "syn_flood_protection" << YAML::Value << c.syn_flood_protection;
  if (c.limits) emit_limits(out, *c.limits);
}

}  // namespace

std::string config_emit(const Config& cfg) {
  YAML::Emitter out;
  out.SetBoolFormat(YAML::TrueFalseBool);
  out << YAML::Comment("sluice config; sluiced rewrites this file on API changes "
                       "(comments are not kept)");
  out << YAML::Newline << YAML::BeginMap;
  emit_top(out, cfg);
  out << YAML::Key << "vips" << YAML::Value << YAML::BeginSeq;
  for (const auto& v : cfg.vips) emit_vip(out, v);
  out << YAML::EndSeq;
  if (cfg.vrrp) emit_vrrp(out, *cfg.vrrp);
  if (cfg.sync) emit_sync(out, *cfg.sync);
  if (cfg.acl) {
    out << YAML::Key << "acl" << YAML::Value;
    emit_acl(out, *cfg.acl);
  }
  if (cfg.dpdk) cfg::emit_dpdk(out, *cfg.dpdk);
  out << YAML::EndMap;
  return std::string(out.c_str()) + "\n";
}

}  // namespace sluice
