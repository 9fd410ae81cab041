// SPDX-License-Identifier: Apache-2.0
#include "control/api/api_server.h"

#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

namespace sluice {

namespace {

Result<sockaddr_un> unix_addr(const std::string& path) {
  sockaddr_un sa{};
  sa.sun_family = AF_UNIX;
  if (path.size() >= sizeof(sa.sun_path)) return make_error("api socket: path too long", 0, path);
  std::memcpy(sa.sun_path, path.c_str(), path.size() + 1);
  return sa;
}

// A reply this long from the daemon is not a reply.
constexpr size_t kMaxReply = 64 << 20;

}  // namespace

Result<std::unique_ptr<ApiServer>> ApiServer::listen(const std::string& path,
                                                     ClientLimits limits) {
  auto sa = unix_addr(path);
  if (!sa) return sa.error();
  std::error_code ec;
  std::filesystem::path parent = std::filesystem::path(path).parent_path();
  if (!parent.empty()) std::filesystem::create_directories(parent, ec);
  if (ec) return make_error("api socket: mkdir", ec.value(), parent.string());
  if (api_call(path, R"({"cmd":"status"})"))
    return make_error("api socket: another sluiced answers on it", EADDRINUSE, path);
  ::unlink(path.c_str());  // stale socket from a previous run
  Fd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (!fd.valid()) return make_error("api socket: socket", errno, path);
  mode_t old = ::umask(0177);  // the socket is born 0600
  int rc = ::bind(fd.get(), reinterpret_cast<const sockaddr*>(&*sa), sizeof(*sa));
  ::umask(old);
  if (rc < 0) return make_error("api socket: bind", errno, path);
  // A deep backlog: a connect storm waits in the kernel's queue, drained a
  // few per turn, instead of having SYNs dropped, which costs a real client
  // a one-second retransmit.
  if (::listen(fd.get(), SOMAXCONN) < 0) return make_error("api socket: listen", errno, path);
  return std::unique_ptr<ApiServer>(new ApiServer(std::move(fd), path, limits));
}

ApiServer::ApiServer(Fd fd, std::string path, ClientLimits limits)
    : fd_(std::move(fd)),
      path_(std::move(path)),
      conns_(fd_.get(), limits, frame_line,
             [this](std::string_view req, Ticket t) { return answer(req, t); },
             [max = limits.max_request] {
               return "{\"ok\":false,\"error\":\"request too large (at most " +
                      std::to_string(max) + " bytes)\"}\n";
             }) {}

std::optional<std::string> ApiServer::answer(std::string_view request, Ticket ticket) {
  while (!request.empty() && (request.back() == '\n' || request.back() == '\r'))
    request.remove_suffix(1);
  if (!handler_) return R"({"ok":false,"error":"starting up"})" "\n";
  auto reply = handler_(request, ticket);
  if (!reply) return std::nullopt;
  return *reply + "\n";
}

int ApiServer::poll_timeout_ms() {
  return conns_.poll_timeout_ms(std::chrono::steady_clock::now());
}

void ApiServer::on_poll(const pollfd* fds, size_t n) {
  conns_.on_poll(fds, n, std::chrono::steady_clock::now());
}

ApiServer::~ApiServer() {
  if (fd_.valid()) ::unlink(path_.c_str());
}

Result<std::string> api_call(const std::string& path, const std::string& request) {
  auto sa = unix_addr(path);
  if (!sa) return sa.error();
  Fd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd.valid()) return make_error("socket", errno);
  if (::connect(fd.get(), reinterpret_cast<const sockaddr*>(&*sa), sizeof(*sa)) < 0)
    return make_error("cannot connect to " + path, errno);
  timeval tv{10, 0};
  setsockopt(fd.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  std::string req = request + "\n";
  if (::send(fd.get(), req.data(), req.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(req.size()))
    return make_error("cannot send to " + path, errno);
  std::string reply;
  char buf[4096];
  for (;;) {
    ssize_t n = ::read(fd.get(), buf, sizeof(buf));
    if (n < 0) return make_error("no reply from " + path, errno);
    if (n == 0) break;
    reply.append(buf, static_cast<size_t>(n));
    if (reply.size() > kMaxReply) return make_error("reply too long from " + path);
  }
  if (size_t nl = reply.find('\n'); nl != std::string::npos) reply.resize(nl);
  if (reply.empty()) return make_error("empty reply from " + path);
  return reply;
}

}  // namespace sluice
