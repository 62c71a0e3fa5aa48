/* test_promtext.c: the Prometheus text parser on kube-apiserver-like /metrics scrapes (fixtures in
 * tests/unit/data, read relative to the repository top, where tests/run.sh runs), malformed lines,
 * streaming in small chunks, and histogram quantiles over one scrape and over a window of two. */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rekey/promtext.h"
#include "testutil.h"

#define FIXTURE_1 "tests/unit/data/apiserver_metrics_1.txt"
#define FIXTURE_2 "tests/unit/data/apiserver_metrics_2.txt"

static const rk_prom_label put_secrets[] = {{"verb", "PUT"}, {"resource", "secrets"}, {"dry_run", ""}};
static const char *family = "apiserver_request_duration_seconds";

static char *fixture(const char *path, size_t *len)
{
	char *text = tu_read_file(path, len);
	ck_assert_msg(text != NULL, "cannot read %s (run from the repository top)", path);
	return text;
}

struct tally {
	int samples, help, type, last_line;
	double value_sum;
	char last_type[32];
};

static int tally_sample(const rk_prom_sample *s, void *ud)
{
	struct tally *t = ud;
	t->samples++;
	t->last_line = s->line;
	if (isfinite(s->value))
		t->value_sum += s->value;
	return 0;
}

static int tally_meta(const char *kind, const char *metric, const char *text, int line, void *ud)
{
	struct tally *t = ud;
	(void)metric;
	(void)line;
	if (!strcmp(kind, "HELP"))
		t->help++;
	else {
		t->type++;
		snprintf(t->last_type, sizeof t->last_type, "%s", text);
	}
	return 0;
}

START_TEST(parses_apiserver_scrape)
{
	size_t len;
	char *text = fixture(FIXTURE_1, &len);
	struct tally t = {0};
	rk_err err;
	ck_assert_int_eq(rk_prom_parse("m1", text, len, tally_sample, tally_meta, &t, &err), RK_OK);
	ck_assert_int_eq(t.help, 5);
	ck_assert_int_eq(t.type, 5);
	ck_assert_str_eq(t.last_type, "gauge");
	ck_assert_int_eq(t.samples, 146 - 10);
	ck_assert_int_eq(t.last_line, 146);
	double v;
	int n;
	const rk_prom_label mutating[] = {{"request_kind", "mutating"}};
	ck_assert_int_eq(
	    rk_prom_find(text, len, "apiserver_current_inflight_requests", mutating, 1, &v, &n, &err), RK_OK);
	ck_assert_int_eq(n, 1);
	ck_assert_double_eq(v, 3);
	ck_assert_int_eq(
	    rk_prom_find(text, len, "apiserver_current_inflight_requests", NULL, 0, &v, &n, &err), RK_OK);
	ck_assert_int_eq(n, 2);
	ck_assert_double_eq(v, 10);
	const rk_prom_label cfg[] = {
	    {"hash", "sha256:6bc9f4aa2e5587afbb96074e1809550cbc4de3cc3a35717dac8ff2800a147fd3"}};
	ck_assert_int_eq(rk_prom_find(text, len, "apiserver_encryption_config_controller_last_config_info",
	                              cfg, 1, &v, &n, &err),
	                 RK_OK);
	ck_assert_int_eq(n, 1);
	ck_assert_int_eq(rk_prom_find(text, len, "process_start_time_seconds", NULL, 0, &v, &n, &err), RK_OK);
	ck_assert_double_eq_tol(v, 1764219627.89, 1e-3);
	const rk_prom_label absent[] = {{"request_kind", "nope"}};
	ck_assert_int_eq(
	    rk_prom_find(text, len, "apiserver_current_inflight_requests", absent, 1, &v, &n, &err), RK_OK);
	ck_assert_int_eq(n, 0);
	free(text);
}
END_TEST

START_TEST(streaming_in_small_chunks_matches_whole)
{
	size_t len;
	char *text = fixture(FIXTURE_2, &len);
	struct tally whole = {0}, chunked = {0};
	rk_err err;
	ck_assert_int_eq(rk_prom_parse("m2", text, len, tally_sample, tally_meta, &whole, &err), RK_OK);
	const size_t chunk_sizes[] = {1, 7, 4096};
	for (size_t k = 0; k < 3; k++) {
		memset(&chunked, 0, sizeof chunked);
		rk_prom_parser *p = rk_prom_parser_new("m2", tally_sample, tally_meta, &chunked);
		for (size_t off = 0; off < len; off += chunk_sizes[k]) {
			size_t n = len - off < chunk_sizes[k] ? len - off : chunk_sizes[k];
			ck_assert_int_eq(rk_prom_parser_feed(p, text + off, n, &err), RK_OK);
		}
		ck_assert_int_eq(rk_prom_parser_finish(p, &err), RK_OK);
		rk_prom_parser_free(p);
		ck_assert_int_eq(chunked.samples, whole.samples);
		ck_assert_int_eq(chunked.help, whole.help);
		ck_assert_double_eq(chunked.value_sum, whole.value_sum);
	}
	free(text);
}
END_TEST

struct first_sample {
	char name[64];
	char labels[256];
	double value;
	int has_ts;
	long long ts;
	int count;
};

static int keep_sample(const rk_prom_sample *s, void *ud)
{
	struct first_sample *f = ud;
	f->count++;
	snprintf(f->name, sizeof f->name, "%s", s->name);
	f->labels[0] = 0;
	for (size_t i = 0; i < s->nlabels; i++)
		snprintf(f->labels + strlen(f->labels), sizeof f->labels - strlen(f->labels), "%s=%s|",
		         s->labels[i].name, s->labels[i].value);
	f->value = s->value;
	f->has_ts = s->has_timestamp;
	f->ts = (long long)s->timestamp_ms;
	return 0;
}

static struct first_sample parse_one(const char *line)
{
	struct first_sample f;
	memset(&f, 0, sizeof f);
	rk_err err;
	int rc = rk_prom_parse("t", line, strlen(line), keep_sample, NULL, &f, &err);
	ck_assert_msg(rc == RK_OK, "%s: %s", line, err.msg);
	ck_assert_int_eq(f.count, 1);
	return f;
}

START_TEST(values_labels_escapes_timestamps)
{
	struct first_sample f =
	    parse_one("m_total{path=\"C:\\\\dir\",msg=\"say \\\"hi\\\"\\nbye\",} 12 1700000000123");
	ck_assert_str_eq(f.name, "m_total");
	ck_assert_str_eq(f.labels, "path=C:\\dir|msg=say \"hi\"\nbye|");
	ck_assert_double_eq(f.value, 12);
	ck_assert_int_eq(f.has_ts, 1);
	ck_assert_int_eq(f.ts, 1700000000123LL);
	f = parse_one("m +Inf");
	ck_assert(isinf(f.value) && f.value > 0);
	f = parse_one("m -Inf");
	ck_assert(isinf(f.value) && f.value < 0);
	f = parse_one("m NaN");
	ck_assert(isnan(f.value));
	f = parse_one("  ns:sub_metric\t{ a = \"1\" }\t-1.5e-3  -5 ");
	ck_assert_str_eq(f.name, "ns:sub_metric");
	ck_assert_str_eq(f.labels, "a=1|");
	ck_assert_double_eq_tol(f.value, -0.0015, 1e-12);
	ck_assert_int_eq(f.ts, -5);
	f = parse_one("m{} 2");
	ck_assert_str_eq(f.labels, "");
	ck_assert_int_eq(f.has_ts, 0);
	f = parse_one("# a plain comment\n\n# TYPE m counter\nm{empty=\"\"} 0\n");
	ck_assert_str_eq(f.labels, "empty=|");
}
END_TEST

struct help_text {
	char text[128];
};

static int keep_help(const char *kind, const char *metric, const char *text, int line, void *ud)
{
	(void)metric;
	(void)line;
	if (!strcmp(kind, "HELP"))
		snprintf(((struct help_text *)ud)->text, sizeof((struct help_text *)ud)->text, "%s", text);
	return 0;
}

START_TEST(help_is_unescaped)
{
	const char *text = "# HELP m a\\\\b\\nc \\x\n";
	struct help_text h = {""};
	rk_err err;
	ck_assert_int_eq(rk_prom_parse("t", text, strlen(text), NULL, keep_help, &h, &err), RK_OK);
	ck_assert_str_eq(h.text, "a\\b\nc \\x");
}
END_TEST

struct bad_case {
	const char *line;
	const char *want; /* substring of the error: "t:2:col: message" */
};

static const struct bad_case bad_cases[] = {
    {"m{a=\"b\" 1", "t:2:9: expected ',' or '}'"},
    {"m{a=\"b\\q\"} 1", "t:2:8: invalid escape sequence"},
    {"m 1 2 3", "t:2:7: unexpected text after the timestamp"},
    {"m abc", "t:2:3: invalid sample value \"abc\""},
    {"m", "missing sample value"},
    {"m{}", "missing sample value"},
    {"m{a=\"b\",a=\"c\"} 1", "t:2:9: duplicate label \"a\""},
    {"# TYPE m whatever", "unknown metric type \"whatever\""},
    {"# TYPE m counter extra", "unexpected text after the metric type"},
    {"# HELP 9m text", "expected a metric name after # HELP"},
    {"9metric 1", "t:2:1: expected a metric name"},
    {"m{=\"x\"} 1", "t:2:3: expected a label name"},
    {"m{a=\"unterminated} 1", "unterminated label value"},
    {"m{a=b} 1", "expected '\"' to open the label value"},
    {"m{a:b=\"1\"} 1", "expected '=' after the label name"},
    {"m 1 12.5", "t:2:5: invalid timestamp \"12.5\""},
    {"m 1 99999999999999999999", "invalid timestamp"},
    {"m 0x", "invalid sample value"},
    {"m{a=\"1\"}2", "expected a blank before the value"},
};

START_TEST(malformed_lines_name_line_and_column)
{
	const struct bad_case *bc = &bad_cases[_i];
	char text[256];
	snprintf(text, sizeof text, "ok_metric 1\n%s\nnever_reached 2\n", bc->line);
	struct tally t = {0};
	rk_err err;
	ck_assert_int_eq(rk_prom_parse("t", text, strlen(text), tally_sample, NULL, &t, &err), RK_BADINPUT);
	ck_assert_msg(strstr(err.msg, bc->want) != NULL, "%s: got \"%s\", want \"%s\"", bc->line, err.msg,
	              bc->want);
	ck_assert_int_eq(t.samples, 1);
}
END_TEST

START_TEST(nul_long_lines_and_failed_parser)
{
	rk_err err;
	const char nul[] = "m 1\nm\0x 2\n";
	ck_assert_int_eq(rk_prom_parse("t", nul, sizeof nul - 1, NULL, NULL, NULL, &err), RK_BADINPUT);
	ck_assert_ptr_nonnull(strstr(err.msg, "t:2: NUL byte"));
	size_t big = RK_PROM_LINE_MAX + 10;
	char *longline = malloc(big);
	memset(longline, 'a', big);
	rk_prom_parser *p = rk_prom_parser_new("t", NULL, NULL, NULL);
	ck_assert_int_eq(rk_prom_parser_feed(p, longline, big, &err), RK_BADINPUT);
	ck_assert_ptr_nonnull(strstr(err.msg, "t:1: line longer than"));
	ck_assert_int_eq(rk_prom_parser_feed(p, "m 1\n", 4, &err), RK_BADINPUT);
	ck_assert_int_eq(rk_prom_parser_finish(p, &err), RK_BADINPUT);
	rk_prom_parser_free(p);
	free(longline);
}
END_TEST

static int stop_at_second(const rk_prom_sample *s, void *ud)
{
	(void)ud;
	return s->line == 2 ? 7 : 0;
}

START_TEST(callback_can_stop_the_parse)
{
	const char *text = "a 1\nb 2\nc 3\n";
	rk_err err;
	ck_assert_int_eq(rk_prom_parse("t", text, strlen(text), stop_at_second, NULL, NULL, &err), 7);
}
END_TEST

START_TEST(histogram_quantiles_like_promql)
{
	size_t len;
	char *text = fixture(FIXTURE_1, &len);
	rk_prom_histogram h;
	rk_err err;
	ck_assert_int_eq(rk_prom_histogram_collect(text, len, family, put_secrets, 3, &h, &err), RK_OK);
	ck_assert_uint_eq(h.nbuckets, 24);
	ck_assert(isinf(h.le[23]));
	ck_assert_double_eq(h.total, 1000);
	ck_assert_double_eq(h.sum, 21.5);
	/* p50: rank 500 in (0.005, 0.025] holding 800 after 100 below: 0.005 + 0.02 * 400/800 */
	ck_assert_double_eq_tol(rk_prom_histogram_quantile(0.5, &h), 0.015, 1e-12);
	/* p99: rank 990 in (0.05, 0.1] holding 15 after 980: 0.05 + 0.05 * 10/15 */
	ck_assert_double_eq_tol(rk_prom_histogram_quantile(0.99, &h), 0.05 + 0.05 * 10.0 / 15.0, 1e-12);
	/* lowest bucket interpolates from 0: rank 50 of 100 in (0, 0.005] */
	ck_assert_double_eq_tol(rk_prom_histogram_quantile(0.05, &h), 0.0025, 1e-12);
	ck_assert(isinf(rk_prom_histogram_quantile(1.5, &h)));
	ck_assert(rk_prom_histogram_quantile(-0.1, &h) < 0 && isinf(rk_prom_histogram_quantile(-0.1, &h)));
	/* without the dry_run matcher the dry-run series is summed in (like sum by (le)) */
	const rk_prom_label put_any[] = {{"verb", "PUT"}, {"resource", "secrets"}};
	ck_assert_int_eq(rk_prom_histogram_collect(text, len, family, put_any, 2, &h, &err), RK_OK);
	ck_assert_double_eq(h.total, 1005);
	ck_assert_double_eq(h.count[0], 105);
	free(text);
}
END_TEST

START_TEST(histogram_edge_cases)
{
	rk_prom_histogram h = {0};
	ck_assert(isnan(rk_prom_histogram_quantile(0.5, &h))); /* no buckets */
	const char *no_inf = "x_bucket{le=\"1\"} 3\nx_bucket{le=\"2\"} 4\n";
	rk_err err;
	ck_assert_int_eq(rk_prom_histogram_collect(no_inf, strlen(no_inf), "x", NULL, 0, &h, &err), RK_OK);
	ck_assert(isnan(rk_prom_histogram_quantile(0.5, &h))); /* no +Inf bucket */
	const char *empty = "x_bucket{le=\"1\"} 0\nx_bucket{le=\"+Inf\"} 0\n";
	ck_assert_int_eq(rk_prom_histogram_collect(empty, strlen(empty), "x", NULL, 0, &h, &err), RK_OK);
	ck_assert(isnan(rk_prom_histogram_quantile(0.5, &h))); /* no observations */
	/* out of order and non-monotonic input: sorted, evened out; a rank in +Inf gives the highest bound */
	const char *odd = "x_bucket{le=\"+Inf\"} 10\nx_bucket{le=\"2\"} 4\nx_bucket{le=\"1\"} 6\n";
	ck_assert_int_eq(rk_prom_histogram_collect(odd, strlen(odd), "x", NULL, 0, &h, &err), RK_OK);
	ck_assert_double_eq(h.le[0], 1);
	ck_assert_double_eq_tol(rk_prom_histogram_quantile(0.3, &h), 0.5, 1e-12);
	ck_assert_double_eq(rk_prom_histogram_quantile(0.9, &h), 2);
	const char *bad_le = "x_bucket{le=\"fast\"} 1\n";
	ck_assert_int_eq(rk_prom_histogram_collect(bad_le, strlen(bad_le), "x", NULL, 0, &h, &err),
	                 RK_BADINPUT);
	ck_assert_ptr_nonnull(strstr(err.msg, "le=\"fast\""));
	const char *no_le = "x_bucket 1\n";
	ck_assert_int_eq(rk_prom_histogram_collect(no_le, strlen(no_le), "x", NULL, 0, &h, &err),
	                 RK_BADINPUT);
}
END_TEST

START_TEST(window_quantile_over_two_scrapes)
{
	size_t len1, len2;
	char *t1 = fixture(FIXTURE_1, &len1), *t2 = fixture(FIXTURE_2, &len2);
	rk_prom_histogram h1, h2, d;
	rk_err err;
	ck_assert_int_eq(rk_prom_histogram_collect(t1, len1, family, put_secrets, 3, &h1, &err), RK_OK);
	ck_assert_int_eq(rk_prom_histogram_collect(t2, len2, family, put_secrets, 3, &h2, &err), RK_OK);
	ck_assert_int_eq(rk_prom_histogram_delta(&h2, &h1, &d), 0);
	ck_assert_double_eq(d.total, 100);
	ck_assert_double_eq_tol(d.sum, 98.75, 1e-9);
	/* the window: 50 in (0.2, 0.4], 49 in (0.4, 0.6], 1 above 60 s */
	ck_assert_double_eq_tol(rk_prom_histogram_window_quantile(0.5, &h2, &h1), 0.4, 1e-12);
	ck_assert_double_eq_tol(rk_prom_histogram_window_quantile(0.99, &h2, &h1), 0.6, 1e-12);
	ck_assert_double_eq(rk_prom_histogram_window_quantile(0.999, &h2, &h1), 60);
	/* the whole second scrape is dominated by the old fast requests */
	ck_assert_double_eq_tol(rk_prom_histogram_quantile(0.99, &h2), 0.4 + 0.2 * 39.0 / 49.0, 1e-12);
	/* counters that went down (apiserver restart): the later scrape alone */
	ck_assert_int_eq(rk_prom_histogram_delta(&h1, &h2, &d), 1);
	ck_assert_double_eq(d.total, 1000);
	ck_assert_double_eq_tol(rk_prom_histogram_window_quantile(0.5, &h1, &h2), 0.015, 1e-12);
	free(t1);
	free(t2);
}
END_TEST

START_TEST(apiserver_figures_from_two_scrapes)
{
	size_t len1, len2;
	char *t1 = fixture(FIXTURE_1, &len1), *t2 = fixture(FIXTURE_2, &len2);
	rk_prom_apiserver s1, s2;
	rk_err err;
	ck_assert_int_eq(rk_prom_apiserver_parse(t1, len1, "secrets", "", &s1, &err), RK_OK);
	/* the second scrape streamed in 100-byte chunks, as from an HTTP body */
	rk_prom_apiserver_init(&s2, "secrets", "");
	rk_prom_parser *p = rk_prom_parser_new("m2", rk_prom_apiserver_on_sample, NULL, &s2);
	for (size_t off = 0; off < len2; off += 100)
		ck_assert_int_eq(rk_prom_parser_feed(p, t2 + off, len2 - off < 100 ? len2 - off : 100, &err),
		                 RK_OK);
	ck_assert_int_eq(rk_prom_parser_finish(p, &err), RK_OK);
	rk_prom_parser_free(p);
	ck_assert_double_eq(s1.inflight_mutating, 3);
	ck_assert_double_eq(s2.inflight_mutating, 9);
	ck_assert_double_eq(s1.put.total, 1000); /* the dry-run PUTs are left out */
	ck_assert_double_eq_tol(rk_prom_apiserver_put_p99_ms(&s2, &s1), 600, 1e-9);
	/* another resource: configmaps PUTs all in (0.8, 1] */
	rk_prom_apiserver cm;
	ck_assert_int_eq(rk_prom_apiserver_parse(t1, len1, "configmaps", NULL, &cm, &err), RK_OK);
	ck_assert_double_eq(cm.put.total, 50);
	ck_assert_double_eq_tol(1000 * rk_prom_histogram_quantile(0.5, &cm.put), 900, 1e-9);
	/* a resource with no PUTs and a scrape with no inflight gauge */
	const char *bare = "apiserver_request_total{verb=\"PUT\"} 1\n";
	ck_assert_int_eq(rk_prom_apiserver_parse(bare, strlen(bare), "secrets", "", &cm, &err), RK_OK);
	ck_assert(isnan(cm.inflight_mutating));
	ck_assert(isnan(rk_prom_apiserver_put_p99_ms(&cm, &cm)));
	const char *bad =
	    "apiserver_request_duration_seconds_bucket{verb=\"PUT\",resource=\"secrets\",le=\"x\"} 1\n";
	ck_assert_int_eq(rk_prom_apiserver_parse(bad, strlen(bad), "secrets", "", &cm, &err), RK_BADINPUT);
	ck_assert_ptr_nonnull(strstr(err.msg, "le=\"x\""));
	free(t1);
	free(t2);
}
END_TEST

Suite *promtext_suite(void)
{
	Suite *s = suite_create("promtext");
	TCase *tc = tcase_create("promtext");
	tcase_add_test(tc, parses_apiserver_scrape);
	tcase_add_test(tc, streaming_in_small_chunks_matches_whole);
	tcase_add_test(tc, values_labels_escapes_timestamps);
	tcase_add_test(tc, help_is_unescaped);
	tcase_add_loop_test(tc, malformed_lines_name_line_and_column, 0,
	                    sizeof bad_cases / sizeof bad_cases[0]);
	tcase_add_test(tc, nul_long_lines_and_failed_parser);
	tcase_add_test(tc, callback_can_stop_the_parse);
	tcase_add_test(tc, histogram_quantiles_like_promql);
	tcase_add_test(tc, histogram_edge_cases);
	tcase_add_test(tc, window_quantile_over_two_scrapes);
	tcase_add_test(tc, apiserver_figures_from_two_scrapes);
	suite_add_tcase(s, tc);
	return s;
}
