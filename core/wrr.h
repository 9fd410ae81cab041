/* SPDX-License-Identifier: Apache-2.0 */
/* The schedule: smooth weighted round robin (nginx's algorithm) laid out
 * once into a ring by the controller, then read in O(1) per new flow with a
 * per-CPU cursor. Weights 1:2:1 give B A C B, not A B B C. */
#ifndef SLUICE_CORE_WRR_H
#define SLUICE_CORE_WRR_H

#include "abi.h"

/* Next backend index for a new flow, or SL_NO_BACKEND. The cursor is per CPU
 * (per lcore), so the interleaving holds per CPU and the weights hold overall. */
SL_INLINE __u32 sl_ring_pick(const struct sl_ring *r, __u32 *cursor)
{
	__u32 len = r->len;
	if (len == 0 || len > SL_RING_SLOTS)
		return SL_NO_BACKEND;
	__u32 c = *cursor;
	if (c >= len)
		c = 0;
	*cursor = c + 1;
	return r->slots[c & (SL_RING_SLOTS - 1)];
}

/* The ring's slot for a flow hash, or SL_NO_BACKEND: a flow first seen
 * mid-way lands where its hash says, the same backend at every packet
 * while the ring stays (with no record to keep it there), and the weights
 * still hold. */
SL_INLINE __u32 sl_ring_pick_hash(const struct sl_ring *r, __u32 hash)
{
	__u32 len = r->len;
	if (len == 0 || len > SL_RING_SLOTS)
		return SL_NO_BACKEND;
	/* hash * len / 2^32: below len, without a division. The mask is for
	 * the BPF verifier, which cannot bound the product; an empty asm
	 * keeps the compiler from proving it redundant and dropping it. */
	__u32 i = (__u32)(((__u64)hash * len) >> 32);
#ifdef __bpf__
	asm volatile("" : "+r"(i));
#endif
	return r->slots[i & (SL_RING_SLOTS - 1)];
}

#ifndef __bpf__
SL_INLINE __u32 sl_gcd(__u32 a, __u32 b)
{
	while (b) {
		__u32 t = a % b;
		a = b;
		b = t;
	}
	return a;
}

/* Scales weights so that their sum fits `cap` slots, keeping every non-zero
 * weight at least 1. Returns the new sum. */
SL_INLINE __u64 sl_wrr_fit(__u32 *w, __u32 n, __u32 cap)
{
	__u32 g = 0;
	__u64 total = 0;
	for (__u32 i = 0; i < n; i++)
		g = sl_gcd(g, w[i]);
	for (__u32 i = 0; i < n; i++) {
		w[i] = g ? w[i] / g : 0;
		total += w[i];
	}
	while (total > cap) {
		__u64 scaled = 0;
		for (__u32 i = 0; i < n; i++) {
			if (w[i] == 0)
				continue;
			__u64 v = (__u64)w[i] * cap / total;
			w[i] = v ? (__u32)v : 1;
			scaled += w[i];
		}
		if (scaled >= total)
			return 0; /* more non-zero weights than slots */
		total = scaled;
	}
	return total;
}

/* Fills slots[] with indices 0..n-1 in smooth-WRR order; returns the ring
 * length (the sum of the reduced weights), 0 when no weight is positive or
 * the weights cannot fit `cap` slots. Host only: O(length * n). */
SL_INLINE __u32 sl_wrr_build(const __u32 *weights, __u32 n, __u16 *slots, __u32 cap)
{
	static __thread __u32 w[SL_MAX_BACKENDS];
	static __thread __s64 cur[SL_MAX_BACKENDS];
	if (n == 0 || n > SL_MAX_BACKENDS || cap > SL_RING_SLOTS)
		return 0;
	sl_memcpy(w, weights, n * sizeof(*w));
	__u64 total = sl_wrr_fit(w, n, cap);
	if (total == 0)
		return 0;
	int equal = 1;
	for (__u32 i = 0; i < n; i++) {
		cur[i] = 0;
		if (w[i] != 0 && w[i] != 1)
			equal = 0;
	}
	__u32 len = 0;
	if (equal) { /* all 0/1 after reduction: plain round robin */
		for (__u32 i = 0; i < n; i++)
			if (w[i])
				slots[len++] = (__u16)i;
		return len;
	}
	for (; len < total; len++) {
		__u32 best = n;
		for (__u32 i = 0; i < n; i++) {
			if (w[i] == 0)
				continue;
			cur[i] += w[i];
			if (best == n || cur[i] > cur[best])
				best = i;
		}
		cur[best] -= (__s64)total;
		slots[len] = (__u16)best;
	}
	return len;
}
#endif

#endif
