// SPDX-License-Identifier: Apache-2.0
// A Clock that moves only when the test says so.
#pragma once

#include <chrono>

#include "control/health/health_check.h"

namespace sluice {

class FakeClock final : public Clock {
 public:
  time_point now() const override { return t; }
  void advance(std::chrono::milliseconds d) { t += d; }
  time_point t = time_point{} + std::chrono::hours(1);
};

}  // namespace sluice
