/* test_verdict.c: judging a finished window against the budget: the apiserver's writes, its reads when
 * it made too few writes, windows with fewer requests than needed padded with fast successful ones;
 * the client's probes; the signal names. */
#include <check.h>
#include <math.h>
#include <string.h>

#include "rekey/verdict.h"

static const rk_verdict_limits limits = {500, 0.01, 0.05, 20};

#define SIGNAL(s) (1u << (s))

/* The apiserver judged on these figures: judged, on reads or not, these signals broken, this text. */
static void check_server(const rk_verdict_figures *writes, const rk_verdict_figures *reads, int on_reads,
                         unsigned breached, const char *text)
{
	rk_verdict v;
	rk_verdict_server(&limits, writes, reads, &v);
	ck_assert_int_eq(v.judged, 1);
	ck_assert_int_eq(v.on_reads, on_reads);
	ck_assert_uint_eq(v.breached, breached);
	ck_assert_str_eq(v.text, text);
}

START_TEST(server_writes_within_budget)
{
	rk_verdict_figures writes = {94, 24.7, 0, 0, 0}, reads = {31, 22.9, 0, 0, 0};
	check_server(&writes, &reads, 0, 0, "94 writes: p99 24.7 ms, 5xx 0.00%, 429 0.00%");
}
END_TEST

START_TEST(server_each_signal_breaks)
{
	rk_verdict_figures writes = {27, 2955, 6, 6.0 / 27.0, 0.1}, reads = {0, NAN, 0, NAN, NAN};
	rk_verdict v;
	rk_verdict_server(&limits, &writes, &reads, &v);
	ck_assert_uint_eq(v.breached, SIGNAL(RK_SIGNAL_SERVER_P99) | SIGNAL(RK_SIGNAL_SERVER_5XX) |
	                                  SIGNAL(RK_SIGNAL_SERVER_429));
	ck_assert_str_eq(v.text, "27 writes: p99 2955.0 ms > 500 ms, 5xx 22.22% > 1.00%, 429 10.00% > 5.00%");
	char names[64];
	rk_verdict_signals(v.breached, names, sizeof names);
	ck_assert_str_eq(names, "server-p99,5xx,429");
	/* at the limit is within it; no limit set is never broken */
	rk_verdict_figures edge = {20, 500, 0, 0.01, 0.05};
	rk_verdict_server(&limits, &edge, &reads, &v);
	ck_assert_uint_eq(v.breached, 0);
	rk_verdict_limits none = {0, -1, -1, 20};
	rk_verdict_server(&none, &writes, &reads, &v);
	ck_assert_uint_eq(v.breached, 0);
	ck_assert_int_eq(v.judged, 1);
}
END_TEST

/* Three slow writes are 15% of the 20 a window needs: over budget whatever the reads say. */
START_TEST(server_few_writes_padded_beside_reads)
{
	rk_verdict_figures writes = {3, 900, 3, 0, 0}, reads = {130, 812, 120, 0, 0};
	check_server(
	    &writes, &reads, 1, SIGNAL(RK_SIGNAL_SERVER_P99),
	    "3 writes (padded to 20): p99 900.0 ms, 3 over 500 ms (15.00% > 1.00%), 5xx 0.00%, 429 0.00%; "
	    "130 reads: p99 812.0 ms > 500 ms, 5xx 0.00%, 429 0.00%");
	rk_verdict v;
	rk_verdict_figures quick = {3, 30, 0, 0, 0}, calm_reads = {130, 20, 0, 0, 0};
	rk_verdict_server(&limits, &quick, &calm_reads, &v);
	ck_assert_uint_eq(v.breached, 0);
	ck_assert_int_eq(v.on_reads, 1);
	/* few reads beside few writes: the reads are not judged, the writes are */
	rk_verdict_figures few_reads = {5, 900, 5, 0, 0};
	rk_verdict_server(&limits, &quick, &few_reads, &v);
	ck_assert_uint_eq(v.breached, 0);
	ck_assert_int_eq(v.on_reads, 0);
}
END_TEST

/* Failures over the padded count: 1 of 5 is 5% of 20, 0 of 5 is nothing. */
START_TEST(padded_ratios)
{
	rk_verdict_figures none = {0, NAN, 0, NAN, NAN};
	rk_verdict_figures one_failed = {5, 40, 0, 0.2, 0}, healthy = {5, 40, 0, 0, 0};
	rk_verdict v;
	rk_verdict_server(&limits, &one_failed, &none, &v);
	ck_assert_uint_eq(v.breached, SIGNAL(RK_SIGNAL_SERVER_5XX));
	ck_assert_ptr_nonnull(strstr(v.text, "5xx 5.00% > 1.00%"));
	rk_verdict_server(&limits, &healthy, &none, &v);
	ck_assert_uint_eq(v.breached, 0);
	ck_assert_str_eq(v.text,
	                 "5 writes (padded to 20): p99 40.0 ms, 0 over 500 ms (0.00%), 5xx 0.00%, 429 0.00%");
	/* no writes at all: reads, padded when few; nothing at all: not judged */
	rk_verdict_figures slow_reads = {4, 700, 2, 0, 0};
	rk_verdict_server(&limits, &none, &slow_reads, &v);
	ck_assert_int_eq(v.on_reads, 1);
	ck_assert_uint_eq(v.breached, SIGNAL(RK_SIGNAL_SERVER_P99));
	rk_verdict_server(&limits, &none, &none, &v);
	ck_assert_int_eq(v.judged, 0);
	ck_assert_uint_eq(v.breached, 0);
	ck_assert_str_eq(v.text, "no writes, no reads: nothing to judge");
}
END_TEST

START_TEST(client_probes)
{
	rk_verdict v;
	rk_verdict_figures fine = {120, 8.1, 0, 0, NAN};
	rk_verdict_client(&limits, &fine, &v);
	ck_assert_int_eq(v.judged, 1);
	ck_assert_uint_eq(v.breached, 0);
	ck_assert_str_eq(v.text, "120 probes: p99 8.1 ms, failed 0.00%");
	rk_verdict_figures slow = {40, 812.5, 10, 0.25, NAN};
	rk_verdict_client(&limits, &slow, &v);
	ck_assert_uint_eq(v.breached, SIGNAL(RK_SIGNAL_CLIENT_LATENCY) | SIGNAL(RK_SIGNAL_CLIENT_ERRORS));
	ck_assert_str_eq(v.text, "40 probes: p99 812.5 ms > 500 ms, failed 25.00% > 1.00%");
	/* an apiserver so slow that only five probes came back still fails */
	rk_verdict_figures few = {5, 9000, 5, 1, NAN};
	rk_verdict_client(&limits, &few, &v);
	ck_assert_int_eq(v.judged, 1);
	ck_assert_uint_eq(v.breached, SIGNAL(RK_SIGNAL_CLIENT_LATENCY) | SIGNAL(RK_SIGNAL_CLIENT_ERRORS));
	rk_verdict_figures none = {0, NAN, 0, NAN, NAN};
	rk_verdict_client(&limits, &none, &v);
	ck_assert_int_eq(v.judged, 0);
	ck_assert_str_eq(v.text, "no probes answered");
}
END_TEST

START_TEST(signal_names)
{
	const char *want[] = {"client-latency", "client-errors", "server-p99", "5xx", "429", "inflight"};
	for (int s = 0; s < RK_SIGNAL_COUNT; s++)
		ck_assert_str_eq(rk_signal_name((rk_signal)s), want[s]);
	ck_assert_str_eq(rk_signal_name(RK_SIGNAL_COUNT), "unknown");
	char out[16];
	rk_verdict_signals(SIGNAL(RK_SIGNAL_CLIENT_LATENCY) | SIGNAL(RK_SIGNAL_SERVER_INFLIGHT), out,
	                   sizeof out);
	ck_assert_str_eq(out, "client-latency"); /* what does not fit is left out whole */
	rk_verdict_signals(0, out, sizeof out);
	ck_assert_str_eq(out, "");
}
END_TEST

Suite *verdict_suite(void)
{
	Suite *s = suite_create("verdict");
	TCase *tc = tcase_create("verdict");
	tcase_add_test(tc, server_writes_within_budget);
	tcase_add_test(tc, server_each_signal_breaks);
	tcase_add_test(tc, server_few_writes_padded_beside_reads);
	tcase_add_test(tc, padded_ratios);
	tcase_add_test(tc, client_probes);
	tcase_add_test(tc, signal_names);
	suite_add_tcase(s, tc);
	return s;
}
