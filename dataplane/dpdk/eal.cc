// SPDX-License-Identifier: Apache-2.0
#include "dataplane/dpdk/eal.h"

#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_lcore.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <system_error>

namespace sluice::dpdk {

namespace {

std::atomic<bool> g_initialised{false};

bool dir_exists(const std::string& path) {
  struct stat st{};
  return !path.empty() && ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

// The EAL removes only some of its files at cleanup (and none when init
// fails): the directory goes whole, as it was ours.
void remove_dir(const std::string& path) {
  if (path.empty()) return;
  std::error_code ec;
  std::filesystem::remove_all(path, ec);
}

}  // namespace

std::string eal_run_dir(const std::vector<std::string>& args) {
  std::string prefix = "rte";
  for (size_t i = 0; i < args.size(); i++) {
    const std::string& a = args[i];
    if (a.rfind("--file-prefix=", 0) == 0)
      prefix = a.substr(14);
    else if (a == "--file-prefix" && i + 1 < args.size())
      prefix = args[i + 1];
  }
  // The EAL's rule (eal_create_runtime_dir): root uses /var/run, anyone
  // else $XDG_RUNTIME_DIR, else /tmp.
  std::string base = "/var/run";
  if (getuid() != 0) {
    const char* xdg = std::getenv("XDG_RUNTIME_DIR");
    base = xdg ? xdg : "/tmp";
  }
  return base + "/dpdk/" + prefix;
}

Result<std::unique_ptr<Eal>> Eal::init(const std::vector<std::string>& args) {
  if (g_initialised.exchange(true))
    return make_error("dpdk: EAL already initialised in this process");
  std::unique_ptr<Eal> eal(new Eal());
  eal->run_dir_ = eal_run_dir(args);
  const bool existed = dir_exists(eal->run_dir_);
  // rte_eal_init may reorder and keep pointers into argv: the strings live
  // as long as the process (a handful of bytes, once).
  static std::vector<std::string> kept;
  static std::vector<char*> argv;
  kept.clear();
  kept.push_back("sluiced");
  kept.insert(kept.end(), args.begin(), args.end());
  argv.clear();
  for (auto& s : kept) argv.push_back(s.data());
  argv.push_back(nullptr);
  int ret = rte_eal_init(static_cast<int>(kept.size()), argv.data());
  if (ret < 0) {
    int err = rte_errno;
    if (!existed) remove_dir(eal->run_dir_);
    // EALREADY: a previous init in this process failed half way; the EAL
    // cannot be retried.
    return make_error("dpdk: EAL init failed (see the EAL lines above; arguments: " +
                          [&] {
                            std::string s;
                            for (const auto& a : args) s += (s.empty() ? "" : " ") + a;
                            return s;
                          }() + ")",
                      err);
  }
  eal->remove_run_dir_ = !existed;
  unsigned lcore;
  RTE_LCORE_FOREACH_WORKER(lcore) eal->workers_.push_back(lcore);
  return eal;
}

Eal::~Eal() {
  rte_eal_cleanup();
  if (remove_run_dir_) remove_dir(run_dir_);
}

}  // namespace sluice::dpdk
