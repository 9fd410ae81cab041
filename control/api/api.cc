// SPDX-License-Identifier: Apache-2.0
#include "control/api/api.h"

#include <netinet/in.h>
#include <unistd.h>

#include "control/config/config_edit.h"
#include "control/config/printable.h"

namespace sluice {

using nlohmann::json;

const char* mode_name(uint8_t mode) { return mode == SL_MODE_IPIP ? "ipip" : "dsr"; }
const char* protocol_name(uint8_t proto) { return proto == IPPROTO_UDP ? "udp" : "tcp"; }

// Seconds since the backend last changed between UP and DOWN; null if it
// has not since its check started.
static json health_since_s(const HealthStatus& h) {
  if (h.last_change == Clock::time_point{}) return nullptr;
  auto d = std::chrono::steady_clock::now() - h.last_change;
  return std::chrono::duration_cast<std::chrono::seconds>(d).count();
}

// A new-flow limit (config `limits:`); null: none.
static json limits_json(const std::optional<LimitsConfig>& l) {
  if (!l) return nullptr;
  return json{{"new_flows_per_source", l->new_flows_per_source}, {"burst", l->burst}};
}

std::string backend_state(const BackendState& be) {
  if (be.serving) return "serving";
  if (be.cfg.weight == 0) return "weight0";
  if (!be.mac) return "unresolved";
  if (be.health.state == Health::down) return "down";
  return "standby";  // a backup while primaries serve
}

// The message may quote the request or the config file: one printable line
// (and valid UTF-8, which dump() requires).
std::string api_error_reply(const std::string& message) {
  return json{{"ok", false}, {"error", printable(message)}}.dump();
}

std::string ApiHandler::handle(std::string_view request) {
  auto req = api_parse_request(request);
  if (!req) return api_error_reply(req.error().message());
  return reply_to(*req);
}

std::string ApiHandler::reply_to(const ApiRequest& req) {
  auto reply = dispatch(req);
  if (!reply) return api_error_reply(reply.error().message());
  (*reply)["ok"] = true;
  // A string we did not make (a config path, a file's text) may not be
  // UTF-8: replaced, never a throw out of the loop.
  return reply->dump(-1, ' ', false, json::error_handler_t::replace);
}

std::optional<std::string> ApiHandler::handle_async(std::string_view request,
                                                   ChangeRunner& runner,
                                                   std::function<void(std::string)> later) {
  auto req = api_parse_request(request);
  if (!req) return api_error_reply(req.error().message());
  // The runner may finish at once, inside change() (an edit refused, a full
  // queue): that reply is returned from here, since the server only takes
  // a later one once this call has returned nullopt.
  struct Pending {
    bool returned = false;
    std::optional<std::string> now;
  };
  auto pending = std::make_shared<Pending>();
  auto deliver = [pending, later](std::string line) {
    if (pending->returned)
      later(std::move(line));
    else
      pending->now = std::move(line);
  };
  auto reply = [this, deliver](const Result<void>& r, bool reload) {
    if (!r) return deliver(api_error_reply(r.error().message()));
    json out = reload ? json{{"vips", store_.running().vips.size()}} : json::object();
    out["ok"] = true;
    deliver(out.dump(-1, ' ', false, json::error_handler_t::replace));
  };
  switch (req->cmd) {
    case ApiCommand::status:
    case ApiCommand::vip_list:
    case ApiCommand::backend_list:
    case ApiCommand::stats:
    case ApiCommand::conns:
    case ApiCommand::detach:
    case ApiCommand::vrrp:
    case ApiCommand::acl_list: return reply_to(*req);
    case ApiCommand::reload:
      runner.reload([reply](const Result<void>& r) { reply(r, true); });
      pending->returned = true;
      return pending->now;
    default: break;
  }
  runner.change([r = *req](Config& cfg) { return config_edit(cfg, r); },
                [reply](const Result<void>& r) { reply(r, false); });
  pending->returned = true;
  return pending->now;
}

Result<json> ApiHandler::dispatch(const ApiRequest& req) {
  switch (req.cmd) {
    case ApiCommand::status: return status();
    case ApiCommand::vip_list: return vip_list();
    case ApiCommand::backend_list: return backend_list();
    case ApiCommand::stats: return stats();
    case ApiCommand::conns: return conns(req);
    case ApiCommand::detach: return detach();
    case ApiCommand::vrrp: return vrrp_report_json(vrrp_report());
    case ApiCommand::acl_list: return acl_list();
    case ApiCommand::reload: {
      if (auto r = store_.reload(); !r) return r.error();
      return json{{"vips", store_.running().vips.size()}};
    }
    default: break;
  }
  auto r = store_.change([&](Config& cfg) { return config_edit(cfg, req); });
  if (!r) return r.error();
  return json::object();
}

Result<json> ApiHandler::detach() {
  if (!detach_) return make_error("detach: not supported here");
  if (auto r = detach_(); !r) return r.error();
  return json{{"detached", info_.interface}};
}

std::optional<vrrp::VrrpReport> ApiHandler::vrrp_report() const {
  if (!vrrp_) return std::nullopt;
  return vrrp_();
}

json ApiHandler::status() const {
  auto report = vrrp_report();
  size_t backends = 0;
  for (const auto& v : table_.vips()) backends += v.backends.size();
  const NodeAddrs& node = table_.node();
  auto uptime = std::chrono::steady_clock::now() - info_.started;
  const DataplaneInfo dpi = dp_.describe();
  json out{
      {"version", "0.1.0"},
      {"pid", getpid()},
      {"uptime_s", std::chrono::duration_cast<std::chrono::seconds>(uptime).count()},
      {"interface", info_.interface},
      {"dataplane", dpi.kind},
      {"config", store_.path()},
      {"role", vrrp_role(report)},
      {"lb_mac", mac_str(node.lb_mac)},
      {"src_v4", node.src_v4 ? node.src_v4->str() : ""},
      {"src_v6", node.src_v6 ? node.src_v6->str() : ""},
      {"vips", table_.vips().size()},
      {"backends", backends},
      {"unresolved_macs", table_.unresolved()},
      {"syn_flood_protection", store_.running().syn_flood_protection},
      {"syn_table_size", store_.running().syn_table_size},
      {"new_flow_limit", limits_json(store_.running().limits)},
  };
  // XDP keeps the names `status` always had; another dataplane says its
  // mode and where it keeps its state under neutral ones.
  const bool xdp = dpi.kind == "xdp";
  out[xdp ? "xdp_mode" : "dataplane_mode"] = dpi.mode;
  out[xdp ? "pin_dir" : "dataplane_location"] = dpi.location;
  if (report) out["vrrp_state"] = vrrp::state_name(report->instance.state);
  // DPDK: is every worker getting its share of the flows?
  if (auto per = dp_.worker_packets(); !per.empty()) {
    json ws = json::array();
    for (size_t i = 0; i < per.size(); ++i) ws.push_back({{"worker", i}, {"packets", per[i]}});
    out["workers"] = std::move(ws);
  }
  if (info_.loop) {
    // How well the controller keeps up: the longest turn of its loop and
    // the 99th percentile (a bucket bound), in milliseconds.
    out["loop"] = json{{"turns", info_.loop->turns.load()},
                       {"longest_ms", info_.loop->longest_us.load() / 1000.0},
                       {"p99_ms", info_.loop->quantile_us(0.99) / 1000.0}};
  }
  return out;
}

json ApiHandler::vip_list() const {
  json vips = json::array();
  const Config& cfg = store_.running();
  for (const auto& v : table_.vips()) {
    size_t serving = 0;
    for (const auto& be : v.backends) serving += be.serving ? 1 : 0;
    // The limit new flows to this VIP are under: its own, else the node's.
    const auto& limit = v.cfg.limits ? v.cfg.limits : cfg.limits;
    vips.push_back({
        {"service", v.cfg.name()},
        {"address", v.cfg.address.str()},
        {"port", v.cfg.port},
        {"protocol", protocol_name(v.cfg.protocol)},
        {"mode", mode_name(v.cfg.mode)},
        {"vip_id", v.vip_id},
        {"ring_id", v.ring_id},
        {"ring_len", v.ring_len},
        {"backends", v.backends.size()},
        {"serving", serving},
        {"syn_flood_protection", v.cfg.syn_flood_protection.value_or(cfg.syn_flood_protection)},
        {"new_flow_limit", limits_json(limit)},
        {"new_flow_limit_scope", v.cfg.limits ? "vip" : cfg.limits ? "global" : ""},
    });
  }
  return json{{"vips", vips}};
}

const BackendConfig* ApiHandler::configured(const VipState& vip, const BackendState& be) const {
  const VipConfig* v = find_vip(store_.running(), {vip.cfg.address, vip.cfg.port, vip.cfg.protocol});
  if (!v) return nullptr;
  for (const auto& b : v->backends)
    if (b.address == be.cfg.address) return &b;
  return nullptr;
}

// The weight and drain flag as configured: the table holds weight 0 for a
// drained backend.
json ApiHandler::backend_list() const {
  json out = json::array();
  for (const auto& v : table_.vips())
    for (const auto& be : v.backends) {
      const BackendConfig* cfg = configured(v, be);
      bool drained = cfg && cfg->drained;
      out.push_back({
          {"service", v.cfg.name()},
          {"address", be.cfg.address.str()},
          {"weight", cfg ? cfg->weight : be.cfg.weight},
          {"backup", be.cfg.backup},
          {"drained", drained},
          {"index", be.index},
          {"mac", be.mac ? mac_str(*be.mac) : ""},
          {"health", health_name(be.health.state)},
          {"health_since_s", health_since_s(be.health)},
          {"health_ok", be.health.consecutive_ok},
          {"health_fail", be.health.consecutive_fail},
          {"health_transitions", be.health.transitions},
          {"health_error", be.health.last_error},
          {"state", drained ? "drained" : backend_state(be)},
      });
    }
  return json{{"backends", out}};
}

// Every rule programmed, with its hits (summed over CPUs): the configured
// prefixes and the /0 default denies that allow lists add.
Result<json> ApiHandler::acl_list() {
  json out = json::array();
  std::vector<AclRuleView> rules;
  if (acls_) rules = acls_->rules();
  std::vector<uint64_t> hits;
  if (!rules.empty()) {
    auto h = dp_.acl_hits();
    if (!h) return h.error();
    hits = std::move(*h);
  }
  for (const auto& r : rules)
    out.push_back({
        {"scope", r.scope},
        {"action", r.action == SL_ACL_ALLOW ? "allow" : "deny"},
        {"cidr", r.cidr.str()},
        {"default_deny", r.default_deny},
        {"rule_id", r.rule_id},
        {"hits", r.rule_id < hits.size() ? hits[r.rule_id] : 0},
    });
  return json{{"rules", out}};
}

}  // namespace sluice
