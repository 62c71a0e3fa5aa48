/* test_etcdscan.c: the scan accounting over the committed etcd 3.4 snapshot (secrets/a/s1 under
 * aescbc k1, configmaps/a/c1 identity): rows, expectations, --forbid, resource filters, the
 * --config expectation and decrypt check (rules built in C), option errors, and both output formats. */
#include <check.h>
#include <jansson.h>
#include <string.h>

#include "rekey/etcdscan.h"

#define FIXTURE "tests/fuzz/corpus/snapshot/etcd-3.4-small.db"

static rk_scan_report *scan(rk_scan_opts *o)
{
	rk_scan_report *r = NULL;
	rk_err err;
	o->snapshot_path = FIXTURE;
	ck_assert_msg(rk_etcdscan_run(o, &r, &err) == RK_OK, "%s", err.msg);
	return r;
}

static const rk_scan_row *row(const rk_scan_report *r, const char *resource)
{
	for (size_t i = 0; i < r->nrows; i++)
		if (!strcmp(r->rows[i].resource, resource))
			return &r->rows[i];
	return NULL;
}

START_TEST(counts_without_expectation)
{
	rk_scan_opts o = {0};
	rk_scan_report *r = scan(&o);
	ck_assert_uint_eq(r->total, 2);
	ck_assert_uint_eq(r->nrows, 2);
	const rk_scan_row *s = row(r, "secrets");
	ck_assert_ptr_nonnull(s);
	ck_assert_str_eq(s->provider, "aescbc");
	ck_assert_str_eq(s->key, "k1");
	ck_assert_uint_eq(s->count, 1);
	ck_assert_int_eq(rk_scan_verdict(r), RK_OK);
	rk_scan_report_free(r);
}
END_TEST

START_TEST(expect_and_forbid)
{
	rk_scan_opts o = {.expect = "k1"};
	rk_scan_report *r = scan(&o);
	ck_assert_uint_eq(r->unexpected, 1);
	ck_assert_uint_eq(r->nitems, 1);
	ck_assert_str_eq(r->items[0].etcd_key, "/registry/configmaps/a/c1");
	ck_assert_ptr_nonnull(strstr(r->items[0].reason, "expected key \"k1\""));
	ck_assert_int_eq(rk_scan_verdict(r), RK_FAIL);
	rk_scan_report_free(r);
	const char *only[] = {"secrets"};
	rk_scan_opts f = {.forbid = "k1", .resources = only, .nresources = 1};
	r = scan(&f);
	ck_assert_uint_eq(r->total, 1);
	ck_assert_uint_eq(r->forbidden, 1);
	ck_assert_str_eq(r->items[0].etcd_key, "/registry/secrets/a/s1");
	ck_assert_int_eq(rk_scan_verdict(r), RK_FAIL);
	rk_scan_report_free(r);
}
END_TEST

START_TEST(config_expectation_and_decrypt_check)
{
	/* the fixture's s1 is "k8s:enc:aescbc:v1:k1:" + 32 ASCII bytes: not a real ciphertext */
	static rk_key k1[] = {{.name = "k1", .secret = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="}};
	static char *secrets[] = {"secrets"};
	rk_provider p = {.type = RK_PROV_AESCBC, .ntypes = 1, .keys = k1, .nkeys = 1};
	rk_rule rule = {.resources = secrets, .nresources = 1, .providers = &p, .nproviders = 1};
	rk_encconfig cfg = {.path = "test", .rules = &rule, .nrules = 1};
	rk_scan_opts o = {.config = &cfg};
	rk_scan_report *r = scan(&o);
	ck_assert_uint_eq(r->unexpected, 0); /* secrets under k1, configmaps identity (no rule) */
	ck_assert_uint_eq(r->decrypt_checked, 2);
	ck_assert_uint_eq(r->decrypt_failed, 1);
	ck_assert_str_eq(r->items[0].etcd_key, "/registry/secrets/a/s1");
	ck_assert_msg(strstr(r->items[0].reason, "aescbc key \"k1\""), "%s", r->items[0].reason);
	ck_assert_int_eq(rk_scan_verdict(r), RK_FAIL);
	rk_scan_report_free(r);
}
END_TEST

START_TEST(bad_options)
{
	rk_scan_report *r = NULL;
	rk_err err;
	rk_scan_opts none = {0};
	ck_assert_int_eq(rk_etcdscan_run(&none, &r, &err), RK_BADINPUT);
	rk_scan_opts both = {.etcd_url = "http://127.0.0.1:1", .snapshot_path = FIXTURE};
	ck_assert_int_eq(rk_etcdscan_run(&both, &r, &err), RK_BADINPUT);
	rk_scan_opts url = {.etcd_url = "127.0.0.1:2379"};
	ck_assert_int_eq(rk_etcdscan_run(&url, &r, &err), RK_BADINPUT);
	ck_assert_ptr_nonnull(strstr(err.msg, "http://"));
	rk_scan_opts forbid = {.snapshot_path = FIXTURE, .forbid = "identity"};
	ck_assert_int_eq(rk_etcdscan_run(&forbid, &r, &err), RK_BADINPUT);
	rk_scan_opts api = {.etcd_url = "http://127.0.0.1:1", .etcd_api = 7};
	ck_assert_int_eq(rk_etcdscan_run(&api, &r, &err), RK_BADINPUT);
	ck_assert_ptr_nonnull(strstr(err.msg, "want auto, grpc or json"));
	rk_scan_opts api_snapshot = {.snapshot_path = FIXTURE, .etcd_api = RK_ETCD_API_JSON};
	ck_assert_int_eq(rk_etcdscan_run(&api_snapshot, &r, &err), RK_BADINPUT);
	ck_assert_ptr_nonnull(strstr(err.msg, "--etcd-api needs --etcd"));
	ck_assert_ptr_null(r);
}
END_TEST

START_TEST(json_and_table_output)
{
	rk_scan_opts o = {.expect = "k1"};
	rk_scan_report *r = scan(&o);
	rk_buf out = RK_BUF_INIT;
	ck_assert_int_eq(rk_scan_report_json(r, &out), 0);
	json_error_t jerr;
	json_t *doc = json_loads(rk_buf_cstr(&out), 0, &jerr);
	ck_assert_ptr_nonnull(doc);
	ck_assert_int_eq(json_integer_value(json_object_get(doc, "total")), 2);
	ck_assert_str_eq(json_string_value(json_object_get(doc, "verdict")), "mismatch");
	ck_assert_int_eq(json_array_size(json_object_get(doc, "unexpectedObjects")), 1);
	json_t *keys = json_object_get(doc, "keys");
	ck_assert_int_eq(json_array_size(keys), 2);
	ck_assert_str_eq(json_string_value(json_object_get(json_array_get(keys, 0), "key")), "k1");
	ck_assert_int_eq(json_integer_value(json_object_get(json_array_get(keys, 1), "count")), 1);
	json_decref(doc);
	rk_buf_reset(&out);
	ck_assert_int_eq(rk_scan_report_table(r, &out), 0);
	ck_assert_ptr_nonnull(strstr(rk_buf_cstr(&out), "RESOURCE"));
	ck_assert_ptr_nonnull(strstr(rk_buf_cstr(&out), "/registry/configmaps/a/c1: identity"));
	ck_assert_ptr_nonnull(strstr(rk_buf_cstr(&out), "MISMATCH"));
	ck_assert_ptr_nonnull(strstr(rk_buf_cstr(&out), "keys in use: aescbc k1 (1), identity (1)"));
	rk_buf_free(&out);
	rk_scan_report_free(r);
}
END_TEST

START_TEST(prune_gate)
{
	rk_scan_opts o = {.snapshot_path = FIXTURE, .expect = "ignored"};
	rk_err err;
	uint64_t checked = 0;
	ck_assert_int_eq(rk_etcdscan_check_prune(&o, "k1", NULL, NULL, &err), RK_UNSAFE);
	ck_assert_str_eq(err.msg, "1 stored values still under key \"k1\": /registry/secrets/a/s1");
	ck_assert_int_eq(rk_etcdscan_check_prune(&o, "k0", NULL, &checked, &err), RK_OK);
	ck_assert_int_eq(checked, 2);
	/* with the new key: the identity configmap is not under k1 either (the rotation's verify stage) */
	ck_assert_int_eq(rk_etcdscan_check_prune(&o, "k0", "k1", NULL, &err), RK_UNSAFE);
	ck_assert_str_eq(
	    err.msg, "1 stored values are not under k1: /registry/configmaps/a/c1 (identity (not encrypted), "
	             "expected key \"k1\")");
	rk_scan_opts gone = {.snapshot_path = "/nonexistent.db"};
	ck_assert_int_eq(rk_etcdscan_check_prune(&gone, "k1", NULL, NULL, &err), RK_BADINPUT);
}
END_TEST

/* The gate of a rotation that edits only some rules: the selected rules' values must be under their write
 * key, every other value only readable with the pruned config. */
START_TEST(rules_gate_checks_selected_and_readable)
{
	static rk_key k1[] = {{.name = "k1", .secret = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="}};
	static char *configmaps[] = {"configmaps"}, *secrets[] = {"secrets"};
	rk_provider ident = {.type = RK_PROV_IDENTITY, .ntypes = 1};
	rk_provider cbc = {.type = RK_PROV_AESCBC, .ntypes = 1, .keys = k1, .nkeys = 1};
	rk_rule rules[2] = {{.resources = configmaps, .nresources = 1, .providers = &ident, .nproviders = 1},
	                    {.resources = secrets, .nresources = 1, .providers = &cbc, .nproviders = 1}};
	rk_encconfig cfg = {.path = "pruned", .rules = rules, .nrules = 2};
	const unsigned char only_configmaps[2] = {1, 0};
	rk_scan_opts o = {.snapshot_path = FIXTURE};
	rk_err err;
	uint64_t checked = 0;
	/* configmaps (selected) are identity as expected; the secret, under k1 in an unselected rule, is not
	 * checked for its key but must decrypt: the fixture's is no ciphertext */
	ck_assert_int_eq(rk_etcdscan_check_rules(&o, &cfg, only_configmaps, "identity", &checked, &err),
	                 RK_UNSAFE);
	ck_assert_msg(strstr(err.msg,
	                     "1 stored values are not under identity or would be unreadable after the "
	                     "prune: /registry/secrets/a/s1 (unreadable with the configuration"),
	              "%s", err.msg);
	ck_assert_uint_eq(checked, 2);
	/* the secrets rule without k1: unreadable after the prune, whatever its rule's key is */
	rules[1].providers = &ident;
	ck_assert_int_eq(rk_etcdscan_check_rules(&o, &cfg, only_configmaps, "identity", NULL, &err),
	                 RK_UNSAFE);
	ck_assert_msg(strstr(err.msg, "/registry/secrets/a/s1"), "%s", err.msg);
	/* scoped to the selected rule's resources (a wildcard entry as the filter): passes */
	const char *core[] = {"configmaps"};
	rk_scan_opts scoped = {.snapshot_path = FIXTURE, .resources = core, .nresources = 1};
	ck_assert_int_eq(rk_etcdscan_check_rules(&scoped, &cfg, only_configmaps, "identity", &checked, &err),
	                 RK_OK);
	ck_assert_uint_eq(checked, 1);
	/* and selecting the secrets rule asks for its write key */
	const unsigned char only_secrets[2] = {0, 1};
	rules[1].providers = &cbc;
	ck_assert_int_eq(rk_etcdscan_check_rules(&o, &cfg, only_secrets, "k1", NULL, &err), RK_UNSAFE);
}
END_TEST

START_TEST(wildcard_resource_filter)
{
	const char *core[] = {"*."}, *apps[] = {"*.apps"}, *all[] = {"*.*"};
	rk_scan_opts a = {.resources = core, .nresources = 1};
	rk_scan_report *r = scan(&a);
	ck_assert_uint_eq(r->total, 2);
	rk_scan_report_free(r);
	rk_scan_opts b = {.resources = apps, .nresources = 1};
	r = scan(&b);
	ck_assert_uint_eq(r->total, 0);
	rk_scan_report_free(r);
	rk_scan_opts c = {.resources = all, .nresources = 1};
	r = scan(&c);
	ck_assert_uint_eq(r->total, 2);
	rk_scan_report_free(r);
}
END_TEST

Suite *etcdscan_suite(void)
{
	Suite *s = suite_create("etcdscan");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, counts_without_expectation);
	tcase_add_test(tc, rules_gate_checks_selected_and_readable);
	tcase_add_test(tc, wildcard_resource_filter);
	tcase_add_test(tc, expect_and_forbid);
	tcase_add_test(tc, config_expectation_and_decrypt_check);
	tcase_add_test(tc, bad_options);
	tcase_add_test(tc, json_and_table_output);
	tcase_add_test(tc, prune_gate);
	suite_add_tcase(s, tc);
	return s;
}
