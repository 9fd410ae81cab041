/* SPDX-License-Identifier: Apache-2.0 */
/* What happens to a packet (verdict) and why (reason). Reasons have stable
 * numbers: they index the per-CPU reason counters and name the metrics, so
 * append only, never renumber. */
#ifndef SLUICE_CORE_VERDICT_H
#define SLUICE_CORE_VERDICT_H

#include "types.h"

enum sl_verdict {
	SL_VERDICT_PASS = 0, /* to the kernel, untouched */
	SL_VERDICT_DROP = 1,
	SL_VERDICT_TX = 2,   /* out of the port it came in on */
	SL_VERDICT_REDIRECT = 3,
};

enum sl_reason {
	SL_R_NONE = 0,              /* internal: no decision yet */
	SL_R_PASS_NOT_IP = 1,       /* not IPv4/IPv6 (ARP, LLDP, ...) */
	SL_R_PASS_MALFORMED = 2,    /* truncated or inconsistent headers */
	SL_R_PASS_FRAGMENT = 3,     /* IPv4 fragment or IPv6 non-atomic fragment */
	SL_R_PASS_OTHER_PROTO = 4,  /* IP, but not TCP/UDP nor an ICMP error we steer */
	SL_R_PASS_NOT_VIP = 5,      /* no VIP at dst addr:port/proto */
	SL_R_PASS_PASSIVE = 6,      /* node is not the active balancer */
	SL_R_PASS_ICMP_NO_FLOW = 7, /* ICMP error about a flow we do not know */
	SL_R_TX_HIT = 8,            /* established flow, recorded backend */
	SL_R_TX_NEW = 9,            /* new flow (TCP SYN, first UDP datagram) */
	SL_R_TX_MIDFLOW = 10,       /* TCP non-SYN that missed the table: scheduled */
	SL_R_TX_RESCHEDULED = 11,   /* recorded backend is gone: scheduled again */
	SL_R_TX_ICMP = 12,          /* ICMP error sent to its flow's backend */
	SL_R_DROP_NO_BACKEND = 13,  /* VIP has no serving backend */
	SL_R_DROP_ENCAP = 14,       /* no headroom / too large to encapsulate */
	SL_R_DROP_ACL = 15,         /* reserved for the firewall */
	SL_R_DROP_BACKEND_DOWN = 16, /* flow of a failed backend, policy drop */
	SL_R_DROP_BAD_TCP_FLAGS = 17, /* SYN with FIN or RST: no client opens so */
	SL_R_DROP_BAD_SOURCE = 18,  /* from the VIP itself, a broadcast, multicast,
				     * unspecified or loopback address */
	SL_R_DROP_TOO_BIG = 19,     /* encapsulated, it would exceed the MTU (and no
				     * ICMP can say so: IPv4 without DF) */
	SL_R_TX_ICMP_TOO_BIG = 20,  /* ditto: frag-needed / packet-too-big sent back */
	SL_R_DROP_NEW_FLOW_LIMIT = 21, /* new flow over its source's new_flows_per_source */
	SL_R_MAX = 22,
};

/* Counter slots reserved for reasons: reasons added later must not change
 * the map's size, or a restarted controller could not adopt the pinned one. */
#define SL_REASON_SLOTS 64
SL_STATIC_ASSERT(SL_R_MAX <= SL_REASON_SLOTS, "reason counters have room");

SL_INLINE enum sl_verdict sl_reason_verdict(enum sl_reason r)
{
	if ((r >= SL_R_TX_HIT && r <= SL_R_TX_ICMP) || r == SL_R_TX_ICMP_TOO_BIG)
		return SL_VERDICT_TX;
	if (r >= SL_R_DROP_NO_BACKEND && r < SL_R_MAX)
		return SL_VERDICT_DROP;
	return SL_VERDICT_PASS;
}

#ifndef __bpf__
/* Metric and CLI labels; host only (BPF has no use for strings). */
static const char *const sl_reason_names[SL_R_MAX] = {
	"none",          "pass_not_ip",   "pass_malformed",   "pass_fragment",
	"pass_other_proto", "pass_not_vip", "pass_passive", "pass_icmp_no_flow",
	"tx_hit",        "tx_new",        "tx_midflow",       "tx_rescheduled",
	"tx_icmp",       "drop_no_backend", "drop_encap",     "drop_acl",
	"drop_backend_down", "drop_bad_tcp_flags", "drop_bad_source", "drop_too_big",
	"tx_icmp_too_big", "drop_new_flow_limit",
};
static const char *const sl_verdict_names[4] = {"pass", "drop", "tx", "redirect"};
#endif

#endif
