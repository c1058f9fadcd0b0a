// SPDX-License-Identifier: MIT
/*
 * Is a namespace in use in a way libndctl cannot see? ndctl's disable_safe
 * notices a mounted or O_EXCL-held block device, but not an mmapped devdax,
 * and not the device this very pmemfs serves. Checked here: memory online as
 * system-ram, the mount's own device (or the file system holding its file),
 * a mounted block device, and any process holding or mapping the device node.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "ctl_int.h"

static int node_rdev(const char *name, dev_t *rdev)
{
	char path[64];
	struct stat st;

	if (!name[0])
		return -ENOENT;
	snprintf(path, sizeof(path), "/dev/%s", name);
	if (stat(path, &st) < 0)
		return -errno;
	*rdev = st.st_rdev;
	return 0;
}

/* The mount's device is this namespace's node, or a file on its file system. */
static bool backs_mount(const char *busy_dev, const struct nd_ns *ns)
{
	struct stat st;
	dev_t cd = 0, bd = 0;
	bool has_c = node_rdev(ns->chardev, &cd) == 0, has_b = node_rdev(ns->blockdev, &bd) == 0;

	if (!busy_dev[0] || stat(busy_dev, &st) < 0)
		return false;
	if (S_ISCHR(st.st_mode) && has_c && st.st_rdev == cd)
		return true;
	return S_ISREG(st.st_mode) && has_b && st.st_dev == bd;
}

static bool mounted(const struct nd_ns *ns)
{
	char line[4096];
	dev_t bd = 0;
	FILE *f;
	bool found = false;

	if (node_rdev(ns->blockdev, &bd))
		return false;
	f = fopen("/proc/self/mountinfo", "re");
	if (!f)
		return false;
	while (!found && fgets(line, sizeof(line), f)) {
		unsigned maj, min;

		if (sscanf(line, "%*u %*u %u:%u", &maj, &min) == 2 &&
		    makedev(maj, min) == bd)
			found = true;
	}
	fclose(f);
	return found;
}

static bool fd_dir_holds(const char *pid, const char *node)
{
	char dir[300], link[600], target[256];
	struct dirent *e;
	bool found = false;
	DIR *d;

	snprintf(dir, sizeof(dir), "/proc/%s/fd", pid);
	d = opendir(dir);
	if (!d)
		return false;
	while (!found && (e = readdir(d))) {
		ssize_t n;

		snprintf(link, sizeof(link), "%s/%s", dir, e->d_name);
		n = readlink(link, target, sizeof(target) - 1);
		if (n > 0) {
			target[n] = '\0';
			found = strcmp(target, node) == 0;
		}
	}
	closedir(d);
	return found;
}

static bool maps_hold(const char *pid, const char *node)
{
	char path[300], line[512];
	size_t nl = strlen(node);
	bool found = false;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%s/maps", pid);
	f = fopen(path, "re");
	if (!f)
		return false;
	while (!found && fgets(line, sizeof(line), f)) {
		char *p = strstr(line, node);

		found = p && (p[nl] == '\n' || p[nl] == '\0' || p[nl] == ' ');
	}
	fclose(f);
	return found;
}

/* A process (other than a thread of ours) that has the node open or mapped. */
static int holder(const char *name, char *who, size_t len)
{
	char node[64];
	struct dirent *e;
	DIR *d;
	int rc = 0;

	if (!name[0])
		return 0;
	snprintf(node, sizeof(node), "/dev/%s", name);
	d = opendir("/proc");
	if (!d)
		return 0;
	while (!rc && (e = readdir(d))) {
		if (e->d_name[0] < '0' || e->d_name[0] > '9')
			continue;
		if (fd_dir_holds(e->d_name, node) || maps_hold(e->d_name, node)) {
			snprintf(who, len, "%s is open or mapped by process %s", node, e->d_name);
			rc = -EBUSY;
		}
	}
	closedir(d);
	return rc;
}

int nd_dev_busy(const char *busy_dev, const struct nd_ns *ns, char *why, size_t len)
{
	if (backs_mount(busy_dev, ns)) {
		snprintf(why, len, "it holds this pmemfs mount (%s)", busy_dev);
		return -EBUSY;
	}
	if (ns->dax_system_ram) {
		snprintf(why, len, "its memory is online as system-ram");
		return -EBUSY;
	}
	if (mounted(ns)) {
		snprintf(why, len, "/dev/%s is mounted", ns->blockdev);
		return -EBUSY;
	}
	if (holder(ns->chardev, why, len) || holder(ns->blockdev, why, len))
		return -EBUSY;
	return 0;
}
