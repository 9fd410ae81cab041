/* SPDX-License-Identifier: Apache-2.0 */
/* The firewall's rules, as the fast path reads them.
 *
 * Each scope (global, or one VIP) holds allow and deny prefixes of source
 * addresses. A packet to a VIP is looked up in the VIP's scope first, then
 * (no rule of the VIP matched) in the global scope; within a scope the
 * most specific prefix decides. A scope with an allow list admits only
 * those sources: the controller gives it a default deny, the /0 of each
 * family it covers, which any more specific rule beats. A source no rule
 * matches is admitted. */
#ifndef SLUICE_CORE_ACL_H
#define SLUICE_CORE_ACL_H

#include "abi.h"

SL_INLINE __u32 sl_acl_scope_of_vip(__u32 vip_id)
{
	return vip_id + 1;
}

/* The LPM tries' lookup keys of a source address: full length, so the
 * trie returns the longest prefix that holds it. */
SL_INLINE void sl_acl_key4_of(struct sl_acl_key4 *k, __u32 scope, const __u32 *src)
{
	k->prefixlen = 32 + 32;
	k->scope = scope;
	k->addr = src[0];
}

SL_INLINE void sl_acl_key6_of(struct sl_acl_key6 *k, __u32 scope, const __u32 *src)
{
	k->prefixlen = 32 + 128;
	k->scope = scope;
	k->addr[0] = src[0];
	k->addr[1] = src[1];
	k->addr[2] = src[2];
	k->addr[3] = src[3];
}

/* A rule as the fast path's lookups return it: one word (SL_ACL_V_*),
 * 0 for no rule, so the trie slots hold the verdict itself. */
SL_INLINE __u32 sl_acl_verdict_of(const struct sl_acl_rule *r)
{
	if (!r)
		return 0;
	return (r->rule_id << SL_ACL_V_ID_SHIFT) | SL_ACL_V_RULE |
	       (r->action == SL_ACL_DENY ? SL_ACL_V_DENY : 0);
}

SL_INLINE __u32 sl_acl_verdict_rule_id(__u32 v)
{
	return v >> SL_ACL_V_ID_SHIFT;
}

SL_INLINE int sl_acl_verdict_denies(__u32 v)
{
	return (v & SL_ACL_V_DENY) != 0;
}

/* The entry of an IPv4 source (host order) in the /16 tables of the
 * first SL_ACL_FAST_SCOPES scopes (core/abi.h). */
SL_INLINE __u32 sl_acl_fast_index(__u32 scope, __u32 src)
{
	return (scope << SL_ACL_FAST_BITS) | (src >> (32 - SL_ACL_FAST_BITS));
}

/* A /16 table's entry: the verdict in the high word, the node in the low. */
SL_INLINE __u64 sl_acl_fast_entry(__u32 child, __u32 verdict)
{
	return ((__u64)verdict << 32) | child;
}

SL_INLINE __u32 sl_acl_fast_child(__u64 e)
{
	return (__u32)e;
}

SL_INLINE __u32 sl_acl_fast_verdict(__u64 e)
{
	return (__u32)(e >> 32);
}

/* The fixed root node of a scope's trie for one family (core/abi.h). */
SL_INLINE __u32 sl_acl_root(__u32 scope, __u8 family)
{
	return 1u + 2u * scope + (family == SL_AF_INET6);
}

#endif
