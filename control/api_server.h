// SPDX-License-Identifier: Apache-2.0
// The API's unix socket (mode 0600): one request line, one reply line per
// connection. Driven by the daemon's poll() loop through fd().
#pragma once

#include <functional>
#include <string>
#include <string_view>

#include "control/fd.h"
#include "control/result.h"

namespace sluice {

class ApiServer {
 public:
  using Handler = std::function<std::string(std::string_view)>;

  // Creates the parent directory if needed; replaces a stale socket, but
  // refuses to take one another sluiced is answering on.
  static Result<ApiServer> listen(const std::string& path);
  ~ApiServer();
  ApiServer(ApiServer&&) = default;
  ApiServer& operator=(ApiServer&&) = default;

  int fd() const { return fd_.get(); }
  const std::string& path() const { return path_; }
  // Accepts one client (the listening fd is readable) and answers it.
  void serve_one(const Handler& handler);

 private:
  ApiServer(Fd fd, std::string path) : fd_(std::move(fd)), path_(std::move(path)) {}

  Fd fd_;
  std::string path_;
};

// Client side: connects, sends `request`, returns the reply line.
Result<std::string> api_call(const std::string& path, const std::string& request);

}  // namespace sluice
