/* SPDX-License-Identifier: Apache-2.0 */
/* The records shared by the XDP program, the DPDK dataplane and the
 * controller. One definition, included everywhere, never copied: fixed-width
 * fields, explicit padding, sizes asserted. Addresses and ports are stored in
 * network byte order; IPv4 addresses live in addr[0] with addr[1..3] zero. */
#ifndef SLUICE_CORE_ABI_H
#define SLUICE_CORE_ABI_H

#include "types.h"

/* Table limits; the connection table size is chosen at load time. */
#define SL_MAX_VIPS 256
#define SL_MAX_BACKENDS 16384        /* (VIP, backend) pairs, all VIPs together */
#define SL_RING_SLOTS 16384          /* power of two: indices are masked */
#define SL_RINGS (SL_MAX_VIPS * 2)   /* each VIP owns two: live and being built */
#define SL_CONN_TABLE_DEFAULT 1048576
/* Unconfirmed (SYN-created) records: the BPF object's compiled size only;
 * sluiced sizes the table as conn_table_size unless syn_table_size says. */
#define SL_SYN_TABLE_DEFAULT 65536
#define SL_NO_BACKEND 0xffffu

SL_STATIC_ASSERT((SL_RING_SLOTS & (SL_RING_SLOTS - 1)) == 0, "ring slots: power of two");
SL_STATIC_ASSERT(SL_MAX_BACKENDS <= SL_NO_BACKEND, "backend index fits a ring slot");

enum sl_family {
	SL_AF_INET = 4,
	SL_AF_INET6 = 6,
};

enum sl_mode {
	SL_MODE_DSR = 0,  /* rewrite MACs, backend holds the VIP on lo */
	SL_MODE_IPIP = 1, /* IPIP / IP6IP6 / 4in6 to the backend */
};

enum sl_role {
	SL_ROLE_PASSIVE = 0, /* default: a fresh program steers nothing */
	SL_ROLE_ACTIVE = 1,
};

/* Key of the VIP table: address, port and protocol as the client sends them. */
struct sl_vip_key {
	__u32 addr[4];
	__u16 port;   /* network order */
	__u8 proto;   /* IPPROTO_TCP / IPPROTO_UDP */
	__u8 family;  /* enum sl_family */
};
SL_STATIC_ASSERT(sizeof(struct sl_vip_key) == 20, "sl_vip_key size");

struct sl_vip_meta {
	__u32 vip_id;  /* index into per-VIP counters and cursors, < SL_MAX_VIPS */
	__u32 ring_id; /* live schedule ring, < SL_RINGS; switched as one word */
	__u8 mode;     /* enum sl_mode */
	__u8 flags;    /* SL_VIP_F_* */
	__u16 limit_burst;       /* new flows per source: bucket depth */
	__u32 limit_interval_ns; /* ... one token per interval; 0: the global limit */
};
SL_STATIC_ASSERT(sizeof(struct sl_vip_meta) == 16, "sl_vip_meta size");

/* sl_vip_meta.flags. The ACL bits say where to look a source up, so a VIP
 * without rules (and a node without any) pays one flag test. */
#define SL_VIP_F_ACL 0x1u        /* the VIP's own ACL scope has rules */
#define SL_VIP_F_ACL_GLOBAL 0x2u /* the global scope has rules */

/* Firewall: the rule list, in tries keyed by (scope, source prefix), one
 * per family (xdp/sluice_maps.h acl_v4, acl_v6; the controller's, for
 * listing and restarts), and the trie the fast path walks (sl_acl_node,
 * below). The scope takes all 32 of its bits in every key, so a key
 * matches only within its scope. */
#define SL_ACL_MAX_RULES 131072  /* rule ids, both families and all scopes */
#define SL_ACL_SCOPE_GLOBAL 0u   /* a VIP's scope is its vip_id + 1 */

enum sl_acl_action {
	SL_ACL_ALLOW = 1,
	SL_ACL_DENY = 2,
};

struct sl_acl_key4 {
	__u32 prefixlen; /* 32 (scope) + the source prefix length */
	__u32 scope;     /* host order: a local key, never on the wire */
	__u32 addr;      /* network order */
};
SL_STATIC_ASSERT(sizeof(struct sl_acl_key4) == 12, "sl_acl_key4 size");

struct sl_acl_key6 {
	__u32 prefixlen;
	__u32 scope;
	__u32 addr[4];
};
SL_STATIC_ASSERT(sizeof(struct sl_acl_key6) == 24, "sl_acl_key6 size");

struct sl_acl_rule {
	__u32 rule_id; /* index of its per-CPU hit counter, < SL_ACL_MAX_RULES */
	__u8 action;   /* enum sl_acl_action */
	__u8 pad[3];
};
SL_STATIC_ASSERT(sizeof(struct sl_acl_rule) == 8, "sl_acl_rule size");

/* The firewall's lookup structure in XDP (core/acl_trie.h): a multibit
 * trie of 4-bit strides in one array of nodes, which the controller writes
 * through a shared mapping. Node 0 is null (a child link of 0: none); node
 * sl_acl_root() is the fixed root of a (scope, family), so a root never has
 * to be published; the rest is allocated as rules need it. A prefix fills
 * the slots of its level it covers (controlled prefix expansion) unless a
 * longer prefix of that level holds them; a lookup keeps the last verdict
 * it meets on the way down, the most specific. The node count is set at
 * load (XdpOptions::acl_trie_nodes; SL_ACL_DEFAULT_NODES, 4 MiB): 100,000
 * random IPv4 prefixes take ~216,000 nodes (27 MiB); real lists are
 * denser. The program walks it only for IPv4 and only while the
 * controller says it holds every IPv4 rule and they are enough to make it
 * pay (SL_CTL_F_ACL_TRIE); otherwise, and for IPv6 always, it looks the
 * source up in the LPM tries, which hold every rule at all times.
 *
 * The first SL_ACL_FAST_SCOPES scopes (the global one and VIP ids 0..6)
 * also have a direct table of their IPv4 /16s (sl_acl_fast_index): each
 * entry is what the walk's first four levels would end with, the verdict
 * so far and the node for bits 16..19, so an IPv4 source costs one entry
 * and at most 4 nodes there, not 8. An entry is one 64-bit word, stored
 * and loaded whole. 8 x 65,536 entries: 4 MiB. */
#define SL_ACL_STRIDE 4
#define SL_ACL_FAN (1u << SL_ACL_STRIDE)
#define SL_ACL_SCOPES (SL_MAX_VIPS + 1)
#define SL_ACL_FIRST_FREE_NODE (1u + 2u * SL_ACL_SCOPES)
#define SL_ACL_MAX_NODES 262144u
#define SL_ACL_DEFAULT_NODES 32768u
#define SL_ACL_FAST_SCOPES 8u
#define SL_ACL_FAST_BITS 16u
#define SL_ACL_FAST_ENTRIES (SL_ACL_FAST_SCOPES << SL_ACL_FAST_BITS)

/* sl_acl_slot.verdict: 0 (no rule), else the rule's id and action. */
#define SL_ACL_V_RULE 0x1u /* a rule holds this slot */
#define SL_ACL_V_DENY 0x2u
#define SL_ACL_V_ID_SHIFT 2

/* Two independent 32-bit words: the writer stores each with one aligned
 * store, so a reader sees each old or new, never torn. */
struct sl_acl_slot {
	__u32 child;   /* node index of the next 4 bits; 0: none */
	__u32 verdict; /* SL_ACL_V_*: the longest prefix of this level covering it */
};
SL_STATIC_ASSERT(sizeof(struct sl_acl_slot) == 8, "sl_acl_slot size");

struct sl_acl_node {
	struct sl_acl_slot slot[SL_ACL_FAN];
};
SL_STATIC_ASSERT(sizeof(struct sl_acl_node) == 128, "sl_acl_node size");

/* What the dataplane does with a backend's flows. Only the ring decides
 * who gets new flows; these flags decide about established ones:
 *   LIVE          its recorded flows stay on it (serving, drained, or down
 *                 with on_backend_down: keep)
 *   (none)        its recorded flows are scheduled again (removed, or down
 *                 with on_backend_down: reschedule)
 *   DROP_FLOWS    its recorded flows are dropped (down with
 *                 on_backend_down: drop)
 *   DOWN          with LIVE: its health check fails (on_backend_down: keep);
 *                 its flows stay, but a SYN that finds its record (a client
 *                 reusing a port) is a new connection and is scheduled
 *                 afresh, as it would never be answered there */
#define SL_BE_F_LIVE 0x1u
#define SL_BE_F_DROP_FLOWS 0x2u
#define SL_BE_F_DOWN 0x4u

struct sl_backend {
	__u32 addr[4];  /* the backend (dsr: for bookkeeping; ipip: outer dst) */
	__u8 mac[6];    /* dsr: the backend; ipip: the next hop toward it */
	__u8 family;    /* enum sl_family */
	__u8 flags;     /* SL_BE_F_* */
	__u32 gen;      /* bumped when the slot is reused: stale conns miss */
	__u32 vip_id;
};
SL_STATIC_ASSERT(sizeof(struct sl_backend) == 32, "sl_backend size");

/* Schedule ring: the smooth weighted round-robin order of a VIP's serving
 * backends, built by the controller, read with a per-CPU cursor. */
struct sl_ring {
	__u32 len;  /* slots in use; 0: no serving backend */
	__u32 pad;
	__u16 slots[SL_RING_SLOTS];
};
SL_STATIC_ASSERT(sizeof(struct sl_ring) == 8 + 2 * SL_RING_SLOTS, "sl_ring size");

/* Connection-table key: the 5-tuple as the client sent it. */
struct sl_flow_key {
	__u32 src[4];
	__u32 dst[4];
	__u16 sport;  /* network order */
	__u16 dport;  /* network order */
	__u8 proto;
	__u8 family;
	__u16 pad;
};
SL_STATIC_ASSERT(sizeof(struct sl_flow_key) == 40, "sl_flow_key size");

struct sl_conn {
	__u32 backend; /* index into the backend table */
	__u32 gen;     /* the backend's gen when the flow was recorded */
	__u32 vip_id;
	__u32 synced_s;   /* 0: recorded here by the fast path; imported by sync:
			   * CLOCK_MONOTONIC seconds + 1 of the import, so the
			   * BACKUP can forget what the MASTER no longer holds
			   * (control/sync/sync_engine.h) */
	__u64 created_ns; /* monotonic clock of the node that recorded it */
	__u32 acl_gen;    /* sl_control.acl_gen when the firewall last admitted
			   * the flow: the rules are judged again only when it
			   * differs (core/pipeline.h, sl_pl_acl_due); 0: never */
	__u32 flags;      /* SL_CONN_F_* */
};
/* sl_conn.flags: recorded from a packet that was not a SYN and found no
 * record (a flow first seen mid-way: its record was lost, or a spoofed
 * ACK). Its backend was picked by the flow's hash on the ring, and it is
 * never confirmed: it stays with the unconfirmed records (sl_pl_split). */
#define SL_CONN_F_MIDFLOW 0x1u
SL_STATIC_ASSERT(sizeof(struct sl_conn) == 32, "sl_conn size");

/* Per-CPU counters; the controller sums the CPUs. */
struct sl_counters {
	__u64 packets;
	__u64 bytes;
	__u64 new_conns;
	__u64 pad;
};
SL_STATIC_ASSERT(sizeof(struct sl_counters) == 32, "sl_counters size");

/* Node-wide settings, one entry. */
struct sl_global {
	__u32 role;       /* enum sl_role */
	__u32 src_v4;     /* outer source of IPIP */
	__u32 src_v6[4];  /* outer source of IP6IP6 / 4in6 */
	__u8 lb_mac[6];   /* source MAC of everything we transmit */
	__u16 limit_burst;       /* new flows per source, for VIPs without their */
	__u32 limit_interval_ns; /* own (core/limit.h); 0: no limit */
};
SL_STATIC_ASSERT(sizeof(struct sl_global) == 36, "sl_global size");

/* Connection-state sync (MASTER -> BACKUP): one connection in terms both
 * nodes share — the client's 5-tuple, the VIP, the backend's address and
 * the connection's age — never a node-local slot, generation or clock.
 * This is also the record's wire layout: every multi-byte field in network
 * order, padding zero. */
#define SL_SYNC_OP_NEW 1    /* the connection exists (new, or a resync entry) */
#define SL_SYNC_OP_CLOSED 2 /* the connection ended: forget it */

struct sl_sync_record {
	struct sl_flow_key flow;
	struct sl_vip_key vip;
	__u32 backend[4];     /* the backend's address */
	__u8 backend_family;  /* enum sl_family */
	__u8 op;              /* SL_SYNC_OP_* */
	__u16 pad;
	__u32 age_ms;         /* network order; time since the flow was recorded */
};
SL_STATIC_ASSERT(sizeof(struct sl_sync_record) == 84, "sl_sync_record size");
SL_STATIC_ASSERT(__builtin_offsetof(struct sl_sync_record, vip) == 40, "sl_sync_record vip");
SL_STATIC_ASSERT(__builtin_offsetof(struct sl_sync_record, backend) == 60,
		 "sl_sync_record backend");
SL_STATIC_ASSERT(__builtin_offsetof(struct sl_sync_record, backend_family) == 76,
		 "sl_sync_record backend_family");
SL_STATIC_ASSERT(__builtin_offsetof(struct sl_sync_record, age_ms) == 80,
		 "sl_sync_record age_ms");

/* A flow the fast path recorded, queued for the controller's sync sender
 * (the flow_events ring buffer). Node-local terms: the controller turns the
 * slot into the backend's address and vip_id into the VIP key. */
struct sl_flow_event {
	struct sl_flow_key flow;
	__u32 vip_id;
	__u32 backend;     /* slot in the backend table */
	__u32 gen;         /* that slot's generation when recorded */
	__u32 pad;
	__u64 created_ns;  /* sl_conn.created_ns */
};
SL_STATIC_ASSERT(sizeof(struct sl_flow_event) == 64, "sl_flow_event size");

/* The controller's switches for the fast path, one entry of the `control`
 * map. The controller writes each field through a shared mapping (the
 * heartbeat from the VRRP thread, the flags from the sync thread), so no
 * writer overwrites another's field; the fast path reads it only for VIP
 * traffic. All zero (a fresh map): no heartbeat check, no events. */
#define SL_CTL_F_FLOW_EVENTS 0x1u /* queue an sl_flow_event per recorded flow */
#define SL_CTL_F_ACL_TRIE 0x4u    /* judge IPv4 sources by the trie, not acl_v4 (core/acl_trie.h) */

struct sl_control {
	__u64 heartbeat_ns;          /* CLOCK_MONOTONIC of the controller's last stamp */
	__u64 heartbeat_timeout_ns;  /* 0: not checked; else steer only while fresh */
	__u32 flags;                 /* SL_CTL_F_* */
	__u32 acl_gen;               /* bumped by the dataplane after every firewall
				      * rule change (never 0 once a rule exists) */
	__u64 events_lost;           /* ring full: events dropped (atomic add, rare) */
};
SL_STATIC_ASSERT(sizeof(struct sl_control) == 32, "sl_control size");

/* SYN-flood resilience (core/pipeline.h): a record a SYN creates waits in
 * a small table of its own, unconfirmed, until the client's first packet
 * that is not a SYN moves it to the connection table; a flood of SYNs
 * churns only that small table. This flag on a VIP turns it off: SYNs are
 * recorded in the connection table straight away (the single-table
 * behaviour, kept to measure what the split prevents). */
#define SL_VIP_F_ONE_TABLE 0x80u

/* Per-source new-flow limits (core/limit.h): the key of a token bucket,
 * a source address (an IPv6 one cut to its /64) within a scope, the VIP's
 * id or SL_LIMIT_SCOPE_GLOBAL. The value: a __u64, the bucket's
 * theoretical arrival time (GCRA). */
#define SL_LIMIT_SCOPE_GLOBAL 0xffffffffu
#define SL_LIMIT_TABLE_DEFAULT 65536

struct sl_limit_key {
	__u32 addr[4];
	__u32 scope;
	__u8 family;
	__u8 pad[3];
};
SL_STATIC_ASSERT(sizeof(struct sl_limit_key) == 24, "sl_limit_key size");

#endif
