/* metrics.c: the sandbox apiserver's metric registry (see metrics.h), rendered in the Prometheus text
 * format with kube-apiserver's names, labels and histogram bucket bounds. */
#include "metrics.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "rekey/buf.h"

/* apiserver_request_duration_seconds bounds (k8s.io/apiserver/pkg/endpoints/metrics). */
static const double buckets[] = {0.005, 0.025, 0.05, 0.1, 0.2, 0.4, 0.6, 0.8, 1.0, 1.25, 1.5, 2,
                                 3,     4,     5,    6,   8,   10,  15,  20,  30,  45,   60};
#define NBUCKETS (sizeof buckets / sizeof buckets[0])

struct series {
	char labels[512]; /* rendered label set without braces */
	double count, sum;
	double bucket[NBUCKETS];
	struct series *next;
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct series *requests, *durations, *transforms;
static int inflight[2];
static double reloads[2], reload_ts[2]; /* [0] failure, [1] success */
static char id_hash[80], config_hash[80];
static double start_time; /* process_start_time_seconds */

void sbx_metrics_init(const char *apiserver_id_hash)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	pthread_mutex_lock(&lock);
	snprintf(id_hash, sizeof id_hash, "%s", apiserver_id_hash);
	start_time = (double)ts.tv_sec + (double)(ts.tv_nsec / 10000000) / 100; /* centiseconds, as Go's */
	pthread_mutex_unlock(&lock);
}

static void free_list(struct series **list)
{
	while (*list) {
		struct series *next = (*list)->next;
		free(*list);
		*list = next;
	}
}

void sbx_metrics_free(void)
{
	pthread_mutex_lock(&lock);
	free_list(&requests);
	free_list(&durations);
	free_list(&transforms);
	pthread_mutex_unlock(&lock);
}

/* The series with these labels (created at zero); NULL when out of memory. Caller holds the lock. */
static struct series *find(struct series **list, const char *labels)
{
	for (struct series *s = *list; s; s = s->next)
		if (!strcmp(s->labels, labels))
			return s;
	struct series *s = calloc(1, sizeof *s);
	if (!s)
		return NULL;
	snprintf(s->labels, sizeof s->labels, "%s", labels);
	s->next = *list;
	*list = s;
	return s;
}

/* Label values as the text format wants them (\\, \", \n escaped). */
static void escape(char *out, size_t cap, const char *in)
{
	size_t o = 0;
	for (; *in && o + 3 < cap; in++) {
		if (*in == '\\' || *in == '"' || *in == '\n') {
			out[o++] = '\\';
			out[o++] = *in == '\n' ? 'n' : *in;
		} else
			out[o++] = *in;
	}
	out[o] = 0;
}

void sbx_metrics_request(const char *verb, const char *group, const char *resource, const char *scope,
                         int code, double seconds)
{
	char base[400], with_code[420];
	snprintf(
	    base, sizeof base,
	    "component=\"apiserver\",dry_run=\"\",group=\"%s\",resource=\"%s\",scope=\"%s\",subresource=\"\","
	    "verb=\"%s\",version=\"%s\"",
	    group, resource, scope, verb, *resource ? "v1" : "");
	snprintf(with_code, sizeof with_code, "code=\"%d\",%s", code, base);
	pthread_mutex_lock(&lock);
	struct series *r = find(&requests, with_code), *d = find(&durations, base);
	if (r)
		r->count++;
	if (d) {
		d->count++;
		d->sum += seconds;
		for (size_t i = 0; i < NBUCKETS; i++)
			if (seconds <= buckets[i])
				d->bucket[i]++;
	}
	pthread_mutex_unlock(&lock);
}

int sbx_metrics_inflight(int mutating, int delta)
{
	pthread_mutex_lock(&lock);
	int v = inflight[mutating ? 1 : 0] += delta;
	pthread_mutex_unlock(&lock);
	return v;
}

void sbx_metrics_transform(const char *type, const char *prefix, int ok)
{
	char esc[300], labels[512];
	escape(esc, sizeof esc, prefix);
	snprintf(labels, sizeof labels, "status=\"%s\",transformation_type=\"%s\",transformer_prefix=\"%s\"",
	         ok ? "OK" : "Unknown", type, esc);
	pthread_mutex_lock(&lock);
	struct series *s = find(&transforms, labels);
	if (s)
		s->count++;
	pthread_mutex_unlock(&lock);
}

void sbx_metrics_reload(int ok)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	pthread_mutex_lock(&lock);
	reloads[ok ? 1 : 0]++;
	reload_ts[ok ? 1 : 0] = (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
	pthread_mutex_unlock(&lock);
}

void sbx_metrics_config_hash(const char *hash)
{
	pthread_mutex_lock(&lock);
	snprintf(config_hash, sizeof config_hash, "%s", hash);
	pthread_mutex_unlock(&lock);
}

static void header(rk_buf *b, const char *name, const char *type, const char *help)
{
	rk_buf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void render_requests(rk_buf *b)
{
	header(
	    b, "apiserver_request_total", "counter",
	    "[STABLE] Counter of apiserver requests broken out for each verb, dry run value, group, version, "
	    "resource, scope, component, and HTTP response code.");
	for (struct series *s = requests; s; s = s->next)
		rk_buf_printf(b, "apiserver_request_total{%s} %.0f\n", s->labels, s->count);
	header(
	    b, "apiserver_request_duration_seconds", "histogram",
	    "[STABLE] Response latency distribution in seconds for each verb, dry run value, group, version, "
	    "resource, subresource, scope and component.");
	for (struct series *s = durations; s; s = s->next) {
		for (size_t i = 0; i < NBUCKETS; i++)
			rk_buf_printf(b, "apiserver_request_duration_seconds_bucket{%s,le=\"%g\"} %.0f\n",
			              s->labels, buckets[i], s->bucket[i]);
		rk_buf_printf(b, "apiserver_request_duration_seconds_bucket{%s,le=\"+Inf\"} %.0f\n",
		              s->labels, s->count);
		rk_buf_printf(b, "apiserver_request_duration_seconds_sum{%s} %.9f\n", s->labels, s->sum);
		rk_buf_printf(b, "apiserver_request_duration_seconds_count{%s} %.0f\n", s->labels, s->count);
	}
	header(b, "apiserver_current_inflight_requests", "gauge",
	       "[STABLE] Maximal number of currently used inflight request limit of this apiserver per "
	       "request kind "
	       "in last second.");
	rk_buf_printf(b, "apiserver_current_inflight_requests{request_kind=\"mutating\"} %d\n", inflight[1]);
	rk_buf_printf(b, "apiserver_current_inflight_requests{request_kind=\"readOnly\"} %d\n", inflight[0]);
}

static void render_encryption(rk_buf *b)
{
	header(b, "apiserver_storage_transformation_operations_total", "counter",
	       "[ALPHA] Total number of transformations. Successful transformation will have a status 'OK' "
	       "and a "
	       "varied status string when the transformation fails.");
	for (struct series *s = transforms; s; s = s->next)
		rk_buf_printf(b, "apiserver_storage_transformation_operations_total{%s} %.0f\n", s->labels,
		              s->count);
	const char *p = "apiserver_encryption_config_controller_";
	rk_buf_printf(
	    b,
	    "# HELP %sautomatic_reloads_total [ALPHA] Total number of reload successes and failures of "
	    "encryption configuration split by apiserver identity.\n# TYPE %sautomatic_reloads_total "
	    "counter\n",
	    p, p);
	static const char *const status[2] = {"failure", "success"};
	for (int i = 0; i < 2; i++)
		if (reloads[i] > 0)
			rk_buf_printf(
			    b, "%sautomatic_reloads_total{apiserver_id_hash=\"%s\",status=\"%s\"} %.0f\n", p,
			    id_hash, status[i], reloads[i]);
	rk_buf_printf(
	    b,
	    "# HELP %sautomatic_reload_last_timestamp_seconds [ALPHA] Timestamp of the last successful "
	    "or failed automatic reload of encryption configuration split by apiserver identity.\n# TYPE "
	    "%sautomatic_reload_last_timestamp_seconds gauge\n",
	    p, p);
	for (int i = 0; i < 2; i++)
		if (reloads[i] > 0)
			rk_buf_printf(b,
			              "%sautomatic_reload_last_timestamp_seconds{apiserver_id_hash=\"%s\","
			              "status=\"%s\"} "
			              "%.3f\n",
			              p, id_hash, status[i], reload_ts[i]);
	rk_buf_printf(
	    b,
	    "# HELP %slast_config_info [ALPHA] Information about the last applied encryption "
	    "configuration with hash as label, split by apiserver identity.\n# TYPE %slast_config_info "
	    "gauge\n",
	    p, p);
	if (*config_hash)
		rk_buf_printf(b, "%slast_config_info{apiserver_id_hash=\"%s\",hash=\"%s\"} 1\n", p, id_hash,
		              config_hash);
}

/* The process collector's start time (client_golang), which changes when the apiserver restarts. */
static void render_process(rk_buf *b)
{
	header(b, "process_start_time_seconds", "gauge",
	       "Start time of the process since unix epoch in seconds.");
	rk_buf_printf(b, "process_start_time_seconds %.11e\n", start_time);
}

char *sbx_metrics_render(void)
{
	rk_buf b = RK_BUF_INIT;
	pthread_mutex_lock(&lock);
	render_requests(&b);
	render_encryption(&b);
	render_process(&b);
	pthread_mutex_unlock(&lock);
	return rk_buf_steal(&b);
}
