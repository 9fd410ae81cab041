// SPDX-License-Identifier: Apache-2.0
// The running Config and the file it came from. Every change goes the same
// way: a copy is edited, validated by the file's own rules (written as YAML
// and parsed back), written to a temp file, applied to the dataplane, and
// only then renamed over the file. A failure at any step leaves the
// dataplane, the running config and the file as they were.
#pragma once

#include <functional>
#include <optional>
#include <string>

#include "control/config/config.h"
#include "control/config/config_file.h"
#include "control/daemon/control_counters.h"
#include "core/host/result.h"

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

  // Runs on the thread that prepares a change (see below), given the
  // parsed config: e.g. route lookups for its backends. Must not touch the
  // service table.
  void set_prepare(std::function<void(const Config&)> prepare) { prepare_ = std::move(prepare); }

  const Config& running() const { return running_; }
  const std::string& path() const { return path_; }

  // An API change; counted in api_changes / api_change_failures.
  Result<void> change(const Edit& edit);
  // Re-reads the file (API `reload`, SIGHUP); counted in config_reloads /
  // config_reload_failures. Settings that need a restart must not change.
  Result<void> reload();

  // The same in three steps, so that the long middle one (parse, check by
  // writing out and parsing back, the temp file's write and fsync,
  // `prepare`) can run on a worker thread (change_runner.h) while the loop
  // goes on: edited() and finish_*() on the loop's thread, prepare_*() on
  // any thread (it reads only the path and the prepare hook).
  struct Prepared {
    Config next;
    std::optional<PendingFile> file;  // API changes: the new file, not yet renamed
  };
  Result<Config> edited(const Edit& edit) const;
  Result<Prepared> prepare_change(const Config& edited) const;
  Result<Prepared> prepare_reload() const;
  Result<void> finish_change(Result<Prepared> prepared);
  Result<void> finish_reload(Result<Prepared> prepared);

 private:
  Result<void> finish_change_uncounted(Result<Prepared>& prepared);
  Result<void> finish_reload_uncounted(Result<Prepared>& prepared);
  // Applies `next`; on failure re-applies the running config.
  Result<void> apply_or_restore(const Config& next);

  Config running_;
  std::string path_;
  Apply apply_;
  ControlCounters& counters_;
  std::function<void(const Config&)> prepare_;
};

// Names the first setting that differs and needs a restart, or "".
std::string restart_only_change(const Config& running, const Config& next);

}  // namespace sluice
