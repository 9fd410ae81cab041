// SPDX-License-Identifier: Apache-2.0
// The `stats` reply: counters per VIP, per backend, per reason, and the XDP
// actions derived from the reasons.
#include "control/api.h"

namespace sluice {

using nlohmann::json;

namespace {

json counters_json(const sl_counters& c) {
  return json{{"packets", c.packets}, {"bytes", c.bytes}, {"new_conns", c.new_conns}};
}

}  // namespace

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
