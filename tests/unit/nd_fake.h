/* SPDX-License-Identifier: MIT */
/* A test double at the libndctl seam: an in-memory topology the tests shape. */
#ifndef PFS_ND_FAKE_H
#define PFS_ND_FAKE_H

#include "nd.h"

struct nd_fake {
	struct nd_topo topo;           /* the "kernel" state */
	unsigned calls;                /* backend calls that change state */
	int fail_next;                 /* if non-zero: the next changing call fails with it */
	struct nd_ns_params last;      /* parameters of the last reconfigure/create */
};

/* region0: labelled 1 GiB, align 16 MiB, one fsdax ns0; region1: label-less
 * 1 GiB with one raw ns0; one DIMM per region. */
void nd_fake_init(struct nd_fake *f);
void nd_fake_fini(struct nd_fake *f);
void nd_fake_backend(struct nd_fake *f, struct nd_backend *be);

#endif
