// SPDX-License-Identifier: Apache-2.0
// Keeping sluice's maps across controller restarts: pinned on bpffs under a
// directory unique per network namespace and interface, and adopted by the
// next load so the connection table, rings and role survive.
#pragma once

#include <string>

#include "core/host/result.h"

struct bpf_object;

namespace sluice {

// The maps that carry state; every one is pinned and adopted by name.
inline constexpr const char* kStateMaps[] = {
    "vips",      "backends",  "rings",         "conns",        "cursors",
    "vip_stats", "global",    "backend_stats", "reason_stats", "control",
    "flow_events", "conns_syn", "src_limits", "acl_v4",    "acl_v6",        "acl_hits",
    "acl_nodes", "acl_fast",
};

// Makes sure `pin_root` lies on a bpffs; mounts one at /sys/fs/bpf when that
// is a plain directory (a private mount namespace, as `ip netns exec` makes).
Result<void> bpffs_ensure(const std::string& pin_root);
Result<void> pin_dir_create(const std::string& dir);

// Before load: make `obj` use the maps pinned in `dir`. Returns how many
// were adopted (0: a fresh start). The conn table keeps its pinned size.
Result<int> maps_adopt_pinned(bpf_object* obj, const std::string& dir);

// Before load: make `obj` use the maps of a running sluice program (for
// when the pins are not visible, e.g. under `ip netns exec`).
Result<int> maps_adopt_from_prog(bpf_object* obj, int prog_fd);

// After load: pin every state map not pinned already.
Result<void> maps_pin(bpf_object* obj, const std::string& dir);

// Remove the pins and the directory.
Result<void> maps_unpin(const std::string& dir);

}  // namespace sluice
