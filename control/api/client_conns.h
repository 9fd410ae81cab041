// SPDX-License-Identifier: Apache-2.0
// The connections of one client-facing surface (the API socket, the metrics
// port): non-blocking, one request and one reply each, and bounded three
// ways so that no client can make its poll loop wait or grow:
//   - a cap on open connections: when it is reached, a new client evicts
//     the oldest one still sending its request (a silent or slowloris
//     client loses its slot to whoever comes next, never the reverse);
//   - a cap on the request's size;
//   - a deadline on the whole exchange, from accept to the last reply byte.
// Reading, answering and writing happen in on_poll(), which never blocks.
#pragma once

#include <poll.h>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <list>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/host/fd.h"

namespace sluice {

struct ClientLimits {
  size_t max_conns = 64;
  size_t max_request = 64 * 1024;
  std::chrono::milliseconds deadline{2000};
  // A request whose answer comes later (complete()): how long its client
  // may wait for it, from when the request was read.
  std::chrono::milliseconds answer_wait{60000};
  // Accepts per on_poll: a connect storm costs the loop a bounded turn.
  // At most max_conns / 2 (see the constructor).
  size_t accepts_per_turn = 256;
};

// Read by other threads (metrics): atomics.
struct ClientStats {
  std::atomic<uint64_t> accepted{0};
  std::atomic<uint64_t> answered{0};   // a reply was sent in full
  std::atomic<uint64_t> evicted{0};    // closed to make room for a newer client
  std::atomic<uint64_t> timed_out{0};  // the deadline passed first
  std::atomic<uint64_t> too_large{0};  // the request passed max_request
  std::atomic<uint64_t> active{0};     // open now
};

class ClientConnections {
 public:
  using Clock = std::chrono::steady_clock;
  // The request's length once `bytes` holds a whole one; nullopt: not yet.
  using Frame = std::function<std::optional<size_t>(std::string_view bytes)>;
  // Names a connection whose answer comes later.
  using Ticket = uint64_t;
  // The reply to a whole request; nullopt: it comes later, through
  // complete(ticket, ...).
  using Answer = std::function<std::optional<std::string>(std::string_view request, Ticket)>;
  // The reply when the request passed max_request ("" closes silently).
  using TooLarge = std::function<std::string()>;

  // `listen_fd` is the caller's, non-blocking, and must outlive this.
  ClientConnections(int listen_fd, ClientLimits limits, Frame frame, Answer answer,
                    TooLarge too_large);
  ClientConnections(const ClientConnections&) = delete;
  ClientConnections& operator=(const ClientConnections&) = delete;

  // The poll loop's side: the fds to wait on (the listener first), how long
  // poll may sleep (-1: no deadline), and one turn with the fds back.
  void poll_fds(std::vector<pollfd>& out) const;
  int poll_timeout_ms(Clock::time_point now) const;
  void on_poll(const pollfd* fds, size_t n, Clock::time_point now);

  // The reply to a request answered later; a client that left (or waited
  // past answer_wait) is not there to get it. Not from inside on_poll.
  void complete(Ticket ticket, std::string reply);

  size_t open() const { return conns_.size(); }
  const ClientStats& stats() const { return stats_; }
  const ClientLimits& limits() const { return limits_; }

 private:
  enum class Phase { reading, waiting, writing, lingering };
  struct Conn {
    Ticket ticket = 0;
    Fd fd;
    Clock::time_point deadline;
    std::string in;
    std::string out;  // reply bytes not sent yet
    Phase phase = Phase::reading;
    bool unread = false;  // the client sent more than we read
  };
  using Iter = std::list<Conn>::iterator;

  void accept_some(Clock::time_point now);
  void evict_one();
  // Advances one connection; false once it is finished (to be closed).
  bool step(Conn& c, short revents);
  bool on_readable(Conn& c);
  bool on_writable(Conn& c);
  bool reply(Conn& c, std::optional<std::string> out);
  bool discard(Conn& c);
  void close(Iter it);

  int listen_fd_;
  ClientLimits limits_;
  Frame frame_;
  Answer answer_;
  TooLarge too_large_;
  std::list<Conn> conns_;  // oldest first
  Ticket next_ticket_ = 1;
  Clock::time_point now_{};  // of the current turn
  ClientStats stats_;
};

// Framing for line protocols: a request is everything up to '\n'.
std::optional<size_t> frame_line(std::string_view bytes);

}  // namespace sluice
