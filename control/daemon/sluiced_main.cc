// SPDX-License-Identifier: Apache-2.0
// sluiced --config FILE [--dataplane xdp|dpdk] [--detach-on-exit] [--bpf-object FILE] [--force] [-v]
//         [-- EAL ARGS]   (dpdk: replace the config's dpdk.eal)
// sluiced --check-config FILE | --version | --help
// Exit codes: 0 stopped by a signal, 1 runtime failure, 2 bad usage or config
// (nothing attached).
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <csignal>
#include <cstdio>

#include "control/config/config.h"
#include "control/config/config_check.h"
#include "control/config/config_file.h"
#include "control/daemon/daemon.h"
#include "control/daemon/dataplane_open.h"
#include "control/daemon/sd_notify.h"
#include "control/sluice_version.h"
#include "control/config/printable.h"
#if SLUICE_HAVE_XDP
#include "xdp/xdp_dataplane.h"
#endif

int main(int argc, char** argv) {
  // Everything after `--` is the DPDK EAL's, untouched by our parser.
  std::vector<std::string> eal_args;
  bool eal_given = false;
  for (int i = 1; i < argc; i++)
    if (std::string(argv[i]) == "--") {
      eal_given = true;
      eal_args.assign(argv + i + 1, argv + argc);
      argc = i;
      break;
    }
  CLI::App app{"sluiced: the sluice L4 load balancer controller (runs in the foreground)"};
  app.footer("With --dataplane dpdk (or dataplane: dpdk), arguments after -- go to the DPDK EAL "
             "in place of the config's dpdk.eal.");
  std::string config_path, dataplane;
  sluice::DaemonFlags flags;
  bool verbose = false;
  std::string check_path;
  CLI::Option* config_opt = app.add_option("--config", config_path, "YAML config file to run");
  app.add_option("--check-config", check_path,
                 "validate FILE as sluiced would at start, touching nothing; exit 0 if valid, "
                 "2 with the offending field if not")
      ->excludes(config_opt);
  app.set_version_flag("--version", std::string("sluiced " SLUICE_VERSION " (git " SLUICE_GIT_DESCRIBE
                                                ", dataplanes: " + sluice::dataplanes_built() +
                                                ", sd_notify: ") +
                                        (sluice::notify_supported() ? "libsystemd)" : "none)"));
  app.add_option("--dataplane", dataplane, "override the config's dataplane")
      ->check(CLI::IsMember({"xdp", "dpdk"}));
  app.add_flag("--detach-on-exit", flags.detach_on_exit,
               "on SIGTERM/SIGINT detach the program and remove VIP addresses");
  app.add_option("--bpf-object", flags.bpf_object,
                 "XDP object to load instead of the built-in one (an upgrade: it replaces the "
                 "attached program atomically, keeping the pinned connection table)")
      ->check(CLI::ExistingFile);
  bool force = false;
  app.add_flag("--force", force,
               "detach another tool's XDP program from the interface first (without it, "
               "sluiced refuses to replace it)");
  app.add_flag("-v,--verbose", verbose, "debug logging");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) return app.exit(e);  // --help
    std::fprintf(stderr, "sluiced: %s (see --help)\n", e.what());
    return 2;
  }
  if (!check_path.empty()) return sluice::config_check_report(check_path, stdout, stderr);
  if (config_path.empty()) {
    std::fprintf(stderr, "sluiced: --config FILE is required (see --help)\n");
    return 2;
  }
  auto logger = spdlog::stderr_color_mt("sluiced");
  spdlog::set_default_logger(logger);
  spdlog::set_level(verbose ? spdlog::level::debug : spdlog::level::info);
  std::signal(SIGPIPE, SIG_IGN);

  auto cfg = sluice::config_load(config_path);
  if (!cfg) {
    std::fprintf(stderr, "sluiced: %s\n", sluice::printable(cfg.error().message()).c_str());
    return 2;
  }
  if (!dataplane.empty())
    cfg->dataplane = dataplane == "dpdk" ? sluice::DataplaneKind::dpdk : sluice::DataplaneKind::xdp;
  // Refused before anything is set up (socket, addresses, program).
  if (auto r = sluice::dataplane_available(cfg->dataplane); !r) {
    std::fprintf(stderr, "sluiced: %s\n", r.error().message().c_str());
    return 2;
  }
  if (cfg->dataplane == sluice::DataplaneKind::dpdk) {
    if (eal_given) {
      if (!cfg->dpdk) cfg->dpdk.emplace();
      cfg->dpdk->eal = eal_args;
    }
    if (!cfg->dpdk || cfg->dpdk->eal.empty()) {
      std::fprintf(stderr, "sluiced: dpdk: no EAL arguments (config dpdk.eal, or sluiced ... -- "
                           "EAL ARGS)\n");
      return 2;
    }
  } else if (eal_given) {
    std::fprintf(stderr, "sluiced: arguments after -- are EAL arguments, for the dpdk dataplane "
                         "only\n");
    return 2;
  }
  flags.config_path = config_path;
  // Only sluiced writes the file: a temp beside it now is from a write that
  // was killed half-way, and would otherwise stay forever.
  if (auto removed = sluice::config_remove_stale_temps(config_path); !removed)
    spdlog::warn("{}", removed.error().message());
  else if (*removed > 0)
    spdlog::info("config: removed {} stale temp file(s) left by an interrupted write of {}",
                 *removed, sluice::printable(config_path));
#if SLUICE_HAVE_XDP
  if (force && cfg->dataplane == sluice::DataplaneKind::xdp) {
    auto gone = sluice::xdp_detach_foreign(cfg->interface);
    if (!gone) {
      spdlog::error("--force: {}", gone.error().message());
      return 1;
    }
    if (*gone)
      spdlog::warn("--force: detached another tool's XDP program {} from {}",
                   (*gone)->describe(), cfg->interface);
  }
#endif
  if (auto r = sluice::daemon_run(*cfg, flags); !r) {
    spdlog::error("{}", r.error().message());
    return 1;
  }
  return 0;
}
