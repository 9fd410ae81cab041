// SPDX-License-Identifier: Apache-2.0
#include "control/metrics_server.h"

#include <httplib.h>
#include <sys/socket.h>

#include <cerrno>
#include <chrono>
#include <charconv>
#include <thread>

namespace sluice {

namespace {

constexpr const char* kContentType = "text/plain; version=0.0.4; charset=utf-8";
// Scrapers are few and rendering is quick: a small pool, not one thread
// per core.
constexpr size_t kServerThreads = 2;

}  // namespace

Result<std::pair<std::string, uint16_t>> metrics_listen_parse(const std::string& listen) {
  std::string host, port;
  if (!listen.empty() && listen.front() == '[') {
    size_t close = listen.find("]:");
    if (close == std::string::npos) return make_error("metrics_listen: want [ADDR]:PORT", 0, listen);
    host = listen.substr(1, close - 1);
    port = listen.substr(close + 2);
  } else {
    size_t colon = listen.rfind(':');
    if (colon == std::string::npos || listen.find(':') != colon)
      return make_error("metrics_listen: want ADDR:PORT or [ADDR]:PORT", 0, listen);
    host = listen.substr(0, colon);
    port = listen.substr(colon + 1);
  }
  unsigned value = 0;
  auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
  if (host.empty() || ec != std::errc() || end != port.data() + port.size() || value > 65535)
    return make_error("metrics_listen: bad address or port", 0, listen);
  return std::make_pair(host, static_cast<uint16_t>(value));
}

struct MetricsServer::Impl {
  httplib::Server http;
  std::thread thread;
  uint16_t port = 0;
};

Result<std::unique_ptr<MetricsServer>> MetricsServer::start(const std::string& listen,
                                                            Render render) {
  auto addr = metrics_listen_parse(listen);
  if (!addr) return addr.error();
  auto im = std::make_unique<Impl>();
  im->http.new_task_queue = [] { return new httplib::ThreadPool(kServerThreads); };
  // httplib's default adds SO_REUSEPORT: a second sluiced would then share
  // the port and scrapes would alternate between the two daemons.
  im->http.set_socket_options([](int sock) {
    int one = 1;
    setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  });
  im->http.Get("/metrics", [render](const httplib::Request&, httplib::Response& res) {
    res.set_content(render(), kContentType);
  });
  const auto& [host, port] = *addr;
  errno = 0;
  if (port == 0) {
    int bound = im->http.bind_to_any_port(host);
    if (bound <= 0) return make_error("metrics: bind", errno, listen);
    im->port = static_cast<uint16_t>(bound);
  } else {
    if (!im->http.bind_to_port(host, port)) return make_error("metrics: bind", errno, listen);
    im->port = port;
  }
  httplib::Server* http = &im->http;
  im->thread = std::thread([http] { http->listen_after_bind(); });
  // stop() is a no-op until the accept loop runs: wait for it, or the
  // destructor could join a thread that never ends.
  for (int i = 0; i < 2000 && !http->is_running(); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  return std::unique_ptr<MetricsServer>(new MetricsServer(std::move(im)));
}

MetricsServer::MetricsServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

MetricsServer::~MetricsServer() {
  impl_->http.stop();
  if (impl_->thread.joinable()) impl_->thread.join();
}

uint16_t MetricsServer::port() const { return impl_->port; }

}  // namespace sluice
