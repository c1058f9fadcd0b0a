// SPDX-License-Identifier: MIT
/*
 * Opening and mapping DEVICE: a devdax character device, a file on a DAX file
 * system, or a plain file (emulation). Owns the exclusive lock that keeps a
 * second pmemfs (or mkfs/fsck) off a device in use, and picks the pmem-ops
 * implementation that fits the mapping.
 *
 * Read-only opens of files use a private mapping: recovery may run in memory
 * (to check or serve what the device would show) and nothing reaches the media.
 *
 * A failure is logged once, as the reason alone: the caller's one error line
 * names the device (mkfs.pmemfs: PATH: REASON).
 */
#include <fcntl.h>
#include <libpmem.h>
#include <linux/magic.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "pfs.h"

static int dax_sysfs_read(const struct stat *st, const char *attr, char *buf, size_t len)
{
	char path[128];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/sys/dev/char/%u:%u/%s", major(st->st_rdev),
		 minor(st->st_rdev), attr);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, len - 1);
	close(fd);
	if (n < 0)
		return -errno;
	buf[n] = '\0';
	return 0;
}

static bool is_dax_chardev(const struct stat *st)
{
	char link[128], target[256];
	ssize_t n;

	snprintf(link, sizeof(link), "/sys/dev/char/%u:%u/subsystem", major(st->st_rdev),
		 minor(st->st_rdev));
	n = readlink(link, target, sizeof(target) - 1);
	if (n < 0)
		return false;
	target[n] = '\0';
	return strstr(target, "/dax") != NULL;
}

static int dax_size(const struct stat *st, size_t *size)
{
	char buf[64];
	int rc = dax_sysfs_read(st, "size", buf, sizeof(buf));

	if (rc)
		return rc;
	*size = strtoull(buf, NULL, 0);
	return *size ? 0 : -ENODEV;
}

/* tmpfs, ramfs, hugetlbfs: memory with no disk behind it */
static bool on_ram_fs(int fd)
{
	struct statfs sfs;

	if (fstatfs(fd, &sfs) < 0)
		return false;
	return sfs.f_type == TMPFS_MAGIC || sfs.f_type == RAMFS_MAGIC ||
	       sfs.f_type == HUGETLBFS_MAGIC;
}

static int device_classify(const struct stat *st, enum pfs_dev_kind *kind)
{
	if (S_ISBLK(st->st_mode)) {
		pfs_log(PFS_LOG_ERR,
			"a block device; pmemfs needs a devdax namespace (/dev/daxX.Y): "
			"reconfigure it with `ndctl create-namespace -f -e namespaceX.Y -m devdax`, "
			"or use a file on a file system mounted with -o dax");
		return -ENOTSUP;
	}
	if (S_ISCHR(st->st_mode)) {
		if (!is_dax_chardev(st)) {
			pfs_log(PFS_LOG_ERR, "a character device but not a device-dax instance");
			return -ENODEV;
		}
		*kind = PFS_DEV_DAX;
		return 0;
	}
	if (S_ISREG(st->st_mode)) {
		*kind = PFS_DEV_FILE;
		return 0;
	}
	pfs_log(PFS_LOG_ERR, "neither a regular file nor a devdax character device");
	return -ENODEV;
}

static int device_lock(struct pfs_device *dev, bool shared)
{
	if (flock(dev->fd, (shared ? LOCK_SH : LOCK_EX) | LOCK_NB) == 0)
		return 0;
	if (errno == EWOULDBLOCK) {
		pfs_log(PFS_LOG_ERR, "in use (mounted?): another pmemfs, mkfs or fsck has it open");
		return -EBUSY;
	}
	return -errno;
}

static void device_pick_ops(struct pfs_device *dev)
{
	enum pfs_pm_kind kind = PFS_PM_DRAM;

	if (!dev->private_map && dev->fd >= 0)
		kind = dev->info.is_pmem ? PFS_PM_PMEM : PFS_PM_MSYNC;
	pfs_pm_init(&dev->pm, kind, dev->base, dev->size);
}

static int map_private(struct pfs_device *dev, size_t size)
{
	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_NORESERVE, dev->fd, 0);

	if (p == MAP_FAILED)
		return -errno;
	dev->base = p;
	dev->size = size;
	dev->private_map = true;
	return 0;
}

static int map_readonly_dax(struct pfs_device *dev, size_t size)
{
	void *p = mmap(NULL, size, PROT_READ, MAP_SHARED, dev->fd, 0);

	if (p == MAP_FAILED)
		return -errno;
	dev->base = p;
	dev->size = size;
	dev->private_map = true;
	return 0;
}

static int map_pmem(struct pfs_device *dev)
{
	size_t len = 0;
	int is_pmem = 0;
	void *p = pmem_map_file(dev->info.path, 0, 0, 0, &len, &is_pmem);

	if (!p) {
		int rc = errno ? -errno : -EIO;

		pfs_log(PFS_LOG_ERR, "cannot map: %s", pmem_errormsg());
		return rc;
	}
	dev->base = p;
	dev->size = len;
	dev->pmem_mapped = true;
	dev->info.is_pmem = is_pmem != 0;
	return 0;
}

static int device_map(struct pfs_device *dev, const struct stat *st)
{
	size_t size = (size_t)st->st_size;
	int rc;

	if (dev->info.kind == PFS_DEV_DAX) {
		rc = dax_size(st, &size);
		if (rc)
			return rc;
	}
	if (size < PFS_BLOCK_SIZE) {
		pfs_log(PFS_LOG_ERR, "too small (%zu bytes) to hold a pmemfs", size);
		return -EINVAL;
	}
	if (!dev->readonly)
		return map_pmem(dev);
	if (dev->info.kind == PFS_DEV_DAX)
		return map_readonly_dax(dev, size);
	return map_private(dev, size);
}

static struct pfs_device *device_alloc(const char *path)
{
	struct pfs_device *dev = calloc(1, sizeof(*dev));

	if (!dev)
		return NULL;
	dev->fd = -1;
	snprintf(dev->info.path, sizeof(dev->info.path), "%s", path);
	return dev;
}

int pfs_device_open(const char *path, bool readonly, struct pfs_device **out)
{
	struct pfs_device *dev;
	struct stat st;
	int rc;

	dev = device_alloc(path);
	if (!dev)
		return -ENOMEM;
	dev->readonly = readonly;
	dev->fd = open(path, (readonly ? O_RDONLY : O_RDWR) | O_CLOEXEC);
	if (dev->fd < 0) {
		rc = -errno;
		pfs_log(PFS_LOG_ERR, "cannot open: %s", strerror(-rc));
		goto out_free;
	}
	if (fstat(dev->fd, &st) < 0) {
		rc = -errno;
		goto out_close;
	}
	rc = device_classify(&st, &dev->info.kind);
	if (rc)
		goto out_close;
	dev->info.ram_backed = dev->info.kind == PFS_DEV_FILE && on_ram_fs(dev->fd);
	rc = device_lock(dev, readonly);
	if (rc)
		goto out_close;
	rc = device_map(dev, &st);
	if (rc)
		goto out_close;
	dev->info.size = dev->size;
	device_pick_ops(dev);
	*out = dev;
	return 0;

out_close:
	close(dev->fd);
out_free:
	free(dev);
	return rc;
}

int pfs_device_create(const char *path, uint64_t size, struct pfs_device **out)
{
	int fd, rc;

	fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (fd < 0) {
		rc = -errno;
		pfs_log(PFS_LOG_ERR, "cannot create: %s", strerror(-rc));
		return rc;
	}
	if (ftruncate(fd, (off_t)size) < 0) {
		rc = -errno;
		pfs_log(PFS_LOG_ERR, "cannot size to %llu bytes: %s",
			(unsigned long long)size, strerror(-rc));
		close(fd);
		unlink(path);
		return rc;
	}
	close(fd);
	rc = pfs_device_open(path, false, out);
	if (rc)
		unlink(path);
	return rc;
}

int pfs_device_dram(size_t size, struct pfs_device **out)
{
	struct pfs_device *dev = device_alloc("(dram)");
	void *p;

	if (!dev)
		return -ENOMEM;
	p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED) {
		free(dev);
		return -ENOMEM;
	}
	dev->base = p;
	dev->size = size;
	dev->info.kind = PFS_DEV_DRAM;
	dev->info.size = size;
	device_pick_ops(dev);
	*out = dev;
	return 0;
}

int pfs_device_dram_copy(const void *image, size_t size, struct pfs_device **out)
{
	int rc = pfs_device_dram(size, out);

	if (rc == 0)
		memcpy((*out)->base, image, size);
	return rc;
}

void pfs_device_close(struct pfs_device *dev)
{
	if (!dev)
		return;
	pfs_pm_fini(&dev->pm);
	if (dev->pmem_mapped)
		pmem_unmap(dev->base, dev->size);
	else if (dev->base)
		munmap(dev->base, dev->size);
	if (dev->fd >= 0)
		close(dev->fd);
	free(dev);
}

const struct pfs_device_info *pfs_device_get_info(const struct pfs_device *dev)
{
	return &dev->info;
}

void *pfs_device_base(const struct pfs_device *dev)
{
	return dev->base;
}
