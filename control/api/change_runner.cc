// SPDX-License-Identifier: Apache-2.0
#include "control/api/change_runner.h"

#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>

namespace sluice {

Result<std::unique_ptr<ChangeRunner>> ChangeRunner::create(ConfigStore& store) {
  Fd ready(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!ready.valid()) return make_error("change runner: eventfd", errno);
  return std::unique_ptr<ChangeRunner>(new ChangeRunner(store, std::move(ready)));
}

ChangeRunner::~ChangeRunner() {
  if (worker_.joinable()) worker_.join();
}

void ChangeRunner::change(ConfigStore::Edit edit, Done done) {
  submit(Job{false, std::move(edit), std::move(done)});
}

void ChangeRunner::reload(Done done) { submit(Job{true, {}, std::move(done)}); }

void ChangeRunner::submit(Job job) {
  if (queue_.size() >= kMaxQueued) {
    if (job.done)
      job.done(make_error("busy: " + std::to_string(queue_.size()) + " changes queued"));
    return;
  }
  queue_.push_back(std::move(job));
  if (!busy_) start_next();
}

void ChangeRunner::start_next() {
  while (!busy_ && !queue_.empty()) {
    current_ = std::move(queue_.front());
    queue_.pop_front();
    if (current_->reload) {
      busy_ = true;
      worker_ = std::thread([this] {
        prepared_.emplace(store_.prepare_reload());
        uint64_t one = 1;
        (void)!::write(ready_.get(), &one, sizeof(one));
      });
      return;
    }
    // The edit applies to the running config as it is now, after every
    // change queued before it.
    auto edited = store_.edited(current_->edit);
    if (!edited) {
      auto r = store_.finish_change(edited.error());  // counted like any refusal
      if (current_->done) current_->done(r);
      current_.reset();
      continue;
    }
    busy_ = true;
    worker_ = std::thread([this, cfg = std::move(*edited)] {
      prepared_.emplace(store_.prepare_change(cfg));
      uint64_t one = 1;
      (void)!::write(ready_.get(), &one, sizeof(one));
    });
  }
}

void ChangeRunner::finish() {
  worker_.join();
  Result<ConfigStore::Prepared> prepared = std::move(*prepared_);
  prepared_.reset();
  auto r = current_->reload ? store_.finish_reload(std::move(prepared))
                            : store_.finish_change(std::move(prepared));
  Job job = std::move(*current_);
  current_.reset();
  busy_ = false;
  if (job.done) job.done(r);
}

void ChangeRunner::poll_fds(std::vector<pollfd>& out) { out.push_back({ready_.get(), POLLIN, 0}); }

void ChangeRunner::on_poll(const pollfd* fds, size_t n) {
  if (n == 0 || !(fds[0].revents & POLLIN)) return;
  uint64_t v = 0;
  (void)!::read(ready_.get(), &v, sizeof(v));
  if (!busy_) return;
  finish();
  start_next();
}

}  // namespace sluice
