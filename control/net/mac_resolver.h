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
//
// Probes are bounded: asking the kernel to resolve an address makes an
// INCOMPLETE neighbour entry, and the neighbour table is host-wide
// (gc_thresh3, 1024 by default). Probing 10,000 unanswering backends at
// once overflowed it ("neighbour table overflow"): the kernel then dropped
// the node's own ARP, ND and VRRP traffic. So at most kProbeBudget
// addresses are probed per kProbeWindow, and an address is probed again
// only after the window; the rest wait for a later pass (the daemon's
// refresh tick).
class KernelMacResolver final : public MacResolver {
 public:
  static constexpr size_t kProbeBudget = 256;
  static constexpr std::chrono::seconds kProbeWindow{3};

  KernelMacResolver(Netlink& nl, int ifindex) : nl_(nl), ifindex_(ifindex) {}
  std::vector<std::optional<Mac>> resolve(const std::vector<MacTarget>& targets,
                                          std::chrono::milliseconds wait) override;
  // Looks up the routes to `backends` afresh and replaces the cache with
  // them. Thread-safe; the main loop's resolve() may run meanwhile.
  void prefetch_routes(const std::vector<IpAddr>& backends);
  // Addresses probed within the window.
  size_t probes_outstanding() const { return probed_.size(); }
  // Missing MACs not probed in the last resolve() for want of budget.
  size_t probes_deferred() const { return deferred_; }

 private:
  // The address whose neighbour entry gives the MAC; nullopt when the
  // backend is not reachable through our interface.
  std::optional<IpAddr> neighbour_of(const MacTarget& t);
  // Fills the missing MACs of `neigh` from one neighbour dump per family.
  void lookup_all(const std::vector<std::optional<IpAddr>>& neigh,
                  std::vector<std::optional<Mac>>& out);
  // Probes the missing ones the budget allows; true if any is missing.
  bool probe_missing(const std::vector<std::optional<IpAddr>>& neigh,
                     const std::vector<std::optional<Mac>>& out);

  Netlink& nl_;
  int ifindex_;
  std::mutex routes_mu_;
  std::map<IpAddr, std::optional<NextHop>> routes_;  // nullopt: lookup failed
  // resolve()'s (one thread at a time): when each address was last probed,
  // at most kProbeBudget entries, none older than kProbeWindow.
  std::map<IpAddr, std::chrono::steady_clock::time_point> probed_;
  size_t deferred_ = 0;
  size_t next_probe_ = 0;  // where the next pass starts
};

}  // namespace sluice
