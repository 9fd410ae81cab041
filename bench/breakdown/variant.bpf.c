/* SPDX-License-Identifier: Apache-2.0 */
/* xdp/sluice.bpf.c with ONE step of the pipeline replaced by the cheapest
 * stand-in that keeps the packet's decision (bench only; never loaded on a
 * NIC). bench/breakdown/breakdown times each variant beside the unchanged
 * program: the difference is what that step costs.
 *
 * The program's source is included as it is, so a change to the hot path
 * shows up here without editing this file. The steps are reached from
 * outside through the helpers they call: bpf_map_lookup_elem and friends
 * become macros that, for the one map a variant replaces, return global
 * data (a one-entry cache filled by the first real lookup) and otherwise
 * call the real helper. Which map is asked for is a constant once the
 * hooks are inlined, so each branch folds away at compile time.
 *
 *   BD_NO_COUNTERS         the three per-CPU counter lookups (VIP, backend,
 *                          reason) find nothing: no counting at all
 *   BD_VIP_CACHED          VIP lookup: a key compare against one cached
 *                          entry; `global` and `control`: cached copies
 *   BD_CONN_CACHED         connection lookup: the first record it found,
 *                          for every key (hit cases only)
 *   BD_NO_CONN_INSERT      the insert is a no-op (lookup unchanged)
 *   BD_NO_CONN             no lookup (a miss) and no insert (new flows only)
 *   BD_BACKEND_CACHED      backend record: one cached entry; the schedule
 *                          cursor: a global
 *   BD_NO_FORWARD_HELPERS  bpf_check_mtu says "fits" and bpf_xdp_adjust_head
 *                          does nothing (the header writes stay)
 *   BD_NO_CLOCK            bpf_ktime_get_ns is 0 (a new record's stamp) */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#include "core/abi.h"
#include "xdp/sluice_maps.h"

#define BD_INLINE static __always_inline

#ifdef BD_VIP_CACHED
/* Compares n 32-bit words: the stand-in for a hash lookup's key check. */
BD_INLINE int bd_words_eq(const void *a, const void *b, int n)
{
	const __u32 *x = a, *y = b;
	int eq = 1;
	for (int i = 0; i < n; i++)
		eq &= x[i] == y[i];
	return eq;
}

/* Globals, not statics: clang shrinks a static flag that only ever holds
 * 0 or 1 to one byte, which BTF (an int) then misdescribes. */
struct sl_vip_key bd_vip_key;
struct sl_vip_meta bd_vip_meta;
struct sl_global bd_global;
struct sl_control bd_control;
int bd_vip_set, bd_global_set, bd_control_set;
_Static_assert(sizeof(struct sl_vip_key) % 4 == 0, "vip key: whole words");
#endif
#ifdef BD_CONN_CACHED
struct sl_conn bd_conn;
int bd_conn_set;
#endif
#ifdef BD_BACKEND_CACHED
struct sl_backend bd_backend;
__u32 bd_backend_slot = 0xffffffffu;
__u32 bd_cursor;
#endif

BD_INLINE void *bd_lookup(void *map, const void *key)
{
#ifdef BD_NO_COUNTERS
	if (map == (void *)&vip_stats || map == (void *)&backend_stats ||
	    map == (void *)&reason_stats)
		return NULL;
#endif
#ifdef BD_VIP_CACHED
	if (map == (void *)&vips) {
		if (bd_vip_set && bd_words_eq(key, &bd_vip_key, sizeof(bd_vip_key) / 4))
			return &bd_vip_meta;
		struct sl_vip_meta *m = (bpf_map_lookup_elem)(map, key);
		if (m) {
			__builtin_memcpy(&bd_vip_key, key, sizeof(bd_vip_key));
			bd_vip_meta = *m;
			bd_vip_set = 1;
		}
		return m;
	}
	if (map == (void *)&global) {
		if (bd_global_set)
			return &bd_global;
		struct sl_global *g = (bpf_map_lookup_elem)(map, key);
		if (g) {
			bd_global = *g;
			bd_global_set = 1;
		}
		return g;
	}
	if (map == (void *)&control) {
		if (bd_control_set)
			return &bd_control;
		struct sl_control *c = (bpf_map_lookup_elem)(map, key);
		if (c) {
			bd_control = *c;
			bd_control_set = 1;
		}
		return c;
	}
#endif
#ifdef BD_CONN_CACHED
	if (map == (void *)&conns) {
		if (bd_conn_set)
			return &bd_conn;
		struct sl_conn *c = (bpf_map_lookup_elem)(map, key);
		if (c) {
			bd_conn = *c;
			bd_conn_set = 1;
		}
		return c;
	}
#endif
#ifdef BD_NO_CONN
	if (map == (void *)&conns)
		return NULL;
#endif
#ifdef BD_BACKEND_CACHED
	if (map == (void *)&backends) {
		__u32 slot = *(const __u32 *)key;
		if (slot == bd_backend_slot)
			return &bd_backend;
		struct sl_backend *b = (bpf_map_lookup_elem)(map, key);
		if (b) {
			bd_backend = *b;
			bd_backend_slot = slot;
		}
		return b;
	}
	if (map == (void *)&cursors)
		return &bd_cursor;
#endif
	return (bpf_map_lookup_elem)(map, key);
}
#define bpf_map_lookup_elem(map, key) bd_lookup((void *)(map), (const void *)(key))

#if defined(BD_NO_CONN_INSERT) || defined(BD_NO_CONN)
BD_INLINE long bd_update(void *map, const void *key, const void *value, __u64 flags)
{
	if (map == (void *)&conns)
		return 0;
	return (bpf_map_update_elem)(map, key, value, flags);
}
#define bpf_map_update_elem(map, key, value, flags) \
	bd_update((void *)(map), (const void *)(key), (const void *)(value), (flags))
#endif

#ifdef BD_NO_FORWARD_HELPERS
#define bpf_check_mtu(ctx, ifindex, mtu_len, len_diff, flags) \
	((void)(ctx), (void)(mtu_len), (void)(len_diff), 0L)
#define bpf_xdp_adjust_head(ctx, delta) ((void)(ctx), (void)(delta), 0L)
#endif

#ifdef BD_NO_CLOCK
#define bpf_ktime_get_ns() 0ULL
#endif

#include "xdp/sluice.bpf.c"
