// SPDX-License-Identifier: Apache-2.0
#include "control/ctl/ctl_print.h"

#include <algorithm>

#include "control/config/printable.h"

namespace sluice {

using nlohmann::json;

namespace {

// A field as text whatever its JSON type; "-" when absent or empty.
std::string field(const json& j, const char* key) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return "-";
  if (it->is_string()) return it->get<std::string>().empty() ? "-" : it->get<std::string>();
  if (it->is_boolean()) return it->get<bool>() ? "yes" : "no";
  return it->dump();
}

const json& list(const json& reply, const char* key) {
  static const json empty = json::array();
  auto it = reply.find(key);
  return it != reply.end() && it->is_array() ? *it : empty;
}

const json& object(const json& reply, const char* key) {
  static const json empty = json::object();
  auto it = reply.find(key);
  return it != reply.end() && it->is_object() ? *it : empty;
}

// "bad_ttl 2, bad_vrid 1" for the non-zero counts; "none" when all are zero.
std::string nonzero_counts(const json& counts) {
  std::string out;
  for (const auto& [name, n] : counts.items()) {
    if (!n.is_number() || n.get<double>() == 0) continue;
    if (!out.empty()) out += ", ";
    out += printable(name) + " " + n.dump();
  }
  return out.empty() ? "none" : out;
}

void add_sync_rows(TextTable& t, const json& s) {
  if (!s.value("enabled", false)) {
    t.add({"sync", "off"});
    return;
  }
  std::string how = s.value("sending", false) ? "sending" : "receiving";
  if (s.value("resynced", false)) how += ", resynced";
  if (s.value("signed", false)) how += ", signed";
  t.add({"sync", field(s, "peer") + " port " + field(s, "port") + ", " + how});
  const json& rec = object(s, "records");
  t.add({"sync_records", "sent " + field(rec, "sent") + ", applied " + field(rec, "applied") +
                             ", no_backend " + field(rec, "no_backend") + ", lost " +
                             field(rec, "lost")});
  t.add({"sync_drops", nonzero_counts(object(s, "drops"))});
  t.add({"sync_lag_ms", field(s, "lag_ms")});
}

}  // namespace

void print_vrrp(const json& reply, std::ostream& out) {
  if (!reply.value("configured", false)) {
    out << "VRRP is not configured (no vrrp: block in the config)\n";
    return;
  }
  TextTable t({"FIELD", "VALUE"});
  t.add({"state", field(reply, "state") + " (" + field(reply, "role") + ")"});
  t.add({"vrid", field(reply, "vrid") + " on " + field(reply, "interface")});
  const json& prio = object(reply, "priority");
  t.add({"priority", field(prio, "configured") + " configured, " + field(prio, "effective") +
                         " effective (track penalty " + field(prio, "track_penalty") + ")"});
  t.add({"master", field(reply, "master") + " (priority " + field(reply, "master_priority") + ")"});
  t.add({"advert_interval", field(reply, "advert_interval_ms") + " ms (master's " +
                                field(reply, "master_advert_interval_ms") +
                                " ms, master down after " +
                                field(reply, "master_down_interval_ms") + " ms)"});
  std::string preempt = field(reply, "preempt");
  if (reply.value("preempt_held", false)) preempt += " (held until resynced)";
  t.add({"preempt", preempt});
  const json& ad = object(reply, "adverts");
  t.add({"adverts", "sent " + field(ad, "sent") + ", received " + field(ad, "received") +
                        ", late " + field(ad, "late") + ", max jitter " +
                        field(ad, "jitter_max_ms") + " ms"});
  t.add({"adverts_refused", nonzero_counts(object(ad, "refused"))});
  const json& last = object(reply, "last_transition");
  std::string when = field(last, "reason");
  if (last.contains("at") && last["at"].is_string())
    when += " at " + field(last, "at") + " (" + field(last, "ago_s") + " s ago)";
  t.add({"last_transition", when});
  t.add({"transitions", field(reply, "transitions")});
  add_sync_rows(t, object(reply, "sync"));
  t.print(out);
}

std::string ctl_server_error(const json& reply) {
  auto it = reply.find("error");
  if (it == reply.end() || !it->is_string()) return "request failed";
  return printable(it->get<std::string>());
}

void TextTable::print(std::ostream& out) const {
  std::vector<size_t> width;
  for (const auto& row : rows_)
    for (size_t i = 0; i < row.size(); ++i) {
      if (width.size() <= i) width.push_back(0);
      width[i] = std::max(width[i], row[i].size());
    }
  for (const auto& row : rows_) {
    std::string line;
    for (size_t i = 0; i < row.size(); ++i) {
      line += row[i];
      if (i + 1 < row.size()) line += std::string(width[i] - row[i].size() + 2, ' ');
    }
    out << line << "\n";
  }
}

// "100/s burst 20"; "off" when there is none.
static std::string limit_text(const json& j) {
  auto it = j.find("new_flow_limit");
  if (it == j.end() || !it->is_object()) return "off";
  return field(*it, "new_flows_per_source") + "/s burst " + field(*it, "burst");
}

void print_status(const json& reply, std::ostream& out) {
  TextTable t({"FIELD", "VALUE"});
  // XDP's mode and pin directory keep their names; another dataplane
  // reports its own under neutral ones.
  const bool xdp = !reply.contains("dataplane_mode");
  for (const char* key :
       {"version", "pid", "uptime_s", "interface", "dataplane", xdp ? "xdp_mode" : "dataplane_mode",
        "role", "vrrp_state", "lb_mac", "src_v4", "src_v6", xdp ? "pin_dir" : "dataplane_location",
        "vips", "backends", "unresolved_macs"})
    t.add({key, field(reply, key)});
  for (const char* key : {"syn_flood_protection", "syn_table_size"})
    t.add({key, field(reply, key)});
  t.add({"new_flow_limit", limit_text(reply)});
  if (reply.contains("loop") && reply["loop"].is_object()) {
    const json& l = reply["loop"];
    t.add({"loop_longest_ms", field(l, "longest_ms")});
    t.add({"loop_p99_ms", field(l, "p99_ms")});
  }
  t.print(out);
}

void print_vip_list(const json& reply, std::ostream& out) {
  TextTable t({"SERVICE", "MODE", "VIP_ID", "RING", "RING_LEN", "BACKENDS", "SERVING",
               "SYN_FLOOD_PROTECTION", "NEW_FLOW_LIMIT"});
  for (const auto& v : list(reply, "vips")) {
    std::string limit = limit_text(v);
    if (limit != "off") limit += " (" + field(v, "new_flow_limit_scope") + ")";
    t.add({field(v, "service"), field(v, "mode"), field(v, "vip_id"), field(v, "ring_id"),
           field(v, "ring_len"), field(v, "backends"), field(v, "serving"),
           field(v, "syn_flood_protection"), limit});
  }
  t.print(out);
}

void print_backend_list(const json& reply, std::ostream& out) {
  TextTable t({"SERVICE", "BACKEND", "WEIGHT", "BACKUP", "STATE", "HEALTH", "MAC", "INDEX",
               "LAST_CHECK_ERROR"});
  for (const auto& b : list(reply, "backends"))
    t.add({field(b, "service"), field(b, "address"), field(b, "weight"), field(b, "backup"),
           field(b, "state"), field(b, "health"), field(b, "mac"), field(b, "index"),
           field(b, "health_error")});
  t.print(out);
}

void print_acl_list(const json& reply, std::ostream& out) {
  TextTable t({"SCOPE", "ACTION", "CIDR", "RULE", "HITS"});
  for (const auto& r : list(reply, "rules")) {
    std::string action = field(r, "action");
    if (r.value("default_deny", false)) action += " (default)";
    t.add({field(r, "scope"), action, field(r, "cidr"), field(r, "rule_id"), field(r, "hits")});
  }
  t.print(out);
}

void print_stats(const json& reply, std::ostream& out) {
  TextTable vips({"SERVICE", "PACKETS", "BYTES", "NEW_CONNS"});
  for (const auto& v : list(reply, "vips"))
    vips.add({field(v, "service"), field(v, "packets"), field(v, "bytes"), field(v, "new_conns")});
  vips.print(out);
  out << "\n";
  TextTable bes({"SERVICE", "BACKEND", "PACKETS", "BYTES", "NEW_CONNS"});
  for (const auto& b : list(reply, "backends"))
    bes.add({field(b, "service"), field(b, "address"), field(b, "packets"), field(b, "bytes"),
             field(b, "new_conns")});
  bes.print(out);
  out << "\n";
  TextTable actions({"ACTION", "PACKETS"});
  if (reply.contains("actions"))
    for (const auto& [name, n] : reply["actions"].items()) actions.add({name, n.dump()});
  actions.print(out);
  out << "\n";
  TextTable reasons({"REASON", "PACKETS", "BYTES"});
  if (reply.contains("reasons"))
    for (const auto& [name, c] : reply["reasons"].items())
      if (c.value("packets", 0) != 0) reasons.add({name, field(c, "packets"), field(c, "bytes")});
  reasons.print(out);
}

}  // namespace sluice

namespace sluice {

void print_conns(const json& reply, std::ostream& out) {
  TextTable t({"CLIENT", "", "SERVICE", "", "BACKEND", "AGE_S"});
  for (const auto& c : list(reply, "conns"))
    t.add({field(c, "client"), "->", field(c, "service"), "->", field(c, "backend"),
           field(c, "age_s")});
  t.print(out);
  // sluiced reads a bounded part of the table: say so when it stopped early.
  if (reply.value("truncated", false))
    out << "(showing " << list(reply, "conns").size() << "; read " << field(reply, "scanned")
        << " entries of a table of " << field(reply, "table_size")
        << " and stopped before its end; --limit N reads more)\n";
}

void print_reload(const json& reply, std::ostream& out) {
  out << "reloaded: " << field(reply, "vips") << " VIPs\n";
}

void print_detach(const json& reply, std::ostream& out) {
  out << "detached from " << field(reply, "detached") << "; sluiced exits\n";
}

}  // namespace sluice
