/* SPDX-License-Identifier: Apache-2.0 */
/* Wire headers, defined here rather than taken from <linux/ip.h> and
 * friends: those clash with glibc's <netinet/in.h> in host C++ code, and
 * their bitfields are endian-dependent. Multi-byte fields are network order. */
#ifndef SLUICE_CORE_WIRE_H
#define SLUICE_CORE_WIRE_H

#include "types.h"

/* On the host a header may sit at any address inside a buffer; BPF loads
 * stay word-sized (unaligned packet access is fine on the JITs we run). */
#ifdef __bpf__
#define SL_WIRE
#else
#define SL_WIRE __attribute__((packed))
#endif

#define SL_ETH_P_IP 0x0800
#define SL_ETH_P_IPV6 0x86DD
#define SL_ETH_P_8021Q 0x8100
#define SL_ETH_P_8021AD 0x88A8

#define SL_IPPROTO_HOPOPTS 0
#define SL_IPPROTO_ICMP 1
#define SL_IPPROTO_IPIP 4
#define SL_IPPROTO_TCP 6
#define SL_IPPROTO_UDP 17
#define SL_IPPROTO_IPV6 41
#define SL_IPPROTO_ROUTING 43
#define SL_IPPROTO_FRAGMENT 44
#define SL_IPPROTO_ICMPV6 58
#define SL_IPPROTO_DSTOPTS 60

#define SL_ICMP_DEST_UNREACH 3
#define SL_ICMP_FRAG_NEEDED 4
#define SL_ICMPV6_PKT_TOOBIG 2

#define SL_TCP_FIN 0x01
#define SL_TCP_SYN 0x02
#define SL_TCP_RST 0x04
#define SL_TCP_ACK 0x10

#define SL_IP_DF 0x4000
#define SL_IP_MF 0x2000
#define SL_IP_OFFMASK 0x1fff

struct SL_WIRE sl_ethhdr {
	__u8 dst[6];
	__u8 src[6];
	__u16 proto;
};

struct SL_WIRE sl_vlanhdr {
	__u16 tci;
	__u16 proto;
};

struct SL_WIRE sl_iphdr {
	__u8 ver_ihl;
	__u8 tos;
	__u16 tot_len;
	__u16 id;
	__u16 frag_off;
	__u8 ttl;
	__u8 proto;
	__u16 check;
	__u32 saddr;
	__u32 daddr;
};

struct SL_WIRE sl_ip6hdr {
	__u32 ver_tc_flow;
	__u16 payload_len;
	__u8 nexthdr;
	__u8 hop_limit;
	__u32 saddr[4];
	__u32 daddr[4];
};

/* Hop-by-hop, routing, destination options; length in 8-byte units past the first 8. */
struct SL_WIRE sl_ip6_ext {
	__u8 nexthdr;
	__u8 hdrlen;
	__u16 data0;
	__u32 data1;
};

struct SL_WIRE sl_ip6_frag {
	__u8 nexthdr;
	__u8 reserved;
	__u16 frag_off; /* offset << 3 | M */
	__u32 id;
};

struct SL_WIRE sl_tcphdr {
	__u16 sport;
	__u16 dport;
	__u32 seq;
	__u32 ack;
	__u8 doff_res; /* data offset in the high nibble */
	__u8 flags;
	__u16 window;
	__u16 check;
	__u16 urg;
};

struct SL_WIRE sl_udphdr {
	__u16 sport;
	__u16 dport;
	__u16 len;
	__u16 check;
};

/* ICMP and ICMPv6 share the first 8 bytes' shape. */
struct SL_WIRE sl_icmphdr {
	__u8 type;
	__u8 code;
	__u16 check;
	__u32 rest; /* frag-needed: next-hop MTU; packet-too-big: MTU */
};

SL_STATIC_ASSERT(sizeof(struct sl_ethhdr) == 14, "eth");
SL_STATIC_ASSERT(sizeof(struct sl_vlanhdr) == 4, "vlan");
SL_STATIC_ASSERT(sizeof(struct sl_iphdr) == 20, "ipv4");
SL_STATIC_ASSERT(sizeof(struct sl_ip6hdr) == 40, "ipv6");
SL_STATIC_ASSERT(sizeof(struct sl_ip6_ext) == 8, "ipv6 ext");
SL_STATIC_ASSERT(sizeof(struct sl_ip6_frag) == 8, "ipv6 frag");
SL_STATIC_ASSERT(sizeof(struct sl_tcphdr) == 20, "tcp");
SL_STATIC_ASSERT(sizeof(struct sl_udphdr) == 8, "udp");
SL_STATIC_ASSERT(sizeof(struct sl_icmphdr) == 8, "icmp");

#endif
