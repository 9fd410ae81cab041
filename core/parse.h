/* SPDX-License-Identifier: Apache-2.0 */
/* Packet parsing shared by every dataplane. Each step checks its bounds
 * against data_end before it reads and says why it gave up (a pass reason),
 * so a truncated or inconsistent packet never reaches the steering logic.
 *
 * Two bounds, both checked: the frame (memory safety: every read is inside
 * it) and the IP length (meaning: bytes past tot_len / payload_len are link
 * padding, not transport header). L4 headers and their length fields must
 * fit the IP length, so a TCP header hidden in the padding is malformed.
 *
 * Verifier note: a pointer moved by a variable amount (IHL, extension header
 * length) loses its checked range, so every such pointer is bounds-checked
 * itself and then read only at constant offsets from it. Offsets from the
 * frame start, and the IP length left for L4, are carried as plain scalars. */
#ifndef SLUICE_CORE_PARSE_H
#define SLUICE_CORE_PARSE_H

#include "abi.h"
#include "verdict.h"
#include "wire.h"

/* IPv6 extension headers walked before giving up (verifier: unrolled). */
#ifndef SL_IPV6_MAX_EXT
#define SL_IPV6_MAX_EXT 4
#endif

#define SL_PKT_F_VLAN 0x01     /* one 802.1Q / 802.1ad tag */
#define SL_PKT_F_ICMP_ERR 0x02 /* flow taken from the quoted (inner) header */
#define SL_PKT_F_SYN 0x04      /* TCP SYN without ACK: a connection attempt */
#define SL_PKT_F_DF 0x08       /* IPv4 don't-fragment: the sender does path-MTU discovery */

struct sl_pkt {
	/* Client -> VIP, as the client sent it. For an ICMP error this is the
	 * quoted packet reversed: the error is about a reply sent from the VIP. */
	struct sl_flow_key flow;
	__u16 l3_off;  /* = length of the L2 header (14 or 18) */
	__u16 l4_off;  /* first byte after the IP header chain */
	__u16 l3_len;  /* IP packet length according to its header */
	__u8 flags;    /* SL_PKT_F_* */
	__u8 tcp_flags;
};

typedef const __u8 *sl_cursor;

/* The `len` bytes at `pos` are inside the frame. */
#define SL_FITS(pos, end, len) ((sl_cursor)(pos) + (len) <= (sl_cursor)(end))

/* The quoted packet of an ICMP error: IP header + first 8 bytes of L4 (RFC 792,
 * RFC 4443). Ports are swapped into client -> VIP order. `left`: bytes of the
 * ICMP message from `q` on. */
SL_INLINE enum sl_reason sl_parse_quoted_ports(sl_cursor q, const void *end, __u32 left, __u8 proto,
					       struct sl_pkt *p)
{
	if (proto != SL_IPPROTO_TCP && proto != SL_IPPROTO_UDP)
		return SL_R_PASS_OTHER_PROTO;
	if (left < 4 || !SL_FITS(q, end, 4))
		return SL_R_PASS_MALFORMED;
	__u16 ports[2];
	sl_memcpy(ports, q, sizeof(ports));
	p->flow.sport = ports[1];
	p->flow.dport = ports[0];
	p->flow.proto = proto;
	p->flags |= SL_PKT_F_ICMP_ERR;
	return SL_R_NONE;
}

SL_INLINE enum sl_reason sl_parse_icmp4_err(sl_cursor pos, const void *end, __u32 l4_len,
					    struct sl_pkt *p)
{
	if (l4_len < sizeof(struct sl_icmphdr) || !SL_FITS(pos, end, sizeof(struct sl_icmphdr)))
		return SL_R_PASS_MALFORMED;
	const struct sl_icmphdr *icmp = (const struct sl_icmphdr *)pos;
	if (icmp->type != SL_ICMP_DEST_UNREACH || icmp->code != SL_ICMP_FRAG_NEEDED)
		return SL_R_PASS_OTHER_PROTO;
	if (l4_len < sizeof(struct sl_icmphdr) + sizeof(struct sl_iphdr) ||
	    !SL_FITS(pos, end, sizeof(struct sl_icmphdr) + sizeof(struct sl_iphdr)))
		return SL_R_PASS_MALFORMED;
	const struct sl_iphdr *in = (const struct sl_iphdr *)(pos + sizeof(struct sl_icmphdr));
	__u32 ihl = in->ver_ihl & 0x0f;
	if ((in->ver_ihl >> 4) != 4 || ihl < 5 || sizeof(struct sl_icmphdr) + ihl * 4 > l4_len)
		return SL_R_PASS_MALFORMED;
	p->flow.src[0] = in->daddr;
	p->flow.dst[0] = in->saddr;
	return sl_parse_quoted_ports((sl_cursor)in + ihl * 4, end,
				     l4_len - sizeof(struct sl_icmphdr) - ihl * 4, in->proto, p);
}

SL_INLINE enum sl_reason sl_parse_icmp6_err(sl_cursor pos, const void *end, __u32 l4_len,
					    struct sl_pkt *p)
{
	if (l4_len < sizeof(struct sl_icmphdr) || !SL_FITS(pos, end, sizeof(struct sl_icmphdr)))
		return SL_R_PASS_MALFORMED;
	const struct sl_icmphdr *icmp = (const struct sl_icmphdr *)pos;
	if (icmp->type != SL_ICMPV6_PKT_TOOBIG || icmp->code != 0)
		return SL_R_PASS_OTHER_PROTO;
	if (l4_len < sizeof(struct sl_icmphdr) + sizeof(struct sl_ip6hdr) ||
	    !SL_FITS(pos, end, sizeof(struct sl_icmphdr) + sizeof(struct sl_ip6hdr) + 4))
		return SL_R_PASS_MALFORMED;
	const struct sl_ip6hdr *in = (const struct sl_ip6hdr *)(pos + sizeof(struct sl_icmphdr));
	if ((((sl_cursor)in)[0] >> 4) != 6)
		return SL_R_PASS_MALFORMED;
	sl_memcpy(p->flow.src, in->daddr, 16);
	sl_memcpy(p->flow.dst, in->saddr, 16);
	/* Quoted extension headers are not walked: a VIP's reply carries none. */
	return sl_parse_quoted_ports((sl_cursor)(in + 1), end,
				     l4_len - sizeof(struct sl_icmphdr) - sizeof(struct sl_ip6hdr),
				     in->nexthdr, p);
}

/* `l4_len`: bytes from `pos` to the end of the IP packet (its length field,
 * not the frame). */
SL_INLINE enum sl_reason sl_parse_l4(sl_cursor pos, const void *end, __u32 l4_len, __u8 proto,
				     struct sl_pkt *p)
{
	if (proto == SL_IPPROTO_TCP) {
		if (l4_len < sizeof(struct sl_tcphdr) ||
		    !SL_FITS(pos, end, sizeof(struct sl_tcphdr)))
			return SL_R_PASS_MALFORMED;
		const struct sl_tcphdr *tcp = (const struct sl_tcphdr *)pos;
		__u32 doff = tcp->doff_res >> 4;
		if (doff < 5 || doff * 4 > l4_len)
			return SL_R_PASS_MALFORMED;
		p->flow.sport = tcp->sport;
		p->flow.dport = tcp->dport;
		p->flow.proto = SL_IPPROTO_TCP;
		p->tcp_flags = tcp->flags;
		if ((tcp->flags & (SL_TCP_SYN | SL_TCP_ACK)) == SL_TCP_SYN)
			p->flags |= SL_PKT_F_SYN;
		return SL_R_NONE;
	}
	if (proto == SL_IPPROTO_UDP) {
		if (l4_len < sizeof(struct sl_udphdr) ||
		    !SL_FITS(pos, end, sizeof(struct sl_udphdr)))
			return SL_R_PASS_MALFORMED;
		const struct sl_udphdr *udp = (const struct sl_udphdr *)pos;
		/* RFC 768: the length covers header and data. Shorter than the IP
		 * payload is allowed (the kernel trims), longer is not. */
		__u32 ulen = sl_ntohs(udp->len);
		if (ulen < sizeof(struct sl_udphdr) || ulen > l4_len)
			return SL_R_PASS_MALFORMED;
		p->flow.sport = udp->sport;
		p->flow.dport = udp->dport;
		p->flow.proto = SL_IPPROTO_UDP;
		return SL_R_NONE;
	}
	if (proto == SL_IPPROTO_ICMP && p->flow.family == SL_AF_INET)
		return sl_parse_icmp4_err(pos, end, l4_len, p);
	if (proto == SL_IPPROTO_ICMPV6 && p->flow.family == SL_AF_INET6)
		return sl_parse_icmp6_err(pos, end, l4_len, p);
	return SL_R_PASS_OTHER_PROTO;
}

SL_INLINE enum sl_reason sl_parse_ipv4(sl_cursor pos, const void *end, struct sl_pkt *p)
{
	if (!SL_FITS(pos, end, sizeof(struct sl_iphdr)))
		return SL_R_PASS_MALFORMED;
	const struct sl_iphdr *ip = (const struct sl_iphdr *)pos;
	__u32 ihl = ip->ver_ihl & 0x0f;
	__u32 tot = sl_ntohs(ip->tot_len);
	if ((ip->ver_ihl >> 4) != 4 || ihl < 5 || tot < ihl * 4)
		return SL_R_PASS_MALFORMED;
	if (!SL_FITS(pos, end, tot))
		return SL_R_PASS_MALFORMED; /* truncated */
	p->l3_len = tot;
	p->flow.family = SL_AF_INET;
	p->flow.src[0] = ip->saddr;
	p->flow.dst[0] = ip->daddr;
	if (ip->frag_off & sl_htons(SL_IP_MF | SL_IP_OFFMASK))
		return SL_R_PASS_FRAGMENT;
	if (ip->frag_off & sl_htons(SL_IP_DF))
		p->flags |= SL_PKT_F_DF;
	p->l4_off = p->l3_off + ihl * 4;
	return sl_parse_l4(pos + ihl * 4, end, tot - ihl * 4, ip->proto, p);
}

SL_INLINE int sl_ipv6_is_ext(__u8 nh)
{
	return nh == SL_IPPROTO_HOPOPTS || nh == SL_IPPROTO_ROUTING || nh == SL_IPPROTO_DSTOPTS ||
	       nh == SL_IPPROTO_FRAGMENT;
}

SL_INLINE enum sl_reason sl_parse_ipv6(sl_cursor pos, const void *end, struct sl_pkt *p)
{
	if (!SL_FITS(pos, end, sizeof(struct sl_ip6hdr)))
		return SL_R_PASS_MALFORMED;
	const struct sl_ip6hdr *ip6 = (const struct sl_ip6hdr *)pos;
	__u32 tot = sizeof(*ip6) + sl_ntohs(ip6->payload_len);
	if ((pos[0] >> 4) != 6)
		return SL_R_PASS_MALFORMED;
	if (!SL_FITS(pos, end, tot))
		return SL_R_PASS_MALFORMED; /* truncated (or a jumbogram) */
	p->l3_len = tot;
	p->flow.family = SL_AF_INET6;
	sl_memcpy(p->flow.src, ip6->saddr, 16);
	sl_memcpy(p->flow.dst, ip6->daddr, 16);

	__u8 nh = ip6->nexthdr;
	sl_cursor cur = pos + sizeof(*ip6);
	__u32 off = p->l3_off + sizeof(*ip6);
SL_UNROLL
	for (int i = 0; i < SL_IPV6_MAX_EXT; i++) {
		if (!sl_ipv6_is_ext(nh))
			break;
		if (!SL_FITS(cur, end, 8))
			return SL_R_PASS_MALFORMED;
		const struct sl_ip6_ext *ext = (const struct sl_ip6_ext *)cur;
		__u32 len = ((__u32)ext->hdrlen + 1) * 8;
		if (nh == SL_IPPROTO_FRAGMENT) {
			/* Offset or more-fragments set: not an atomic fragment. */
			if (((const struct sl_ip6_frag *)cur)->frag_off & sl_htons(0xfff9))
				return SL_R_PASS_FRAGMENT;
			len = 8;
		}
		nh = ext->nexthdr;
		cur += len;
		off += len;
	}
	if (sl_ipv6_is_ext(nh))
		return SL_R_PASS_MALFORMED; /* a longer chain than we walk */
	__u32 chain = off - p->l3_off; /* fixed header + extension headers */
	if (chain > tot)
		return SL_R_PASS_MALFORMED; /* extension headers beyond payload_len */
	p->l4_off = off;
	return sl_parse_l4(cur, end, tot - chain, nh, p);
}

/* Parses one frame. SL_R_NONE: a TCP/UDP packet, or an ICMP error quoting
 * one, whose flow is in p->flow; anything else is a pass reason. */
SL_INLINE enum sl_reason sl_parse(const void *data, const void *end, struct sl_pkt *p)
{
	sl_memset(p, 0, sizeof(*p));
	sl_cursor pos = (sl_cursor)data;
	if (!SL_FITS(pos, end, sizeof(struct sl_ethhdr)))
		return SL_R_PASS_MALFORMED;
	const struct sl_ethhdr *eth = (const struct sl_ethhdr *)pos;
	__u16 proto = eth->proto;
	__u32 l2 = sizeof(*eth);
	if (proto == sl_htons(SL_ETH_P_8021Q) || proto == sl_htons(SL_ETH_P_8021AD)) {
		if (!SL_FITS(pos, end, sizeof(struct sl_ethhdr) + sizeof(struct sl_vlanhdr)))
			return SL_R_PASS_MALFORMED;
		proto = ((const struct sl_vlanhdr *)(pos + sizeof(*eth)))->proto;
		l2 += sizeof(struct sl_vlanhdr);
		p->flags |= SL_PKT_F_VLAN;
	}
	p->l3_off = l2;
	if (proto == sl_htons(SL_ETH_P_IP))
		return sl_parse_ipv4(pos + l2, end, p);
	if (proto == sl_htons(SL_ETH_P_IPV6))
		return sl_parse_ipv6(pos + l2, end, p);
	return SL_R_PASS_NOT_IP;
}

#endif
