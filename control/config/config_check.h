// SPDX-License-Identifier: Apache-2.0
// `sluiced --check-config FILE`: the file read, parsed and validated exactly
// as sluiced does at start, and nothing else (no interface, socket, map or
// address is looked at), so a config can be checked on any machine.
#pragma once

#include <cstdio>
#include <string>
#include <vector>

#include "control/config/config.h"
#include "core/host/result.h"

namespace sluice {

struct ConfigCheck {
  Config config;
  std::string summary;             // "interface eth0 (xdp, native), 1 VIP, 3 backends"
  std::vector<std::string> notes;  // accepted, but worth telling (blocks not acted on yet)
};

// What this sluiced can run: the config's dataplane must be built in.
Result<void> dataplane_supported(DataplaneKind kind);

Result<ConfigCheck> config_check(const std::string& path);

// Prints the outcome the way sluiced reports it and returns the exit code:
// 0 valid, 2 refused (the same code sluiced exits with for a bad config).
int config_check_report(const std::string& path, std::FILE* out, std::FILE* err);

}  // namespace sluice
