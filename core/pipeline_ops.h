/* SPDX-License-Identifier: Apache-2.0 */
/* The types core/pipeline.h's table operations (its hooks) use: included
 * by a dataplane before it defines them, then core/pipeline.h. */
#ifndef SLUICE_CORE_PIPELINE_OPS_H
#define SLUICE_CORE_PIPELINE_OPS_H

#include "abi.h"
#include "acl.h"
#include "parse.h"
#include "verdict.h"

/* The dataplane's per-packet context type, handed to every hook. */
#ifndef SL_PL_CTX
#define SL_PL_CTX void
#endif

/* Which counter table sl_pl_count adds to (index: VIP id, backend slot,
 * reason). */
enum sl_pl_counter {
	SL_PL_COUNT_VIP = 0,
	SL_PL_COUNT_BACKEND = 1,
	SL_PL_COUNT_REASON = 2,
};

/* sl_pl_mtu_check's answer. */
enum sl_pl_mtu {
	SL_PL_MTU_FITS = 0,
	SL_PL_MTU_FRAG_NEEDED = 1, /* too big; *mtu holds the device MTU */
	SL_PL_MTU_FAIL = 2,        /* could not tell: drop */
};

/* One packet between the steps. */
struct sl_pl_state {
	struct sl_pkt p;
	const struct sl_vip_meta *vip; /* set once admitted */
	const struct sl_global *g;
	struct sl_control *ctl;
	__u32 acl_gen;    /* ctl->acl_gen, read once before any rule lookup */
	enum sl_reason r; /* front: the verdict when !in_vip */
	int in_vip;       /* admitted: sl_pl_back runs (counts the VIP) */
};

#endif
