// SPDX-License-Identifier: Apache-2.0
// The `stats` reply: counters per VIP, per backend, per reason, and the XDP
// actions derived from the reasons. The `vrrp` reply: the VRRP instance's
// and connection sync's report.
#include <time.h>

#include <cmath>

#include "control/api/api.h"

namespace sluice {

using nlohmann::json;

namespace {

json counters_json(const sl_counters& c) {
  return json{{"packets", c.packets}, {"bytes", c.bytes}, {"new_conns", c.new_conns}};
}

// Milliseconds or seconds to three decimals: no 17-digit noise in a reply.
double round3(double v) { return std::round(v * 1000.0) / 1000.0; }

// "2026-11-28T03:40:12.345Z"; null for a time never set.
json wall_time(std::chrono::system_clock::time_point t) {
  if (t == std::chrono::system_clock::time_point{}) return nullptr;
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
  time_t secs = static_cast<time_t>(ms / 1000);
  struct tm tm{};
  gmtime_r(&secs, &tm);
  char buf[40];
  size_t n = strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  snprintf(buf + n, sizeof buf - n, ".%03dZ", static_cast<int>(ms % 1000));
  return buf;
}

// Counts by reason, every reason present (zeros included) so a dashboard or
// a script finds the key.
template <typename Enum, size_t N>
json by_reason(const std::array<uint64_t, N>& counts, const char* (*name)(Enum)) {
  json out = json::object();
  for (size_t i = 1; i < N; ++i) out[name(static_cast<Enum>(i))] = counts[i];
  return out;
}

json sync_json(const vrrp::SyncReport& s) {
  if (!s.enabled) return json{{"enabled", false}};
  return json{
      {"enabled", true},
      {"peer", s.peer.str()},
      {"port", s.port},
      {"signed", s.signed_},
      {"sending", s.sending},
      {"resynced", s.resynced},
      {"records", json{{"sent", s.records_sent},
                       {"applied", s.records_applied},
                       {"no_backend", s.records_no_backend},
                       {"lost", s.events_lost}}},
      {"datagrams", json{{"sent", s.datagrams_sent}, {"received", s.datagrams_received}}},
      {"resyncs", json{{"requested", s.resyncs_requested}, {"served", s.resyncs_served}}},
      {"drops", by_reason(s.drops, sync::drop_name)},
      {"lag_ms", round3(s.lag_ms)},
  };
}

}  // namespace

const char* vrrp_role(const std::optional<vrrp::VrrpReport>& report) {
  if (!report) return "active";
  return report->instance.state == vrrp::State::master ? "active" : "passive";
}

json vrrp_report_json(const std::optional<vrrp::VrrpReport>& report) {
  if (!report) return json{{"configured", false}};
  const vrrp::VrrpReport& r = *report;
  const vrrp::Status& st = r.instance;
  json last{{"reason", vrrp::reason_name(st.last_reason)}, {"at", wall_time(r.last_change)}};
  if (r.last_change != std::chrono::system_clock::time_point{}) {
    auto ago = std::chrono::system_clock::now() - r.last_change;
    last["ago_s"] = round3(std::chrono::duration<double>(ago).count());
  } else {
    last["ago_s"] = nullptr;
  }
  return json{
      {"configured", true},
      {"interface", r.interface},
      {"vrid", r.vrid},
      {"state", vrrp::state_name(st.state)},
      {"role", vrrp_role(report)},
      {"priority", json{{"configured", r.priority},
                        {"effective", st.effective_priority},
                        {"track_penalty", r.track_penalty}}},
      {"master", st.master ? json(st.master->str()) : json(nullptr)},
      {"master_priority", st.master_priority},
      {"advert_interval_ms", r.advert_interval_ms},
      {"master_advert_interval_ms", st.master_adver_interval_cs * 10},
      {"master_down_interval_ms", st.master_down_interval_cs * 10},
      {"preempt", r.preempt},
      {"preempt_held", st.preempt_held},
      {"adverts", json{{"sent", r.adverts_sent},
                       {"received", r.adverts_received},
                       {"refused", by_reason(r.advert_drops, vrrp::advert_drop_name)},
                       {"late", r.advert_late},
                       {"jitter_max_ms", round3(r.advert_jitter_max_ms)}}},
      {"last_transition", last},
      {"transitions", st.transitions},
      {"sync", sync_json(r.sync)},
  };
}

Result<json> ApiHandler::stats() {
  json vips = json::array();
  json backends = json::array();
  for (const auto& v : table_.vips()) {
    auto c = dp_.vip_counters(v.vip_id);
    if (!c) return c.error();
    json j = counters_json(*c);
    j["service"] = v.cfg.name();
    vips.push_back(j);
    for (const auto& be : v.backends) {
      auto bc = dp_.backend_counters(be.index);
      if (!bc) return bc.error();
      json b = counters_json(*bc);
      b["service"] = v.cfg.name();
      b["address"] = be.cfg.address.str();
      backends.push_back(b);
    }
  }
  auto reasons = dp_.reason_counters();
  if (!reasons) return reasons.error();
  json by_reason = json::object();
  uint64_t actions[4] = {};
  for (int r = 1; r < SL_R_MAX; ++r) {
    const sl_counters& c = (*reasons)[r];
    by_reason[sl_reason_names[r]] = json{{"packets", c.packets}, {"bytes", c.bytes}};
    actions[sl_reason_verdict(static_cast<sl_reason>(r))] += c.packets;
  }
  json by_action = json::object();
  for (int a = 0; a < 4; ++a) by_action[sl_verdict_names[a]] = actions[a];
  return json{{"vips", vips}, {"backends", backends}, {"reasons", by_reason},
              {"actions", by_action}};
}

}  // namespace sluice
