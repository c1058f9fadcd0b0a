// SPDX-License-Identifier: MIT
/*
 * pfs_patch: read or change superblock fields of an image, for the bad-input
 * tests (a valid superblock of a newer format needs its checksum resealed).
 *
 *   pfs_patch [-r|-b] IMAGE FIELD=VALUE...   set fields of the primary (-r: the
 *                                          replica, -b: both) and reseal the
 *                                          checksum (unless FIELD is csum)
 *   pfs_patch -g IMAGE FIELD                print a field of the primary
 *
 * VALUE: decimal or 0x hex. Exit 0, or 1 with a message.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pfs.h"

#define F(name) { #name, offsetof(struct pfs_super_pm, name), \
		  sizeof(((struct pfs_super_pm *)0)->name) }

static const struct field {
	const char *name;
	size_t off, size;
} fields[] = {
	F(magic), F(version_major), F(version_minor), F(feature_compat), F(feature_incompat),
	F(feature_ro_compat), F(block_size), F(inode_size), F(device_size), F(total_blocks),
	F(inode_count), F(journal_start), F(journal_blocks), F(ibitmap_start),
	F(ibitmap_blocks), F(bbitmap_start), F(bbitmap_blocks), F(itable_start),
	F(itable_blocks), F(data_start), F(data_blocks), F(hash_seed), F(mkfs_time), F(csum),
};

static const struct field *field_find(const char *name, size_t len)
{
	for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++)
		if (strlen(fields[i].name) == len && strncmp(fields[i].name, name, len) == 0)
			return &fields[i];
	return NULL;
}

static int die(const char *what, const char *arg)
{
	fprintf(stderr, "pfs_patch: %s%s%s\n", what, arg ? ": " : "", arg ? arg : "");
	return 1;
}

static int patch_one(int fd, off_t at, int argc, char **argv)
{
	struct pfs_super_pm sb;
	bool seal = true;

	if (pread(fd, &sb, sizeof(sb), at) != (ssize_t)sizeof(sb))
		return die("cannot read the superblock", strerror(errno));
	for (int i = 0; i < argc; i++) {
		const char *eq = strchr(argv[i], '=');
		const struct field *f = eq ? field_find(argv[i], (size_t)(eq - argv[i])) : NULL;
		uint64_t v;
		char *end;

		if (!f)
			return die("unknown field (FIELD=VALUE)", argv[i]);
		errno = 0;
		v = strtoull(eq + 1, &end, 0);
		if (errno || *end || end == eq + 1)
			return die("bad value", argv[i]);
		memcpy((char *)&sb + f->off, &v, f->size); /* little-endian */
		if (strcmp(f->name, "csum") == 0)
			seal = false;
	}
	if (seal)
		pfs_super_seal(&sb);
	if (pwrite(fd, &sb, sizeof(sb), at) != (ssize_t)sizeof(sb))
		return die("cannot write the superblock", strerror(errno));
	return 0;
}

int main(int argc, char **argv)
{
	bool primary = true, replica = false, get = false;
	int opt, fd, rc = 0;

	while ((opt = getopt(argc, argv, "rbg")) != -1) {
		switch (opt) {
		case 'r': primary = false; replica = true; break;
		case 'b': replica = true; break;
		case 'g': get = true; break;
		default: return die("usage: pfs_patch [-r|-b] IMAGE FIELD=VALUE... | "
				    "pfs_patch -g IMAGE FIELD", NULL);
		}
	}
	if (argc - optind < 2 || (get && argc - optind != 2))
		return die("usage: pfs_patch [-r|-b] IMAGE FIELD=VALUE... | "
			   "pfs_patch -g IMAGE FIELD", NULL);
	fd = open(argv[optind], get ? O_RDONLY : O_RDWR);
	if (fd < 0)
		return die(argv[optind], strerror(errno));
	if (get) {
		const struct field *f = field_find(argv[optind + 1], strlen(argv[optind + 1]));
		struct pfs_super_pm sb;
		uint64_t v = 0;

		if (!f)
			rc = die("unknown field", argv[optind + 1]);
		else if (pread(fd, &sb, sizeof(sb), 0) != (ssize_t)sizeof(sb))
			rc = die("cannot read the superblock", strerror(errno));
		else {
			memcpy(&v, (char *)&sb + f->off, f->size);
			printf("%llu\n", (unsigned long long)v);
		}
	} else {
		if (primary)
			rc = patch_one(fd, 0, argc - optind - 1, argv + optind + 1);
		if (!rc && replica)
			rc = patch_one(fd, PFS_BLOCK_SIZE, argc - optind - 1, argv + optind + 1);
	}
	close(fd);
	return rc;
}
