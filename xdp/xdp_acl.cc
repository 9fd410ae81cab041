// SPDX-License-Identifier: Apache-2.0
#include "xdp/xdp_acl.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include <cerrno>
#include <cstring>
#include <string>

namespace sluice {
namespace {

bool valid(const AclEntry& e) {
  if (e.family == SL_AF_INET) return e.prefix_len <= 32;
  return e.family == SL_AF_INET6 && e.prefix_len <= 128;
}

Error invalid(const AclEntry& e) {
  return make_error("acl entry", EINVAL,
                    "family " + std::to_string(e.family) + " /" + std::to_string(e.prefix_len));
}

// The trie key of an entry: the scope's 32 bits, then the prefix.
sl_acl_key4 key4(const AclEntry& e) {
  sl_acl_key4 k{};
  k.prefixlen = 32u + e.prefix_len;
  k.scope = e.scope;
  k.addr = e.addr[0];
  return k;
}

sl_acl_key6 key6(const AclEntry& e) {
  sl_acl_key6 k{};
  k.prefixlen = 32u + e.prefix_len;
  k.scope = e.scope;
  std::memcpy(k.addr, e.addr.data(), sizeof(k.addr));
  return k;
}

// Every key of one trie (LPM tries walk with get_next_key, in no promised
// order; the controller holds at most SL_ACL_MAX_RULES, so the walk ends).
template <typename Key, typename Fill>
Result<void> walk(int fd, const char* what, Fill fill) {
  Key cur{}, next{};
  const Key* prev = nullptr;
  for (uint32_t n = 0; n <= SL_ACL_MAX_RULES; ++n) {
    if (bpf_map_get_next_key(fd, prev, &next) != 0) {
      if (errno == ENOENT) return {};
      return make_error("bpf_map_get_next_key", errno, what);
    }
    sl_acl_rule r{};
    if (bpf_map_lookup_elem(fd, &next, &r) == 0) fill(next, r);
    else if (errno != ENOENT) return make_error("bpf_map_lookup_elem", errno, what);
    cur = next;
    prev = &cur;
  }
  return make_error("acl walk: more entries than rule ids", E2BIG, what);
}

}  // namespace

Result<void> acl_map_put(const AclMapFds& m, const AclEntry& e) {
  if (!valid(e) || e.rule.rule_id >= SL_ACL_MAX_RULES) return invalid(e);
  int rc;
  if (e.family == SL_AF_INET) {
    auto k = key4(e);
    rc = bpf_map_update_elem(m.v4, &k, &e.rule, BPF_ANY);
  } else {
    auto k = key6(e);
    rc = bpf_map_update_elem(m.v6, &k, &e.rule, BPF_ANY);
  }
  if (rc != 0) return make_error("bpf_map_update_elem", errno, e.family == SL_AF_INET ? "acl_v4" : "acl_v6");
  return {};
}

Result<void> acl_map_del(const AclMapFds& m, const AclEntry& e) {
  if (!valid(e)) return invalid(e);
  int rc;
  if (e.family == SL_AF_INET) {
    auto k = key4(e);
    rc = bpf_map_delete_elem(m.v4, &k);
  } else {
    auto k = key6(e);
    rc = bpf_map_delete_elem(m.v6, &k);
  }
  if (rc != 0 && errno != ENOENT)
    return make_error("bpf_map_delete_elem", errno, e.family == SL_AF_INET ? "acl_v4" : "acl_v6");
  return {};
}

Result<std::vector<AclEntry>> acl_map_list(const AclMapFds& m) {
  std::vector<AclEntry> out;
  auto r4 = walk<sl_acl_key4>(m.v4, "acl_v4", [&](const sl_acl_key4& k, const sl_acl_rule& r) {
    if (k.prefixlen < 32 || k.prefixlen > 64) return;
    AclEntry e;
    e.scope = k.scope;
    e.family = SL_AF_INET;
    e.prefix_len = static_cast<uint8_t>(k.prefixlen - 32);
    e.addr[0] = k.addr;
    e.rule = r;
    out.push_back(e);
  });
  if (!r4.ok()) return r4.error();
  auto r6 = walk<sl_acl_key6>(m.v6, "acl_v6", [&](const sl_acl_key6& k, const sl_acl_rule& r) {
    if (k.prefixlen < 32 || k.prefixlen > 160) return;
    AclEntry e;
    e.scope = k.scope;
    e.family = SL_AF_INET6;
    e.prefix_len = static_cast<uint8_t>(k.prefixlen - 32);
    std::memcpy(e.addr.data(), k.addr, sizeof(k.addr));
    e.rule = r;
    out.push_back(e);
  });
  if (!r6.ok()) return r6.error();
  return out;
}

// One batched lookup per 4096 ids: 32 syscalls for the whole id space.
Result<std::vector<uint64_t>> acl_map_hits(const AclMapFds& m) {
  int ncpu = libbpf_num_possible_cpus();
  if (ncpu <= 0) return make_error("libbpf_num_possible_cpus", -ncpu, "acl_hits");
  constexpr uint32_t kChunk = 4096;
  std::vector<uint64_t> out(SL_ACL_MAX_RULES, 0);
  std::vector<uint32_t> keys(kChunk);
  std::vector<uint64_t> vals(static_cast<size_t>(kChunk) * static_cast<size_t>(ncpu));
  uint32_t batch = 0;
  bool first = true;
  for (uint32_t done = 0; done < SL_ACL_MAX_RULES;) {
    uint32_t n = kChunk;
    int rc = bpf_map_lookup_batch(m.hits, first ? nullptr : &batch, &batch, keys.data(),
                                  vals.data(), &n, nullptr);
    if (rc != 0 && errno != ENOENT) return make_error("bpf_map_lookup_batch", errno, "acl_hits");
    for (uint32_t i = 0; i < n; ++i) {
      uint64_t sum = 0;
      for (int c = 0; c < ncpu; ++c) sum += vals[static_cast<size_t>(i) * ncpu + c];
      if (keys[i] < SL_ACL_MAX_RULES) out[keys[i]] = sum;
    }
    done += n;
    first = false;
    if (rc != 0 || n == 0) break;  // ENOENT: the last batch
  }
  return out;
}

Result<void> acl_map_hits_reset(const AclMapFds& m, uint32_t rule_id) {
  int ncpu = libbpf_num_possible_cpus();
  if (ncpu <= 0) return make_error("libbpf_num_possible_cpus", -ncpu, "acl_hits");
  std::vector<uint64_t> zero(static_cast<size_t>(ncpu), 0);
  if (bpf_map_update_elem(m.hits, &rule_id, zero.data(), BPF_ANY) != 0)
    return make_error("bpf_map_update_elem", errno, "acl_hits[" + std::to_string(rule_id) + "]");
  return {};
}

}  // namespace sluice
