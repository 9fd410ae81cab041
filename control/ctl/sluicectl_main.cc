// SPDX-License-Identifier: Apache-2.0
// sluicectl [--socket PATH] COMMAND [-o text|json]
//   status | vip list|add|del | backend list|add|del|set|drain|undrain |
//   stats [-w [SECONDS]] | conns [--vip SERVICE] [--limit N] | vrrp | reload |
//   detach | acl list | acl add|del [--vip SERVICE] allow|deny CIDR
// sluicectl backend-setup --vip V [--vip V2 ...] --mode dsr|ipip --iface X
//           [--generic] [--undo]
// Exit 0 on success, 1 with `sluicectl: <reason>` on failure, 2 on bad usage.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>

#if SLUICE_HAVE_XDP
#include "control/ctl/backend_setup.h"
#endif
#include "control/ctl/ctl_commands.h"
#include "control/ctl/ctl_print.h"
#include "control/sluice_version.h"

namespace {

using nlohmann::json;
using sluice::CtlPrinter;

// Every option of every command; one command runs per invocation.
struct Args {
  std::string socket = "/run/sluice/sluiced.sock";
  std::string output = "text";
  std::string service, address, mode = "dsr", vip, action, cidr;
  uint32_t weight = 1, limit = 1000;
  bool backup = false;
  double watch = 0;
  CLI::Option* weight_opt = nullptr;
};

struct Command {
  CLI::App* app;
  std::function<json()> request;
  CtlPrinter print;  // empty: a change, printed as "...: done"
};

CLI::App* leaf(CLI::App* parent, const char* name, const char* help, Args& a) {
  CLI::App* app = parent->add_subcommand(name, help);
  app->add_option("-o,--output", a.output, "output format")
      ->check(CLI::IsMember({"text", "json"}));
  return app;
}

void service_arg(CLI::App* app, Args& a) {
  app->add_option("service", a.service, "ADDR:PORT/PROTO, [ADDR]:PORT/PROTO for IPv6")
      ->required();
}

void backend_args(CLI::App* app, Args& a) {
  service_arg(app, a);
  app->add_option("address", a.address, "backend address")->required();
}

json req(const char* cmd, const Args& a, bool backend) {
  json j{{"cmd", cmd}, {"service", a.service}};
  if (backend) j["address"] = a.address;
  return j;
}

void add_vip_commands(CLI::App& app, Args& a, std::vector<Command>& out) {
  CLI::App* vip = app.add_subcommand("vip", "virtual services")->require_subcommand(1);
  out.push_back({leaf(vip, "list", "list VIPs", a), [] { return json{{"cmd", "vip_list"}}; },
                 sluice::print_vip_list});
  CLI::App* add = leaf(vip, "add", "add a VIP (no backends yet)", a);
  service_arg(add, a);
  add->add_option("--mode", a.mode, "forwarding mode")->check(CLI::IsMember({"dsr", "ipip"}))
      ->capture_default_str();
  out.push_back({add, [&a] { return json{{"cmd", "vip_add"}, {"service", a.service},
                                         {"mode", a.mode}}; }, {}});
  CLI::App* del = leaf(vip, "del", "remove a VIP and its backends", a);
  service_arg(del, a);
  out.push_back({del, [&a] { return req("vip_del", a, false); }, {}});
}

void add_backend_commands(CLI::App& app, Args& a, std::vector<Command>& out) {
  CLI::App* be = app.add_subcommand("backend", "backends")->require_subcommand(1);
  out.push_back({leaf(be, "list", "list backends of every VIP", a),
                 [] { return json{{"cmd", "backend_list"}}; }, sluice::print_backend_list});
  CLI::App* add = leaf(be, "add", "add a backend to a VIP", a);
  backend_args(add, a);
  add->add_option("--weight", a.weight, "0..1000 (0: out of the ring)")->check(CLI::Range(0, 1000))
      ->capture_default_str();
  add->add_flag("--backup", a.backup, "serve only while no primary can");
  out.push_back({add, [&a] {
                   json j = req("backend_add", a, true);
                   j["weight"] = a.weight;
                   j["backup"] = a.backup;
                   return j;
                 }, {}});
  CLI::App* set = leaf(be, "set", "change a backend's weight", a);
  backend_args(set, a);
  set->add_option("--weight", a.weight, "0..1000")->check(CLI::Range(0, 1000))->required();
  out.push_back({set, [&a] {
                   json j = req("backend_set", a, true);
                   j["weight"] = a.weight;
                   return j;
                 }, {}});
  for (const auto& [name, cmd, help] :
       {std::tuple{"del", "backend_del", "remove a backend"},
        std::tuple{"drain", "backend_drain", "no new flows (weight 0), remembering the weight"},
        std::tuple{"undrain", "backend_undrain", "restore the weight a drain kept"}}) {
    CLI::App* sub = leaf(be, name, help, a);
    backend_args(sub, a);
    const char* c = cmd;
    out.push_back({sub, [&a, c] { return req(c, a, true); }, {}});
  }
}

void add_acl_commands(CLI::App& app, Args& a, std::vector<Command>& out) {
  CLI::App* acl = app.add_subcommand("acl", "firewall: source prefixes allowed or denied")
                      ->require_subcommand(1);
  out.push_back({leaf(acl, "list", "list rules (global and per VIP) with their hits", a),
                 [] { return json{{"cmd", "acl_list"}}; }, sluice::print_acl_list});
  for (const auto& [name, cmd, help] :
       {std::tuple{"add", "acl_add", "add a prefix to an allow or deny list"},
        std::tuple{"del", "acl_del", "remove a prefix from an allow or deny list"}}) {
    CLI::App* sub = leaf(acl, name, help, a);
    sub->add_option("--vip", a.vip, "the VIP's list (ADDR:PORT/PROTO); without: the global one");
    sub->add_option("action", a.action, "allow|deny")->required()
        ->check(CLI::IsMember({"allow", "deny"}));
    sub->add_option("cidr", a.cidr, "source prefix ADDR/LEN, host bits zero (ADDR alone: /32, /128)")
        ->required();
    const char* c = cmd;
    out.push_back({sub, [&a, c] {
                     json j{{"cmd", c}, {"action", a.action}, {"cidr", a.cidr}};
                     if (!a.vip.empty()) j["vip"] = a.vip;
                     return j;
                   }, {}});
  }
}

void add_other_commands(CLI::App& app, Args& a, std::vector<Command>& out) {
  out.push_back({leaf(&app, "status", "daemon and node state", a),
                 [] { return json{{"cmd", "status"}}; }, sluice::print_status});
  CLI::App* stats = leaf(&app, "stats", "packet, byte and connection counters", a);
  stats->add_option("-w,--watch", a.watch, "live rates, refreshed every SECONDS (default 1)")
      ->expected(0, 1)->default_str("1")->check(CLI::PositiveNumber);
  out.push_back({stats, [] { return json{{"cmd", "stats"}}; }, sluice::print_stats});
  CLI::App* conns = leaf(&app, "conns", "connection-table entries", a);
  conns->add_option("--vip", a.vip, "only this service (ADDR:PORT/PROTO)");
  conns->add_option("--limit", a.limit, "at most N entries")->check(CLI::Range(1, 1000000))
      ->capture_default_str();
  out.push_back({conns, [&a] {
                   json j{{"cmd", "conns"}, {"limit", a.limit}};
                   if (!a.vip.empty()) j["vip"] = a.vip;
                   return j;
                 }, sluice::print_conns});
  out.push_back({leaf(&app, "vrrp", "VRRP state, priorities, adverts and connection sync", a),
                 [] { return json{{"cmd", "vrrp"}}; }, sluice::print_vrrp});
  out.push_back({leaf(&app, "reload", "re-read the config file (state kept if invalid)", a),
                 [] { return json{{"cmd", "reload"}}; }, sluice::print_reload});
  out.push_back({leaf(&app, "detach", "remove VIP addresses, detach the program; sluiced exits", a),
                 [] { return json{{"cmd", "detach"}}; }, sluice::print_detach});
}

struct SetupArgs {
  std::vector<std::string> vips;
  std::string mode, iface;
  bool generic = false, undo = false;
};

CLI::App* add_setup_command(CLI::App& app, SetupArgs& s) {
  CLI::App* setup = app.add_subcommand(
      "backend-setup", "prepare this host as a backend (local, no sluiced needed)");
  setup->add_option("--vip", s.vips, "VIP address to hold on lo (repeatable)")->required();
  setup->add_option("--mode", s.mode, "forwarding mode")->required()
      ->check(CLI::IsMember({"dsr", "ipip"}));
  setup->add_option("--iface", s.iface, "interface the balancer's packets arrive on")->required();
  setup->add_flag("--generic", s.generic, "attach the decap program in generic (skb) mode");
  setup->add_flag("--undo", s.undo, "reverse a previous backend-setup");
  return setup;
}

int backend_setup_cmd(const SetupArgs& s) {
#if SLUICE_HAVE_XDP
  sluice::BackendSetupOptions opts;
  for (const auto& v : s.vips) {
    auto a = sluice::IpAddr::parse(v);
    if (!a) return sluice::ctl_fail("--vip: not an IPv4 or IPv6 address: " + v);
    opts.vips.push_back(*a);
  }
  opts.mode = s.mode == "ipip" ? SL_MODE_IPIP : SL_MODE_DSR;
  opts.iface = s.iface;
  opts.generic = s.generic;
  opts.undo = s.undo;
  if (auto r = sluice::backend_setup(opts); !r) return sluice::ctl_fail(r.error().message());
  return 0;
#else
  // The decapsulation program is XDP's.
  (void)s;
  return sluice::ctl_fail("backend-setup: not built into this sluicectl (meson -Dxdp=disabled)");
#endif
}

int run(const Command& c, const Args& a) {
  bool as_json = a.output == "json";
  if (c.app->get_name() == "stats" && c.app->count("--watch"))
    return sluice::ctl_stats_watch(a.socket, a.watch, as_json);
  json request = c.request();
  CtlPrinter print = c.print;
  if (!print)
    print = [request](const json&, std::ostream& out) {
      out << sluice::ctl_change_done(request) << "\n";
    };
  return sluice::ctl_call(a.socket, request, as_json, print);
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"sluicectl: control the sluice load balancer"};
  app.set_version_flag("--version", "sluicectl " SLUICE_VERSION " (git " SLUICE_GIT_DESCRIBE ")");
  Args a;
  app.add_option("--socket", a.socket, "sluiced API socket")->capture_default_str();
  app.require_subcommand(1);
  std::vector<Command> commands;
  add_other_commands(app, a, commands);
  add_vip_commands(app, a, commands);
  add_backend_commands(app, a, commands);
  add_acl_commands(app, a, commands);
  SetupArgs setup_args;
  CLI::App* setup = add_setup_command(app, setup_args);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) return app.exit(e);  // --help
    std::fprintf(stderr, "sluicectl: %s (see --help)\n", e.what());
    return 2;
  }
  if (setup->parsed()) return backend_setup_cmd(setup_args);
  for (const auto& c : commands)
    if (c.app->parsed()) return run(c, a);
  return sluice::ctl_fail("no command");
}
