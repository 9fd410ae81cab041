/* SPDX-License-Identifier: Apache-2.0 */
/* core/parse.h alone: the parse step's cost, for bench/breakdown. The
 * parsed record is kept alive (an empty asm that reads it), so the
 * compiler cannot drop the parts of the parse whose results go unused. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#include "core/parse.h"

SEC("xdp")
int bd_parse_only(struct xdp_md *ctx)
{
	struct sl_pkt p;
	enum sl_reason r = sl_parse((void *)(long)ctx->data, (void *)(long)ctx->data_end, &p);
	asm volatile("" : : "r"(&p) : "memory");
	return r == SL_R_NONE ? XDP_TX : XDP_PASS;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
