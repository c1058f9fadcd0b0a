// SPDX-License-Identifier: MIT
/*
 * reaper EXITS CMD [ARG...]: run CMD (e.g. mount(8)) and exit with its
 * status, leaving behind a child subreaper that records how every process
 * started under CMD ends, daemons included, as "PID STATUS" lines appended
 * to EXITS (STATUS as a shell reports it: the exit code, or 128 + the
 * signal). The subreaper exits when the last of them has.
 *
 * A server that mount.fuse3 starts daemonizes (fuse_daemonize) and is no
 * child of the test, which therefore cannot wait for it; the subreaper
 * inherits it instead, so tests/integration/lib.sh sees its exit status
 * like that of a server it started itself.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

static int shell_status(int st)
{
	return WIFSIGNALED(st) ? 128 + WTERMSIG(st) : WEXITSTATUS(st);
}

/* Reap everything below us; report CMD's status on fd report. */
static void reap_all(const char *exits, pid_t cmd, int report)
{
	int st, fd;
	pid_t p;

	while ((p = waitpid(-1, &st, 0)) > 0 || errno == EINTR) {
		char line[64];
		int n;

		if (p <= 0)
			continue;
		n = snprintf(line, sizeof(line), "%d %d\n", (int)p, shell_status(st));
		fd = open(exits, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
		if (fd >= 0) {
			if (write(fd, line, (size_t)n) != n)
				perror("reaper: write");
			close(fd);
		}
		if (p == cmd && report >= 0) {
			int s = shell_status(st);

			if (write(report, &s, sizeof(s)) != sizeof(s))
				perror("reaper: report");
			close(report);
			report = -1;
			/* nothing of ours on the caller's output from here on */
			fd = open("/dev/null", O_RDWR);
			if (fd >= 0) {
				dup2(fd, 0);
				dup2(fd, 1);
				dup2(fd, 2);
				close(fd);
			}
		}
	}
}

int main(int argc, char **argv)
{
	int pfd[2], status = 127;
	pid_t sub, cmd;

	if (argc < 3) {
		fprintf(stderr, "usage: reaper EXITS CMD [ARG...]\n");
		return 2;
	}
	if (pipe(pfd) < 0) {
		perror("reaper: pipe");
		return 127;
	}
	sub = fork();
	if (sub < 0) {
		perror("reaper: fork");
		return 127;
	}
	if (sub == 0) {
		close(pfd[0]);
		if (prctl(PR_SET_CHILD_SUBREAPER, 1) < 0) {
			perror("reaper: PR_SET_CHILD_SUBREAPER");
			_exit(127);
		}
		cmd = fork();
		if (cmd == 0) {
			close(pfd[1]);
			execvp(argv[2], argv + 2);
			perror(argv[2]);
			_exit(127);
		}
		reap_all(argv[1], cmd, cmd > 0 ? pfd[1] : -1);
		_exit(0);
	}
	close(pfd[1]);
	if (read(pfd[0], &status, sizeof(status)) != sizeof(status))
		status = 127;
	return status;
}
