/* SPDX-License-Identifier: Apache-2.0 */
/* Flow key helpers and the flow hash (outer IPv6 flow label, DPDK
 * per-lcore tables). */
#ifndef SLUICE_CORE_FLOW_H
#define SLUICE_CORE_FLOW_H

#include "abi.h"

#define SL_FLOW_HASH_SEED 0x511ceu

/* The key's port, protocol and family are the flow's, laid out alike, so
 * they are copied as one word: a lookup that reads them as one word (a hash
 * over the key) then finds them in one store. Read back with a load wider
 * than the stores that wrote it while those are still in the store buffer,
 * the key waits for them to reach the cache (store forwarding fails): that
 * was ~5 ns per packet of the DPDK worker's VIP lookup. */
SL_INLINE void sl_vip_key_of_flow(const struct sl_flow_key *f, struct sl_vip_key *k)
{
	sl_memcpy(k->addr, f->dst, sizeof(k->addr));
	sl_memcpy(&k->port, &f->dport, 4);
}
SL_STATIC_ASSERT(__builtin_offsetof(struct sl_flow_key, proto) ==
			 __builtin_offsetof(struct sl_flow_key, dport) + 2 &&
		 __builtin_offsetof(struct sl_flow_key, family) ==
			 __builtin_offsetof(struct sl_flow_key, dport) + 3,
		 "dport, proto, family: one word");
SL_STATIC_ASSERT(__builtin_offsetof(struct sl_vip_key, proto) ==
			 __builtin_offsetof(struct sl_vip_key, port) + 2 &&
		 __builtin_offsetof(struct sl_vip_key, family) ==
			 __builtin_offsetof(struct sl_vip_key, port) + 3,
		 "port, proto, family: one word");

SL_INLINE __u32 sl_rotl32(__u32 x, int r)
{
	return (x << r) | (x >> (32 - r));
}

/* murmur3's 32-bit mixing over the ten words of the key: cheap, well spread,
 * and the same on every dataplane. */
SL_INLINE __u32 sl_flow_hash(const struct sl_flow_key *f, __u32 seed)
{
	__u32 w[10];
	sl_memcpy(w, f, sizeof(w));
	__u32 h = seed;
SL_UNROLL
	for (int i = 0; i < 10; i++) {
		__u32 k = w[i] * 0xcc9e2d51u;
		k = sl_rotl32(k, 15) * 0x1b873593u;
		h ^= k;
		h = sl_rotl32(h, 13) * 5 + 0xe6546b64u;
	}
	h ^= 40;
	h ^= h >> 16;
	h *= 0x85ebca6bu;
	h ^= h >> 13;
	h *= 0xc2b2ae35u;
	h ^= h >> 16;
	return h;
}

SL_STATIC_ASSERT(sizeof(struct sl_flow_key) == 40, "hash reads ten words");

#endif
