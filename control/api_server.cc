// SPDX-License-Identifier: Apache-2.0
#include "control/api_server.h"

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

// A reply or request line, capped so a client cannot grow us without bound.
constexpr size_t kMaxLine = 1 << 20;

}  // namespace

Result<ApiServer> ApiServer::listen(const std::string& path) {
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
  if (::listen(fd.get(), 16) < 0) return make_error("api socket: listen", errno, path);
  return ApiServer(std::move(fd), path);
}

ApiServer::~ApiServer() {
  if (fd_.valid()) ::unlink(path_.c_str());
}

void ApiServer::serve_one(const Handler& handler) {
  Fd client(::accept4(fd_.get(), nullptr, nullptr, SOCK_CLOEXEC));
  if (!client.valid()) return;  // EAGAIN: the client gave up
  // Blocking with a short timeout: a silent client cannot stall the loop.
  timeval tv{1, 0};
  setsockopt(client.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  setsockopt(client.get(), SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
  std::string line;
  char buf[4096];
  while (line.find('\n') == std::string::npos && line.size() < kMaxLine) {
    ssize_t n = ::read(client.get(), buf, sizeof(buf));
    if (n <= 0) break;
    line.append(buf, static_cast<size_t>(n));
  }
  if (size_t nl = line.find('\n'); nl != std::string::npos) line.resize(nl);
  std::string reply = handler(line) + "\n";
  size_t off = 0;
  while (off < reply.size()) {
    ssize_t n = ::send(client.get(), reply.data() + off, reply.size() - off, MSG_NOSIGNAL);
    if (n <= 0) {
      spdlog::debug("api: client went away: {}", std::strerror(errno));
      return;
    }
    off += static_cast<size_t>(n);
  }
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
    if (reply.size() > kMaxLine) return make_error("reply too long from " + path);
  }
  if (size_t nl = reply.find('\n'); nl != std::string::npos) reply.resize(nl);
  if (reply.empty()) return make_error("empty reply from " + path);
  return reply;
}

}  // namespace sluice
