// SPDX-License-Identifier: Apache-2.0
#include "control/api/client_conns.h"

#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <unordered_map>

namespace sluice {

namespace {

constexpr size_t kReadChunk = 16 * 1024;

}  // namespace

std::optional<size_t> frame_line(std::string_view bytes) {
  size_t nl = bytes.find('\n');
  if (nl == std::string_view::npos) return std::nullopt;
  return nl + 1;
}

ClientConnections::ClientConnections(int listen_fd, ClientLimits limits, Frame frame,
                                     Answer answer, TooLarge too_large)
    : listen_fd_(listen_fd),
      limits_(limits),
      frame_(std::move(frame)),
      answer_(std::move(answer)),
      too_large_(std::move(too_large)) {
  // Fewer accepts per turn than slots: a client accepted in one turn is
  // read in the next before newer ones can evict it, however many wait.
  limits_.accepts_per_turn =
      std::max<size_t>(1, std::min(limits_.accepts_per_turn, limits_.max_conns / 2));
}

void ClientConnections::poll_fds(std::vector<pollfd>& out) const {
  out.push_back({listen_fd_, POLLIN, 0});
  for (const auto& c : conns_) {
    short events = c.phase == Phase::writing ? POLLOUT : c.phase == Phase::waiting ? 0 : POLLIN;
    out.push_back({c.fd.get(), events, 0});  // waiting: hangups only
  }
}

int ClientConnections::poll_timeout_ms(Clock::time_point now) const {
  if (conns_.empty()) return -1;
  auto first = conns_.front().deadline;  // every conn gets the same budget: oldest is first
  for (const auto& c : conns_) first = std::min(first, c.deadline);
  if (first <= now) return 0;
  auto us = std::chrono::duration_cast<std::chrono::microseconds>(first - now).count();
  return static_cast<int>((us + 999) / 1000);
}

void ClientConnections::evict_one() {
  // The oldest client still sending its request: the one that has used
  // its slot longest without saying anything we could answer.
  // Never one that is being answered (writing, or waiting for its answer).
  auto idle = [](const Conn& c) { return c.phase == Phase::reading || c.phase == Phase::lingering; };
  auto victim = std::find_if(conns_.begin(), conns_.end(), idle);
  if (victim == conns_.end()) victim = conns_.begin();
  ++stats_.evicted;
  close(victim);
}

void ClientConnections::accept_some(Clock::time_point now) {
  now_ = now;
  for (size_t i = 0; i < limits_.accepts_per_turn; ++i) {
    Fd fd(::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK));
    if (!fd.valid()) return;  // EAGAIN, or EMFILE: the rest wait in the backlog
    if (conns_.size() >= limits_.max_conns) evict_one();
    ++stats_.accepted;
    conns_.push_back(
        Conn{next_ticket_++, std::move(fd), now + limits_.deadline, {}, {}, Phase::reading, false});
    stats_.active = conns_.size();
    // A request that came with the connect is answered at once: a real
    // client sends right away, so it rarely waits for a turn at all.
    if (!on_readable(conns_.back())) close(std::prev(conns_.end()));
  }
}

bool ClientConnections::reply(Conn& c, std::optional<std::string> out) {
  c.in.clear();
  if (!out) {
    c.phase = Phase::waiting;
    c.deadline = now_ + limits_.answer_wait;
    return true;
  }
  c.out = std::move(*out);
  c.phase = Phase::writing;
  return on_writable(c);
}

void ClientConnections::complete(Ticket ticket, std::string out) {
  auto it = std::find_if(conns_.begin(), conns_.end(),
                         [&](const Conn& c) { return c.ticket == ticket; });
  if (it == conns_.end() || it->phase != Phase::waiting) return;
  // The rest of the exchange gets the usual deadline from here.
  it->deadline = std::max(it->deadline, Clock::now() + limits_.deadline);
  if (!reply(*it, std::move(out))) close(it);
}

bool ClientConnections::on_readable(Conn& c) {
  char buf[kReadChunk];
  for (;;) {
    size_t room = limits_.max_request + 1 - std::min(c.in.size(), limits_.max_request + 1);
    ssize_t n = ::recv(c.fd.get(), buf, std::min(room, sizeof(buf)), 0);
    if (n < 0) return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR;
    if (n == 0) {
      // Half-closed after a request without its terminator: answer what came.
      if (c.in.empty()) return false;
      return reply(c, answer_(c.in, c.ticket));
    }
    c.in.append(buf, static_cast<size_t>(n));
    if (auto len = frame_(c.in); len && *len <= limits_.max_request) {
      c.unread = *len < c.in.size();
      return reply(c, answer_(std::string_view(c.in).substr(0, *len), c.ticket));
    }
    if (c.in.size() > limits_.max_request) {
      ++stats_.too_large;
      c.unread = true;
      std::string out = too_large_ ? too_large_() : std::string();
      if (out.empty()) return false;
      return reply(c, std::optional<std::string>(std::move(out)));
    }
    if (static_cast<size_t>(n) < sizeof(buf) && static_cast<size_t>(n) < room) return true;
  }
}

bool ClientConnections::on_writable(Conn& c) {
  while (!c.out.empty()) {
    ssize_t n = ::send(c.fd.get(), c.out.data(), c.out.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n < 0) return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR;
    c.out.erase(0, static_cast<size_t>(n));
  }
  ++stats_.answered;
  if (!c.unread) return false;
  // Closing with unread input makes the kernel reset the connection, and
  // the client may lose the reply it has not read yet: say we are done,
  // then read and drop what it still sends, until it closes or the
  // deadline comes.
  ::shutdown(c.fd.get(), SHUT_WR);
  c.phase = Phase::lingering;
  return discard(c);
}

bool ClientConnections::discard(Conn& c) {
  char buf[kReadChunk];
  // Bounded per turn: a client that never stops sending gets the rest of
  // its turns until the deadline, not the whole loop.
  for (int i = 0; i < 64; ++i) {
    ssize_t n = ::recv(c.fd.get(), buf, sizeof(buf), 0);
    if (n == 0) return false;
    if (n < 0) return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR;
  }
  return true;
}

bool ClientConnections::step(Conn& c, short revents) {
  switch (c.phase) {
    case Phase::writing:
      if (revents & (POLLOUT | POLLERR | POLLHUP)) return on_writable(c);
      return true;
    case Phase::reading:
      if (revents & (POLLIN | POLLERR | POLLHUP)) return on_readable(c);
      return true;
    case Phase::lingering:
      if (revents & (POLLIN | POLLERR | POLLHUP)) return discard(c);
      return true;
    case Phase::waiting:
      return !(revents & (POLLERR | POLLHUP));  // the client left
  }
  return false;
}

void ClientConnections::close(Iter it) {
  conns_.erase(it);  // Fd closes
  stats_.active = conns_.size();
}

void ClientConnections::on_poll(const pollfd* fds, size_t n, Clock::time_point now) {
  now_ = now;
  // The fds of this turn, by number: a connection accepted or evicted
  // below is not in them (and an fd number may be reused), so look up
  // revents by fd only for connections that existed at poll_fds().
  std::unordered_map<int, short> revents;
  bool listener_ready = false;
  for (size_t i = 0; i < n; ++i) {
    if (fds[i].fd == listen_fd_) listener_ready = fds[i].revents & POLLIN;
    else if (fds[i].revents) revents[fds[i].fd] = fds[i].revents;
  }
  for (auto it = conns_.begin(); it != conns_.end();) {
    auto r = revents.find(it->fd.get());
    bool keep = r == revents.end() || step(*it, r->second);
    if (keep && now >= it->deadline) {
      if (it->phase != Phase::lingering) ++stats_.timed_out;
      keep = false;
    }
    if (keep) {
      ++it;
    } else {
      auto dead = it++;
      close(dead);
    }
  }
  if (listener_ready) accept_some(now);
}

}  // namespace sluice
