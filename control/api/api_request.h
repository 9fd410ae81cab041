// SPDX-License-Identifier: Apache-2.0
// API requests: one JSON object per request, {"cmd":"...", fields...}.
// Parsing is strict (a key repeated at any depth, unknown fields, wrong
// types and bad values are errors that name the key) and depends on nothing
// but nlohmann::json and IpAddr, so the fuzz target can compile it alone.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "core/host/ip_addr.h"
#include "core/host/result.h"
#include "core/abi.h"

namespace sluice {

enum class ApiCommand {
  status,
  vip_list,
  backend_list,
  stats,
  conns,
  vip_add,
  vip_del,
  backend_add,
  backend_del,
  backend_set,
  backend_drain,
  backend_undrain,
  reload,
  detach,
  vrrp,
  acl_list,
  acl_add,
  acl_del,
};

// A VIP as its service name says it: ADDR:PORT/PROTO.
struct ServiceKey {
  IpAddr address;
  uint16_t port = 0;
  uint8_t protocol = 0;  // IPPROTO_TCP / IPPROTO_UDP

  std::string str() const { return service_name(address, port, protocol); }
  bool operator==(const ServiceKey&) const = default;
};

// "198.18.0.100:80/tcp", "[2001:2::100]:80/udp".
std::optional<ServiceKey> service_parse(std::string_view text);

constexpr uint32_t kConnsDefaultLimit = 1000;
// The longest CIDR text: a full IPv6 address (45 with an embedded IPv4
// quad) and "/128".
constexpr size_t kCidrMaxText = 49;
constexpr uint32_t kConnsMaxLimit = 1000000;

struct ApiRequest {
  ApiCommand cmd = ApiCommand::status;
  std::optional<ServiceKey> service;  // vip_*, backend_* (but list); conns' "vip"
  std::optional<IpAddr> address;      // backend_* (but list)
  std::optional<uint32_t> weight;     // backend_add, backend_set
  bool backup = false;                // backend_add
  sl_mode mode = SL_MODE_DSR;         // vip_add
  uint32_t limit = kConnsDefaultLimit;  // conns
  std::optional<Cidr> cidr;           // acl_add, acl_del (scope: service, else global)
  sl_acl_action action = SL_ACL_DENY; // acl_add, acl_del
};

Result<ApiRequest> api_parse_request(std::string_view text);
const char* api_command_name(ApiCommand cmd);
// Commands that change the configuration (and the file).
bool api_command_mutates(ApiCommand cmd);

}  // namespace sluice
