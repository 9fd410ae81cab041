// SPDX-License-Identifier: Apache-2.0
// The probes against real listeners on 127.0.0.1 inside the test process.
#include "control/health/health_prober.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <atomic>
#include <thread>

#include "tests/control/fake_clock.h"
#include "tests/control/local_listener.h"

namespace sluice {
namespace {

using std::chrono::milliseconds;

// Answers one connection with `reply` once it has read the request head,
// then closes it.
class HttpResponder {
 public:
  explicit HttpResponder(std::string reply) : reply_(std::move(reply)) {
    listener_ = listen_local(port_);
    thread_ = std::thread([this] { serve(); });
  }
  ~HttpResponder() { thread_.join(); }
  uint16_t port() const { return port_; }
  std::string request() {
    thread_.join();
    thread_ = std::thread([] {});
    return request_;
  }

 private:
  void serve() {
    Fd conn(accept(listener_.get(), nullptr, nullptr));
    char buf[1024];
    while (request_.find("\r\n\r\n") == std::string::npos) {
      ssize_t n = recv(conn.get(), buf, sizeof(buf), 0);
      if (n <= 0) return;
      request_.append(buf, static_cast<size_t>(n));
    }
    (void)send(conn.get(), reply_.data(), reply_.size(), MSG_NOSIGNAL);
  }

  std::string reply_;
  Fd listener_;
  uint16_t port_ = 0;
  std::string request_;
  std::thread thread_;
};

ProbeSpec spec(uint16_t port, bool http = false) {
  ProbeSpec s;
  s.addr = *IpAddr::parse("127.0.0.1");
  s.port = port;
  s.http = http;
  s.timeout = milliseconds(300);
  return s;
}

// Drives the prober the way the daemon's loop does, until the probe ends.
ProbeResult run(const ProbeSpec& s) {
  SteadyClock clock;
  HealthProber prober(clock);
  std::optional<ProbeResult> got;
  prober.start(s, [&](const ProbeResult& r) { got = r; });
  EXPECT_FALSE(got.has_value());  // never from inside start()
  for (int i = 0; i < 1000 && !got; ++i) {
    std::vector<pollfd> fds;
    prober.poll_fds(fds);
    poll(fds.data(), fds.size(), prober.poll_timeout_ms());
    prober.on_poll(fds.data(), fds.size());
  }
  EXPECT_EQ(prober.in_flight(), 0u);
  return got.value_or(ProbeResult{false, "no result"});
}

TEST(HealthProber, TcpConnectToAListenerSucceeds) {
  uint16_t port = 0;
  Fd listener = listen_local(port);
  ProbeResult r = run(spec(port));
  EXPECT_TRUE(r.ok) << r.error;
}

TEST(HealthProber, TcpConnectToAClosedPortIsRefused) {
  uint16_t port = 0;
  { Fd gone = listen_local(port); }
  ProbeResult r = run(spec(port));
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.error, "connect: Connection refused");
}

TEST(HealthProber, Http200IsHealthyAndTheRequestIsHttp10) {
  HttpResponder be("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
  ProbeSpec s = spec(be.port(), true);
  s.path = "/healthz";
  ProbeResult r = run(s);
  EXPECT_TRUE(r.ok) << r.error;
  EXPECT_EQ(be.request(),
            "GET /healthz HTTP/1.0\r\nHost: 127.0.0.1\r\nUser-Agent: sluice-health\r\n"
            "Connection: close\r\n\r\n");
}

TEST(HealthProber, HttpHostHeaderIsConfigurable) {
  HttpResponder be("HTTP/1.0 301 Moved\r\n\r\n");
  ProbeSpec s = spec(be.port(), true);
  s.host = "www.example.com";
  EXPECT_TRUE(run(s).ok);
  EXPECT_NE(be.request().find("\r\nHost: www.example.com\r\n"), std::string::npos);
}

TEST(HealthProber, Http503IsAFailure) {
  HttpResponder be("HTTP/1.1 503 Service Unavailable\r\n\r\n");
  ProbeResult r = run(spec(be.port(), true));
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.error, "http status 503");
}

TEST(HealthProber, ExpectListOverridesTheDefaultCodes) {
  {
    HttpResponder be("HTTP/1.1 204 No Content\r\n\r\n");
    ProbeSpec s = spec(be.port(), true);
    s.expect = {200};
    EXPECT_EQ(run(s).error, "http status 204");
  }
  HttpResponder be("HTTP/1.1 404 Not Found\r\n\r\n");
  ProbeSpec s = spec(be.port(), true);
  s.expect = {200, 404};
  EXPECT_TRUE(run(s).ok);
}

TEST(HealthProber, GarbageIsAFailure) {
  HttpResponder be("SSH-2.0-OpenSSH_9.2\r\n");
  ProbeResult r = run(spec(be.port(), true));
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.error, "http: bad status line");
}

TEST(HealthProber, ClosedWithoutAReplyIsAFailure) {
  HttpResponder be("");
  ProbeResult r = run(spec(be.port(), true));
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.error, "http: connection closed without a reply");
}

TEST(HealthProber, ABackendThatNeverAnswersTimesOut) {
  uint16_t port = 0;
  Fd listener = listen_local(port);  // completes handshakes, never reads
  auto start = std::chrono::steady_clock::now();
  ProbeResult r = run(spec(port, true));
  auto took = std::chrono::steady_clock::now() - start;
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.error, "timeout after 300 ms (http reply)");
  EXPECT_GE(took, milliseconds(300));
  EXPECT_LT(took, milliseconds(2000));
}

TEST(HealthProber, CancelledProbeNeverReports) {
  uint16_t port = 0;
  Fd listener = listen_local(port);
  SteadyClock clock;
  HealthProber prober(clock);
  bool called = false;
  auto id = prober.start(spec(port), [&](const ProbeResult&) { called = true; });
  prober.cancel(id);
  EXPECT_EQ(prober.in_flight(), 0u);
  EXPECT_EQ(prober.poll_timeout_ms(), -1);
  prober.on_poll(nullptr, 0);
  EXPECT_FALSE(called);
}

// One turn of a loop that was busy for `stall` before it looked: the
// answers that came meanwhile are judged on what they say, not timed out
// by the clock (a busy controller is not a failed backend).
std::optional<ProbeResult> run_after_stall(const ProbeSpec& s, std::chrono::seconds stall) {
  FakeClock clock;
  HealthProber prober(clock);
  std::optional<ProbeResult> got;
  prober.start(s, [&](const ProbeResult& r) { got = r; });
  for (int i = 0; i < 20 && !got; ++i) {
    std::vector<pollfd> fds;
    prober.poll_fds(fds);
    (void)prober.poll_timeout_ms();  // what the loop asks for before it polls
    std::this_thread::sleep_for(milliseconds(50));  // the answer arrives...
    // ...while the loop is stalled (first turn), then turns come on time.
    clock.advance(i == 0 ? std::chrono::duration_cast<milliseconds>(stall) : milliseconds(50));
    poll(fds.data(), fds.size(), 0);
    prober.on_poll(fds.data(), fds.size());
  }
  return got;
}

TEST(HealthProber, TcpAnswerThatCameDuringAStallIsNotATimeout) {
  uint16_t port = 0;
  Fd listener = listen_local(port);
  auto r = run_after_stall(spec(port), std::chrono::seconds(10));
  ASSERT_TRUE(r.has_value());
  EXPECT_TRUE(r->ok) << r->error;
}

TEST(HealthProber, HttpAnswerThatCameDuringAStallIsNotATimeout) {
  HttpResponder backend("HTTP/1.0 200 OK\r\n\r\n");
  auto r = run_after_stall(spec(backend.port(), true), std::chrono::seconds(10));
  ASSERT_TRUE(r.has_value());
  EXPECT_TRUE(r->ok) << r->error;
}

TEST(HealthProber, NoAnswerAfterAStallIsStillATimeout) {
  uint16_t port = 0;
  Fd listener = listen_local(port);  // completes handshakes, never reads
  auto r = run_after_stall(spec(port, true), std::chrono::seconds(10));
  ASSERT_TRUE(r.has_value());
  EXPECT_FALSE(r->ok);
  EXPECT_EQ(r->error, "timeout after 300 ms (http reply)");
}

TEST(HttpStatusLine, Judged) {
  struct Case {
    const char* line;
    bool ok;
    const char* error;
  } cases[] = {
      {"HTTP/1.1 200 OK\r", true, ""},
      {"HTTP/1.0 302 Found", true, ""},
      {"HTTP/1.1 399", true, ""},
      {"HTTP/1.1 199 Weird", false, "http status 199"},
      {"HTTP/1.1 400 Bad Request", false, "http status 400"},
      {"HTTP/2 200", false, "http: bad status line"},
      {"HTTP/1.1 20 OK", false, "http: bad status line"},
      {"HTTP/1.1 2000 OK", false, "http: bad status line"},
      {"", false, "http: bad status line"},
  };
  for (const auto& c : cases) {
    ProbeResult r = http_judge_status_line(c.line, {});
    EXPECT_EQ(r.ok, c.ok) << c.line;
    EXPECT_EQ(r.error, c.error) << c.line;
  }
}

TEST(HttpRequest, Ipv6HostIsBracketed) {
  ProbeSpec s;
  s.addr = *IpAddr::parse("2001:2::11");
  EXPECT_EQ(http_probe_request(s),
            "GET / HTTP/1.0\r\nHost: [2001:2::11]\r\nUser-Agent: sluice-health\r\n"
            "Connection: close\r\n\r\n");
}

}  // namespace
}  // namespace sluice
