// SPDX-License-Identifier: Apache-2.0
// The one place that knows which dataplanes exist: sluiced opens the one
// the config's `dataplane:` (or --dataplane) names through here and holds
// it as a plain Dataplane from then on.
#pragma once

#include <memory>
#include <string>

#include "control/config/config.h"
#include "dataplane/dataplane.h"
#include "core/host/result.h"

namespace sluice {

struct DataplaneOpenOptions {
  DataplaneKind kind = DataplaneKind::xdp;
  std::string ifname;
  bool xdp_generic = false;
  uint32_t conn_table_size = 0;  // 0: the dataplane's default
  std::string bpf_object;        // xdp: an object file instead of the built-in one
};

// "xdp", "dpdk".
const char* dataplane_kind_name(DataplaneKind kind);
// Whether this sluiced was built with `kind`; the error names it otherwise.
Result<void> dataplane_available(DataplaneKind kind);
// Opens (loads, attaches) the chosen dataplane.
Result<std::unique_ptr<Dataplane>> dataplane_open(const DataplaneOpenOptions& opts);

}  // namespace sluice
