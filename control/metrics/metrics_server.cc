// SPDX-License-Identifier: Apache-2.0
#include "control/metrics/metrics_server.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <sys/eventfd.h>
#include <sys/socket.h>

#include <cerrno>
#include <charconv>
#include <cstring>
#include <thread>

#include "core/host/fd.h"

namespace sluice {

namespace {

constexpr const char* kContentType = "text/plain; version=0.0.4; charset=utf-8";

// Scrapers are few, but a connect storm leaves one that is slow to send
// its request (descheduled between connect and send) only the time the
// storm takes to open `max_conns` newer connections: 128 slots give it
// 13 ms at 10,000 connects/s, where 32 gave 3 ms and a scrape in the e2e
// storm was evicted. Each slot is held for a bounded time. A request is
// its header block, never a body (nothing here takes one).
ClientLimits metrics_client_limits() {
  ClientLimits l;
  l.max_conns = MetricsServer::kMaxConns;
  l.max_request = 8 * 1024;
  l.deadline = std::chrono::milliseconds(3000);
  return l;
}

std::string http_reply(const char* status, const char* content_type, const std::string& body,
                       const char* extra_headers = "") {
  std::string out = "HTTP/1.1 ";
  out += status;
  out += "\r\nContent-Type: ";
  out += content_type;
  out += "\r\nContent-Length: " + std::to_string(body.size());
  out += "\r\nConnection: close\r\n";
  out += extra_headers;
  out += "\r\n";
  out += body;
  return out;
}

std::string plain(const char* status, const std::string& body, const char* extra = "") {
  return http_reply(status, "text/plain; charset=utf-8", body, extra);
}

}  // namespace

std::optional<size_t> frame_http_head(std::string_view bytes) {
  size_t crlf = bytes.find("\r\n\r\n");
  size_t lf = bytes.find("\n\n");
  size_t end = std::min(crlf == std::string_view::npos ? crlf : crlf + 4,
                        lf == std::string_view::npos ? lf : lf + 2);
  if (end == std::string_view::npos) return std::nullopt;
  return end;
}

std::string metrics_http_answer(std::string_view head, const MetricsServer::Render& render) {
  std::string_view line = head.substr(0, head.find('\n'));
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  size_t sp1 = line.find(' ');
  size_t sp2 = sp1 == std::string_view::npos ? sp1 : line.find(' ', sp1 + 1);
  if (sp2 == std::string_view::npos || line.substr(sp2 + 1).rfind("HTTP/1.", 0) != 0)
    return plain("400 Bad Request", "bad request line\n");
  std::string_view method = line.substr(0, sp1);
  std::string_view target = line.substr(sp1 + 1, sp2 - sp1 - 1);
  std::string_view path = target.substr(0, target.find('?'));
  if (method != "GET") return plain("405 Method Not Allowed", "only GET\n", "Allow: GET\r\n");
  if (path == "/metrics") return http_reply("200 OK", kContentType, render());
  if (path == "/") return plain("200 OK", "sluiced: Prometheus metrics at /metrics\n");
  return plain("404 Not Found", "not found; metrics are at /metrics\n");
}

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
  Impl(Fd l, Fd s, Render r)
      : listener(std::move(l)),
        stop(std::move(s)),
        render(std::move(r)),
        conns(listener.get(), metrics_client_limits(), frame_http_head,
              [this](std::string_view head, ClientConnections::Ticket) -> std::optional<std::string> {
                return metrics_http_answer(head, render);
              },
              [] { return plain("431 Request Header Fields Too Large", "header too large\n"); }) {}
  void run();

  Fd listener;
  Fd stop;
  Render render;
  ClientConnections conns;
  uint16_t port = 0;
  std::thread thread;
};

void MetricsServer::Impl::run() {
  std::vector<pollfd> fds;
  for (;;) {
    fds = {{stop.get(), POLLIN, 0}};
    conns.poll_fds(fds);
    int timeout = conns.poll_timeout_ms(std::chrono::steady_clock::now());
    if (::poll(fds.data(), fds.size(), timeout) < 0 && errno != EINTR) return;
    if (fds[0].revents & POLLIN) return;
    conns.on_poll(fds.data() + 1, fds.size() - 1, std::chrono::steady_clock::now());
  }
}

namespace {

Result<Fd> bind_listener(const std::string& listen, const std::string& host, uint16_t port,
                         uint16_t& bound) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  addrinfo* res = nullptr;
  std::string service = std::to_string(port);
  if (int rc = getaddrinfo(host.c_str(), service.c_str(), &hints, &res); rc != 0)
    return make_error(std::string("metrics: ") + gai_strerror(rc), 0, listen);
  std::unique_ptr<addrinfo, decltype(&freeaddrinfo)> owned(res, freeaddrinfo);
  Fd fd(::socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (!fd.valid()) return make_error("metrics: socket", errno, listen);
  // No SO_REUSEPORT: a second sluiced must fail to bind, not share the port.
  int one = 1;
  setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  if (::bind(fd.get(), res->ai_addr, res->ai_addrlen) < 0)
    return make_error("metrics: bind", errno, listen);
  // A deep backlog: a connect storm waits in the kernel's queue, drained a
  // few per turn, instead of having SYNs dropped, which costs a real client
  // a one-second retransmit.
  if (::listen(fd.get(), SOMAXCONN) < 0) return make_error("metrics: listen", errno, listen);
  sockaddr_storage ss{};
  socklen_t len = sizeof(ss);
  if (getsockname(fd.get(), reinterpret_cast<sockaddr*>(&ss), &len) < 0)
    return make_error("metrics: getsockname", errno, listen);
  bound = ntohs(ss.ss_family == AF_INET6 ? reinterpret_cast<sockaddr_in6*>(&ss)->sin6_port
                                         : reinterpret_cast<sockaddr_in*>(&ss)->sin_port);
  return fd;
}

}  // namespace

Result<std::unique_ptr<MetricsServer>> MetricsServer::start(const std::string& listen,
                                                            Render render) {
  auto addr = metrics_listen_parse(listen);
  if (!addr) return addr.error();
  uint16_t bound = 0;
  auto fd = bind_listener(listen, addr->first, addr->second, bound);
  if (!fd) return fd.error();
  Fd stop(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!stop.valid()) return make_error("metrics: eventfd", errno);
  auto im = std::make_unique<Impl>(std::move(*fd), std::move(stop), std::move(render));
  im->port = bound;
  Impl* self = im.get();
  im->thread = std::thread([self] { self->run(); });
  return std::unique_ptr<MetricsServer>(new MetricsServer(std::move(im)));
}

MetricsServer::MetricsServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

MetricsServer::~MetricsServer() {
  uint64_t one = 1;
  (void)!::write(impl_->stop.get(), &one, sizeof(one));
  if (impl_->thread.joinable()) impl_->thread.join();
}

uint16_t MetricsServer::port() const { return impl_->port; }

const ClientStats& MetricsServer::stats() const { return impl_->conns.stats(); }

}  // namespace sluice
