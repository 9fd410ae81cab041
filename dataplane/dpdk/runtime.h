// SPDX-License-Identifier: Apache-2.0
// The worker lcores' poll loop. Each worker lcore owns queue q of the data
// port and of the TAP (q = its worker id) and runs, until told to stop:
//   data port rx burst -> Worker::burst -> tx burst (steered) to the data
//   port, tx burst (passed) to the TAP; TAP rx burst (the kernel's frames)
//   -> tx burst to the data port; quiescent(); poll_commands().
// Frames a full TX ring does not take are freed and counted. With
// idle_sleep_us > 0 an lcore that found nothing for a while sleeps that
// long between polls (shared or virtual machines); 0 polls flat out.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <vector>

#include "core/host/result.h"
#include "dataplane/dpdk/worker.h"

namespace sluice::dpdk {

// What one lcore counted (its own writes, read by anyone).
struct alignas(64) LcoreStats {
  std::atomic<uint64_t> rx{0}, tx{0}, to_kernel{0}, from_kernel{0}, tx_dropped{0};
};

struct LcoreTotals {
  uint64_t rx = 0, tx = 0, to_kernel = 0, from_kernel = 0, tx_dropped = 0;
};

struct LcoreTask {
  unsigned lcore = 0;
  Worker* worker = nullptr;
  uint16_t port = 0, tap = 0, queue = 0;
};

class Runtime {
 public:
  // Launches one loop per task on its lcore; fails (and stops those it
  // launched) if an lcore is busy.
  static Result<std::unique_ptr<Runtime>> start(const std::vector<LcoreTask>& tasks,
                                                uint32_t idle_sleep_us);
  ~Runtime() { stop(); }
  Runtime(const Runtime&) = delete;
  Runtime& operator=(const Runtime&) = delete;

  // Tells every loop to stop and waits for them; idempotent.
  void stop();
  LcoreTotals totals() const;

  struct Loop {
    LcoreTask task;
    uint32_t idle_sleep_us = 0;
    const std::atomic<bool>* stop = nullptr;
    LcoreStats stats;
  };

 private:
  Runtime() = default;
  std::atomic<bool> stop_{false};
  std::vector<std::unique_ptr<Loop>> loops_;
  std::vector<unsigned> launched_;
};

}  // namespace sluice::dpdk
