// SPDX-License-Identifier: Apache-2.0
// Counters of the controller's own events, for the API and the metrics
// endpoint. Written by the main loop, read by the metrics thread: atomics.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>

namespace sluice {

// How long each turn of the main loop kept it from poll(): the time a
// client, a timer or a probe result could have waited on us. A histogram
// (cumulative, Prometheus style) and the longest turn.
struct LoopStats {
  static constexpr std::array<uint32_t, 14> kBucketsUs = {
      100, 500, 1000, 2000, 5000, 10000, 20000, 50000, 100000, 200000, 500000,
      1000000, 2000000, 5000000};
  std::atomic<uint64_t> turns{0};
  std::atomic<uint64_t> busy_us_total{0};
  std::atomic<uint64_t> longest_us{0};
  std::array<std::atomic<uint64_t>, kBucketsUs.size()> le{};  // turns <= bucket

  void record(std::chrono::microseconds busy) {
    auto us = static_cast<uint64_t>(busy.count() < 0 ? 0 : busy.count());
    ++turns;
    busy_us_total += us;
    if (us > longest_us) longest_us = us;
    for (size_t i = 0; i < kBucketsUs.size(); ++i)
      if (us <= kBucketsUs[i]) ++le[i];
  }
  // The smallest bucket bound that holds at least `q` of the turns (µs);
  // 0 when there were none, UINT64_MAX when past the last bucket.
  uint64_t quantile_us(double q) const {
    uint64_t n = turns;
    if (n == 0) return 0;
    for (size_t i = 0; i < kBucketsUs.size(); ++i)
      if (static_cast<double>(le[i]) >= q * static_cast<double>(n)) return kBucketsUs[i];
    return UINT64_MAX;
  }
};

struct ControlCounters {
  std::atomic<uint64_t> config_reloads{0};          // reload requests that took effect
  std::atomic<uint64_t> config_reload_failures{0};  // reload requests refused (state kept)
  std::atomic<uint64_t> api_changes{0};             // API mutations applied
  std::atomic<uint64_t> api_change_failures{0};     // API mutations refused
  std::atomic<uint64_t> health_transitions{0};      // backend up <-> down, all VIPs
  LoopStats loop;                                   // the main loop's turns
};

}  // namespace sluice
