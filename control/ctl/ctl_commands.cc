// SPDX-License-Identifier: Apache-2.0
#include "control/ctl/ctl_commands.h"

#include <signal.h>
#include <time.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <iostream>

#include "control/api/api_server.h"
#include "control/ctl/ctl_print.h"

namespace sluice {

using nlohmann::json;

namespace {

volatile sig_atomic_t g_interrupted = 0;

void on_interrupt(int) { g_interrupted = 1; }

Result<json> request(const std::string& socket, const json& req) {
  auto reply = api_call(socket, req.dump());
  if (!reply) {
    Error e = reply.error();
    if (e.err == ENOENT || e.err == ECONNREFUSED) e.op += " (is sluiced running?)";
    return e;
  }
  json j = json::parse(*reply, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return make_error("malformed reply from " + socket);
  if (!j.value("ok", false)) return make_error(ctl_server_error(j));
  return j;
}

// Sleeps up to `seconds`, in short steps so Ctrl-C ends it promptly.
void nap(double seconds) {
  auto until = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  while (!g_interrupted && std::chrono::steady_clock::now() < until) {
    timespec ts{0, 50 * 1000 * 1000};
    nanosleep(&ts, nullptr);
  }
}

}  // namespace

int ctl_fail(const std::string& why) {
  std::fprintf(stderr, "sluicectl: %s\n", why.c_str());
  return 1;
}

int ctl_call(const std::string& socket, const json& req, bool as_json, const CtlPrinter& print) {
  auto reply = request(socket, req);
  if (!reply) return ctl_fail(reply.error().message());
  if (as_json)
    std::cout << reply->dump(2) << "\n";
  else
    print(*reply, std::cout);
  return 0;
}

int ctl_stats_watch(const std::string& socket, double seconds, bool as_json) {
  struct sigaction sa{};
  sa.sa_handler = on_interrupt;
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  auto before = request(socket, json{{"cmd", "stats"}});
  if (!before) return ctl_fail(before.error().message());
  auto t0 = std::chrono::steady_clock::now();
  for (;;) {
    nap(seconds);
    if (g_interrupted) break;
    auto after = request(socket, json{{"cmd", "stats"}});
    if (!after) return ctl_fail(after.error().message());
    auto t1 = std::chrono::steady_clock::now();
    json rates = stats_rates(*before, *after, std::chrono::duration<double>(t1 - t0).count());
    if (as_json) {
      std::cout << rates.dump() << std::endl;
    } else {
      std::cout << "\033[H\033[2J" << "every " << seconds << "s, Ctrl-C to stop\n\n";
      print_rates(rates, std::cout);
      std::cout << std::flush;
    }
    before = std::move(after);
    t0 = t1;
  }
  return 0;
}

std::string ctl_change_done(const json& req) {
  std::string cmd = req.value("cmd", std::string());
  size_t us = cmd.find('_');
  std::string line = cmd;
  if (us != std::string::npos) line[us] = ' ';
  for (const char* key : {"vip", "service", "action", "address", "cidr"})
    if (req.contains(key)) {
      line += ' ';
      line += req[key].get<std::string>();
    }
  return line + ": done";
}

}  // namespace sluice
