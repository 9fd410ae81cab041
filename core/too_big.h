/* SPDX-License-Identifier: Apache-2.0 */
/* The answer to a packet that would not fit once encapsulated: ICMP
 * frag-needed (RFC 792, RFC 1191) or ICMPv6 packet-too-big (RFC 4443),
 * from the VIP back to the client, quoting the start of its packet, so the
 * client's path-MTU discovery sees the tunnel. The dataplane grows the
 * frame in front by sl_too_big_grow() and trims it to
 * l2 + sl_too_big_grow() + sl_too_big_quote(), then hands it here. */
#ifndef SLUICE_CORE_TOO_BIG_H
#define SLUICE_CORE_TOO_BIG_H

#include "encap.h"
#include "parse.h"
#include "wire.h"

/* Bytes of the client's IP packet quoted: IPv4 the largest header (60) and
 * the 8 bytes RFC 792 asks for; IPv6 more than the 48 a TCP/UDP flow needs,
 * far from the 1280 RFC 4443 allows. */
#define SL_TOO_BIG_QUOTE4 68
#define SL_TOO_BIG_QUOTE6 128
#define SL_TOO_BIG_HOPS 64

SL_INLINE __u32 sl_too_big_grow(const struct sl_pkt *p)
{
	return p->flow.family == SL_AF_INET6
		       ? sizeof(struct sl_ip6hdr) + sizeof(struct sl_icmphdr)
		       : sizeof(struct sl_iphdr) + sizeof(struct sl_icmphdr);
}

SL_INLINE __u32 sl_too_big_quote(const struct sl_pkt *p)
{
	return p->flow.family == SL_AF_INET6 ? SL_TOO_BIG_QUOTE6 : SL_TOO_BIG_QUOTE4;
}

/* Whether the client can be told: not about an ICMP error (RFC 1122
 * 3.2.2), not for IPv4 without DF (the sender asked to be fragmented,
 * which XDP cannot do: the packet is dropped and counted instead). */
SL_INLINE int sl_too_big_answerable(const struct sl_pkt *p)
{
	if (p->flags & SL_PKT_F_ICMP_ERR)
		return 0;
	if (p->flow.family == SL_AF_INET && !(p->flags & SL_PKT_F_DF))
		return 0;
	return p->l3_len >= sl_too_big_quote(p);
}

/* RFC 1071 sum of `len` bytes (even, a constant in BPF) read bytewise. */
SL_INLINE __u32 sl_csum_bytes(__u32 sum, const __u8 *b, const __u32 len)
{
SL_UNROLL
	for (__u32 i = 0; i < len; i += 2)
		sum += ((__u32)b[i] << 8) | b[i + 1];
	return sum;
}

SL_INLINE __u16 sl_csum_finish(__u32 sum)
{
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	return sl_htons((__u16)~sum);
}

/* `l2` and `v6` must be compile-time constants in BPF (see
 * sl_too_big_write): every access is then a constant offset from `f`,
 * checked once. Returns 0, or -1 when the frame is not the size asked. */
SL_INLINE int sl_too_big_write_at(__u8 *f, const void *end, __u32 mtu, const __u32 l2,
				  const int v6)
{
	const __u32 ip_len = v6 ? sizeof(struct sl_ip6hdr) : sizeof(struct sl_iphdr);
	const __u32 grow = ip_len + sizeof(struct sl_icmphdr);
	const __u32 quote = v6 ? SL_TOO_BIG_QUOTE6 : SL_TOO_BIG_QUOTE4;
	if (!SL_FITS(f, end, l2 + grow + quote))
		return -1;
	/* Back the way it came: the MACs swapped, any VLAN tag and the
	 * ethertype kept. The old link header lies past the new one. */
	const __u8 *old_l2 = f + grow;
	sl_memcpy(f, old_l2 + 6, 6);
	sl_memcpy(f + 6, old_l2, 6);
	sl_memcpy(f + 12, old_l2 + 12, l2 - 12);

	const __u8 *orig = f + l2 + grow; /* the client's IP packet: the quote */
	struct sl_icmphdr *icmp = (struct sl_icmphdr *)(f + l2 + ip_len);
	icmp->check = 0;
	if (v6) {
		struct sl_ip6hdr *ip6 = (struct sl_ip6hdr *)(f + l2);
		ip6->ver_tc_flow = sl_htonl(6u << 28);
		ip6->payload_len = sl_htons(sizeof(struct sl_icmphdr) + SL_TOO_BIG_QUOTE6);
		ip6->nexthdr = SL_IPPROTO_ICMPV6;
		ip6->hop_limit = SL_TOO_BIG_HOPS;
		sl_memcpy(ip6->saddr, orig + 24, 16); /* from the VIP */
		sl_memcpy(ip6->daddr, orig + 8, 16);  /* to the client */
		icmp->type = SL_ICMPV6_PKT_TOOBIG;
		icmp->code = 0;
		icmp->rest = sl_htonl(mtu);
		/* Pseudo header (RFC 8200 8.1): addresses, length, next header. */
		__u32 sum = sl_csum_bytes(0, (const __u8 *)ip6->saddr, 32);
		sum += sizeof(struct sl_icmphdr) + SL_TOO_BIG_QUOTE6 + SL_IPPROTO_ICMPV6;
		icmp->check = sl_csum_finish(
			sl_csum_bytes(sum, (const __u8 *)icmp, sizeof(*icmp) + SL_TOO_BIG_QUOTE6));
		return 0;
	}
	struct sl_iphdr *ip = (struct sl_iphdr *)(f + l2);
	ip->ver_ihl = 0x45;
	ip->tos = 0;
	ip->tot_len =
		sl_htons(sizeof(struct sl_iphdr) + sizeof(struct sl_icmphdr) + SL_TOO_BIG_QUOTE4);
	ip->id = 0;
	ip->frag_off = 0;
	ip->ttl = SL_TOO_BIG_HOPS;
	ip->proto = SL_IPPROTO_ICMP;
	ip->check = 0;
	sl_memcpy(&ip->saddr, orig + 16, 4); /* from the VIP */
	sl_memcpy(&ip->daddr, orig + 12, 4); /* to the client */
	ip->check = sl_ipv4_csum(ip);
	icmp->type = SL_ICMP_DEST_UNREACH;
	icmp->code = SL_ICMP_FRAG_NEEDED;
	icmp->rest = sl_htonl(mtu & 0xffff); /* unused 16 bits, next-hop MTU */
	icmp->check = sl_csum_finish(
		sl_csum_bytes(0, (const __u8 *)icmp, sizeof(*icmp) + SL_TOO_BIG_QUOTE4));
	return 0;
}

/* Writes the answer into `data` (prepared as above); `mtu` is the largest
 * packet the client may send (the device MTU less the tunnel header). */
SL_INLINE int sl_too_big_write(void *data, const void *end, const struct sl_pkt *p, __u32 mtu)
{
	__u8 *f = (__u8 *)data;
	int vlan = p->flags & SL_PKT_F_VLAN;
	if (p->flow.family == SL_AF_INET6)
		return vlan ? sl_too_big_write_at(f, end, mtu, 18, 1)
			    : sl_too_big_write_at(f, end, mtu, 14, 1);
	return vlan ? sl_too_big_write_at(f, end, mtu, 18, 0)
		    : sl_too_big_write_at(f, end, mtu, 14, 0);
}

#endif
