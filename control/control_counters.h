// SPDX-License-Identifier: Apache-2.0
// Counters of the controller's own events, for the API and the metrics
// endpoint. Written by the main loop, read by the metrics thread: atomics.
#pragma once

#include <atomic>
#include <cstdint>

namespace sluice {

struct ControlCounters {
  std::atomic<uint64_t> config_reloads{0};          // reload requests that took effect
  std::atomic<uint64_t> config_reload_failures{0};  // reload requests refused (state kept)
  std::atomic<uint64_t> api_changes{0};             // API mutations applied
  std::atomic<uint64_t> api_change_failures{0};     // API mutations refused
  std::atomic<uint64_t> health_transitions{0};      // backend up <-> down, all VIPs
};

}  // namespace sluice
