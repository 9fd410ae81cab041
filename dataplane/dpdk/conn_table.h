// SPDX-License-Identifier: Apache-2.0
// A DPDK worker's connection table: flow key -> sl_conn, shaped for a burst.
//
// Set-associative: a key hashes to two buckets of 15 ways, and way w of
// bucket b is the record at position 15b + w, so a bucket holds only the
// ways' 16-bit signatures (32 bytes; 0: free) and a spill count. The
// bucket array is small enough to stay in the cache (3.4 MB for 1.1e6
// records, 1/30 of the records), so a hit reads one line from memory: its
// record (sl_conn, its marks, the key's first address words and ports; an
// IPv6 key's other words are in a second array, read only for such keys).
// lookup_bulk (and Staged, for a burst that has work to put in between)
// does it in three passes so the misses overlap: hash every key and
// prefetch its bucket; match signatures and prefetch the record; compare
// the keys.
//
// A key goes to its first bucket unless that one is full (the first then
// counts it as spilled, so a lookup reads the second only for buckets that
// spilled). The table has 1/0.7 slots per record of its capacity, so
// buckets fill to about 10 of 15 ways when the table is full. It holds at
// most `capacity` records: a full table evicts the oldest of the next few
// records under a clock hand; two full buckets evict the oldest of their
// thirty (unconfirmed first for a SYN, both ways).
//
// Threads. One writer (the worker's lcore) calls everything that is not
// marked "any thread". Other threads read records only by position
// (read()), under the record's sequence count, which covers the key as
// well as the sl_conn: a position reused for another flow is never read
// with the old flow's key. Buckets are read by the writer only.
//
// Memory is taken once, at create(): the EAL's (rte_malloc_socket on the
// given socket) when the EAL runs on hugepages, as production does; else
// (--no-huge: labs, tests, the benchmark) anonymous memory, 2 MiB aligned
// and advised for transparent huge pages, which the kernel places by first
// touch — the one node of these machines.
#pragma once

#include <rte_hash_crc.h>
#include <rte_prefetch.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>

#include "core/abi.h"
#include "core/host/result.h"

namespace sluice::dpdk {

// ConnRecord.used: 0 free; a SYN's record waits unconfirmed until the
// client's ACK (core/pipeline.h).
inline constexpr uint32_t kConfirmed = 1, kUnconfirmed = 2;

// One cache line. The key is sl_flow_key's fields: words 0 of the
// addresses here, words 1..3 in the table's ConnKeyHigh of the same
// position when `high` says they are not all zero (IPv6; a parsed IPv4
// key has them zero, and then the lookup reads no second line).
struct alignas(64) ConnRecord {
  uint32_t seq;  // odd while the writer changes the record
  uint32_t used;
  sl_conn conn;
  // 16 bytes compared as two words (ConnTable::head_of)
  uint32_t src0, dst0;
  uint16_t sport, dport;
  uint8_t proto, family, high, zero;
  uint16_t key_pad;  // sl_flow_key.pad
  uint16_t pad;
  uint32_t hash;     // of the key: its buckets, without the key
};
static_assert(sizeof(ConnRecord) == 64 && offsetof(ConnRecord, src0) == 40);

struct ConnKeyHigh {
  uint32_t src[3], dst[3];
  uint32_t pad[2];
};
static_assert(sizeof(ConnKeyHigh) == 32);

// Way w's record is at position kWays * bucket + w.
struct alignas(32) ConnBucket {
  static constexpr unsigned kWays = 15;
  uint16_t sig[kWays];  // 0: the way is free
  // Keys of which this is the first bucket, held in their second; at
  // kSpillStuck it stays (the second is then always read).
  uint16_t spilled;
  static constexpr uint16_t kSpillStuck = UINT16_MAX;
};
static_assert(sizeof(ConnBucket) == 32);

class ConnTable {
 public:
  // A key's 16 bytes as a record holds them at src0 (head_of).
  struct Head {
    uint64_t a, b;
  };
  static constexpr uint32_t kNoPos = UINT32_MAX;
  // A full table's clock hand reads a window of positions per eviction
  // (about 8 records in use at 0.7) and looks at most kEvictWindows windows
  // on for one that holds any.
  static constexpr unsigned kEvictWindow = 12;
  static constexpr unsigned kEvictWindows = 4;
  static constexpr uint32_t kMaxBulk = 64;

  // `huge`: advise transparent huge pages when the EAL has no hugepages
  // (false: 4 KiB pages, for comparison).
  static Result<std::unique_ptr<ConnTable>> create(uint32_t capacity, int socket,
                                                   bool huge = true);
  // The positions (records) of a table of `capacity`: 1/0.7 of it, in
  // whole buckets.
  static uint32_t slots_for(uint32_t capacity) {
    uint64_t nb = (uint64_t(capacity) * 10 + ConnBucket::kWays * 7 - 1) / (ConnBucket::kWays * 7);
    return uint32_t(nb * ConnBucket::kWays);
  }
  ~ConnTable();
  ConnTable(const ConnTable&) = delete;
  ConnTable& operator=(const ConnTable&) = delete;

  // --- the writer ------------------------------------------------------
  uint32_t lookup(const sl_flow_key& k) const { return lookup_hashed(k, hash(k)); }
  // pos[i]: keys[i]'s position or kNoPos; n <= kMaxBulk.
  void lookup_bulk(const sl_flow_key* const* keys, uint32_t n, uint32_t* pos) const;

  // A lookup in three stages, for a caller that has other work to put
  // between them so the two memory reads overlap it (the worker's burst).
  // start hashes and fetches the bucket; match reads it and fetches the
  // record of the first way whose signature matches; finish checks that
  // record (in use, same key) and otherwise looks the key up whole. So
  // the table may change in between (the writer's own inserts and
  // evictions): finish answers for the table as it is when it runs.
  struct Staged {
    Head q;
    uint32_t h;  // the key's hash
    uint32_t cand;
  };
  void start(Staged& s, const sl_flow_key& k) const {
    s.q = head_of(k);
    s.h = hash_head(s.q, k);
    s.cand = kNoPos;
    rte_prefetch0(&buckets_[first_bucket(s.h)]);
  }
  void match(Staged& s) const {
    uint32_t bi = first_bucket(s.h);
    const ConnBucket& b = buckets_[bi];
    unsigned m = sig_match(b, sig_of(s.h));
    if (m) {
      s.cand = bi * ConnBucket::kWays + unsigned(__builtin_ctz(m));
      rte_prefetch0(&recs_[s.cand]);
      if (s.q.b >> 48 & 1) rte_prefetch0(&high_[s.cand]);
      return;
    }
    // A miss, most likely a new flow: its insert will write the record of
    // the bucket's first free way (place()).
    s.cand = kNoPos;
    if (unsigned f = sig_match(b, 0))
      rte_prefetch0_write(&recs_[bi * ConnBucket::kWays + unsigned(__builtin_ctz(f))]);
  }
  uint32_t finish(const Staged& s, const sl_flow_key& k) const {
    if (s.cand != kNoPos && recs_[s.cand].used && key_eq(s.cand, k, s.q)) return s.cand;
    return lookup_hashed(k, s.h);
  }
  // Records `k` if absent: its position, -EEXIST (present, left as it
  // is) or -ENOSPC (no room, even after evicting). A table of capacity
  // records first evicts the oldest record of the next kEvictWindow
  // positions under the clock hand (evict_under_hand); two full buckets,
  // the oldest of their records (`used` kUnconfirmed: either only an
  // unconfirmed one). `evictions` counts the records evicted.
  int32_t insert(const sl_flow_key& k, const sl_conn& c, uint32_t used, unsigned& evictions);
  // insert() for a key the caller has just looked up and not found, with
  // nothing written to the table since: `h` is the hash of that lookup
  // (Staged::h), and neither is done again.
  int32_t insert_absent(const sl_flow_key& k, uint32_t h, const sl_conn& c, uint32_t used,
                        unsigned& evictions);
  bool remove(const sl_flow_key& k);
  // A record's fields in place, under its sequence count (nullptr: kept).
  void write(uint32_t pos, uint32_t used, const sl_conn* c) { rewrite(recs_[pos], used, c); }
  static void rewrite(ConnRecord& r, uint32_t used, const sl_conn* c) {
    record_write(r, used, c);
  }
  ConnRecord& at(uint32_t pos) { return recs_[pos]; }
  const ConnRecord& at(uint32_t pos) const { return recs_[pos]; }
  // The key of a record (the writer's view).
  sl_flow_key key_at(uint32_t pos) const;
  // The record holding `c` (a pointer at(pos).conn handed out).
  static ConnRecord& record_of(sl_conn* c) {
    return *reinterpret_cast<ConnRecord*>(reinterpret_cast<char*>(c) - offsetof(ConnRecord, conn));
  }

  // --- any thread --------------------------------------------------------
  // Records it holds at most.
  uint32_t capacity() const { return cap_; }
  // Positions: 0 .. slots() - 1 (more than capacity(): buckets keep ways free).
  uint32_t slots() const { return slots_; }
  uint64_t count() const { return count_.load(std::memory_order_relaxed); }
  // The confirmed record at `pos`, consistent (false: free, unconfirmed,
  // or changing under every attempt).
  bool read(uint32_t pos, sl_flow_key& k, sl_conn& c) const;

 private:
  friend struct ConnTableProbe;  // the tests' view of buckets and hashes
  ConnTable() = default;

  // The signature from the low half of the hash, the buckets (multiply
  // and shift: any number of buckets) mostly from the high half, so keys
  // of one bucket do not share their signatures.
  static uint16_t sig_of(uint32_t h) {
    uint16_t s = uint16_t(h);
    return s ? s : 1;  // 0 marks a free way
  }
  uint32_t first_bucket(uint32_t h) const { return uint32_t((uint64_t(h) * n_buckets_) >> 32); }
  uint32_t second_bucket(uint32_t h) const {
    return uint32_t((uint64_t(rte_hash_crc_4byte(h, 0x2ee5)) * n_buckets_) >> 32);
  }
  static uint32_t bucket_of(uint32_t pos) { return pos / ConnBucket::kWays; }
  static bool has_high(const sl_flow_key& k) {
    return (k.src[1] | k.src[2] | k.src[3] | k.dst[1] | k.dst[2] | k.dst[3]) != 0;
  }
  // A key's 16 bytes as the record holds them at src0 (little-endian).
  static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__);
  static Head head_of(const sl_flow_key& k) {
    Head h;
    h.a = uint64_t(k.src[0]) | uint64_t(k.dst[0]) << 32;
    h.b = uint64_t(k.sport) | uint64_t(k.dport) << 16 | uint64_t(k.proto) << 32 |
          uint64_t(k.family) << 40 | uint64_t(has_high(k)) << 48;
    return h;
  }
  // The head's two words, then (IPv6) the other address words: an IPv4
  // key costs two CRC steps, not five.
  static uint32_t hash_head(const Head& q, const sl_flow_key& k) {
    uint32_t h = rte_hash_crc_8byte(q.b, rte_hash_crc_8byte(q.a, 0x5eed));
    if (q.b >> 48 & 1) {
      uint64_t w[3];
      __builtin_memcpy(w, &k.src[1], 12);
      __builtin_memcpy(reinterpret_cast<char*>(w) + 12, &k.dst[1], 12);
      for (uint64_t x : w) h = rte_hash_crc_8byte(x, h);
    }
    return h;
  }
  static uint32_t hash(const sl_flow_key& k) { return hash_head(head_of(k), k); }
  bool key_eq(uint32_t pos, const sl_flow_key& k) const { return key_eq(pos, k, head_of(k)); }
  bool key_eq(uint32_t pos, const sl_flow_key& k, const Head& q) const {
    const ConnRecord& r = recs_[pos];
    uint64_t a, b;
    __builtin_memcpy(&a, &r.src0, 8);
    __builtin_memcpy(&b, &r.sport, 8);
    if (((a ^ q.a) | (b ^ q.b) | uint64_t(r.key_pad ^ k.pad)) != 0) return false;
    if (!r.high) return true;
    const ConnKeyHigh& x = high_[pos];
    return ((x.src[0] ^ k.src[1]) | (x.src[1] ^ k.src[2]) | (x.src[2] ^ k.src[3]) |
            (x.dst[0] ^ k.dst[1]) | (x.dst[1] ^ k.dst[2]) | (x.dst[2] ^ k.dst[3])) == 0;
  }
  // Bit w set: way w's signature is `sig` (`sig` 0: the free ways).
  static unsigned sig_match(const ConnBucket& b, uint16_t sig) {
#ifdef __SSE2__
    __m128i want = _mm_set1_epi16(short(sig));
    __m128i lo = _mm_cmpeq_epi16(_mm_load_si128(reinterpret_cast<const __m128i*>(b.sig)), want);
    __m128i hi = _mm_cmpeq_epi16(_mm_load_si128(reinterpret_cast<const __m128i*>(b.sig) + 1), want);
    return unsigned(_mm_movemask_epi8(_mm_packs_epi16(lo, hi))) & kWayMask;
#else
    unsigned m = 0;
    for (unsigned i = 0; i < ConnBucket::kWays; i++)
      if (b.sig[i] == sig) m |= 1u << i;
    return m;
#endif
  }
  static constexpr unsigned kWayMask = (1u << ConnBucket::kWays) - 1;
  uint32_t find_in(uint32_t bi, uint16_t sig, const sl_flow_key& k) const {
    for (unsigned m = sig_match(buckets_[bi], sig); m; m &= m - 1) {
      uint32_t p = bi * ConnBucket::kWays + unsigned(__builtin_ctz(m));
      if (key_eq(p, k)) return p;
    }
    return kNoPos;
  }
  uint32_t lookup_hashed(const sl_flow_key& k, uint32_t h) const {
    uint32_t b1 = first_bucket(h);
    uint32_t p = find_in(b1, sig_of(h), k);
    if (p != kNoPos || buckets_[b1].spilled == 0) return p;
    return find_in(second_bucket(h), sig_of(h), k);
  }

  static void record_write(ConnRecord& r, uint32_t used, const sl_conn* c);
  void record_write_key(uint32_t pos, uint32_t used, const sl_flow_key& k, uint32_t h,
                        const sl_conn& c);
  bool evict_under_hand(bool unconfirmed_only);
  uint32_t place(uint32_t h, bool unconfirmed_only, unsigned& evictions);
  void remove_at(uint32_t pos);
  // f(position, place) for the kEvictWindow positions from `start`, which
  // wrap at the end; straight, without the wrap's test, for all but the
  // one window a sweep that wraps.
  template <class F>
  void for_window(uint32_t start, F f) const {
    if (start + kEvictWindow <= slots_) {
      for (uint32_t i = 0; i < kEvictWindow; i++) f(start + i, i);
      return;
    }
    for (uint32_t i = 0, p = start; i < kEvictWindow; i++) {
      f(p, i);
      p = p + 1 == slots_ ? 0 : p + 1;
    }
  }

  ConnBucket* buckets_ = nullptr;
  ConnRecord* recs_ = nullptr;
  ConnKeyHigh* high_ = nullptr;
  uint32_t n_buckets_ = 0;
  uint32_t slots_ = 0;
  uint32_t cap_ = 0;
  uint32_t hand_ = 0;  // the eviction clock
  std::atomic<uint64_t> count_{0};
  void* mem_ = nullptr;
  size_t mem_len_ = 0;
  bool mem_eal_ = false;
};

inline void ConnTable::lookup_bulk(const sl_flow_key* const* keys, uint32_t n,
                                   uint32_t* pos) const {
  Staged s[kMaxBulk];
  for (uint32_t i = 0; i < n; i++) start(s[i], *keys[i]);
  for (uint32_t i = 0; i < n; i++) match(s[i]);
  for (uint32_t i = 0; i < n; i++) pos[i] = finish(s[i], *keys[i]);
}

}  // namespace sluice::dpdk
