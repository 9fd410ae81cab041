// SPDX-License-Identifier: Apache-2.0
#include "control/api/api_request.h"

#include <netinet/in.h>

#include <charconv>
#include <nlohmann/json.hpp>
#include <set>
#include <vector>

namespace sluice {

using nlohmann::json;

namespace {

// The fields a request may carry; each command allows some, requires some.
enum Field : unsigned {
  kService = 1 << 0,
  kAddress = 1 << 1,
  kWeight = 1 << 2,
  kBackup = 1 << 3,
  kMode = 1 << 4,
  kVip = 1 << 5,
  kLimit = 1 << 6,
  kCidr = 1 << 7,
  kAction = 1 << 8,
};

struct CommandSpec {
  const char* name;
  ApiCommand cmd;
  unsigned required;
  unsigned optional;
};

constexpr CommandSpec kCommands[] = {
    {"status", ApiCommand::status, 0, 0},
    {"vip_list", ApiCommand::vip_list, 0, 0},
    {"backend_list", ApiCommand::backend_list, 0, 0},
    {"stats", ApiCommand::stats, 0, 0},
    {"conns", ApiCommand::conns, 0, kVip | kLimit},
    {"vip_add", ApiCommand::vip_add, kService, kMode},
    {"vip_del", ApiCommand::vip_del, kService, 0},
    {"backend_add", ApiCommand::backend_add, kService | kAddress, kWeight | kBackup},
    {"backend_del", ApiCommand::backend_del, kService | kAddress, 0},
    {"backend_set", ApiCommand::backend_set, kService | kAddress | kWeight, 0},
    {"backend_drain", ApiCommand::backend_drain, kService | kAddress, 0},
    {"backend_undrain", ApiCommand::backend_undrain, kService | kAddress, 0},
    {"reload", ApiCommand::reload, 0, 0},
    {"detach", ApiCommand::detach, 0, 0},
    {"vrrp", ApiCommand::vrrp, 0, 0},
    {"acl_list", ApiCommand::acl_list, 0, 0},
    {"acl_add", ApiCommand::acl_add, kCidr | kAction, kVip},
    {"acl_del", ApiCommand::acl_del, kCidr | kAction, kVip},
};

constexpr std::pair<const char*, Field> kFieldNames[] = {
    {"service", kService}, {"address", kAddress}, {"weight", kWeight}, {"backup", kBackup},
    {"mode", kMode},       {"vip", kVip},         {"limit", kLimit},     {"cidr", kCidr},
    {"action", kAction},
};

Error field_error(const std::string& field, const std::string& why) {
  return make_error("bad request: " + field + ": " + why);
}

const CommandSpec* find_command(const std::string& name) {
  for (const auto& spec : kCommands)
    if (name == spec.name) return &spec;
  return nullptr;
}

Result<unsigned> check_fields(const json& req, const CommandSpec& spec) {
  unsigned present = 0;
  for (const auto& [key, _] : req.items()) {
    if (key == "cmd") continue;
    unsigned bit = 0;
    for (const auto& [name, f] : kFieldNames)
      if (key == name) bit = f;
    if (!(bit & (spec.required | spec.optional)))
      return field_error(key, std::string("unknown field for ") + spec.name);
    present |= bit;
  }
  for (const auto& [name, f] : kFieldNames)
    if ((spec.required & f) && !(present & f)) return field_error(name, "required");
  return present;
}

Result<std::string> read_string(const json& req, const char* field) {
  const json& v = req.at(field);
  if (!v.is_string()) return field_error(field, "must be a string");
  std::string s = v.get<std::string>();
  if (s.find('\0') != std::string::npos) return field_error(field, "must not contain NUL");
  return s;
}

Result<ServiceKey> read_service(const json& req, const char* field) {
  auto s = read_string(req, field);
  if (!s) return s.error();
  auto key = service_parse(*s);
  if (!key)
    return field_error(field, "must be ADDR:PORT/PROTO ([ADDR]:PORT/PROTO for IPv6, PROTO tcp|udp),"
                              " got '" + *s + "'");
  return *key;
}

Result<IpAddr> read_address(const json& req, const char* field) {
  auto s = read_string(req, field);
  if (!s) return s.error();
  auto a = IpAddr::parse(*s);
  if (!a) return field_error(field, "must be an IPv4 or IPv6 address, got '" + *s + "'");
  return *a;
}

Result<Cidr> read_cidr(const json& req, const char* field) {
  auto s = read_string(req, field);
  if (!s) return s.error();
  if (s->size() > kCidrMaxText)
    return field_error(field, "longer than " + std::to_string(kCidrMaxText) + " characters");
  auto c = Cidr::parse(*s);
  if (!c) return field_error(field, "must be ADDR/LEN (IPv4 or IPv6), got '" + *s + "'");
  return *c;
}

Result<uint32_t> read_uint(const json& req, const char* field, uint32_t lo, uint32_t hi) {
  const json& v = req.at(field);
  std::string range = std::to_string(lo) + ".." + std::to_string(hi);
  if (!v.is_number_integer()) return field_error(field, "must be an integer " + range);
  if (v.is_number_unsigned() ? v.get<uint64_t>() > hi || v.get<uint64_t>() < lo
                             : v.get<int64_t>() < int64_t{lo} || v.get<int64_t>() > int64_t{hi})
    return field_error(field, "must be " + range + ", got " + v.dump());
  return static_cast<uint32_t>(v.get<int64_t>());
}

Result<void> read_fields(const json& req, unsigned present, ApiRequest& out) {
  if (present & kService) {
    auto s = read_service(req, "service");
    if (!s) return s.error();
    out.service = *s;
  }
  if (present & kVip) {
    auto s = read_service(req, "vip");
    if (!s) return s.error();
    out.service = *s;
  }
  if (present & kAddress) {
    auto a = read_address(req, "address");
    if (!a) return a.error();
    out.address = *a;
  }
  if (present & kWeight) {
    auto w = read_uint(req, "weight", 0, 1000);
    if (!w) return w.error();
    out.weight = *w;
  }
  if (present & kLimit) {
    auto l = read_uint(req, "limit", 1, kConnsMaxLimit);
    if (!l) return l.error();
    out.limit = *l;
  }
  if (present & kBackup) {
    if (!req.at("backup").is_boolean()) return field_error("backup", "must be true or false");
    out.backup = req.at("backup").get<bool>();
  }
  if (present & kCidr) {
    auto c = read_cidr(req, "cidr");
    if (!c) return c.error();
    out.cidr = *c;
  }
  if (present & kAction) {
    auto a = read_string(req, "action");
    if (!a) return a.error();
    if (*a != "allow" && *a != "deny")
      return field_error("action", "must be allow|deny, got '" + *a + "'");
    out.action = *a == "allow" ? SL_ACL_ALLOW : SL_ACL_DENY;
  }
  if (present & kMode) {
    auto m = read_string(req, "mode");
    if (!m) return m.error();
    if (*m != "dsr" && *m != "ipip") return field_error("mode", "must be dsr|ipip, got '" + *m + "'");
    out.mode = *m == "ipip" ? SL_MODE_IPIP : SL_MODE_DSR;
  }
  return {};
}

// nlohmann::json keeps the last of a repeated key, so {"cmd":"status",
// "cmd":"detach"} would detach. The parser's callback sees every key in
// order; each open object keeps the keys it has had.
Result<json> parse_unique_keys(std::string_view text) {
  std::vector<std::set<std::string>> open;
  std::optional<std::string> dup;
  auto watch = [&](int /*depth*/, json::parse_event_t event, json& parsed) {
    if (event == json::parse_event_t::object_start) {
      open.emplace_back();
    } else if (event == json::parse_event_t::object_end) {
      if (!open.empty()) open.pop_back();
    } else if (event == json::parse_event_t::key && !dup && !open.empty()) {
      if (!open.back().insert(parsed.get<std::string>()).second) dup = parsed.get<std::string>();
    }
    return true;
  };
  json req = json::parse(text, watch, false);
  if (req.is_discarded()) return make_error("bad request: not JSON");
  if (dup) return make_error("bad request: duplicate key '" + *dup + "'");
  return req;
}

}  // namespace

std::optional<ServiceKey> service_parse(std::string_view text) {
  size_t slash = text.rfind('/');
  size_t colon = text.rfind(':', slash);
  if (slash == std::string_view::npos || colon == std::string_view::npos) return std::nullopt;
  std::string_view host = text.substr(0, colon);
  std::string_view port = text.substr(colon + 1, slash - colon - 1);
  std::string_view proto = text.substr(slash + 1);
  bool bracketed = host.size() > 2 && host.front() == '[' && host.back() == ']';
  if (bracketed) host = host.substr(1, host.size() - 2);
  ServiceKey key;
  auto addr = IpAddr::parse(host);
  if (!addr || addr->is_v6() != bracketed || host.find('\0') != std::string_view::npos)
    return std::nullopt;
  key.address = *addr;
  auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), key.port);
  if (ec != std::errc() || end != port.data() + port.size() || port.empty() || key.port == 0)
    return std::nullopt;
  if (proto == "tcp")
    key.protocol = IPPROTO_TCP;
  else if (proto == "udp")
    key.protocol = IPPROTO_UDP;
  else
    return std::nullopt;
  return key;
}

Result<ApiRequest> api_parse_request(std::string_view text) {
  auto parsed = parse_unique_keys(text);
  if (!parsed) return parsed.error();
  const json& req = *parsed;
  if (!req.is_object()) return make_error("bad request: must be a JSON object");
  auto cmd = req.find("cmd");
  if (cmd == req.end() || !cmd->is_string())
    return make_error("bad request: \"cmd\" (a string) is required");
  const CommandSpec* spec = find_command(cmd->get<std::string>());
  if (!spec) return make_error("bad request: unknown command '" + cmd->get<std::string>() + "'");
  auto present = check_fields(req, *spec);
  if (!present) return present.error();
  ApiRequest out;
  out.cmd = spec->cmd;
  if (auto r = read_fields(req, *present, out); !r) return r.error();
  return out;
}

const char* api_command_name(ApiCommand cmd) {
  for (const auto& spec : kCommands)
    if (spec.cmd == cmd) return spec.name;
  return "?";
}

bool api_command_mutates(ApiCommand cmd) {
  switch (cmd) {
    case ApiCommand::vip_add:
    case ApiCommand::vip_del:
    case ApiCommand::backend_add:
    case ApiCommand::backend_del:
    case ApiCommand::backend_set:
    case ApiCommand::backend_drain:
    case ApiCommand::backend_undrain:
    case ApiCommand::acl_add:
    case ApiCommand::acl_del: return true;
    default: return false;
  }
}

}  // namespace sluice
