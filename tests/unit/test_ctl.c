// SPDX-License-Identifier: MIT
/*
 * The topology tree and its control-file parsing and provisioning policy,
 * over the test double at the libndctl seam (the real stack is tested in the
 * QEMU guest, tests/vm/).
 */
#include <errno.h>
#include <json-c/json.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "ctl.h"
#include "ctl_int.h"
#include "nd_fake.h"
#include "pmemfs/pmemfs.h"

struct cx {
	struct nd_fake fake;
	struct pfs_ctl *ctl;
};

static void quiet(enum pfs_log_level lvl, const char *msg)
{
	(void)lvl;
	(void)msg;
}

static int setup(void **state)
{
	struct cx *c = calloc(1, sizeof(*c));
	struct nd_backend be;

	pfs_log_set_sink(quiet, PFS_LOG_ERR);
	nd_fake_init(&c->fake);
	nd_fake_backend(&c->fake, &be);
	assert_int_equal(pfs_ctl_new(&be, "/nonexistent/device", &c->ctl), 0);
	*state = c;
	return 0;
}

static int teardown(void **state)
{
	struct cx *c = *state;

	pfs_ctl_free(c->ctl);
	nd_fake_fini(&c->fake);
	free(c);
	return 0;
}

/* Walks a path from the root; returns the node id or 0. */
static uint64_t walk(struct cx *c, const char *path, struct pfs_ctl_stat *st)
{
	char buf[256], *save = NULL;
	uint64_t id = PFS_CTL_ROOT_ID;

	snprintf(buf, sizeof(buf), "%s", path);
	for (char *tok = strtok_r(buf, "/", &save); tok; tok = strtok_r(NULL, "/", &save)) {
		if (pfs_ctl_lookup(c->ctl, id, tok, st))
			return 0;
		id = st->id;
	}
	return id;
}

static char *read_text(struct cx *c, const char *path)
{
	struct pfs_ctl_stat st;
	uint64_t id = walk(c, path, &st);
	char *text = NULL;
	size_t len;

	assert_int_not_equal(id, 0);
	assert_int_equal(pfs_ctl_read(c->ctl, id, &text, &len), 0);
	return text;
}

static int write_text(struct cx *c, const char *path, const char *s, uint32_t uid)
{
	struct pfs_ctl_stat st;
	uint64_t id = walk(c, path, &st);

	assert_int_not_equal(id, 0);
	return pfs_ctl_write(c->ctl, id, uid, s, strlen(s));
}

static void assert_text(struct cx *c, const char *path, const char *want)
{
	char *t = read_text(c, path);

	assert_string_equal(t, want);
	free(t);
}

struct names {
	char all[2048];
};

static int collect(void *arg, const char *name, const struct pfs_ctl_stat *st)
{
	struct names *n = arg;

	strcat(n->all, name);
	strcat(n->all, " ");
	return 0;
}

static void test_root_lists_the_topology_directories(void **state)
{
	struct cx *c = *state;
	struct names n = { "" };

	assert_int_equal(pfs_ctl_readdir(c->ctl, PFS_CTL_ROOT_ID, collect, &n), 0);
	assert_string_equal(n.all, "regions namespaces dimms topology.json ");
}

static void test_region_attributes_read_as_ndctl_values(void **state)
{
	struct cx *c = *state;

	assert_text(c, "regions/region0/size", "1073741824\n");
	assert_text(c, "regions/region0/available_size", "805306368\n");
	assert_text(c, "regions/region0/type", "pmem\n");
	assert_text(c, "regions/region0/persistence_domain", "memory_controller\n");
	assert_text(c, "regions/region0/iset_id", "0x2468ac00123456\n");
	assert_text(c, "regions/region0/mappings", "nmem0 0 1073741824 0\n");
	assert_text(c, "regions/region0/ns0/mode", "fsdax\n");
	assert_text(c, "regions/region0/ns0/name", "first\n");
	assert_text(c, "regions/region0/ns0/blockdev", "pmem0.0\n");
	assert_text(c, "dimms/nmem0/handle", "0x1\n");
}

static void test_label_less_region_has_no_iset_and_readonly_size(void **state)
{
	struct cx *c = *state;
	struct pfs_ctl_stat st;

	assert_int_equal(walk(c, "regions/region1/iset_id", &st), 0);
	assert_int_not_equal(walk(c, "regions/region1/ns0/size", &st), 0);
	assert_int_equal(st.mode, 0444);
	assert_int_not_equal(walk(c, "regions/region0/ns0/size", &st), 0);
	assert_int_equal(st.mode, 0644);
}

static void test_namespaces_link_to_their_directories(void **state)
{
	struct cx *c = *state;
	struct pfs_ctl_stat st;
	char buf[128];
	uint64_t id = walk(c, "namespaces/namespace0.0", &st);

	assert_int_equal(st.kind, PFS_CTL_LINK);
	assert_int_equal(pfs_ctl_readlink(c->ctl, id, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "../regions/region0/ns0");
}

static void test_mode_write_reconfigures(void **state)
{
	struct cx *c = *state;

	assert_int_equal(write_text(c, "regions/region0/ns0/mode", "devdax\n", 0), 0);
	assert_int_equal(c->fake.calls, 1);
	assert_text(c, "regions/region0/ns0/mode", "devdax\n");
	assert_text(c, "regions/region0/ns0/chardev", "dax0.0\n");
	assert_text(c, "regions/region0/ns0/name", "first\n");
	/* the kernel's spelling too */
	assert_int_equal(write_text(c, "regions/region0/ns0/mode", "memory", 0), 0);
	assert_text(c, "regions/region0/ns0/mode", "fsdax\n");
}

static void test_malformed_writes_fail_with_einval_and_change_nothing(void **state)
{
	struct cx *c = *state;
	char *err;

	assert_int_equal(write_text(c, "regions/region0/ns0/mode", "bogus\n", 0), -EINVAL);
	assert_int_equal(write_text(c, "regions/region0/ns0/mode", "fs\x01" "dax", 0), -EINVAL);
	assert_int_equal(write_text(c, "regions/region0/ns0/mode", "\n", 0), -EINVAL);
	assert_int_equal(write_text(c, "regions/region0/ns0/size", "12Q", 0), -EINVAL);
	assert_int_equal(write_text(c, "regions/region0/ns0/enabled", "2", 0), -EINVAL);
	assert_int_equal(write_text(c, "regions/region0/ns0/destroy", "yes", 0), -EINVAL);
	assert_int_equal(write_text(c, "regions/region0/create", "size=1G colour=red", 0), -EINVAL);
	assert_int_equal(write_text(c, "regions/region0/create", "size", 0), -EINVAL);
	assert_int_equal(write_text(c, "regions/region0/create", "size=1M size=2M", 0), -EINVAL);
	assert_int_equal(write_text(c, "regions/region0/create", "mode=fast", 0), -EINVAL);
	assert_int_equal(c->fake.calls, 0);
	assert_text(c, "regions/region0/ns0/mode", "fsdax\n");
	err = read_text(c, "regions/region0/last_error");
	assert_non_null(strstr(err, "given twice") ?: strstr(err, "mode"));
	free(err);
}

static void test_only_root_writes_control_files(void **state)
{
	struct cx *c = *state;

	assert_int_equal(write_text(c, "regions/region0/ns0/mode", "devdax", 1000), -EACCES);
	assert_int_equal(c->fake.calls, 0);
}

static void test_attribute_files_are_read_only(void **state)
{
	struct cx *c = *state;

	assert_int_equal(write_text(c, "regions/region0/size", "1", 0), -EACCES);
	assert_int_equal(write_text(c, "regions/region1/ns0/size", "64M", 0), -EACCES);
}

static void test_create_rounds_up_and_reports_it(void **state)
{
	struct cx *c = *state;
	char *res;

	assert_int_equal(write_text(c, "regions/region0/create",
				    "size=200M mode=devdax name=db align=2M\n", 0), 0);
	assert_int_equal(c->fake.last.size, 208u << 20); /* 16 MiB region alignment */
	assert_int_equal(c->fake.last.mode, ND_MODE_DEVDAX);
	assert_string_equal(c->fake.last.name, "db");
	assert_text(c, "regions/region0/ns1/mode", "devdax\n");
	res = read_text(c, "regions/region0/last_result");
	assert_non_null(strstr(res, "rounded up"));
	free(res);
}

static void test_create_refuses_duplicate_name_and_no_space(void **state)
{
	struct cx *c = *state;

	assert_int_equal(write_text(c, "regions/region0/create", "size=64M name=first", 0),
			 -EEXIST);
	assert_int_equal(write_text(c, "regions/region0/create", "size=2G", 0), -ENOSPC);
	assert_int_equal(write_text(c, "regions/region1/create", "size=64M", 0), -EOPNOTSUPP);
	assert_int_equal(c->fake.calls, 0);
}

static void test_destroy_removes_the_namespace(void **state)
{
	struct cx *c = *state;
	struct pfs_ctl_stat st;

	assert_int_equal(write_text(c, "regions/region0/ns0/destroy", "1\n", 0), 0);
	assert_int_equal(walk(c, "regions/region0/ns0", &st), 0);
	assert_text(c, "regions/region0/available_size", "1073741824\n");
}

static void test_namespace_in_use_is_busy(void **state)
{
	struct cx *c = *state;

	c->fake.topo.regions[0].ns[0].dax_system_ram = true;
	assert_int_equal(write_text(c, "regions/region0/ns0/mode", "raw", 0), -EBUSY);
	assert_int_equal(write_text(c, "regions/region0/ns0/destroy", "1", 0), -EBUSY);
	assert_int_equal(write_text(c, "regions/region0/enabled", "0", 0), -EBUSY);
	assert_int_equal(c->fake.calls, 0);
}

static void test_backend_failure_is_reported_in_last_error(void **state)
{
	struct cx *c = *state;
	char *err;

	c->fake.fail_next = -EIO;
	assert_int_equal(write_text(c, "regions/region0/ns0/mode", "sector", 0), -EIO);
	err = read_text(c, "regions/region0/ns0/last_error");
	assert_non_null(strstr(err, "injected failure"));
	free(err);
}

static void test_outside_changes_show_on_next_lookup(void **state)
{
	struct cx *c = *state;
	struct pfs_ctl_stat st;

	assert_int_equal(walk(c, "regions/region0/ns0", &st) != 0, 1);
	c->fake.topo.regions[0].nns = 0; /* "ndctl destroy-namespace" behind our back */
	assert_int_equal(walk(c, "regions/region0/ns0", &st), 0);
}

static void test_topology_json_uses_ndctl_names(void **state)
{
	struct cx *c = *state;
	char *text = read_text(c, "topology.json");
	struct json_object *root = json_tokener_parse(text), *regions, *r0, *v, *nss;

	assert_non_null(root);
	assert_true(json_object_object_get_ex(root, "regions", &regions));
	assert_int_equal(json_object_array_length(regions), 2);
	r0 = json_object_array_get_idx(regions, 0);
	assert_true(json_object_object_get_ex(r0, "dev", &v));
	assert_string_equal(json_object_get_string(v), "region0");
	assert_true(json_object_object_get_ex(r0, "max_available_extent", &v));
	assert_true(json_object_object_get_ex(r0, "namespaces", &nss));
	assert_true(json_object_object_get_ex(json_object_array_get_idx(nss, 0), "mode", &v));
	assert_string_equal(json_object_get_string(v), "fsdax");
	assert_true(json_object_object_get_ex(root, "dimms", &v));
	json_object_put(root);
	free(text);
}

static void test_size_parser_accepts_ndctl_suffixes(void **state)
{
	uint64_t v;

	assert_int_equal(ctl_parse_size("256M", &v), 0);
	assert_int_equal(v, 256u << 20);
	assert_int_equal(ctl_parse_size("1GiB", &v), 0);
	assert_int_equal(v, 1u << 30);
	assert_int_equal(ctl_parse_size("4096", &v), 0);
	assert_int_equal(v, 4096);
	assert_int_equal(ctl_parse_size("-1", &v), -EINVAL);
	assert_int_equal(ctl_parse_size("1X", &v), -EINVAL);
	assert_int_equal(ctl_parse_size("99999999999999999999T", &v), -EINVAL);
	assert_int_equal(ctl_parse_size("20000000T", &v), -EINVAL);
}

static void test_stale_node_id_is_estale(void **state)
{
	struct cx *c = *state;
	struct pfs_ctl_stat st;

	assert_int_equal(pfs_ctl_getattr(c->ctl, 999999, &st), -ESTALE);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_root_lists_the_topology_directories),
		T(test_region_attributes_read_as_ndctl_values),
		T(test_label_less_region_has_no_iset_and_readonly_size),
		T(test_namespaces_link_to_their_directories),
		T(test_mode_write_reconfigures),
		T(test_malformed_writes_fail_with_einval_and_change_nothing),
		T(test_only_root_writes_control_files),
		T(test_attribute_files_are_read_only),
		T(test_create_rounds_up_and_reports_it),
		T(test_create_refuses_duplicate_name_and_no_space),
		T(test_destroy_removes_the_namespace),
		T(test_namespace_in_use_is_busy),
		T(test_backend_failure_is_reported_in_last_error),
		T(test_outside_changes_show_on_next_lookup),
		T(test_topology_json_uses_ndctl_names),
		T(test_size_parser_accepts_ndctl_suffixes),
		T(test_stale_node_id_is_estale),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
