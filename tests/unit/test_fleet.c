/* test_fleet.c: the FleetPlan loader (waves by count and percent, the leftover wave, every bad input with
 * file:line), fleet run records in the state store, and the creation time in generated key names. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rekey/encconfig.h"
#include "rekey/fleet.h"
#include "rekey/store.h"
#include "rekey/store_fleet.h"
#include "testutil.h"

static char *dir;

/* Writes DIR/cN.yaml, a RotationPlan of cluster cN, for N in 1..n. */
static void write_plans(int n)
{
	for (int i = 1; i <= n; i++) {
		char name[32], text[512];
		snprintf(name, sizeof name, "c%d.yaml", i);
		snprintf(text, sizeof text,
		         "apiVersion: rekeyctl/v1\nkind: RotationPlan\ncluster: c%d\nprovider: aescbc\n"
		         "controlPlane:\n  configPath: /etc/enc.yaml\n  canary: cp-1\n  nodes:\n"
		         "    - {name: cp-1, host: h, apiserver: \"https://127.0.0.1:6443\"}\n",
		         i);
		char *path = tu_path(dir, name);
		ck_assert_int_eq(tu_write_file(path, text, strlen(text)), 0);
		free(path);
	}
}

static void setup(void)
{
	dir = tu_mkdtemp();
	write_plans(10);
}

static void teardown(void)
{
	tu_rmtree(dir);
	free(dir);
}

static int load(const char *body, rk_fleet_plan **fp, rk_err *err)
{
	char text[2048];
	snprintf(text, sizeof text, "apiVersion: rekeyctl/v1\nkind: FleetPlan\nname: f\n%s", body);
	char *path = tu_path(dir, "fleet.yaml");
	ck_assert_int_eq(tu_write_file(path, text, strlen(text)), 0);
	rk_err_clear(err);
	int rc = rk_fleet_plan_load_file(path, fp, err);
	free(path);
	return rc;
}

static const char *ten_clusters = "clusters:\n  - plan: c1.yaml\n  - plan: c2.yaml\n  - plan: c3.yaml\n"
                                  "  - plan: c4.yaml\n  - plan: c5.yaml\n  - plan: c6.yaml\n"
                                  "  - plan: c7.yaml\n  - plan: c8.yaml\n  - plan: c9.yaml\n"
                                  "  - plan: c10.yaml\n";

START_TEST(waves_by_count_percent_and_leftover)
{
	char body[1024];
	/* canary c3; 9 others: 1, then 34% of 9 = ceil(3.06) = 4, then the 4 left in one last wave */
	snprintf(body, sizeof body,
	         "%scanary: c3\nwaves:\n  - count: 1\n  - percent: 34\nparallelism: 4\n"
	         "soak: 1m\nstop: {maxFailures: 2}\nmaxKeyAge: 720h\n",
	         ten_clusters);
	rk_fleet_plan *fp = NULL;
	rk_err err;
	ck_assert_msg(load(body, &fp, &err) == RK_OK, "%s", err.msg);
	const int want[10] = {1, 2, 0, 2, 2, 2, 3, 3, 3, 3};
	for (int i = 0; i < 10; i++)
		ck_assert_msg(fp->clusters[i].wave == want[i], "cluster %d: wave %d, want %d", i + 1,
		              fp->clusters[i].wave, want[i]);
	ck_assert_int_eq(fp->nwaves, 4);
	ck_assert_str_eq(fp->clusters[3].name, "c4");
	ck_assert_int_eq(fp->parallelism, 4);
	ck_assert_int_eq(fp->soak_ms, 60000);
	ck_assert_int_eq(fp->max_failures, 2);
	ck_assert_int_eq(fp->max_key_age_ms, 720L * 3600 * 1000);
	ck_assert(strstr(fp->clusters[0].plan_path, dir) ==
	          fp->clusters[0].plan_path); /* next to the fleet */
	rk_fleet_plan_free(fp);
}
END_TEST

START_TEST(defaults_one_wave_after_the_canary)
{
	char body[1024];
	snprintf(body, sizeof body, "%scanary: c1\n", ten_clusters);
	rk_fleet_plan *fp = NULL;
	rk_err err;
	ck_assert_msg(load(body, &fp, &err) == RK_OK, "%s", err.msg);
	ck_assert_int_eq(fp->nwaves, 2);
	ck_assert_int_eq(fp->clusters[0].wave, 0);
	for (int i = 1; i < 10; i++)
		ck_assert_int_eq(fp->clusters[i].wave, 1);
	ck_assert_int_eq(fp->parallelism, 1);
	ck_assert_int_eq(fp->soak_ms, 0);
	ck_assert_int_eq(fp->max_failures, 0);
	ck_assert_int_eq(fp->max_key_age_ms, RK_FLEET_DEFAULT_MAX_KEY_AGE_MS);
	rk_fleet_plan_free(fp);
	/* waves larger than what is left: the last listed wave takes the rest, no empty waves */
	snprintf(body, sizeof body, "%scanary: c1\nwaves: [{percent: 100}, {count: 5}]\n", ten_clusters);
	ck_assert_msg(load(body, &fp, &err) == RK_OK, "%s", err.msg);
	ck_assert_int_eq(fp->nwaves, 2);
	rk_fleet_plan_free(fp);
}
END_TEST

static const struct {
	const char *body, *where, *what;
} bad_fleets[] = {
    {"clusters: [{plan: c1.yaml}]\ncanary: c1\nextra: 1\n", "fleet.yaml:6:1", "unknown field"},
    {"canary: c1\n", "fleet.yaml:1:1", "missing required field \"clusters\""},
    {"clusters: []\ncanary: c1\n", "fleet.yaml:4:11", "non-empty list"},
    {"clusters: [{plan: c1.yaml}]\n", "fleet.yaml", "missing required field \"canary\""},
    {"clusters: [{plan: c1.yaml}, {plan: c2.yaml}]\ncanary: c9\n", "fleet.yaml:5:9", "not the cluster"},
    {"clusters: [{plan: c1.yaml}, {plan: c1.yaml}]\ncanary: c1\n", "fleet.yaml:4:29", "also clusters[0]"},
    {"clusters: [{plan: nothere.yaml}]\ncanary: c1\n", "fleet.yaml:4:19", "nothere.yaml"},
    {"clusters: [{plan: c1.yaml, name: x}]\ncanary: c1\n", "fleet.yaml:4:28", "unknown field"},
    {"clusters: [{plan: c1.yaml}, {plan: c2.yaml}]\ncanary: c1\nwaves: [{count: 1, percent: 5}]\n",
     "fleet.yaml:6:9", "exactly one of count or percent"},
    {"clusters: [{plan: c1.yaml}, {plan: c2.yaml}]\ncanary: c1\nwaves: [{percent: 101}]\n", "fleet.yaml:6:19",
     "percent"},
    {"clusters: [{plan: c1.yaml}]\ncanary: c1\nwaves: {count: 1}\n", "fleet.yaml:6:8", "expected a list"},
    {"clusters: [{plan: c1.yaml}]\ncanary: c1\nparallelism: 0\n", "fleet.yaml:6:14", "parallelism"},
    {"clusters: [{plan: c1.yaml}]\ncanary: c1\nsoak: 5 minutes\n", "fleet.yaml:6:7", "invalid duration"},
    {"clusters: [{plan: c1.yaml}]\ncanary: c1\nstop: {maxFailure: 1}\n", "fleet.yaml:6:8", "unknown field"},
    {"clusters: [{plan: c1.yaml}]\ncanary: c1\nmaxKeyAge: 0s\n", "fleet.yaml:6:12", "more than 0"},
};

START_TEST(bad_fleet_plans)
{
	rk_fleet_plan *fp = NULL;
	rk_err err;
	int rc = load(bad_fleets[_i].body, &fp, &err);
	ck_assert_msg(rc == RK_BADINPUT, "case %d: rc %d (%s)", _i, rc, err.msg);
	ck_assert_ptr_null(fp);
	ck_assert_msg(strstr(err.msg, bad_fleets[_i].where) && strstr(err.msg, bad_fleets[_i].what),
	              "case %d: got \"%s\", want %s ... %s", _i, err.msg, bad_fleets[_i].where,
	              bad_fleets[_i].what);
}
END_TEST

START_TEST(file_kind)
{
	char kind[64];
	rk_err err;
	char *path = tu_path(dir, "c1.yaml");
	ck_assert_int_eq(rk_fleet_file_kind(path, kind, sizeof kind, &err), RK_OK);
	ck_assert_str_eq(kind, "RotationPlan");
	ck_assert_int_eq(tu_write_file(path, "- a\n", 4), 0);
	ck_assert_int_eq(rk_fleet_file_kind(path, kind, sizeof kind, &err), RK_BADINPUT);
	free(path);
}
END_TEST

START_TEST(key_name_times)
{
	time_t t = 0;
	ck_assert_int_eq(rk_key_name_time("aescbc-20260102T030405Z", &t), 0);
	ck_assert_int_eq((long long)t, 1767323045LL);
	ck_assert_int_eq(rk_key_name_time("secretbox-20260102T030405Z-3", &t), 0);
	ck_assert_int_eq((long long)t, 1767323045LL);
	ck_assert_int_eq(rk_key_name_time("my-key-19991231T235959Z", &t), 0);
	ck_assert_int_eq((long long)t, 946684799LL);
	const char *none[] = {"key1",
	                      "aescbc-20260102T030405",
	                      "aescbc-20261302T030405Z",
	                      "aescbc-2026010xT030405Z",
	                      "aescbc-20260102T030405Zx",
	                      "aescbc-20260102T030405Z-",
	                      "aescbc-20260102T030405Z-x",
	                      "",
	                      NULL};
	for (int i = 0; none[i]; i++)
		ck_assert_msg(rk_key_name_time(none[i], &t) == -1, "%s has no time", none[i]);
	ck_assert_int_eq(rk_key_name_time(NULL, &t), -1);
}
END_TEST

struct seen {
	char names[4][RK_STORE_NAME_MAX];
	rk_fleet_member last;
	int n;
};

static int collect(const rk_fleet_member *m, void *ud)
{
	struct seen *s = ud;
	snprintf(s->names[s->n++], RK_STORE_NAME_MAX, "%s", m->cluster);
	s->last = *m;
	return 0;
}

START_TEST(store_fleet_records)
{
	rk_store *store = NULL;
	rk_err err;
	ck_assert_int_eq(rk_store_open(dir, &store, &err), RK_OK);
	rk_fleet_member m[3];
	memset(m, 0, sizeof m);
	const char *names[] = {"b", "a", "c"};
	const int waves[] = {1, 0, 1};
	for (int i = 0; i < 3; i++) {
		snprintf(m[i].cluster, sizeof m[i].cluster, "%s", names[i]);
		snprintf(m[i].plan_path, sizeof m[i].plan_path, "/p/%s.yaml", names[i]);
		m[i].wave = waves[i];
		m[i].position = i;
	}
	int64_t id = 0;
	ck_assert_int_eq(rk_store_fleet_run_create(store, "f", "sha256:x", m, 3, &id, &err), RK_OK);
	struct seen s;
	memset(&s, 0, sizeof s);
	ck_assert_int_eq(rk_store_fleet_members(store, id, collect, &s, &err), RK_OK);
	ck_assert_int_eq(s.n, 3);
	ck_assert_str_eq(s.names[0], "a"); /* wave 0 first, then plan order */
	ck_assert_str_eq(s.names[1], "b");
	ck_assert_str_eq(s.last.state, "pending");
	ck_assert_int_eq(s.last.exit_code, -1);
	rk_run_spec spec = {"c", "rotate", NULL, NULL, NULL, NULL};
	int64_t run = 0;
	ck_assert_int_eq(rk_store_run_create(store, &spec, &run, &err), RK_OK);
	ck_assert_int_eq(rk_store_fleet_member_set(store, id, "c", "running", 0, -1, NULL, &err), RK_OK);
	ck_assert_int_eq(rk_store_fleet_member_set(store, id, "c", "stopped", run, 3, "gate", &err), RK_OK);
	memset(&s, 0, sizeof s);
	ck_assert_int_eq(rk_store_fleet_members(store, id, collect, &s, &err), RK_OK);
	ck_assert_str_eq(s.last.state, "stopped");
	ck_assert_int_eq(s.last.run_id, run);
	ck_assert_int_eq(s.last.exit_code, 3);
	ck_assert_str_eq(s.last.detail, "gate");
	ck_assert(rk_store_time_parse(s.last.finished_at) >= rk_store_time_parse(s.last.started_at));
	ck_assert_int_eq(rk_store_fleet_member_set(store, id, "c", "bogus", 0, -1, NULL, &err), RK_BADINPUT);
	ck_assert_int_eq(rk_store_fleet_member_set(store, id, "zz", "done", 0, 0, NULL, &err), RK_BADINPUT);
	rk_fleet_run fr;
	int found = 0;
	ck_assert_int_eq(rk_store_fleet_run_set_state(store, id, "stopped", 3, "c stopped", &err), RK_OK);
	ck_assert_int_eq(rk_store_fleet_run_get(store, "f", 0, &fr, &found, &err), RK_OK);
	ck_assert_int_eq(found, 1);
	ck_assert_str_eq(fr.state, "stopped");
	ck_assert_int_eq(fr.exit_code, 3);
	ck_assert_int_eq(rk_store_fleet_run_set_state(store, id, "running", -1, NULL, &err), RK_OK);
	ck_assert_int_eq(rk_store_fleet_run_get(store, NULL, id, &fr, &found, &err), RK_OK);
	ck_assert_int_eq(fr.exit_code, -1);
	ck_assert_str_eq(fr.finished_at, "");
	ck_assert_int_eq(rk_store_fleet_run_get(store, "other", 0, &fr, &found, &err), RK_OK);
	ck_assert_int_eq(found, 0);
	/* a failing member insert rolls the whole run back */
	snprintf(m[2].cluster, sizeof m[2].cluster, "a");
	ck_assert_int_ne(rk_store_fleet_run_create(store, "g", "sha256:y", m, 3, &id, &err), RK_OK);
	ck_assert_int_eq(rk_store_fleet_run_get(store, "g", 0, &fr, &found, &err), RK_OK);
	ck_assert_int_eq(found, 0);
	rk_store_close(store);
}
END_TEST

Suite *fleet_suite(void)
{
	Suite *s = suite_create("fleet");
	TCase *tc = tcase_create("fleet");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, waves_by_count_percent_and_leftover);
	tcase_add_test(tc, defaults_one_wave_after_the_canary);
	tcase_add_loop_test(tc, bad_fleet_plans, 0, sizeof bad_fleets / sizeof bad_fleets[0]);
	tcase_add_test(tc, file_kind);
	tcase_add_test(tc, key_name_times);
	tcase_add_test(tc, store_fleet_records);
	suite_add_tcase(s, tc);
	return s;
}
