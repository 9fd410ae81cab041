// SPDX-License-Identifier: Apache-2.0
// Where the MAC that a backend's packets are sent to comes from: dsr needs
// the backend's own MAC, ipip the MAC of the next hop toward the backend.
// An interface so the service table can be tested without a kernel.
#pragma once

#include <chrono>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "core/host/ip_addr.h"
#include "control/net/netlink.h"
#include "core/abi.h"

namespace sluice {

struct MacTarget {
  IpAddr backend;
  sl_mode mode;
};

class MacResolver {
 public:
  virtual ~MacResolver() = default;
  // One entry per target, nullopt where the MAC is not known (yet). Missing
  // ones are asked for and waited on for up to `wait`.
  virtual std::vector<std::optional<Mac>> resolve(const std::vector<MacTarget>& targets,
                                                  std::chrono::milliseconds wait) = 0;
};

// The kernel's neighbour table on the balancer's interface.
//
// ipip backends need a route lookup each (one netlink round trip, ~20 us:
// 200 ms for 10,000). prefetch_routes() does them from any thread with a
// netlink socket of its own, so the daemon runs it off its loop before an
// apply; resolve() then finds them cached and looks up only what is new.
class KernelMacResolver final : public MacResolver {
 public:
  KernelMacResolver(Netlink& nl, int ifindex) : nl_(nl), ifindex_(ifindex) {}
  std::vector<std::optional<Mac>> resolve(const std::vector<MacTarget>& targets,
                                          std::chrono::milliseconds wait) override;
  // Looks up the routes to `backends` afresh and replaces the cache with
  // them. Thread-safe; the main loop's resolve() may run meanwhile.
  void prefetch_routes(const std::vector<IpAddr>& backends);

 private:
  // The address whose neighbour entry gives the MAC; nullopt when the
  // backend is not reachable through our interface.
  std::optional<IpAddr> neighbour_of(const MacTarget& t);
  // Fills the missing MACs of `neigh` from one neighbour dump per family.
  void lookup_all(const std::vector<std::optional<IpAddr>>& neigh,
                  std::vector<std::optional<Mac>>& out);

  Netlink& nl_;
  int ifindex_;
  std::mutex routes_mu_;
  std::map<IpAddr, std::optional<NextHop>> routes_;  // nullopt: lookup failed
};

}  // namespace sluice
