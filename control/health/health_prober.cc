// SPDX-License-Identifier: Apache-2.0
#include "control/health/health_prober.h"

#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <unordered_set>

namespace sluice {

namespace {

// A status line longer than this is not HTTP.
constexpr size_t kMaxStatusLine = 512;

std::string sys_error(const char* op, int err) {
  return std::string(op) + ": " + std::strerror(err);
}

socklen_t to_sockaddr(const IpAddr& a, uint16_t port, sockaddr_storage& ss) {
  std::memset(&ss, 0, sizeof(ss));
  if (a.is_v4()) {
    auto* sin = reinterpret_cast<sockaddr_in*>(&ss);
    sin->sin_family = AF_INET;
    sin->sin_port = htons(port);
    std::memcpy(&sin->sin_addr, a.bytes.data(), 4);
    return sizeof(sockaddr_in);
  }
  auto* sin6 = reinterpret_cast<sockaddr_in6*>(&ss);
  sin6->sin6_family = AF_INET6;
  sin6->sin6_port = htons(port);
  std::memcpy(&sin6->sin6_addr, a.bytes.data(), 16);
  return sizeof(sockaddr_in6);
}

// A TCP check has nothing to say after the handshake: close with a RST, as
// HAProxy does, so the balancer does not pile up TIME_WAIT sockets at one
// per backend per interval.
void reset_on_close(const Fd& fd) {
  linger l{1, 0};
  setsockopt(fd.get(), SOL_SOCKET, SO_LINGER, &l, sizeof(l));
}

}  // namespace

std::string http_probe_request(const ProbeSpec& spec) {
  std::string host = spec.host.empty() ? spec.addr.str() : spec.host;
  if (spec.host.empty() && spec.addr.is_v6()) host = "[" + host + "]";
  return "GET " + spec.path + " HTTP/1.0\r\nHost: " + host +
         "\r\nUser-Agent: sluice-health\r\nConnection: close\r\n\r\n";
}

ProbeResult http_judge_status_line(const std::string& line, const std::vector<uint16_t>& expect) {
  // "HTTP/1.x NNN reason": the version, one space, three digits.
  bool shaped = line.size() >= 12 && line.compare(0, 7, "HTTP/1.") == 0 && line[8] == ' ' &&
                std::isdigit(static_cast<unsigned char>(line[9])) &&
                std::isdigit(static_cast<unsigned char>(line[10])) &&
                std::isdigit(static_cast<unsigned char>(line[11])) &&
                (line.size() == 12 || line[12] == ' ' || line[12] == '\r');
  if (!shaped) return {false, "http: bad status line"};
  int code = std::stoi(line.substr(9, 3));
  bool ok = expect.empty() ? code >= 200 && code < 400
                           : std::find(expect.begin(), expect.end(), code) != expect.end();
  if (ok) return {true, ""};
  return {false, "http status " + std::to_string(code)};
}

HealthProber::ProbeId HealthProber::start(const ProbeSpec& spec, Done done) {
  ProbeId id = next_id_++;
  Probe& p = probes_[id];
  p.spec = spec;
  p.done = std::move(done);
  p.deadline = clock_.now() + spec.timeout;
  p.fd = Fd(socket(spec.addr.af(), SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!p.fd.valid()) {
    p.phase = Phase::failed;
    p.early = {false, sys_error("socket", errno)};
    return id;
  }
  sockaddr_storage ss;
  socklen_t len = to_sockaddr(spec.addr, spec.port, ss);
  if (connect(p.fd.get(), reinterpret_cast<sockaddr*>(&ss), len) < 0 && errno != EINPROGRESS) {
    p.phase = Phase::failed;
    p.early = {false, sys_error("connect", errno)};
    p.fd.reset();
    return id;
  }
  by_fd_[p.fd.get()] = id;
  return id;
}

void HealthProber::cancel(ProbeId id) {
  auto it = probes_.find(id);
  if (it == probes_.end()) return;
  if (it->second.fd.valid()) by_fd_.erase(it->second.fd.get());
  probes_.erase(it);
}

void HealthProber::poll_fds(std::vector<pollfd>& out) const {
  for (const auto& [id, p] : probes_) {
    if (!p.fd.valid()) continue;
    short events = p.phase == Phase::reading ? POLLIN : POLLOUT;
    out.push_back({p.fd.get(), events, 0});
  }
}

int HealthProber::poll_timeout_ms() const {
  asked_ = std::nullopt;
  if (probes_.empty()) return -1;
  auto now = clock_.now();
  auto first = Clock::time_point::max();
  for (const auto& [id, p] : probes_) {
    if (p.phase == Phase::failed) return 0;
    first = std::min(first, p.deadline);
  }
  if (first <= now) return 0;
  asked_ = first;
  looked_ = now;
  // Round up: waking a hair early would just poll again.
  auto us = std::chrono::duration_cast<std::chrono::microseconds>(first - now).count();
  return static_cast<int>((us + 999) / 1000);
}

// A turn that comes later than the prober asked (the thread was not
// scheduled, or a caller's loop was busy) must not count against the
// backends: the prober was not looking since it last asked, so the probes'
// clocks stop for that long. A timeout always means `timeout` of a prober
// that was looking, and an answer that came meanwhile is judged on what it
// says.
void HealthProber::forgive_lateness(Clock::time_point now) {
  if (!asked_) return;
  auto late = now - *asked_;
  auto away = now - looked_;
  asked_ = std::nullopt;
  if (late <= kLateSlack) return;
  for (auto& [id, p] : probes_) p.deadline += away;
}

std::optional<ProbeResult> HealthProber::on_connected(Probe& p) {
  int err = 0;
  socklen_t len = sizeof(err);
  if (getsockopt(p.fd.get(), SOL_SOCKET, SO_ERROR, &err, &len) < 0) err = errno;
  if (err != 0) return ProbeResult{false, sys_error("connect", err)};
  if (!p.spec.http) {
    reset_on_close(p.fd);
    return ProbeResult{true, ""};
  }
  p.phase = Phase::sending;
  p.out = http_probe_request(p.spec);
  return on_writable(p);
}

std::optional<ProbeResult> HealthProber::on_writable(Probe& p) {
  ssize_t n = send(p.fd.get(), p.out.data(), p.out.size(), MSG_NOSIGNAL);
  if (n < 0) {
    if (errno == EAGAIN || errno == EINTR) return std::nullopt;
    return ProbeResult{false, sys_error("send", errno)};
  }
  p.out.erase(0, static_cast<size_t>(n));
  if (p.out.empty()) p.phase = Phase::reading;
  return std::nullopt;
}

std::optional<ProbeResult> HealthProber::on_readable(Probe& p) {
  char buf[kMaxStatusLine];
  ssize_t n = recv(p.fd.get(), buf, sizeof(buf), 0);
  if (n < 0) {
    if (errno == EAGAIN || errno == EINTR) return std::nullopt;
    return ProbeResult{false, sys_error("recv", errno)};
  }
  p.in.append(buf, static_cast<size_t>(n));
  size_t eol = p.in.find('\n');
  if (eol != std::string::npos) return http_judge_status_line(p.in.substr(0, eol), p.spec.expect);
  if (p.in.size() >= kMaxStatusLine) return ProbeResult{false, "http: bad status line"};
  if (n == 0)
    return ProbeResult{false, p.in.empty() ? "http: connection closed without a reply"
                                           : "http: bad status line"};
  return std::nullopt;
}

std::optional<ProbeResult> HealthProber::step(Probe& p, short revents) {
  switch (p.phase) {
    case Phase::connecting:
      // POLLERR/POLLHUP alone still mean the connect finished: SO_ERROR says how.
      return on_connected(p);
    case Phase::sending:
      if (revents & (POLLOUT | POLLERR | POLLHUP)) return on_writable(p);
      return std::nullopt;
    case Phase::reading:
      if (revents & (POLLIN | POLLERR | POLLHUP)) return on_readable(p);
      return std::nullopt;
    case Phase::failed: break;
  }
  return std::nullopt;
}

void HealthProber::on_poll(const pollfd* fds, size_t n) {
  forgive_lateness(clock_.now());
  std::vector<std::pair<ProbeId, ProbeResult>> done;
  for (size_t i = 0; i < n; ++i) {
    if (fds[i].revents == 0) continue;
    auto it = by_fd_.find(fds[i].fd);
    if (it == by_fd_.end()) continue;
    auto probe = probes_.find(it->second);
    if (probe == probes_.end()) continue;
    if (auto r = step(probe->second, fds[i].revents)) done.emplace_back(it->second, *r);
  }
  std::unordered_set<ProbeId> finished;
  for (const auto& d : done) finished.insert(d.first);
  auto now = clock_.now();
  for (auto& [id, p] : probes_) {
    if (finished.contains(id)) continue;
    if (p.phase == Phase::failed) {
      done.emplace_back(id, p.early);
    } else if (now >= p.deadline) {
      const char* what = p.phase == Phase::connecting ? "connect" : "http reply";
      done.emplace_back(id, ProbeResult{false, "timeout after " +
                                                   std::to_string(p.spec.timeout.count()) +
                                                   " ms (" + what + ")"});
    }
  }
  finish(done);
}

// Callbacks run last, on probes already out of the tables, so that they
// may start or cancel probes freely.
void HealthProber::finish(std::vector<std::pair<ProbeId, ProbeResult>>& done) {
  std::vector<std::pair<Done, ProbeResult>> calls;
  for (auto& [id, result] : done) {
    auto it = probes_.find(id);
    if (it == probes_.end()) continue;
    calls.emplace_back(std::move(it->second.done), std::move(result));
    cancel(id);
  }
  for (auto& [cb, result] : calls)
    if (cb) cb(result);
}

}  // namespace sluice
