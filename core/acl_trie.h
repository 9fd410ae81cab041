/* SPDX-License-Identifier: Apache-2.0 */
/* The walk of the firewall's multibit trie (core/abi.h, struct sl_acl_node),
 * shared by the XDP program and the host code that writes and tests it.
 * The including file defines, before it includes this header,
 *
 *   const struct sl_acl_node *sl_acl_node_at(const void *nodes, __u32 idx)
 *
 * the node `idx` of the array `nodes` (NULL past its end): in XDP an
 * inlined array-map lookup, on the host a bounds-checked index. */
#ifndef SLUICE_CORE_ACL_TRIE_H
#define SLUICE_CORE_ACL_TRIE_H

#include "acl.h"

/* One level: the slot of `nib` in node `*idx`; its verdict, if any, is
 * the best so far, and *idx becomes its child (0: the walk ends). */
SL_INLINE void sl_acl_trie_step(const void *nodes, __u32 *idx, __u32 nib, __u32 *best)
{
	const struct sl_acl_node *n = sl_acl_node_at(nodes, *idx);
	if (!n) {
		*idx = 0;
		return;
	}
	const struct sl_acl_slot *sl = &n->slot[nib];
	__u32 v = *(volatile const __u32 *)&sl->verdict;
	if (v)
		*best = v;
	*idx = *(volatile const __u32 *)&sl->child;
}

/* IPv4: 8 levels, unrolled (a loop costs a counter and spills per level,
 * a third of the walk). */
SL_INLINE __u32 sl_acl_trie_lookup4(const void *nodes, __u32 root, __u32 src)
{
	__u32 idx = root, best = 0;
#pragma unroll
	for (__u32 d = 0; d < 32; d += SL_ACL_STRIDE) {
		sl_acl_trie_step(nodes, &idx, (src << d) >> (32 - SL_ACL_STRIDE), &best);
		if (!idx)
			break;
	}
	return best;
}

/* IPv4 from a /16 table's entry (core/abi.h, sl_acl_fast_index): its
 * verdict so far, then at most the 4 levels below bit 16. */
SL_INLINE __u32 sl_acl_trie_lookup4_below16(const void *nodes, __u64 entry, __u32 src)
{
	__u32 idx = sl_acl_fast_child(entry), best = sl_acl_fast_verdict(entry);
	if (!idx)
		return best;
#pragma unroll
	for (__u32 d = SL_ACL_FAST_BITS; d < 32; d += SL_ACL_STRIDE) {
		sl_acl_trie_step(nodes, &idx, (src << d) >> (32 - SL_ACL_STRIDE), &best);
		if (!idx)
			break;
	}
	return best;
}

/* The verdict (SL_ACL_V_*) of the most specific rule of `scope` holding
 * `src` (network order, 1 word for IPv4, 4 for IPv6); 0: no rule.
 *
 * One slot per 4 bits, at most 8 (IPv4) or 32 (IPv6), each two 32-bit
 * loads in one cache line; the verdict met deepest wins. The writer
 * changes a live trie under the walk: each word is loaded once (volatile),
 * so a walk sees every slot whole, old or new, and follows a child only
 * once it is written (the writer links a node after filling it). The
 * source's words go through registers (w0..w3) rather than an index
 * into `src`: the verifier then sees no variable stack offset. */
SL_INLINE __u32 sl_acl_trie_lookup(const void *nodes, __u32 scope, __u8 family, const __u32 *src)
{
	if (scope >= SL_ACL_SCOPES)
		return 0;
	if (family != SL_AF_INET6)
		return sl_acl_trie_lookup4(nodes, sl_acl_root(scope, family), sl_ntohl(src[0]));
	__u32 levels = 128 / SL_ACL_STRIDE;
	__u32 w0 = sl_ntohl(src[0]), w1 = 0, w2 = 0, w3 = 0;
	if (family == SL_AF_INET6) {
		w1 = sl_ntohl(src[1]);
		w2 = sl_ntohl(src[2]);
		w3 = sl_ntohl(src[3]);
	}
	__u32 idx = sl_acl_root(scope, family), best = 0;
	for (__u32 i = 0; i < 128 / SL_ACL_STRIDE; i++) {
		const struct sl_acl_node *n = sl_acl_node_at(nodes, idx);
		if (!n)
			break;
		const struct sl_acl_slot *sl = &n->slot[w0 >> (32 - SL_ACL_STRIDE)];
		__u32 v = *(volatile const __u32 *)&sl->verdict;
		if (v)
			best = v;
		idx = *(volatile const __u32 *)&sl->child;
		if (!idx || i + 1 >= levels)
			break;
		if ((i + 1) % (32 / SL_ACL_STRIDE) == 0) {
			w0 = w1;
			w1 = w2;
			w2 = w3;
		} else {
			w0 <<= SL_ACL_STRIDE;
		}
	}
	return best;
}

#endif
