// SPDX-License-Identifier: Apache-2.0
// Receive VLAN stripping hides tags from XDP: a NIC that strips the outer
// tag into its descriptor hands native XDP a frame without it, and generic
// XDP runs on skb data, where a stripped tag is only metadata. sluice's
// rule for a second tag (pass, pass_not_ip) needs the tags in the frame,
// so the loader turns stripping off on the interface it attaches to.
#pragma once

#include <string>
#include <vector>

#include "core/host/result.h"

namespace sluice {

struct RxVlanOffload {
  std::vector<std::string> turned_off;  // ethtool feature names now off
  std::vector<std::string> fixed_on;    // on, and the driver cannot turn them off
  std::string driver;                   // ETHTOOL_GDRVINFO's name ("veth", "mlx5_core")
};

// Turns off rx-vlan-hw-parse and rx-vlan-stag-hw-parse on `ifname` (in the
// caller's network namespace) through the ethtool ioctls; features already
// off or unknown to the driver are left alone.
Result<RxVlanOffload> rx_vlan_strip_off(const std::string& ifname);

// The one log line for an attach: what was turned off, what could not be.
// Empty when there is nothing to say.
std::string rx_vlan_offload_note(const RxVlanOffload& o, const std::string& ifname);

}  // namespace sluice
