// SPDX-License-Identifier: Apache-2.0
// The one place that knows which dataplanes exist: sluiced opens the one
// the config's `dataplane:` (or --dataplane) names through here and holds
// it as a plain Dataplane from then on.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "control/config/config.h"
#include "dataplane/dataplane.h"
#include "core/host/result.h"

namespace sluice {

struct DataplaneOpenOptions {
  DataplaneKind kind = DataplaneKind::xdp;
  std::string ifname;
  bool xdp_generic = false;
  uint32_t conn_table_size = 0;  // 0: the dataplane's default
  uint32_t syn_table_size = 0;   // xdp: unconfirmed records; 0: the default
  uint32_t acl_trie_nodes = 0;   // xdp: the firewall trie's nodes; 0: the default
  std::string bpf_object;        // xdp: an object file instead of the built-in one
  // dpdk: `ifname` names the TAP (the kernel's side of the port).
  std::vector<std::string> eal_args;
  std::string dpdk_port;         // ethdev name; empty: the first port
  unsigned dpdk_workers = 0;     // 0: one per worker lcore
  uint32_t dpdk_idle_sleep_us = 0;
};

// The dataplanes this sluiced was built with: "xdp, dpdk".
std::string dataplanes_built();

// "xdp", "dpdk".
const char* dataplane_kind_name(DataplaneKind kind);
// Whether this sluiced was built with `kind`; the error names it otherwise.
Result<void> dataplane_available(DataplaneKind kind);
// Opens (loads, attaches) the chosen dataplane.
Result<std::unique_ptr<Dataplane>> dataplane_open(const DataplaneOpenOptions& opts);

}  // namespace sluice
