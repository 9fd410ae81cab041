/* SPDX-License-Identifier: Apache-2.0 */
/* Backend-side decapsulator. The kernels sluice targets have no ipip/ip6tnl
 * devices, so a backend strips the balancer's IPIP / IP6IP6 / 4in6 outer
 * header here and hands the inner packet to its stack. Only tunnels addressed
 * to one of this host's addresses (decap_addrs, filled by the loader) are
 * touched; everything else passes unchanged. */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <bpf/bpf_helpers.h>

#include "core/types.h"
#include "xdp/decap.h"

#define ETH_P_8021Q_ 0x8100
#define ETH_P_8021AD_ 0x88A8
#define VLAN_HLEN_ 4

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, SL_DECAP_MAX_ADDRS);
	__type(key, struct sl_decap_addr);
	__type(value, __u8);
} decap_addrs SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct sl_decap_counters);
} decap_stats SEC(".maps");

/* What the outer header is: its length and the inner ethertype. */
struct tunnel {
	__u32 outer_len;
	__u16 inner_proto; /* network order */
};

SL_INLINE int addr_is_local(const __u32 *a, int v6)
{
	struct sl_decap_addr key = {};

	key.addr[0] = a[0];
	if (v6) {
		key.addr[1] = a[1];
		key.addr[2] = a[2];
		key.addr[3] = a[3];
	}
	return bpf_map_lookup_elem(&decap_addrs, &key) != 0;
}

SL_INLINE int tunnel_parse_v4(void *l3, void *data_end, struct tunnel *t)
{
	struct iphdr *ip = l3;

	if ((void *)(ip + 1) > data_end || ip->ihl < 5)
		return 0;
	if (ip->protocol != IPPROTO_IPIP)
		return 0;
	/* A fragmented tunnel packet cannot be stripped piecewise: the
	 * kernel gets it as it is. */
	if (ip->frag_off & sl_htons(0x3fff))
		return 0;
	if (!addr_is_local(&ip->daddr, 0))
		return 0;
	t->outer_len = ip->ihl * 4;
	t->inner_proto = sl_htons(ETH_P_IP);
	return 1;
}

SL_INLINE int tunnel_parse_v6(void *l3, void *data_end, struct tunnel *t)
{
	struct ipv6hdr *ip6 = l3;

	if ((void *)(ip6 + 1) > data_end)
		return 0;
	if (ip6->nexthdr == IPPROTO_IPV6)
		t->inner_proto = sl_htons(ETH_P_IPV6);
	else if (ip6->nexthdr == IPPROTO_IPIP)
		t->inner_proto = sl_htons(ETH_P_IP);
	else
		return 0;
	if (!addr_is_local(ip6->daddr.in6_u.u6_addr32, 1))
		return 0;
	t->outer_len = sizeof(*ip6);
	return 1;
}

/* Strips the outer header: the link header is saved, the packet start moved
 * past the outer IP header, and the link header written back in front of
 * the inner one with the inner ethertype. */
SL_INLINE int tunnel_strip(struct xdp_md *ctx, __u32 l2_len, const struct tunnel *t)
{
	__u8 l2[ETH_HLEN + VLAN_HLEN_];
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;

	/* The inner header must be there (20 bytes: the smaller of IPv4 and
	 * IPv6 minimum) so the packet left behind is never a bare link header. */
	if (data + l2_len + t->outer_len + sizeof(struct iphdr) > data_end)
		return -1;
	/* Implied by the check above, but the verifier learns no constant
	 * range from a variable offset. */
	if (data + sizeof(l2) > data_end)
		return -1;
	if (l2_len == ETH_HLEN)
		sl_memcpy(l2, data, ETH_HLEN);
	else
		sl_memcpy(l2, data, ETH_HLEN + VLAN_HLEN_);
	if (bpf_xdp_adjust_head(ctx, (int)t->outer_len))
		return -1;
	data = (void *)(long)ctx->data;
	data_end = (void *)(long)ctx->data_end;
	if (l2_len == ETH_HLEN) {
		if (data + ETH_HLEN > data_end)
			return -1;
		sl_memcpy(data, l2, ETH_HLEN - 2);
		*(__u16 *)(data + ETH_HLEN - 2) = t->inner_proto;
	} else {
		if (data + ETH_HLEN + VLAN_HLEN_ > data_end)
			return -1;
		sl_memcpy(data, l2, ETH_HLEN + VLAN_HLEN_ - 2);
		*(__u16 *)(data + ETH_HLEN + VLAN_HLEN_ - 2) = t->inner_proto;
	}
	return 0;
}

SL_INLINE int decap_packet(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	struct tunnel t = {};
	__u32 l2_len = ETH_HLEN;
	__u16 proto;

	if ((void *)(eth + 1) > data_end)
		return 0;
	proto = eth->h_proto;
	if (proto == sl_htons(ETH_P_8021Q_) || proto == sl_htons(ETH_P_8021AD_)) {
		if (data + ETH_HLEN + VLAN_HLEN_ > data_end)
			return 0;
		proto = *(__u16 *)(data + ETH_HLEN + 2);
		l2_len += VLAN_HLEN_;
	}
	if (proto == sl_htons(ETH_P_IP)) {
		if (!tunnel_parse_v4(data + l2_len, data_end, &t))
			return 0;
	} else if (proto == sl_htons(ETH_P_IPV6)) {
		if (!tunnel_parse_v6(data + l2_len, data_end, &t))
			return 0;
	} else {
		return 0;
	}
	return tunnel_strip(ctx, l2_len, &t) == 0;
}

SEC("xdp")
int sluice_decap(struct xdp_md *ctx)
{
	__u32 zero = 0;
	struct sl_decap_counters *c = bpf_map_lookup_elem(&decap_stats, &zero);
	int stripped = decap_packet(ctx);

	if (c) {
		if (stripped)
			c->decapsulated++;
		else
			c->passed++;
	}
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
