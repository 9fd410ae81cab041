// SPDX-License-Identifier: Apache-2.0
#include "control/mac_resolver.h"

#include <spdlog/spdlog.h>

#include <thread>

namespace sluice {

std::optional<IpAddr> KernelMacResolver::neighbour_of(const MacTarget& t) {
  if (t.mode == SL_MODE_DSR) return t.backend;  // same L2 segment by definition
  auto hop = nl_.route(t.backend);
  if (!hop) {
    spdlog::warn("backend {}: {}", t.backend.str(), hop.error().message());
    return std::nullopt;
  }
  if (hop->ifindex != ifindex_) {
    spdlog::warn("backend {}: the route leaves through another interface (ifindex {})",
                 t.backend.str(), hop->ifindex);
    return std::nullopt;
  }
  return hop->addr;
}

std::optional<Mac> KernelMacResolver::lookup(const IpAddr& neigh) {
  auto mac = nl_.neighbour(ifindex_, neigh);
  if (!mac) {
    spdlog::warn("neighbour {}: {}", neigh.str(), mac.error().message());
    return std::nullopt;
  }
  return *mac;
}

std::vector<std::optional<Mac>> KernelMacResolver::resolve(
    const std::vector<MacTarget>& targets, std::chrono::milliseconds wait) {
  std::vector<std::optional<Mac>> out(targets.size());
  std::vector<std::optional<IpAddr>> neigh(targets.size());
  bool missing = false;
  for (size_t i = 0; i < targets.size(); ++i) {
    neigh[i] = neighbour_of(targets[i]);
    if (neigh[i]) out[i] = lookup(*neigh[i]);
    if (neigh[i] && !out[i]) {
      missing = true;
      if (auto r = nl_.neighbour_probe(ifindex_, *neigh[i]); !r)
        spdlog::warn("{}", r.error().message());
    }
  }
  auto deadline = std::chrono::steady_clock::now() + wait;
  while (missing && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    missing = false;
    for (size_t i = 0; i < targets.size(); ++i) {
      if (neigh[i] && !out[i]) out[i] = lookup(*neigh[i]);
      missing = missing || (neigh[i] && !out[i]);
    }
  }
  return out;
}

}  // namespace sluice
