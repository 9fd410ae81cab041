// SPDX-License-Identifier: Apache-2.0
#include "control/net/mac_resolver.h"

#include <spdlog/spdlog.h>

#include <thread>

namespace sluice {

// Problems are logged at debug level only: with thousands of backends a
// line each per pass floods the log. ServiceTable reports the count.
std::optional<IpAddr> KernelMacResolver::neighbour_of(const MacTarget& t) {
  if (t.mode == SL_MODE_DSR) return t.backend;  // same L2 segment by definition
  std::optional<NextHop> hop;
  bool cached = false;
  {
    std::lock_guard lock(routes_mu_);
    if (auto it = routes_.find(t.backend); it != routes_.end()) hop = it->second, cached = true;
  }
  if (!cached) {
    auto r = nl_.route(t.backend);
    if (r) hop = *r;
    else spdlog::debug("backend {}: {}", t.backend.str(), r.error().message());
    std::lock_guard lock(routes_mu_);
    routes_[t.backend] = hop;
  }
  if (!hop) return std::nullopt;
  if (hop->ifindex != ifindex_) {
    spdlog::debug("backend {}: the route leaves through another interface (ifindex {})",
                  t.backend.str(), hop->ifindex);
    return std::nullopt;
  }
  return hop->addr;
}

void KernelMacResolver::prefetch_routes(const std::vector<IpAddr>& backends) {
  auto nl = Netlink::open();
  if (!nl) {
    spdlog::debug("route prefetch: {}", nl.error().message());
    return;
  }
  std::map<IpAddr, std::optional<NextHop>> fresh;
  for (const auto& b : backends) {
    if (fresh.contains(b)) continue;
    auto r = nl->route(b);
    fresh[b] = r ? std::optional<NextHop>(*r) : std::nullopt;
  }
  std::lock_guard lock(routes_mu_);
  routes_ = std::move(fresh);
}

void KernelMacResolver::lookup_all(const std::vector<std::optional<IpAddr>>& neigh,
                                   std::vector<std::optional<Mac>>& out) {
  std::map<IpAddr, Mac> table[2];
  bool dumped[2] = {false, false};
  for (size_t i = 0; i < neigh.size(); ++i) {
    if (!neigh[i] || out[i]) continue;
    int f = neigh[i]->is_v6() ? 1 : 0;
    if (!dumped[f]) {
      auto t = nl_.neighbours(ifindex_, neigh[i]->family);
      if (!t) spdlog::debug("{}", t.error().message());
      else table[f] = std::move(*t);
      dumped[f] = true;
    }
    if (auto it = table[f].find(*neigh[i]); it != table[f].end()) out[i] = it->second;
  }
}

// Probes what is missing, within the budget: an address is forgotten (its
// budget freed) once resolved or once the window has passed.
bool KernelMacResolver::probe_missing(const std::vector<std::optional<IpAddr>>& neigh,
                                      const std::vector<std::optional<Mac>>& out) {
  auto now = std::chrono::steady_clock::now();
  std::erase_if(probed_, [&](const auto& e) { return now - e.second >= kProbeWindow; });
  for (size_t i = 0; i < neigh.size(); ++i)
    if (neigh[i] && out[i]) probed_.erase(*neigh[i]);
  // Round robin over the targets: a pass starts where the last one ran out
  // of budget, so the same first kProbeBudget are not the only ones asked.
  bool missing = false;
  deferred_ = 0;
  size_t n = neigh.size();
  size_t start = n ? next_probe_ % n : 0;
  bool stopped = false;
  for (size_t k = 0; k < n; ++k) {
    size_t i = (start + k) % n;
    if (!neigh[i] || out[i]) continue;
    missing = true;
    if (probed_.contains(*neigh[i])) continue;  // asked within the window
    if (probed_.size() >= kProbeBudget) {
      if (!stopped) next_probe_ = i, stopped = true;
      ++deferred_;
      continue;
    }
    probed_.emplace(*neigh[i], now);
    if (auto r = nl_.neighbour_probe(ifindex_, *neigh[i]); !r)
      spdlog::debug("{}", r.error().message());
  }
  if (deferred_)
    spdlog::debug("{} unresolved MACs wait for a later pass ({} probes in flight)", deferred_,
                  probed_.size());
  return missing;
}

std::vector<std::optional<Mac>> KernelMacResolver::resolve(
    const std::vector<MacTarget>& targets, std::chrono::milliseconds wait) {
  std::vector<std::optional<Mac>> out(targets.size());
  std::vector<std::optional<IpAddr>> neigh(targets.size());
  for (size_t i = 0; i < targets.size(); ++i) neigh[i] = neighbour_of(targets[i]);
  lookup_all(neigh, out);
  bool missing = probe_missing(neigh, out);
  // Only before the loop runs (start-up) is there a wait; changes made
  // from the loop pass 0 and the daemon's refresh picks the MACs up later.
  // While waiting, resolved addresses free budget for the ones deferred.
  auto deadline = std::chrono::steady_clock::now() + wait;
  while (missing && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    lookup_all(neigh, out);
    missing = probe_missing(neigh, out);
  }
  return out;
}

}  // namespace sluice
