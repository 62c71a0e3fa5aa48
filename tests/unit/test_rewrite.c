/* test_rewrite.c: the pure parts of the rewrite engine: outcome classification, etcd key order, the PUT
 * body, option checks, the ETA, and the status read back from a real state db (checkpoints per scope,
 * estimate, orphans, budget decisions). The budget itself is tested in test_budget.c. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "../../src/rewrite/rewrite_internal.h"
#include "rekey/rewrite.h"
#include "rekey/store.h"
#include "testutil.h"

START_TEST(put_outcomes)
{
	ck_assert_int_eq(rk_outcome_of_put(200, "10", "11"), RK_OUT_REWRITTEN);
	ck_assert_int_eq(rk_outcome_of_put(200, "10", "10"), RK_OUT_CURRENT);
	ck_assert_int_eq(rk_outcome_of_put(200, "10", NULL), RK_OUT_FAILED);
	ck_assert_int_eq(rk_outcome_of_put(409, "10", NULL), RK_OUT_CONFLICT);
	ck_assert_int_eq(rk_outcome_of_put(404, "10", NULL), RK_OUT_CHECK);
	ck_assert_int_eq(rk_outcome_of_put(0, "10", NULL), RK_OUT_FAILED);
	ck_assert_int_eq(rk_outcome_of_put(503, "10", NULL), RK_OUT_FAILED);
	ck_assert_int_eq(rk_outcome_of_put(422, "10", NULL), RK_OUT_FAILED);
	ck_assert_int_eq(rk_outcome_of_get(404), RK_OUT_GONE);
	ck_assert_int_eq(rk_outcome_of_get(200), RK_OUT_ORPHAN);
	ck_assert_int_eq(rk_outcome_of_get(500), RK_OUT_FAILED);
	ck_assert_str_eq(rk_outcome_name(RK_OUT_ORPHAN), "orphan");
}
END_TEST

START_TEST(counts_add_and_sum)
{
	rk_counts c = {0}, d = {0};
	rk_counts_add(&c, RK_OUT_REWRITTEN);
	rk_counts_add(&c, RK_OUT_REWRITTEN);
	rk_counts_add(&c, RK_OUT_GONE);
	rk_counts_add(&c, RK_OUT_CHECK); /* never final: counted as failed, never as done */
	ck_assert_int_eq(c.rewritten, 2);
	ck_assert_int_eq(c.gone, 1);
	ck_assert_int_eq(c.failed, 1);
	ck_assert_int_eq(rk_counts_sum(&c), 4);
	rk_counts_merge(&d, &c);
	rk_counts_merge(&d, &c);
	ck_assert_int_eq(d.rewritten, 4);
	ck_assert_int_eq(rk_counts_sum(&d), 8);
}
END_TEST

START_TEST(key_order_is_etcd_order)
{
	/* "a-b/x" < "a/x" in etcd because '-' (0x2d) < '/' (0x2f): a (ns, name) tuple order would be wrong */
	ck_assert_int_lt(rk_objkey_cmp("a-b", "x", "a", "x"), 0);
	ck_assert_int_gt(rk_objkey_cmp("a", "x", "a-b", "x"), 0);
	ck_assert_int_lt(rk_objkey_cmp("a", "x", "a", "y"), 0);
	ck_assert_int_eq(rk_objkey_cmp("ns", "s1", "ns", "s1"), 0);
	ck_assert_int_lt(rk_objkey_cmp("ns", "s1", "ns", "s10"), 0);
	ck_assert_int_lt(rk_objkey_cmp("", "n1", "", "n2"), 0); /* cluster-scoped */
	ck_assert_int_gt(rk_objkey_cmp("b", "a", "a", "zzz"), 0);
}
END_TEST

START_TEST(put_body_adds_type)
{
	json_t *item = json_pack("{s{ssssss}s{ss}}", "metadata", "name", "s1", "namespace", "ns",
	                         "resourceVersion", "42", "data", "k", "dg==");
	char *body = rk_rewrite_put_body(item, "v1", "Secret");
	ck_assert_ptr_nonnull(body);
	json_t *back = json_loads(body, 0, NULL);
	ck_assert_str_eq(json_string_value(json_object_get(back, "apiVersion")), "v1");
	ck_assert_str_eq(json_string_value(json_object_get(back, "kind")), "Secret");
	ck_assert_str_eq(
	    json_string_value(json_object_get(json_object_get(back, "metadata"), "resourceVersion")), "42");
	ck_assert(json_equal(json_object_get(back, "data"), json_object_get(item, "data")));
	ck_assert_ptr_null(json_object_get(item, "kind")); /* the listed item is left alone */
	json_decref(back);
	json_decref(item);
	free(body);
}
END_TEST

START_TEST(opts_checked)
{
	rk_rewrite_opts o;
	rk_err err;
	rk_rewrite_opts_init(&o);
	ck_assert_int_eq(rk_rewrite_opts_check(&o, &err), RK_BADINPUT); /* no cluster */
	o.cluster = "c";
	ck_assert_int_eq(rk_rewrite_opts_check(&o, &err), RK_OK);
	o.settings.concurrency = 0;
	ck_assert_int_eq(rk_rewrite_opts_check(&o, &err), RK_BADINPUT);
	ck_assert(strstr(err.msg, "concurrency") != NULL);
	o.settings.concurrency = 8;
	o.settings.budget_errors = 1.5;
	ck_assert_int_eq(rk_rewrite_opts_check(&o, &err), RK_BADINPUT);
	o.settings.budget_errors = 0;
	const char *res[] = {""};
	o.resources = res;
	o.nresources = 1;
	ck_assert_int_eq(rk_rewrite_opts_check(&o, &err), RK_BADINPUT);
	o.nresources = 0;
	o.settings.budget_errors = -1; /* none */
	ck_assert_int_eq(rk_rewrite_opts_check(&o, &err), RK_OK);
	const char *eps[] = {"https://10.0.0.1:6443", "10.0.0.2:6443", "https://10.0.0.1:6443"};
	o.endpoints = eps;
	o.nendpoints = 1;
	ck_assert_int_eq(rk_rewrite_opts_check(&o, &err), RK_OK);
	o.nendpoints = 2; /* no scheme */
	ck_assert_int_eq(rk_rewrite_opts_check(&o, &err), RK_BADINPUT);
	ck_assert(strstr(err.msg, "10.0.0.2:6443") != NULL);
	eps[1] = eps[0]; /* twice */
	ck_assert_int_eq(rk_rewrite_opts_check(&o, &err), RK_BADINPUT);
	ck_assert(strstr(err.msg, "twice") != NULL);
	o.nendpoints = RK_REWRITE_MAX_ENDPOINTS + 1;
	ck_assert_int_eq(rk_rewrite_opts_check(&o, &err), RK_BADINPUT);
	o.nendpoints = 0;
	/* the window and the repeat bound a kill -9 can cost */
	o.settings.batch_size = 50;
	o.settings.concurrency = 4;
	ck_assert_uint_eq(rk_rewrite_window(&o.settings), 50);
	ck_assert_uint_eq(rk_rewrite_repeat_bound(&o.settings), 100);
	o.settings.concurrency = 64;
	ck_assert_uint_eq(rk_rewrite_window(&o.settings), 256);
	ck_assert_uint_eq(rk_rewrite_repeat_bound(&o.settings), 306);
	o.settings.concurrency = 8;
	o.settings.batch_size = 200;
	/* the two sets of defaults, side by side in rewrite_settings.c: both in range, a rotation throttled
	 */
	rk_rewrite_settings cli, rotation;
	rk_rewrite_settings_init(&cli);
	rk_rewrite_settings_init_rotation(&rotation);
	ck_assert_int_eq(rk_rewrite_settings_check(&cli, &err), RK_OK);
	ck_assert_int_eq(rk_rewrite_settings_check(&rotation, &err), RK_OK);
	ck_assert(cli.qps == 0 && cli.budget_errors < 0 && cli.budget_p99_ms == 0);
	ck_assert(rotation.qps == 100 && rotation.burst == 200 && rotation.budget_p99_ms == 500);
	ck_assert_int_eq(rotation.concurrency, cli.concurrency);
	ck_assert_double_eq_tol(rk_eta_s(50, 150, 10), 10, 1e-9);
	ck_assert_double_eq_tol(rk_eta_s(50, -1, 10), -1, 1e-9);
	ck_assert_double_eq_tol(rk_eta_s(50, 150, 0), -1, 1e-9);
}
END_TEST

START_TEST(status_from_store)
{
	char *dir = tu_mkdtemp();
	rk_store *store = NULL;
	rk_err err;
	int64_t run = 0;
	ck_assert_int_eq(rk_store_open(dir, &store, &err), RK_OK);
	rk_run_spec spec = {.cluster = "prod", .kind = "rewrite"};
	ck_assert_int_eq(rk_store_run_create(store, &spec, &run, &err), RK_OK);
	ck_assert_int_eq(rk_store_stage_done(store, run, "rewrite.estimate", NULL, "total=500", &err), RK_OK);
	rk_checkpoint cp;
	memset(&cp, 0, sizeof cp);
	strcpy(cp.resource, "secrets");
	strcpy(cp.scope, "ns1");
	strcpy(cp.last_namespace, "ns1");
	strcpy(cp.last_name, "s9");
	cp.counts.rewritten = 90;
	cp.counts.current = 10;
	rk_orphan_ref orphan = {"ns1", "lost"};
	ck_assert_int_eq(rk_store_checkpoint_save(store, run, &cp, &orphan, 1, &err), RK_OK);
	strcpy(cp.scope, "ns2"); /* same resource, second scope: totals are per resource, not added twice */
	cp.counts.rewritten = 150;
	cp.done = 1;
	ck_assert_int_eq(rk_store_checkpoint_save(store, run, &cp, NULL, 0, &err), RK_OK);
	rk_budget_record rec = {.decision = "slowdown", .p99_ms = 300, .rate_before = 200, .rate_after = 100};
	ck_assert_int_eq(rk_store_budget_insert(store, run, &rec, &err), RK_OK);
	rk_rewrite_status st;
	int found = 0;
	ck_assert_int_eq(rk_rewrite_status_get(store, "prod", 0, &st, &found, &err), RK_OK);
	ck_assert_int_eq(found, 1);
	ck_assert_int_eq(st.run.id, run);
	ck_assert_int_eq(st.counts.rewritten, 150);
	ck_assert_int_eq(st.done, 160);
	ck_assert_int_eq(st.total, 500);
	ck_assert_int_eq(st.orphans, 1);
	ck_assert_int_eq(st.scopes, 2);
	ck_assert_int_eq(st.scopes_done, 1);
	ck_assert_str_eq(st.budget, "slowdown");
	ck_assert_int_eq(st.budget_decisions, 1);
	ck_assert_int_eq(rk_rewrite_status_get(store, "other", 0, &st, &found, &err), RK_OK);
	ck_assert_int_eq(found, 0);
	rk_store_close(store);
	tu_rmtree(dir);
	free(dir);
}
END_TEST

Suite *rewrite_suite(void)
{
	Suite *s = suite_create("rewrite");
	TCase *tc = tcase_create("pure");
	tcase_add_test(tc, put_outcomes);
	tcase_add_test(tc, counts_add_and_sum);
	tcase_add_test(tc, key_order_is_etcd_order);
	tcase_add_test(tc, put_body_adds_type);
	tcase_add_test(tc, opts_checked);
	tcase_add_test(tc, status_from_store);
	suite_add_tcase(s, tc);
	return s;
}
