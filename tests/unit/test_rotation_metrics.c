/* test_rotation_metrics.c: the run's part of the rotation's Prometheus textfile (rot_metrics_run), read
 * back with the Prometheus text parser: the stage and its index for an ordinary rotation's stages and for
 * a KEK rotation's own (kek-target, kek-pickup: they were index 0). */
#include <check.h>
#include <stdio.h>
#include <string.h>

#include "../../src/rotation/rotation_internal.h"
#include "rekey/promtext.h"

/* The textfile's run part for a run whose stages are `stages` (the last one at `status`, the others
 * done), parsed: the value of rekeyctl_rotation_stage_index and whether the stage series names it. */
static double stage_index_at(const char *const *stages, size_t n, rk_stage_status status, int *named)
{
	rk_stage recs[16];
	rk_rotation_status st;
	memset(&st, 0, sizeof st);
	memset(recs, 0, sizeof recs);
	ck_assert_uint_le(n, sizeof recs / sizeof recs[0]);
	for (size_t i = 0; i < n; i++) {
		snprintf(recs[i].stage, sizeof recs[i].stage, "%s", stages[i]);
		recs[i].status = i + 1 == n ? status : RK_STAGE_DONE;
	}
	st.rewrite.run.id = 7;
	snprintf(st.rewrite.run.state, sizeof st.rewrite.run.state, "running");
	st.rewrite.total = -1;
	st.stages = recs;
	st.nstages = n;
	st.current = n ? (long)n - 1 : -1;
	rk_buf b = RK_BUF_INIT;
	rot_metrics_run(&b, "c1", &st);
	double index = -1, one = 0;
	int matched = 0, stage_matched = 0;
	rk_err err;
	rk_prom_label cluster[] = {{"cluster", "c1"}};
	rk_prom_label stage[] = {{"cluster", "c1"}, {"stage", n ? stages[n - 1] : ""}};
	ck_assert_int_eq(rk_prom_find((const char *)b.data, b.len, "rekeyctl_rotation_stage_index", cluster,
	                              1, &index, &matched, &err),
	                 RK_OK);
	ck_assert_int_eq(matched, 1);
	ck_assert_int_eq(rk_prom_find((const char *)b.data, b.len, "rekeyctl_rotation_stage", stage, 2, &one,
	                              &stage_matched, &err),
	                 RK_OK);
	*named = stage_matched == 1 && one == 1;
	rk_buf_free(&b);
	return index;
}

START_TEST(test_rotation_stage_index)
{
	static const char *const rotation[] = {"preflight", "stage-key", "read",    "promote", "probe",
	                                       "rewrite",   "verify",    "archive", "prune",   "done"};
	int named = 0;
	for (size_t i = 1; i <= sizeof rotation / sizeof rotation[0]; i++) {
		ck_assert_double_eq(stage_index_at(rotation, i, RK_STAGE_INTENT, &named), (double)i);
		ck_assert_msg(named, "stage %s not named", rotation[i - 1]);
	}
	ck_assert_double_eq(stage_index_at(rotation, 0, RK_STAGE_NONE, &named), 0);
}
END_TEST

/* A KEK rotation: preflight, kek-target, kek-pickup, rewrite, verify, done; its own stages take the places
 * of stage-key and promote, so the index never goes back to 0 in the middle of a run. */
START_TEST(test_kek_stage_index)
{
	static const char *const kek[] = {"preflight", "kek-target", "kek-pickup",
	                                  "rewrite",   "verify",     "done"};
	static const double want[] = {1, 2, 4, 6, 7, 10};
	int named = 0;
	for (size_t i = 1; i <= sizeof kek / sizeof kek[0]; i++) {
		ck_assert_double_eq(stage_index_at(kek, i, RK_STAGE_INTENT, &named), want[i - 1]);
		ck_assert_msg(named, "stage %s not named", kek[i - 1]);
	}
	ck_assert_double_eq(stage_index_at(kek, 3, RK_STAGE_FAILED, &named), 4);
}
END_TEST

Suite *rotation_metrics_suite(void)
{
	Suite *s = suite_create("rotation_metrics");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, test_rotation_stage_index);
	tcase_add_test(tc, test_kek_stage_index);
	suite_add_tcase(s, tc);
	return s;
}
