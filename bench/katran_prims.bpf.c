/* SPDX-License-Identifier: Apache-2.0 */
/* The lower bound of each bench/compare-katran case: only the map
 * operations a balancer that keeps per-flow state cannot avoid, on maps
 * shaped as sluice's (xdp/sluice_maps.h: a hash of 20-byte VIP keys, an LRU
 * hash of 40-byte flow keys, 1,048,576 entries), and nothing else: no
 * parse beyond the fixed offsets of bench/bench_frame.h's 64-byte
 * IPv4/TCP frame, no counters, no backend, no rewrite. The harness sets
 * BPF_F_NO_COMMON_LRU on prim_conns for its second copy (per-CPU LRU lists).
 *
 * Each program's action says its map operations did what the case needs
 * (anything else: XDP_DROP or XDP_ABORTED), and the harness checks it. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#include "core/abi.h"

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, SL_MAX_VIPS);
	__type(key, struct sl_vip_key);
	__type(value, struct sl_vip_meta);
} prim_vips SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, SL_CONN_TABLE_DEFAULT);
	__type(key, struct sl_flow_key);
	__type(value, struct sl_conn);
} prim_conns SEC(".maps");

/* Eth 14 + IPv4 20 (no options): proto at 23, addresses at 26 and 30,
 * ports at 34 and 36. */
#define PRIM_NEED 38

static __always_inline void prim_vip_key(const __u8 *d, struct sl_vip_key *k)
{
	__builtin_memset(k, 0, sizeof(*k));
	k->addr[0] = *(const __u32 *)(d + 30);
	k->port = *(const __u16 *)(d + 36);
	k->proto = d[23];
	k->family = SL_AF_INET;
}

static __always_inline void prim_flow_key(const __u8 *d, struct sl_flow_key *k)
{
	__builtin_memset(k, 0, sizeof(*k));
	k->src[0] = *(const __u32 *)(d + 26);
	k->dst[0] = *(const __u32 *)(d + 30);
	k->sport = *(const __u16 *)(d + 34);
	k->dport = *(const __u16 *)(d + 36);
	k->proto = d[23];
	k->family = SL_AF_INET;
}

/* pass: one VIP lookup that misses. */
SEC("xdp")
int prim_pass(struct xdp_md *ctx)
{
	const __u8 *d = (const __u8 *)(long)ctx->data;
	struct sl_vip_key vk;

	if (d + PRIM_NEED > (const __u8 *)(long)ctx->data_end)
		return XDP_ABORTED;
	prim_vip_key(d, &vk);
	return bpf_map_lookup_elem(&prim_vips, &vk) ? XDP_DROP : XDP_PASS;
}

/* hit: the VIP lookup (hit), then the flow's lookup (hit). */
SEC("xdp")
int prim_hit(struct xdp_md *ctx)
{
	const __u8 *d = (const __u8 *)(long)ctx->data;
	struct sl_vip_key vk;
	struct sl_flow_key fk;

	if (d + PRIM_NEED > (const __u8 *)(long)ctx->data_end)
		return XDP_ABORTED;
	prim_vip_key(d, &vk);
	if (!bpf_map_lookup_elem(&prim_vips, &vk))
		return XDP_DROP;
	prim_flow_key(d, &fk);
	return bpf_map_lookup_elem(&prim_conns, &fk) ? XDP_TX : XDP_DROP;
}

/* new flow: the VIP lookup (hit), the flow's lookup (miss), its insert. */
SEC("xdp")
int prim_new(struct xdp_md *ctx)
{
	const __u8 *d = (const __u8 *)(long)ctx->data;
	struct sl_vip_key vk;
	struct sl_flow_key fk;
	struct sl_vip_meta *vip;
	struct sl_conn c;

	if (d + PRIM_NEED > (const __u8 *)(long)ctx->data_end)
		return XDP_ABORTED;
	prim_vip_key(d, &vk);
	vip = bpf_map_lookup_elem(&prim_vips, &vk);
	if (!vip)
		return XDP_DROP;
	prim_flow_key(d, &fk);
	if (bpf_map_lookup_elem(&prim_conns, &fk))
		return XDP_DROP;
	__builtin_memset(&c, 0, sizeof(c));
	c.vip_id = vip->vip_id;
	if (bpf_map_update_elem(&prim_conns, &fk, &c, BPF_NOEXIST) != 0)
		return XDP_ABORTED;
	return XDP_TX;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
