// SPDX-License-Identifier: Apache-2.0
#include "control/daemon/event_loop.h"

#include <poll.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>

#include <cerrno>
#include <cstdint>
#include <vector>

namespace sluice {

namespace {

timespec to_timespec(std::chrono::milliseconds ms) {
  timespec ts{};
  ts.tv_sec = ms.count() / 1000;
  ts.tv_nsec = (ms.count() % 1000) * 1000000;
  return ts;
}

}  // namespace

Result<EventLoop> EventLoop::create(std::chrono::milliseconds tick, LoopStats* stats) {
  sigset_t mask;
  sigemptyset(&mask);
  sigaddset(&mask, SIGTERM);
  sigaddset(&mask, SIGINT);
  sigaddset(&mask, SIGHUP);
  if (sigprocmask(SIG_BLOCK, &mask, nullptr) < 0) return make_error("sigprocmask", errno);
  Fd sig(signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK));
  if (!sig.valid()) return make_error("signalfd", errno);
  Fd timer(timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK));
  if (!timer.valid()) return make_error("timerfd_create", errno);
  itimerspec its{};
  its.it_interval = to_timespec(tick);
  its.it_value = its.it_interval;
  if (timerfd_settime(timer.get(), 0, &its, nullptr) < 0)
    return make_error("timerfd_settime", errno);
  return EventLoop(std::move(sig), std::move(timer), tick, stats);
}

void EventLoop::tick_soon(std::chrono::milliseconds delay) {
  itimerspec its{};
  its.it_interval = to_timespec(tick_);
  its.it_value = to_timespec(std::max(delay, std::chrono::milliseconds(1)));
  timerfd_settime(timer_.get(), 0, &its, nullptr);
}

int EventLoop::watchers_timeout_ms() const {
  int timeout = -1;
  for (auto* w : watchers_) {
    int t = w->poll_timeout_ms();
    if (t >= 0 && (timeout < 0 || t < timeout)) timeout = t;
  }
  return timeout;
}

Result<int> EventLoop::run(const std::function<void()>& on_tick) {
  std::vector<pollfd> fds;
  std::vector<size_t> first;  // where each watcher's fds start in `fds`
  for (;;) {
    fds = {{sig_.get(), POLLIN, 0}, {timer_.get(), POLLIN, 0}};
    first.clear();
    for (auto* w : watchers_) {
      first.push_back(fds.size());
      w->poll_fds(fds);
    }
    first.push_back(fds.size());
    int timeout = watchers_timeout_ms();
    if (poll(fds.data(), fds.size(), timeout) < 0) {
      if (errno == EINTR) continue;
      return make_error("poll", errno);
    }
    auto woke = std::chrono::steady_clock::now();
    if (fds[0].revents & POLLIN) {
      signalfd_siginfo si{};
      if (read(sig_.get(), &si, sizeof(si)) == sizeof(si)) {
        if (si.ssi_signo != SIGHUP) return static_cast<int>(si.ssi_signo);
        if (on_hangup_) on_hangup_();
      }
    }
    if (fds[1].revents & POLLIN) {
      uint64_t expirations = 0;
      if (read(timer_.get(), &expirations, sizeof(expirations)) > 0) on_tick();
    }
    for (size_t i = 0; i < watchers_.size(); ++i)
      watchers_[i]->on_poll(fds.data() + first[i], first[i + 1] - first[i]);
    if (stats_)
      stats_->record(std::chrono::duration_cast<std::chrono::microseconds>(
          std::chrono::steady_clock::now() - woke));
    if (stop_) return 0;
  }
}

}  // namespace sluice
