// SPDX-License-Identifier: Apache-2.0
#include <poll.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>

#include <cerrno>
#include <cstdint>
#include <vector>

#include "control/daemon.h"

namespace sluice {

Result<EventLoop> EventLoop::create(std::chrono::milliseconds tick) {
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
  its.it_interval.tv_sec = tick.count() / 1000;
  its.it_interval.tv_nsec = (tick.count() % 1000) * 1000000;
  its.it_value = its.it_interval;
  if (timerfd_settime(timer.get(), 0, &its, nullptr) < 0)
    return make_error("timerfd_settime", errno);
  return EventLoop(std::move(sig), std::move(timer));
}

int EventLoop::watchers_timeout_ms() const {
  int timeout = -1;
  for (auto* w : watchers_) {
    int t = w->poll_timeout_ms();
    if (t >= 0 && (timeout < 0 || t < timeout)) timeout = t;
  }
  return timeout;
}

Result<int> EventLoop::run(ApiServer& api, const ApiServer::Handler& handler,
                           const std::function<void()>& on_tick) {
  std::vector<pollfd> fds;
  std::vector<size_t> first;  // where each watcher's fds start in `fds`
  for (;;) {
    fds = {{sig_.get(), POLLIN, 0}, {timer_.get(), POLLIN, 0}, {api.fd(), POLLIN, 0}};
    first.clear();
    for (auto* w : watchers_) {
      first.push_back(fds.size());
      w->poll_fds(fds);
    }
    first.push_back(fds.size());
    if (poll(fds.data(), fds.size(), watchers_timeout_ms()) < 0) {
      if (errno == EINTR) continue;
      return make_error("poll", errno);
    }
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
    if (fds[2].revents & POLLIN) api.serve_one(handler);
    for (size_t i = 0; i < watchers_.size(); ++i)
      watchers_[i]->on_poll(fds.data() + first[i], first[i + 1] - first[i]);
    if (stop_) return 0;
  }
}

}  // namespace sluice
