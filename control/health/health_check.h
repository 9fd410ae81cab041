// SPDX-License-Identifier: Apache-2.0
// One backend's health as HAProxy counts it: `fall` consecutive failed
// probes take an UP backend DOWN, `rise` consecutive successes bring a DOWN
// one back. Pure: driven by probe results and times handed in, so tests
// run it on a fake clock; the probes themselves live in health_prober.h.
//
// Initial state: UP (HAProxy's default without `init-state`). Starting
// DOWN would drop every new flow of a VIP until `rise` probes passed after
// each start or reload; starting UP costs at most `fall` intervals of new
// flows sent to a backend that was already dead.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

namespace sluice {

class Clock {
 public:
  using time_point = std::chrono::steady_clock::time_point;
  virtual ~Clock() = default;
  virtual time_point now() const = 0;
};

class SteadyClock final : public Clock {
 public:
  time_point now() const override { return std::chrono::steady_clock::now(); }
};

// unchecked: the VIP has no health_check; the backend counts as healthy.
enum class Health : uint8_t { unchecked, up, down };
const char* health_name(Health h);

struct ProbeResult {
  bool ok = false;
  std::string error;  // why it failed: "connect: Connection refused", "timeout"
};

// What the API and metrics report per backend. Metrics: read it as
// ServiceTable::vips()[v].backends[b].health (transitions is monotonic).
struct HealthStatus {
  Health state = Health::unchecked;
  Clock::time_point last_change{};  // epoch: never changed since the check started
  uint32_t consecutive_ok = 0;
  uint32_t consecutive_fail = 0;
  uint64_t transitions = 0;  // UP <-> DOWN since sluiced started checking it
  std::string last_error;    // of the latest failed probe; kept after recovery

  bool healthy() const { return state != Health::down; }
};

class HealthCheck {
 public:
  struct Params {
    uint32_t rise = 2;
    uint32_t fall = 3;
    std::chrono::milliseconds interval{1000};
  };

  // The first probe is due at `start`.
  HealthCheck(Params p, Clock::time_point start);

  // Changes rise/fall/interval, keeping the state and counts (a config
  // reload must not reset a DOWN backend to UP).
  void set_params(Params p);

  // A probe may start: due and none in flight.
  bool due(Clock::time_point now) const { return !in_flight_ && now >= next_due_; }
  Clock::time_point next_due() const { return next_due_; }
  bool in_flight() const { return in_flight_; }
  // Marks a probe started at `now`; the next is due at now + interval.
  void probe_started(Clock::time_point now);
  // Counts a finished probe. A timeout is a failure like any other. Returns
  // the new state when this result changed it.
  std::optional<Health> record(const ProbeResult& r, Clock::time_point now);

  const HealthStatus& status() const { return status_; }

 private:
  Params params_;
  Clock::time_point next_due_;
  bool in_flight_ = false;
  HealthStatus status_;
};

}  // namespace sluice
