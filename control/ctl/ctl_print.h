// SPDX-License-Identifier: Apache-2.0
// sluicectl's text output: the API replies as aligned tables.
#pragma once

#include <nlohmann/json.hpp>
#include <ostream>
#include <string>
#include <vector>

namespace sluice {

class TextTable {
 public:
  explicit TextTable(std::vector<std::string> header) { rows_.push_back(std::move(header)); }
  void add(std::vector<std::string> row) { rows_.push_back(std::move(row)); }
  void print(std::ostream& out) const;

 private:
  std::vector<std::vector<std::string>> rows_;
};

// The "error" of a failed reply as one printable line: the server quotes
// requests and config files in it, and an old or foreign server may not
// have escaped them.
std::string ctl_server_error(const nlohmann::json& reply);

void print_status(const nlohmann::json& reply, std::ostream& out);
void print_vip_list(const nlohmann::json& reply, std::ostream& out);
void print_backend_list(const nlohmann::json& reply, std::ostream& out);
void print_stats(const nlohmann::json& reply, std::ostream& out);
void print_conns(const nlohmann::json& reply, std::ostream& out);
void print_reload(const nlohmann::json& reply, std::ostream& out);
void print_detach(const nlohmann::json& reply, std::ostream& out);
// `vrrp`: "VRRP is not configured ..." for {"configured":false}.
void print_vrrp(const nlohmann::json& reply, std::ostream& out);
// `acl list`: a rule an allow list added (its /0 deny) says "(default)".
void print_acl_list(const nlohmann::json& reply, std::ostream& out);

// `stats -w`: per-second rates from two `stats` replies `seconds` apart, as
// a reply-shaped object: {"interval_s":..,"vips":[{service,pps,bps,new_cps}],
// "backends":[{service,address,pps,bps,new_cps}]}.
nlohmann::json stats_rates(const nlohmann::json& before, const nlohmann::json& after,
                           double seconds);
void print_rates(const nlohmann::json& rates, std::ostream& out);
// 1234567 -> "1.23M"; below 1000 as is (one decimal when not whole).
std::string human(double v);

}  // namespace sluice
