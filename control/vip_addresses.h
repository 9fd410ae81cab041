// SPDX-License-Identifier: Apache-2.0
// The VIP addresses held on the balancer's interface (/32, /128), so the
// kernel answers ARP and neighbour solicitations for them.
#pragma once

#include <set>
#include <vector>

#include "control/ip_addr.h"
#include "control/netlink.h"
#include "control/result.h"

namespace sluice {

class VipAddresses {
 public:
  VipAddresses(Netlink& nl, int ifindex) : nl_(nl), ifindex_(ifindex) {}

  // Holds exactly `addrs` (duplicates allowed): adds the missing, removes
  // the ones held before and no longer wanted.
  Result<void> sync(const std::vector<IpAddr>& addrs);
  Result<void> remove_all() { return sync({}); }
  const std::set<IpAddr>& held() const { return held_; }

 private:
  Netlink& nl_;
  int ifindex_;
  std::set<IpAddr> held_;
};

}  // namespace sluice
