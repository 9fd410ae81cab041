/* SPDX-License-Identifier: Apache-2.0 */
/* Fixed-width types and small primitives that compile both for the BPF
 * target (no libc) and for the host. Every core/ header starts here. */
#ifndef SLUICE_CORE_TYPES_H
#define SLUICE_CORE_TYPES_H

#include <linux/types.h>

#ifdef __cplusplus
#define SL_STATIC_ASSERT(cond, msg) static_assert(cond, msg)
#else
#define SL_STATIC_ASSERT(cond, msg) _Static_assert(cond, msg)
#endif

/* BPF code must be inlined into the program; the host wants the same. */
#define SL_INLINE static inline __attribute__((always_inline))

/* Loops the verifier must see unrolled; the host compiler decides itself. */
#ifdef __bpf__
#define SL_UNROLL _Pragma("unroll")
#else
#define SL_UNROLL
#endif

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define sl_htons(x) ((__u16)__builtin_bswap16((__u16)(x)))
#define sl_htonl(x) ((__u32)__builtin_bswap32((__u32)(x)))
#else
#define sl_htons(x) ((__u16)(x))
#define sl_htonl(x) ((__u32)(x))
#endif
#define sl_ntohs(x) sl_htons(x)
#define sl_ntohl(x) sl_htonl(x)

#define sl_memcpy __builtin_memcpy
#define sl_memset __builtin_memset

#endif
