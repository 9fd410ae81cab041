// SPDX-License-Identifier: Apache-2.0
#include "control/health/health_check.h"

namespace sluice {

const char* health_name(Health h) {
  switch (h) {
    case Health::up: return "up";
    case Health::down: return "down";
    case Health::unchecked: break;
  }
  return "unchecked";
}

HealthCheck::HealthCheck(Params p, Clock::time_point start) : params_(p), next_due_(start) {
  status_.state = Health::up;
}

void HealthCheck::set_params(Params p) {
  // A shorter interval takes effect now rather than after the old one.
  if (!in_flight_ && p.interval < params_.interval) {
    auto last = next_due_ - params_.interval;
    next_due_ = last + p.interval;
  }
  params_ = p;
}

void HealthCheck::probe_started(Clock::time_point now) {
  in_flight_ = true;
  // Fixed cadence from the probe's start, like HAProxy's `inter`: a slow
  // backend does not stretch the interval.
  next_due_ = now + params_.interval;
}

std::optional<Health> HealthCheck::record(const ProbeResult& r, Clock::time_point now) {
  in_flight_ = false;
  HealthStatus& s = status_;
  if (r.ok) {
    ++s.consecutive_ok;
    s.consecutive_fail = 0;
  } else {
    ++s.consecutive_fail;
    s.consecutive_ok = 0;
    s.last_error = r.error;
  }
  Health next = s.state;
  if (s.state == Health::up && s.consecutive_fail >= params_.fall) next = Health::down;
  if (s.state == Health::down && s.consecutive_ok >= params_.rise) next = Health::up;
  if (next == s.state) return std::nullopt;
  s.state = next;
  s.last_change = now;
  ++s.transitions;
  return next;
}

}  // namespace sluice
