// SPDX-License-Identifier: Apache-2.0
// sluicectl stats -w: rates from the deltas of two counter snapshots.
#include <cmath>
#include <cstdio>
#include <map>

#include "control/ctl/ctl_print.h"

namespace sluice {

using nlohmann::json;

namespace {

using Counters = std::map<std::string, json>;

std::string row_key(const json& row) {
  return row.value("service", std::string()) + " " + row.value("address", std::string());
}

Counters by_key(const json& reply, const char* list) {
  Counters out;
  if (reply.contains(list) && reply[list].is_array())
    for (const auto& row : reply[list]) out[row_key(row)] = row;
  return out;
}

// Per second; a counter that went backwards (sluiced restarted with fresh
// maps) counts from zero.
double rate(const json& before, const json& after, const char* key, double seconds) {
  uint64_t a = after.value(key, uint64_t{0});
  uint64_t b = before.is_object() ? before.value(key, uint64_t{0}) : 0;
  return seconds > 0 ? static_cast<double>(a >= b ? a - b : a) / seconds : 0.0;
}

json rates_of(const json& before, const json& after, const char* list, double seconds) {
  Counters prev = by_key(before, list);
  json out = json::array();
  for (const auto& [key, row] : by_key(after, list)) {
    auto it = prev.find(key);
    const json& b = it == prev.end() ? json() : it->second;
    json r{{"service", row.value("service", std::string())},
           {"pps", rate(b, row, "packets", seconds)},
           {"bps", 8 * rate(b, row, "bytes", seconds)},
           {"new_cps", rate(b, row, "new_conns", seconds)}};
    if (row.contains("address")) r["address"] = row["address"];
    out.push_back(r);
  }
  return out;
}

}  // namespace

std::string human(double v) {
  static const char* kUnits[] = {"", "k", "M", "G", "T"};
  int u = 0;
  while (std::fabs(v) >= 1000 && u < 4) {
    v /= 1000;
    ++u;
  }
  char buf[32];
  if (u == 0 && v == std::floor(v))
    std::snprintf(buf, sizeof(buf), "%.0f", v);
  else
    std::snprintf(buf, sizeof(buf), u == 0 ? "%.1f%s" : "%.2f%s", v, kUnits[u]);
  return buf;
}

json stats_rates(const json& before, const json& after, double seconds) {
  return json{{"interval_s", seconds},
              {"vips", rates_of(before, after, "vips", seconds)},
              {"backends", rates_of(before, after, "backends", seconds)}};
}

void print_rates(const json& rates, std::ostream& out) {
  TextTable t({"SERVICE", "BACKEND", "PPS", "BPS", "NEW/S"});
  auto add = [&](const json& r, const std::string& backend) {
    t.add({r.value("service", std::string()), backend, human(r.value("pps", 0.0)),
           human(r.value("bps", 0.0)), human(r.value("new_cps", 0.0))});
  };
  for (const auto& v : rates["vips"]) {
    add(v, "*");
    for (const auto& b : rates["backends"])
      if (b.value("service", std::string()) == v.value("service", std::string()))
        add(b, b.value("address", std::string()));
  }
  t.print(out);
}

}  // namespace sluice
