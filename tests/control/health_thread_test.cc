// SPDX-License-Identifier: Apache-2.0
// The health checks on their own thread: they keep their schedule while
// the main loop is stalled, and a backend that goes away is seen DOWN on
// schedule (fall x interval + timeout) even though nobody drained reports.
#include "control/health/health_thread.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <map>
#include <thread>

#include "tests/control/local_listener.h"

namespace sluice {
namespace {

using std::chrono::milliseconds;

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

// A health thread checking one backend: a listener on 127.0.0.1.
class HealthThreadTest : public ::testing::Test {
 protected:
  void SetUp() override {
    listener = listen_local(port);
    auto started =
        HealthThread::start(clock, nullptr, [&](const HealthReport& r) { got.push_back(r); });
    ASSERT_TRUE(started.ok()) << started.error().message();
    t = std::move(*started);
    t->update({tcp_check(port)});
  }

  uint16_t port = 0;
  Fd listener;
  SteadyClock clock;
  std::vector<HealthReport> got;
  std::unique_ptr<HealthThread> t;
};

TEST_F(HealthThreadTest, ProbesKeepTheirScheduleWhileTheMainLoopIsStalled) {
  // The "main loop" is busy for a second and drains nothing meanwhile.
  std::this_thread::sleep_for(milliseconds(1000));
  EXPECT_EQ(t->drain(), 1u);  // coalesced: one report per backend
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].status.state, Health::up);
  EXPECT_FALSE(got[0].changed);
  // One probe per 100 ms went on without us: about 10 in a second.
  EXPECT_GE(got[0].status.consecutive_ok, 5u);
}

TEST_F(HealthThreadTest, ABackendThatGoesAwayIsDownOnSchedule) {
  std::this_thread::sleep_for(milliseconds(300));
  listener.reset();  // connects are refused from now on
  auto gone = clock.now();
  std::this_thread::sleep_for(milliseconds(800));  // stalled again
  t->drain();
  ASSERT_FALSE(got.empty());
  const HealthReport& last = got.back();
  EXPECT_EQ(last.status.state, Health::down);
  EXPECT_TRUE(last.changed);
  // fall (2) x interval (100 ms) + timeout (50 ms), plus scheduling slack.
  EXPECT_LE(last.status.last_change - gone, milliseconds(2 * 100 + 50 + 100));
  EXPECT_GT(last.status.last_change, gone);
}

TEST_F(HealthThreadTest, UpdateStopsChecksOfRemovedBackends) {
  std::this_thread::sleep_for(milliseconds(250));
  t->update({});
  std::this_thread::sleep_for(milliseconds(100));
  t->drain();
  got.clear();
  std::this_thread::sleep_for(milliseconds(300));
  EXPECT_EQ(t->drain(), 0u);
  EXPECT_TRUE(got.empty());
}

}  // namespace
}  // namespace sluice
