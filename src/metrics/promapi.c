/* promapi.c: the kube-apiserver figures the budget uses, taken from /metrics scrapes: PUT latency of one
 * resource, latency and answer codes of every mutating request and of every read, mutating requests in
 * flight, the process start time; and windows summed from consecutive scrapes with restarts skipped
 * (see include/rekey/promtext.h). */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "rekey/promtext.h"

#define DURATION_FAMILY "apiserver_request_duration_seconds"
#define REQUESTS_METRIC "apiserver_request_total"
#define INFLIGHT_METRIC "apiserver_current_inflight_requests"
#define START_TIME_METRIC "process_start_time_seconds"

/* The verb label values kube-apiserver reports (k8s.io/apiserver/pkg/endpoints/metrics: the HTTP
 * method, LIST for a GET of a collection, WATCH, APPLY for a server-side apply PATCH, CONNECT for
 * exec/attach/portforward/proxy/log). */
static const char *const write_verbs[] = {"POST", "PUT", "PATCH", "DELETE", "APPLY", NULL};
static const char *const read_verbs[] = {"GET", "LIST", NULL};

enum request_kind { KIND_OTHER = 0, KIND_WRITE, KIND_READ };

static int in_list(const char *s, const char *const *list)
{
	for (; s && *list; list++)
		if (!strcmp(s, *list))
			return 1;
	return 0;
}

/* Writes and reads as defined above, of resources only: dry-run requests (which never reach etcd) and
 * non-resource requests (resource="": /readyz, /livez, /metrics, discovery) are neither. */
static enum request_kind kind_of(const rk_prom_sample *sample)
{
	const char *dry_run = rk_prom_label_value(sample, "dry_run");
	const char *verb = rk_prom_label_value(sample, "verb");
	const char *resource = rk_prom_label_value(sample, "resource");
	if ((dry_run && *dry_run) || !resource || !*resource)
		return KIND_OTHER;
	return in_list(verb, write_verbs) ? KIND_WRITE : in_list(verb, read_verbs) ? KIND_READ : KIND_OTHER;
}

void rk_prom_apiserver_init(rk_prom_apiserver *scrape, const char *resource, const char *group)
{
	memset(scrape, 0, sizeof *scrape);
	snprintf(scrape->resource, sizeof scrape->resource, "%s", resource ? resource : "");
	snprintf(scrape->group, sizeof scrape->group, "%s", group ? group : "");
	scrape->inflight_mutating = NAN;
	scrape->start_time_s = NAN;
	rk_err_clear(&scrape->add_err);
}

static void count_request(rk_prom_apiserver *scrape, const rk_prom_sample *sample)
{
	enum request_kind kind = kind_of(sample);
	if (kind == KIND_OTHER)
		return;
	rk_prom_codes *codes = kind == KIND_WRITE ? &scrape->write_codes : &scrape->read_codes;
	const char *code = rk_prom_label_value(sample, "code");
	codes->total += sample->value;
	if (code && code[0] == '5')
		codes->server_errors += sample->value;
	else if (code && !strcmp(code, "429"))
		codes->throttled += sample->value;
}

/* A duration sample into the PUT histogram of the resource and into the writes or reads histogram. */
static int add_duration(rk_prom_apiserver *scrape, const rk_prom_sample *sample)
{
	const rk_prom_label put[] = {{"verb", "PUT"},
	                             {"resource", scrape->resource},
	                             {"group", scrape->group},
	                             {"subresource", ""},
	                             {"dry_run", ""}};
	size_t nput = sizeof put / sizeof put[0];
	int rc = rk_prom_histogram_add(&scrape->put, DURATION_FAMILY, put, nput, sample, &scrape->add_err);
	enum request_kind kind = kind_of(sample);
	if (rc == RK_OK && kind != KIND_OTHER)
		rc = rk_prom_histogram_add(kind == KIND_WRITE ? &scrape->writes : &scrape->reads,
		                           DURATION_FAMILY, NULL, 0, sample, &scrape->add_err);
	return rc != RK_OK;
}

int rk_prom_apiserver_on_sample(const rk_prom_sample *sample, void *ud)
{
	rk_prom_apiserver *scrape = ud;
	if (!strcmp(sample->name, INFLIGHT_METRIC)) {
		const char *kind = rk_prom_label_value(sample, "request_kind");
		if (kind && !strcmp(kind, "mutating"))
			scrape->inflight_mutating = sample->value;
		return 0;
	}
	if (!strcmp(sample->name, START_TIME_METRIC)) {
		scrape->start_time_s = sample->value;
		return 0;
	}
	if (!strcmp(sample->name, REQUESTS_METRIC)) {
		count_request(scrape, sample);
		return 0;
	}
	return add_duration(scrape, sample);
}

int rk_prom_apiserver_parse(const char *text, size_t len, const char *resource, const char *group,
                            rk_prom_apiserver *scrape, rk_err *err)
{
	rk_prom_apiserver_init(scrape, resource, group);
	int rc = rk_prom_parse(NULL, text, len, rk_prom_apiserver_on_sample, NULL, scrape, err);
	if (scrape->add_err.code != RK_OK) {
		*err = scrape->add_err;
		return scrape->add_err.code;
	}
	return rc;
}

static int codes_went_down(const rk_prom_codes *later, const rk_prom_codes *earlier)
{
	return later->total < earlier->total || later->server_errors < earlier->server_errors ||
	       later->throttled < earlier->throttled;
}

static int histogram_went_down(const rk_prom_histogram *later, const rk_prom_histogram *earlier)
{
	rk_prom_histogram ignored;
	return rk_prom_histogram_delta(later, earlier, &ignored) || later->sum < earlier->sum;
}

int rk_prom_apiserver_reset(const rk_prom_apiserver *later, const rk_prom_apiserver *earlier)
{
	int restarted = !isnan(later->start_time_s) && !isnan(earlier->start_time_s) &&
	                later->start_time_s != earlier->start_time_s;
	return restarted || codes_went_down(&later->write_codes, &earlier->write_codes) ||
	       codes_went_down(&later->read_codes, &earlier->read_codes) ||
	       histogram_went_down(&later->put, &earlier->put) ||
	       histogram_went_down(&later->writes, &earlier->writes) ||
	       histogram_went_down(&later->reads, &earlier->reads);
}

double rk_prom_apiserver_put_p99_ms(const rk_prom_apiserver *later, const rk_prom_apiserver *earlier)
{
	if (rk_prom_apiserver_reset(later, earlier))
		return NAN;
	return 1000 * rk_prom_histogram_window_quantile(0.99, &later->put, &earlier->put);
}

/* ---- windows ---- */

void rk_prom_window_init(rk_prom_window *window)
{
	memset(window, 0, sizeof *window);
}

static void add_codes(rk_prom_codes *into, const rk_prom_codes *later, const rk_prom_codes *earlier)
{
	into->total += later->total - earlier->total;
	into->server_errors += later->server_errors - earlier->server_errors;
	into->throttled += later->throttled - earlier->throttled;
}

/* into += later - earlier; a histogram that cannot be merged (bounds over the cap) is left out. */
static void add_histogram(rk_prom_histogram *into, const rk_prom_histogram *later,
                          const rk_prom_histogram *earlier)
{
	rk_prom_histogram delta;
	rk_err ignored;
	rk_prom_histogram_delta(later, earlier, &delta);
	rk_prom_histogram_merge(into, &delta, &ignored);
}

int rk_prom_window_add(rk_prom_window *window, const rk_prom_apiserver *later,
                       const rk_prom_apiserver *earlier)
{
	if (rk_prom_apiserver_reset(later, earlier)) {
		window->resets++;
		return 1;
	}
	add_histogram(&window->writes, &later->writes, &earlier->writes);
	add_histogram(&window->reads, &later->reads, &earlier->reads);
	add_codes(&window->write_codes, &later->write_codes, &earlier->write_codes);
	add_codes(&window->read_codes, &later->read_codes, &earlier->read_codes);
	window->intervals++;
	return 0;
}

static double ratio(double part, double whole)
{
	return whole > 0 ? part / whole : NAN;
}

static double p99_ms(const rk_prom_histogram *h)
{
	return h->total > 0 ? 1000 * rk_prom_histogram_quantile(0.99, h) : NAN;
}

void rk_prom_window_figures(const rk_prom_window *window, rk_prom_figures *out)
{
	const rk_prom_codes *w = &window->write_codes, *r = &window->read_codes;
	out->writes = w->total;
	out->write_p99_ms = p99_ms(&window->writes);
	out->write_5xx_ratio = ratio(w->server_errors, w->total);
	out->write_429_ratio = ratio(w->throttled, w->total);
	out->reads = r->total;
	out->read_p99_ms = p99_ms(&window->reads);
	out->read_5xx_ratio = ratio(r->server_errors, r->total);
	out->read_429_ratio = ratio(r->throttled, r->total);
}
