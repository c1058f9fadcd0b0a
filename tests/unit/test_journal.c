// SPDX-License-Identifier: MIT
/* The undo journal: abort, crash recovery, torn records, on a DRAM device. */
#include "fixture.h"

static void test_abort_restores_every_changed_byte(void **state)
{
	struct fx *f = fx_new(16, 0);
	struct pfs_inode_pm *root = pfs_inode_at(f->fs, PFS_ROOT_SLOT);
	struct pfs_inode_pm saved = *root;
	struct pfs_tx *tx;

	assert_int_equal(pfs_tx_begin(f->fs, &tx), 0);
	assert_int_equal(pfs_tx_set_u32(tx, &root->uid, 77), 0);
	assert_int_equal(pfs_tx_set_u64(tx, &root->size, 1 << 20), 0);
	assert_int_equal(pfs_tx_set_u32(tx, &root->uid, 78), 0);
	assert_int_equal(root->uid, 78);
	pfs_tx_abort(tx);
	assert_memory_equal(root, &saved, sizeof(saved));
	fx_free(f);
}

static void test_interrupted_transaction_rolls_back_at_mount(void **state)
{
	struct fx *f = fx_new(16, 0);
	struct pfs_device *copy;
	struct pfs_fs *fs2;
	struct pfs_attr a;
	struct pfs_tx *tx;
	int rc;

	fx_create(f, f->root, "kept");
	assert_int_equal(pfs_tx_begin(f->fs, &tx), 0);
	assert_int_equal(pfs_tx_set_u32(tx, &pfs_inode_at(f->fs, PFS_ROOT_SLOT)->nlink, 99), 0);
	/* "power cut": the image as it is now, transaction uncommitted */
	assert_int_equal(pfs_device_dram_copy(pfs_device_base(f->dev),
					      pfs_device_get_info(f->dev)->size, &copy), 0);
	pfs_tx_abort(tx);
	assert_int_equal(pfs_mount(copy, 0, &fs2), 0);
	assert_int_equal(pfs_getattr(fs2, pfs_root_ino(fs2), &a), 0);
	assert_int_equal(a.nlink, 2);
	rc = pfs_lookup(fs2, pfs_root_ino(fs2), "kept", &a);
	assert_int_equal(rc, 0);
	pfs_unmount(fs2);
	pfs_device_close(copy);
	fx_free(f);
}

static void test_committed_transaction_survives_power_cut(void **state)
{
	struct fx *f = fx_new(16, 0);
	struct pfs_device *copy;
	struct pfs_fs *fs2;
	struct pfs_attr a;

	fx_create(f, f->root, "x");
	assert_int_equal(pfs_device_dram_copy(pfs_device_base(f->dev),
					      pfs_device_get_info(f->dev)->size, &copy), 0);
	assert_int_equal(pfs_mount(copy, 0, &fs2), 0);
	assert_int_equal(pfs_lookup(fs2, pfs_root_ino(fs2), "x", &a), 0);
	pfs_unmount(fs2);
	pfs_device_close(copy);
	fx_free(f);
}

static void test_torn_record_is_ignored(void **state)
{
	struct fx *f = fx_new(16, 0);
	struct pfs_inode_pm *root = pfs_inode_at(f->fs, PFS_ROOT_SLOT);
	struct pfs_jrec_pm *rec;
	struct pfs_tx *tx;
	uint32_t uid = root->uid;

	assert_int_equal(pfs_tx_begin(f->fs, &tx), 0);
	assert_int_equal(pfs_tx_set_u32(tx, &root->uid, 5), 0);
	/* corrupt the only record: recovery must not apply it, the store stays */
	rec = (void *)((char *)f->fs->jhdr + sizeof(struct pfs_jhdr_pm));
	rec->csum ^= 1;
	assert_int_equal(pfs_journal_recover(f->fs, NULL), 0);
	assert_int_equal(root->uid, 5);
	rec->csum ^= 1;
	pfs_tx_abort(tx);
	assert_int_equal(root->uid, uid);
	fx_free(f);
}

static void test_journal_full_aborts_cleanly(void **state)
{
	struct fx *f = fx_new(8, 0);
	struct pfs_tx *tx;
	char *snap = malloc(8 << 20);
	int rc = 0;

	memcpy(snap, pfs_device_base(f->dev), 8 << 20);
	assert_int_equal(pfs_tx_begin(f->fs, &tx), 0);
	for (uint64_t b = f->fs->sb.data_start + 1; b < f->fs->sb.total_blocks && !rc; b++)
		rc = pfs_tx_zero(tx, pfs_blk(f->fs, b), 4096);
	assert_int_equal(rc, -ENOSPC);
	pfs_tx_abort(tx);
	/* everything but the journal area itself is as before */
	assert_memory_equal((char *)pfs_device_base(f->dev) + (f->fs->sb.ibitmap_start << 12),
			    snap + (f->fs->sb.ibitmap_start << 12),
			    (8 << 20) - (f->fs->sb.ibitmap_start << 12));
	free(snap);
	fx_free(f);
}

/* The most records a journal can hold (one line each), undone with every allocation failing. */
static void test_rollback_of_a_full_journal_allocates_nothing(void **state)
{
	struct fx *f = fx_new(8, 0);
	struct pfs_fault fault = { 0 };
	char *snap = malloc(8 << 20);
	size_t off = f->fs->sb.ibitmap_start << 12;
	struct pfs_tx *tx;
	int rc = 0;

	memcpy(snap, pfs_device_base(f->dev), 8 << 20);
	assert_int_equal(pfs_tx_begin(f->fs, &tx), 0);
	for (uint64_t b = f->fs->sb.data_start + 1; b < f->fs->sb.total_blocks && !rc; b++)
		for (unsigned line = 0; line < 64 && !rc; line += 2)
			rc = pfs_tx_zero(tx, (char *)pfs_blk(f->fs, b) + line * 64, 8);
	assert_int_equal(rc, -ENOSPC);
	pfs_fault_attach(f->fs, &fault);
	pfs_fault_arm(&fault, PFS_FAULT_ALLOC, 1, true);
	pfs_tx_abort(tx);
	pfs_fault_attach(f->fs, NULL);
	assert_false(pfs_is_readonly(f->fs));
	assert_memory_equal((char *)pfs_device_base(f->dev) + off, snap + off, (8 << 20) - off);
	free(snap);
	fx_free(f);
}

/* A damaged record of the running transaction: no partial undo, read-only, seq kept. */
static void test_failed_rollback_latches_read_only_and_keeps_the_seq(void **state)
{
	struct fx *f = fx_new(16, 0);
	struct pfs_inode_pm *root = pfs_inode_at(f->fs, PFS_ROOT_SLOT);
	char *rec = (char *)f->fs->jhdr + sizeof(struct pfs_jhdr_pm);
	uint64_t seq = f->fs->jhdr->active_seq;
	struct pfs_attr a;
	struct pfs_tx *tx;

	assert_int_equal(pfs_tx_begin(f->fs, &tx), 0);
	assert_int_equal(pfs_tx_set_u32(tx, &root->uid, 77), 0);
	assert_int_equal(pfs_tx_set_u32(tx, &root->gid, 78), 0);
	rec[sizeof(struct pfs_jrec_pm)] ^= 1; /* the media lies about the old bytes */
	pfs_tx_abort(tx);
	assert_true(pfs_is_readonly(f->fs));
	assert_int_equal(f->fs->jhdr->active_seq, seq);
	assert_int_equal(pfs_tx_begin(f->fs, &tx), -EROFS);
	assert_int_equal(pfs_mknod(f->fs, f->root, "x", S_IFREG | 0644, 0, &f->cred, &a), -EROFS);
	fx_free(f);
}

/* The undo is stored but not known durable: latch; the next mount undoes it again. */
static void test_rollback_that_cannot_persist_latches_and_recovery_redoes_it(void **state)
{
	struct fx *f = fx_new(16, 0);
	struct pfs_inode_pm *root = pfs_inode_at(f->fs, PFS_ROOT_SLOT);
	uint64_t seq = f->fs->jhdr->active_seq;
	uint32_t uid = root->uid;
	struct pfs_fault fault = { 0 };
	struct pfs_check_result res;
	struct pfs_attr a;
	struct pfs_tx *tx;

	assert_int_equal(pfs_tx_begin(f->fs, &tx), 0);
	assert_int_equal(pfs_tx_set_u32(tx, &root->uid, 77), 0);
	pfs_fault_attach(f->fs, &fault);
	pfs_fault_arm(&fault, PFS_FAULT_PERSIST, 1, true);
	pfs_tx_abort(tx);
	pfs_fault_attach(f->fs, NULL);
	assert_true(pfs_is_readonly(f->fs));
	assert_int_equal(f->fs->jhdr->active_seq, seq);
	pfs_unmount(f->fs);
	assert_int_equal(pfs_mount(f->dev, 0, &f->fs), 0);
	assert_false(pfs_is_readonly(f->fs));
	/* recovery advanced past the aborted seq; the mount count commit took the next */
	assert_true(f->fs->jhdr->active_seq >= seq + 1);
	assert_int_equal(pfs_getattr(f->fs, f->root, &a), 0);
	assert_int_equal(a.uid, uid);
	pfs_unmount(f->fs);
	assert_int_equal(pfs_check(f->dev, PFS_CHECK_QUIET, NULL, NULL, &res), 0);
	assert_int_equal(res.problems, 0);
	assert_int_equal(pfs_mount(f->dev, 0, &f->fs), 0);
	fx_free(f);
}

/* A failed persist before the commit point aborts; the commit point's own latches. */
static void test_failed_persist_at_commit_aborts_or_latches(void **state)
{
	struct fx *f = fx_new(16, 0);
	struct pfs_inode_pm *root = pfs_inode_at(f->fs, PFS_ROOT_SLOT);
	uint32_t uid = root->uid;
	struct pfs_fault fault = { 0 };
	struct pfs_tx *tx;

	pfs_fault_attach(f->fs, &fault);
	/* drains: the record, then the one before the commit point */
	assert_int_equal(pfs_tx_begin(f->fs, &tx), 0);
	pfs_fault_arm(&fault, PFS_FAULT_PERSIST, 2, false);
	assert_int_equal(pfs_tx_set_u32(tx, &root->uid, 77), 0);
	assert_int_equal(pfs_tx_commit(tx), -EIO);
	assert_int_equal(root->uid, uid);
	assert_false(pfs_is_readonly(f->fs));
	/* the third: the commit point itself */
	assert_int_equal(pfs_tx_begin(f->fs, &tx), 0);
	pfs_fault_arm(&fault, PFS_FAULT_PERSIST, 3, false);
	assert_int_equal(pfs_tx_set_u32(tx, &root->uid, 77), 0);
	assert_int_equal(pfs_tx_commit(tx), -EIO);
	assert_true(pfs_is_readonly(f->fs));
	pfs_fault_attach(f->fs, NULL);
	fx_free(f);
}

/* The line table grows past its first size; when that allocation fails the tx aborts whole. */
static void test_line_table_that_cannot_grow_aborts_cleanly(void **state)
{
	struct fx *f = fx_new(8, 0);
	struct pfs_fault fault = { 0 };
	char *snap = malloc(8 << 20);
	size_t off = f->fs->sb.ibitmap_start << 12;
	struct pfs_tx *tx;
	int rc = 0;

	memcpy(snap, pfs_device_base(f->dev), 8 << 20);
	pfs_fault_attach(f->fs, &fault);
	pfs_fault_arm(&fault, PFS_FAULT_ALLOC, 1, false);
	assert_int_equal(pfs_tx_begin(f->fs, &tx), 0);
	for (unsigned line = 0; line < 4096 && !rc; line++) {
		char *blk = pfs_blk(f->fs, f->fs->sb.data_start + 1);

		rc = pfs_tx_zero(tx, blk + line * 64, 8);
	}
	assert_int_equal(rc, -ENOMEM);
	assert_int_equal(fault.fired[PFS_FAULT_ALLOC], 1);
	pfs_tx_abort(tx);
	pfs_fault_attach(f->fs, NULL);
	assert_false(pfs_is_readonly(f->fs));
	assert_memory_equal((char *)pfs_device_base(f->dev) + off, snap + off, (8 << 20) - off);
	free(snap);
	fx_free(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_abort_restores_every_changed_byte),
		cmocka_unit_test(test_interrupted_transaction_rolls_back_at_mount),
		cmocka_unit_test(test_committed_transaction_survives_power_cut),
		cmocka_unit_test(test_torn_record_is_ignored),
		cmocka_unit_test(test_journal_full_aborts_cleanly),
		cmocka_unit_test(test_rollback_of_a_full_journal_allocates_nothing),
		cmocka_unit_test(test_failed_rollback_latches_read_only_and_keeps_the_seq),
		cmocka_unit_test(test_rollback_that_cannot_persist_latches_and_recovery_redoes_it),
		cmocka_unit_test(test_failed_persist_at_commit_aborts_or_latches),
		cmocka_unit_test(test_line_table_that_cannot_grow_aborts_cleanly),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
