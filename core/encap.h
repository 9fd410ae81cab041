/* SPDX-License-Identifier: Apache-2.0 */
/* Forwarding writers: DSR (MAC rewrite) and the tunnel encapsulations
 * (IPIP, IP6IP6, 4in6). The dataplane makes room first (bpf_xdp_adjust_head,
 * rte_pktmbuf_prepend) and then hands the new frame start here. */
#ifndef SLUICE_CORE_ENCAP_H
#define SLUICE_CORE_ENCAP_H

#include "abi.h"
#include "parse.h"
#include "wire.h"

#define SL_TTL_OUTER 64

/* Outer header bytes an encapsulation to `be` adds. */
SL_INLINE __u32 sl_encap_len(const struct sl_backend *be)
{
	return be->family == SL_AF_INET6 ? sizeof(struct sl_ip6hdr) : sizeof(struct sl_iphdr);
}

SL_INLINE void sl_dsr_rewrite(struct sl_ethhdr *eth, const struct sl_backend *be,
			      const struct sl_global *g)
{
	sl_memcpy(eth->dst, be->mac, 6);
	sl_memcpy(eth->src, g->lb_mac, 6);
}

/* RFC 1071 checksum of an IPv4 header without options, read bytewise so
 * that the header may sit at any address. */
SL_INLINE __u16 sl_ipv4_csum(const struct sl_iphdr *ip)
{
	const __u8 *b = (const __u8 *)ip;
	__u32 sum = 0;
SL_UNROLL
	for (int i = 0; i < 20; i += 2)
		sum += ((__u32)b[i] << 8) | b[i + 1];
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	return sl_htons((__u16)~sum);
}

SL_INLINE void sl_write_outer_ipv4(struct sl_iphdr *o, const struct sl_pkt *p,
				   const struct sl_backend *be, const struct sl_global *g,
				   __u8 inner_tos, __u16 inner_frag)
{
	o->ver_ihl = 0x45;
	o->tos = inner_tos;
	o->tot_len = sl_htons((__u16)(p->l3_len + sizeof(*o)));
	o->id = 0;
	/* Keep DF from the inner packet: PMTU discovery must see the tunnel. */
	o->frag_off = inner_frag & sl_htons(SL_IP_DF);
	o->ttl = SL_TTL_OUTER;
	o->proto = SL_IPPROTO_IPIP;
	o->check = 0;
	o->saddr = g->src_v4;
	o->daddr = be->addr[0];
	o->check = sl_ipv4_csum(o);
}

SL_INLINE void sl_write_outer_ipv6(struct sl_ip6hdr *o, const struct sl_pkt *p,
				   const struct sl_backend *be, const struct sl_global *g,
				   __u8 inner_tc, __u32 flow_hash)
{
	o->ver_tc_flow = sl_htonl((6u << 28) | ((__u32)inner_tc << 20) | (flow_hash & 0xfffff));
	o->payload_len = sl_htons(p->l3_len);
	o->nexthdr = p->flow.family == SL_AF_INET6 ? SL_IPPROTO_IPV6 : SL_IPPROTO_IPIP;
	o->hop_limit = SL_TTL_OUTER;
	sl_memcpy(o->saddr, g->src_v6, 16);
	sl_memcpy(o->daddr, be->addr, 16);
}

/* Writes L2 + outer IP in front of the original frame. `data` is the new
 * frame start, `olen` bytes before the original one; `l2` is the length of
 * the original L2 header. Both must be compile-time constants in BPF (see
 * sl_encap_write): then every access is a constant offset from one checked
 * pointer. Returns 0, or -1 when the frame is too short. */
SL_INLINE int sl_encap_write_at(__u8 *f, const void *end, const struct sl_pkt *p,
				const struct sl_backend *be, const struct sl_global *g,
				__u32 flow_hash, const __u32 olen, const __u32 l2)
{
	/* Room for: new L2 + outer + the inner header bytes read below. */
	if (!SL_FITS(f, end, olen + l2 + sizeof(struct sl_iphdr)))
		return -1;
	/* The old L2 header moves to the front; it is shorter than the gap. */
	sl_memcpy(f, f + olen, l2);
	sl_dsr_rewrite((struct sl_ethhdr *)f, be, g);
	__u16 etype = sl_htons(olen == sizeof(struct sl_ip6hdr) ? SL_ETH_P_IPV6 : SL_ETH_P_IP);
	sl_memcpy(f + l2 - 2, &etype, 2);

	const __u8 *inner = f + olen + l2;
	if (olen == sizeof(struct sl_ip6hdr)) {
		__u8 tc = p->flow.family == SL_AF_INET
				  ? inner[1]
				  : (__u8)(((inner[0] & 0x0f) << 4) | (inner[1] >> 4));
		sl_write_outer_ipv6((struct sl_ip6hdr *)(f + l2), p, be, g, tc, flow_hash);
	} else {
		__u16 frag;
		sl_memcpy(&frag, inner + 6, 2);
		sl_write_outer_ipv4((struct sl_iphdr *)(f + l2), p, be, g, inner[1], frag);
	}
	return 0;
}

/* Dispatches to a constant-size writer per (outer family, VLAN). */
SL_INLINE int sl_encap_write(void *data, const void *end, const struct sl_pkt *p,
			     const struct sl_backend *be, const struct sl_global *g,
			     __u32 flow_hash)
{
	__u8 *f = (__u8 *)data;
	int vlan = p->flags & SL_PKT_F_VLAN;
	if (be->family == SL_AF_INET6)
		return vlan ? sl_encap_write_at(f, end, p, be, g, flow_hash, 40, 18)
			    : sl_encap_write_at(f, end, p, be, g, flow_hash, 40, 14);
	if (p->flow.family != SL_AF_INET)
		return -1; /* IPv6 in IPv4 is not offered */
	return vlan ? sl_encap_write_at(f, end, p, be, g, flow_hash, 20, 18)
		    : sl_encap_write_at(f, end, p, be, g, flow_hash, 20, 14);
}

#endif
