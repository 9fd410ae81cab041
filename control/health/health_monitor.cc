// SPDX-License-Identifier: Apache-2.0
#include "control/health/health_monitor.h"

#include <spdlog/spdlog.h>

#include <algorithm>

namespace sluice {

namespace {

ProbeSpec probe_spec(const VipConfig& vip, const HealthCheckConfig& hc, const IpAddr& backend) {
  ProbeSpec s;
  s.addr = backend;
  s.port = hc.port != 0 ? hc.port : vip.port;
  s.http = hc.type == "http";
  s.path = hc.path;
  s.host = hc.host;
  s.expect = hc.expect;
  s.timeout = std::chrono::milliseconds(hc.timeout_ms);
  return s;
}

HealthCheck::Params check_params(const HealthCheckConfig& hc) {
  return {hc.rise, hc.fall, std::chrono::milliseconds(hc.interval_ms)};
}

}  // namespace

std::vector<HealthCheckDef> health_check_defs(const ServiceTable& table) {
  std::vector<HealthCheckDef> defs;
  for (const auto& vip : table.vips()) {
    if (!vip.cfg.health_check) continue;
    const HealthCheckConfig& hc = *vip.cfg.health_check;
    for (const auto& be : vip.backends)
      defs.push_back({BackendRef{vip.cfg.address, vip.cfg.port, vip.cfg.protocol, be.cfg.address},
                      vip.cfg.name() + " backend " + be.cfg.address.str(),
                      probe_spec(vip.cfg, hc, be.cfg.address), check_params(hc)});
  }
  return defs;
}

HealthMonitor::HealthMonitor(const Clock& clock, ControlCounters* counters, Report report)
    : clock_(clock), counters_(counters), report_(std::move(report)), prober_(clock) {}

void HealthMonitor::sync(const std::vector<HealthCheckDef>& defs) {
  std::map<BackendRef, Entry> next;
  for (const auto& d : defs) {
    auto old = checks_.find(d.ref);
    if (old != checks_.end()) {
      // The probe in flight finishes with the old settings.
      Entry e = std::move(old->second);
      checks_.erase(old);
      e.spec = d.spec;
      e.check.set_params(d.params);
      next.emplace(d.ref, std::move(e));
      continue;
    }
    next.emplace(d.ref, Entry{d.name, d.spec, HealthCheck(d.params, clock_.now()), std::nullopt});
  }
  for (auto& [ref, e] : checks_)
    if (e.probe) prober_.cancel(*e.probe);
  checks_ = std::move(next);
}

void HealthMonitor::run_due() {
  auto now = clock_.now();
  for (auto& [ref, e] : checks_) {
    if (!e.check.due(now)) continue;
    e.check.probe_started(now);
    e.probe = prober_.start(e.spec, [this, ref](const ProbeResult& r) { on_result(ref, r); });
  }
}

int HealthMonitor::poll_timeout_ms() {
  int timeout = prober_.poll_timeout_ms();
  auto now = clock_.now();
  for (const auto& [ref, e] : checks_) {
    if (e.check.in_flight()) continue;
    auto wait = std::chrono::ceil<std::chrono::milliseconds>(e.check.next_due() - now).count();
    int ms = static_cast<int>(std::max<int64_t>(wait, 0));
    if (timeout < 0 || ms < timeout) timeout = ms;
  }
  return timeout;
}

void HealthMonitor::on_poll(const pollfd* fds, size_t n) {
  prober_.on_poll(fds, n);
  run_due();
}

void HealthMonitor::on_result(const BackendRef& ref, const ProbeResult& r) {
  auto it = checks_.find(ref);
  if (it == checks_.end()) return;
  Entry& e = it->second;
  e.probe.reset();
  auto changed = e.check.record(r, clock_.now());
  if (changed) {
    log_transition(e, *changed);
    if (counters_) ++counters_->health_transitions;
  }
  if (report_) report_(HealthReport{ref, e.check.status(), changed.has_value()});
}

void HealthMonitor::log_transition(const Entry& e, Health now) const {
  const HealthStatus& s = e.check.status();
  if (now == Health::down)
    spdlog::warn("health: {} DOWN ({} failures; last: {})", e.name, s.consecutive_fail,
                 s.last_error);
  else
    spdlog::info("health: {} UP ({} successes)", e.name, s.consecutive_ok);
}

}  // namespace sluice
