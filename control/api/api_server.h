// SPDX-License-Identifier: Apache-2.0
// The API's unix socket (mode 0600): one request line, one reply line per
// connection. A watcher of the daemon's poll() loop: connections are
// non-blocking and bounded (client_conns.h), so a silent, slow or
// half-sent client costs a slot, never the loop's time.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "control/api/client_conns.h"
#include "core/host/fd.h"
#include "control/daemon/loop_watcher.h"
#include "core/host/result.h"

namespace sluice {

// A request line is at most this long. Every command is a few fields (the
// largest real one is under 300 bytes), so anything bigger is refused
// after 64 KiB is read, never parsed: a stream of megabyte requests costs
// the loop a read each, not a JSON parse each.
constexpr size_t kApiMaxRequest = 64 * 1024;

// The API surface's bounds (the metrics port has its own).
inline ClientLimits api_client_limits() {
  ClientLimits l;
  l.max_conns = 32;
  l.max_request = kApiMaxRequest;
  l.deadline = std::chrono::milliseconds(5000);
  return l;
}

class ApiServer final : public LoopWatcher {
 public:
  using Ticket = ClientConnections::Ticket;
  // The reply line (without '\n') to a request, or nullopt: it comes later
  // through complete(ticket, ...) (a change that runs off the loop).
  using Handler = std::function<std::optional<std::string>(std::string_view, Ticket)>;

  // Creates the parent directory if needed; replaces a stale socket, but
  // refuses to take one another sluiced is answering on.
  static Result<std::unique_ptr<ApiServer>> listen(const std::string& path,
                                                   ClientLimits limits = api_client_limits());
  ~ApiServer() override;
  ApiServer(const ApiServer&) = delete;
  ApiServer& operator=(const ApiServer&) = delete;

  const std::string& path() const { return path_; }
  // Answers every request from now on; until set, requests get an error.
  void set_handler(Handler h) { handler_ = std::move(h); }
  const ClientStats& stats() const { return conns_.stats(); }
  // The reply to a request whose handler returned nullopt.
  void complete(Ticket ticket, const std::string& reply) { conns_.complete(ticket, reply + "\n"); }

  void poll_fds(std::vector<pollfd>& out) override { conns_.poll_fds(out); }
  int poll_timeout_ms() override;
  void on_poll(const pollfd* fds, size_t n) override;

 private:
  ApiServer(Fd fd, std::string path, ClientLimits limits);
  std::optional<std::string> answer(std::string_view request, Ticket ticket);

  Fd fd_;
  std::string path_;
  Handler handler_;
  ClientConnections conns_;
};

// Client side: connects, sends `request`, returns the reply line.
Result<std::string> api_call(const std::string& path, const std::string& request);

}  // namespace sluice
