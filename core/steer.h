/* SPDX-License-Identifier: Apache-2.0 */
/* The steering decisions, one function each:
 *   parse -> VIP lookup -> admit -> screen -> conn lookup -> (hit | schedule)
 *   -> forward.
 * core/pipeline.h takes them in that order over the dataplane's tables
 * (maps, hash tables) and frame, so XDP and DPDK cannot disagree. */
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

/* A source no client to a VIP has: the VIP itself (a spoof, or a loop), the
 * limited broadcast, a multicast group, the unspecified or a loopback
 * address (RFC 1122 3.2.1.3, RFC 4291 2.5.2/2.5.3/2.7). */
SL_INLINE int sl_source_impossible(const struct sl_flow_key *f)
{
	if (f->family == SL_AF_INET) {
		__u32 s = sl_ntohl(f->src[0]);
		return f->src[0] == f->dst[0] || s == 0xffffffffu || (s >> 28) == 0xe ||
		       (s >> 24) == 0 || (s >> 24) == 127;
	}
	if (f->src[0] == f->dst[0] && f->src[1] == f->dst[1] && f->src[2] == f->dst[2] &&
	    f->src[3] == f->dst[3])
		return 1;
	if ((sl_ntohl(f->src[0]) >> 24) == 0xff)
		return 1;
	return f->src[0] == 0 && f->src[1] == 0 && f->src[2] == 0 &&
	       (f->src[3] == 0 || f->src[3] == sl_htonl(1));
}

/* Packets to a VIP that no real client sends, dropped before they can take
 * a connection-table slot or a backend's attention. An ICMP error is about
 * the VIP's own reply and comes from a router: not screened here. */
SL_INLINE enum sl_reason sl_steer_screen(const struct sl_pkt *p)
{
	if (p->flags & SL_PKT_F_ICMP_ERR)
		return SL_R_NONE;
	if (p->flow.proto == SL_IPPROTO_TCP && (p->tcp_flags & SL_TCP_SYN) &&
	    (p->tcp_flags & (SL_TCP_FIN | SL_TCP_RST)))
		return SL_R_DROP_BAD_TCP_FLAGS;
	if (sl_source_impossible(&p->flow))
		return SL_R_DROP_BAD_SOURCE;
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
 * it (drop_backend_down), or a miss reason (a SYN whose record names a
 * backend that is down is rescheduled: SL_BE_F_DOWN) — schedule when
 * sl_reason_is_new_conn(), else pass/drop as the reason says. */
SL_INLINE enum sl_reason sl_record_decide(const struct sl_pkt *p, const struct sl_conn *c,
					  const struct sl_backend *be)
{
	if (sl_conn_usable(c, be) && !((p->flags & SL_PKT_F_SYN) && (be->flags & SL_BE_F_DOWN)))
		return sl_hit_reason(p);
	if (sl_conn_dropped(c, be))
		return SL_R_DROP_BACKEND_DOWN;
	return sl_miss_reason(p, c != 0);
}

/* Scheduled backend `idx` is usable for a new flow (the ring leaves out a
 * backend that is down; a ring not yet reprogrammed may still name it). */
SL_INLINE int sl_backend_schedulable(__u32 idx, const struct sl_backend *be)
{
	return idx != SL_NO_BACKEND && be && (be->flags & (SL_BE_F_LIVE | SL_BE_F_DOWN)) == SL_BE_F_LIVE;
}

SL_INLINE void sl_conn_init(struct sl_conn *c, __u32 idx, const struct sl_backend *be,
			    __u32 vip_id, __u64 now_ns)
{
	c->backend = idx;
	c->gen = be->gen;
	c->vip_id = vip_id;
	c->synced_s = 0;
	c->created_ns = now_ns;
	c->acl_gen = 0;
	c->flags = 0;
}

SL_INLINE int sl_reason_is_new_conn(enum sl_reason r)
{
	return r == SL_R_TX_NEW || r == SL_R_TX_MIDFLOW || r == SL_R_TX_RESCHEDULED;
}

/* Under VRRP the controller stamps ctl->heartbeat_ns (CLOCK_MONOTONIC)
 * every advert interval; a node whose controller has been silent for
 * longer than the timeout must stop steering, or a killed sluiced would
 * leave it answering for a VIP the peer has taken. `now_ns` may lag the
 * stamp (a coarse clock): that is fresh, not a wrap. Timeout 0: no check. */
SL_INLINE int sl_heartbeat_stale(const struct sl_control *ctl, __u64 now_ns)
{
	__u64 timeout = ctl->heartbeat_timeout_ns;
	if (!timeout)
		return 0;
	__s64 since = (__s64)(now_ns - ctl->heartbeat_ns);
	return since > (__s64)timeout;
}

#endif
