// SPDX-License-Identifier: Apache-2.0
#include "dataplane/dpdk/conn_table.h"

#include <rte_eal.h>
#include <rte_malloc.h>
#include <sys/mman.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <string>

namespace sluice::dpdk {

namespace {

constexpr size_t kHugePage = size_t(2) << 20;

size_t round_up(size_t n, size_t to) { return (n + to - 1) / to * to; }

}  // namespace

Result<std::unique_ptr<ConnTable>> ConnTable::create(uint32_t capacity, int socket, bool huge) {
  if (capacity == 0 || capacity > (1u << 30))
    return make_error("conn table: capacity out of range", EINVAL, std::to_string(capacity));
  std::unique_ptr<ConnTable> t(new ConnTable());
  // A full table fills its buckets to 0.7 of their ways on average
  // (10.5 of 15): few fill up and spill.
  t->cap_ = capacity;
  t->slots_ = slots_for(capacity);
  t->n_buckets_ = t->slots_ / ConnBucket::kWays;
  uint64_t nb = t->n_buckets_;

  size_t b_len = round_up(sizeof(ConnBucket) * nb, 128);
  size_t r_len = sizeof(ConnRecord) * size_t(t->slots_);
  size_t h_len = round_up(sizeof(ConnKeyHigh) * size_t(t->slots_), 128);
  size_t len = b_len + r_len + h_len;
  char* mem;
  if (rte_eal_has_hugepages()) {
    mem = static_cast<char*>(rte_malloc_socket("sl_conn_table", len, 128, socket));
    if (!mem) return make_error("rte_malloc(conn table)", ENOMEM, std::to_string(len));
    t->mem_eal_ = true;
  } else {
    // 2 MiB aligned so that every 2 MiB of the table can be one page.
    size_t map_len = round_up(len, kHugePage) + kHugePage;
    void* p = mmap(nullptr, map_len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) return make_error("mmap(conn table)", errno, std::to_string(map_len));
    char* base = static_cast<char*>(p);
    char* aligned = reinterpret_cast<char*>(round_up(reinterpret_cast<uintptr_t>(base), kHugePage));
    size_t keep = round_up(len, kHugePage);
    if (aligned > base) munmap(base, size_t(aligned - base));
    size_t tail = map_len - size_t(aligned - base) - keep;
    if (tail) munmap(aligned + keep, tail);
    // Not fatal: without THP (disabled, or `huge` false) the table works
    // on 4 KiB pages.
    if (huge) (void)madvise(aligned, keep, MADV_HUGEPAGE);
    mem = aligned;
    len = keep;
  }
  t->mem_ = mem;
  t->mem_len_ = len;
  t->buckets_ = reinterpret_cast<ConnBucket*>(mem);
  t->recs_ = reinterpret_cast<ConnRecord*>(mem + b_len);
  t->high_ = reinterpret_cast<ConnKeyHigh*>(mem + b_len + r_len);
  // Every page is touched here, not by the first packets.
  std::memset(mem, 0, b_len + r_len + h_len);
  return t;
}

ConnTable::~ConnTable() {
  if (!mem_) return;
  if (mem_eal_)
    rte_free(mem_);
  else
    munmap(mem_, mem_len_);
}

void ConnTable::record_write(ConnRecord& r, uint32_t used, const sl_conn* c) {
  uint32_t seq = r.seq;
  __atomic_store_n(&r.seq, seq + 1, __ATOMIC_RELAXED);
  std::atomic_thread_fence(std::memory_order_release);
  __atomic_store_n(&r.used, used, __ATOMIC_RELAXED);
  if (c) r.conn = *c;
  __atomic_store_n(&r.seq, seq + 2, __ATOMIC_RELEASE);
}

void ConnTable::record_write_key(uint32_t pos, uint32_t used, const sl_flow_key& k, uint32_t h,
                                 const sl_conn& c) {
  ConnRecord& r = recs_[pos];
  uint32_t seq = r.seq;
  __atomic_store_n(&r.seq, seq + 1, __ATOMIC_RELAXED);
  std::atomic_thread_fence(std::memory_order_release);
  __atomic_store_n(&r.used, used, __ATOMIC_RELAXED);
  r.conn = c;
  r.src0 = k.src[0];
  r.dst0 = k.dst[0];
  r.sport = k.sport;
  r.dport = k.dport;
  r.proto = k.proto;
  r.family = k.family;
  r.high = has_high(k);
  r.zero = 0;
  r.key_pad = k.pad;
  r.hash = h;
  if (r.high) {
    ConnKeyHigh& x = high_[pos];
    for (int i = 0; i < 3; i++) x.src[i] = k.src[i + 1], x.dst[i] = k.dst[i + 1];
  }
  __atomic_store_n(&r.seq, seq + 2, __ATOMIC_RELEASE);
}

sl_flow_key ConnTable::key_at(uint32_t pos) const {
  const ConnRecord& r = recs_[pos];
  sl_flow_key k{};
  k.src[0] = r.src0;
  k.dst[0] = r.dst0;
  k.sport = r.sport;
  k.dport = r.dport;
  k.proto = r.proto;
  k.family = r.family;
  k.pad = r.key_pad;
  if (r.high) {
    const ConnKeyHigh& x = high_[pos];
    for (int i = 0; i < 3; i++) k.src[i + 1] = x.src[i], k.dst[i + 1] = x.dst[i];
  }
  return k;
}

bool ConnTable::read(uint32_t pos, sl_flow_key& k, sl_conn& c) const {
  if (pos >= slots_) return false;
  const ConnRecord& r = recs_[pos];
  for (int attempt = 0; attempt < 4; attempt++) {
    uint32_t s1 = __atomic_load_n(&r.seq, __ATOMIC_ACQUIRE);
    if (s1 & 1) continue;
    if (__atomic_load_n(&r.used, __ATOMIC_RELAXED) != kConfirmed) return false;
    k = key_at(pos);
    std::memcpy(&c, const_cast<const sl_conn*>(&r.conn), sizeof(c));
    std::atomic_thread_fence(std::memory_order_acquire);
    if (__atomic_load_n(&r.seq, __ATOMIC_RELAXED) == s1) return true;
  }
  return false;
}

// Frees the record's way (and the spill it counted in its first bucket).
void ConnTable::remove_at(uint32_t pos) {
  ConnRecord& r = recs_[pos];
  uint32_t bi = bucket_of(pos), first = first_bucket(r.hash);
  buckets_[bi].sig[pos - bi * ConnBucket::kWays] = 0;
  ConnBucket& home = buckets_[first];
  if (first != bi && home.spilled != ConnBucket::kSpillStuck) home.spilled--;
  record_write(r, 0, nullptr);
  count_.store(count_.load(std::memory_order_relaxed) - 1, std::memory_order_relaxed);
}

bool ConnTable::remove(const sl_flow_key& k) {
  uint32_t p = lookup(k);
  if (p == kNoPos) return false;
  remove_at(p);
  return true;
}

// A full table (capacity records): evicts the oldest record (an
// unconfirmed one if so asked) of the first window of kEvictWindow
// positions under the clock hand that holds any record, looking at most
// kEvictWindows windows on. A window holding records but no candidate
// (a SYN's, all confirmed) ends the search: a flood of SYNs costs one
// window each. A window is read without a branch per position: whether
// one holds a candidate is a coin toss (0.7 of them are in use), and the
// branches cost more than the reads.
bool ConnTable::evict_under_hand(bool unconfirmed_only) {
  static_assert(kEvictWindow <= ConnBucket::kWays && kEvictWindow <= 16,
                "a window fits the smallest table, and its places 4 bits");
  // The `used` marks (0, kConfirmed, kUnconfirmed) a victim may have, a
  // bit each.
  const uint32_t accept =
      unconfirmed_only ? 1u << kUnconfirmed : (1u << kConfirmed) | (1u << kUnconfirmed);
  for (unsigned window = 0; window < kEvictWindows; window++) {
    // Windows wrap at the end, so where they fall shifts from one sweep to
    // the next. (Tried: windows that end at the last position, the same
    // every sweep; a new UDP flow in a table of 1e6 lost 15 ns.)
    uint32_t start = hand_;
    uint32_t next = start + kEvictWindow;
    if (next >= slots_) next -= slots_;
    hand_ = next;
    // The next window's records on their way.
    for_window(next, [&](uint32_t p, uint32_t) { rte_prefetch0(&recs_[p]); });
    // The oldest as one minimum, without a branch per position: each
    // position's created_ns shifted up 4 bits, its place in the window in
    // those bits (created_ns < 2^60: the monotonic clock's 36 years; ties
    // go to the first); all ones for one that is not a candidate.
    uint32_t in_use = 0;
    uint64_t oldest = UINT64_MAX;
    for_window(start, [&](uint32_t p, uint32_t i) {
      const ConnRecord& r = recs_[p];
      uint32_t used = r.used;
      in_use |= used;
      oldest = std::min(oldest, uint64_t(r.conn.created_ns << 4 | i) |
                                    (uint64_t(accept >> used & 1) - 1));
    });
    if (oldest != UINT64_MAX) {
      uint32_t victim = start + uint32_t(oldest & 15);
      remove_at(victim >= slots_ ? victim - slots_ : victim);
      return true;
    }
    if (in_use) return false;
  }
  return false;
}

// A free way of the key's first bucket, else of its second; both full:
// the oldest of their thirty records (unconfirmed only if so asked) is
// evicted for it. kNoPos: none.
uint32_t ConnTable::place(uint32_t h, bool unconfirmed_only, unsigned& evictions) {
  uint32_t bs[2] = {first_bucket(h), second_bucket(h)};
  for (int attempt = 0; attempt < 2; attempt++) {
    for (int i = 0; i < 2; i++) {
      ConnBucket& b = buckets_[bs[i]];
      unsigned free_ways = sig_match(b, 0);
      if (!free_ways) continue;
      unsigned w = unsigned(__builtin_ctz(free_ways));
      b.sig[w] = sig_of(h);
      ConnBucket& home = buckets_[bs[0]];
      if (bs[i] != bs[0] && home.spilled != ConnBucket::kSpillStuck) home.spilled++;
      return bs[i] * ConnBucket::kWays + w;
    }
    if (attempt == 1) break;
    uint32_t victim = kNoPos;
    uint64_t oldest = UINT64_MAX;
    for (uint32_t bi : bs)
      for (unsigned w = 0; w < ConnBucket::kWays; w++) {
        uint32_t p = bi * ConnBucket::kWays + w;
        const ConnRecord& r = recs_[p];
        if (buckets_[bi].sig[w] && (!unconfirmed_only || r.used == kUnconfirmed) &&
            r.conn.created_ns < oldest) {
          oldest = r.conn.created_ns;
          victim = p;
        }
      }
    if (victim == kNoPos) return kNoPos;
    remove_at(victim);
    evictions++;
  }
  return kNoPos;
}

int32_t ConnTable::insert(const sl_flow_key& k, const sl_conn& c, uint32_t used,
                          unsigned& evictions) {
  uint32_t h = hash(k);
  if (lookup_hashed(k, h) != kNoPos) return -EEXIST;
  return insert_absent(k, h, c, used, evictions);
}

int32_t ConnTable::insert_absent(const sl_flow_key& k, uint32_t h, const sl_conn& c,
                                 uint32_t used, unsigned& evictions) {
  bool unconfirmed_only = used == kUnconfirmed;
  if (count() >= cap_) {
    if (!evict_under_hand(unconfirmed_only)) return -ENOSPC;
    evictions++;
  }
  uint32_t pos = place(h, unconfirmed_only, evictions);
  if (pos == kNoPos) return -ENOSPC;
  record_write_key(pos, used, k, h, c);
  count_.store(count_.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  return int32_t(pos);
}

}  // namespace sluice::dpdk
