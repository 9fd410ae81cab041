// SPDX-License-Identifier: Apache-2.0
// The health probes: a TCP connect, or an HTTP/1.0 GET whose status line is
// checked, each bounded by a timeout. They run on non-blocking sockets
// inside the daemon's poll loop (EventLoop::watch): no thread, no lock, and
// a dead backend costs one fd until its timeout, never a blocked loop.
//
// Probes leave from the balancer's own network namespace to the backend's
// own address (not the VIP, which a DSR backend holds only on lo) and the
// check port.
#pragma once

#include <poll.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/host/fd.h"
#include "control/health/health_check.h"
#include "core/host/ip_addr.h"

namespace sluice {

struct ProbeSpec {
  IpAddr addr;
  uint16_t port = 0;
  bool http = false;
  std::string path = "/";
  std::string host;              // empty: the address
  std::vector<uint16_t> expect;  // empty: 2xx and 3xx
  std::chrono::milliseconds timeout{500};
};

// The request an HTTP probe sends.
std::string http_probe_request(const ProbeSpec& spec);
// Judges a reply's status line ("HTTP/1.1 503 Service Unavailable").
ProbeResult http_judge_status_line(const std::string& line, const std::vector<uint16_t>& expect);

class HealthProber {
 public:
  using ProbeId = uint64_t;
  using Done = std::function<void(const ProbeResult&)>;

  explicit HealthProber(const Clock& clock) : clock_(clock) {}

  // Starts a probe; `done` runs later from on_poll (never from inside
  // start), exactly once unless the probe is cancelled first.
  ProbeId start(const ProbeSpec& spec, Done done);
  void cancel(ProbeId id);
  size_t in_flight() const { return probes_.size(); }

  // The poll loop's side: the fds to watch, how long poll may sleep (-1:
  // no deadline), and the fds back with revents (in any order).
  void poll_fds(std::vector<pollfd>& out) const;
  int poll_timeout_ms() const;
  void on_poll(const pollfd* fds, size_t n);

 private:
  enum class Phase { failed, connecting, sending, reading };
  struct Probe {
    ProbeSpec spec;
    Done done;
    Fd fd;
    Phase phase = Phase::connecting;
    Clock::time_point deadline;
    std::string out;  // request bytes not sent yet
    std::string in;   // reply bytes so far
    ProbeResult early;  // phase failed: why, reported on the next on_poll
  };

  // Advances a probe on its poll events; a result once it is finished.
  std::optional<ProbeResult> step(Probe& p, short revents);
  std::optional<ProbeResult> on_connected(Probe& p);
  std::optional<ProbeResult> on_writable(Probe& p);
  std::optional<ProbeResult> on_readable(Probe& p);
  void finish(std::vector<std::pair<ProbeId, ProbeResult>>& done);
  void forgive_lateness(Clock::time_point now);

  // How late a turn may come before the probes are given the time back.
  static constexpr std::chrono::milliseconds kLateSlack{20};

  const Clock& clock_;
  ProbeId next_id_ = 1;
  std::map<ProbeId, Probe> probes_;
  std::unordered_map<int, ProbeId> by_fd_;
  // The first deadline when poll_timeout_ms() was last asked: the loop
  // should be back by then.
  mutable std::optional<Clock::time_point> asked_;
  mutable Clock::time_point looked_{};  // when it was asked
};

}  // namespace sluice
