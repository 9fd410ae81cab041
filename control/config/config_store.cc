// SPDX-License-Identifier: Apache-2.0
#include "control/config/config_store.h"

#include <spdlog/spdlog.h>

#include <optional>

#include "control/config/config_file.h"
#include "control/config/config_writer.h"

namespace sluice {

std::string restart_only_change(const Config& running, const Config& next) {
  if (running.interface != next.interface) return "interface";
  if (running.dataplane != next.dataplane) return "dataplane";
  if (running.xdp_generic != next.xdp_generic) return "xdp_mode";
  if (running.api_socket != next.api_socket) return "api_socket";
  if (running.metrics_listen != next.metrics_listen) return "metrics_listen";
  if (running.conn_table_size != next.conn_table_size) return "conn_table_size";
  if (running.syn_table_size != next.syn_table_size) return "syn_table_size";
  if (running.acl_trie_nodes != next.acl_trie_nodes) return "acl_trie_nodes";
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
  auto e = edited(edit);
  if (!e) {
    counters_.api_change_failures++;
    return e.error();
  }
  return finish_change(prepare_change(*e));
}

Result<void> ConfigStore::reload() { return finish_reload(prepare_reload()); }

Result<Config> ConfigStore::edited(const Edit& edit) const {
  Config copy = running_;
  if (auto r = edit(copy); !r) return r.error();
  return copy;
}

Result<ConfigStore::Prepared> ConfigStore::prepare_change(const Config& edited) const {
  // The file's rules, exactly: what we would write must parse back.
  std::string text = config_emit(edited);
  auto next = config_parse(text);
  if (!next) return next.error();
  auto file = PendingFile::prepare(path_, text);
  if (!file) return file.error();
  if (prepare_) prepare_(*next);
  Prepared p{std::move(*next), std::nullopt};
  p.file.emplace(std::move(*file));
  return p;
}

Result<ConfigStore::Prepared> ConfigStore::prepare_reload() const {
  auto next = config_load(path_);
  if (!next) return next.error();
  if (prepare_) prepare_(*next);
  return Prepared{std::move(*next), std::nullopt};
}

Result<void> ConfigStore::finish_change(Result<Prepared> prepared) {
  auto r = finish_change_uncounted(prepared);
  (r ? counters_.api_changes : counters_.api_change_failures)++;
  return r;
}

Result<void> ConfigStore::finish_change_uncounted(Result<Prepared>& prepared) {
  if (!prepared) return prepared.error();
  if (auto r = apply_or_restore(prepared->next); !r) return r;
  if (auto r = prepared->file->commit(); !r) {
    if (auto back = apply_(running_); !back)
      spdlog::error("restoring the previous config: {}", back.error().message());
    return r;
  }
  running_ = std::move(prepared->next);
  return {};
}

Result<void> ConfigStore::finish_reload(Result<Prepared> prepared) {
  auto r = finish_reload_uncounted(prepared);
  (r ? counters_.config_reloads : counters_.config_reload_failures)++;
  if (r)
    spdlog::info("config reloaded from {}", path_);
  else
    spdlog::warn("reload refused, running config kept: {}", r.error().message());
  return r;
}

Result<void> ConfigStore::finish_reload_uncounted(Result<Prepared>& prepared) {
  if (!prepared) return prepared.error();
  if (std::string field = restart_only_change(running_, prepared->next); !field.empty())
    return make_error("config: " + field + ": changed in the file; it takes a restart of sluiced");
  if (auto r = apply_or_restore(prepared->next); !r) return r;
  running_ = std::move(prepared->next);
  return {};
}

}  // namespace sluice
