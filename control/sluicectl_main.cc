// SPDX-License-Identifier: Apache-2.0
// sluicectl [--socket PATH] status|vip list|backend list|stats [-o json]
// sluicectl backend-setup --vip V [--vip V2 ...] --mode dsr|ipip --iface X
//           [--generic] [--undo]
// Exit 0 on success, 1 with a one-line reason on stderr otherwise.
#include <CLI/CLI.hpp>
#include <cerrno>
#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>

#include "control/api_server.h"
#include "control/backend_setup.h"
#include "control/ctl_print.h"

namespace {

using nlohmann::json;
using Printer = void (*)(const json&, std::ostream&);

int fail(const std::string& why) {
  std::fprintf(stderr, "sluicectl: %s\n", why.c_str());
  return 1;
}

int query(const std::string& socket, const char* cmd, bool as_json, Printer print) {
  auto reply = sluice::api_call(socket, json{{"cmd", cmd}}.dump());
  if (!reply) {
    std::string why = reply.error().message();
    int err = reply.error().err;
    if (err == ENOENT || err == ECONNREFUSED) why += " (is sluiced running?)";
    return fail(why);
  }
  json j = json::parse(*reply, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return fail("malformed reply from " + socket);
  if (!j.value("ok", false)) return fail(j.value("error", std::string("request failed")));
  if (as_json) {
    std::cout << j.dump(2) << "\n";
  } else {
    print(j, std::cout);
  }
  return 0;
}

struct Query {
  CLI::App* app;
  const char* cmd;
  Printer print;
  std::string output = "text";
};

void add_output_option(Query& q) {
  q.app->add_option("-o,--output", q.output, "output format")
      ->check(CLI::IsMember({"text", "json"}));
}

int backend_setup_cmd(const std::vector<std::string>& vips, const std::string& mode,
                      const std::string& iface, bool generic, bool undo) {
  sluice::BackendSetupOptions opts;
  for (const auto& v : vips) {
    auto a = sluice::IpAddr::parse(v);
    if (!a) return fail("--vip: not an IPv4 or IPv6 address: " + v);
    opts.vips.push_back(*a);
  }
  opts.mode = mode == "ipip" ? SL_MODE_IPIP : SL_MODE_DSR;
  opts.iface = iface;
  opts.generic = generic;
  opts.undo = undo;
  if (auto r = sluice::backend_setup(opts); !r) return fail(r.error().message());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"sluicectl: control the sluice load balancer"};
  std::string socket = "/run/sluice/sluiced.sock";
  app.add_option("--socket", socket, "sluiced API socket")->capture_default_str();
  app.require_subcommand(1);

  std::vector<Query> queries;
  queries.push_back({app.add_subcommand("status", "daemon and node state"), "status",
                     sluice::print_status});
  CLI::App* vip = app.add_subcommand("vip", "virtual services")->require_subcommand(1);
  queries.push_back({vip->add_subcommand("list", "list VIPs"), "vip_list", sluice::print_vip_list});
  CLI::App* backend = app.add_subcommand("backend", "backends")->require_subcommand(1);
  queries.push_back({backend->add_subcommand("list", "list backends of every VIP"),
                     "backend_list", sluice::print_backend_list});
  queries.push_back({app.add_subcommand("stats", "packet, byte and connection counters"), "stats",
                     sluice::print_stats});
  for (auto& q : queries) add_output_option(q);

  CLI::App* setup = app.add_subcommand(
      "backend-setup", "prepare this host as a backend (local, no sluiced needed)");
  std::vector<std::string> vips;
  std::string mode, iface;
  bool generic = false, undo = false;
  setup->add_option("--vip", vips, "VIP address to hold on lo (repeatable)")->required();
  setup->add_option("--mode", mode, "forwarding mode")->required()
      ->check(CLI::IsMember({"dsr", "ipip"}));
  setup->add_option("--iface", iface, "interface the balancer's packets arrive on")->required();
  setup->add_flag("--generic", generic, "attach the decap program in generic (skb) mode");
  setup->add_flag("--undo", undo, "reverse a previous backend-setup");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) return app.exit(e);  // --help
    return fail(std::string(e.what()) + " (see --help)");
  }
  if (setup->parsed()) return backend_setup_cmd(vips, mode, iface, generic, undo);
  for (const auto& q : queries)
    if (q.app->parsed()) return query(socket, q.cmd, q.output == "json", q.print);
  return fail("no command");
}
