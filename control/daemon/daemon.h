// SPDX-License-Identifier: Apache-2.0
// sluiced's life: set up (interface, API socket, dataplane, tables, VIP
// addresses), then the main poll() loop (event_loop.h) over the API
// socket's clients, a signalfd (SIGTERM/SIGINT/SIGHUP), a timer that
// refreshes neighbour MACs and the health thread's results. The health
// checks and the metrics server run on threads of their own; only the
// main loop touches the service table.
#pragma once

#include <string>

#include "control/config/config.h"
#include "core/host/result.h"

namespace sluice {

struct DaemonFlags {
  bool detach_on_exit = false;
  std::string bpf_object;  // XDP object file to load; empty: the built-in one
  std::string config_path;  // where API changes are persisted, reload reads
};

// Runs until SIGTERM/SIGINT. Errors are setup failures.
Result<void> daemon_run(const Config& cfg, const DaemonFlags& flags);

}  // namespace sluice
