// SPDX-License-Identifier: Apache-2.0
// Something that wants a turn in the daemon's poll() loop besides the API
// socket: its own fds and a deadline. The loop stays single-threaded, so a
// watcher touches the service table without locks.
#pragma once

#include <poll.h>

#include <cstddef>
#include <vector>

namespace sluice {

class LoopWatcher {
 public:
  virtual ~LoopWatcher() = default;
  // Appends the fds to wait on.
  virtual void poll_fds(std::vector<pollfd>& out) = 0;
  // How long poll() may sleep for this watcher's sake; -1: no deadline.
  virtual int poll_timeout_ms() = 0;
  // Called every loop iteration with the fds it gave (revents filled), also
  // when none is ready: deadlines are its own to check.
  virtual void on_poll(const pollfd* fds, size_t n) = 0;
};

}  // namespace sluice
