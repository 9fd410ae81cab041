// SPDX-License-Identifier: Apache-2.0
// A warning that can repeat on every pass (a MAC that never resolves, for
// thousands of backends) is said at most once per interval, with how many
// times it came up in between: an operator reads one line, not 400,000.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>

namespace sluice {

class LogLimit {
 public:
  using Clock = std::chrono::steady_clock;
  explicit LogLimit(std::chrono::milliseconds interval) : interval_(interval) {}

  // Counts one occurrence. When one may be logged now, returns how many
  // were held back since the last logged one; nullopt: stay quiet.
  std::optional<uint64_t> take(Clock::time_point now) {
    if (said_ && now - last_ < interval_) {
      ++held_;
      return std::nullopt;
    }
    said_ = true;
    last_ = now;
    uint64_t held = held_;
    held_ = 0;
    return held;
  }
  // Forgets the last one: the next occurrence is said at once (the
  // condition cleared and came back).
  void reset() { said_ = false, held_ = 0; }

 private:
  std::chrono::milliseconds interval_;
  bool said_ = false;
  Clock::time_point last_{};
  uint64_t held_ = 0;
};

}  // namespace sluice
