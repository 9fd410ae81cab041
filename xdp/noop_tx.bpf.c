/* SPDX-License-Identifier: Apache-2.0 */
/* The benchmark floor: the cheapest program that transmits, measured the
 * same way as sluice so its cost can be subtracted. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

SEC("xdp")
int sluice_noop_tx(struct xdp_md *ctx)
{
	return XDP_TX;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
