// SPDX-License-Identifier: Apache-2.0
#include "control/vrrp/notify_runner.h"

#include <fcntl.h>
#include <poll.h>
#include <spawn.h>
#include <spdlog/spdlog.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstring>

#include "core/host/fd.h"

extern char** environ;

namespace sluice::vrrp {

namespace {

// sluiced blocks the signals its signalfd reads and ignores SIGPIPE; a
// script must start with neither, as if run from a shell.
struct SpawnAttr {
  posix_spawnattr_t attr;
  posix_spawn_file_actions_t actions;
  SpawnAttr() {
    posix_spawnattr_init(&attr);
    posix_spawn_file_actions_init(&actions);
    sigset_t none, defaults;
    sigemptyset(&none);
    sigfillset(&defaults);
    posix_spawnattr_setsigmask(&attr, &none);
    posix_spawnattr_setsigdefault(&attr, &defaults);
    // Its own process group: the timeout kills the script and its children.
    posix_spawnattr_setpgroup(&attr, 0);
    posix_spawnattr_setflags(
        &attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETPGROUP);
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  }
  ~SpawnAttr() {
    posix_spawn_file_actions_destroy(&actions);
    posix_spawnattr_destroy(&attr);
  }
};

// Waits for `pid` up to `timeout`; true if it exited (status in *st).
bool wait_for(pid_t pid, std::chrono::milliseconds timeout, int* st) {
  Fd pidfd(static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)));
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    pid_t r = ::waitpid(pid, st, WNOHANG);
    if (r == pid || (r < 0 && errno != EINTR)) return true;
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return false;
    if (pidfd) {
      pollfd p{pidfd.get(), POLLIN, 0};
      ::poll(&p, 1, static_cast<int>(left.count()));
    } else {  // no pidfd_open (kernel < 5.3): look again shortly
      ::poll(nullptr, 0, static_cast<int>(std::min<int64_t>(left.count(), 20)));
    }
  }
}

}  // namespace

NotifyRunner::NotifyRunner(Options o) : o_(std::move(o)), thread_([this] { run(); }) {}

NotifyRunner::~NotifyRunner() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

void NotifyRunner::post(std::vector<std::string> args) {
  {
    std::lock_guard lock(mu_);
    if (queue_.size() >= o_.queue_cap && !queue_.empty()) {
      queue_.pop_front();
      ++stats_.dropped;
    }
    queue_.push_back(std::move(args));
  }
  cv_.notify_all();
}

void NotifyRunner::wait_idle() {
  std::unique_lock lock(mu_);
  cv_.wait(lock, [&] { return queue_.empty() && !busy_; });
}

NotifyRunner::Stats NotifyRunner::stats() const {
  std::lock_guard lock(mu_);
  return stats_;
}

void NotifyRunner::run() {
  std::unique_lock lock(mu_);
  for (;;) {
    cv_.wait(lock, [&] { return stop_ || !queue_.empty(); });
    if (queue_.empty()) return;  // stopping, and nothing left to say
    std::vector<std::string> args = std::move(queue_.front());
    queue_.pop_front();
    busy_ = true;
    lock.unlock();
    run_one(args);
    lock.lock();
    busy_ = false;
    cv_.notify_all();
  }
}

void NotifyRunner::run_one(const std::vector<std::string>& args) {
  std::vector<char*> argv;
  argv.push_back(const_cast<char*>(o_.path.c_str()));
  for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  SpawnAttr sa;
  pid_t pid = 0;
  int rc = posix_spawn(&pid, o_.path.c_str(), &sa.actions, &sa.attr, argv.data(), environ);
  {
    std::lock_guard lock(mu_);
    ++stats_.runs;
    if (rc != 0) ++stats_.failed;
  }
  if (rc != 0) {
    spdlog::warn("vrrp notify: {}: {}", o_.path, std::strerror(rc));
    return;
  }
  int st = 0;
  if (!wait_for(pid, o_.timeout, &st)) {
    ::kill(-pid, SIGKILL);
    ::waitpid(pid, &st, 0);
    spdlog::warn("vrrp notify: {} still running after {} ms: killed", o_.path, o_.timeout.count());
    std::lock_guard lock(mu_);
    ++stats_.timed_out;
    return;
  }
  if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
    spdlog::warn("vrrp notify: {} failed (status {})", o_.path,
                 WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st));
    std::lock_guard lock(mu_);
    ++stats_.failed;
  }
}

}  // namespace sluice::vrrp
