/* promtext.h: a streaming parser for the Prometheus text exposition format 0.0.4 (what kube-apiserver's
 * /metrics serves), sample lookup by name and label matchers, and histogram quantiles computed like
 * PromQL's histogram_quantile, over one scrape or over the difference of two scrapes (a window). */
#ifndef REKEY_PROMTEXT_H
#define REKEY_PROMTEXT_H

#include <stddef.h>
#include <stdint.h>

#include "rekey/buf.h"
#include "rekey/err.h"

#define RK_PROM_LINE_MAX 65536 /* longer lines are an error: the parser's memory stays bounded */
#define RK_PROM_LABELS_MAX 64  /* labels per sample */
#define RK_PROM_BUCKETS_MAX 64 /* distinct `le` bounds per histogram */

typedef struct rk_prom_label {
	const char *name;
	const char *value; /* unescaped */
} rk_prom_label;

/* One sample line. Pointers are valid only during the callback. */
typedef struct rk_prom_sample {
	const char *name;
	const rk_prom_label *labels;
	size_t nlabels;
	double value; /* +Inf, -Inf and NaN included */
	int has_timestamp;
	int64_t timestamp_ms;
	int line;
} rk_prom_sample;

/* Return 0 to go on; any other value stops the parse and is returned by feed/finish (err untouched). */
typedef int (*rk_prom_sample_cb)(const rk_prom_sample *sample, void *ud);
/* `# HELP name text` (text unescaped) and `# TYPE name type`; kind is "HELP" or "TYPE". May be NULL. */
typedef int (*rk_prom_meta_cb)(const char *kind, const char *metric, const char *text, int line, void *ud);

typedef struct rk_prom_parser rk_prom_parser;

/* `source` names the input in error messages ("source:line:col: message"). NULL on out of memory. */
rk_prom_parser *rk_prom_parser_new(const char *source, rk_prom_sample_cb on_sample, rk_prom_meta_cb on_meta,
                                   void *ud);
/* Feeds any chunk of the input (lines may span chunks). Malformed input -> RK_BADINPUT with the line and
 * column; the parser then refuses further input. */
int rk_prom_parser_feed(rk_prom_parser *p, const char *data, size_t len, rk_err *err);
/* Parses a last line without a trailing newline. */
int rk_prom_parser_finish(rk_prom_parser *p, rk_err *err);
void rk_prom_parser_free(rk_prom_parser *p);

/* Whole-buffer convenience: new + feed + finish + free. */
int rk_prom_parse(const char *source, const char *text, size_t len, rk_prom_sample_cb on_sample,
                  rk_prom_meta_cb on_meta, void *ud, rk_err *err);

/* The value of a label, NULL when absent. */
const char *rk_prom_label_value(const rk_prom_sample *sample, const char *name);
/* 1 when every matcher's label equals its value (a matcher with value "" also matches an absent label,
 * as in PromQL). */
int rk_prom_labels_match(const rk_prom_sample *sample, const rk_prom_label *matchers, size_t nmatchers);

/* Sum of the values of every sample named `name` whose labels match; *matched = how many matched
 * (0: *value = 0). */
int rk_prom_find(const char *text, size_t len, const char *name, const rk_prom_label *matchers,
                 size_t nmatchers, double *value, int *matched, rk_err *err);

/* A classic histogram aggregated over every series that matches (like sum by (le) in PromQL). */
typedef struct rk_prom_histogram {
	size_t nbuckets;
	double le[RK_PROM_BUCKETS_MAX];    /* ascending upper bounds; the last is +Inf when complete */
	double count[RK_PROM_BUCKETS_MAX]; /* cumulative counts */
	double sum;                        /* NAME_sum */
	double total;                      /* NAME_count */
} rk_prom_histogram;

/* Adds one sample to h when it is NAME_bucket / NAME_sum / NAME_count of `family` and its labels match.
 * For use from a sample callback so one parse can fill several histograms. Returns RK_OK, or RK_BADINPUT
 * for a bucket with a missing or non-numeric `le` or more than RK_PROM_BUCKETS_MAX bounds. */
int rk_prom_histogram_add(rk_prom_histogram *h, const char *family, const rk_prom_label *matchers,
                          size_t nmatchers, const rk_prom_sample *sample, rk_err *err);
/* Parses text and collects one histogram (h zeroed first). */
int rk_prom_histogram_collect(const char *text, size_t len, const char *family, const rk_prom_label *matchers,
                              size_t nmatchers, rk_prom_histogram *h, rk_err *err);

/* The q-quantile (0 <= q <= 1) with PromQL histogram_quantile's rules: linear interpolation inside the
 * bucket; the lowest bucket starts at 0 (unless its bound is <= 0); a rank in the +Inf bucket returns
 * the second-highest bound; NaN when there is no +Inf bucket, fewer than 2 buckets or no observations;
 * q < 0 -> -Inf, q > 1 -> +Inf. Non-monotonic counts are evened out as PromQL does. */
double rk_prom_histogram_quantile(double q, const rk_prom_histogram *h);
/* How many observations were above `bound`, interpolated linearly inside the bucket holding it (the
 * lowest bucket starts at 0, as for quantiles); everything in the +Inf bucket counts as above. 0 for an
 * empty histogram. */
double rk_prom_histogram_count_above(const rk_prom_histogram *h, double bound);

/* out = later - earlier bucket by bucket (the observations made between two scrapes). A bound missing
 * from `earlier` counts as 0. When any count went down (the apiserver restarted) out = later and the
 * return is 1; otherwise 0. */
int rk_prom_histogram_delta(const rk_prom_histogram *later, const rk_prom_histogram *earlier,
                            rk_prom_histogram *out);
/* into += add, bucket by bucket (bounds merged in order), sum and count too. RK_BADINPUT when the merged
 * histogram would have more than RK_PROM_BUCKETS_MAX bounds (into is then unchanged). */
int rk_prom_histogram_merge(rk_prom_histogram *into, const rk_prom_histogram *add, rk_err *err);
/* The q-quantile of the observations made between two scrapes. */
double rk_prom_histogram_window_quantile(double q, const rk_prom_histogram *later,
                                         const rk_prom_histogram *earlier);

/* ---- kube-apiserver figures for the budget (promapi.c) ---- */

/* Requests counted from apiserver_request_total: all of them, those answered 5xx, those answered 429. */
typedef struct rk_prom_codes {
	double total, server_errors, throttled;
} rk_prom_codes;

/* From one /metrics scrape, in one pass:
 * - put: the PUT latency histogram of one resource (apiserver_request_duration_seconds{verb="PUT",
 *   resource, group, subresource="", dry_run=""}), what the rewrite writes;
 * - writes / write_codes: latency and answers of every mutating request (verb POST, PUT, PATCH, DELETE
 *   or APPLY, dry_run=""), any resource;
 * - reads / read_codes: the same for GET and LIST. WATCH and CONNECT (the long-running requests) are in
 *   neither, so a watch held open for minutes never counts as a slow request; nor are non-resource
 *   requests (resource="": health checks, /metrics, discovery);
 * - the mutating requests in flight (apiserver_current_inflight_requests{request_kind="mutating"});
 * - process_start_time_seconds, which changes when the apiserver restarts. */
typedef struct rk_prom_apiserver {
	char resource[128];
	char group[128];
	rk_prom_histogram put;
	rk_prom_histogram writes, reads;
	rk_prom_codes write_codes, read_codes;
	double inflight_mutating; /* NaN when the scrape has none */
	double start_time_s;      /* NaN when the scrape has none */
	rk_err add_err;           /* why a sample was refused (set when the callback stopped the parse) */
} rk_prom_apiserver;

/* resource "secrets", group "" for the core group. */
void rk_prom_apiserver_init(rk_prom_apiserver *scrape, const char *resource, const char *group);
/* A sample callback (ud = the rk_prom_apiserver) for feeding a streaming parser straight from HTTP. */
int rk_prom_apiserver_on_sample(const rk_prom_sample *sample, void *ud);
/* init + parse of a whole buffer. */
int rk_prom_apiserver_parse(const char *text, size_t len, const char *resource, const char *group,
                            rk_prom_apiserver *scrape, rk_err *err);
/* 1 when the apiserver restarted between two scrapes of it: process_start_time_seconds changed, or any
 * counter or histogram bucket read here went down. Figures across such an interval are meaningless. */
int rk_prom_apiserver_reset(const rk_prom_apiserver *later, const rk_prom_apiserver *earlier);
/* p99 in milliseconds of the PUTs made between two scrapes (NaN when there were none, or when the
 * apiserver restarted in between). */
double rk_prom_apiserver_put_p99_ms(const rk_prom_apiserver *later, const rk_prom_apiserver *earlier);

/* Appends s to b escaped as a label value of the text format (backslash, double quote, newline). */
void rk_prom_label_escape(rk_buf *b, const char *s);

/* What one apiserver did over a window: the sum of the differences of consecutive scrapes, an interval
 * across a restart (rk_prom_apiserver_reset) skipped rather than read as a negative rate. */
typedef struct rk_prom_window {
	rk_prom_histogram writes, reads;
	rk_prom_codes write_codes, read_codes;
	unsigned intervals; /* intervals added */
	unsigned resets;    /* intervals skipped */
} rk_prom_window;

/* The figures of a window. Ratios are of the requests of that kind; NaN where there were none. */
typedef struct rk_prom_figures {
	double writes, write_p99_ms, write_5xx_ratio, write_429_ratio;
	double reads, read_p99_ms, read_5xx_ratio, read_429_ratio;
} rk_prom_figures;

void rk_prom_window_init(rk_prom_window *window);
/* Adds the interval between two consecutive scrapes of one apiserver. Returns 1 (and adds nothing) when
 * it was a restart, 0 when added. */
int rk_prom_window_add(rk_prom_window *window, const rk_prom_apiserver *later,
                       const rk_prom_apiserver *earlier);
void rk_prom_window_figures(const rk_prom_window *window, rk_prom_figures *out);

#endif
