/* test_budget.c: the latency/error budget on a hand-moved clock: breach -> slowdown in one decision,
 * no second step before fresh evidence, gradual recovery to the target, pause/soak/resume, abort,
 * error ratio, apiserver-side figures (p99, in-flight, 5xx and 429 shares with their signals), window expiry
 * and percentile accuracy. */
#include <check.h>
#include <math.h>
#include <string.h>

#include "rekey/budget.h"
#include "rekey/clock.h"

#define SEC RK_NS_PER_SEC

static rk_budget_policy policy(rk_breach_action action)
{
	rk_budget_policy p;
	rk_budget_policy_defaults(&p);
	p.write_p99_ms = 200;
	p.target_qps = 100;
	p.on_breach = action;
	return p;
}

static rk_budget *make(const rk_budget_policy *p, int64_t now)
{
	rk_budget *b = NULL;
	rk_err err;
	ck_assert_msg(rk_budget_new(p, now, &b, &err) == RK_OK, "%s", err.msg);
	return b;
}

/* n writes of latency_ms spread over [from, from + seconds). */
static void writes(rk_budget *b, int64_t from, double seconds, int n, double latency_ms, int failed_every)
{
	for (int i = 0; i < n; i++) {
		int64_t at = from + (int64_t)(seconds * SEC * i / n);
		rk_budget_observe(b, at, latency_ms, failed_every && i % failed_every == 0);
	}
}

START_TEST(breach_slows_down_in_one_decision)
{
	rk_budget_policy p = policy(RK_BREACH_SLOWDOWN);
	rk_budget *b = make(&p, 0);
	writes(b, 0, 10, 300, 50, 0);
	rk_budget_decision d = rk_budget_decide(b, 10 * SEC);
	ck_assert_int_eq(d.action, RK_BUDGET_NONE);
	ck_assert_double_eq(d.rate, 100);
	writes(b, 10 * SEC, 2, 100, 300, 0); /* the apiserver got slow */
	d = rk_budget_decide(b, 12 * SEC);
	ck_assert_int_eq(d.action, RK_BUDGET_SLOWDOWN);
	ck_assert_double_eq(d.rate_before, 100);
	ck_assert_double_eq(d.rate, 50);
	ck_assert_int_eq(d.paused, 0);
	ck_assert_double_eq_tol(d.stats.p99_ms, 300, 15);
	ck_assert_msg(strstr(d.reason, "slowdown: write p99 3") && strstr(d.reason, "> budget 200.0ms") &&
	                  strstr(d.reason, "rate 100.0/s -> 50.0/s"),
	              "%s", d.reason);
	/* the old slow writes do not cause a second halving: only writes after the change count */
	d = rk_budget_decide(b, 12 * SEC + 1);
	ck_assert_int_eq(d.action, RK_BUDGET_NONE);
	ck_assert_double_eq(rk_budget_rate(b), 50);
	/* still slow with fresh evidence: halve again, down to the floor and no further */
	for (int step = 0; step < 10; step++) {
		int64_t t = (14 + 3 * step) * SEC;
		writes(b, t, 2, 40, 400, 0);
		rk_budget_decide(b, t + 2 * SEC);
	}
	ck_assert_double_eq(rk_budget_rate(b), 1);
	rk_budget_free(b);
}
END_TEST

START_TEST(recovers_gradually_to_target)
{
	rk_budget_policy p = policy(RK_BREACH_SLOWDOWN);
	rk_budget *b = make(&p, 0);
	writes(b, 0, 5, 100, 400, 0);
	ck_assert_int_eq(rk_budget_decide(b, 5 * SEC).action, RK_BUDGET_SLOWDOWN);
	double last_rate = 50;
	int recoveries = 0;
	int64_t first_recovery = 0;
	for (int64_t t = 6; t < 200; t++) { /* healthy from now on: one decision a second */
		writes(b, (t - 1) * SEC, 1, 30, 20, 0);
		rk_budget_decision d = rk_budget_decide(b, t * SEC);
		ck_assert_int_ne(d.action, RK_BUDGET_SLOWDOWN);
		if (d.action == RK_BUDGET_RECOVER) {
			ck_assert_double_eq_tol(d.rate - last_rate, 10, 1e-9); /* +10% of the target */
			if (!recoveries++)
				first_recovery = t;
			last_rate = d.rate;
		}
		ck_assert_double_le(d.rate, 100);
	}
	ck_assert_int_eq(recoveries, 5);
	ck_assert_int_ge(first_recovery, 5 + 30); /* not before the soak time */
	ck_assert_double_eq(rk_budget_rate(b), 100);
	rk_budget_free(b);
}
END_TEST

START_TEST(pause_holds_until_healthy_for_soak)
{
	rk_budget_policy p = policy(RK_BREACH_PAUSE);
	p.soak_s = 30;
	rk_budget *b = make(&p, 0);
	writes(b, 0, 5, 100, 500, 0);
	rk_budget_decision d = rk_budget_decide(b, 5 * SEC);
	ck_assert_int_eq(d.action, RK_BUDGET_PAUSE);
	ck_assert_int_eq(d.paused, 1);
	ck_assert_int_eq(rk_budget_paused(b), 1);
	ck_assert_double_eq(d.rate, 100);
	ck_assert_int_eq(rk_budget_decide(b, 20 * SEC).action, RK_BUDGET_NONE);
	ck_assert_int_eq(rk_budget_decide(b, 20 * SEC).paused, 1);
	/* the apiserver is still slow at 25 s: the soak starts again */
	rk_budget_server(b, 25 * SEC, 800, 3);
	d = rk_budget_decide(b, 25 * SEC);
	ck_assert_int_eq(d.action, RK_BUDGET_NONE);
	ck_assert_ptr_nonnull(strstr(d.reason, "apiserver p99 800.0ms"));
	ck_assert_ptr_nonnull(
	    strstr(d.reason, "p50 - p99 -, errors 0.00% of 0 writes")); /* no writes while paused */
	rk_budget_server(b, 30 * SEC, 50, 3);
	ck_assert_int_eq(rk_budget_decide(b, 54 * SEC).paused, 1);
	d = rk_budget_decide(b, 55 * SEC);
	ck_assert_int_eq(d.action, RK_BUDGET_RESUME);
	ck_assert_int_eq(d.paused, 0);
	ck_assert_double_eq(d.rate, 100);
	rk_budget_free(b);
}
END_TEST

START_TEST(abort_is_final)
{
	rk_budget_policy p = policy(RK_BREACH_ABORT);
	rk_budget *b = make(&p, 0);
	writes(b, 0, 5, 100, 20, 10); /* 10% errors against a 1% budget */
	rk_budget_decision d = rk_budget_decide(b, 5 * SEC);
	ck_assert_int_eq(d.action, RK_BUDGET_ABORT);
	ck_assert_int_eq(d.paused, 1);
	ck_assert_uint_eq(d.stats.errors, 10);
	ck_assert_msg(strstr(d.reason, "errors 10.00% > budget 1.00%") != NULL, "%s", d.reason);
	writes(b, 100 * SEC, 5, 100, 20, 0);
	ck_assert_int_eq(rk_budget_decide(b, 200 * SEC).action, RK_BUDGET_ABORT);
	rk_budget_free(b);
}
END_TEST

START_TEST(too_few_samples_do_not_decide)
{
	rk_budget_policy p = policy(RK_BREACH_SLOWDOWN);
	rk_budget *b = make(&p, 0);
	writes(b, 0, 5, 19, 5000, 1); /* slow and failing, but under min_samples */
	rk_budget_decision d = rk_budget_decide(b, 5 * SEC);
	ck_assert_int_eq(d.action, RK_BUDGET_NONE);
	ck_assert_uint_eq(d.stats.writes, 19);
	rk_budget_observe(b, 5 * SEC, 5000, 1);
	ck_assert_int_eq(rk_budget_decide(b, 5 * SEC).action, RK_BUDGET_SLOWDOWN);
	rk_budget_free(b);
}
END_TEST

START_TEST(apiserver_figures_count)
{
	rk_budget_policy p = policy(RK_BREACH_SLOWDOWN);
	p.server_p99_ms = 300;
	p.server_inflight = 100;
	rk_budget *b = make(&p, 0);
	rk_budget_server(b, 1 * SEC, 250, 10);
	ck_assert_int_eq(rk_budget_decide(b, 1 * SEC).action, RK_BUDGET_NONE); /* 250 < 300 server budget */
	rk_budget_server(b, 2 * SEC, 350, 10);
	rk_budget_decision d = rk_budget_decide(b, 2 * SEC);
	ck_assert_int_eq(d.action, RK_BUDGET_SLOWDOWN);
	ck_assert_double_eq(d.stats.server_p99_ms, 350);
	/* a figure taken before the change is not evidence for the next step */
	ck_assert_int_eq(rk_budget_decide(b, 3 * SEC).action, RK_BUDGET_NONE);
	rk_budget_server(b, 9 * SEC, 100, 150);
	d = rk_budget_decide(b, 9 * SEC);
	ck_assert_int_eq(d.action, RK_BUDGET_SLOWDOWN);
	ck_assert_ptr_nonnull(strstr(d.reason, "apiserver inflight 150 > budget 100"));
	ck_assert_double_eq(d.rate, 25);
	/* unknown figures are ignored */
	rk_budget_server(b, 20 * SEC, NAN, -1);
	ck_assert_int_eq(rk_budget_decide(b, 20 * SEC).action, RK_BUDGET_NONE);
	rk_budget_free(b);
}
END_TEST

/* The apiserver's 5xx and 429 shares of every mutating request it served: each names its signal, a few
 * requests are padded to min_samples, unknown shares (a restart between scrapes) are ignored. */
START_TEST(apiserver_answers_name_their_signal)
{
	rk_budget_policy p = policy(RK_BREACH_SLOWDOWN);
	p.error_ratio = 0.01;
	rk_budget *b = make(&p, 0);
	rk_budget_decision d = rk_budget_decide(b, 1 * SEC);
	ck_assert_int_eq(d.signal, -1);
	rk_budget_server_answers(b, 1 * SEC, 5, 0.2, 0); /* 1 of 5: padded to 20, 5% > 1% */
	d = rk_budget_decide(b, 1 * SEC);
	ck_assert_int_eq(d.action, RK_BUDGET_SLOWDOWN);
	ck_assert_int_eq(d.signal, RK_SIGNAL_SERVER_5XX);
	ck_assert_msg(
	    strstr(d.reason, "apiserver 5xx 20.00% of 5 writes (5.00% padded to 20) > budget 1.00%"), "%s",
	    d.reason);
	rk_budget_server_answers(b, 2 * SEC, 400, 0.002, 0.03); /* 429 budget defaults to none (< 0) */
	ck_assert_int_eq(rk_budget_decide(b, 2 * SEC).action, RK_BUDGET_NONE);
	rk_budget_free(b);
	p.throttled_ratio = 0.02;
	b = make(&p, 0);
	rk_budget_server_answers(b, 1 * SEC, 400, 0.002, 0.03);
	d = rk_budget_decide(b, 1 * SEC);
	ck_assert_int_eq(d.signal, RK_SIGNAL_SERVER_429);
	ck_assert_msg(strstr(d.reason, "apiserver 429 3.00% of 400 writes > budget 2.00%"), "%s", d.reason);
	rk_budget_server_answers(b, 9 * SEC, NAN, NAN, NAN);
	ck_assert_int_eq(rk_budget_decide(b, 9 * SEC).signal, -1);
	/* the client's own figures come first */
	writes(b, 10 * SEC, 1, 40, 900, 0);
	rk_budget_server_answers(b, 11 * SEC, 400, 0.5, 0);
	d = rk_budget_decide(b, 11 * SEC + SEC / 2);
	ck_assert_int_eq(d.signal, RK_SIGNAL_CLIENT_LATENCY);
	ck_assert_str_eq(rk_signal_name((rk_signal)d.signal), "client-latency");
	rk_budget_free(b);
}
END_TEST

START_TEST(old_samples_leave_the_window)
{
	rk_budget_policy p = policy(RK_BREACH_SLOWDOWN);
	p.write_p99_ms = 0; /* judge errors only */
	rk_budget *b = make(&p, 0);
	writes(b, 0, 5, 100, 900, 2);
	rk_budget_stats st;
	rk_budget_stats_now(b, 30 * SEC, &st);
	ck_assert_uint_eq(st.writes, 100);
	ck_assert_double_eq_tol(st.error_ratio, 0.5, 1e-9);
	writes(b, 64 * SEC, 5, 100, 10, 0);
	rk_budget_stats_now(b, 69 * SEC, &st);
	ck_assert_uint_eq(st.writes, 100); /* the first 100 are older than 60 s */
	ck_assert_uint_eq(st.errors, 0);
	ck_assert_double_le(st.p99_ms, 10.5);
	ck_assert_int_eq(rk_budget_decide(b, 69 * SEC).action, RK_BUDGET_NONE);
	rk_budget_stats_now(b, 200 * SEC, &st);
	ck_assert_uint_eq(st.writes, 0);
	ck_assert(isnan(st.p99_ms));
	rk_budget_free(b);
}
END_TEST

START_TEST(percentiles_within_five_percent)
{
	rk_budget_policy p = policy(RK_BREACH_SLOWDOWN);
	rk_budget *b = make(&p, 0);
	for (int i = 1; i <= 1000; i++)
		rk_budget_observe(b, 10 * SEC, i, 0);
	rk_budget_stats st;
	rk_budget_stats_now(b, 10 * SEC, &st);
	ck_assert_double_eq_tol(st.p50_ms, 500, 25);
	ck_assert_double_eq_tol(st.p99_ms, 990, 50);
	ck_assert_double_eq_tol(st.write_rate, 100, 1); /* 1000 writes in the 10 s since creation */
	rk_budget_free(b);
}
END_TEST

START_TEST(unlimited_rate_halves_what_was_achieved)
{
	rk_budget_policy p = policy(RK_BREACH_SLOWDOWN);
	p.target_qps = 0;
	rk_budget *b = make(&p, 0);
	writes(b, 0, 10, 4000, 300, 0); /* 400 writes/s */
	rk_budget_decision d = rk_budget_decide(b, 10 * SEC);
	ck_assert_int_eq(d.action, RK_BUDGET_SLOWDOWN);
	ck_assert_double_eq_tol(d.rate, 200, 10);
	ck_assert_ptr_nonnull(strstr(d.reason, "rate unlimited -> "));
	int64_t t = 10;
	while (rk_budget_rate(b) > 0 && t < 400) {
		writes(b, t * SEC, 1, 100, 10, 0);
		t++;
		rk_budget_decide(b, t * SEC);
	}
	ck_assert_double_eq(rk_budget_rate(b), 0); /* back to unlimited */
	rk_budget_free(b);
}
END_TEST

START_TEST(policy_is_validated)
{
	rk_budget_policy p = policy(RK_BREACH_SLOWDOWN);
	rk_budget *b;
	rk_err err;
	p.window_s = 0;
	ck_assert_int_eq(rk_budget_new(&p, 0, &b, &err), RK_BADINPUT);
	ck_assert_ptr_nonnull(strstr(err.msg, "window"));
	p = policy(RK_BREACH_SLOWDOWN);
	p.error_ratio = 1.5;
	ck_assert_int_eq(rk_budget_new(&p, 0, &b, &err), RK_BADINPUT);
	p = policy(RK_BREACH_SLOWDOWN);
	p.soak_s = -1;
	ck_assert_int_eq(rk_budget_new(&p, 0, &b, &err), RK_BADINPUT);
	rk_breach_action a;
	ck_assert_int_eq(rk_budget_parse_action("pause", &a, &err), RK_OK);
	ck_assert_int_eq(a, RK_BREACH_PAUSE);
	ck_assert_int_eq(rk_budget_parse_action("explode", &a, &err), RK_BADINPUT);
	ck_assert_ptr_nonnull(strstr(err.msg, "slowdown, pause, abort"));
	ck_assert_str_eq(rk_budget_action_name(RK_BUDGET_RECOVER), "recover");
	ck_assert_str_eq(rk_breach_action_name(RK_BREACH_ABORT), "abort");
}
END_TEST

Suite *budget_suite(void)
{
	Suite *s = suite_create("budget");
	TCase *tc = tcase_create("budget");
	tcase_add_test(tc, breach_slows_down_in_one_decision);
	tcase_add_test(tc, recovers_gradually_to_target);
	tcase_add_test(tc, pause_holds_until_healthy_for_soak);
	tcase_add_test(tc, abort_is_final);
	tcase_add_test(tc, too_few_samples_do_not_decide);
	tcase_add_test(tc, apiserver_figures_count);
	tcase_add_test(tc, apiserver_answers_name_their_signal);
	tcase_add_test(tc, old_samples_leave_the_window);
	tcase_add_test(tc, percentiles_within_five_percent);
	tcase_add_test(tc, unlimited_rate_halves_what_was_achieved);
	tcase_add_test(tc, policy_is_validated);
	suite_add_tcase(s, tc);
	return s;
}
