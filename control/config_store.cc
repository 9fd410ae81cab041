// SPDX-License-Identifier: Apache-2.0
#include "control/config_store.h"

#include <spdlog/spdlog.h>

#include <optional>

#include "control/config_file.h"
#include "control/config_writer.h"
#include "control/off_loop.h"

namespace sluice {

std::string restart_only_change(const Config& running, const Config& next) {
  if (running.interface != next.interface) return "interface";
  if (running.dataplane != next.dataplane) return "dataplane";
  if (running.xdp_generic != next.xdp_generic) return "xdp_mode";
  if (running.api_socket != next.api_socket) return "api_socket";
  if (running.metrics_listen != next.metrics_listen) return "metrics_listen";
  if (running.conn_table_size != next.conn_table_size) return "conn_table_size";
  return "";
}

Result<void> ConfigStore::apply_or_restore(const Config& next) {
  auto r = apply_(next);
  if (r) return r;
  if (auto back = apply_(running_); !back)
    spdlog::error("restoring the previous config after a failed change: {}",
                  back.error().message());
  return r;
}

Result<void> ConfigStore::change(const Edit& edit) {
  auto r = change_uncounted(edit);
  (r ? counters_.api_changes : counters_.api_change_failures)++;
  return r;
}

Result<void> ConfigStore::offload(const std::function<void()>& work) {
  run_off_loop(work, pump_);
  return {};
}

Result<void> ConfigStore::change_uncounted(const Edit& edit) {
  Config edited = running_;
  if (auto r = edit(edited); !r) return r;
  // The file's rules, exactly: what we would write must parse back. With
  // 10,000 backends that and the fsync take a second: off the loop.
  std::optional<Result<Config>> next;
  std::optional<Result<PendingFile>> pending;
  (void)offload([&] {
    std::string text = config_emit(edited);
    next.emplace(config_parse(text));
    if (!*next) return;
    pending.emplace(PendingFile::prepare(path_, text));
    if (*pending && prepare_) prepare_(**next);
  });
  if (!*next) return next->error();
  if (!*pending) return pending->error();
  if (auto r = apply_or_restore(**next); !r) return r;
  if (auto r = (*pending)->commit(); !r) {
    if (auto back = apply_(running_); !back)
      spdlog::error("restoring the previous config: {}", back.error().message());
    return r;
  }
  running_ = std::move(**next);
  return {};
}

Result<void> ConfigStore::reload() {
  auto r = reload_uncounted();
  (r ? counters_.config_reloads : counters_.config_reload_failures)++;
  if (r)
    spdlog::info("config reloaded from {}", path_);
  else
    spdlog::warn("reload refused, running config kept: {}", r.error().message());
  return r;
}

Result<void> ConfigStore::reload_uncounted() {
  auto t0 = std::chrono::steady_clock::now();
  std::optional<Result<Config>> next;
  (void)offload([&] {
    next.emplace(config_load(path_));
    if (*next && prepare_) prepare_(**next);
  });
  if (!*next) return next->error();
  spdlog::debug("reload: read, parsed and prepared {} in {} ms", path_,
                std::chrono::duration_cast<std::chrono::milliseconds>(
                    std::chrono::steady_clock::now() - t0).count());
  if (std::string field = restart_only_change(running_, **next); !field.empty())
    return make_error("config: " + field + ": changed in the file; it takes a restart of sluiced");
  if (auto r = apply_or_restore(**next); !r) return r;
  running_ = std::move(**next);
  return {};
}

}  // namespace sluice
