// SPDX-License-Identifier: Apache-2.0
// Repeated warnings are said once per interval with a count, and the
// service table reports thousands of unresolved MACs as one line.
#include "control/daemon/log_limit.h"

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>

#include <sstream>
#include <string>

#include "control/daemon/service_table.h"
#include "tests/control/fake_dataplane.h"

namespace sluice {
namespace {

using std::chrono::seconds;

TEST(LogLimit, OncePerIntervalWithTheCountHeldBack) {
  LogLimit limit(seconds(60));
  auto t = LogLimit::Clock::time_point{} + seconds(1000);
  EXPECT_EQ(limit.take(t), 0u);  // the first is said
  for (int i = 0; i < 9; ++i) EXPECT_EQ(limit.take(t + seconds(i)), std::nullopt);
  EXPECT_EQ(limit.take(t + seconds(60)), 9u);  // then with what was held back
  EXPECT_EQ(limit.take(t + seconds(61)), std::nullopt);
  limit.reset();
  EXPECT_EQ(limit.take(t + seconds(62)), 0u);  // news is said at once
}

// Captures what spdlog's default logger writes while alive.
class LogCapture {
 public:
  LogCapture() : old_(spdlog::default_logger()) {
    auto sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(out_);
    spdlog::set_default_logger(std::make_shared<spdlog::logger>("capture", sink));
  }
  ~LogCapture() { spdlog::set_default_logger(old_); }
  size_t lines_with(const std::string& needle) const {
    std::istringstream in(out_.str());
    size_t n = 0;
    for (std::string l; std::getline(in, l);) n += l.find(needle) != std::string::npos;
    return n;
  }
  std::string text() const { return out_.str(); }

 private:
  std::ostringstream out_;
  std::shared_ptr<spdlog::logger> old_;
};

TEST(ServiceTableLog, TenThousandUnresolvedMacsAreOneLine) {
  FakeDataplane dp;
  FakeMacResolver resolver;
  ServiceTable table(dp, resolver);
  VipConfig v;
  v.address = *IpAddr::parse("198.18.0.100");
  v.port = 80;
  v.protocol = IPPROTO_TCP;
  v.mode = SL_MODE_DSR;
  for (int i = 0; i < 10000; ++i) {
    auto a = *IpAddr::parse("198.19." + std::to_string(i / 250) + "." + std::to_string(i % 250 + 1));
    v.backends.push_back(BackendConfig{a, 1, false});
    resolver.missing.push_back(a);
  }
  LogCapture log;
  ASSERT_TRUE(table.apply({v}, {}).ok());
  for (int pass = 0; pass < 5; ++pass) ASSERT_TRUE(table.refresh_macs().ok());
  EXPECT_EQ(table.unresolved(), 10000u);
  EXPECT_EQ(log.lines_with("MAC not resolved for 10000 backends"), 1u) << log.text();
  EXPECT_EQ(log.lines_with("198.19."), 1u);  // one example, not one line each
  // Fewer missing is news: said at once, with the new count.
  resolver.missing.resize(9998);
  ASSERT_TRUE(table.refresh_macs().ok());
  EXPECT_EQ(log.lines_with("MAC not resolved for 9998 backends"), 1u) << log.text();
  resolver.missing.clear();
  ASSERT_TRUE(table.refresh_macs().ok());
  EXPECT_EQ(log.lines_with("every backend MAC is resolved now"), 1u);
  EXPECT_EQ(log.lines_with("MAC now"), 2u + 8u);  // the 2 above; then 8 and a count
  EXPECT_EQ(log.lines_with("... and 9990 more backend MACs changed"), 1u);
  EXPECT_EQ(table.unresolved(), 0u);
}

}  // namespace
}  // namespace sluice
