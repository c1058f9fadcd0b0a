// SPDX-License-Identifier: MIT
/*
 * Media faults (fs/media_fault.c): an access to a lost page of a mounted
 * image (here: the image file truncated under its mapping) is survived,
 * counted for the thread and the mapping, and latches that file system, and
 * only that one, read-only; the page stays lost (a later access faults
 * again); a fault or signal that is not a media fault of a registered
 * mapping still kills as before.
 */
#include "fixture.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>

#include "media_fault.h"

#define IMG_SIZE (8u << 20)

struct img {
	char path[256];
	struct pfs_device *dev;
	struct pfs_fs *fs;
};

static void img_make(struct img *im, const char *tag)
{
	const char *dir = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
	struct pfs_format_opts o = { .label = "t" };
	struct pfs_format_info fi;

	snprintf(im->path, sizeof(im->path), "%s/pfs-media-fault-%d-%s", dir, (int)getpid(), tag);
	unlink(im->path);
	assert_int_equal(pfs_device_create(im->path, IMG_SIZE, &im->dev), 0);
	assert_int_equal(pfs_format(im->dev, &o, &fi), 0);
	assert_int_equal(pfs_mount(im->dev, 0, &im->fs), 0);
}

static void img_free(struct img *im)
{
	pfs_unmount(im->fs);
	pfs_device_close(im->dev);
	unlink(im->path);
}

static char touch(const void *p)
{
	return *(volatile const char *)p;
}

/* cmocka puts its own handlers in place for each test: ours over them. */
static int setup(void **state)
{
	(void)state;
	pfs_log_set_sink(fx_quiet_log, PFS_LOG_ERR);
	return pfs_media_fault_install();
}

static void test_lost_page_latches_only_its_own_file_system(void **state)
{
	struct img a, b;
	const char *end_a;

	(void)state;
	assert_int_equal(pfs_media_fault_install(), 0);
	img_make(&a, "a");
	img_make(&b, "b");
	end_a = (const char *)pfs_device_base(a.dev) + IMG_SIZE - 1;
	assert_int_equal(truncate(a.path, IMG_SIZE / 2), 0);

	pfs_media_fault_begin();
	assert_int_equal(touch(end_a), 0);        /* survived; the replacement reads zeros */
	assert_true(pfs_media_fault_end());
	assert_true(pfs_is_readonly(a.fs));
	assert_false(pfs_is_readonly(b.fs));
	assert_int_equal(pfs_media_fault_count(a.fs->media_slot), 1);
	assert_int_equal(pfs_media_fault_count(b.fs->media_slot), 0);

	/* the page stays lost: the next access faults again */
	pfs_media_fault_begin();
	touch(end_a);
	assert_true(pfs_media_fault_end());
	assert_int_equal(pfs_media_fault_count(a.fs->media_slot), 2);

	/* a good page does not fault */
	pfs_media_fault_begin();
	touch(pfs_device_base(b.dev));
	touch(pfs_device_base(a.dev));
	assert_false(pfs_media_fault_end());
	img_free(&a);
	img_free(&b);
}

static void test_write_hitting_a_lost_page_is_counted(void **state)
{
	struct img a;
	char *end;

	(void)state;
	assert_int_equal(pfs_media_fault_install(), 0);
	img_make(&a, "w");
	end = (char *)pfs_device_base(a.dev) + IMG_SIZE - 4096;
	assert_int_equal(truncate(a.path, IMG_SIZE / 2), 0);
	pfs_media_fault_begin();
	pfs_pm_copy(a.fs->pm, end, "data", 4);
	assert_true(pfs_media_fault_end());
	assert_true(pfs_is_readonly(a.fs));
	img_free(&a);
}

static void test_transaction_that_met_a_lost_page_is_not_committed(void **state)
{
	struct img a;
	struct pfs_tx *tx;
	const char *end;
	uint64_t before;

	(void)state;
	assert_int_equal(pfs_media_fault_install(), 0);
	img_make(&a, "t");
	end = (const char *)pfs_device_base(a.dev) + IMG_SIZE - 1;
	before = a.fs->state->mount_count;
	assert_int_equal(truncate(a.path, IMG_SIZE / 2), 0);
	pfs_media_fault_begin();
	assert_int_equal(pfs_tx_begin(a.fs, &tx), 0);
	assert_int_equal(pfs_tx_set_u64(tx, &a.fs->state->mount_count, before + 7), 0);
	touch(end);                                /* the lost page, mid-transaction */
	/* every way of ending it (namei's own commit included) rolls it back */
	assert_int_equal(pfs_tx_commit(tx), -EIO);
	assert_int_equal(a.fs->state->mount_count, before);
	assert_true(pfs_media_fault_end());
	img_free(&a);
}

static void test_nested_request_keeps_the_waiting_requests_fault(void **state)
{
	struct img a;
	const char *end;
	unsigned outer;

	(void)state;
	assert_int_equal(pfs_media_fault_install(), 0);
	img_make(&a, "n");
	end = (const char *)pfs_device_base(a.dev) + IMG_SIZE - 1;
	assert_int_equal(truncate(a.path, IMG_SIZE / 2), 0);
	pfs_media_fault_begin();
	touch(end);                                /* the waiting request faulted */
	outer = pfs_media_fault_save();
	pfs_media_fault_begin();                   /* a request served during its wait */
	touch(pfs_device_base(a.dev));
	assert_false(pfs_media_fault_end());       /* not charged the outer fault */
	pfs_media_fault_restore(outer);
	assert_true(pfs_media_fault_end());        /* the waiting one still answers EIO */
	img_free(&a);
}

/* run fn in a child; returns its wait status */
static int in_child(void (*fn)(void))
{
	int st;
	pid_t p = fork();

	assert_true(p >= 0);
	if (p == 0) {
		/* as in the server: the default disposition under ours, not cmocka's */
		signal(SIGBUS, SIG_DFL);
		signal(SIGSEGV, SIG_DFL);
		if (pfs_media_fault_install() != 0)
			_exit(4);
		fn();
		_exit(0);
	}
	assert_int_equal(waitpid(p, &st, 0), p);
	return st;
}

static void unregistered_lost_page(void)
{
	const char *dir = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
	char path[256];
	char *m;
	int fd;

	snprintf(path, sizeof(path), "%s/pfs-media-fault-%d-u", dir, (int)getpid());
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	if (fd < 0 || ftruncate(fd, 2 * 4096) != 0)
		_exit(3);
	m = mmap(NULL, 2 * 4096, PROT_READ, MAP_SHARED, fd, 0);
	unlink(path);
	if (m == MAP_FAILED || ftruncate(fd, 0) != 0)
		_exit(3);
	touch(m + 4096);
}

static void sent_sigsegv(void)
{
	kill(getpid(), SIGSEGV);
}

static void sent_sigbus(void)
{
	kill(getpid(), SIGBUS);
}

/* a SIGSEGV inside a registered mapping that is no lost page: a real bug */
static void store_to_read_only_mapping(void)
{
	atomic_bool latch = false;
	char *m = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (m == MAP_FAILED || pfs_media_fault_register(m, 4096, &latch, "ro") < 0)
		_exit(3);
	*(volatile char *)m = 1;
}

static void test_other_faults_and_signals_still_kill(void **state)
{
	int st;

	(void)state;
	st = in_child(unregistered_lost_page);
	assert_true(WIFSIGNALED(st) && WTERMSIG(st) == SIGBUS);
	st = in_child(sent_sigbus);
	assert_true(WIFSIGNALED(st) && WTERMSIG(st) == SIGBUS);
	st = in_child(sent_sigsegv);
	assert_true(WIFSIGNALED(st) && WTERMSIG(st) == SIGSEGV);
	st = in_child(store_to_read_only_mapping);
	assert_true(WIFSIGNALED(st) && WTERMSIG(st) == SIGSEGV);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_lost_page_latches_only_its_own_file_system),
		cmocka_unit_test(test_write_hitting_a_lost_page_is_counted),
		cmocka_unit_test(test_transaction_that_met_a_lost_page_is_not_committed),
		cmocka_unit_test(test_nested_request_keeps_the_waiting_requests_fault),
		cmocka_unit_test(test_other_faults_and_signals_still_kill),
	};

	return cmocka_run_group_tests(tests, setup, NULL);
}
