// SPDX-License-Identifier: Apache-2.0
#include "xdp/xdp_acl_trie.h"

#include <arpa/inet.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <string>
#include <thread>

namespace sluice {
namespace {

constexpr unsigned kStride = SL_ACL_STRIDE;

// The depth (in bits) of the node a prefix of `len` bits is expanded in,
// and how many of its slots it covers there.
unsigned level_of(unsigned len) { return len == 0 ? 0 : (len - 1) / kStride * kStride; }
unsigned span_of(unsigned len) { return 1u << (level_of(len) + kStride - len); }

// The 4 bits of a network-order address at bit `d`.
unsigned nibble(const std::array<uint32_t, 4>& a, unsigned d) {
  return (ntohl(a[d / 32]) >> (32 - kStride - d % 32)) & (SL_ACL_FAN - 1);
}

void nibble_set(std::array<uint32_t, 4>& a, unsigned d, unsigned v) {
  uint32_t w = ntohl(a[d / 32]);
  unsigned shift = 32 - kStride - d % 32;
  w = (w & ~((SL_ACL_FAN - 1) << shift)) | (v << shift);
  a[d / 32] = htonl(w);
}

bool slot_used(const sl_acl_slot& s) { return s.verdict != 0 || s.child != 0; }

// The program reads these words while they change: each store is whole.
void store(uint32_t* at, uint32_t v) { __atomic_store_n(at, v, __ATOMIC_RELEASE); }

}  // namespace

size_t AclTrie::KeyHash::operator()(const Key& k) const {
  uint64_t h = (uint64_t(k.scope) << 16) ^ (uint64_t(k.family) << 8) ^ k.len;
  for (uint32_t w : k.addr) h = (h ^ w) * 0x9e3779b97f4a7c15ull;
  return size_t(h ^ (h >> 29));
}

AclTrie::AclTrie(sl_acl_node* nodes, uint32_t capacity, uint64_t* fast)
    : nodes_(nodes), cap_(capacity), fast_(fast), uses_(capacity, 0) {}

// Entry `top16` of `scope`'s /16 table: the deepest verdict of the four
// levels above bit 16 on its path, and the node below them.
void AclTrie::fast_entry_set(uint32_t scope, uint32_t top16) {
  uint32_t idx = sl_acl_root(scope, SL_AF_INET), best = 0;
  for (unsigned d = 0; d < SL_ACL_FAST_BITS && idx != 0; d += kStride) {
    const sl_acl_slot& s = nodes_[idx].slot[(top16 >> (SL_ACL_FAST_BITS - kStride - d)) & (SL_ACL_FAN - 1)];
    if (s.verdict != 0) best = s.verdict;
    idx = s.child;
  }
  uint64_t* at = &fast_[(uint64_t(scope) << SL_ACL_FAST_BITS) | top16];
  uint64_t v = sl_acl_fast_entry(idx, best);
  if (*at != v) __atomic_store_n(at, v, __ATOMIC_RELEASE);
}

// The entries a change of k's rule may have touched: every /16 a short
// prefix covers, or the one /16 holding a long one (its path's link at
// bit 16 may be new or gone).
void AclTrie::fast_refresh(const Key& k) {
  if (fast_ == nullptr || k.family != SL_AF_INET || k.scope >= SL_ACL_FAST_SCOPES) return;
  const uint32_t first = ntohl(k.addr[0]) >> (32 - SL_ACL_FAST_BITS);
  const uint32_t n = k.len >= SL_ACL_FAST_BITS ? 1u : 1u << (SL_ACL_FAST_BITS - k.len);
  for (uint32_t i = 0; i < n; i++) fast_entry_set(k.scope, first + i);
}

void AclTrie::fast_refresh_all() {
  if (fast_ == nullptr) return;
  for (uint32_t scope = 0; scope < SL_ACL_FAST_SCOPES; scope++)
    for (uint32_t i = 0; i < (1u << SL_ACL_FAST_BITS); i++) fast_entry_set(scope, i);
}

// Nodes retired since `from` (retired_ index) were maybe still linked from
// an entry until now: their quarantine starts now.
void AclTrie::retired_restamp(size_t from) {
  const auto now = Clock::now();
  for (size_t i = from; i < retired_.size(); i++) retired_[i].at = now;
}

AclTrie::Key AclTrie::key_of(uint32_t scope, uint8_t family, const std::array<uint32_t, 4>& addr,
                             unsigned len) {
  Key k{scope, family, uint8_t(len), {0, 0, 0, 0}};
  for (unsigned i = 0; i < 4 && len > 32 * i; i++) {
    unsigned bits = len - 32 * i >= 32 ? 32 : len - 32 * i;
    k.addr[i] = addr[i] & htonl(uint32_t(~0ull << (32 - bits)));
  }
  return k;
}

Result<void> AclTrie::check(const AclEntry& e) const {
  bool ok = e.scope < SL_ACL_SCOPES && e.rule.rule_id < SL_ACL_MAX_RULES &&
            ((e.family == SL_AF_INET && e.prefix_len <= 32) ||
             (e.family == SL_AF_INET6 && e.prefix_len <= 128));
  if (ok) return {};
  return make_error("acl trie entry", EINVAL,
                    "scope " + std::to_string(e.scope) + " family " + std::to_string(e.family) +
                        " /" + std::to_string(e.prefix_len) + " rule " +
                        std::to_string(e.rule.rule_id));
}

// The verdict slot `nib` of the node at `depth` on k's path should hold:
// the longest prefix of that node's level covering it.
uint32_t AclTrie::best(const Key& k, unsigned depth, unsigned nib) const {
  std::array<uint32_t, 4> a = k.addr;
  nibble_set(a, depth, nib);
  const unsigned lo = depth == 0 ? 0 : depth + 1;
  for (unsigned l = depth + kStride + 1; l-- > lo;) {
    auto it = rules_.find(key_of(k.scope, k.family, a, l));
    if (it != rules_.end()) return it->second;
  }
  return 0;
}

void AclTrie::slot_verdict_set(uint32_t node, unsigned i, uint32_t v) {
  sl_acl_slot& s = nodes_[node].slot[i];
  if (s.verdict == v) return;
  bool was = slot_used(s);
  store(&s.verdict, v);
  uses_[node] += int(slot_used(s)) - int(was);
}

void AclTrie::slot_child_set(uint32_t node, unsigned i, uint32_t child) {
  sl_acl_slot& s = nodes_[node].slot[i];
  bool was = slot_used(s);
  store(&s.child, child);
  uses_[node] += int(slot_used(s)) - int(was);
}

// The slots of k's node (at `depth`) that a prefix of `len` covers,
// each set to what the rules now say.
void AclTrie::refill(uint32_t node, const Key& k, unsigned depth, unsigned len) {
  const unsigned span = span_of(len);
  const unsigned first = nibble(k.addr, depth) & ~(span - 1);
  for (unsigned i = first; i < first + span; i++) slot_verdict_set(node, i, best(k, depth, i));
}

uint32_t AclTrie::missing_nodes(const Key& k, unsigned depth) const {
  uint32_t idx = sl_acl_root(k.scope, k.family);
  for (unsigned d = 0; d < depth; d += kStride) {
    idx = nodes_[idx].slot[nibble(k.addr, d)].child;
    if (idx == 0) return (depth - d) / kStride;
  }
  return 0;
}

// Down k's path to the node at `depth`, linking the (zeroed) nodes it
// lacks; the caller made sure there are enough.
uint32_t AclTrie::path_make(const Key& k, unsigned depth) {
  uint32_t idx = sl_acl_root(k.scope, k.family);
  for (unsigned d = 0; d < depth; d += kStride) {
    unsigned nib = nibble(k.addr, d);
    uint32_t child = nodes_[idx].slot[nib].child;
    if (child == 0) {
      child = node_alloc();
      slot_child_set(idx, nib, child);
    }
    idx = child;
  }
  return idx;
}

uint32_t AclTrie::node_alloc() {
  if (free_.empty()) {
    // Only retired nodes are left: wait out the oldest's quarantine
    // (at most kReuseAfter, and only when the trie is nearly full).
    std::this_thread::sleep_until(retired_.front().at + kReuseAfter);
    free_.push_back(retired_.front().idx);
    retired_.pop_front();
  }
  uint32_t idx = free_.back();
  free_.pop_back();
  used_++;
  return idx;
}

void AclTrie::node_retire(uint32_t idx) {
  used_--;
  const auto now = Clock::now();
  retired_.push_back({idx, now});
  while (!retired_.empty() && now - retired_.front().at >= kReuseAfter) {
    free_.push_back(retired_.front().idx);
    retired_.pop_front();
  }
}

Result<void> AclTrie::put(const AclEntry& e) {
  if (auto r = check(e); !r) return r;
  const unsigned len = e.prefix_len, depth = level_of(len);
  Key k = key_of(e.scope, e.family, e.addr, len);
  uint32_t need = missing_nodes(k, depth);
  if (need > free_.size() + retired_.size())
    return make_error("acl_put: firewall trie full", ENOSPC,
                      std::to_string(cap_ - SL_ACL_FIRST_FREE_NODE) + " nodes");
  rules_[k] = sl_acl_verdict_of(&e.rule);
  refill(path_make(k, depth), k, depth, len);
  fast_refresh(k);
  return {};
}

Result<void> AclTrie::del(const AclEntry& e) {
  if (auto r = check(e); !r) return r;
  const unsigned len = e.prefix_len, depth = level_of(len);
  Key k = key_of(e.scope, e.family, e.addr, len);
  if (rules_.erase(k) == 0) return {};
  uint32_t path[128 / kStride + 1];
  unsigned n = 0;
  path[n++] = sl_acl_root(k.scope, k.family);
  for (unsigned d = 0; d < depth; d += kStride) {
    uint32_t child = nodes_[path[n - 1]].slot[nibble(k.addr, d)].child;
    if (child == 0) return make_error("acl_del: rule without its trie node", EFAULT);
    path[n++] = child;
  }
  refill(path[n - 1], k, depth, len);
  // Unlink the nodes the delete emptied, deepest first (roots stay).
  const size_t retired_before = retired_.size();
  for (unsigned j = n - 1; j > 0 && uses_[path[j]] == 0; j--) {
    slot_child_set(path[j - 1], nibble(k.addr, (j - 1) * kStride), 0);
    node_retire(path[j]);
  }
  fast_refresh(k);
  retired_restamp(std::min(retired_before, retired_.size()));
  return {};
}

uint32_t AclTrie::verdict(const AclEntry& e) const {
  if (!check(e)) return 0;
  auto it = rules_.find(key_of(e.scope, e.family, e.addr, e.prefix_len));
  return it == rules_.end() ? 0 : it->second;
}

// Sets every slot below `node` (at `depth`, on `prefix`'s path) to what
// the rules say, unlinking children left empty; returns the node's uses.
uint32_t AclTrie::node_resync(uint32_t node, Key prefix, unsigned depth) {
  for (unsigned i = 0; i < SL_ACL_FAN; i++) {
    slot_verdict_set(node, i, best(prefix, depth, i));
    uint32_t child = nodes_[node].slot[i].child;
    if (child == 0) continue;
    if (depth + kStride >= (prefix.family == SL_AF_INET ? 32u : 128u)) {
      slot_child_set(node, i, 0);  // below a full-length level: not a real link
      continue;
    }
    Key sub = prefix;
    nibble_set(sub.addr, depth, i);
    if (node_resync(child, sub, depth + kStride) == 0) {
      slot_child_set(node, i, 0);
      node_retire(child);
    }
  }
  return uses_[node];
}

Result<void> AclTrie::sync(const std::vector<AclEntry>& rules) {
  if (cap_ <= SL_ACL_FIRST_FREE_NODE || cap_ > SL_ACL_MAX_NODES)
    return make_error("acl trie", EINVAL, std::to_string(cap_) + " nodes");
  for (const auto& e : rules)
    if (auto r = check(e); !r) return r;
  // Which nodes the trie links (a link that is out of range, to a root,
  // or to a node already linked is not trusted: cut).
  std::vector<uint8_t> linked(cap_, 0);
  std::vector<uint32_t> stack;
  for (uint32_t r = 1; r < SL_ACL_FIRST_FREE_NODE; r++) stack.push_back(r);
  used_ = 0;
  while (!stack.empty()) {
    uint32_t idx = stack.back();
    stack.pop_back();
    uses_[idx] = 0;
    for (unsigned i = 0; i < SL_ACL_FAN; i++) {
      sl_acl_slot& s = nodes_[idx].slot[i];
      if (s.child != 0 && (s.child < SL_ACL_FIRST_FREE_NODE || s.child >= cap_ || linked[s.child]))
        store(&s.child, 0);
      if (s.child != 0) {
        linked[s.child] = 1;
        used_++;
        stack.push_back(s.child);
      }
      uses_[idx] += slot_used(s);
    }
  }
  free_.clear();
  retired_.clear();
  static const sl_acl_node kZero{};
  for (uint32_t idx = cap_; idx-- > SL_ACL_FIRST_FREE_NODE;) {
    if (linked[idx]) continue;
    if (std::memcmp(&nodes_[idx], &kZero, sizeof(kZero)) != 0)
      std::memset(&nodes_[idx], 0, sizeof(sl_acl_node));
    uses_[idx] = 0;
    free_.push_back(idx);  // the lowest index last: taken first
  }
  rules_.clear();
  for (const auto& e : rules)
    rules_[key_of(e.scope, e.family, e.addr, e.prefix_len)] = sl_acl_verdict_of(&e.rule);
  // Every slot linked now as the rules say, then every rule's slots (its
  // path may be missing).
  for (uint32_t scope = 0; scope < SL_ACL_SCOPES; scope++)
    for (uint8_t fam : {uint8_t(SL_AF_INET), uint8_t(SL_AF_INET6)})
      node_resync(sl_acl_root(scope, fam), key_of(scope, fam, {0, 0, 0, 0}, 0), 0);
  fast_refresh_all();  // before a node retired above can be reused
  retired_restamp(0);
  Result<void> out;
  for (const auto& e : rules) {
    const unsigned depth = level_of(e.prefix_len);
    Key k = key_of(e.scope, e.family, e.addr, e.prefix_len);
    if (missing_nodes(k, depth) > free_.size() + retired_.size()) {
      out = make_error("acl sync: firewall trie full", ENOSPC,
                       std::to_string(cap_ - SL_ACL_FIRST_FREE_NODE) + " nodes");
      break;
    }
    refill(path_make(k, depth), k, depth, e.prefix_len);
  }
  fast_refresh_all();
  return out;
}

}  // namespace sluice
