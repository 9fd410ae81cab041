// SPDX-License-Identifier: Apache-2.0
// The controller API: one JSON request, one JSON reply ({"ok":true,...} or
// {"ok":false,"error":"..."}), each on one line. Transport-free so it can
// be tested alone; api_server.h carries it over the unix socket and
// api_request.h parses the requests.
#pragma once

#include <chrono>
#include <functional>
#include <optional>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "control/acl/acl_table.h"
#include "control/api/api_request.h"
#include "control/api/change_runner.h"
#include "control/config/config_store.h"
#include "control/daemon/control_counters.h"
#include "dataplane/dataplane.h"
#include "core/host/result.h"
#include "control/daemon/service_table.h"
#include "control/vrrp/vrrp_report.h"

namespace sluice {

std::string api_error_reply(const std::string& message);

// The VRRP instance's report, when a `vrrp:` block runs one; nullopt (or no
// provider at all) when it does not. Called by the API on the main loop and
// by the metrics thread on every scrape, so it must be thread-safe and
// quick (a copy under a lock, never a wait on the VRRP thread's work).
using VrrpReportSource = std::function<std::optional<vrrp::VrrpReport>()>;

// The `vrrp` reply: {"configured":false} without a report.
nlohmann::json vrrp_report_json(const std::optional<vrrp::VrrpReport>& report);
// "active" for MASTER, "passive" otherwise; "active" without a report (no
// `vrrp:` block: the node always steers).
const char* vrrp_role(const std::optional<vrrp::VrrpReport>& report);

// What `status` reports besides the tables.
// (The dataplane describes itself: Dataplane::describe.)
struct DaemonInfo {
  std::string interface;
  std::chrono::steady_clock::time_point started = std::chrono::steady_clock::now();
  const LoopStats* loop = nullptr;  // the daemon's main loop, if any
};

class ApiHandler {
 public:
  // Removes the VIP addresses, detaches the program and its pins, and makes
  // the daemon stop once the reply is sent.
  using Detach = std::function<Result<void>()>;

  ApiHandler(const ServiceTable& table, Dataplane& dp, ConfigStore& store, DaemonInfo info,
             Detach detach = {})
      : table_(table), dp_(dp), store_(store), info_(std::move(info)),
        detach_(std::move(detach)) {}
  // Never fails: errors become {"ok":false,...}.
  std::string handle(std::string_view request);
  // The same, except that a change or a reload goes through `runner` (off
  // the loop, one at a time): then nullopt is returned and the reply line
  // comes later, through `later`, from the loop.
  std::optional<std::string> handle_async(std::string_view request, ChangeRunner& runner,
                                          std::function<void(std::string)> later);
  // `status` takes its role from it and `vrrp` shows it. Set before the
  // first request; unset: no VRRP (role active, `vrrp` says not configured).
  void set_vrrp(VrrpReportSource source) { vrrp_ = std::move(source); }
  // `acl list` reads the rules from it (the main loop's, like the table);
  // unset: no rules.
  void set_acl(const AclTable* acls) { acls_ = acls; }

 private:
  std::string reply_to(const ApiRequest& req);  // the reply line to a parsed request
  Result<nlohmann::json> dispatch(const ApiRequest& req);
  nlohmann::json status() const;
  nlohmann::json vip_list() const;
  nlohmann::json backend_list() const;
  Result<nlohmann::json> acl_list();
  Result<nlohmann::json> stats();
  Result<nlohmann::json> conns(const ApiRequest& req);
  Result<nlohmann::json> detach();
  std::optional<vrrp::VrrpReport> vrrp_report() const;
  const BackendConfig* configured(const VipState& vip, const BackendState& be) const;

  const ServiceTable& table_;
  Dataplane& dp_;
  ConfigStore& store_;
  DaemonInfo info_;
  Detach detach_;
  VrrpReportSource vrrp_;
  const AclTable* acls_ = nullptr;
};

// Shared with sluicectl's table printer.
const char* mode_name(uint8_t mode);
const char* protocol_name(uint8_t proto);
std::string backend_state(const BackendState& be);

}  // namespace sluice
