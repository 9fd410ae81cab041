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
#include "tests/control/fake_dataplane.h"

namespace sluice {
namespace {

using nlohmann::json;

struct RequestCase {
  const char* text;
  bool ok;
  ApiCommand cmd;
  const char* error;
};

TEST(ApiRequest, Parses) {
  const RequestCase cases[] = {
      {R"({"cmd":"status"})", true, ApiCommand::status, ""},
      {R"({"cmd":"vip_list"})", true, ApiCommand::vip_list, ""},
      {R"( {"cmd":"backend_list","extra":1} )", true, ApiCommand::backend_list, ""},
      {R"({"cmd":"stats"})", true, ApiCommand::stats, ""},
      {"status", false, {}, "bad request: not JSON"},
      {"", false, {}, "bad request: not JSON"},
      {R"(["status"])", false, {}, "bad request: must be a JSON object"},
      {R"({"command":"status"})", false, {}, "bad request: \"cmd\" (a string) is required"},
      {R"({"cmd":7})", false, {}, "bad request: \"cmd\" (a string) is required"},
      {R"({"cmd":"reboot"})", false, {}, "bad request: unknown command 'reboot'"},
  };
  for (const auto& c : cases) {
    auto r = api_parse_request(c.text);
    ASSERT_EQ(r.ok(), c.ok) << c.text;
    if (c.ok)
      EXPECT_EQ(r->cmd, c.cmd) << c.text;
    else
      EXPECT_EQ(r.error().message(), c.error) << c.text;
  }
}

class ApiHandlerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    VipConfig v;
    v.address = *IpAddr::parse("198.18.0.100");
    v.port = 80;
    v.protocol = IPPROTO_TCP;
    v.backends = {{*IpAddr::parse("198.18.0.11"), 1, false},
                  {*IpAddr::parse("198.18.0.12"), 1, true}};
    ASSERT_TRUE(table.apply({v}, {}).ok());
  }
  json call(const std::string& req) { return json::parse(handler.handle(req)); }

  FakeDataplane dp;
  FakeMacResolver resolver;
  ServiceTable table{dp, resolver};
  ApiHandler handler{table, dp, DaemonInfo{"veth-lb1", "xdp", true, "/sys/fs/bpf/x"}};
};

TEST_F(ApiHandlerTest, Status) {
  json r = call(R"({"cmd":"status"})");
  EXPECT_EQ(r["ok"], true);
  EXPECT_EQ(r["interface"], "veth-lb1");
  EXPECT_EQ(r["xdp_mode"], "generic");
  EXPECT_EQ(r["role"], "active");
  EXPECT_EQ(r["vips"], 1);
  EXPECT_EQ(r["backends"], 2);
}

TEST_F(ApiHandlerTest, Lists) {
  json v = call(R"({"cmd":"vip_list"})");
  ASSERT_EQ(v["vips"].size(), 1u);
  EXPECT_EQ(v["vips"][0]["service"], "198.18.0.100:80/tcp");
  EXPECT_EQ(v["vips"][0]["serving"], 1);
  json b = call(R"({"cmd":"backend_list"})");
  ASSERT_EQ(b["backends"].size(), 2u);
  EXPECT_EQ(b["backends"][0]["state"], "serving");
  EXPECT_EQ(b["backends"][1]["state"], "standby");
  EXPECT_EQ(b["backends"][1]["backup"], true);
}

TEST_F(ApiHandlerTest, StatsDeriveActionsFromReasons) {
  json s = call(R"({"cmd":"stats"})");
  ASSERT_EQ(s["ok"], true);
  EXPECT_EQ(s["vips"][0]["packets"], 100);
  EXPECT_EQ(s["backends"][1]["packets"], 1);
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
