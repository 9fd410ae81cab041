// SPDX-License-Identifier: Apache-2.0
// The controller API: one JSON request, one JSON reply ({"ok":true,...} or
// {"ok":false,"error":"..."}), each on one line. Transport-free so it can
// be tested alone; api_server.h carries it over the unix socket.
#pragma once

#include <chrono>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "control/dataplane.h"
#include "control/result.h"
#include "control/service_table.h"

namespace sluice {

enum class ApiCommand { status, vip_list, backend_list, stats };

struct ApiRequest {
  ApiCommand cmd = ApiCommand::status;
};

Result<ApiRequest> api_parse_request(std::string_view text);
std::string api_error_reply(const std::string& message);

// What `status` reports besides the tables.
struct DaemonInfo {
  std::string interface;
  std::string dataplane = "xdp";
  bool xdp_generic = false;
  std::string pin_dir;
  std::chrono::steady_clock::time_point started = std::chrono::steady_clock::now();
};

class ApiHandler {
 public:
  ApiHandler(const ServiceTable& table, Dataplane& dp, DaemonInfo info)
      : table_(table), dp_(dp), info_(std::move(info)) {}
  // Never fails: errors become {"ok":false,...}.
  std::string handle(std::string_view request);

 private:
  nlohmann::json status() const;
  nlohmann::json vip_list() const;
  nlohmann::json backend_list() const;
  Result<nlohmann::json> stats();

  const ServiceTable& table_;
  Dataplane& dp_;
  DaemonInfo info_;
};

// Shared with sluicectl's table printer.
const char* mode_name(uint8_t mode);
const char* protocol_name(uint8_t proto);
std::string backend_state(const BackendState& be);

}  // namespace sluice
