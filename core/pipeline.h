/* SPDX-License-Identifier: Apache-2.0 */
/* The steering pipeline: the order of the steps, once, for every dataplane
 * (the XDP program, the DPDK worker, core_bench, the host tests):
 *
 *   parse -> VIP lookup -> admit -> heartbeat check -> screen -> ACL (SYN)
 *   -> conn lookup -> ACL (no record, or one admitted under older rules)
 *   -> record decide -> schedule (insert if absent, or
 *      overwrite the stale record in place; flow event)
 *   -> count VIP -> forward (DSR rewrite | MTU check, ICMP too-big | encap)
 *   -> count backend -> count reason.
 *
 * The decisions between the steps are core/steer.h's; the tables and the
 * frame are the dataplane's. The including file supplies them as hooks,
 * SL_INLINE functions (or macros) defined BEFORE it includes this header
 * (after core/pipeline_ops.h, which has the types they use),
 * all taking the dataplane's per-packet context `SL_PL_CTX *ctx` (define
 * SL_PL_CTX to its type; XDP: struct xdp_md, DPDK: {worker, mbuf}):
 *
 *   tables
 *     const struct sl_vip_meta *sl_pl_vip(ctx, const struct sl_vip_key *k)
 *     const struct sl_global *sl_pl_global(ctx)
 *     struct sl_control *sl_pl_control(ctx)            never NULL in practice
 *     const struct sl_backend *sl_pl_backend(ctx, __u32 slot)  NULL: none
 *     const struct sl_ring *sl_pl_ring(ctx, __u32 ring_id)
 *     __u32 *sl_pl_cursor(ctx, __u32 vip_id)           the VIP's cursor
 *     struct sl_conn *sl_pl_conn_lookup(ctx, const struct sl_flow_key *k)
 *     int sl_pl_conn_insert(ctx, const struct sl_flow_key *k,
 *                           const struct sl_conn *c)   insert if absent;
 *                                                      0: recorded
 *     void sl_pl_conn_overwrite(ctx, struct sl_conn *rec,
 *                               const struct sl_conn *c)  in place: `rec`
 *                                                      is a lookup result
 *     void sl_pl_count(ctx, enum sl_pl_counter t, __u32 idx, __u64 bytes,
 *                      int new_conn)
 *     void sl_pl_flow_event(ctx, struct sl_control *ctl,
 *                           const struct sl_flow_key *k, const struct sl_conn *c)
 *     __u32 sl_pl_acl_lookup(ctx, __u32 scope, const struct sl_flow_key *k)
 *                                                      the most specific rule
 *                                                      of `scope` holding k's
 *                                                      source, as a verdict
 *                                                      (core/acl.h); 0: none
 *     void sl_pl_acl_hit(ctx, __u32 rule_id)           count a rule's hit
 *   clocks (both CLOCK_MONOTONIC)
 *     __u64 sl_pl_clock(ctx)         the new-flow limits' token buckets;
 *                                    read only when a limit is set
 *     __u64 sl_pl_clock_coarse(ctx)  a record's created_ns (an age for
 *                                    listings and sync, in ms: a tick's
 *                                    resolution is plenty, and the fine
 *                                    clock costs ~100 ns per new flow in
 *                                    XDP on kvm-clock) and the heartbeat
 *                                    check, read only when a timeout is set
 *   frame
 *     void *sl_pl_data(ctx), void *sl_pl_data_end(ctx)
 *     int sl_pl_adjust_head(ctx, int delta)   <0 grows the head room side;
 *                                             0: done (no room: non-zero)
 *     int sl_pl_adjust_tail(ctx, int delta)   0: done
 *     int sl_pl_mtu_check(ctx, const struct sl_pkt *p, __u32 grow,
 *                         __u32 *mtu)         would the L3 packet, `grow`
 *                                             bytes longer, fit the egress
 *                                             MTU? enum sl_pl_mtu; on
 *                                             FRAG_NEEDED, *mtu = the MTU
 *   SYN flood and new-flow limits (sl_pl_choose says why)
 *     struct sl_conn *sl_pl_conn_lookup_unconfirmed(ctx, k)
 *                              the table of SYN-created records; NULL:
 *                              none (or one table holds both: conn_lookup
 *                              found it already)
 *     int sl_pl_conn_unconfirmed(ctx, const struct sl_conn *rec)
 *                              is a conn_lookup result still unconfirmed?
 *                              (0 where conn_lookup holds confirmed ones)
 *     int sl_pl_conn_insert_unconfirmed(ctx, k, const struct sl_conn *c)
 *                              record a SYN's flow, insert if absent; a
 *                              full table gives up an unconfirmed record,
 *                              never a confirmed one; 0: recorded
 *     int sl_pl_conn_confirm(ctx, k, struct sl_conn *rec)
 *                              the client answered: `rec` (an unconfirmed
 *                              lookup result) becomes a confirmed record;
 *                              0: done here (another CPU may have won)
 *     __u64 *sl_pl_limit_bucket(ctx, const struct sl_limit_key *k)
 *                              the source's token bucket (core/limit.h),
 *                              created full (0) when absent; NULL: none
 *
 * Hooks, not a struct of function pointers: the BPF target has no indirect
 * calls, and with inline hooks each one compiles down to exactly the map
 * lookup or helper call the program made before (no extra call, no extra
 * lookup). The host (tests, bench) writes the same hooks over plain C
 * tables.
 *
 * One packet: sl_pl_run(ctx, &s). A burst (DPDK) splits it so the parses
 * come first and the connection lookups go to the table in one bulk call:
 *
 *   for i in burst:  sl_pl_parse(ctx[i], &s[i]);
 *   for i in burst:  r[i] = sl_pl_front_parsed(ctx[i], &s[i]);   VIP .. screen
 *   keys = { &s[i].p.flow : sl_pl_wants_conn(&s[i]) };
 *   conn_table_lookup_bulk(conns, keys, n, recs);   (DPDK: ConnTable::lookup_bulk)
 *   for i in burst:  if (s[i].in_vip) r[i] = sl_pl_back(ctx[i], &s[i], rec_i);
 *                    sl_pl_finish(ctx[i], &s[i], r[i]);
 *
 * A bulk result can be out of date by the time its packet's back runs:
 * an earlier packet of the same burst may have recorded that flow (a
 * miss that is no longer one) or, in a full table, evicted a record (a
 * hit whose entry is gone). The table's only writer is the one running
 * the burst, so it checks a result at the back: a miss is looked up again
 * (a second insert would fail and send the packet to a fresh pick), a hit
 * is checked against the record. The DPDK worker spreads its lookups over
 * the passes, so that their memory reads overlap the other packets' work:
 * after the fronts, the hashes and bucket fetches, then the record
 * fetches, and the check of the record in the back
 * (dataplane/dpdk/conn_table.h, ConnTable::Staged; lookup_bulk is the
 * three stages back to back). tests/core/pipeline_test.cc runs this shape. */
#ifndef SLUICE_CORE_PIPELINE_H
#define SLUICE_CORE_PIPELINE_H

#include "pipeline_ops.h"
#include "abi.h"
#include "acl.h"
#include "encap.h"
#include "flow.h"
#include "parse.h"
#include "steer.h"
#include "too_big.h"
#include "verdict.h"
#include "wrr.h"
#include "limit.h"

/* Firewall (core/acl.h): the VIP's rules, then the global ones, each a
 * lookup only where its flag says there are rules. A denied packet is
 * dropped before it is recorded: it costs no record.
 *
 * When: a TCP SYN (a new connection, or a flood) is judged in the front,
 * before the connection table: a denied one costs one rule lookup. Any
 * other packet is judged in the back, after its record is found, and only
 * if the record was not admitted under the rules in force: the record
 * keeps the acl_gen it was admitted under (sl_conn.acl_gen), and every
 * rule change bumps sl_control.acl_gen. So an established flow pays one
 * compare per packet whatever the number of rules, and a rule change still
 * reaches every open connection at its next packet (the first packet after
 * a change is judged again). A packet without a record (UDP's first
 * datagram, a mid-flow TCP packet) is judged before it is recorded. */
SL_INLINE int sl_pl_has_acl(const struct sl_pl_state *s)
{
	return (s->vip->flags & (SL_VIP_F_ACL | SL_VIP_F_ACL_GLOBAL)) != 0;
}

SL_INLINE int sl_pl_acl_early(const struct sl_pl_state *s)
{
	return sl_pl_has_acl(s) && s->p.flow.proto == SL_IPPROTO_TCP &&
	       (s->p.flags & SL_PKT_F_SYN);
}

/* A packet judged in the back: is its record `c` (NULL: none) admitted
 * under the rules in force? */
SL_INLINE int sl_pl_acl_due(const struct sl_pl_state *s, const struct sl_conn *c)
{
	return sl_pl_has_acl(s) && !sl_pl_acl_early(s) && (!c || c->acl_gen != s->acl_gen);
}

/* Judges the packet's source; only where sl_pl_has_acl (both callers
 * check it first). */
SL_INLINE enum sl_reason sl_pl_acl(SL_PL_CTX *ctx, const struct sl_pl_state *s)
{
	__u8 f = s->vip->flags;
	__u32 v = 0;
	if (f & SL_VIP_F_ACL)
		v = sl_pl_acl_lookup(ctx, sl_acl_scope_of_vip(s->vip->vip_id), &s->p.flow);
	if (!v && (f & SL_VIP_F_ACL_GLOBAL))
		v = sl_pl_acl_lookup(ctx, SL_ACL_SCOPE_GLOBAL, &s->p.flow);
	if (!v)
		return SL_R_NONE;
	sl_pl_acl_hit(ctx, sl_acl_verdict_rule_id(v));
	return sl_acl_verdict_denies(v) ? SL_R_DROP_ACL : SL_R_NONE;
}

/* Front: parse, VIP lookup, admission, heartbeat, screen, a SYN's ACL. Returns the
 * reason so far: when s->in_vip is 0 it is the packet's verdict and
 * sl_pl_back must not run; else SL_R_NONE (go on, look the flow up) or the
 * screen's or the ACL's drop (go on to sl_pl_back with no record: the VIP
 * counts it). */
SL_INLINE enum sl_reason sl_pl_front_parsed(SL_PL_CTX *ctx, struct sl_pl_state *s);

/* The front's first step alone: parse. A burst parses all its packets
 * before it runs the rest of any front (sl_pl_front_parsed): sl_parse
 * writes the flow key with narrow stores, and a lookup that reads it back
 * with wider loads while those stores are still in the store buffer waits
 * for them to reach the cache (store forwarding fails), ~5 ns per packet
 * in the DPDK worker. A burst's parses give them the time. */
SL_INLINE enum sl_reason sl_pl_parse(SL_PL_CTX *ctx, struct sl_pl_state *s)
{
	s->in_vip = 0;
	return s->r = sl_parse(sl_pl_data(ctx), sl_pl_data_end(ctx), &s->p);
}

SL_INLINE enum sl_reason sl_pl_front(SL_PL_CTX *ctx, struct sl_pl_state *s)
{
	sl_pl_parse(ctx, s);
	return sl_pl_front_parsed(ctx, s);
}

/* The rest of the front, after sl_pl_parse. */
SL_INLINE enum sl_reason sl_pl_front_parsed(SL_PL_CTX *ctx, struct sl_pl_state *s)
{
	if (s->r != SL_R_NONE)
		return s->r;

	struct sl_vip_key vk;
	sl_vip_key_of_flow(&s->p.flow, &vk);
	const struct sl_vip_meta *vip = sl_pl_vip(ctx, &vk);
	if (!vip) /* traffic not to a VIP costs one lookup, nothing more */
		return s->r = SL_R_PASS_NOT_VIP;
	const struct sl_global *g = sl_pl_global(ctx);
	enum sl_reason r = sl_steer_admit(vip, g);
	if (r != SL_R_NONE || !g)
		return s->r = (r != SL_R_NONE ? r : SL_R_PASS_PASSIVE);
	/* VIP traffic only; the clock is read only when a timeout is set. */
	struct sl_control *ctl = sl_pl_control(ctx);
	if (!ctl)
		return s->r = SL_R_PASS_PASSIVE; /* not reached: a one-entry table */
	if (ctl->heartbeat_timeout_ns && sl_heartbeat_stale(ctl, sl_pl_clock_coarse(ctx)))
		return s->r = SL_R_PASS_PASSIVE;
	s->vip = vip;
	s->g = g;
	s->ctl = ctl;
	s->in_vip = 1;
	/* Read before any rule lookup: a record stamped with it was judged
	 * by rules at least that new (the dataplane bumps it after a change). */
	s->acl_gen = *(volatile const __u32 *)&ctl->acl_gen;
	s->r = sl_steer_screen(&s->p);
	if (s->r == SL_R_NONE && sl_pl_acl_early(s))
		s->r = sl_pl_acl(ctx, s);
	return s->r;
}

/* Does this packet want its connection record looked up? */
SL_INLINE int sl_pl_wants_conn(const struct sl_pl_state *s)
{
	return s->in_vip && s->r == SL_R_NONE;
}

/* SYN-flood resilience: a record is confirmed once the client sends a
 * packet that is not a SYN (its handshake's ACK; a flow first seen mid-way
 * never is, see SL_CONN_F_MIDFLOW). Until then it lives apart
 * (sl_pl_conn_insert_unconfirmed), so spoofed SYNs, which never answer,
 * only ever push out each other, never an established flow. UDP has no
 * handshake: its records are confirmed from the first datagram. */
SL_INLINE int sl_pl_split(const struct sl_pl_state *s)
{
	return s->p.flow.proto == SL_IPPROTO_TCP && !(s->vip->flags & SL_VIP_F_ONE_TABLE);
}

/* A packet from the client that is not a SYN (an ICMP error is a
 * router's, not the client's). */
SL_INLINE int sl_pkt_confirms(const struct sl_pkt *p)
{
	return !(p->flags & (SL_PKT_F_SYN | SL_PKT_F_ICMP_ERR));
}

/* Moves an unconfirmed record to the connection table; the flow is
 * announced to the sync peer only now, so a flood never reaches it. */
SL_INLINE void sl_pl_confirm(SL_PL_CTX *ctx, struct sl_pl_state *s, struct sl_conn *rec)
{
	struct sl_conn c = *rec; /* the hook may free `rec` */
	if (sl_pl_conn_confirm(ctx, &s->p.flow, rec) == 0 &&
	    (s->ctl->flags & SL_CTL_F_FLOW_EVENTS))
		sl_pl_flow_event(ctx, s->ctl, &s->p.flow, &c);
}

/* Is this new flow over its source's limit (core/limit.h)? */
SL_INLINE int sl_pl_over_limit(SL_PL_CTX *ctx, const struct sl_pl_state *s)
{
	__u32 scope, interval_ns, burst;
	if (!sl_limit_pick(s->vip, s->g, &scope, &interval_ns, &burst))
		return 0;
	struct sl_limit_key k;
	sl_limit_key_of(&s->p.flow, scope, &k);
	__u64 *tat = sl_pl_limit_bucket(ctx, &k);
	return tat && !sl_limit_take(tat, sl_pl_clock(ctx), interval_ns, burst);
}

/* Picks a backend for a flow without a usable record and records it: into
 * `stale`, the flow's unusable record, in place, or as a new entry (a SYN's
 * apart, unconfirmed). `unconfirmed`: `stale` is an unconfirmed record.
 *
 * Why never an update of an existing key: an LRU hash update takes a free
 * node before it looks at the key, and in a full table that evicts the
 * least recently used flow, an unrelated one, even when the update then
 * fails (BPF_NOEXIST) or replaces the old node (BPF_ANY). Only a flow the
 * table does not hold may cost another its slot. */
SL_INLINE enum sl_reason sl_pl_schedule(SL_PL_CTX *ctx, struct sl_pl_state *s, enum sl_reason why,
					struct sl_conn *stale, int unconfirmed, __u32 *idx,
					const struct sl_backend **out)
{
	__u32 vip_id = s->vip->vip_id;
	const struct sl_ring *ring = sl_pl_ring(ctx, s->vip->ring_id);
	__u32 *cursor = sl_pl_cursor(ctx, vip_id);
	if (!ring || !cursor)
		return SL_R_DROP_NO_BACKEND;
	/* A flow first seen mid-way goes where its hash says (see
	 * SL_CONN_F_MIDFLOW), a new one to the next in the ring's order. */
	int midflow = why == SL_R_TX_MIDFLOW || (stale && (stale->flags & SL_CONN_F_MIDFLOW));
	__u32 i = midflow ? sl_ring_pick_hash(ring, sl_flow_hash(&s->p.flow, SL_FLOW_HASH_SEED))
			  : sl_ring_pick(ring, cursor);
	const struct sl_backend *be = sl_pl_backend(ctx, i);
	if (!sl_backend_schedulable(i, be) || !be)
		return SL_R_DROP_NO_BACKEND;
	struct sl_conn c;
	sl_conn_init(&c, i, be, vip_id, sl_pl_clock_coarse(ctx));
	c.acl_gen = s->acl_gen; /* judged (or no rules) under these rules */
	c.flags = midflow ? SL_CONN_F_MIDFLOW : 0;
	int announce = 0;
	if (stale) {
		sl_pl_conn_overwrite(ctx, stale, &c);
		if (unconfirmed && sl_pkt_confirms(&s->p) && !midflow)
			sl_pl_confirm(ctx, s, stale);
		else
			announce = !unconfirmed;
	} else if (sl_pl_split(s) && ((s->p.flags & SL_PKT_F_SYN) || midflow)) {
		/* A SYN waits apart until the client's next packet; a flow
		 * first seen mid-way (a spoofed ACK as well as a flow whose
		 * record was lost) stays apart for good: nothing proves it was
		 * ever opened, so a flood of either, each packet sent once or
		 * many times, churns only the unconfirmed table, and the real
		 * one keeps its backend by its hash when its record goes. Not
		 * recorded (a race, or no room): this packet still goes to our
		 * pick, and the next one is scheduled again. */
		sl_pl_conn_insert_unconfirmed(ctx, &s->p.flow, &c);
	} else {
		/* Fails only if another CPU recorded the flow meanwhile: its
		 * record stays (and was announced), and this one packet goes to
		 * our pick. */
		announce = sl_pl_conn_insert(ctx, &s->p.flow, &c) == 0;
	}
	if (announce && (s->ctl->flags & SL_CTL_F_FLOW_EVENTS))
		sl_pl_flow_event(ctx, s->ctl, &s->p.flow, &c);
	*idx = i;
	*out = be;
	return why;
}

/* Finds the backend of the packet's flow from its record `c` (NULL: none):
 * the recorded one, or a new pick. A SYN is looked up first too: a
 * retransmitted one must find its record (see sl_pl_schedule), confirmed
 * or not. A new flow passes its source's limit first; nothing else does. */
SL_INLINE enum sl_reason sl_pl_choose(SL_PL_CTX *ctx, struct sl_pl_state *s, struct sl_conn *c,
				      __u32 *idx, const struct sl_backend **out)
{
	int unconfirmed = 0;
	if (c) {
		unconfirmed = sl_pl_conn_unconfirmed(ctx, c);
	} else if (sl_pl_split(s)) {
		c = sl_pl_conn_lookup_unconfirmed(ctx, &s->p.flow);
		unconfirmed = c != 0;
	}
	if (sl_pl_acl_due(s, c)) {
		enum sl_reason ar = sl_pl_acl(ctx, s);
		if (ar != SL_R_NONE)
			return ar; /* the record, if any, stays: judged again next time */
		if (c)
			c->acl_gen = s->acl_gen;
	}
	const struct sl_backend *be = NULL;
	__u32 i = 0;
	if (c) {
		i = c->backend;
		be = sl_pl_backend(ctx, i);
	}
	enum sl_reason r = sl_record_decide(&s->p, c, be);
	if (r == SL_R_TX_NEW && sl_pl_over_limit(ctx, s))
		return SL_R_DROP_NEW_FLOW_LIMIT;
	if (sl_reason_is_new_conn(r))
		return sl_pl_schedule(ctx, s, r, c, unconfirmed, idx, out);
	if (sl_reason_verdict(r) == SL_VERDICT_TX) {
		if (!be)
			return SL_R_DROP_NO_BACKEND; /* not reached: a hit has a backend */
		if (unconfirmed && sl_pkt_confirms(&s->p) && !(c->flags & SL_CONN_F_MIDFLOW))
			sl_pl_confirm(ctx, s, c);
		*idx = i;
		*out = be;
	}
	return r;
}

/* The packet will not fit the tunnel: tell the client (core/too_big.h),
 * turning this very frame into the ICMP error, or drop it where no ICMP
 * may be sent. `mtu`: the largest packet that fits once encapsulated. */
SL_INLINE enum sl_reason sl_pl_too_big(SL_PL_CTX *ctx, const struct sl_pkt *p, __u32 mtu)
{
	if (!sl_too_big_answerable(p))
		return SL_R_DROP_TOO_BIG;
	__u32 grow = sl_too_big_grow(p);
	if (sl_pl_adjust_head(ctx, -(int)grow))
		return SL_R_DROP_TOO_BIG;
	void *data = sl_pl_data(ctx);
	void *end = sl_pl_data_end(ctx);
	int want = (int)(p->l3_off + grow + sl_too_big_quote(p));
	if (sl_pl_adjust_tail(ctx, want - (int)((char *)end - (char *)data)))
		return SL_R_DROP_TOO_BIG;
	data = sl_pl_data(ctx);
	end = sl_pl_data_end(ctx);
	if (sl_too_big_write(data, end, p, mtu))
		return SL_R_DROP_TOO_BIG;
	return SL_R_TX_ICMP_TOO_BIG;
}

SL_INLINE enum sl_reason sl_pl_forward(SL_PL_CTX *ctx, const struct sl_pkt *p, __u8 mode,
				       const struct sl_backend *be, const struct sl_global *g)
{
	void *data = sl_pl_data(ctx);
	void *end = sl_pl_data_end(ctx);
	if (mode == SL_MODE_DSR) {
		if ((char *)data + sizeof(struct sl_ethhdr) > (char *)end)
			return SL_R_PASS_MALFORMED;
		sl_dsr_rewrite((struct sl_ethhdr *)data, be, g);
		return SL_R_NONE;
	}
	__u32 olen = sl_encap_len(be);
	/* The driver drops a frame above the MTU without a word: answer or
	 * count it instead. L3 lengths are compared, so a VLAN tag does not
	 * count against it. */
	__u32 mtu = 0;
	int rc = sl_pl_mtu_check(ctx, p, olen, &mtu);
	if (rc == SL_PL_MTU_FRAG_NEEDED && mtu > olen)
		return sl_pl_too_big(ctx, p, mtu - olen);
	if (rc != SL_PL_MTU_FITS)
		return SL_R_DROP_TOO_BIG;
	if (sl_pl_adjust_head(ctx, -(int)olen))
		return SL_R_DROP_ENCAP;
	data = sl_pl_data(ctx);
	end = sl_pl_data_end(ctx);
	__u32 hash = be->family == SL_AF_INET6 ? sl_flow_hash(&p->flow, SL_FLOW_HASH_SEED) : 0;
	if (sl_encap_write(data, end, p, be, g, hash))
		return SL_R_DROP_ENCAP;
	return SL_R_NONE;
}

/* Back: for an admitted packet (s->in_vip), with its connection record `c`
 * (a lookup result, NULL: none; ignored when the screen dropped it):
 * decide, schedule, count the VIP, forward, count the backend. */
SL_INLINE enum sl_reason sl_pl_back(SL_PL_CTX *ctx, struct sl_pl_state *s, struct sl_conn *c)
{
	__u64 bytes = (__u64)s->p.l3_off + s->p.l3_len;
	__u32 idx = 0;
	const struct sl_backend *be = NULL;
	enum sl_reason r = s->r;
	if (r == SL_R_NONE)
		r = sl_pl_choose(ctx, s, c, &idx, &be);
	int is_new = sl_reason_is_new_conn(r);
	sl_pl_count(ctx, SL_PL_COUNT_VIP, s->vip->vip_id, bytes, is_new);
	if (sl_reason_verdict(r) != SL_VERDICT_TX)
		return r;

	if (!be)
		return SL_R_DROP_NO_BACKEND; /* not reached: tx always has one */
	enum sl_reason fr = sl_pl_forward(ctx, &s->p, s->vip->mode, be, s->g);
	if (fr != SL_R_NONE)
		return fr;
	sl_pl_count(ctx, SL_PL_COUNT_BACKEND, idx, bytes, is_new);
	return r;
}

/* The last step of every packet, steered or not: count its reason. */
SL_INLINE enum sl_reason sl_pl_finish(SL_PL_CTX *ctx, const struct sl_pl_state *s,
				      enum sl_reason r)
{
	sl_pl_count(ctx, SL_PL_COUNT_REASON, r, (__u64)s->p.l3_off + s->p.l3_len, 0);
	return r;
}

/* One packet, every step but the reason count. */
SL_INLINE enum sl_reason sl_pl_steer(SL_PL_CTX *ctx, struct sl_pl_state *s)
{
	enum sl_reason r = sl_pl_front(ctx, s);
	if (!s->in_vip)
		return r;
	struct sl_conn *c = NULL;
	if (sl_pl_wants_conn(s))
		c = sl_pl_conn_lookup(ctx, &s->p.flow);
	return sl_pl_back(ctx, s, c);
}

/* One packet, every step: its reason. */
SL_INLINE enum sl_reason sl_pl_run(SL_PL_CTX *ctx, struct sl_pl_state *s)
{
	return sl_pl_finish(ctx, s, sl_pl_steer(ctx, s));
}

#endif
