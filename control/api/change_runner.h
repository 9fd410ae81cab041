// SPDX-License-Identifier: Apache-2.0
// API changes and reloads without holding the main loop: one at a time, in
// the order they came, each in three steps (ConfigStore): the edit on the
// loop, the long middle (parse, check, temp file and fsync, route lookups)
// on a worker thread, the apply and the rename back on the loop. Meanwhile
// the loop serves status and the other read-only requests, applies health
// results and keeps its timers. The caller hears the outcome through its
// Done, called from the loop.
#pragma once

#include <deque>
#include <functional>
#include <optional>
#include <thread>

#include "control/config/config_store.h"
#include "core/host/fd.h"
#include "control/daemon/loop_watcher.h"

namespace sluice {

class ChangeRunner final : public LoopWatcher {
 public:
  using Done = std::function<void(const Result<void>&)>;
  // Changes waiting beyond this are refused at once ("busy").
  static constexpr size_t kMaxQueued = 64;

  static Result<std::unique_ptr<ChangeRunner>> create(ConfigStore& store);
  ~ChangeRunner() override;  // waits for a change in progress to be prepared
  ChangeRunner(const ChangeRunner&) = delete;
  ChangeRunner& operator=(const ChangeRunner&) = delete;

  void change(ConfigStore::Edit edit, Done done);
  void reload(Done done);
  size_t queued() const { return queue_.size() + (busy_ ? 1 : 0); }

  void poll_fds(std::vector<pollfd>& out) override;
  int poll_timeout_ms() override { return -1; }
  void on_poll(const pollfd* fds, size_t n) override;

 private:
  struct Job {
    bool reload = false;
    ConfigStore::Edit edit;
    Done done;
  };
  ChangeRunner(ConfigStore& store, Fd ready) : store_(store), ready_(std::move(ready)) {}
  void submit(Job job);
  void start_next();
  void finish();

  ConfigStore& store_;
  Fd ready_;  // the worker -> the loop: prepared
  std::deque<Job> queue_;
  std::optional<Job> current_;
  bool busy_ = false;
  std::optional<Result<ConfigStore::Prepared>> prepared_;  // the worker's, read after join
  std::thread worker_;
};

}  // namespace sluice
