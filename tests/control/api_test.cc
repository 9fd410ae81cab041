// SPDX-License-Identifier: Apache-2.0
#include "control/api.h"

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sstream>
#include <thread>

#include "control/api_server.h"
#include "control/ctl_print.h"
#include "tests/control/api_fixture.h"

namespace sluice {
namespace {

using nlohmann::json;

class ApiHandlerTest : public ApiFixture {};

TEST_F(ApiHandlerTest, Status) {
  json r = call(R"({"cmd":"status"})");
  EXPECT_EQ(r["ok"], true);
  EXPECT_EQ(r["interface"], "veth-api");
  EXPECT_EQ(r["xdp_mode"], "generic");
  EXPECT_EQ(r["role"], "active");
  EXPECT_EQ(r["vips"], 2);
  EXPECT_EQ(r["backends"], 4);
  EXPECT_EQ(r["config"], path);
}

TEST_F(ApiHandlerTest, Lists) {
  json v = call(R"({"cmd":"vip_list"})");
  ASSERT_EQ(v["vips"].size(), 2u);
  EXPECT_EQ(v["vips"][0]["service"], "198.18.0.100:80/tcp");
  EXPECT_EQ(v["vips"][0]["serving"], 2);
  EXPECT_EQ(v["vips"][1]["service"], "[2001:2::100]:53/udp");
  EXPECT_EQ(v["vips"][1]["mode"], "ipip");
  json b = call(R"({"cmd":"backend_list"})");
  ASSERT_EQ(b["backends"].size(), 4u);
  EXPECT_EQ(b["backends"][0]["state"], "serving");
  EXPECT_EQ(b["backends"][2]["state"], "standby");
  EXPECT_EQ(b["backends"][2]["backup"], true);
  EXPECT_EQ(b["backends"][1]["drained"], false);
}

TEST_F(ApiHandlerTest, StatsDeriveActionsFromReasons) {
  json s = call(R"({"cmd":"stats"})");
  ASSERT_EQ(s["ok"], true);
  EXPECT_EQ(s["vips"][0]["packets"], 100 + table.vips()[0].vip_id);
  EXPECT_EQ(s["backends"].size(), 4u);
  EXPECT_EQ(s["reasons"]["tx_new"]["packets"], SL_R_TX_NEW);
  // The fake counts r packets for reason r.
  EXPECT_EQ(s["actions"]["pass"], 1 + 2 + 3 + 4 + 5 + 6 + 7);
  EXPECT_EQ(s["actions"]["tx"], 8 + 9 + 10 + 11 + 12);
  EXPECT_EQ(s["actions"]["drop"], 13 + 14 + 15 + 16);
  EXPECT_EQ(s["actions"]["redirect"], 0);
  EXPECT_FALSE(s["reasons"].contains("none"));
}

TEST_F(ApiHandlerTest, BadRequestIsAnErrorReply) {
  json r = call("{");
  EXPECT_EQ(r["ok"], false);
  EXPECT_EQ(r["error"], "bad request: not JSON");
}

TEST(ApiServer, AnswersOverTheSocketWithMode0600) {
  std::string path = "/tmp/sluice-api-test-" + std::to_string(getpid()) + "/api.sock";
  auto server = ApiServer::listen(path);
  ASSERT_TRUE(server.ok()) << server.error().message();
  struct stat st{};
  ASSERT_EQ(stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  std::thread t([&] {
    pollfd pfd{server->fd(), POLLIN, 0};
    poll(&pfd, 1, 5000);
    server->serve_one([](std::string_view req) { return "echo " + std::string(req); });
  });
  auto reply = api_call(path, R"({"cmd":"status"})");
  t.join();
  ASSERT_TRUE(reply.ok()) << reply.error().message();
  EXPECT_EQ(*reply, R"(echo {"cmd":"status"})");
}

TEST(ApiClient, ReportsAMissingSocket) {
  auto reply = api_call("/nonexistent/sluiced.sock", "{}");
  ASSERT_FALSE(reply.ok());
  EXPECT_EQ(reply.error().message(),
            "cannot connect to /nonexistent/sluiced.sock: No such file or directory");
}

TEST(TextTable, AlignsColumns) {
  TextTable t({"A", "LONGER"});
  t.add({"xyz", "1"});
  std::ostringstream out;
  t.print(out);
  EXPECT_EQ(out.str(), "A    LONGER\nxyz  1\n");
}

}  // namespace
}  // namespace sluice
