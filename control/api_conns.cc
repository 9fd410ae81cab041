// SPDX-License-Identifier: Apache-2.0
// The `conns` reply: connection-table entries as client -> service ->
// backend with their age, optionally for one VIP, at most `limit` of them,
// with the table's occupancy so a truncated list says how much it left out.
#include <arpa/inet.h>
#include <time.h>

#include "control/api.h"

namespace sluice {

using nlohmann::json;

namespace {

uint64_t monotonic_ns() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000000000ull + static_cast<uint64_t>(ts.tv_nsec);
}

std::string endpoint(const __u32 addr[4], uint8_t family, uint16_t port_be) {
  IpAddr a = IpAddr::from_abi(addr, family);
  // Appended piecewise: GCC 12 warns falsely (-Wrestrict) on "[" + string.
  std::string s;
  if (a.is_v6()) s += '[';
  s += a.str();
  if (a.is_v6()) s += ']';
  s += ':';
  s += std::to_string(ntohs(port_be));
  return s;
}

// The backend a conn points at, if its slot still holds the same backend.
std::string backend_of(const ServiceTable& table, const sl_conn& c) {
  for (const auto& v : table.vips())
    for (const auto& be : v.backends)
      if (be.index == c.backend) return be.cfg.address.str();
  return "slot " + std::to_string(c.backend) + " (gone)";
}

json conn_json(const ServiceTable& table, const ConnEntry& e, uint64_t now) {
  const sl_flow_key& k = e.key;
  IpAddr vip = IpAddr::from_abi(k.dst, k.family);
  double age = e.conn.created_ns && now > e.conn.created_ns
                   ? static_cast<double>(now - e.conn.created_ns) / 1e9 : 0.0;
  return json{
      {"client", endpoint(k.src, k.family, k.sport)},
      {"service", service_name(vip, ntohs(k.dport), k.proto)},
      {"backend", backend_of(table, e.conn)},
      {"age_s", static_cast<double>(static_cast<uint64_t>(age * 10)) / 10},
  };
}

}  // namespace

Result<json> ApiHandler::conns(const ApiRequest& req) {
  // The whole table: the occupancy, and a VIP's entries, need every entry.
  auto all = dp_.conns(0);
  if (!all) return all.error();
  uint64_t now = monotonic_ns();
  json list = json::array();
  size_t matched = 0;
  for (const auto& e : *all) {
    if (req.service) {
      IpAddr dst = IpAddr::from_abi(e.key.dst, e.key.family);
      if (!(dst == req.service->address && ntohs(e.key.dport) == req.service->port &&
            e.key.proto == req.service->protocol))
        continue;
    }
    ++matched;
    if (list.size() < req.limit) list.push_back(conn_json(table_, e, now));
  }
  return json{{"conns", list},
              {"matched", matched},
              {"entries", all->size()},
              {"table_size", store_.running().conn_table_size},
              {"truncated", matched > list.size()}};
}

}  // namespace sluice
