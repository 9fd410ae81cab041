/* SPDX-License-Identifier: Apache-2.0 */
/* Per-source new-flow limits: `limits: { new_flows_per_source: N, burst: M }`
 * globally and per VIP. A token bucket per source (an IPv6 source per /64:
 * one host's addresses are one source), kept as GCRA: one __u64 per bucket,
 * the time the bucket is next empty ("theoretical arrival time"). A new
 * flow is admitted when, one token later, that time is at most `burst`
 * intervals ahead of now.
 *
 * Only new flows (a SYN or a first datagram that the tables do not hold)
 * reach the bucket: an established flow, a retransmitted SYN that finds its
 * record, and a mid-flow segment are never limited.
 *
 * Shared, not per CPU: receive-side scaling spreads one source's flows
 * (their ports differ) over every CPU, so per-CPU buckets would admit up to
 * N times the CPUs' count and differ from run to run. The bucket is one
 * word taken with a compare-and-swap, only on new flows; two CPUs racing on
 * the same source retry once, then the flow is refused (a limited source is
 * the one that races). */
#ifndef SLUICE_CORE_LIMIT_H
#define SLUICE_CORE_LIMIT_H

#include "abi.h"

/* The limit a new flow to `vip` is under: the VIP's own, else the global
 * one. 0: none. */
SL_INLINE int sl_limit_pick(const struct sl_vip_meta *vip, const struct sl_global *g,
			    __u32 *scope, __u32 *interval_ns, __u32 *burst)
{
	if (vip->limit_interval_ns) {
		*scope = vip->vip_id;
		*interval_ns = vip->limit_interval_ns;
		*burst = vip->limit_burst;
		return 1;
	}
	if (g->limit_interval_ns) {
		*scope = SL_LIMIT_SCOPE_GLOBAL;
		*interval_ns = g->limit_interval_ns;
		*burst = g->limit_burst;
		return 1;
	}
	return 0;
}

SL_INLINE void sl_limit_key_of(const struct sl_flow_key *f, __u32 scope, struct sl_limit_key *k)
{
	k->addr[0] = f->src[0];
	k->addr[1] = f->family == SL_AF_INET6 ? f->src[1] : 0;
	k->addr[2] = 0; /* IPv6: the /64 */
	k->addr[3] = 0;
	k->scope = scope;
	k->family = f->family;
	k->pad[0] = k->pad[1] = k->pad[2] = 0;
}

/* Takes one token from the bucket `tat` at `now_ns`: 1 admitted, 0 over the
 * limit. A fresh bucket is 0 (full). */
SL_INLINE int sl_limit_take(__u64 *tat, __u64 now_ns, __u32 interval_ns, __u32 burst)
{
	__u64 depth = (__u64)burst * interval_ns;
	SL_UNROLL
	for (int i = 0; i < 2; i++) {
		__u64 old = *(volatile __u64 *)tat;
		__u64 next = (old > now_ns ? old : now_ns) + interval_ns;
		if (next - now_ns > depth)
			return 0;
		if (__sync_val_compare_and_swap(tat, old, next) == old)
			return 1;
	}
	return 0;
}

#endif
