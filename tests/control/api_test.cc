// SPDX-License-Identifier: Apache-2.0
#include "control/api/api.h"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <cstring>
#include <vector>
#include <atomic>
#include <sys/un.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sstream>
#include <thread>

#include "control/api/api_server.h"
#include "control/ctl/ctl_print.h"
#include "tests/control/api_fixture.h"
#include "tests/control/fake_vrrp_report.h"

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
  EXPECT_EQ(r["syn_flood_protection"], true);
  EXPECT_EQ(r["syn_table_size"], SL_CONN_TABLE_DEFAULT) << "as the connection table";
  EXPECT_TRUE(r["new_flow_limit"].is_null());
  EXPECT_FALSE(r.contains("workers")) << "XDP has no workers of its own";
}

// A dataplane with workers (DPDK) lists each one's packets.
TEST_F(ApiHandlerTest, StatusListsWorkers) {
  dp.workers = {7, 0, 12};
  json r = call(R"({"cmd":"status"})");
  ASSERT_EQ(r["workers"].size(), 3u);
  EXPECT_EQ(r["workers"][0]["worker"], 0);
  EXPECT_EQ(r["workers"][0]["packets"], 7);
  EXPECT_EQ(r["workers"][2]["worker"], 2);
  EXPECT_EQ(r["workers"][2]["packets"], 12);
}

TEST_F(ApiHandlerTest, Lists) {
  json v = call(R"({"cmd":"vip_list"})");
  ASSERT_EQ(v["vips"].size(), 2u);
  EXPECT_EQ(v["vips"][0]["service"], "198.18.0.100:80/tcp");
  EXPECT_EQ(v["vips"][0]["serving"], 2);
  EXPECT_EQ(v["vips"][1]["service"], "[2001:2::100]:53/udp");
  EXPECT_EQ(v["vips"][1]["mode"], "ipip");
  EXPECT_EQ(v["vips"][0]["syn_flood_protection"], true);
  EXPECT_TRUE(v["vips"][0]["new_flow_limit"].is_null());
  EXPECT_EQ(v["vips"][0]["new_flow_limit_scope"], "");
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
  int tx = 0, drops = 0;  // reasons appended later (drop_*, tx_icmp_too_big) included
  for (int r = SL_R_TX_HIT; r < SL_R_MAX; ++r) {
    if (sl_reason_verdict(sl_reason(r)) == SL_VERDICT_TX) tx += r;
    if (sl_reason_verdict(sl_reason(r)) == SL_VERDICT_DROP) drops += r;
  }
  EXPECT_GE(tx, 8 + 9 + 10 + 11 + 12);
  EXPECT_EQ(s["actions"]["tx"], tx);
  EXPECT_EQ(s["actions"]["drop"], drops);
  EXPECT_EQ(s["actions"]["redirect"], 0);
  EXPECT_FALSE(s["reasons"].contains("none"));
}

TEST_F(ApiHandlerTest, NonUtf8InAReplyIsReplacedNotThrown) {
  // The config path comes from the command line and may be any bytes.
  std::string bad = dir + "/\xff\xfe.yaml";
  ASSERT_EQ(rename(path.c_str(), bad.c_str()), 0);
  ConfigStore odd(store->running(), bad, [](const Config&) -> Result<void> { return {}; }, counters);
  ApiHandler h(table, flaky, odd, DaemonInfo{"veth-api"});
  json r = json::parse(h.handle(R"({"cmd":"status"})"));
  EXPECT_EQ(r["ok"], true);
  EXPECT_NE(r["config"].get<std::string>().find("\uFFFD"), std::string::npos);
  ASSERT_EQ(rename(bad.c_str(), path.c_str()), 0);
}

TEST_F(ApiHandlerTest, BadRequestIsAnErrorReply) {
  json r = call("{");
  EXPECT_EQ(r["ok"], false);
  EXPECT_EQ(r["error"], "bad request: not JSON");
}

// Runs the server's poll loop on a thread until `done`.
class ServedApi {
 public:
  explicit ServedApi(ApiServer& server) : server_(server), thread_([this] { run(); }) {}
  ~ServedApi() {
    done_ = true;
    thread_.join();
  }

 private:
  void run() {
    std::vector<pollfd> fds;
    while (!done_) {
      fds.clear();
      server_.poll_fds(fds);
      int t = server_.poll_timeout_ms();
      poll(fds.data(), fds.size(), t < 0 || t > 20 ? 20 : t);
      server_.on_poll(fds.data(), fds.size());
    }
  }
  ApiServer& server_;
  std::atomic<bool> done_{false};
  std::thread thread_;
};

std::string api_test_path(const char* name) {
  return "/tmp/sluice-api-test-" + std::to_string(getpid()) + "/" + name + ".sock";
}

TEST(ApiServer, AnswersOverTheSocketWithMode0600) {
  std::string path = api_test_path("api");
  auto server = ApiServer::listen(path);
  ASSERT_TRUE(server.ok()) << server.error().message();
  struct stat st{};
  ASSERT_EQ(stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  (*server)->set_handler([](std::string_view req, ApiServer::Ticket) -> std::optional<std::string> {
    return "echo " + std::string(req);
  });
  ServedApi served(**server);
  auto reply = api_call(path, R"({"cmd":"status"})");
  ASSERT_TRUE(reply.ok()) << reply.error().message();
  EXPECT_EQ(*reply, R"(echo {"cmd":"status"})");
}

// A connected client that sends nothing (or half a line) must not delay
// the next client: each holds a slot, never the loop.
TEST(ApiServer, SilentAndHalfSentClientsDoNotDelayOthers) {
  std::string path = api_test_path("silent");
  ClientLimits limits = api_client_limits();
  limits.max_conns = 8;
  auto server = ApiServer::listen(path, limits);
  ASSERT_TRUE(server.ok()) << server.error().message();
  (*server)->set_handler(
      [](std::string_view, ApiServer::Ticket) -> std::optional<std::string> { return "ok"; });
  ServedApi served(**server);
  std::vector<Fd> idle;
  for (int i = 0; i < 20; ++i) {  // more than the cap: the oldest are evicted
    Fd fd(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    sockaddr_un sa{};
    sa.sun_family = AF_UNIX;
    std::memcpy(sa.sun_path, path.c_str(), path.size() + 1);
    ASSERT_EQ(connect(fd.get(), reinterpret_cast<sockaddr*>(&sa), sizeof(sa)), 0);
    if (i % 2) {
      ASSERT_EQ(send(fd.get(), "{\"cmd\"", 7, MSG_NOSIGNAL), 7);
    }
    idle.push_back(std::move(fd));
  }
  auto t0 = std::chrono::steady_clock::now();
  auto reply = api_call(path, R"({"cmd":"status"})");
  auto took = std::chrono::steady_clock::now() - t0;
  ASSERT_TRUE(reply.ok()) << reply.error().message();
  EXPECT_EQ(*reply, "ok");
  // Far below the 5 s deadline a silent client could hold before.
  EXPECT_LT(took, std::chrono::milliseconds(1000));
  EXPECT_LE((*server)->stats().active.load(), 8u);
  EXPECT_GE((*server)->stats().evicted.load(), 13u);
}

TEST(ApiServer, RefusesARequestOverTheCap) {
  std::string path = api_test_path("big");
  ClientLimits limits = api_client_limits();
  limits.max_request = 1024;
  auto server = ApiServer::listen(path, limits);
  ASSERT_TRUE(server.ok()) << server.error().message();
  int calls = 0;
  (*server)->set_handler([&](std::string_view, ApiServer::Ticket) -> std::optional<std::string> {
    ++calls;
    return "ok";
  });
  ServedApi served(**server);
  auto reply = api_call(path, std::string(4096, 'x'));
  ASSERT_TRUE(reply.ok()) << reply.error().message();
  EXPECT_EQ(*reply, R"x({"ok":false,"error":"request too large (at most 1024 bytes)"})x");
  EXPECT_EQ(calls, 0);
  EXPECT_EQ((*server)->stats().too_large.load(), 1u);
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

TEST_F(ApiHandlerTest, VrrpWithoutABlockSaysSoAndStatusStaysActive) {
  json v = call(R"({"cmd":"vrrp"})");
  EXPECT_EQ(v, json::parse(R"({"ok":true,"configured":false})"));
  handler->set_vrrp([] { return std::optional<vrrp::VrrpReport>(); });
  EXPECT_EQ(call(R"({"cmd":"vrrp"})")["configured"], false);
  json st = call(R"({"cmd":"status"})");
  EXPECT_EQ(st["role"], "active");
  EXPECT_FALSE(st.contains("vrrp_state"));
}

TEST_F(ApiHandlerTest, StatusRoleFollowsTheVrrpState) {
  vrrp::VrrpReport r = fake_vrrp_report();
  handler->set_vrrp([&r] { return std::optional(r); });
  json st = call(R"({"cmd":"status"})");
  EXPECT_EQ(st["role"], "passive");
  EXPECT_EQ(st["vrrp_state"], "BACKUP");
  r.instance.state = vrrp::State::master;
  st = call(R"({"cmd":"status"})");
  EXPECT_EQ(st["role"], "active");
  EXPECT_EQ(st["vrrp_state"], "MASTER");
  r.instance.state = vrrp::State::initialize;
  EXPECT_EQ(call(R"({"cmd":"status"})")["role"], "passive");
}

TEST_F(ApiHandlerTest, VrrpReportsStateAdvertsAndSync) {
  handler->set_vrrp([] { return std::optional(fake_vrrp_report()); });
  json v = call(R"({"cmd":"vrrp"})");
  ASSERT_EQ(v["ok"], true) << v;
  EXPECT_EQ(v["configured"], true);
  EXPECT_EQ(v["state"], "BACKUP");
  EXPECT_EQ(v["role"], "passive");
  EXPECT_EQ(v["vrid"], 51);
  EXPECT_EQ(v["interface"], "eth0");
  EXPECT_EQ(v["priority"], json::parse(R"({"configured":100,"effective":90,"track_penalty":10})"));
  EXPECT_EQ(v["master"], "198.18.0.2");
  EXPECT_EQ(v["master_priority"], 200);
  EXPECT_EQ(v["advert_interval_ms"], 100);
  EXPECT_EQ(v["master_down_interval_ms"], 360);
  EXPECT_EQ(v["preempt"], true);
  const json& ad = v["adverts"];
  EXPECT_EQ(ad["sent"], 7);
  EXPECT_EQ(ad["received"], 1234);
  EXPECT_EQ(ad["late"], 1);
  EXPECT_DOUBLE_EQ(ad["jitter_max_ms"].get<double>(), 1.25);
  // Every reason is a key, zeros included.
  EXPECT_EQ(ad["refused"].size(), static_cast<size_t>(vrrp::kAdvertDropCount));
  EXPECT_EQ(ad["refused"]["bad_ttl"], 2);
  EXPECT_EQ(ad["refused"]["bad_checksum"], 5);
  EXPECT_EQ(ad["refused"]["bad_vrid"], 0);
  EXPECT_EQ(v["last_transition"]["reason"], "higher_priority");
  EXPECT_EQ(v["last_transition"]["at"], "2026-11-28T03:00:00.250Z");
  EXPECT_TRUE(v["last_transition"]["ago_s"].is_number());
  EXPECT_EQ(v["transitions"], 3);
  const json& s = v["sync"];
  EXPECT_EQ(s["enabled"], true);
  EXPECT_EQ(s["peer"], "198.18.0.2");
  EXPECT_EQ(s["port"], 7900);
  EXPECT_EQ(s["signed"], true);
  EXPECT_EQ(s["sending"], false);
  EXPECT_EQ(s["resynced"], true);
  EXPECT_EQ(s["records"], json::parse(R"({"sent":0,"applied":4000,"no_backend":3,"lost":0})"));
  EXPECT_EQ(s["drops"].size(), static_cast<size_t>(sync::kDropCount));
  EXPECT_EQ(s["drops"]["bad_hmac"], 6);
  EXPECT_EQ(s["drops"]["wrong_source"], 0);
  EXPECT_DOUBLE_EQ(s["lag_ms"].get<double>(), 0.75);
}

TEST_F(ApiHandlerTest, VrrpNeverSetAndSyncOffShowNulls) {
  vrrp::VrrpReport r = fake_vrrp_report();
  r.instance.master.reset();
  r.last_change = {};
  r.sync = vrrp::SyncReport{};
  handler->set_vrrp([&r] { return std::optional(r); });
  json v = call(R"({"cmd":"vrrp"})");
  EXPECT_TRUE(v["master"].is_null());
  EXPECT_TRUE(v["last_transition"]["at"].is_null());
  EXPECT_EQ(v["sync"], json::parse(R"({"enabled":false})"));
}

}  // namespace
}  // namespace sluice
