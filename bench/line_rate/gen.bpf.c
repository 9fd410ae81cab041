/* SPDX-License-Identifier: Apache-2.0 */
/* The line-rate generator (bench/linerate): run by BPF_PROG_RUN with
 * BPF_F_TEST_XDP_LIVE_FRAMES on the generator's veth, it stamps a flow into
 * the template frame (bench/bench_frame.h's 64-byte TCP SYN/ACK to a VIP)
 * and returns XDP_TX, which sends it out of that veth into the balancer's.
 *
 * Every field that varies is written on every run: a recycled page may
 * still hold an earlier packet's bytes. Flow numbering is bench_frame.h's
 * set_flow(): source 198.19.(i & 0xffff), source port 1024 + (i >> 16). */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

/* Set by the driver before load. */
const volatile __u32 lr_flows = 1000;     /* hit mix: flows cycled through */
const volatile __u32 lr_new_flows = 0;    /* 1: every packet a never-seen SYN */
const volatile __u32 lr_base = 0;         /* first flow number */
/* Pacing inside the kernel: only every lr_tx_every-th run sends, the rest
 * drop at once, so sent frames are evenly spaced rather than bursts at the
 * generator's full speed into a 256-frame veth ring. */
const volatile __u32 lr_tx_every = 1;

/* Per-CPU sequence, one cache line (8 words) each: a CPU writes only its
 * own. A plain array: the skeleton then needs no struct of ours. */
#define LR_MAX_CPUS 64
__u64 lr_seq[LR_MAX_CPUS * 8];  /* frames sent */
__u64 lr_iter[LR_MAX_CPUS * 8]; /* runs */

SEC("xdp")
int lr_gen(struct xdp_md *ctx)
{
	__u8 *d = (void *)(long)ctx->data;
	__u8 *end = (void *)(long)ctx->data_end;
	if (d + 64 > end)
		return XDP_DROP;
	__u32 cpu = bpf_get_smp_processor_id();
	if (cpu >= LR_MAX_CPUS)
		return XDP_DROP;
	__u64 it = lr_iter[cpu * 8]++;
	if (lr_tx_every > 1 && it % lr_tx_every)
		return XDP_DROP;
	__u64 n = lr_seq[cpu * 8]++;
	__u32 i;
	if (lr_new_flows)
		/* CPUs never share a flow: each owns a 2^30 range. */
		i = lr_base + (cpu << 30) + (__u32)(n & 0x3fffffff);
	else
		i = lr_base + (__u32)(n % lr_flows);
	__u32 src = bpf_htonl(0xc6130000u + (i & 0xffff));
	__u16 sport = bpf_htons((__u16)(1024 + (i >> 16) % 60000));
	__builtin_memcpy(d + 26, &src, 4);
	__builtin_memcpy(d + 34, &sport, 2);
	d[47] = lr_new_flows ? 0x02 : 0x10; /* SYN : ACK */
	return XDP_TX;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
