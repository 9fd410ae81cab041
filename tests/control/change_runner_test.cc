// SPDX-License-Identifier: Apache-2.0
// Changes off the loop: the reply comes later, in order, and read-only
// requests are answered while a change is being prepared.
#include "control/api/change_runner.h"

#include <gtest/gtest.h>
#include <poll.h>

#include <vector>

#include "tests/control/api_fixture.h"

namespace sluice {
namespace {

using nlohmann::json;

class ChangeRunnerTest : public ApiFixture {
 protected:
  void SetUp() override {
    ApiFixture::SetUp();
    auto r = ChangeRunner::create(*store);
    ASSERT_TRUE(r.ok()) << r.error().message();
    runner = std::move(*r);
  }
  // Sends a request the way the daemon does; the reply lands in `replies`.
  std::optional<std::string> send(const std::string& req) {
    return handler->handle_async(req, *runner, [this](std::string r) { replies.push_back(r); });
  }
  // Loop turns until `n` replies came (or 5 s).
  void turn_until(size_t n) {
    for (int i = 0; i < 500 && replies.size() < n; ++i) {
      std::vector<pollfd> fds;
      runner->poll_fds(fds);
      poll(fds.data(), fds.size(), 10);
      runner->on_poll(fds.data(), fds.size());
    }
  }

  std::unique_ptr<ChangeRunner> runner;
  std::vector<std::string> replies;
};

TEST_F(ChangeRunnerTest, AChangeRepliesLaterAndIsApplied) {
  auto now = send(R"({"cmd":"backend_add","service":"198.18.0.100:80/tcp","address":"198.18.0.14"})");
  EXPECT_FALSE(now.has_value());  // not answered inline
  EXPECT_EQ(runner->queued(), 1u);
  turn_until(1);
  ASSERT_EQ(replies.size(), 1u);
  EXPECT_EQ(json::parse(replies[0])["ok"], true) << replies[0];
  EXPECT_NE(file_text().find("198.18.0.14"), std::string::npos);
  EXPECT_EQ(store->running().vips[0].backends.size(), 4u);
  EXPECT_EQ(counters.api_changes.load(), 1u);
}

TEST_F(ChangeRunnerTest, ReadOnlyRequestsAreAnsweredWhileAChangeIsPending) {
  ASSERT_FALSE(send(R"({"cmd":"backend_add","service":"198.18.0.100:80/tcp","address":"198.18.0.14"})"));
  auto status = send(R"({"cmd":"status"})");
  ASSERT_TRUE(status.has_value());
  EXPECT_EQ(json::parse(*status)["ok"], true);
  turn_until(1);
  EXPECT_EQ(replies.size(), 1u);
}

TEST_F(ChangeRunnerTest, QueuedChangesApplyInOrderEachOnTheLast) {
  ASSERT_FALSE(send(R"({"cmd":"backend_add","service":"198.18.0.100:80/tcp","address":"198.18.0.14"})"));
  // Refused only once the add before it is applied: it must see it.
  ASSERT_FALSE(send(R"({"cmd":"backend_add","service":"198.18.0.100:80/tcp","address":"198.18.0.14"})"));
  ASSERT_FALSE(send(R"({"cmd":"backend_del","service":"198.18.0.100:80/tcp","address":"198.18.0.14"})"));
  turn_until(3);
  ASSERT_EQ(replies.size(), 3u);
  EXPECT_EQ(json::parse(replies[0])["ok"], true);
  EXPECT_EQ(json::parse(replies[1])["ok"], false) << replies[1];
  EXPECT_EQ(json::parse(replies[2])["ok"], true);
  EXPECT_EQ(file_text().find("198.18.0.14"), std::string::npos);
}

TEST_F(ChangeRunnerTest, ReloadRepliesWithTheVipCount) {
  ASSERT_FALSE(send(R"({"cmd":"reload"})"));
  turn_until(1);
  ASSERT_EQ(replies.size(), 1u);
  json r = json::parse(replies[0]);
  EXPECT_EQ(r["ok"], true);
  EXPECT_EQ(r["vips"], 2);
  EXPECT_EQ(counters.config_reloads.load(), 1u);
}

// An edit refused before any work starts (duplicate backend, host bits in
// an ACL prefix) is answered inline: the server takes a later reply only
// once handle_async returned nullopt, so one given through `later` during
// the call would be lost and the client left waiting.
TEST_F(ChangeRunnerTest, ARefusedEditIsAnsweredInline) {
  for (const char* req :
       {R"({"cmd":"backend_add","service":"198.18.0.100:80/tcp","address":"198.18.0.11"})",
        R"({"cmd":"acl_add","action":"deny","cidr":"198.18.0.5/24"})",
        R"({"cmd":"acl_del","action":"deny","cidr":"198.18.0.0/24"})"}) {
    auto now = send(req);
    ASSERT_TRUE(now.has_value()) << req;
    EXPECT_EQ(json::parse(*now)["ok"], false) << *now;
  }
  EXPECT_TRUE(replies.empty());
  EXPECT_EQ(runner->queued(), 0u);
}

TEST_F(ChangeRunnerTest, TooManyQueuedIsRefusedAtOnce) {
  size_t refused = 0;
  for (size_t i = 0; i < ChangeRunner::kMaxQueued + 5; ++i)
    runner->reload([&](const Result<void>& r) { refused += !r.ok(); });
  EXPECT_EQ(refused, 4u);  // one runs, kMaxQueued wait, the rest are refused
  EXPECT_EQ(runner->queued(), ChangeRunner::kMaxQueued + 1);
  for (int i = 0; i < 2000 && runner->queued() > 0; ++i) {
    std::vector<pollfd> fds;
    runner->poll_fds(fds);
    poll(fds.data(), fds.size(), 10);
    runner->on_poll(fds.data(), fds.size());
  }
  EXPECT_EQ(runner->queued(), 0u);
}

}  // namespace
}  // namespace sluice
