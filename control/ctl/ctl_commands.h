// SPDX-License-Identifier: Apache-2.0
// sluicectl's side of the API: send one request, check the reply, print it
// as a table (or the reply object with -o json). Exit codes: 0 success, 1
// failure with `sluicectl: <reason>` on stderr.
#pragma once

#include <functional>
#include <nlohmann/json.hpp>
#include <ostream>
#include <string>

namespace sluice {

using CtlPrinter = std::function<void(const nlohmann::json& reply, std::ostream& out)>;

int ctl_fail(const std::string& why);
int ctl_call(const std::string& socket, const nlohmann::json& request, bool as_json,
             const CtlPrinter& print);
// `stats -w SECONDS`: rates every SECONDS until Ctrl-C, redrawn in place
// (one JSON object per line with -o json).
int ctl_stats_watch(const std::string& socket, double seconds, bool as_json);
// The text line for a change that went through: "backend drain 198.18.0.100:80/tcp 198.18.0.11: done".
std::string ctl_change_done(const nlohmann::json& request);

}  // namespace sluice
