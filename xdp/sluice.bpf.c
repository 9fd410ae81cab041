/* SPDX-License-Identifier: Apache-2.0 */
/* The XDP fast path: the core/ steering decisions over BPF maps.
 * Per packet: a handful of map lookups, no allocation, no lock; the
 * schedule cursor and all counters are per CPU. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#include "core/encap.h"
#include "core/flow.h"
#include "core/steer.h"
#include "core/too_big.h"
#include "core/wrr.h"
#include "xdp/sluice_maps.h"

/* 1: the shipped program. Another value builds the same program with a
 * harmless extra instruction, so its tag differs: upgrade tests swap it in. */
#ifndef SLUICE_BUILD_VARIANT
#define SLUICE_BUILD_VARIANT 1
#endif

SL_INLINE void count(void *map, __u32 idx, __u64 bytes, int new_conn)
{
	struct sl_counters *c = bpf_map_lookup_elem(map, &idx);
	if (c) {
		c->packets++;
		c->bytes += bytes;
		c->new_conns += new_conn;
	}
}

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

/* Tells the controller's sync sender about a flow just recorded. The ring
 * is bounded: when it is full the event is counted and the packet goes on
 * (the peer's periodic refresh still carries the flow). */
SL_INLINE void flow_event_emit(struct sl_control *ctl, const struct sl_flow_key *flow,
			       const struct sl_conn *c)
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

/* Picks a backend for a flow without a usable record and records it: into
 * `stale`, the flow's unusable record, in place, or as a new entry. Backend
 * pointers are array-map values: they stay valid for the whole run.
 *
 * Why never an update of an existing key: an LRU hash update takes a free
 * node before it looks at the key, and in a full table that evicts the
 * least recently used flow, an unrelated one, even when the update then
 * fails (BPF_NOEXIST) or replaces the old node (BPF_ANY). Only a flow the
 * table does not hold may cost another its slot. */
SL_INLINE enum sl_reason schedule(struct sl_pkt *p, const struct sl_vip_meta *vip,
				  struct sl_control *ctl, enum sl_reason why, struct sl_conn *stale,
				  __u32 *idx, const struct sl_backend **out)
{
	__u32 ring_id = vip->ring_id, vip_id = vip->vip_id;
	struct sl_ring *ring = bpf_map_lookup_elem(&rings, &ring_id);
	__u32 *cursor = bpf_map_lookup_elem(&cursors, &vip_id);
	if (!ring || !cursor)
		return SL_R_DROP_NO_BACKEND;
	__u32 i = sl_ring_pick(ring, cursor);
	struct sl_backend *be = bpf_map_lookup_elem(&backends, &i);
	if (!sl_backend_schedulable(i, be) || !be)
		return SL_R_DROP_NO_BACKEND;
	struct sl_conn c;
	sl_conn_init(&c, i, be, vip_id, bpf_ktime_get_ns());
	int recorded = 1;
	if (stale)
		*stale = c;
	else
		/* Fails only if another CPU recorded the flow meanwhile: its
		 * record stays (and was announced), and this one packet goes to
		 * our pick. */
		recorded = bpf_map_update_elem(&conns, &p->flow, &c, BPF_NOEXIST) == 0;
	if (recorded && (ctl->flags & SL_CTL_F_FLOW_EVENTS))
		flow_event_emit(ctl, &p->flow, &c);
	*idx = i;
	*out = be;
	return why;
}

/* Finds the backend of the packet's flow: the recorded one, or a new pick.
 * A SYN is looked up first too: a retransmitted one must find its record
 * (see schedule). */
SL_INLINE enum sl_reason choose(struct sl_pkt *p, const struct sl_vip_meta *vip,
				struct sl_control *ctl, __u32 *idx, const struct sl_backend **out)
{
	struct sl_conn *c = bpf_map_lookup_elem(&conns, &p->flow);
	struct sl_backend *be = NULL;
	__u32 i = 0;
	if (c) {
		i = c->backend;
		be = bpf_map_lookup_elem(&backends, &i);
	}
	enum sl_reason r = sl_record_decide(p, c, be);
	if (sl_reason_is_new_conn(r))
		return schedule(p, vip, ctl, r, c, idx, out);
	if (sl_reason_verdict(r) == SL_VERDICT_TX) {
		if (!be)
			return SL_R_DROP_NO_BACKEND; /* not reached: a hit has a backend */
		*idx = i;
		*out = be;
	}
	return r;
}

/* The packet will not fit the tunnel: tell the client (core/too_big.h),
 * turning this very frame into the ICMP error, or drop it where no ICMP
 * may be sent. `mtu`: the largest packet that fits once encapsulated. */
SL_INLINE enum sl_reason too_big(struct xdp_md *ctx, const struct sl_pkt *p, __u32 mtu)
{
	if (!sl_too_big_answerable(p))
		return SL_R_DROP_TOO_BIG;
	__u32 grow = sl_too_big_grow(p);
	if (bpf_xdp_adjust_head(ctx, -(int)grow))
		return SL_R_DROP_TOO_BIG;
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	int want = (int)(p->l3_off + grow + sl_too_big_quote(p));
	if (bpf_xdp_adjust_tail(ctx, want - (int)(end - data)))
		return SL_R_DROP_TOO_BIG;
	data = (void *)(long)ctx->data;
	end = (void *)(long)ctx->data_end;
	if (sl_too_big_write(data, end, p, mtu))
		return SL_R_DROP_TOO_BIG;
	return SL_R_TX_ICMP_TOO_BIG;
}

SL_INLINE enum sl_reason forward(struct xdp_md *ctx, const struct sl_pkt *p, __u8 mode,
				 const struct sl_backend *be, const struct sl_global *g)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	if (mode == SL_MODE_DSR) {
		if (data + sizeof(struct sl_ethhdr) > end)
			return SL_R_PASS_MALFORMED;
		sl_dsr_rewrite(data, be, g);
		return SL_R_NONE;
	}
	__u32 olen = sl_encap_len(be);
	/* The driver drops a frame above the MTU without a word: answer or
	 * count it instead. The device's MTU is read live; L3 lengths are
	 * compared, so a VLAN tag does not count against it. On a violation
	 * the helper leaves the device MTU in `mtu`. */
	__u32 mtu = p->l3_len;
	long rc = bpf_check_mtu(ctx, 0, &mtu, (__s32)olen, 0);
	if (rc == BPF_MTU_CHK_RET_FRAG_NEEDED && mtu > olen)
		return too_big(ctx, p, mtu - olen);
	if (rc != BPF_MTU_CHK_RET_SUCCESS)
		return SL_R_DROP_TOO_BIG;
	if (bpf_xdp_adjust_head(ctx, -(int)olen))
		return SL_R_DROP_ENCAP;
	data = (void *)(long)ctx->data;
	end = (void *)(long)ctx->data_end;
	__u32 hash = be->family == SL_AF_INET6 ? sl_flow_hash(&p->flow, SL_FLOW_HASH_SEED) : 0;
	if (sl_encap_write(data, end, p, be, g, hash))
		return SL_R_DROP_ENCAP;
	return SL_R_NONE;
}

SL_INLINE enum sl_reason steer(struct xdp_md *ctx, struct sl_pkt *p)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	enum sl_reason r = sl_parse(data, end, p);
	if (r != SL_R_NONE)
		return r;

	struct sl_vip_key vk;
	sl_vip_key_of_flow(&p->flow, &vk);
	struct sl_vip_meta *vip = bpf_map_lookup_elem(&vips, &vk);
	__u32 zero = 0;
	struct sl_global *g = bpf_map_lookup_elem(&global, &zero);
	r = sl_steer_admit(vip, g);
	if (r != SL_R_NONE || !vip || !g)
		return r != SL_R_NONE ? r : SL_R_PASS_NOT_VIP;
	/* VIP traffic only: an array lookup by a constant key, which the
	 * verifier inlines; the clock is read only when a timeout is set. */
	struct sl_control *ctl = bpf_map_lookup_elem(&control, &zero);
	if (!ctl)
		return SL_R_PASS_PASSIVE; /* not reached: a one-entry array */
	if (ctl->heartbeat_timeout_ns && sl_heartbeat_stale(ctl, bpf_ktime_get_coarse_ns()))
		return SL_R_PASS_PASSIVE;

	__u64 bytes = (__u64)p->l3_off + p->l3_len;
	__u32 idx = 0;
	const struct sl_backend *be = NULL;
	r = sl_steer_screen(p);
	if (r == SL_R_NONE)
		r = choose(p, vip, ctl, &idx, &be);
	int is_new = sl_reason_is_new_conn(r);
	count(&vip_stats, vip->vip_id, bytes, is_new);
	if (sl_reason_verdict(r) != SL_VERDICT_TX)
		return r;

	if (!be)
		return SL_R_DROP_NO_BACKEND; /* not reached: tx always has one */
	enum sl_reason fr = forward(ctx, p, vip->mode, be, g);
	if (fr != SL_R_NONE)
		return fr;
	count(&backend_stats, idx, bytes, is_new);
	return r;
}

SEC("xdp")
int sluice_xdp(struct xdp_md *ctx)
{
	struct sl_pkt p;
#if SLUICE_BUILD_VARIANT != 1
	volatile __u32 variant = SLUICE_BUILD_VARIANT;
	(void)variant;
#endif
	enum sl_reason r = steer(ctx, &p);
	count(&reason_stats, r, (__u64)p.l3_off + p.l3_len, 0);
	return xdp_action_of(r);
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
