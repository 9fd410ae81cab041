// SPDX-License-Identifier: Apache-2.0
// The running Config and the file it came from. Every change goes the same
// way: a copy is edited, validated by the file's own rules (written as YAML
// and parsed back), written to a temp file, applied to the dataplane, and
// only then renamed over the file. A failure at any step leaves the
// dataplane, the running config and the file as they were.
#pragma once

#include <functional>
#include <string>

#include "control/config.h"
#include "control/control_counters.h"
#include "control/result.h"

namespace sluice {

class ConfigStore {
 public:
  // Makes the dataplane (and the VIP addresses) serve a config; the daemon
  // passes ServiceTable::apply over dataplane_vips() plus the address sync.
  using Apply = std::function<Result<void>(const Config&)>;
  using Edit = std::function<Result<void>(Config&)>;

  ConfigStore(Config running, std::string path, Apply apply, ControlCounters& counters)
      : running_(std::move(running)), path_(std::move(path)), apply_(std::move(apply)),
        counters_(counters) {}

  // Parsing and checking a change, writing the temp file and `prepare`
  // (given the parsed config; e.g. route lookups for its backends) run on
  // a worker thread while `pump` runs on the caller's every few ms (the
  // health results); without a pump they run inline. `prepare` must not
  // touch what the pump touches.
  void offload_with(std::function<void()> pump, std::function<void(const Config&)> prepare) {
    pump_ = std::move(pump);
    prepare_ = std::move(prepare);
  }

  const Config& running() const { return running_; }
  const std::string& path() const { return path_; }

  // An API change; counted in api_changes / api_change_failures.
  Result<void> change(const Edit& edit);
  // Re-reads the file (API `reload`, SIGHUP); counted in config_reloads /
  // config_reload_failures. Settings that need a restart must not change.
  Result<void> reload();

 private:
  Result<void> change_uncounted(const Edit& edit);
  Result<void> reload_uncounted();
  // Applies `next`; on failure re-applies the running config.
  Result<void> apply_or_restore(const Config& next);
  Result<void> offload(const std::function<void()>& work);

  Config running_;
  std::string path_;
  Apply apply_;
  ControlCounters& counters_;
  std::function<void()> pump_;
  std::function<void(const Config&)> prepare_;
};

// Names the first setting that differs and needs a restart, or "".
std::string restart_only_change(const Config& running, const Config& next);

}  // namespace sluice
