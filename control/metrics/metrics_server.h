// SPDX-License-Identifier: Apache-2.0
// GET /metrics over HTTP/1.1 (one request per connection) on a thread of
// its own. The server only calls `render`; what it may read is render's
// business (see metrics.h). Hostile clients are bounded by the client
// surface rules of client_conns.h: 128 connections (the oldest silent one
// gives way to a new client), an 8 KiB header block and no body, 3 s for
// the whole exchange. Only GET /metrics (and / with a pointer) is served.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string_view>
#include <string>
#include <utility>

#include "control/api/client_conns.h"
#include "core/host/result.h"

namespace sluice {

// "127.0.0.1:9477", "[::1]:9477" -> host and port (0: any free port).
Result<std::pair<std::string, uint16_t>> metrics_listen_parse(const std::string& listen);

// The request's header block ends at the first empty line.
std::optional<size_t> frame_http_head(std::string_view bytes);

// The whole HTTP reply to a header block.
std::string metrics_http_answer(std::string_view head,
                                const std::function<std::string()>& render);

class MetricsServer {
 public:
  using Render = std::function<std::string()>;
  // Open connections at most (metrics_server.cc says why this many).
  static constexpr size_t kMaxConns = 128;

  // Binds before returning, so a taken port is a start-up error; serves
  // from a background thread until destroyed.
  static Result<std::unique_ptr<MetricsServer>> start(const std::string& listen, Render render);
  ~MetricsServer();  // stops serving and joins the thread

  MetricsServer(const MetricsServer&) = delete;
  MetricsServer& operator=(const MetricsServer&) = delete;

  uint16_t port() const;  // the bound port (the chosen one when asked for 0)
  const ClientStats& stats() const;

  struct Impl;

 private:
  explicit MetricsServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace sluice
