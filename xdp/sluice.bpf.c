/* SPDX-License-Identifier: Apache-2.0 */
/* The XDP fast path: core/pipeline.h over BPF maps. This file supplies the
 * pipeline's table operations (each one map lookup or helper call, as
 * before) and maps its reason to an XDP action.
 * Per packet: a handful of map lookups, no allocation, no lock; the
 * schedule cursor and all counters are per CPU. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

/* The pipeline's context: the XDP frame itself. */
#define SL_PL_CTX struct xdp_md

#include "core/abi.h"
#include "core/acl.h"
#include "core/verdict.h"
#include "core/pipeline_ops.h"
#include "xdp/sluice_maps.h"

/* The firewall trie's nodes: an array lookup the verifier inlines. */
SL_INLINE const struct sl_acl_node *sl_acl_node_at(const void *nodes, __u32 idx)
{
	return bpf_map_lookup_elem((void *)nodes, &idx);
}
#include "core/acl_trie.h"

/* 1: the shipped program. Another value builds the same program with a
 * harmless extra instruction, so its tag differs: upgrade tests swap it in. */
#ifndef SLUICE_BUILD_VARIANT
#define SLUICE_BUILD_VARIANT 1
#endif


SL_INLINE const struct sl_vip_meta *sl_pl_vip(struct xdp_md *ctx, const struct sl_vip_key *k)
{
	return bpf_map_lookup_elem(&vips, k);
}

SL_INLINE const struct sl_global *sl_pl_global(struct xdp_md *ctx)
{
	__u32 zero = 0;
	return bpf_map_lookup_elem(&global, &zero);
}

/* An array lookup by a constant key, which the verifier inlines. */
SL_INLINE struct sl_control *sl_pl_control(struct xdp_md *ctx)
{
	__u32 zero = 0;
	return bpf_map_lookup_elem(&control, &zero);
}

/* Backend pointers are array-map values: they stay valid for the whole run. */
SL_INLINE const struct sl_backend *sl_pl_backend(struct xdp_md *ctx, __u32 slot)
{
	return bpf_map_lookup_elem(&backends, &slot);
}

SL_INLINE const struct sl_ring *sl_pl_ring(struct xdp_md *ctx, __u32 ring_id)
{
	return bpf_map_lookup_elem(&rings, &ring_id);
}

SL_INLINE __u32 *sl_pl_cursor(struct xdp_md *ctx, __u32 vip_id)
{
	return bpf_map_lookup_elem(&cursors, &vip_id);
}

SL_INLINE struct sl_conn *sl_pl_conn_lookup(struct xdp_md *ctx, const struct sl_flow_key *k)
{
	return bpf_map_lookup_elem(&conns, k);
}

SL_INLINE int sl_pl_conn_insert(struct xdp_md *ctx, const struct sl_flow_key *k,
				const struct sl_conn *c)
{
	return bpf_map_update_elem(&conns, k, c, BPF_NOEXIST);
}

/* `rec` is the LRU map's value: a store in place, no update call (see
 * sl_pl_schedule on why). */
SL_INLINE void sl_pl_conn_overwrite(struct xdp_md *ctx, struct sl_conn *rec,
				    const struct sl_conn *c)
{
	*rec = *c;
}

SL_INLINE struct sl_conn *sl_pl_conn_lookup_unconfirmed(struct xdp_md *ctx,
							const struct sl_flow_key *k)
{
	return bpf_map_lookup_elem(&conns_syn, k);
}

/* Two tables: a `conns` record is confirmed. */
SL_INLINE int sl_pl_conn_unconfirmed(struct xdp_md *ctx, const struct sl_conn *rec)
{
	return 0;
}

/* The LRU evicts from conns_syn itself: only unconfirmed records. */
SL_INLINE int sl_pl_conn_insert_unconfirmed(struct xdp_md *ctx, const struct sl_flow_key *k,
					    const struct sl_conn *c)
{
	return bpf_map_update_elem(&conns_syn, k, c, BPF_NOEXIST);
}

/* `conns` does not hold the flow (its lookup missed), so this insert may
 * evict only as any new confirmed flow does. */
SL_INLINE int sl_pl_conn_confirm(struct xdp_md *ctx, const struct sl_flow_key *k,
				 struct sl_conn *rec)
{
	long rc = bpf_map_update_elem(&conns, k, rec, BPF_NOEXIST);
	bpf_map_delete_elem(&conns_syn, k);
	return rc == 0 ? 0 : -1;
}

SL_INLINE __u64 *sl_pl_limit_bucket(struct xdp_md *ctx, const struct sl_limit_key *k)
{
	__u64 *tat = bpf_map_lookup_elem(&src_limits, k);
	if (tat)
		return tat;
	__u64 full = 0;
	bpf_map_update_elem(&src_limits, k, &full, BPF_NOEXIST);
	return bpf_map_lookup_elem(&src_limits, k);
}

SL_INLINE void sl_pl_count(struct xdp_md *ctx, enum sl_pl_counter t, __u32 idx, __u64 bytes,
			   int new_conn)
{
	void *map = t == SL_PL_COUNT_VIP ? (void *)&vip_stats
		    : t == SL_PL_COUNT_BACKEND ? (void *)&backend_stats
					       : (void *)&reason_stats;
	struct sl_counters *c = bpf_map_lookup_elem(map, &idx);
	if (c) {
		c->packets++;
		c->bytes += bytes;
		c->new_conns += new_conn;
	}
}

/* Tells the controller's sync sender about a flow just recorded. The ring
 * is bounded: when it is full the event is counted and the packet goes on
 * (the peer's periodic refresh still carries the flow). */
SL_INLINE void sl_pl_flow_event(struct xdp_md *ctx, struct sl_control *ctl,
				const struct sl_flow_key *flow, const struct sl_conn *c)
{
	struct sl_flow_event *e = bpf_ringbuf_reserve(&flow_events, sizeof(*e), 0);
	if (!e) {
		/* Only when the ring is full: an atomic add is fine there. */
		__sync_fetch_and_add(&ctl->events_lost, 1);
		return;
	}
	e->flow = *flow;
	e->vip_id = c->vip_id;
	e->backend = c->backend;
	e->gen = c->gen;
	e->pad = 0;
	e->created_ns = c->created_ns;
	bpf_ringbuf_submit(e, 0);
}

/* The kernel's LPM tries: IPv6, and IPv4 while the trie is not in use. */
SL_INLINE __u32 sl_acl_lpm_lookup(__u32 scope, const struct sl_flow_key *f)
{
	if (f->family == SL_AF_INET) {
		struct sl_acl_key4 k;
		sl_acl_key4_of(&k, scope, f->src);
		return sl_acl_verdict_of(bpf_map_lookup_elem(&acl_v4, &k));
	}
	struct sl_acl_key6 k;
	sl_acl_key6_of(&k, scope, f->src);
	return sl_acl_verdict_of(bpf_map_lookup_elem(&acl_v6, &k));
}

SL_INLINE __u32 sl_pl_acl_lookup(struct xdp_md *ctx, __u32 scope, const struct sl_flow_key *f)
{
	const struct sl_control *ctl = sl_pl_control(ctx);
	if (f->family != SL_AF_INET || !ctl ||
	    !(*(volatile const __u32 *)&ctl->flags & SL_CTL_F_ACL_TRIE))
		return sl_acl_lpm_lookup(scope, f);
	__u32 src = sl_ntohl(f->src[0]);
	if (scope < SL_ACL_FAST_SCOPES) {
		__u32 i = sl_acl_fast_index(scope, src);
		const __u64 *e = bpf_map_lookup_elem(&acl_fast, &i);
		return e ? sl_acl_trie_lookup4_below16(&acl_nodes, *(volatile const __u64 *)e, src) : 0;
	}
	return sl_acl_trie_lookup4(&acl_nodes, sl_acl_root(scope, SL_AF_INET), src);
}

SL_INLINE void sl_pl_acl_hit(struct xdp_md *ctx, __u32 rule_id)
{
	__u64 *n = bpf_map_lookup_elem(&acl_hits, &rule_id);
	if (n)
		(*n)++;
}

SL_INLINE __u64 sl_pl_clock(struct xdp_md *ctx)
{
	return bpf_ktime_get_ns();
}

SL_INLINE __u64 sl_pl_clock_coarse(struct xdp_md *ctx)
{
	return bpf_ktime_get_coarse_ns();
}

SL_INLINE void *sl_pl_data(struct xdp_md *ctx)
{
	return (void *)(long)ctx->data;
}

SL_INLINE void *sl_pl_data_end(struct xdp_md *ctx)
{
	return (void *)(long)ctx->data_end;
}

SL_INLINE int sl_pl_adjust_head(struct xdp_md *ctx, int delta)
{
	return bpf_xdp_adjust_head(ctx, delta);
}

SL_INLINE int sl_pl_adjust_tail(struct xdp_md *ctx, int delta)
{
	return bpf_xdp_adjust_tail(ctx, delta);
}

/* The device's MTU is read live; on a violation the helper leaves it in
 * `mtu`. */
SL_INLINE int sl_pl_mtu_check(struct xdp_md *ctx, const struct sl_pkt *p, __u32 grow, __u32 *mtu)
{
	__u32 m = p->l3_len;
	long rc = bpf_check_mtu(ctx, 0, &m, (__s32)grow, 0);
	*mtu = m;
	if (rc == BPF_MTU_CHK_RET_SUCCESS)
		return SL_PL_MTU_FITS;
	return rc == BPF_MTU_CHK_RET_FRAG_NEEDED ? SL_PL_MTU_FRAG_NEEDED : SL_PL_MTU_FAIL;
}

#include "core/pipeline.h"

SL_INLINE int xdp_action_of(enum sl_reason r)
{
	switch (sl_reason_verdict(r)) {
	case SL_VERDICT_TX:
		return XDP_TX;
	case SL_VERDICT_DROP:
		return XDP_DROP;
	default:
		return XDP_PASS;
	}
}

SEC("xdp")
int sluice_xdp(struct xdp_md *ctx)
{
	struct sl_pl_state s;
#if SLUICE_BUILD_VARIANT != 1
	volatile __u32 variant = SLUICE_BUILD_VARIANT;
	(void)variant;
#endif
	return xdp_action_of(sl_pl_run(ctx, &s));
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
