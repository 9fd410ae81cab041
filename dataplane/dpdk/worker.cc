// SPDX-License-Identifier: Apache-2.0
// The DPDK worker: core/pipeline.h's hooks over an mbuf and this worker's
// tables, and the burst shaped as pipeline.h describes (fronts, one bulk
// connection lookup, backs, finishes).
#include "dataplane/dpdk/worker.h"

#include <rte_errno.h>
#include <rte_malloc.h>
#include <rte_prefetch.h>
#include <rte_ring_elem.h>
#include <rte_thash.h>
#include <time.h>

#include <cerrno>
#include <cstring>
#include <string>

namespace sluice::dpdk {

// Everything the hooks touch, in one cache-aligned block owned by the
// worker's lcore.
struct alignas(RTE_CACHE_LINE_SIZE) Worker::Hot {
  const Tables* tables;
  sl_control* control;
  ConnTable* conns;
  WorkerCounters* counters;
  rte_ring* events;
  uint32_t mtu;
  uint64_t now_ns;  // 0: not read yet in this burst
  // This burst's last VIP lookup (a burst's packets mostly share their
  // VIP): the table it was made in, the key, the answer. Reset with each
  // burst, as a table may be freed and its memory reused at a quiescent
  // state; within a burst the table in force is compared.
  const VipTable* vip_table;
  VipTable::Words vip_key;
  const sl_vip_meta* vip_meta;
  WorkerStats stats;  // written with relaxed atomic stores
  // The key of the back running now when its lookup missed, and the hash
  // it was looked up by: an insert of that very key (at most one a
  // packet) need not hash it or look for it again. Cleared with each
  // burst (its keys live in the burst's frame) and when used.
  const sl_flow_key* absent_key;
  uint32_t absent_hash;
  alignas(RTE_CACHE_LINE_SIZE) uint32_t cursors[SL_MAX_VIPS];
  // Per-source new-flow buckets (core/limit.h), direct-mapped: a source
  // that collides with another starts a full bucket. Per worker: RSS
  // spreads one source's flows over the workers, so the limit holds per
  // worker (at most N x workers in all).
  static constexpr uint32_t kBuckets = 4096;
  struct Bucket {
    sl_limit_key key;
    __u64 tat;
  } buckets[kBuckets];
};

namespace {

// One writer, readers on other threads: a relaxed store of the new value
// (a plain add in the generated code), a relaxed load on the reader side.
template <class U>
inline void bump(U& f, uint64_t d) {
  __atomic_store_n(&f, U(__atomic_load_n(&f, __ATOMIC_RELAXED) + d), __ATOMIC_RELAXED);
}
template <class U>
inline U peek(const U& f) { return __atomic_load_n(&f, __ATOMIC_RELAXED); }

inline uint64_t monotonic_ns() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);  // vDSO: no syscall
  return uint64_t(ts.tv_sec) * 1000000000ull + uint64_t(ts.tv_nsec);
}

// Insert if absent. 0: recorded; -1: present, or no room even after
// evicting (counted). `absent_hash`: `k` was just looked up by that hash
// and not found (the back's own key), so insert looks for it no more.
int conn_insert(Worker::Hot& h, const sl_flow_key* k, const sl_conn* c, uint32_t used,
                const uint32_t* absent_hash) {
  unsigned evictions = 0;
  int32_t pos = absent_hash ? h.conns->insert_absent(*k, *absent_hash, *c, used, evictions)
                            : h.conns->insert(*k, *c, used, evictions);
  if (evictions) bump(h.stats.conn_evicted, evictions);
  if (pos >= 0) return 0;
  if (pos == -ENOSPC) bump(h.stats.conn_not_recorded, 1);
  return -1;
}

inline sl_conn* conn_at(Worker::Hot& h, uint32_t pos) {
  return pos != ConnTable::kNoPos ? &h.conns->at(pos).conn : nullptr;
}

}  // namespace
}  // namespace sluice::dpdk

// ---- core/pipeline.h's hooks ---------------------------------------------
struct sl_dpdk_ctx {
  sluice::dpdk::Worker::Hot* h;
  rte_mbuf* m;
};

namespace sluice::dpdk {
namespace {
// The insert of a packet's back: by the hash of the lookup that just
// missed, if it is of that very key (Hot::absent_key).
int conn_insert_from(sl_dpdk_ctx* ctx, const sl_flow_key* k, const sl_conn* c, uint32_t used) {
  Worker::Hot& h = *ctx->h;
  const uint32_t* absent_hash = k == h.absent_key ? &h.absent_hash : nullptr;
  h.absent_key = nullptr;
  return conn_insert(h, k, c, used, absent_hash);
}
}  // namespace
}  // namespace sluice::dpdk
#define SL_PL_CTX struct sl_dpdk_ctx
#include "core/pipeline_ops.h"

using sluice::dpdk::Worker;

SL_INLINE const struct sl_vip_meta* sl_pl_vip(sl_dpdk_ctx* ctx, const struct sl_vip_key* k)
{
  using sluice::dpdk::VipTable;
  sluice::dpdk::Worker::Hot& h = *ctx->h;
  const VipTable* t = h.tables->vip_table();
  const VipTable::Words w = VipTable::words_of(*k);
  if (t == h.vip_table && VipTable::same(w, h.vip_key)) return h.vip_meta;
  h.vip_table = t;
  h.vip_key = w;
  return h.vip_meta = t->find(w);
}

SL_INLINE const struct sl_global* sl_pl_global(sl_dpdk_ctx* ctx) { return ctx->h->tables->global(); }

SL_INLINE struct sl_control* sl_pl_control(sl_dpdk_ctx* ctx) { return ctx->h->control; }

SL_INLINE const struct sl_backend* sl_pl_backend(sl_dpdk_ctx* ctx, __u32 slot)
{
  return ctx->h->tables->backend(slot);
}

SL_INLINE const struct sl_ring* sl_pl_ring(sl_dpdk_ctx* ctx, __u32 ring_id)
{
  return ctx->h->tables->ring(ring_id);
}

SL_INLINE __u32* sl_pl_cursor(sl_dpdk_ctx* ctx, __u32 vip_id)
{
  return vip_id < SL_MAX_VIPS ? &ctx->h->cursors[vip_id] : nullptr;
}

SL_INLINE struct sl_conn* sl_pl_conn_lookup(sl_dpdk_ctx* ctx, const struct sl_flow_key* k)
{
  return sluice::dpdk::conn_at(*ctx->h, ctx->h->conns->lookup(*k));
}

SL_INLINE int sl_pl_conn_insert(sl_dpdk_ctx* ctx, const struct sl_flow_key* k,
                                const struct sl_conn* c)
{
  return sluice::dpdk::conn_insert_from(ctx, k, c, sluice::dpdk::kConfirmed);
}

SL_INLINE sluice::dpdk::ConnRecord* sl_dpdk_slot_of(const struct sl_conn* rec)
{
  return &sluice::dpdk::ConnTable::record_of(const_cast<sl_conn*>(rec));
}

// In place: the record keeps its mark (confirmed or not).
SL_INLINE void sl_pl_conn_overwrite(sl_dpdk_ctx* ctx, struct sl_conn* rec, const struct sl_conn* c)
{
  sluice::dpdk::ConnRecord* slot = sl_dpdk_slot_of(rec);
  sluice::dpdk::ConnTable::rewrite(*slot, slot->used, c);
  (void)ctx;
}

// One table, records marked (sluice::dpdk::kUnconfirmed): conn_lookup
// finds both kinds.
SL_INLINE struct sl_conn* sl_pl_conn_lookup_unconfirmed(sl_dpdk_ctx*, const struct sl_flow_key*)
{
  return nullptr;
}

SL_INLINE int sl_pl_conn_unconfirmed(sl_dpdk_ctx*, const struct sl_conn* rec)
{
  return sl_dpdk_slot_of(rec)->used == sluice::dpdk::kUnconfirmed;
}

SL_INLINE int sl_pl_conn_insert_unconfirmed(sl_dpdk_ctx* ctx, const struct sl_flow_key* k,
                                            const struct sl_conn* c)
{
  return sluice::dpdk::conn_insert_from(ctx, k, c, sluice::dpdk::kUnconfirmed);
}

SL_INLINE int sl_pl_conn_confirm(sl_dpdk_ctx*, const struct sl_flow_key*, struct sl_conn* rec)
{
  sluice::dpdk::ConnTable::rewrite(*sl_dpdk_slot_of(rec), sluice::dpdk::kConfirmed, nullptr);
  return 0;
}

SL_INLINE __u64* sl_pl_limit_bucket(sl_dpdk_ctx* ctx, const struct sl_limit_key* k)
{
  const __u32* w = reinterpret_cast<const __u32*>(k);
  __u32 x = 0x9e3779b9u;
  for (size_t i = 0; i < sizeof(*k) / 4; i++) x = (x ^ w[i]) * 0x85ebca6bu;
  Worker::Hot::Bucket& b = ctx->h->buckets[(x ^ (x >> 16)) & (Worker::Hot::kBuckets - 1)];
  if (std::memcmp(&b.key, k, sizeof(*k)) != 0) {
    b.key = *k;
    b.tat = 0;
  }
  return &b.tat;
}

SL_INLINE void sl_pl_count(sl_dpdk_ctx* ctx, enum sl_pl_counter t, __u32 idx, __u64 bytes,
                           int new_conn)
{
  sluice::dpdk::WorkerCounters* w = ctx->h->counters;
  sl_counters* c = nullptr;
  if (t == SL_PL_COUNT_VIP && idx < SL_MAX_VIPS) c = &w->vip[idx];
  else if (t == SL_PL_COUNT_BACKEND && idx < SL_MAX_BACKENDS) c = &w->backend[idx];
  else if (t == SL_PL_COUNT_REASON && idx < SL_REASON_SLOTS) c = &w->reason[idx];
  if (!c) return;
  sluice::dpdk::bump(c->packets, 1);
  sluice::dpdk::bump(c->bytes, bytes);
  if (new_conn) sluice::dpdk::bump(c->new_conns, 1);
}

// A bounded ring: full, the event is counted (here and, as the XDP
// program does, in the control word) and the packet goes on.
SL_INLINE void sl_pl_flow_event(sl_dpdk_ctx* ctx, struct sl_control* ctl,
                                const struct sl_flow_key* k, const struct sl_conn* c)
{
  sl_flow_event e;
  e.flow = *k;
  e.vip_id = c->vip_id;
  e.backend = c->backend;
  e.gen = c->gen;
  e.pad = 0;
  e.created_ns = c->created_ns;
  if (rte_ring_sp_enqueue_elem(ctx->h->events, &e, sizeof(e)) != 0) {
    sluice::dpdk::bump(ctx->h->stats.events_lost, 1);
    __atomic_fetch_add(&ctl->events_lost, 1, __ATOMIC_RELAXED);
  }
}

// ACLs: Tables' multibit trie, read lock-free (tables.h); the rule stays
// valid until this worker's next quiescent state (only its verdict word
// leaves here).
SL_INLINE __u32 sl_pl_acl_lookup(sl_dpdk_ctx* ctx, __u32 scope, const struct sl_flow_key* k)
{
  return sl_acl_verdict_of(ctx->h->tables->acl(scope, *k));
}
SL_INLINE void sl_pl_acl_hit(sl_dpdk_ctx* ctx, __u32 rule_id)
{
  if (rule_id < SL_ACL_MAX_RULES) sluice::dpdk::bump(ctx->h->counters->acl_hits[rule_id], 1);
}

// Read once per burst, at its first use: every record of a burst has its
// start time, and a burst of hits without a heartbeat timeout reads none.
SL_INLINE __u64 sl_pl_clock(sl_dpdk_ctx* ctx)
{
  sluice::dpdk::Worker::Hot& h = *ctx->h;
  if (__builtin_expect(h.now_ns == 0, 0)) h.now_ns = sluice::dpdk::monotonic_ns();
  return h.now_ns;
}
SL_INLINE __u64 sl_pl_clock_coarse(sl_dpdk_ctx* ctx) { return sl_pl_clock(ctx); }

SL_INLINE void* sl_pl_data(sl_dpdk_ctx* ctx) { return rte_pktmbuf_mtod(ctx->m, void*); }
SL_INLINE void* sl_pl_data_end(sl_dpdk_ctx* ctx)
{
  return rte_pktmbuf_mtod(ctx->m, char*) + rte_pktmbuf_data_len(ctx->m);
}

// As bpf_xdp_adjust_head: an Ethernet header must remain.
SL_INLINE int sl_pl_adjust_head(sl_dpdk_ctx* ctx, int delta)
{
  if (int(rte_pktmbuf_data_len(ctx->m)) - delta < int(sizeof(struct sl_ethhdr))) return -1;
  if (delta < 0) return rte_pktmbuf_prepend(ctx->m, uint16_t(-delta)) ? 0 : -1;
  return delta == 0 || rte_pktmbuf_adj(ctx->m, uint16_t(delta)) ? 0 : -1;
}

// As bpf_xdp_adjust_tail: an Ethernet header must remain.
SL_INLINE int sl_pl_adjust_tail(sl_dpdk_ctx* ctx, int delta)
{
  if (int(rte_pktmbuf_data_len(ctx->m)) + delta < int(sizeof(struct sl_ethhdr))) return -1;
  if (delta > 0) return rte_pktmbuf_append(ctx->m, uint16_t(delta)) ? 0 : -1;
  return rte_pktmbuf_trim(ctx->m, uint16_t(-delta)) == 0 ? 0 : -1;
}

// As bpf_check_mtu given an L3 length: does it, `grow` bytes longer, fit?
SL_INLINE int sl_pl_mtu_check(sl_dpdk_ctx* ctx, const struct sl_pkt* p, __u32 grow, __u32* mtu)
{
  *mtu = ctx->h->mtu;
  return p->l3_len + grow > ctx->h->mtu ? SL_PL_MTU_FRAG_NEEDED : SL_PL_MTU_FITS;
}

#include "core/pipeline.h"

namespace sluice::dpdk {

namespace {

std::string unique_name(const char* what, unsigned id) {
  static std::atomic<uint32_t> seq{0};
  return std::string(what) + std::to_string(id) + "_" + std::to_string(seq.fetch_add(1));
}

struct ConnCommand {
  sl_flow_key key;
  sl_conn conn;
  uint32_t op;  // kPut / kDel
  uint32_t pad;
};
constexpr uint32_t kPut = 1, kDel = 2;
static_assert(sizeof(ConnCommand) % 4 == 0, "rte_ring element size");

}  // namespace

Result<std::unique_ptr<Worker>> Worker::create(Tables& tables, const WorkerConfig& cfg) {
  std::unique_ptr<Worker> w(new Worker());
  if (auto r = w->init(tables, cfg); !r.ok()) return r.error();
  return w;
}

Result<void> Worker::init(Tables& tables, const WorkerConfig& cfg) {
  if (cfg.id >= tables.workers())
    return make_error("dpdk worker: id beyond the tables' workers", EINVAL,
                      std::to_string(cfg.id));
  if (cfg.conn_table_size < 8)
    return make_error("dpdk worker: conn_table_size below 8", EINVAL,
                      std::to_string(cfg.conn_table_size));
  tables_ = &tables;
  id_ = cfg.id;
  size_ = cfg.conn_table_size;

  auto table = ConnTable::create(size_, cfg.socket, cfg.conn_huge_pages);
  if (!table.ok()) return table.error();
  table_ = std::move(*table);
  counters_ = static_cast<WorkerCounters*>(
      rte_zmalloc_socket("sl_counters", sizeof(WorkerCounters), RTE_CACHE_LINE_SIZE, cfg.socket));
  hot_ = static_cast<Hot*>(
      rte_zmalloc_socket("sl_worker", sizeof(Hot), RTE_CACHE_LINE_SIZE, cfg.socket));
  if (!counters_ || !hot_) return make_error("rte_zmalloc(worker)", ENOMEM);

  std::string ename = unique_name("sl_ev", cfg.id), cname = unique_name("sl_cmd", cfg.id);
  events_ = rte_ring_create_elem(ename.c_str(), sizeof(sl_flow_event), cfg.flow_event_slots,
                                 cfg.socket, RING_F_SP_ENQ | RING_F_SC_DEQ);
  if (!events_) return make_error("rte_ring_create(flow events)", rte_errno, ename);
  commands_ = rte_ring_create_elem(cname.c_str(), sizeof(ConnCommand), cfg.command_slots,
                                   cfg.socket, RING_F_SC_DEQ);
  if (!commands_) return make_error("rte_ring_create(commands)", rte_errno, cname);

  Hot& h = *hot_;
  h.tables = &tables;
  h.control = tables.control();
  h.conns = table_.get();
  h.counters = counters_;
  h.events = events_;
  h.mtu = cfg.mtu;

  if (rte_rcu_qsbr_thread_register(tables.qsbr(), id_) != 0)
    return make_error("rte_rcu_qsbr_thread_register", rte_errno, std::to_string(id_));
  registered_ = true;
  online();
  return {};
}

Worker::~Worker() {
  if (registered_) {
    offline();
    rte_rcu_qsbr_thread_unregister(tables_->qsbr(), id_);
  }
  rte_ring_free(commands_);
  rte_ring_free(events_);
  rte_free(hot_);
  rte_free(counters_);
}

void Worker::online() { rte_rcu_qsbr_thread_online(tables_->qsbr(), id_); }
void Worker::offline() { rte_rcu_qsbr_thread_offline(tables_->qsbr(), id_); }
void Worker::quiescent() { rte_rcu_qsbr_quiescent(tables_->qsbr(), id_); }

void Worker::burst(rte_mbuf** pkts, uint16_t n, BurstOut& out, uint8_t* reasons) {
  Hot& h = *hot_;
  if (n > kBurst) n = kBurst;
  h.now_ns = 0;
  h.vip_table = nullptr;
  h.absent_key = nullptr;

  sl_pl_state s[kBurst];
  sl_reason r[kBurst];
  ConnTable::Staged q[kBurst];
  const ConnTable& t = *h.conns;

  // Passes over the burst: parses; fronts (VIP .. screen); for the
  // packets that want their record, hash and fetch the bucket, then read
  // it and fetch the record (ConnTable::Staged, conn_table.h); backs,
  // each checking its record first, so its record fetch overlaps the
  // backs before it. The fetches go out in loops of their own: issued
  // between parses or fronts (tried: with the parse, kLag packets behind;
  // with the front) they left a few at a time, and a table of 1e6 lost
  // 10-20 ns a packet; issued in the parse loop for every parsed flow,
  // traffic not to a VIP paid a fetch from a table it does not use.
  // Every mbuf header is prefetched first (reading a header to find the
  // data would otherwise stall), then the data of a few packets ahead.
  for (uint16_t i = 0; i < n; i++) rte_prefetch0(pkts[i]);
  for (uint16_t i = 0; i < n && i < 4; i++) rte_prefetch0(rte_pktmbuf_mtod(pkts[i], void*));
  for (uint16_t i = 0; i < n; i++) {
    if (i + 4 < n) rte_prefetch0(rte_pktmbuf_mtod(pkts[i + 4], void*));
    sl_dpdk_ctx ctx{&h, pkts[i]};
    sl_pl_parse(&ctx, &s[i]);
  }
  for (uint16_t i = 0; i < n; i++) {
    sl_dpdk_ctx ctx{&h, pkts[i]};
    r[i] = sl_pl_front_parsed(&ctx, &s[i]);
  }
  for (uint16_t i = 0; i < n; i++)
    if (sl_pl_wants_conn(&s[i])) t.start(q[i], s[i].p.flow);
  for (uint16_t i = 0; i < n; i++)
    if (sl_pl_wants_conn(&s[i])) t.match(q[i]);

  // Backs and finishes. finish answers for the table as it is then: a
  // flow an earlier packet of this burst recorded is found, a record one
  // evicted is not (pipeline.h).
  for (uint16_t i = 0; i < n; i++) {
    sl_dpdk_ctx ctx{&h, pkts[i]};
    if (s[i].in_vip) {
      sl_conn* c = nullptr;
      if (sl_pl_wants_conn(&s[i])) {
        uint32_t pos = t.finish(q[i], s[i].p.flow);
        if (pos == ConnTable::kNoPos) {
          h.absent_key = &s[i].p.flow;
          h.absent_hash = q[i].h;
        }
        c = conn_at(h, pos);
      }
      r[i] = sl_pl_back(&ctx, &s[i], c);
    }
    r[i] = sl_pl_finish(&ctx, &s[i], r[i]);
    if (reasons) reasons[i] = uint8_t(r[i]);
    switch (sl_reason_verdict(r[i])) {
      case SL_VERDICT_TX:
        out.tx[out.n_tx++] = pkts[i];
        break;
      case SL_VERDICT_DROP:
        rte_pktmbuf_free(pkts[i]);
        break;
      default:
        out.exc[out.n_exc++] = pkts[i];
        break;
    }
  }
}

void Worker::poll_commands() {
  Hot& h = *hot_;
  ConnCommand cmd[32];
  unsigned n;
  while ((n = rte_ring_sc_dequeue_burst_elem(commands_, cmd, sizeof(ConnCommand), 32, nullptr)) >
         0) {
    for (unsigned i = 0; i < n; i++) {
      uint32_t p = table_->lookup(cmd[i].key);
      if (cmd[i].op == kDel) {
        if (p != ConnTable::kNoPos) table_->remove(cmd[i].key);
      } else if (p != ConnTable::kNoPos) {
        table_->write(p, kConfirmed, &cmd[i].conn);
      } else if (conn_insert(h, &cmd[i].key, &cmd[i].conn, kConfirmed, nullptr) != 0) {
        bump(h.stats.commands_failed, 1);
        continue;
      }
      bump(h.stats.commands_applied, 1);
    }
  }
}

Result<void> Worker::conn_put(const sl_flow_key& key, const sl_conn& conn) {
  ConnCommand c{key, conn, kPut, 0};
  if (rte_ring_mp_enqueue_elem(commands_, &c, sizeof(c)) != 0)
    return make_error("dpdk conn_put: worker command ring full", ENOBUFS,
                      "worker " + std::to_string(id_));
  return {};
}

Result<void> Worker::conn_del(const sl_flow_key& key) {
  ConnCommand c{key, sl_conn{}, kDel, 0};
  if (rte_ring_mp_enqueue_elem(commands_, &c, sizeof(c)) != 0)
    return make_error("dpdk conn_del: worker command ring full", ENOBUFS,
                      "worker " + std::to_string(id_));
  return {};
}

size_t Worker::flow_events_take(std::vector<sl_flow_event>& out, size_t max) {
  size_t got = 0;
  sl_flow_event e[64];
  while (got < max) {
    unsigned want = unsigned(std::min<size_t>(64, max - got));
    unsigned n = rte_ring_sc_dequeue_burst_elem(events_, e, sizeof(sl_flow_event), want, nullptr);
    if (n == 0) break;
    out.insert(out.end(), e, e + n);
    got += n;
  }
  return got;
}

std::vector<ConnEntry> Worker::conns_page(ConnCursor& cursor, size_t max) const {
  std::vector<ConnEntry> out;
  uint32_t pos = 0;
  if (cursor.started) std::memcpy(&pos, cursor.pos.data(), sizeof(pos));
  cursor.started = true;
  uint32_t scanned = 0;
  const uint32_t end = table_->slots();
  for (; pos < end && scanned < kPageScan && (max == 0 || out.size() < max); pos++, scanned++) {
    // Unconfirmed (half-open) records are not listed nor synced.
    ConnEntry e;
    if (table_->read(pos, e.key, e.conn)) out.push_back(e);
  }
  std::memcpy(cursor.pos.data(), &pos, sizeof(pos));
  cursor.done = pos >= end;
  return out;
}

namespace {
sl_counters read_counters(const sl_counters& c) {
  sl_counters r{};
  r.packets = peek(c.packets);
  r.bytes = peek(c.bytes);
  r.new_conns = peek(c.new_conns);
  return r;
}
void zero_counters(sl_counters& c) {
  __atomic_store_n(&c.packets, 0, __ATOMIC_RELAXED);
  __atomic_store_n(&c.bytes, 0, __ATOMIC_RELAXED);
  __atomic_store_n(&c.new_conns, 0, __ATOMIC_RELAXED);
}
}  // namespace

sl_counters Worker::vip_counters(uint32_t vip_id) const {
  return vip_id < SL_MAX_VIPS ? read_counters(counters_->vip[vip_id]) : sl_counters{};
}
sl_counters Worker::backend_counters(uint32_t slot) const {
  return slot < SL_MAX_BACKENDS ? read_counters(counters_->backend[slot]) : sl_counters{};
}
sl_counters Worker::reason_counters(uint32_t reason) const {
  return reason < SL_REASON_SLOTS ? read_counters(counters_->reason[reason]) : sl_counters{};
}

WorkerStats Worker::stats() const {
  const WorkerStats& s = hot_->stats;
  WorkerStats r;
  r.conn_evicted = peek(s.conn_evicted);
  r.conn_not_recorded = peek(s.conn_not_recorded);
  r.events_lost = peek(s.events_lost);
  r.commands_applied = peek(s.commands_applied);
  r.commands_failed = peek(s.commands_failed);
  return r;
}

void Worker::counters_reset(CounterKind kind, uint32_t id) {
  if (kind == CounterKind::vip && id < SL_MAX_VIPS) zero_counters(counters_->vip[id]);
  if (kind == CounterKind::backend && id < SL_MAX_BACKENDS) zero_counters(counters_->backend[id]);
}

uint32_t flow_rss_hash(const sl_flow_key& f, const uint8_t* rss_key, uint32_t key_len) {
  // rte_softrss takes the tuple as host-order words: addresses, then
  // (sport << 16 | dport), as the NIC reads them off the wire.
  uint32_t t[9];
  uint32_t n = 0;
  int words = f.family == SL_AF_INET6 ? 4 : 1;
  for (int i = 0; i < words; i++) t[n++] = rte_be_to_cpu_32(f.src[i]);
  for (int i = 0; i < words; i++) t[n++] = rte_be_to_cpu_32(f.dst[i]);
  t[n++] = uint32_t(rte_be_to_cpu_16(f.sport)) << 16 | rte_be_to_cpu_16(f.dport);
  (void)key_len;  // rte_softrss reads 4 bytes of key per tuple byte + 4
  return rte_softrss(t, n, rss_key);
}

}  // namespace sluice::dpdk
