// SPDX-License-Identifier: Apache-2.0
// The `conns` reply: connection-table entries as client -> service ->
// backend with their age, optionally for one VIP, at most `limit` of them.
// Bounded, as it runs on the main loop: the table is read in pages
// (Dataplane::conns_page), at most `limit` entries without --vip and at
// most max(limit, kConnsVipScan) with it; the reply says how far it read
// and, when it read the whole table, how many entries that was.
#include <arpa/inet.h>
#include <time.h>

#include <algorithm>

#include "control/api/api.h"

namespace sluice {

using nlohmann::json;

namespace {

// Entries read per conns_page call.
constexpr size_t kConnsPage = 1024;
// With a VIP filter, the entries read at most (the matches may be sparse).
constexpr size_t kConnsVipScan = 65536;

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

// A conn recorded for an earlier owner of its slot (another gen): the fast
// path no longer follows it, and it must not be shown as the new owner's.
bool stale(const ServiceTable& table, const sl_conn& c) {
  return c.backend < SL_MAX_BACKENDS && table.backend_gen(c.backend) != c.gen;
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
  const size_t budget = req.service ? std::max<size_t>(req.limit, kConnsVipScan) : req.limit;
  uint64_t now = monotonic_ns();
  json list = json::array();
  size_t matched = 0, scanned = 0;
  ConnCursor cursor;
  while (!cursor.done && scanned < budget && list.size() < req.limit) {
    auto page = dp_.conns_page(cursor, std::min(kConnsPage, budget - scanned));
    if (!page) return page.error();
    for (const auto& e : *page) {
      if (scanned == budget || list.size() == req.limit) {
        cursor.done = false;  // stopped inside the page: not the whole table
        break;
      }
      ++scanned;
      if (stale(table_, e.conn)) continue;
      if (req.service) {
        IpAddr dst = IpAddr::from_abi(e.key.dst, e.key.family);
        if (!(dst == req.service->address && ntohs(e.key.dport) == req.service->port &&
              e.key.proto == req.service->protocol))
          continue;
      }
      ++matched;
      list.push_back(conn_json(table_, e, now));
    }
  }
  // The whole table was read only if the walk ended with nothing left over.
  const bool complete = cursor.done;
  json out{{"conns", list},
           {"matched", matched},
           {"scanned", scanned},
           {"complete", complete},
           {"table_size", dp_.conn_table_size()},
           {"truncated", !complete}};
  if (complete) out["entries"] = scanned;
  return out;
}

}  // namespace sluice
