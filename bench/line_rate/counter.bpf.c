/* SPDX-License-Identifier: Apache-2.0 */
/* What reaches the backends in bench/linerate: attached to the veth the
 * balancer transmits into, it counts every frame by what it is (IPIP to a
 * backend, a DSR frame to a backend's MAC, anything else) and drops it. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

enum { LR_IPIP = 0, LR_DSR = 1, LR_OTHER = 2, LR_CLASSES = 3 };

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, LR_CLASSES);
	__type(key, __u32);
	__type(value, __u64);
} lr_counts SEC(".maps");

SEC("xdp")
int lr_count(struct xdp_md *ctx)
{
	__u8 *d = (void *)(long)ctx->data;
	__u8 *end = (void *)(long)ctx->data_end;
	__u32 k = LR_OTHER;
	/* IPv4 without a VLAN tag: protocol 4 is IPIP, 6 a DSR'd TCP frame
	 * whose destination MAC is a backend's (02:00:00:00:00:1x). */
	if (d + 34 <= end && d[12] == 0x08 && d[13] == 0x00) {
		if (d[23] == 4)
			k = LR_IPIP;
		else if (d[23] == 6 && (d[5] & 0xf0) == 0x10)
			k = LR_DSR;
	}
	__u64 *c = bpf_map_lookup_elem(&lr_counts, &k);
	if (c)
		(*c)++;
	return XDP_DROP;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
