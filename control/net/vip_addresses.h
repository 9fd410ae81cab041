// SPDX-License-Identifier: Apache-2.0
// The VIP addresses held on the balancer's interface (/32, /128), so the
// kernel answers ARP and neighbour solicitations for them.
//
// Without VRRP they are permanent (the main loop syncs them). Under VRRP
// the VRRP thread holds them, with a finite lifetime it renews: a killed
// sluiced does not leave a node answering ARP for a VIP its peer now holds.
#pragma once

#include <optional>
#include <set>
#include <vector>

#include "core/host/ip_addr.h"
#include "control/net/netlink.h"
#include "core/host/result.h"

namespace sluice {

class VipAddresses {
 public:
  VipAddresses(Netlink& nl, int ifindex, std::optional<AddrLifetime> lifetime = {})
      : nl_(nl), ifindex_(ifindex), lifetime_(lifetime) {}

  // Holds exactly `addrs` (duplicates allowed): adds the missing, removes
  // the ones held before and no longer wanted.
  Result<void> sync(const std::vector<IpAddr>& addrs);
  Result<void> remove_all() { return sync({}); }
  // With a lifetime: renews it on every address held. Without: nothing.
  Result<void> renew();
  // Removes each of `addrs` whether held or not (left by a previous run).
  Result<void> remove_each(const std::vector<IpAddr>& addrs);
  const std::set<IpAddr>& held() const { return held_; }

 private:
  Netlink& nl_;
  int ifindex_;
  std::optional<AddrLifetime> lifetime_;
  std::set<IpAddr> held_;
};

}  // namespace sluice
