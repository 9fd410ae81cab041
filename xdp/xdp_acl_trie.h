// SPDX-License-Identifier: Apache-2.0
// The writer of the firewall's multibit trie (core/abi.h sl_acl_node,
// core/acl_trie.h): the controller's side of the acl_nodes map, written in
// place through its shared mapping while the program walks it.
//
// Why a walk never sees a half-made change: every store is one aligned
// 32-bit word (a slot's verdict, or its child link), so a walk reads each
// slot old or new; a new node is all zero when it is linked, so a walk that
// meets it before its slots are filled ends with the verdict it had (the
// old answer); a node emptied by a delete is unlinked first and reused only
// after kReuseAfter, by when no walk that entered it (an XDP run lasts
// microseconds) is still inside.
//
// The /16 tables (`fast`, core/abi.h) are derived from the nodes: after a
// change the entries it touched are recomputed from the nodes, each one
// 64-bit store; a node unlinked by the change starts its quarantine only
// once no entry links it any more.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <deque>
#include <unordered_map>
#include <vector>

#include "core/abi.h"
#include "core/host/result.h"
#include "dataplane/dataplane.h"

namespace sluice {

class AclTrie {
 public:
  static constexpr std::chrono::milliseconds kReuseAfter{1};

  // `nodes`: `capacity` nodes (at most SL_ACL_MAX_NODES, more than the
  // roots), which may hold the trie a previous controller wrote; `fast`:
  // SL_ACL_FAST_ENTRIES entries, or null (no /16 tables).
  AclTrie(sl_acl_node* nodes, uint32_t capacity, uint64_t* fast = nullptr);

  // Makes the nodes hold exactly `rules` (the rule list kept beside them)
  // and the writer's view match: after a restart that adopted the nodes,
  // or on fresh ones. Entries that already agree are not written.
  Result<void> sync(const std::vector<AclEntry>& rules);

  // Inserts or replaces the rule of (scope, family, prefix). ENOSPC when
  // the nodes it needs are not free; then nothing changed.
  Result<void> put(const AclEntry& e);
  // Removes the rule of (scope, family, prefix); absent: nothing to do.
  Result<void> del(const AclEntry& e);
  // The rule held for (scope, family, prefix), if any (its verdict word).
  uint32_t verdict(const AclEntry& e) const;

  uint32_t nodes_used() const { return used_; }
  size_t rules() const { return rules_.size(); }
  uint32_t capacity() const { return cap_; }

 private:
  struct Key {
    uint32_t scope;
    uint8_t family;
    uint8_t len;
    std::array<uint32_t, 4> addr;  // network order, cut to len
    bool operator==(const Key& o) const {
      return scope == o.scope && family == o.family && len == o.len && addr == o.addr;
    }
  };
  struct KeyHash {
    size_t operator()(const Key& k) const;
  };
  using Clock = std::chrono::steady_clock;
  struct Retired {
    uint32_t idx;
    Clock::time_point at;
  };

  Result<void> check(const AclEntry& e) const;
  static Key key_of(uint32_t scope, uint8_t family, const std::array<uint32_t, 4>& addr,
                    unsigned len);
  uint32_t best(const Key& k, unsigned depth, unsigned nib) const;
  void refill(uint32_t node, const Key& k, unsigned depth, unsigned len);
  uint32_t missing_nodes(const Key& k, unsigned depth) const;
  uint32_t path_make(const Key& k, unsigned depth);
  void slot_verdict_set(uint32_t node, unsigned i, uint32_t v);
  void slot_child_set(uint32_t node, unsigned i, uint32_t child);
  uint32_t node_alloc();
  void node_retire(uint32_t idx);
  uint32_t node_resync(uint32_t node, Key prefix, unsigned depth);
  void fast_refresh(const Key& k);
  void fast_refresh_all();
  void fast_entry_set(uint32_t scope, uint32_t top16);
  void retired_restamp(size_t from);

  sl_acl_node* nodes_;
  uint32_t cap_;
  uint64_t* fast_;
  uint32_t used_ = 0;                                 // nodes linked in, roots not counted
  std::vector<uint8_t> uses_;                         // per node: slots with a verdict or a child
  std::vector<uint32_t> free_;                        // never linked since sync: reusable now
  std::deque<Retired> retired_;                       // unlinked, oldest first
  std::unordered_map<Key, uint32_t, KeyHash> rules_;  // prefix -> verdict word
};

}  // namespace sluice
