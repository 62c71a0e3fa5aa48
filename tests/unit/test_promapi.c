/* test_promapi.c: the apiserver figures the budget reads, on /metrics texts captured from a real
 * kube-apiserver v1.34.4 (tests/unit/data/kube-apiserver-1.34-*.txt, see tests/unit/data/README.md):
 * write and read classes, window deltas, a restart detected and skipped, 5xx ratios; 429 ratios on the
 * sandbox's text (a real apiserver sheds load by queueing first). */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rekey/promtext.h"
#include "testutil.h"

#define DATA "tests/unit/data/kube-apiserver-1.34-"

/* Parses one captured scrape (resource "configmaps" for the PUT histogram). */
static void scrape_file(const char *name, rk_prom_apiserver *out)
{
	char path[256];
	size_t len;
	rk_err err;
	snprintf(path, sizeof path, DATA "%s.txt", name);
	char *text = tu_read_file(path, &len);
	ck_assert_msg(text != NULL, "cannot read %s (run from the repository top)", path);
	ck_assert_int_eq(rk_prom_apiserver_parse(text, len, "configmaps", "", out, &err), RK_OK);
	free(text);
}

/* The window of one interval (no restart in it) and its figures. */
static void one_interval(const rk_prom_apiserver *later, const rk_prom_apiserver *earlier, rk_prom_window *w,
                         rk_prom_figures *f)
{
	rk_prom_window_init(w);
	ck_assert_int_eq(rk_prom_window_add(w, later, earlier), 0);
	rk_prom_window_figures(w, f);
}

static void scrape_text(const char *text, rk_prom_apiserver *out)
{
	rk_err err;
	ck_assert_int_eq(rk_prom_apiserver_parse(text, strlen(text), "", "", out, &err), RK_OK);
}

/* Expected values below come from an independent reading of the same files (PromQL's
 * histogram_quantile over the bucket differences). Between a and b: 30 POST, 30 PUT, 30 PATCH of
 * configmaps, one server-side apply, deletes, a 404 and a 409, a dry-run PUT (left out), 30 GETs, a LIST
 * and a 2 s WATCH (left out). */
START_TEST(real_scrapes_window)
{
	rk_prom_apiserver a, b;
	scrape_file("a", &a);
	scrape_file("b", &b);
	ck_assert_double_eq(a.start_time_s, 1.79608111659e+09);
	ck_assert_int_eq(rk_prom_apiserver_reset(&b, &a), 0);
	rk_prom_window w;
	rk_prom_figures f;
	one_interval(&b, &a, &w, &f);
	ck_assert_double_eq(f.writes, 94);
	ck_assert_double_eq_tol(f.write_p99_ms, 24.735211267605635, 1e-9);
	ck_assert_double_eq(f.write_5xx_ratio, 0);
	ck_assert_double_eq(f.write_429_ratio, 0);
	ck_assert_double_eq(f.reads, 31);
	ck_assert_double_eq_tol(f.read_p99_ms, 22.933333333333344, 1e-9);
	/* the lifetime figure (everything since the apiserver started) is another number */
	ck_assert_double_eq_tol(1000 * rk_prom_histogram_quantile(0.99, &b.writes), 87.5, 1e-9);
	/* the PUTs of configmaps alone: 30 in the window, the dry-run one left out */
	ck_assert_double_eq(b.put.total - a.put.total, 30);
	ck_assert(!isnan(rk_prom_apiserver_put_p99_ms(&b, &a)));
}
END_TEST

START_TEST(real_restart_is_skipped)
{
	rk_prom_apiserver a, b, restarted;
	scrape_file("a", &a);
	scrape_file("b", &b);
	scrape_file("restarted", &restarted);
	ck_assert(restarted.start_time_s != b.start_time_s);
	ck_assert_int_eq(rk_prom_apiserver_reset(&restarted, &b), 1);
	ck_assert(isnan(rk_prom_apiserver_put_p99_ms(&restarted, &b)));
	/* a, b, restarted, restarted: the restart interval is left out, the others summed */
	rk_prom_window w;
	rk_prom_window_init(&w);
	ck_assert_int_eq(rk_prom_window_add(&w, &b, &a), 0);
	ck_assert_int_eq(rk_prom_window_add(&w, &restarted, &b), 1);
	ck_assert_int_eq(rk_prom_window_add(&w, &restarted, &restarted), 0);
	ck_assert_uint_eq(w.intervals, 2);
	ck_assert_uint_eq(w.resets, 1);
	rk_prom_figures f;
	rk_prom_window_figures(&w, &f);
	ck_assert_double_eq(f.writes, 94); /* never 94 - 188, never the new process's lifetime */
	ck_assert_double_eq_tol(f.write_p99_ms, 24.735211267605635, 1e-9);
}
END_TEST

/* Either sign is enough: counters that went down without a start time, or a new start time with
 * counters that did not go down. */
START_TEST(reset_by_counters_or_start_time)
{
	rk_prom_apiserver b, restarted;
	scrape_file("b", &b);
	scrape_file("restarted", &restarted);
	b.start_time_s = restarted.start_time_s = NAN; /* as from an exporter without the process collector */
	ck_assert_int_eq(rk_prom_apiserver_reset(&restarted, &b), 1);
	rk_prom_apiserver later = b;
	later.start_time_s = 1.8e9;
	ck_assert_int_eq(rk_prom_apiserver_reset(&later, &b), 0); /* one side unknown: counters decide */
	b.start_time_s = 1.7e9;
	ck_assert_int_eq(rk_prom_apiserver_reset(&later, &b), 1);
	/* one bucket lower is a reset even when the totals grew */
	later = b;
	later.writes.count[0] -= 1;
	later.write_codes.total += 5;
	ck_assert_int_eq(rk_prom_apiserver_reset(&later, &b), 1);
}
END_TEST

/* Six creates held 2 s by a failing admission webhook and answered 500, beside 20 plain ones. */
START_TEST(real_server_errors)
{
	rk_prom_apiserver a, b;
	scrape_file("webhook-a", &a);
	scrape_file("webhook-b", &b);
	rk_prom_window w;
	rk_prom_figures f;
	one_interval(&b, &a, &w, &f);
	ck_assert_double_eq(f.writes, 27);
	ck_assert_double_eq_tol(f.write_5xx_ratio, 6.0 / 27.0, 1e-12);
	ck_assert_double_eq_tol(f.write_p99_ms, 2955, 1e-9);
	ck_assert_double_eq(f.reads, 0);
	ck_assert(isnan(f.read_p99_ms) && isnan(f.read_5xx_ratio));
	/* the six held by the webhook are the ones over half a second (buckets (2, 3]) */
	ck_assert_double_eq_tol(rk_prom_histogram_count_above(&w.writes, 0.5), 6, 1e-9);
	ck_assert_double_eq_tol(rk_prom_histogram_count_above(&w.writes, 2.5), 3, 1e-9); /* half the bucket */
	ck_assert_double_eq(rk_prom_histogram_count_above(&w.writes, 3), 0);
	ck_assert_double_eq(rk_prom_histogram_count_above(&w.writes, 0), 27);
}
END_TEST

/* 429s and 5xx by verb; non-resource requests (the health checks), WATCH and dry-run are neither. */
START_TEST(throttled_ratio)
{
#define REQ(code, dry, verb, res)                                                                            \
	"apiserver_request_total{code=\"" code "\",dry_run=\"" dry "\",resource=\"" res "\",verb=\"" verb    \
	"\"} "
	const char *before =
	    "process_start_time_seconds 1.7e+09\n" REQ("200", "", "PUT", "secrets") "10\n" REQ(
	        "200", "", "GET", "secrets") "10\n" REQ("200", "", "GET", "") "5\n";
	const char *after =
	    "process_start_time_seconds 1.7e+09\n" REQ("200", "", "PUT", "secrets") "40\n" REQ("429", "", "PUT", "secrets") "10\n" REQ(
	        "503", "", "GET",
	        "secrets") "2\n" REQ("200", "", "GET",
	                             "secrets") "18\n" REQ("200", "", "WATCH",
	                                                   "secrets") "7\n" REQ("500", "All", "PUT",
	                                                                        "secrets") "3\n" REQ("500",
	                                                                                             "",
	                                                                                             "GET",
	                                                                                             "") "9"
	                                                                                                 "\n";
	rk_prom_apiserver a, b;
	scrape_text(before, &a);
	scrape_text(after, &b);
	rk_prom_window w;
	rk_prom_figures f;
	one_interval(&b, &a, &w, &f);
	ck_assert_double_eq(f.writes, 40);
	ck_assert_double_eq(f.write_429_ratio, 0.25);
	ck_assert_double_eq(f.write_5xx_ratio, 0);
	ck_assert(isnan(f.write_p99_ms)); /* no duration histogram in this text */
	ck_assert_double_eq(f.reads, 10);
	ck_assert_double_eq(f.read_5xx_ratio, 0.2);
}
END_TEST

/* Deltas of histograms with different bounds merge by cumulative count at each bound. */
START_TEST(histogram_merge)
{
	rk_prom_histogram into = {2, {0.1, INFINITY}, {4, 5}, 1, 5};
	rk_prom_histogram add = {3, {0.05, 0.2, INFINITY}, {1, 2, 3}, 2, 3};
	rk_err err;
	ck_assert_int_eq(rk_prom_histogram_merge(&into, &add, &err), RK_OK);
	ck_assert_uint_eq(into.nbuckets, 4);
	double le[] = {0.05, 0.1, 0.2, INFINITY}, count[] = {1, 5, 6, 8};
	for (size_t i = 0; i < 4; i++) {
		ck_assert_double_eq(into.le[i], le[i]);
		ck_assert_double_eq(into.count[i], count[i]);
	}
	ck_assert_double_eq(into.sum, 3);
	ck_assert_double_eq(into.total, 8);
	rk_prom_histogram full = {0};
	for (size_t i = 0; i < RK_PROM_BUCKETS_MAX; i++)
		full.le[full.nbuckets++] = (double)i;
	rk_prom_histogram one = {1, {1000}, {1}, 0, 1};
	ck_assert_int_eq(rk_prom_histogram_merge(&full, &one, &err), RK_BADINPUT);
	ck_assert_uint_eq(full.nbuckets, RK_PROM_BUCKETS_MAX); /* unchanged */
	/* above a bound: whole buckets, a share of the one holding it, the +Inf bucket always */
	ck_assert_double_eq(rk_prom_histogram_count_above(&into, 0.2), 2);
	ck_assert_double_eq_tol(rk_prom_histogram_count_above(&into, 0.15), 2.5, 1e-12);
	ck_assert_double_eq_tol(rk_prom_histogram_count_above(&into, 0.025), 7.5, 1e-12);
	ck_assert_double_eq(rk_prom_histogram_count_above(&into, 100), 2);
	rk_prom_histogram empty = {0};
	ck_assert_double_eq(rk_prom_histogram_count_above(&empty, 1), 0);
}
END_TEST

Suite *promapi_suite(void)
{
	Suite *s = suite_create("promapi");
	TCase *tc = tcase_create("promapi");
	tcase_add_test(tc, real_scrapes_window);
	tcase_add_test(tc, real_restart_is_skipped);
	tcase_add_test(tc, reset_by_counters_or_start_time);
	tcase_add_test(tc, real_server_errors);
	tcase_add_test(tc, throttled_ratio);
	tcase_add_test(tc, histogram_merge);
	suite_add_tcase(s, tc);
	return s;
}
