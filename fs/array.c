// SPDX-License-Identifier: MIT
/* Growable arrays: the one place that doubles a heap array's capacity. */
#include <stdlib.h>

#include "pfs.h"

int pfs_array_reserve(void *arrayp, size_t *cap, size_t need, size_t elem)
{
	void **array = arrayp;
	size_t ncap = *cap ? *cap : 16;
	void *nv;

	if (need <= *cap)
		return 0;
	while (ncap < need)
		ncap *= 2;
	nv = realloc(*array, ncap * elem);
	if (!nv)
		return -ENOMEM;
	*array = nv;
	*cap = ncap;
	return 0;
}
