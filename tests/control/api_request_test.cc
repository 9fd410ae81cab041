// SPDX-License-Identifier: Apache-2.0
#include "control/api/api_request.h"

#include <gtest/gtest.h>
#include <netinet/in.h>

#include <nlohmann/json.hpp>

#include "control/api/api.h"

namespace sluice {
namespace {

struct Good {
  const char* text;
  ApiCommand cmd;
};

TEST(ApiRequest, ParsesEveryCommand) {
  const Good cases[] = {
      {R"({"cmd":"status"})", ApiCommand::status},
      {R"({"cmd":"vip_list"})", ApiCommand::vip_list},
      {R"( {"cmd":"backend_list"} )", ApiCommand::backend_list},
      {R"({"cmd":"stats"})", ApiCommand::stats},
      {R"({"cmd":"conns"})", ApiCommand::conns},
      {R"({"cmd":"conns","vip":"198.18.0.100:80/tcp","limit":5})", ApiCommand::conns},
      {R"({"cmd":"vip_add","service":"198.18.0.100:80/tcp","mode":"ipip"})", ApiCommand::vip_add},
      {R"({"cmd":"vip_add","service":"[2001:2::100]:53/udp"})", ApiCommand::vip_add},
      {R"({"cmd":"vip_del","service":"198.18.0.100:80/tcp"})", ApiCommand::vip_del},
      {R"({"cmd":"backend_add","service":"198.18.0.100:80/tcp","address":"198.18.0.11",
           "weight":2,"backup":true})", ApiCommand::backend_add},
      {R"({"cmd":"backend_del","service":"198.18.0.100:80/tcp","address":"198.18.0.11"})",
       ApiCommand::backend_del},
      {R"({"cmd":"backend_set","service":"198.18.0.100:80/tcp","address":"198.18.0.11",
           "weight":0})", ApiCommand::backend_set},
      {R"({"cmd":"backend_drain","service":"198.18.0.100:80/tcp","address":"198.18.0.11"})",
       ApiCommand::backend_drain},
      {R"({"cmd":"backend_undrain","service":"198.18.0.100:80/tcp","address":"198.18.0.11"})",
       ApiCommand::backend_undrain},
      {R"({"cmd":"reload"})", ApiCommand::reload},
      {R"({"cmd":"detach"})", ApiCommand::detach},
      {R"({"cmd":"vrrp"})", ApiCommand::vrrp},
  };
  for (const auto& c : cases) {
    auto r = api_parse_request(c.text);
    ASSERT_TRUE(r.ok()) << c.text << ": " << r.error().message();
    EXPECT_EQ(r->cmd, c.cmd) << c.text;
    EXPECT_STREQ(api_command_name(r->cmd), nlohmann::json::parse(c.text)["cmd"]
                                                .get<std::string>().c_str());
  }
}

TEST(ApiRequest, FieldsAndDefaults) {
  auto add = api_parse_request(R"({"cmd":"backend_add","service":"[2001:2::100]:80/udp",
                                   "address":"2001:2::11"})");
  ASSERT_TRUE(add.ok());
  EXPECT_EQ(add->service->str(), "[2001:2::100]:80/udp");
  EXPECT_EQ(add->service->protocol, IPPROTO_UDP);
  EXPECT_EQ(add->address->str(), "2001:2::11");
  EXPECT_FALSE(add->weight.has_value());  // the edit picks 1
  EXPECT_FALSE(add->backup);
  auto conns = api_parse_request(R"({"cmd":"conns"})");
  EXPECT_EQ(conns->limit, kConnsDefaultLimit);
  EXPECT_FALSE(conns->service.has_value());
  auto vip = api_parse_request(R"({"cmd":"vip_add","service":"198.18.0.100:80/tcp"})");
  EXPECT_EQ(vip->mode, SL_MODE_DSR);
}

struct Bad {
  const char* text;
  const char* error;
};

TEST(ApiRequest, EveryErrorNamesTheField) {
  const Bad cases[] = {
      {"status", "bad request: not JSON"},
      {"", "bad request: not JSON"},
      {R"(["status"])", "bad request: must be a JSON object"},
      {R"({"command":"status"})", "bad request: \"cmd\" (a string) is required"},
      {R"({"cmd":7})", "bad request: \"cmd\" (a string) is required"},
      {R"({"cmd":"reboot"})", "bad request: unknown command 'reboot'"},
      {R"({"cmd":"status","extra":1})", "bad request: extra: unknown field for status"},
      {R"({"cmd":"vip_del","service":"198.18.0.100:80/tcp","mode":"dsr"})",
       "bad request: mode: unknown field for vip_del"},
      {R"({"cmd":"vip_add"})", "bad request: service: required"},
      {R"({"cmd":"backend_add","service":"198.18.0.100:80/tcp"})",
       "bad request: address: required"},
      {R"({"cmd":"backend_set","service":"198.18.0.100:80/tcp","address":"198.18.0.11"})",
       "bad request: weight: required"},
      {R"({"cmd":"vip_add","service":7})", "bad request: service: must be a string"},
      {R"({"cmd":"vip_add","service":"198.18.0.100:80"})",
       "bad request: service: must be ADDR:PORT/PROTO ([ADDR]:PORT/PROTO for IPv6, PROTO "
       "tcp|udp), got '198.18.0.100:80'"},
      {R"({"cmd":"vip_del","service":"2001:2::100:80/tcp"})",
       "bad request: service: must be ADDR:PORT/PROTO ([ADDR]:PORT/PROTO for IPv6, PROTO "
       "tcp|udp), got '2001:2::100:80/tcp'"},
      {R"({"cmd":"vip_del","service":"198.18.0.100:0/tcp"})",
       "bad request: service: must be ADDR:PORT/PROTO ([ADDR]:PORT/PROTO for IPv6, PROTO "
       "tcp|udp), got '198.18.0.100:0/tcp'"},
      {R"({"cmd":"vip_del","service":"198.18.0.100:80/sctp"})",
       "bad request: service: must be ADDR:PORT/PROTO ([ADDR]:PORT/PROTO for IPv6, PROTO "
       "tcp|udp), got '198.18.0.100:80/sctp'"},
      {R"({"cmd":"vip_add","service":"198.18.0.100:80/tcp","mode":"nat"})",
       "bad request: mode: must be dsr|ipip, got 'nat'"},
      {R"({"cmd":"backend_del","service":"198.18.0.100:80/tcp","address":"198.18.0.256"})",
       "bad request: address: must be an IPv4 or IPv6 address, got '198.18.0.256'"},
      {R"({"cmd":"backend_set","service":"198.18.0.100:80/tcp","address":"198.18.0.11",
           "weight":1001})", "bad request: weight: must be 0..1000, got 1001"},
      {R"({"cmd":"backend_set","service":"198.18.0.100:80/tcp","address":"198.18.0.11",
           "weight":-1})", "bad request: weight: must be 0..1000, got -1"},
      {R"({"cmd":"backend_set","service":"198.18.0.100:80/tcp","address":"198.18.0.11",
           "weight":"2"})", "bad request: weight: must be an integer 0..1000"},
      {R"({"cmd":"backend_set","service":"198.18.0.100:80/tcp","address":"198.18.0.11",
           "weight":1.5})", "bad request: weight: must be an integer 0..1000"},
      {R"({"cmd":"backend_add","service":"198.18.0.100:80/tcp","address":"198.18.0.11",
           "backup":"yes"})", "bad request: backup: must be true or false"},
      {R"({"cmd":"conns","limit":0})", "bad request: limit: must be 1..1000000, got 0"},
      {R"({"cmd":"conns","vip":"x"})",
       "bad request: vip: must be ADDR:PORT/PROTO ([ADDR]:PORT/PROTO for IPv6, PROTO "
       "tcp|udp), got 'x'"},
      {R"({"cmd":"conns","address":"198.18.0.11"})", "bad request: address: unknown field for conns"},
  };
  for (const auto& c : cases) {
    auto r = api_parse_request(c.text);
    ASSERT_FALSE(r.ok()) << c.text;
    EXPECT_EQ(r.error().message(), c.error) << c.text;
  }
}

// nlohmann::json would let the last of two equal keys win.
TEST(ApiRequest, DuplicateKeysAtAnyDepthAreRefused) {
  const Bad cases[] = {
      {R"({"cmd":"status","cmd":"detach"})", "bad request: duplicate key 'cmd'"},
      {R"({"cmd":"detach","cmd":"status"})", "bad request: duplicate key 'cmd'"},
      {R"({"cmd":"backend_set","service":"198.18.0.100:80/tcp","address":"198.18.0.11",
           "weight":1,"weight":0})", "bad request: duplicate key 'weight'"},
      // Deeper ones are refused too, before the unknown field is.
      {R"({"cmd":"status","x":{"a":1,"a":2}})", "bad request: duplicate key 'a'"},
      {R"({"cmd":"status","x":[{"a":1},{"b":{"c":1,"c":1}}]})", "bad request: duplicate key 'c'"},
      {"{\"cmd\":\"status\",\"\\u001b\":1,\"\\u001b\":2}", "bad request: duplicate key '\x1b'"},
  };
  for (const auto& c : cases) {
    auto r = api_parse_request(c.text);
    ASSERT_FALSE(r.ok()) << c.text;
    EXPECT_EQ(r.error().message(), c.error) << c.text;
  }
  // The same key in sibling or nested objects is no duplicate.
  auto nested = api_parse_request(R"({"cmd":"status","x":[{"cmd":1},{"cmd":2}]})");
  ASSERT_FALSE(nested.ok());
  EXPECT_EQ(nested.error().message(), "bad request: x: unknown field for status");
}

// The reply quotes the request; its error must still be one printable line.
TEST(ApiRequest, ErrorRepliesEscapeControlBytes) {
  auto r = api_parse_request("{\"cmd\":\"st\\u001b[2Jatus\\n\\u0000\"}");
  ASSERT_FALSE(r.ok());
  nlohmann::json reply = nlohmann::json::parse(api_error_reply(r.error().message()));
  EXPECT_EQ(reply["ok"], false);
  EXPECT_EQ(reply["error"], "bad request: unknown command 'st\\x1b[2Jatus\\x0a\\x00'");
  auto dup = api_parse_request("{\"cmd\":\"status\",\"\\u001b\":1,\"\\u001b\":2}");
  ASSERT_FALSE(dup.ok());
  EXPECT_EQ(nlohmann::json::parse(api_error_reply(dup.error().message()))["error"],
            "bad request: duplicate key '\\x1b'");
  // Not valid UTF-8 (a config error may quote a binary file): escaped, and
  // the reply is still valid JSON.
  std::string bad = "config: line 1: got '\xff\xfe'";
  EXPECT_EQ(nlohmann::json::parse(api_error_reply(bad))["error"], "config: line 1: got '\\xff\\xfe'");
}

TEST(ServiceName, ParsesWhatServiceNameWrites) {
  for (const char* s : {"198.18.0.100:80/tcp", "[2001:2::100]:80/tcp", "198.18.0.1:65535/udp"}) {
    auto k = service_parse(s);
    ASSERT_TRUE(k.has_value()) << s;
    EXPECT_EQ(k->str(), s);
  }
  for (const char* s : {"", "/", ":/", "198.18.0.100:/tcp", "198.18.0.100:65536/tcp",
                        "[198.18.0.100]:80/tcp", "2001:2::100:80/tcp", "198.18.0.100:80/TCP",
                        "198.18.0.100:+80/tcp", "198.18.0.100:80/tcp/", "[]:80/tcp"})
    EXPECT_FALSE(service_parse(s).has_value()) << s;
}

}  // namespace
}  // namespace sluice
