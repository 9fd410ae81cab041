// SPDX-License-Identifier: Apache-2.0
// Work too long for one turn of the main loop (parsing a 10,000-backend
// config, checking it by writing it out and parsing it back, fsyncing the
// file, 10,000 route lookups) runs on a worker thread while the loop's
// thread keeps pumping what must not wait: health results are applied to
// the tables every few milliseconds, whatever the change is doing.
//
// The work must not touch what the pump touches (the service table): it
// gets copies, and its result is applied on the loop's thread afterwards.
#pragma once

#include <chrono>
#include <functional>
#include <future>

namespace sluice {

// Runs `work` to completion on another thread, calling `pump` on this one
// at least every `every` meanwhile.
inline void run_off_loop(const std::function<void()>& work, const std::function<void()>& pump,
                         std::chrono::milliseconds every = std::chrono::milliseconds(5)) {
  if (!pump) {
    work();
    return;
  }
  auto done = std::async(std::launch::async, work);
  while (done.wait_for(every) != std::future_status::ready) pump();
  done.get();
  pump();
}

}  // namespace sluice
