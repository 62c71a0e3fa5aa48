/* test_rewrite.c: the pure parts of the rewrite engine: outcome classification, etcd key order, the PUT
 * body, option checks, the ETA, and the status read back from a real state db (checkpoints per scope,
 * estimate, orphans, budget decisions). The budget itself is tested in test_budget.c. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "../../src/rewrite/rewrite_engine_internal.h"
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
	/* a retried failure that is rewritten now, an orphan found deleted: the total stays */
	rk_counts_move(&c, RK_OUT_FAILED, RK_OUT_REWRITTEN);
	ck_assert_int_eq(c.failed, 0);
	ck_assert_int_eq(c.rewritten, 3);
	rk_counts_move(&c, RK_OUT_ORPHAN, RK_OUT_GONE); /* never below zero */
	ck_assert_int_eq(c.orphan, 0);
	ck_assert_int_eq(c.gone, 2);
	ck_assert_int_eq(rk_counts_sum(&c), 5);
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

/* Any number of endpoints, each with its own state and stats (a rotation passes every node's apiserver;
 * more than 32 were refused, and a rotation dropped them). */
START_TEST(endpoints_any_number)
{
	enum { N = 40 };
	char urls[N][32];
	const char *eps[N];
	for (int i = 0; i < N; i++) {
		snprintf(urls[i], sizeof urls[i], "https://10.0.0.%d:6443", i + 1);
		eps[i] = urls[i];
	}
	rk_rewrite_opts o;
	rk_err err;
	rk_rewrite_opts_init(&o);
	o.cluster = "c";
	o.endpoints = eps;
	o.nendpoints = N;
	ck_assert_msg(rk_rewrite_opts_check(&o, &err) == RK_OK, "%s", err.msg);
	rk_rw_engine e;
	memset(&e, 0, sizeof e);
	e.opts = &o;
	ck_assert_msg(rk_rw_endpoints_new(&e, &err) == RK_OK, "%s", err.msg);
	ck_assert_uint_eq(e.neps, N);
	ck_assert_str_eq(e.eps[N - 1].url, "https://10.0.0.40:6443");
	ck_assert_str_eq(e.eps[N - 1].stats.url, "https://10.0.0.40:6443");
	rk_rw_endpoints_free(&e);
	o.endpoints = NULL; /* a count without a list */
	ck_assert_int_eq(rk_rewrite_opts_check(&o, &err), RK_BADINPUT);
}
END_TEST

/* A retry goes to another endpoint even when that one's budget makes new PUTs wait (it went back to the
 * endpoint that had just failed it, 10 times over, while the others were slowed down: 51_rewrite_spread
 * under load); never to a paused one. */
START_TEST(retry_goes_elsewhere)
{
	const char *eps[] = {"https://failing:1", "https://slowed:2", "https://paused:3"};
	rk_rewrite_opts o;
	rk_err err;
	rk_rewrite_opts_init(&o);
	o.cluster = "c";
	o.endpoints = eps;
	o.nendpoints = 3;
	rk_rw_engine e;
	memset(&e, 0, sizeof e);
	e.opts = &o;
	ck_assert_msg(rk_rw_endpoints_new(&e, &err) == RK_OK, "%s", err.msg);
	rk_throttle_init(&e.eps[1].throttle, 0.001, 1, 0, rk_clock_system());
	ck_assert(rk_throttle_try_acquire(&e.eps[1].throttle)); /* its next token is 1000 s away */
	ck_assert(rk_throttle_wait_ns(&e.eps[1].throttle) > 0);
	rk_throttle_set_paused(&e.eps[2].throttle, 1);
	double wait = 0;
	ck_assert_int_eq(rk_rw_endpoint_choose(&e, &wait), 0); /* a new PUT: only the unthrottled one */
	rk_rw_item it;
	memset(&it, 0, sizeof it);
	it.engine = &e;
	it.ep = 0;
	ck_assert_str_eq(rk_rw_endpoint_pick(&it, 1), eps[0]);
	ck_assert_str_eq(rk_rw_endpoint_pick(&it, 2), eps[1]); /* the retry: slowed, not failing or paused */
	rk_throttle_set_paused(&e.eps[1].throttle, 1);
	it.ep = 0;
	ck_assert_str_eq(rk_rw_endpoint_pick(&it, 3), eps[0]); /* every other one paused: where it was */
	rk_rw_endpoints_free(&e);
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
	rk_budget_record rec = {.decision = "slowdown",
	                        .p99_ms = 300,
	                        .rate_before = 200,
	                        .rate_after = 100,
	                        .signal = "server-p99"};
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
	ck_assert_uint_eq(st.nsignals, 1);
	ck_assert_str_eq(st.signals[0].signal, "server-p99");
	ck_assert_int_eq(st.signals[0].count, 1);
	ck_assert_int_eq(rk_rewrite_status_get(store, "other", 0, &st, &found, &err), RK_OK);
	ck_assert_int_eq(found, 0);
	/* a newer rotation of the cluster is shown (its rewrite stage), with its own decisions */
	int64_t rotation = 0;
	rk_run_spec rot_spec = {.cluster = "prod", .kind = "rotate"};
	ck_assert_int_eq(rk_store_run_create(store, &rot_spec, &rotation, &err), RK_OK);
	rec.decision = "pause";
	rec.signal = "5xx";
	for (int i = 0; i < 2; i++)
		ck_assert_int_eq(rk_store_budget_insert(store, rotation, &rec, &err), RK_OK);
	ck_assert_int_eq(rk_rewrite_status_get(store, "prod", 0, &st, &found, &err), RK_OK);
	ck_assert_int_eq(st.run.id, rotation);
	ck_assert_str_eq(st.run.kind, "rotate");
	ck_assert_uint_eq(st.nsignals, 1);
	ck_assert_str_eq(st.signals[0].decision, "pause");
	ck_assert_str_eq(st.signals[0].signal, "5xx");
	ck_assert_int_eq(st.signals[0].count, 2);
	ck_assert_int_eq(rk_rewrite_status_get(store, "prod", run, &st, &found, &err), RK_OK);
	ck_assert_str_eq(st.run.kind, "rewrite");
	rk_store_close(store);
	tu_rmtree(dir);
	free(dir);
}
END_TEST

/* The messages kube-apiserver v1.34 answers when its KMS v2 plugin fails it (docs/kms.md section 7,
 * observed with tests/realcp/kms_smoke.sh) pause the rewrite; other 5xx messages do not. */
START_TEST(kms_failures_are_recognised)
{
	const char *kms[] = {
	    "Internal error occurred: encryptedDEKSource with keyID hash "
	    "\"sha256:ccd4d51c2bbb2734dcf70cedb647f8aa5068719519d53c9140e1b98745b8f342\" expired at "
	    "2026-11-30T12:03:04Z (current time is 2026-11-30T12:03:05Z)",
	    "Internal error occurred: got unexpected nil transformer",
	    "Internal error occurred: failed to decrypt DEK, error: rpc error: code = Internal desc = boom",
	    "Internal error occurred: failed to encrypt DEK, error: rpc error: code = Unavailable desc = x"};
	for (size_t i = 0; i < sizeof kms / sizeof kms[0]; i++)
		ck_assert_msg(rk_rewrite_kms_failure(kms[i]), "%s", kms[i]);
	const char *other[] = {NULL, "", "etcdserver: request timed out",
	                       "Internal error occurred: resource quota",
	                       "the server is currently unable to handle the request"};
	for (size_t i = 0; i < sizeof other / sizeof other[0]; i++)
		ck_assert(!rk_rewrite_kms_failure(other[i]));
}
END_TEST

/* A KMS failure answer ends the request once it was tried `tries` times; other answers go on retrying. */
START_TEST(kms_failure_final_after_tries)
{
	rk_kube_resp r = {.http_status = 500, .attempts = 1};
	r.message = "Internal error occurred: got unexpected nil transformer";
	ck_assert(!rk_rewrite_kms_final(&r, 3));
	r.attempts = 3;
	ck_assert(rk_rewrite_kms_final(&r, 3));
	r.attempts = 2;
	ck_assert(rk_rewrite_kms_final(&r, 2));
	r.message = "etcdserver: request timed out";
	ck_assert(!rk_rewrite_kms_final(&r, 2));
	r.message = "Internal error occurred: failed to encrypt DEK, error: rpc error: code = Unavailable";
	r.http_status = 429;
	ck_assert(!rk_rewrite_kms_final(&r, 2));
	r.http_status = 0;
	ck_assert(!rk_rewrite_kms_final(&r, 2));
}
END_TEST

Suite *rewrite_suite(void)
{
	Suite *s = suite_create("rewrite");
	TCase *tc = tcase_create("pure");
	tcase_add_test(tc, put_outcomes);
	tcase_add_test(tc, kms_failures_are_recognised);
	tcase_add_test(tc, kms_failure_final_after_tries);
	tcase_add_test(tc, counts_add_and_sum);
	tcase_add_test(tc, key_order_is_etcd_order);
	tcase_add_test(tc, put_body_adds_type);
	tcase_add_test(tc, opts_checked);
	tcase_add_test(tc, endpoints_any_number);
	tcase_add_test(tc, retry_goes_elsewhere);
	tcase_add_test(tc, status_from_store);
	suite_add_tcase(s, tc);
	return s;
}
