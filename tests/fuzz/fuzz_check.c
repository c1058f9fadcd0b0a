// SPDX-License-Identifier: MIT
/*
 * libFuzzer target: the checker behind fsck.pmemfs on a mutated image: check
 * only, then repair, then check again. Only what the checker promises is
 * asserted: it never crashes, hangs or leaks, and a pass without
 * PFS_CHECK_REPAIR changes no byte of the device. Whether a repair converges (the second check finds
 * nothing left to fix) is counted, not asserted: set FUZZ_CHECK_STRICT=1 to
 * abort on an input whose repaired image still shows repairable problems.
 * Input format: fuzz_image.h.
 */
#include <stdio.h>
#include <stdlib.h>

#include "fuzz_image.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct tally {
	unsigned repaired;
};

static void report(void *arg, const char *object, const char *problem, bool repaired)
{
	struct tally *t = arg;

	/* touch every byte the checker hands out: its strings must be sound */
	if (strlen(object) + strlen(problem) && repaired)
		t->repaired++;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t *before;
	struct pfs_check_result r1, r2, r3;
	struct tally t1 = { 0 }, t2 = { 0 }, t3 = { 0 };
	struct pfs_device *dev;
	unsigned flags;
	int rc;

	(void)flags;
	fz_init();
	if (!before && !(before = malloc(FZ_DEV_SIZE)))
		abort();
	dev = fz_load(data, size, &flags);
	memcpy(before, pfs_device_base(dev), FZ_DEV_SIZE);
	rc = pfs_check(dev, 0, report, &t1, &r1);
	(void)t1;
	if (rc)
		return 0;
	/* without PFS_CHECK_REPAIR the checker stores nothing, not even a rollback */
	if (memcmp(before, pfs_device_base(dev), FZ_DEV_SIZE)) {
		fprintf(stderr, "a check without repair changed the device\n");
		abort();
	}
	rc = pfs_check(dev, PFS_CHECK_REPAIR, report, &t2, &r2);
	if (rc)
		return 0;
	rc = pfs_check(dev, 0, report, &t3, &r3);
	if (rc == 0 && r3.problems && r2.problems == r2.repaired && getenv("FUZZ_CHECK_STRICT")) {
		fprintf(stderr, "repair did not converge: %u problems, all %u fixed, then %u\n",
			r2.problems, r2.repaired, r3.problems);
		abort();
	}
	return 0;
}
