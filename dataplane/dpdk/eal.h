// SPDX-License-Identifier: Apache-2.0
// DPDK's Environment Abstraction Layer in sluiced's own process: init from
// the operator's EAL arguments, and a cleanup that leaves nothing behind.
//
// rte_eal_init runs once per process and makes the calling thread the main
// lcore (the controller keeps it); the other lcores it is given become the
// workers. Whatever it created under its run directory
// (/var/run/dpdk/<file-prefix>, or $XDG_RUNTIME_DIR/dpdk/<prefix> when not
// root) is removed again when the Eal goes, and also when init fails half
// way, unless the directory was there before (another process's).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "core/host/result.h"

namespace sluice::dpdk {

class Eal {
 public:
  // `args` are the EAL arguments alone (no program name). Fails with the
  // EAL's reason; a second Eal in one process is refused.
  static Result<std::unique_ptr<Eal>> init(const std::vector<std::string>& args);
  ~Eal();
  Eal(const Eal&) = delete;
  Eal& operator=(const Eal&) = delete;

  // The lcores besides the main one, in id order.
  const std::vector<unsigned>& worker_lcores() const { return workers_; }
  const std::string& run_dir() const { return run_dir_; }

 private:
  Eal() = default;
  std::vector<unsigned> workers_;
  std::string run_dir_;
  bool remove_run_dir_ = false;
};

// Where the EAL will keep its files for these arguments (the --file-prefix
// and the user's base directory), computed before init.
std::string eal_run_dir(const std::vector<std::string>& args);

}  // namespace sluice::dpdk
