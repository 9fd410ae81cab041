// SPDX-License-Identifier: Apache-2.0
// The bounds of a client surface, on a real unix socket, driven turn by
// turn with the time handed in: cap and eviction, size cap, deadline.
#include "control/api/client_conns.h"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <string>
#include <vector>

namespace sluice {
namespace {

using Clock = ClientConnections::Clock;
using std::chrono::milliseconds;

class ClientConnsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ = "/tmp/sluice-conns-test-" + std::to_string(getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name();
    ::unlink(path_.c_str());
    listener_ = Fd(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
    sockaddr_un sa = addr();
    ASSERT_EQ(bind(listener_.get(), reinterpret_cast<sockaddr*>(&sa), sizeof(sa)), 0);
    ASSERT_EQ(listen(listener_.get(), 256), 0);
  }
  void TearDown() override { ::unlink(path_.c_str()); }

  sockaddr_un addr() const {
    sockaddr_un sa{};
    sa.sun_family = AF_UNIX;
    std::memcpy(sa.sun_path, path_.c_str(), path_.size() + 1);
    return sa;
  }
  Fd connect_client() {
    Fd fd(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    sockaddr_un sa = addr();
    EXPECT_EQ(connect(fd.get(), reinterpret_cast<sockaddr*>(&sa), sizeof(sa)), 0);
    return fd;
  }
  void make(ClientLimits limits) {
    conns_ = std::make_unique<ClientConnections>(
        listener_.get(), limits, frame_line,
        [this](std::string_view req, ClientConnections::Ticket t) -> std::optional<std::string> {
          ++answered_;
          if (req.rfind("later", 0) == 0) {
            later_.push_back(t);
            return std::nullopt;
          }
          return "re:" + std::string(req);
        },
        [] { return std::string("too large\n"); });
  }
  // One loop turn at `now`, after a poll that waits up to 50 ms.
  void turn(Clock::time_point now) {
    std::vector<pollfd> fds;
    conns_->poll_fds(fds);
    poll(fds.data(), fds.size(), 50);
    conns_->on_poll(fds.data(), fds.size(), now);
  }
  static std::string read_all(const Fd& fd) {
    std::string out;
    char buf[4096];
    timeval tv{2, 0};
    setsockopt(fd.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    for (ssize_t n; (n = recv(fd.get(), buf, sizeof(buf), 0)) > 0;) out.append(buf, size_t(n));
    return out;
  }

  std::string path_;
  Fd listener_;
  std::unique_ptr<ClientConnections> conns_;
  int answered_ = 0;
  std::vector<ClientConnections::Ticket> later_;
  Clock::time_point t0_ = Clock::now();
};

TEST(FrameLine, WholeLinesOnly) {
  EXPECT_EQ(frame_line("abc"), std::nullopt);
  EXPECT_EQ(frame_line("abc\n"), 4u);
  EXPECT_EQ(frame_line("a\nb\n"), 2u);
}

TEST_F(ClientConnsTest, AnswersAWholeRequestAndCloses) {
  make(ClientLimits{});
  Fd c = connect_client();
  ASSERT_EQ(send(c.get(), "hello\n", 6, MSG_NOSIGNAL), 6);
  for (int i = 0; i < 4; ++i) turn(t0_);
  EXPECT_EQ(read_all(c), "re:hello\n");
  EXPECT_EQ(conns_->open(), 0u);
  EXPECT_EQ(conns_->stats().answered.load(), 1u);
}

TEST_F(ClientConnsTest, RequestsArriveInPieces) {
  make(ClientLimits{});
  Fd c = connect_client();
  turn(t0_);
  ASSERT_EQ(send(c.get(), "hel", 3, MSG_NOSIGNAL), 3);
  turn(t0_);
  EXPECT_EQ(answered_, 0);
  EXPECT_EQ(conns_->open(), 1u);
  ASSERT_EQ(send(c.get(), "lo\n", 3, MSG_NOSIGNAL), 3);
  turn(t0_);
  EXPECT_EQ(read_all(c), "re:hello\n");
}

TEST_F(ClientConnsTest, FullSurfaceEvictsTheOldestSilentClient) {
  ClientLimits l;
  l.max_conns = 4;
  make(l);
  std::vector<Fd> silent;
  for (int i = 0; i < 4; ++i) silent.push_back(connect_client());
  for (int i = 0; i < 3; ++i) turn(t0_);  // two accepts a turn (half the slots)
  EXPECT_EQ(conns_->open(), 4u);
  Fd fresh = connect_client();
  ASSERT_EQ(send(fresh.get(), "x\n", 2, MSG_NOSIGNAL), 2);
  for (int i = 0; i < 3; ++i) turn(t0_);
  EXPECT_EQ(read_all(fresh), "re:x\n");
  EXPECT_EQ(conns_->stats().evicted.load(), 1u);
  EXPECT_EQ(read_all(silent[0]), "");  // closed: EOF, no reply
  EXPECT_LE(conns_->open(), 4u);
}

// However many clients wait in the backlog, one accepted in a turn is
// read in the next: newer ones cannot evict it before it had its chance.
TEST_F(ClientConnsTest, AClientIsReadBeforeNewerOnesCanEvictIt) {
  ClientLimits l;
  l.max_conns = 8;
  make(l);
  Fd first = connect_client();
  ASSERT_EQ(send(first.get(), "mine\n", 5, MSG_NOSIGNAL), 5);
  std::vector<Fd> storm;
  for (int i = 0; i < 100; ++i) storm.push_back(connect_client());
  for (int i = 0; i < 4; ++i) turn(t0_);
  EXPECT_EQ(read_all(first), "re:mine\n");
}

// An answer that comes later (a change off the loop): the connection
// waits without a deadline of the reading kind and is never evicted.
TEST_F(ClientConnsTest, AnswerLaterReachesItsClient) {
  ClientLimits l;
  l.max_conns = 2;
  make(l);
  Fd c = connect_client();
  ASSERT_EQ(send(c.get(), "later\n", 6, MSG_NOSIGNAL), 6);
  for (int i = 0; i < 2; ++i) turn(t0_);
  ASSERT_EQ(later_.size(), 1u);
  std::vector<Fd> others;
  for (int i = 0; i < 4; ++i) others.push_back(connect_client());
  for (int i = 0; i < 4; ++i) turn(t0_ + milliseconds(3000));  // past the 2 s deadline
  EXPECT_EQ(conns_->open(), 2u);
  conns_->complete(later_[0], "done\n");
  EXPECT_EQ(read_all(c), "done\n");
  conns_->complete(later_[0], "again\n");  // gone: nothing happens
}

TEST_F(ClientConnsTest, DeadlineClosesASilentClient) {
  ClientLimits l;
  l.deadline = milliseconds(1000);
  make(l);
  Fd c = connect_client();
  turn(t0_);
  EXPECT_EQ(conns_->open(), 1u);
  EXPECT_EQ(conns_->poll_timeout_ms(t0_ + milliseconds(400)), 600);
  turn(t0_ + milliseconds(999));
  EXPECT_EQ(conns_->open(), 1u);
  turn(t0_ + milliseconds(1000));
  EXPECT_EQ(conns_->open(), 0u);
  EXPECT_EQ(conns_->stats().timed_out.load(), 1u);
  EXPECT_EQ(answered_, 0);
}

// A byte every 0.9 s never finishes a request: the deadline is for the
// whole exchange, not renewed by each byte.
TEST_F(ClientConnsTest, TrickleDoesNotRenewTheDeadline) {
  ClientLimits l;
  l.deadline = milliseconds(2000);
  make(l);
  Fd c = connect_client();
  for (int i = 0; i < 3; ++i) {
    ASSERT_EQ(send(c.get(), "x", 1, MSG_NOSIGNAL), 1);
    turn(t0_ + milliseconds(900 * i));
  }
  EXPECT_EQ(conns_->open(), 1u);  // at 1.8 s
  ASSERT_EQ(send(c.get(), "x", 1, MSG_NOSIGNAL), 1);
  turn(t0_ + milliseconds(2700));
  EXPECT_EQ(conns_->open(), 0u);
  EXPECT_EQ(conns_->stats().timed_out.load(), 1u);
  EXPECT_EQ(answered_, 0);
}

TEST_F(ClientConnsTest, OversizeRequestIsRefusedUnread) {
  ClientLimits l;
  l.max_request = 1000;
  make(l);
  Fd c = connect_client();
  std::string big(5000, 'a');
  ASSERT_EQ(send(c.get(), big.data(), big.size(), MSG_NOSIGNAL), ssize_t(big.size()));
  for (int i = 0; i < 4; ++i) turn(t0_);
  EXPECT_EQ(read_all(c), "too large\n");
  EXPECT_EQ(answered_, 0);
  EXPECT_EQ(conns_->stats().too_large.load(), 1u);
}

TEST_F(ClientConnsTest, AWholeLineWithinTheCapIsAnsweredEvenIfMoreFollows) {
  ClientLimits l;
  l.max_request = 1000;
  make(l);
  Fd c = connect_client();
  std::string req = "short\n" + std::string(3000, 'b');
  ASSERT_EQ(send(c.get(), req.data(), req.size(), MSG_NOSIGNAL), ssize_t(req.size()));
  for (int i = 0; i < 4; ++i) turn(t0_);
  EXPECT_EQ(answered_, 1);
}

TEST_F(ClientConnsTest, HalfClosedRequestWithoutNewlineIsAnswered) {
  make(ClientLimits{});
  Fd c = connect_client();
  ASSERT_EQ(send(c.get(), "noeol", 5, MSG_NOSIGNAL), 5);
  shutdown(c.get(), SHUT_WR);
  for (int i = 0; i < 3; ++i) turn(t0_);
  EXPECT_EQ(read_all(c), "re:noeol");
}

}  // namespace
}  // namespace sluice
