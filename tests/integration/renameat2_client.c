/* SPDX-License-Identifier: MIT */
/*
 * renameat2_client: renameat2(2) from the shell, which coreutils cannot do for
 * RENAME_EXCHANGE. Calls the system call directly so the flags reach the file
 * system whatever libc does.
 *
 *   renameat2_client plain|noreplace|exchange OLD NEW
 *
 * Exit 0 on success; otherwise prints strerror(errno) and exits 1 (2: usage).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef RENAME_NOREPLACE
#define RENAME_NOREPLACE (1 << 0)
#endif
#ifndef RENAME_EXCHANGE
#define RENAME_EXCHANGE (1 << 1)
#endif

int main(int argc, char **argv)
{
	unsigned flags;

	if (argc != 4) {
		fprintf(stderr, "usage: %s plain|noreplace|exchange OLD NEW\n", argv[0]);
		return 2;
	}
	if (strcmp(argv[1], "plain") == 0) {
		flags = 0;
	} else if (strcmp(argv[1], "noreplace") == 0) {
		flags = RENAME_NOREPLACE;
	} else if (strcmp(argv[1], "exchange") == 0) {
		flags = RENAME_EXCHANGE;
	} else {
		fprintf(stderr, "%s: unknown mode '%s'\n", argv[0], argv[1]);
		return 2;
	}
	if (syscall(SYS_renameat2, AT_FDCWD, argv[2], AT_FDCWD, argv[3], flags) != 0) {
		fprintf(stderr, "renameat2 %s %s: %s\n", argv[2], argv[3], strerror(errno));
		return 1;
	}
	return 0;
}
