// SPDX-License-Identifier: Apache-2.0
// GET /metrics over HTTP (cpp-httplib) in its own threads. The server only
// calls `render`; what it may read is render's business (see metrics.h).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>

#include "control/result.h"

namespace sluice {

// "127.0.0.1:9477", "[::1]:9477" -> host and port (0: any free port).
Result<std::pair<std::string, uint16_t>> metrics_listen_parse(const std::string& listen);

class MetricsServer {
 public:
  using Render = std::function<std::string()>;

  // Binds before returning, so a taken port is a start-up error; serves
  // from a background thread until destroyed.
  static Result<std::unique_ptr<MetricsServer>> start(const std::string& listen, Render render);
  ~MetricsServer();  // stops serving and joins the thread

  MetricsServer(const MetricsServer&) = delete;
  MetricsServer& operator=(const MetricsServer&) = delete;

  uint16_t port() const;  // the bound port (the chosen one when asked for 0)

  struct Impl;

 private:
  explicit MetricsServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace sluice
