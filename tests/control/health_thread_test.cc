// SPDX-License-Identifier: Apache-2.0
// The health checks on their own thread: they keep their schedule while
// the main loop is stalled, and a backend that goes away is seen DOWN on
// schedule (fall x interval + timeout) even though nobody drained reports.
#include "control/health_thread.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <map>
#include <thread>

namespace sluice {
namespace {

using std::chrono::milliseconds;

Fd listen_local(uint16_t& port) {
  Fd fd(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in sin{};
  sin.sin_family = AF_INET;
  sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(sin);
  EXPECT_EQ(bind(fd.get(), reinterpret_cast<sockaddr*>(&sin), len), 0);
  EXPECT_EQ(listen(fd.get(), 64), 0);
  EXPECT_EQ(getsockname(fd.get(), reinterpret_cast<sockaddr*>(&sin), &len), 0);
  port = ntohs(sin.sin_port);
  return fd;
}

HealthCheckDef tcp_check(uint16_t port) {
  HealthCheckDef d;
  d.ref = BackendRef{*IpAddr::parse("198.18.0.100"), 80, IPPROTO_TCP, *IpAddr::parse("127.0.0.1")};
  d.name = "test backend";
  d.spec.addr = *IpAddr::parse("127.0.0.1");
  d.spec.port = port;
  d.spec.timeout = milliseconds(50);
  d.params = {2, 2, milliseconds(100)};
  return d;
}

TEST(HealthThread, ProbesKeepTheirScheduleWhileTheMainLoopIsStalled) {
  uint16_t port = 0;
  Fd listener = listen_local(port);
  SteadyClock clock;
  std::vector<HealthReport> got;
  auto t = HealthThread::start(clock, nullptr, [&](const HealthReport& r) { got.push_back(r); });
  ASSERT_TRUE(t.ok()) << t.error().message();
  (*t)->update({tcp_check(port)});
  // The "main loop" is busy for a second and drains nothing meanwhile.
  std::this_thread::sleep_for(milliseconds(1000));
  EXPECT_EQ((*t)->drain(), 1u);  // coalesced: one report per backend
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].status.state, Health::up);
  EXPECT_FALSE(got[0].changed);
  // One probe per 100 ms went on without us: about 10 in a second.
  EXPECT_GE(got[0].status.consecutive_ok, 5u);
}

TEST(HealthThread, ABackendThatGoesAwayIsDownOnSchedule) {
  uint16_t port = 0;
  Fd listener = listen_local(port);
  SteadyClock clock;
  std::vector<HealthReport> got;
  auto t = HealthThread::start(clock, nullptr, [&](const HealthReport& r) { got.push_back(r); });
  ASSERT_TRUE(t.ok()) << t.error().message();
  (*t)->update({tcp_check(port)});
  std::this_thread::sleep_for(milliseconds(300));
  listener.reset();  // connects are refused from now on
  auto gone = clock.now();
  std::this_thread::sleep_for(milliseconds(800));  // stalled again
  (*t)->drain();
  ASSERT_FALSE(got.empty());
  const HealthReport& last = got.back();
  EXPECT_EQ(last.status.state, Health::down);
  EXPECT_TRUE(last.changed);
  // fall (2) x interval (100 ms) + timeout (50 ms), plus scheduling slack.
  EXPECT_LE(last.status.last_change - gone, milliseconds(2 * 100 + 50 + 100));
  EXPECT_GT(last.status.last_change, gone);
}

TEST(HealthThread, UpdateStopsChecksOfRemovedBackends) {
  uint16_t port = 0;
  Fd listener = listen_local(port);
  SteadyClock clock;
  std::vector<HealthReport> got;
  auto t = HealthThread::start(clock, nullptr, [&](const HealthReport& r) { got.push_back(r); });
  ASSERT_TRUE(t.ok()) << t.error().message();
  (*t)->update({tcp_check(port)});
  std::this_thread::sleep_for(milliseconds(250));
  (*t)->update({});
  std::this_thread::sleep_for(milliseconds(100));
  (*t)->drain();
  got.clear();
  std::this_thread::sleep_for(milliseconds(300));
  EXPECT_EQ((*t)->drain(), 0u);
  EXPECT_TRUE(got.empty());
}

}  // namespace
}  // namespace sluice
