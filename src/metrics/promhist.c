/* promhist.c: classic Prometheus histograms from parsed samples: aggregation of the buckets of every
 * matching series, quantiles with PromQL histogram_quantile's rules, and the difference of two scrapes.
 * See include/rekey/promtext.h. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "rekey/promtext.h"

/* 1 when name is family + suffix. */
static int is_series(const char *name, const char *family, const char *suffix)
{
	size_t n = strlen(family);
	return !strncmp(name, family, n) && !strcmp(name + n, suffix);
}

static int parse_bound(const char *le, double *bound)
{
	char *end;
	if (!le || !*le)
		return -1;
	*bound = strtod(le, &end);
	return *end || isnan(*bound) ? -1 : 0;
}

/* Index of `bound` in h, inserted in order (with a zero count) when new; -1 when h is full. */
static int bucket_index(rk_prom_histogram *h, double bound)
{
	size_t i = 0;
	while (i < h->nbuckets && h->le[i] < bound)
		i++;
	if (i < h->nbuckets && h->le[i] == bound)
		return (int)i;
	if (h->nbuckets == RK_PROM_BUCKETS_MAX)
		return -1;
	memmove(&h->le[i + 1], &h->le[i], (h->nbuckets - i) * sizeof h->le[0]);
	memmove(&h->count[i + 1], &h->count[i], (h->nbuckets - i) * sizeof h->count[0]);
	h->le[i] = bound;
	h->count[i] = 0;
	h->nbuckets++;
	return (int)i;
}

static int add_bucket(rk_prom_histogram *h, const rk_prom_sample *sample, rk_err *err)
{
	double bound;
	const char *le = rk_prom_label_value(sample, "le");
	if (parse_bound(le, &bound) != 0)
		return rk_err_set(err, RK_BADINPUT, "line %d: %s has a missing or invalid le=\"%s\"",
		                  sample->line, sample->name, le ? le : "");
	int i = bucket_index(h, bound);
	if (i < 0)
		return rk_err_set(err, RK_BADINPUT, "line %d: %s has more than %d buckets", sample->line,
		                  sample->name, RK_PROM_BUCKETS_MAX);
	h->count[i] += sample->value;
	return RK_OK;
}

int rk_prom_histogram_add(rk_prom_histogram *h, const char *family, const rk_prom_label *matchers,
                          size_t nmatchers, const rk_prom_sample *sample, rk_err *err)
{
	int bucket = is_series(sample->name, family, "_bucket");
	int sum = is_series(sample->name, family, "_sum");
	int count = is_series(sample->name, family, "_count");
	if (!(bucket || sum || count) || !rk_prom_labels_match(sample, matchers, nmatchers))
		return RK_OK;
	if (bucket)
		return add_bucket(h, sample, err);
	if (sum)
		h->sum += sample->value;
	else
		h->total += sample->value;
	return RK_OK;
}

struct collect_state {
	rk_prom_histogram *h;
	const char *family;
	const rk_prom_label *matchers;
	size_t nmatchers;
	rk_err *err;
	int failed;
};

static int collect_cb(const rk_prom_sample *sample, void *ud)
{
	struct collect_state *st = ud;
	if (rk_prom_histogram_add(st->h, st->family, st->matchers, st->nmatchers, sample, st->err) != RK_OK)
		st->failed = 1;
	return st->failed;
}

int rk_prom_histogram_collect(const char *text, size_t len, const char *family, const rk_prom_label *matchers,
                              size_t nmatchers, rk_prom_histogram *h, rk_err *err)
{
	rk_err add_err;
	rk_err_clear(&add_err);
	memset(h, 0, sizeof *h);
	struct collect_state st = {h, family, matchers, nmatchers, &add_err, 0};
	int rc = rk_prom_parse(NULL, text, len, collect_cb, NULL, &st, err);
	if (st.failed) {
		*err = add_err;
		return add_err.code;
	}
	return rc;
}

/* Cumulative counts can come out non-monotonic (scrapes are not atomic); even them out as PromQL does. */
static void monotonic_counts(const rk_prom_histogram *h, double *counts)
{
	double max = -INFINITY;
	for (size_t i = 0; i < h->nbuckets; i++) {
		max = h->count[i] > max ? h->count[i] : max;
		counts[i] = max;
	}
}

/* First bucket whose cumulative count reaches rank. */
static size_t rank_bucket(const double *counts, size_t n, double rank)
{
	size_t b = 0;
	while (b < n - 1 && counts[b] < rank)
		b++;
	return b;
}

double rk_prom_histogram_quantile(double q, const rk_prom_histogram *h)
{
	double counts[RK_PROM_BUCKETS_MAX];
	size_t n = h->nbuckets;
	if (isnan(q))
		return NAN;
	if (q < 0)
		return -INFINITY;
	if (q > 1)
		return INFINITY;
	if (n < 2 || !isinf(h->le[n - 1]) || h->le[n - 1] < 0)
		return NAN;
	monotonic_counts(h, counts);
	if (counts[n - 1] <= 0)
		return NAN;
	double rank = q * counts[n - 1];
	size_t b = rank_bucket(counts, n, rank);
	if (b == n - 1)
		return h->le[n - 2];
	if (b == 0 && h->le[0] <= 0)
		return h->le[0];
	double start = b ? h->le[b - 1] : 0, end = h->le[b], in_bucket = counts[b];
	if (b > 0) {
		in_bucket -= counts[b - 1];
		rank -= counts[b - 1];
	}
	return in_bucket > 0 ? start + (end - start) * (rank / in_bucket) : start;
}

double rk_prom_histogram_count_above(const rk_prom_histogram *h, double bound)
{
	double counts[RK_PROM_BUCKETS_MAX];
	size_t n = h->nbuckets;
	if (n == 0)
		return 0;
	monotonic_counts(h, counts);
	double total = counts[n - 1], below = 0, lower = 0;
	for (size_t i = 0; i < n; i++) {
		if (bound >= h->le[i]) { /* the whole bucket is at or below the bound */
			below = counts[i];
			lower = h->le[i];
			continue;
		}
		if (!isinf(h->le[i]) && h->le[i] > lower) /* part of this bucket, by linear interpolation */
			below += (counts[i] - below) * (bound - lower) / (h->le[i] - lower);
		break;
	}
	return total - below > 0 ? total - below : 0;
}

static double earlier_count(const rk_prom_histogram *earlier, double bound)
{
	for (size_t i = 0; i < earlier->nbuckets; i++)
		if (earlier->le[i] == bound)
			return earlier->count[i];
	return 0;
}

int rk_prom_histogram_delta(const rk_prom_histogram *later, const rk_prom_histogram *earlier,
                            rk_prom_histogram *out)
{
	rk_prom_histogram d = *later;
	int reset = later->total < earlier->total;
	for (size_t i = 0; i < later->nbuckets && !reset; i++) {
		d.count[i] = later->count[i] - earlier_count(earlier, later->le[i]);
		reset = d.count[i] < 0;
	}
	d.sum = later->sum - earlier->sum;
	d.total = later->total - earlier->total;
	*out = reset ? *later : d;
	return reset;
}

double rk_prom_histogram_window_quantile(double q, const rk_prom_histogram *later,
                                         const rk_prom_histogram *earlier)
{
	rk_prom_histogram d;
	rk_prom_histogram_delta(later, earlier, &d);
	return rk_prom_histogram_quantile(q, &d);
}

/* A cumulative histogram's count at x: the count of its largest bound <= x (0 below the first). */
static double cumulative_at(const rk_prom_histogram *h, double x)
{
	double c = 0;
	for (size_t i = 0; i < h->nbuckets && h->le[i] <= x; i++)
		c = h->count[i];
	return c;
}

int rk_prom_histogram_merge(rk_prom_histogram *into, const rk_prom_histogram *add, rk_err *err)
{
	rk_prom_histogram merged = *into;
	for (size_t i = 0; i < add->nbuckets; i++)
		if (bucket_index(&merged, add->le[i]) < 0)
			return rk_err_set(err, RK_BADINPUT, "a merged histogram has more than %d buckets",
			                  RK_PROM_BUCKETS_MAX);
	for (size_t i = 0; i < merged.nbuckets; i++)
		merged.count[i] = cumulative_at(into, merged.le[i]) + cumulative_at(add, merged.le[i]);
	merged.sum += add->sum;
	merged.total += add->total;
	*into = merged;
	return RK_OK;
}
