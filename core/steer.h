/* SPDX-License-Identifier: Apache-2.0 */
/* The steering decisions, in the order every dataplane takes them:
 *   parse -> VIP lookup -> admit -> conn lookup -> (hit | schedule) -> forward.
 * The dataplane does the lookups (maps, hash tables) and the I/O; each
 * decision between them is one function here, so XDP and DPDK cannot
 * disagree. */
#ifndef SLUICE_CORE_STEER_H
#define SLUICE_CORE_STEER_H

#include "abi.h"
#include "parse.h"
#include "verdict.h"

/* Is this packet ours to steer? `vip` is the VIP lookup result (NULL: none). */
SL_INLINE enum sl_reason sl_steer_admit(const struct sl_vip_meta *vip, const struct sl_global *g)
{
	if (!vip)
		return SL_R_PASS_NOT_VIP;
	if (!g || g->role != SL_ROLE_ACTIVE)
		return SL_R_PASS_PASSIVE;
	return SL_R_NONE;
}

/* A recorded flow keeps its backend while that backend is live and is the
 * one recorded (a reused slot has another gen). Draining keeps LIVE. */
SL_INLINE int sl_conn_usable(const struct sl_conn *c, const struct sl_backend *be)
{
	return c && be && (be->flags & SL_BE_F_LIVE) && be->gen == c->gen;
}

/* A recorded flow whose backend failed under on_backend_down: drop.
 * (A reused slot, other gen, is another backend: the flow is rescheduled.) */
SL_INLINE int sl_conn_dropped(const struct sl_conn *c, const struct sl_backend *be)
{
	return c && be && (be->flags & SL_BE_F_DROP_FLOWS) && be->gen == c->gen;
}

SL_INLINE enum sl_reason sl_hit_reason(const struct sl_pkt *p)
{
	return p->flags & SL_PKT_F_ICMP_ERR ? SL_R_TX_ICMP : SL_R_TX_HIT;
}

/* Why a packet without a usable record gets scheduled, or is not:
 * an ICMP error never creates a flow; a TCP segment that is not a SYN is
 * scheduled anyway (the record may have been evicted or synced late) and
 * counted apart. */
SL_INLINE enum sl_reason sl_miss_reason(const struct sl_pkt *p, int had_stale_record)
{
	if (p->flags & SL_PKT_F_ICMP_ERR)
		return SL_R_PASS_ICMP_NO_FLOW;
	if (had_stale_record)
		return SL_R_TX_RESCHEDULED;
	if (p->flow.proto == SL_IPPROTO_TCP && !(p->flags & SL_PKT_F_SYN))
		return SL_R_TX_MIDFLOW;
	return SL_R_TX_NEW;
}

/* What the connection-table record (`c`, NULL: none; `be`: its backend,
 * NULL: none) decides for this packet: follow it (tx_hit / tx_icmp), drop
 * it (drop_backend_down), or a miss reason — schedule when
 * sl_reason_is_new_conn(), else pass/drop as the reason says. */
SL_INLINE enum sl_reason sl_record_decide(const struct sl_pkt *p, const struct sl_conn *c,
					  const struct sl_backend *be)
{
	if (sl_conn_usable(c, be))
		return sl_hit_reason(p);
	if (sl_conn_dropped(c, be))
		return SL_R_DROP_BACKEND_DOWN;
	return sl_miss_reason(p, c != 0);
}

/* A connection attempt is almost always a flow the table has never seen:
 * schedule and insert it if absent, in one hash operation, instead of a
 * lookup that misses followed by an insert. A record that exists after all
 * (a retransmitted SYN, a reused tuple) sends the packet down the usual
 * lookup path; the schedule slot it took is lost, a skew only retransmits
 * cause. */
SL_INLINE int sl_record_first(const struct sl_pkt *p)
{
	return (p->flags & SL_PKT_F_SYN) && !(p->flags & SL_PKT_F_ICMP_ERR);
}

/* Scheduled backend `idx` is usable for a new flow. */
SL_INLINE int sl_backend_schedulable(__u32 idx, const struct sl_backend *be)
{
	return idx != SL_NO_BACKEND && be && (be->flags & SL_BE_F_LIVE);
}

SL_INLINE void sl_conn_init(struct sl_conn *c, __u32 idx, const struct sl_backend *be,
			    __u32 vip_id, __u64 now_ns)
{
	c->backend = idx;
	c->gen = be->gen;
	c->vip_id = vip_id;
	c->pad = 0;
	c->created_ns = now_ns;
}

SL_INLINE int sl_reason_is_new_conn(enum sl_reason r)
{
	return r == SL_R_TX_NEW || r == SL_R_TX_MIDFLOW || r == SL_R_TX_RESCHEDULED;
}

#endif
