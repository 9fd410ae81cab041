/* SPDX-License-Identifier: Apache-2.0 */
/* The XDP program's maps, BTF style, in one place. Names are part of the
 * loader's contract (xdp/xdp_dataplane.cc finds them by name). */
#ifndef SLUICE_XDP_MAPS_H
#define SLUICE_XDP_MAPS_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#include "core/abi.h"
#include "core/verdict.h"

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, SL_MAX_VIPS);
	__type(key, struct sl_vip_key);
	__type(value, struct sl_vip_meta);
} vips SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, SL_MAX_BACKENDS);
	__type(key, __u32);
	__type(value, struct sl_backend);
} backends SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, SL_RINGS);
	__type(key, __u32);
	__type(value, struct sl_ring);
} rings SEC(".maps");

/* Sized at load time (conn_table_size); LRU: no expiry pass is needed. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, SL_CONN_TABLE_DEFAULT);
	__type(key, struct sl_flow_key);
	__type(value, struct sl_conn);
} conns SEC(".maps");

/* Records SYNs created, until the client's ACK confirms them into `conns`
 * (core/pipeline.h, sl_pl_split): a SYN flood churns this table only.
 * Sized at load time (syn_table_size). */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, SL_SYN_TABLE_DEFAULT);
	__type(key, struct sl_flow_key);
	__type(value, struct sl_conn);
} conns_syn SEC(".maps");

/* Per-source new-flow token buckets (core/limit.h): shared by the CPUs,
 * taken with a compare-and-swap. LRU: a source that stops sending ages
 * out; an evicted bucket comes back full. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, SL_LIMIT_TABLE_DEFAULT);
	__type(key, struct sl_limit_key);
	__type(value, __u64);
} src_limits SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, SL_MAX_VIPS);
	__type(key, __u32);
	__type(value, __u32);
} cursors SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, SL_MAX_VIPS);
	__type(key, __u32);
	__type(value, struct sl_counters);
} vip_stats SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, SL_MAX_BACKENDS);
	__type(key, __u32);
	__type(value, struct sl_counters);
} backend_stats SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, SL_REASON_SLOTS);
	__type(key, __u32);
	__type(value, struct sl_counters);
} reason_stats SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct sl_global);
} global SEC(".maps");

/* The controller's heartbeat and switches (struct sl_control, core/abi.h).
 * Mmapable: the controller stores each field through a shared mapping, so
 * the VRRP and sync threads never overwrite each other's fields and the
 * fast path's events_lost count. Pinned: a restarted controller keeps the
 * heartbeat its predecessor left (a dead one's stays stale). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__uint(map_flags, BPF_F_MMAPABLE);
	__type(key, __u32);
	__type(value, struct sl_control);
} control SEC(".maps");

/* Firewall rules (core/acl.h). The program walks acl_fast and acl_nodes:
 * the multibit trie of every scope and family (core/acl_trie.h), which the
 * controller writes through shared mappings (xdp/xdp_acl_trie.h). acl_v4
 * and acl_v6 hold every rule, always: the controller's list (for listing,
 * and for rebuilding the trie after a restart, also one that adopts the
 * program's maps by id, which finds them because the program refers to
 * them), and what the program judges IPv6 sources by, and IPv4 ones
 * while the trie is not in use (SL_CTL_F_ACL_TRIE: core/abi.h). The LPM
 * tries allocate as rules come (they must not preallocate). acl_nodes is
 * sized at load (acl_trie_nodes). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, SL_ACL_DEFAULT_NODES);
	__uint(map_flags, BPF_F_MMAPABLE);
	__type(key, __u32);
	__type(value, struct sl_acl_node);
} acl_nodes SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, SL_ACL_FAST_ENTRIES);
	__uint(map_flags, BPF_F_MMAPABLE);
	__type(key, __u32);
	__type(value, __u64);
} acl_fast SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, SL_ACL_MAX_RULES);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct sl_acl_key4);
	__type(value, struct sl_acl_rule);
} acl_v4 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, SL_ACL_MAX_RULES);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct sl_acl_key6);
	__type(value, struct sl_acl_rule);
} acl_v6 SEC(".maps");

/* 8 bytes per rule per CPU: 1 MiB per CPU for the whole id space. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, SL_ACL_MAX_RULES);
	__type(key, __u32);
	__type(value, __u64);
} acl_hits SEC(".maps");

/* New flows for connection-state sync (struct sl_flow_event), read by the
 * controller. 4 MiB: about 58,000 events, over half a second of 100,000
 * new flows/s. Pinned and adopted like the state maps: a restarted
 * controller keeps the attached program (same tag, same maps) and must
 * read the ring that program writes. */
#ifndef SL_FLOW_EVENTS_BYTES
#define SL_FLOW_EVENTS_BYTES (4u << 20)
#endif
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, SL_FLOW_EVENTS_BYTES);
} flow_events SEC(".maps");

#endif
