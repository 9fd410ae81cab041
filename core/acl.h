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

/* The lookup keys of a source address: full length, so the trie returns
 * the longest prefix that holds it. */
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

#endif
