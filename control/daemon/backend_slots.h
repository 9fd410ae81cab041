// SPDX-License-Identifier: Apache-2.0
// Allocation of backend-table slots and VIP ids: lowest free index first,
// and a generation per backend slot that is bumped on every reuse so that
// connections recorded for the previous owner miss.
#pragma once

#include <cstdint>
#include <optional>
#include <set>
#include <vector>

namespace sluice {

class IndexPool {
 public:
  explicit IndexPool(uint32_t size) : gens_(size, 0), used_(size, false) {
    for (uint32_t i = 0; i < size; ++i) free_.insert(i);
  }

  std::optional<uint32_t> allocate() {
    if (free_.empty()) return std::nullopt;
    uint32_t i = *free_.begin();
    free_.erase(free_.begin());
    if (used_[i]) ++gens_[i];  // reuse: stale references must not match
    used_[i] = true;
    return i;
  }
  // Takes index `i` as a previous controller left it: in use at `gen`, so
  // that once released its next owner gets gen + 1, a value no connection
  // recorded for the old owner holds.
  void adopt(uint32_t i, uint32_t gen) {
    free_.erase(i);
    used_[i] = true;
    gens_[i] = gen;
  }
  bool in_use(uint32_t i) const { return !free_.contains(i); }
  void release(uint32_t i) { free_.insert(i); }
  uint32_t gen(uint32_t i) const { return gens_[i]; }

 private:
  std::vector<uint32_t> gens_;
  std::vector<bool> used_;  // ever allocated
  std::set<uint32_t> free_;
};

}  // namespace sluice
