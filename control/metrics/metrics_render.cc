// SPDX-License-Identifier: Apache-2.0
// The exposition text: one family per metric, HELP and TYPE first, samples
// after, label values escaped. Names and meanings are a contract with
// dashboards: add, never rename.
#include <cctype>
#include <cstdint>
#include <string>

#include "control/metrics/metrics.h"

namespace sluice {

namespace {

class Exposition {
 public:
  void family(const char* name, const char* type, const char* help) {
    out_ += "# HELP ";
    out_ += name;
    out_ += ' ';
    out_ += help;
    out_ += "\n# TYPE ";
    out_ += name;
    out_ += ' ';
    out_ += type;
    out_ += '\n';
  }
  // `labels`: already formatted `k="v",...`, or empty.
  void sample(const char* name, const std::string& labels, uint64_t value) {
    line(name, labels, std::to_string(value));
  }
  void sample_seconds(const char* name, const std::string& labels, uint64_t us) {
    line(name, labels, seconds(us));
  }
  static std::string seconds(uint64_t us) {
    std::string frac = std::to_string(us % 1000000);
    return std::to_string(us / 1000000) + "." + std::string(6 - frac.size(), '0') + frac;
  }
  std::string take() { return std::move(out_); }

 private:
  void line(const char* name, const std::string& labels, const std::string& value) {
    out_ += name;
    if (!labels.empty()) {
      out_ += '{';
      out_ += labels;
      out_ += '}';
    }
    out_ += ' ';
    out_ += value;
    out_ += '\n';
  }

  std::string out_;
};

std::string label(const char* key, const std::string& value) {
  return std::string(key) + "=\"" + metrics_escape_label(value) + "\"";
}

std::string vip_label(const MetricsVip& v) { return label("vip", v.name); }

std::string backend_labels(const MetricsVip& v, const MetricsBackend& be) {
  return vip_label(v) + "," + label("backend", be.address);
}

uint64_t packets(const sl_counters& c) { return c.packets; }
uint64_t bytes(const sl_counters& c) { return c.bytes; }
uint64_t new_conns(const sl_counters& c) { return c.new_conns; }

struct CounterField {
  const char* suffix;
  const char* help;
  uint64_t (*get)(const sl_counters&);
};
constexpr CounterField kFields[] = {
    {"packets_total", "Packets", packets},
    {"bytes_total", "Bytes, Ethernet header to the end of the IP packet", bytes},
    {"new_connections_total", "New connections", new_conns},
};

void render_vips(Exposition& e, const MetricsSnapshot& s, const MetricsCounters& c) {
  for (const auto& f : kFields) {
    std::string name = std::string("sluice_vip_") + f.suffix;
    std::string help = std::string(f.help) + " to the virtual service.";
    e.family(name.c_str(), "counter", help.c_str());
    for (size_t i = 0; i < s.vips.size(); ++i)
      e.sample(name.c_str(), vip_label(s.vips[i]), i < c.vips.size() ? f.get(c.vips[i]) : 0);
  }
}

void render_backends(Exposition& e, const MetricsSnapshot& s, const MetricsCounters& c) {
  for (const auto& f : kFields) {
    std::string name = std::string("sluice_backend_") + f.suffix;
    std::string help = std::string(f.help) + " forwarded to the backend.";
    e.family(name.c_str(), "counter", help.c_str());
    for (size_t i = 0; i < s.vips.size(); ++i)
      for (size_t j = 0; j < s.vips[i].backends.size(); ++j) {
        bool have = i < c.backends.size() && j < c.backends[i].size();
        e.sample(name.c_str(), backend_labels(s.vips[i], s.vips[i].backends[j]),
                 have ? f.get(c.backends[i][j]) : 0);
      }
  }
  e.family("sluice_backend_up", "gauge", "1 if the backend is healthy or not health-checked.");
  for (const auto& v : s.vips)
    for (const auto& be : v.backends) e.sample("sluice_backend_up", backend_labels(v, be), be.up);
  e.family("sluice_backend_health_transitions_total", "counter",
           "Health changes of the backend (UP <-> DOWN) since sluiced started.");
  for (const auto& v : s.vips)
    for (const auto& be : v.backends)
      e.sample("sluice_backend_health_transitions_total", backend_labels(v, be),
               be.health_transitions);
  e.family("sluice_backend_weight", "gauge", "Configured weight (0: out of the schedule).");
  for (const auto& v : s.vips)
    for (const auto& be : v.backends)
      e.sample("sluice_backend_weight", backend_labels(v, be), be.weight);
}

void render_reasons(Exposition& e, const MetricsCounters& c) {
  uint64_t actions[4] = {};
  for (int r = 1; r < SL_R_MAX; ++r)
    actions[sl_reason_verdict(static_cast<sl_reason>(r))] += c.reasons[r].packets;
  e.family("sluice_dataplane_actions_total", "counter", "Packets by dataplane action.");
  for (int a = 0; a < 4; ++a)
    e.sample("sluice_dataplane_actions_total", label("action", sl_verdict_names[a]), actions[a]);
  e.family("sluice_reason_packets_total", "counter",
           "Packets by the reason for their action (stable names).");
  for (int r = 1; r < SL_R_MAX; ++r)
    e.sample("sluice_reason_packets_total", label("reason", sl_reason_names[r]),
             c.reasons[r].packets);
}

// Labels are the rule's scope, action and prefix, unique per rule (a
// scope holds a prefix once); a default deny an allow list adds is there
// too, as its /0.
void render_acl(Exposition& e, const MetricsSnapshot& s, const MetricsCounters& c) {
  e.family("sluice_acl_hits_total", "counter",
           "Judgements the firewall rule decided as the most specific prefix (each SYN, each denied "
           "packet, an admitted flow once per rule change), summed over CPUs.");
  if (!s.acl) return;
  for (size_t i = 0; i < s.acl->size(); ++i) {
    const MetricsAclRule& r = (*s.acl)[i];
    e.sample("sluice_acl_hits_total",
             label("scope", r.scope) + "," + label("action", r.action) + "," +
                 label("cidr", r.cidr),
             i < c.acl_hits.size() ? c.acl_hits[i] : 0);
  }
}

void render_conn_table(Exposition& e, const MetricsCounters& c) {
  e.family("sluice_conn_table_entries", "gauge",
           "Flows in the connection table (counted at most every few seconds).");
  if (c.conn_entries) e.sample("sluice_conn_table_entries", "", *c.conn_entries);
  e.family("sluice_conn_table_size", "gauge", "Capacity of the connection table (LRU).");
  e.sample("sluice_conn_table_size", "", c.conn_table_size);
}

void render_control(Exposition& e, const MetricsCounters& c) {
  const struct {
    const char* name;
    const char* help;
    uint64_t value;
  } rows[] = {
      {"sluice_config_reloads_total", "Config reloads that took effect.", c.control.config_reloads},
      {"sluice_config_reload_failures_total", "Config reloads refused (last good state kept).",
       c.control.config_reload_failures},
      {"sluice_api_changes_total", "Changes applied through the API.", c.control.api_changes},
      {"sluice_health_transitions_total", "Backend health changes (up <-> down).",
       c.control.health_transitions},
  };
  for (const auto& row : rows) {
    e.family(row.name, "counter", row.help);
    e.sample(row.name, "", row.value);
  }
}

// Whether the controller itself keeps up: how long its main loop is kept
// from answering (a stalled loop delays API replies and table changes).
void render_loop(Exposition& e, const LoopValues& l) {
  const char* h = "sluice_loop_turn_seconds";
  e.family(h, "histogram", "Time each turn of the controller's main loop kept it busy.");
  std::string bucket = std::string(h) + "_bucket";
  for (size_t i = 0; i < l.le.size(); ++i)
    e.sample(bucket.c_str(), "le=\"" + Exposition::seconds(LoopStats::kBucketsUs[i]) + "\"",
             l.le[i]);
  e.sample(bucket.c_str(), "le=\"+Inf\"", l.turns);
  e.sample_seconds((std::string(h) + "_sum").c_str(), "", l.busy_us_total);
  e.sample((std::string(h) + "_count").c_str(), "", l.turns);
  e.family("sluice_loop_longest_turn_seconds", "gauge",
           "The longest turn of the main loop since sluiced started.");
  e.sample_seconds("sluice_loop_longest_turn_seconds", "", l.longest_us);
}

// The client surfaces (API socket, metrics port) and what their bounds did.
void render_surfaces(Exposition& e, const std::vector<SurfaceValues>& surfaces) {
  e.family("sluice_client_connections_total", "counter",
           "Client connections by surface and outcome (evicted: closed for a newer client "
           "when the surface was full; timed_out: past the deadline; too_large: request over "
           "the size cap).");
  for (const auto& s : surfaces) {
    const std::pair<const char*, uint64_t> rows[] = {{"accepted", s.accepted},
                                                     {"answered", s.answered},
                                                     {"evicted", s.evicted},
                                                     {"timed_out", s.timed_out},
                                                     {"too_large", s.too_large}};
    for (const auto& [outcome, value] : rows)
      e.sample("sluice_client_connections_total",
               label("surface", s.surface) + "," + label("outcome", outcome), value);
  }
  e.family("sluice_client_connections_open", "gauge", "Client connections open now.");
  for (const auto& s : surfaces)
    e.sample("sluice_client_connections_open", label("surface", s.surface), s.open);
}

uint64_t ms_to_us(double ms) { return ms > 0 ? static_cast<uint64_t>(ms * 1000.0 + 0.5) : 0; }

// Lower-case state names as label values: "init", "backup", "master".
std::string state_label(vrrp::State s) {
  std::string name = vrrp::state_name(s);
  for (char& ch : name) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  return name;
}

void render_vrrp(Exposition& e, const vrrp::VrrpReport& r) {
  e.family("sluice_vrrp_state", "gauge",
           "1 for the VRRP state the instance is in, 0 for the others.");
  for (auto st : {vrrp::State::initialize, vrrp::State::backup, vrrp::State::master})
    e.sample("sluice_vrrp_state", label("state", state_label(st)), r.instance.state == st);
  e.family("sluice_vrrp_priority", "gauge",
           "VRRP priority: as configured, and as advertised (less the tracking penalty).");
  e.sample("sluice_vrrp_priority", label("kind", "configured"), r.priority);
  e.sample("sluice_vrrp_priority", label("kind", "effective"), r.instance.effective_priority);
  e.family("sluice_vrrp_adverts_total", "counter", "VRRP adverts sent, and received and accepted.");
  e.sample("sluice_vrrp_adverts_total", label("dir", "sent"), r.adverts_sent);
  e.sample("sluice_vrrp_adverts_total", label("dir", "received"), r.adverts_received);
  e.family("sluice_vrrp_advert_drops_total", "counter",
           "Received VRRP adverts refused, by reason.");
  for (int i = 1; i <= vrrp::kAdvertDropCount; ++i)
    e.sample("sluice_vrrp_advert_drops_total",
             label("reason", vrrp::advert_drop_name(static_cast<vrrp::AdvertDrop>(i))),
             r.advert_drops[i]);
  e.family("sluice_vrrp_adverts_late_total", "counter",
           "Adverts sent later than their interval plus 10%.");
  e.sample("sluice_vrrp_adverts_late_total", "", r.advert_late);
  e.family("sluice_vrrp_advert_jitter_max_seconds", "gauge",
           "The latest an advert went out beyond its due time.");
  e.sample_seconds("sluice_vrrp_advert_jitter_max_seconds", "", ms_to_us(r.advert_jitter_max_ms));
  e.family("sluice_vrrp_transitions_total", "counter", "VRRP state changes since sluiced started.");
  e.sample("sluice_vrrp_transitions_total", "", r.instance.transitions);
  const vrrp::SyncReport& s = r.sync;
  if (!s.enabled) return;
  e.family("sluice_sync_records_total", "counter",
           "Connection-sync records: sent, applied, dropped for a backend this node lacks "
           "(no_backend), and new-flow events lost to a full ring buffer (lost).");
  const std::pair<const char*, uint64_t> outcomes[] = {{"sent", s.records_sent},
                                                       {"applied", s.records_applied},
                                                       {"no_backend", s.records_no_backend},
                                                       {"lost", s.events_lost}};
  for (const auto& [outcome, value] : outcomes)
    e.sample("sluice_sync_records_total", label("outcome", outcome), value);
  e.family("sluice_sync_drops_total", "counter", "Connection-sync datagrams refused, by reason.");
  for (int i = 1; i <= sync::kDropCount; ++i)
    e.sample("sluice_sync_drops_total",
             label("reason", sync::drop_name(static_cast<sync::Drop>(i))), s.drops[i]);
  e.family("sluice_sync_lag_seconds", "gauge",
           "Age of the newest applied sync record when it arrived.");
  e.sample_seconds("sluice_sync_lag_seconds", "", ms_to_us(s.lag_ms));
}

}  // namespace

std::string metrics_escape_label(const std::string& value) {
  std::string out;
  out.reserve(value.size());
  for (char ch : value) {
    if (ch == '\\') out += "\\\\";
    else if (ch == '"') out += "\\\"";
    else if (ch == '\n') out += "\\n";
    else out += ch;
  }
  return out;
}

std::string metrics_render(const MetricsSnapshot& snap, const MetricsCounters& counters,
                           const BuildInfo& build) {
  Exposition e;
  render_vips(e, snap, counters);
  render_backends(e, snap, counters);
  render_reasons(e, counters);
  render_acl(e, snap, counters);
  render_conn_table(e, counters);
  render_control(e, counters);
  render_loop(e, counters.loop);
  render_surfaces(e, counters.surfaces);
  if (counters.vrrp) render_vrrp(e, *counters.vrrp);
  e.family("sluice_build_info", "gauge", "Build of the running sluiced (value always 1).");
  e.sample("sluice_build_info",
           label("version", build.version) + "," + label("git", build.git) + "," +
               label("dataplane", build.dataplane),
           1);
  return e.take();
}

}  // namespace sluice
