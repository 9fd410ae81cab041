// SPDX-License-Identifier: Apache-2.0
// The firewall's maps (xdp/sluice_maps.h acl_v4, acl_v6, acl_hits) seen
// from the host: the XdpDataplane's acl_* calls, over the maps' fds.
#pragma once

#include <cstdint>
#include <vector>

#include "core/host/result.h"
#include "dataplane/dataplane.h"

namespace sluice {

struct AclMapFds {
  int v4 = -1;
  int v6 = -1;
  int hits = -1;
};

Result<void> acl_map_put(const AclMapFds& m, const AclEntry& e);
Result<void> acl_map_del(const AclMapFds& m, const AclEntry& e);
Result<std::vector<AclEntry>> acl_map_list(const AclMapFds& m);
Result<std::vector<uint64_t>> acl_map_hits(const AclMapFds& m);
Result<void> acl_map_hits_reset(const AclMapFds& m, uint32_t rule_id);

}  // namespace sluice
