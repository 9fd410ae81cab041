// SPDX-License-Identifier: Apache-2.0
#include "control/health/health_thread.h"

#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>

namespace sluice {

namespace {

void signal_fd(const Fd& fd) {
  uint64_t one = 1;
  (void)!::write(fd.get(), &one, sizeof(one));
}

void clear_fd(const Fd& fd) {
  uint64_t n = 0;
  (void)!::read(fd.get(), &n, sizeof(n));
}

}  // namespace

Result<std::unique_ptr<HealthThread>> HealthThread::start(const Clock& clock,
                                                          ControlCounters* counters, Sink sink) {
  Fd wake(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!wake.valid()) return make_error("health: eventfd", errno);
  Fd ready(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!ready.valid()) return make_error("health: eventfd", errno);
  std::unique_ptr<HealthThread> t(
      new HealthThread(clock, counters, std::move(sink), std::move(wake), std::move(ready)));
  t->thread_ = std::thread([self = t.get()] { self->run(); });
  return t;
}

HealthThread::HealthThread(const Clock& clock, ControlCounters* counters, Sink sink, Fd wake,
                           Fd ready)
    : sink_(std::move(sink)),
      wake_(std::move(wake)),
      ready_(std::move(ready)),
      monitor_(clock, counters, [this](const HealthReport& r) { report(r); }) {}

HealthThread::~HealthThread() {
  stop_ = true;
  signal_fd(wake_);
  if (thread_.joinable()) thread_.join();
}

void HealthThread::update(std::vector<HealthCheckDef> defs) {
  {
    std::lock_guard lock(mu_);
    pending_defs_ = std::move(defs);
  }
  signal_fd(wake_);
}

void HealthThread::report(const HealthReport& r) {
  bool first;
  {
    std::lock_guard lock(mu_);
    auto [it, fresh] = pending_reports_.try_emplace(r.ref, r);
    if (!fresh) {
      bool changed = it->second.changed || r.changed;
      it->second = r;
      it->second.changed = changed;
    }
    first = pending_reports_.size() == 1 && fresh;
  }
  if (first) signal_fd(ready_);
}

void HealthThread::run() {
  std::vector<pollfd> fds;
  while (!stop_) {
    fds = {{wake_.get(), POLLIN, 0}};
    monitor_.poll_fds(fds);
    int timeout = monitor_.poll_timeout_ms();
    if (::poll(fds.data(), fds.size(), timeout) < 0 && errno != EINTR) return;
    if (fds[0].revents & POLLIN) {
      clear_fd(wake_);
      std::optional<std::vector<HealthCheckDef>> defs;
      {
        std::lock_guard lock(mu_);
        defs.swap(pending_defs_);
      }
      if (defs) monitor_.sync(*defs);
    }
    monitor_.on_poll(fds.data() + 1, fds.size() - 1);
  }
}

void HealthThread::poll_fds(std::vector<pollfd>& out) { out.push_back({ready_.get(), POLLIN, 0}); }

void HealthThread::on_poll(const pollfd* fds, size_t n) {
  if (n > 0 && (fds[0].revents & POLLIN)) drain();
}

size_t HealthThread::drain() {
  clear_fd(ready_);
  std::map<BackendRef, HealthReport> reports;
  {
    std::lock_guard lock(mu_);
    reports.swap(pending_reports_);
  }
  for (const auto& [ref, r] : reports)
    if (sink_) sink_(r);
  return reports.size();
}

}  // namespace sluice
