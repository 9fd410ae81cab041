/* SPDX-License-Identifier: Apache-2.0 */
/* The lab's spoofed SYN flood (bench/line_rate/synflood.cc): run by
 * BPF_PROG_RUN with BPF_F_TEST_XDP_LIVE_FRAMES on the flooding host's veth,
 * it turns the template frame (bench_frame.h's 64-byte TCP SYN, or ACK, to
 * the VIP, IP total length 40) into one from a random source and port and returns
 * XDP_TX, which sends it out of that veth toward the balancer.
 *
 * Sources: 198.18.0.0/15 only, never 198.18.0.0/24 (the lab's own hosts,
 * VIPs and test sources live there): a draw that lands in it is moved to
 * 198.19.0.0/24. Both checksums are computed in full on every run, so the
 * backends' stacks take the SYNs as real ones.
 *
 * Pacing as in gen.bpf.c: only every sf_tx_every-th run sends, the others
 * drop at once, so a paced flood is evenly spread instead of bursts. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

const volatile __u32 sf_tx_every = 1;

/* Per-CPU counters, one cache line (8 words) each: a CPU writes only its own. */
#define SF_MAX_CPUS 64
__u64 sf_sent[SF_MAX_CPUS * 8];
__u64 sf_runs[SF_MAX_CPUS * 8];

static __always_inline __u16 fold(__u32 s)
{
	s = (s & 0xffff) + (s >> 16);
	s = (s & 0xffff) + (s >> 16);
	return (__u16)~s;
}

/* The one's complement sum of n 16-bit words at p (as stored, network order). */
static __always_inline __u32 sum16(const __u8 *p, int n)
{
	__u32 s = 0;
#pragma unroll
	for (int i = 0; i < n; i++)
		s += *(const __u16 *)(p + 2 * i);
	return s;
}

SEC("xdp")
int sf_syn(struct xdp_md *ctx)
{
	__u8 *d = (void *)(long)ctx->data;
	__u8 *end = (void *)(long)ctx->data_end;
	if (d + 54 > end)
		return XDP_DROP;
	__u32 cpu = bpf_get_smp_processor_id();
	if (cpu >= SF_MAX_CPUS)
		return XDP_DROP;
	__u64 it = sf_runs[cpu * 8]++;
	if (sf_tx_every > 1 && it % sf_tx_every)
		return XDP_DROP;
	sf_sent[cpu * 8]++;

	__u32 r = bpf_get_prandom_u32();
	__u32 host = r & 0x1ffff;           /* 198.18.0.0/15 */
	if (host < 0x100)                   /* 198.18.0.0/24: the lab's */
		host |= 0x10000;                /* -> 198.19.0.x */
	__u32 src = bpf_htonl(0xc6120000u + host);
	__u32 r2 = bpf_get_prandom_u32();
	__u16 sport = bpf_htons((__u16)(1024 + (r2 & 0xffff) % 64512));
	__u16 ipid = (__u16)(r2 >> 16);
	__u32 seq = bpf_get_prandom_u32();

	__u8 *ip = d + 14, *tcp = d + 34;
	__builtin_memcpy(ip + 12, &src, 4);
	__builtin_memcpy(ip + 4, &ipid, 2);
	__builtin_memcpy(tcp, &sport, 2);
	__builtin_memcpy(tcp + 4, &seq, 4);
	/* tcp[13], the flags, stay the template's: SYN, or ACK (--flags). */

	ip[10] = ip[11] = 0;
	__u16 c = fold(sum16(ip, 10));
	__builtin_memcpy(ip + 10, &c, 2);

	tcp[16] = tcp[17] = 0;
	/* Pseudo header: source, destination, protocol 6, TCP length 20. */
	__u32 s = sum16(ip + 12, 4) + bpf_htons(6) + bpf_htons(20) + sum16(tcp, 10);
	c = fold(s);
	__builtin_memcpy(tcp + 16, &c, 2);
	return XDP_TX;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
