// SPDX-License-Identifier: Apache-2.0
// The metrics endpoint over a real TCP socket on 127.0.0.1 (ephemeral port).
#include "control/metrics/metrics_server.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <atomic>
#include <chrono>
#include <string>
#include <vector>

#include "core/host/fd.h"

namespace sluice {
namespace {

// One HTTP/1.0 exchange; the server closes after the reply.
std::string http_get(uint16_t port, const std::string& path) {
  Fd s(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  EXPECT_TRUE(s.valid());
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(s.get(), reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0) return "connect failed";
  timeval tv{5, 0};
  setsockopt(s.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  std::string req = "GET " + path + " HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n";
  if (send(s.get(), req.data(), req.size(), MSG_NOSIGNAL) != ssize_t(req.size())) return "send failed";
  std::string reply;
  char buf[4096];
  for (ssize_t n; (n = recv(s.get(), buf, sizeof(buf), 0)) > 0;) reply.append(buf, size_t(n));
  return reply;
}

TEST(MetricsListen, ParsesBothAddressForms) {
  auto v4 = metrics_listen_parse("127.0.0.1:9477");
  ASSERT_TRUE(v4.ok()) << v4.error().message();
  EXPECT_EQ(v4->first, "127.0.0.1");
  EXPECT_EQ(v4->second, 9477);
  auto v6 = metrics_listen_parse("[::1]:9477");
  ASSERT_TRUE(v6.ok()) << v6.error().message();
  EXPECT_EQ(v6->first, "::1");
  EXPECT_EQ(v6->second, 9477);
  for (const char* bad : {"127.0.0.1", ":9477", "127.0.0.1:x", "127.0.0.1:70000", "::1:9477",
                          "[::1]9477", "[::1]:"})
    EXPECT_FALSE(metrics_listen_parse(bad).ok()) << bad;
}

TEST(MetricsServer, ServesTheRenderedTextOnGetMetrics) {
  std::atomic<int> renders{0};
  auto srv = MetricsServer::start("127.0.0.1:0", [&] {
    ++renders;
    return std::string("# TYPE sluice_up gauge\nsluice_up 1\n");
  });
  ASSERT_TRUE(srv.ok()) << srv.error().message();
  ASSERT_NE((*srv)->port(), 0);
  std::string reply = http_get((*srv)->port(), "/metrics");
  EXPECT_EQ(reply.rfind("HTTP/1.1 200", 0), 0u) << reply;
  EXPECT_NE(reply.find("Content-Type: text/plain; version=0.0.4"), std::string::npos) << reply;
  EXPECT_NE(reply.find("\r\n\r\n# TYPE sluice_up gauge\nsluice_up 1\n"), std::string::npos);
  EXPECT_EQ(renders.load(), 1);

  std::string missing = http_get((*srv)->port(), "/nope");
  EXPECT_EQ(missing.rfind("HTTP/1.1 404", 0), 0u) << missing;
  EXPECT_EQ(renders.load(), 1);
}

TEST(MetricsServer, TakenPortIsAStartError) {
  auto first = MetricsServer::start("127.0.0.1:0", [] { return std::string(); });
  ASSERT_TRUE(first.ok()) << first.error().message();
  auto second =
      MetricsServer::start("127.0.0.1:" + std::to_string((*first)->port()), [] { return std::string(); });
  EXPECT_FALSE(second.ok());
}

TEST(MetricsServer, StopsPromptly) {
  for (int i = 0; i < 5; ++i) {
    auto srv = MetricsServer::start("127.0.0.1:0", [] { return std::string(); });
    ASSERT_TRUE(srv.ok()) << srv.error().message();
  }  // each destructor must join its thread
}

Fd connect_local(uint16_t port) {
  Fd s(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  EXPECT_EQ(connect(s.get(), reinterpret_cast<sockaddr*>(&a), sizeof(a)), 0);
  return s;
}

std::string exchange(uint16_t port, const std::string& raw) {
  Fd s = connect_local(port);
  timeval tv{5, 0};
  setsockopt(s.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  (void)send(s.get(), raw.data(), raw.size(), MSG_NOSIGNAL);
  std::string reply;
  char buf[4096];
  for (ssize_t n; (n = recv(s.get(), buf, sizeof(buf), 0)) > 0;) reply.append(buf, size_t(n));
  return reply;
}

TEST(MetricsServer, AnswersOnlyGetMetricsAndRoot) {
  std::atomic<int> renders{0};
  auto srv = MetricsServer::start("127.0.0.1:0", [&] { ++renders; return std::string("x 1\n"); });
  ASSERT_TRUE(srv.ok()) << srv.error().message();
  uint16_t port = (*srv)->port();
  EXPECT_EQ(http_get(port, "/").rfind("HTTP/1.1 200", 0), 0u);
  EXPECT_EQ(http_get(port, "/metrics?x=1").rfind("HTTP/1.1 200", 0), 0u);
  EXPECT_EQ(exchange(port, "POST /metrics HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello")
                .rfind("HTTP/1.1 405", 0), 0u);
  EXPECT_EQ(exchange(port, "garbage\r\n\r\n").rfind("HTTP/1.1 400", 0), 0u);
  EXPECT_EQ(renders.load(), 1);
}

TEST(MetricsServer, HeaderFloodIsRefusedNotAnswered200) {
  std::atomic<int> renders{0};
  auto srv = MetricsServer::start("127.0.0.1:0", [&] { ++renders; return std::string("x 1\n"); });
  ASSERT_TRUE(srv.ok()) << srv.error().message();
  std::string flood = "GET /metrics HTTP/1.1\r\n";
  while (flood.size() < 64 * 1024) flood += "X-Pad: " + std::string(100, 'p') + "\r\n";
  std::string reply = exchange((*srv)->port(), flood);
  EXPECT_EQ(reply.rfind("HTTP/1.1 431", 0), 0u) << reply.substr(0, 80);
  EXPECT_EQ(renders.load(), 0);
  EXPECT_EQ((*srv)->stats().too_large.load(), 1u);
}

// Slowloris: clients that send a header line now and then, and silent
// ones, more than the surface holds. A scrape still gets through at once.
TEST(MetricsServer, SlowAndSilentClientsDoNotBlockAScrape) {
  auto srv = MetricsServer::start("127.0.0.1:0", [] { return std::string("x 1\n"); });
  ASSERT_TRUE(srv.ok()) << srv.error().message();
  uint16_t port = (*srv)->port();
  std::vector<Fd> hogs;
  static_assert(MetricsServer::kMaxConns < 200, "more hogs than slots");
  for (int i = 0; i < 200; ++i) {
    hogs.push_back(connect_local(port));
    if (i % 2) (void)send(hogs.back().get(), "GET /metrics HTTP/1.1\r\n", 23, MSG_NOSIGNAL);
  }
  auto t0 = std::chrono::steady_clock::now();
  std::string reply = http_get(port, "/metrics");
  auto took = std::chrono::steady_clock::now() - t0;
  EXPECT_EQ(reply.rfind("HTTP/1.1 200", 0), 0u) << reply;
  EXPECT_LT(took, std::chrono::milliseconds(1000));  // not behind a 3 s deadline
  EXPECT_LE((*srv)->stats().active.load(), MetricsServer::kMaxConns);
  EXPECT_GT((*srv)->stats().evicted.load(), 0u);
}

}  // namespace
}  // namespace sluice
