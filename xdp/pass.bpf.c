/* SPDX-License-Identifier: Apache-2.0 */
/* XDP_PASS for veth peers: native XDP_TX on a veth is only delivered when
 * the peer device has an XDP program of its own, so the lab gives it this. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

SEC("xdp")
int sluice_pass(struct xdp_md *ctx)
{
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
