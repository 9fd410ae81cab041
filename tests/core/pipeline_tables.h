// SPDX-License-Identifier: Apache-2.0
// core/pipeline.h over plain C tables: the hooks a host (unit tests,
// core_bench) supplies. Arrays for the VIP, backend, ring, cursor and
// counter tables; a small open-addressing hash for connections that fails
// an insert when full (no eviction: a full table is visible in the tests).
// Every hook also notes what it did, so tests can check the step order.
#pragma once

#include <cstddef>
#include <cstring>

#define SL_PL_CTX struct sl_plain_ctx
#include "core/pipeline_ops.h"
#include "core/flow.h"

#define SL_PLAIN_VIPS 8
#define SL_PLAIN_BACKENDS 16
#define SL_PLAIN_RINGS 4
#define SL_PLAIN_LOG 64

struct sl_plain_conn_slot {
  struct sl_flow_key key;
  struct sl_conn conn;
  int used;
  int unconfirmed;  // SYN-created, not yet confirmed (core/pipeline.h)
};

#define SL_PLAIN_BUCKETS 64

// A per-source new-flow token bucket (core/limit.h).
struct sl_plain_bucket {
  struct sl_limit_key key;
  __u64 tat;
  int used;
};

#define SL_PLAIN_ACL 16

struct sl_plain_acl {
  __u32 scope;
  __u8 family;
  __u8 prefix_len;
  __u32 addr[4];  // network order
  struct sl_acl_rule rule;  // rule_id < SL_PLAIN_ACL
};

// One counter step, in the order taken.
struct sl_plain_count_step {
  enum sl_pl_counter table;
  __u32 idx;
};

struct sl_plain_tables {
  struct sl_vip_key vip_keys[SL_PLAIN_VIPS];
  struct sl_vip_meta vips[SL_PLAIN_VIPS];
  int nvips;
  struct sl_global g;
  int have_global;
  struct sl_control ctl;
  struct sl_backend backends[SL_PLAIN_BACKENDS];
  struct sl_ring rings[SL_PLAIN_RINGS];
  __u32 cursors[SL_MAX_VIPS];

  struct sl_plain_conn_slot *conns;  // capacity: a power of two
  __u32 conn_cap;
  __u32 conn_count;
  __u64 conn_lookups;  // hook calls, to show a burst's bulk lookups
  __u32 conn_confirms;

  struct sl_plain_bucket buckets[SL_PLAIN_BUCKETS];  // first come; full: no limit

  struct sl_counters vip_stats[SL_MAX_VIPS];
  struct sl_counters backend_stats[SL_PLAIN_BACKENDS];
  struct sl_counters reason_stats[SL_REASON_SLOTS];
  struct sl_plain_count_step steps[SL_PLAIN_LOG];
  __u32 nsteps;

  struct sl_flow_event events[SL_PLAIN_LOG];
  __u32 nevents;

  __u64 now_ns, coarse_ns;

  // Firewall rules, searched linearly for the longest prefix (core/acl.h).
  struct sl_plain_acl acl[SL_PLAIN_ACL];
  __u32 nacl;
  __u64 acl_hits[SL_PLAIN_ACL];
  __u32 acl_lookups;
};

// One frame: `buf` with `head` bytes of head room before the packet.
struct sl_plain_ctx {
  struct sl_plain_tables *t;
  __u8 *buf;
  __u32 cap;
  __u32 head;
  __u32 len;
  __u32 mtu;  // egress device MTU (L3 bytes)
};

SL_INLINE const struct sl_vip_meta *sl_pl_vip(struct sl_plain_ctx *ctx, const struct sl_vip_key *k)
{
  for (int i = 0; i < ctx->t->nvips; i++)
    if (!memcmp(&ctx->t->vip_keys[i], k, sizeof(*k))) return &ctx->t->vips[i];
  return NULL;
}

SL_INLINE const struct sl_global *sl_pl_global(struct sl_plain_ctx *ctx)
{
  return ctx->t->have_global ? &ctx->t->g : NULL;
}

SL_INLINE struct sl_control *sl_pl_control(struct sl_plain_ctx *ctx) { return &ctx->t->ctl; }

SL_INLINE const struct sl_backend *sl_pl_backend(struct sl_plain_ctx *ctx, __u32 slot)
{
  return slot < SL_PLAIN_BACKENDS ? &ctx->t->backends[slot] : NULL;
}

SL_INLINE const struct sl_ring *sl_pl_ring(struct sl_plain_ctx *ctx, __u32 ring_id)
{
  return ring_id < SL_PLAIN_RINGS ? &ctx->t->rings[ring_id] : NULL;
}

SL_INLINE __u32 *sl_pl_cursor(struct sl_plain_ctx *ctx, __u32 vip_id)
{
  return vip_id < SL_MAX_VIPS ? &ctx->t->cursors[vip_id] : NULL;
}

// The slot holding `k`, or the empty slot where it would go; NULL: full.
SL_INLINE struct sl_plain_conn_slot *sl_plain_conn_find(struct sl_plain_tables *t,
                                                        const struct sl_flow_key *k)
{
  __u32 mask = t->conn_cap - 1;
  __u32 h = sl_flow_hash(k, SL_FLOW_HASH_SEED);
  for (__u32 n = 0; n < t->conn_cap; n++) {
    struct sl_plain_conn_slot *s = &t->conns[(h + n) & mask];
    if (!s->used || !memcmp(&s->key, k, sizeof(*k))) return s;
  }
  return NULL;
}

SL_INLINE struct sl_conn *sl_pl_conn_lookup(struct sl_plain_ctx *ctx, const struct sl_flow_key *k)
{
  ctx->t->conn_lookups++;
  struct sl_plain_conn_slot *s = sl_plain_conn_find(ctx->t, k);
  return s && s->used ? &s->conn : NULL;
}

SL_INLINE int sl_pl_conn_insert(struct sl_plain_ctx *ctx, const struct sl_flow_key *k,
                                const struct sl_conn *c)
{
  struct sl_plain_conn_slot *s = sl_plain_conn_find(ctx->t, k);
  if (!s || s->used) return -1;  // full, or present
  s->key = *k;
  s->conn = *c;
  s->used = 1;
  ctx->t->conn_count++;
  return 0;
}

SL_INLINE void sl_pl_conn_overwrite(struct sl_plain_ctx *, struct sl_conn *rec,
                                    const struct sl_conn *c)
{
  *rec = *c;
}

// One table, as the DPDK worker: a SYN's record is marked unconfirmed.
SL_INLINE struct sl_conn *sl_pl_conn_lookup_unconfirmed(struct sl_plain_ctx *,
                                                        const struct sl_flow_key *)
{
  return NULL;
}

SL_INLINE struct sl_plain_conn_slot *sl_plain_slot_of(struct sl_conn *rec)
{
  return (struct sl_plain_conn_slot *)((char *)rec - offsetof(struct sl_plain_conn_slot, conn));
}

SL_INLINE int sl_pl_conn_unconfirmed(struct sl_plain_ctx *, const struct sl_conn *rec)
{
  return sl_plain_slot_of((struct sl_conn *)rec)->unconfirmed;
}

SL_INLINE int sl_pl_conn_insert_unconfirmed(struct sl_plain_ctx *ctx, const struct sl_flow_key *k,
                                            const struct sl_conn *c)
{
  if (sl_pl_conn_insert(ctx, k, c) != 0) return -1;
  sl_plain_slot_of(sl_pl_conn_lookup(ctx, k))->unconfirmed = 1;
  ctx->t->conn_lookups--;  // not the pipeline's lookup
  return 0;
}

SL_INLINE int sl_pl_conn_confirm(struct sl_plain_ctx *ctx, const struct sl_flow_key *,
                                 struct sl_conn *rec)
{
  sl_plain_slot_of(rec)->unconfirmed = 0;
  ctx->t->conn_confirms++;
  return 0;
}

SL_INLINE __u64 *sl_pl_limit_bucket(struct sl_plain_ctx *ctx, const struct sl_limit_key *k)
{
  struct sl_plain_bucket *free_b = NULL;
  for (int i = 0; i < SL_PLAIN_BUCKETS; i++) {
    struct sl_plain_bucket *b = &ctx->t->buckets[i];
    if (b->used && !memcmp(&b->key, k, sizeof(*k))) return &b->tat;
    if (!b->used && !free_b) free_b = b;
  }
  if (!free_b) return NULL;
  free_b->key = *k;
  free_b->tat = 0;
  free_b->used = 1;
  return &free_b->tat;
}

SL_INLINE void sl_pl_count(struct sl_plain_ctx *ctx, enum sl_pl_counter t, __u32 idx,
                           __u64 bytes, int new_conn)
{
  struct sl_plain_tables *tb = ctx->t;
  struct sl_counters *c = NULL;
  if (t == SL_PL_COUNT_VIP && idx < SL_MAX_VIPS) c = &tb->vip_stats[idx];
  if (t == SL_PL_COUNT_BACKEND && idx < SL_PLAIN_BACKENDS) c = &tb->backend_stats[idx];
  if (t == SL_PL_COUNT_REASON && idx < SL_REASON_SLOTS) c = &tb->reason_stats[idx];
  if (tb->nsteps < SL_PLAIN_LOG) tb->steps[tb->nsteps++] = {t, idx};
  if (c) {
    c->packets++;
    c->bytes += bytes;
    c->new_conns += new_conn;
  }
}

SL_INLINE void sl_pl_flow_event(struct sl_plain_ctx *ctx, struct sl_control *ctl,
                                const struct sl_flow_key *k, const struct sl_conn *c)
{
  struct sl_plain_tables *t = ctx->t;
  if (t->nevents >= SL_PLAIN_LOG) {
    ctl->events_lost++;
    return;
  }
  struct sl_flow_event *e = &t->events[t->nevents++];
  e->flow = *k;
  e->vip_id = c->vip_id;
  e->backend = c->backend;
  e->gen = c->gen;
  e->pad = 0;
  e->created_ns = c->created_ns;
}

SL_INLINE int sl_plain_prefix_holds(const struct sl_plain_acl *a, const __u32 *src)
{
  const __u8 *p = (const __u8 *)a->addr, *q = (const __u8 *)src;
  for (__u32 bit = 0; bit < a->prefix_len; ++bit)
    if (((p[bit / 8] ^ q[bit / 8]) >> (7 - bit % 8)) & 1) return 0;
  return 1;
}

SL_INLINE __u32 sl_pl_acl_lookup(struct sl_plain_ctx *ctx, __u32 scope,
                                 const struct sl_flow_key *k)
{
  struct sl_plain_tables *t = ctx->t;
  const struct sl_plain_acl *best = NULL;
  t->acl_lookups++;
  for (__u32 i = 0; i < t->nacl && i < SL_PLAIN_ACL; ++i) {
    const struct sl_plain_acl *a = &t->acl[i];
    if (a->scope != scope || a->family != k->family || !sl_plain_prefix_holds(a, k->src)) continue;
    if (!best || a->prefix_len > best->prefix_len) best = a;
  }
  return sl_acl_verdict_of(best ? &best->rule : NULL);
}

SL_INLINE void sl_pl_acl_hit(struct sl_plain_ctx *ctx, __u32 rule_id)
{
  if (rule_id < SL_PLAIN_ACL) ctx->t->acl_hits[rule_id]++;
}

SL_INLINE __u64 sl_pl_clock(struct sl_plain_ctx *ctx) { return ctx->t->now_ns; }
SL_INLINE __u64 sl_pl_clock_coarse(struct sl_plain_ctx *ctx) { return ctx->t->coarse_ns; }
SL_INLINE void *sl_pl_data(struct sl_plain_ctx *ctx) { return ctx->buf + ctx->head; }
SL_INLINE void *sl_pl_data_end(struct sl_plain_ctx *ctx) { return ctx->buf + ctx->head + ctx->len; }

// As bpf_xdp_adjust_head / _tail: an Ethernet header must remain.
SL_INLINE int sl_pl_adjust_head(struct sl_plain_ctx *ctx, int delta)
{
  long head = long(ctx->head) + delta, len = long(ctx->len) - delta;
  if (head < 0 || len < long(sizeof(struct sl_ethhdr))) return -1;
  ctx->head = __u32(head);
  ctx->len = __u32(len);
  return 0;
}

SL_INLINE int sl_pl_adjust_tail(struct sl_plain_ctx *ctx, int delta)
{
  long len = long(ctx->len) + delta;
  if (len < long(sizeof(struct sl_ethhdr)) || ctx->head + len > ctx->cap) return -1;
  ctx->len = __u32(len);
  return 0;
}

// As bpf_check_mtu on an L3 length.
SL_INLINE int sl_pl_mtu_check(struct sl_plain_ctx *ctx, const struct sl_pkt *p, __u32 grow,
                              __u32 *mtu)
{
  if (p->l3_len + grow > ctx->mtu) {
    *mtu = ctx->mtu;
    return SL_PL_MTU_FRAG_NEEDED;
  }
  return SL_PL_MTU_FITS;
}

#include "core/pipeline.h"
