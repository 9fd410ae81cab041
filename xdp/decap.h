/* SPDX-License-Identifier: Apache-2.0 */
/* Records shared by the backend-side decapsulator (decap.bpf.c) and its
 * loader: the counters and the key of the local-address table. */
#ifndef SLUICE_XDP_DECAP_H
#define SLUICE_XDP_DECAP_H

#include "core/types.h"

#define SL_DECAP_MAX_ADDRS 256

/* A local address that tunnels may be addressed to; IPv4 in addr[0]. */
struct sl_decap_addr {
	__u32 addr[4];
};
SL_STATIC_ASSERT(sizeof(struct sl_decap_addr) == 16, "sl_decap_addr size");

/* Per-CPU; the loader sums the CPUs. */
struct sl_decap_counters {
	__u64 decapsulated; /* tunnel stripped, inner packet passed */
	__u64 passed;       /* not a tunnel to us: passed untouched */
};
SL_STATIC_ASSERT(sizeof(struct sl_decap_counters) == 16, "sl_decap_counters size");

#endif
