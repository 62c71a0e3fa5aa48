/* rotation_trend.c: measures apiservers over a window against the plan's budget, from both sides. Their
 * own side: /metrics scraped at the start, every few seconds and at the end, the differences of
 * consecutive scrapes summed (an interval across a restart skipped), giving the write p99 and the 5xx
 * and 429 ratios of what they served in the window. Our side: a light probe load through each of them
 * (a merge PATCH of our own probe Lease and a GET of one secret in turn, one per tick, a tick being
 * window / (2 x minRequests) within 100 ms..1 s, at most a few in flight), which also makes sure an
 * idle apiserver has writes to be judged on. See rotation_trend_internal.h. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rekey/clock.h"
#include "rekey/log.h"
#include "rotation_trend_internal.h"

#define PROBE_IN_FLIGHT_MAX 8
#define TICK_MIN_NS (100 * RK_NS_PER_MS)
#define TICK_MAX_NS RK_NS_PER_SEC
#define SCRAPE_MIN_NS RK_NS_PER_SEC
#define SCRAPE_MAX_NS (15 * RK_NS_PER_SEC)
#define LEASE_COLLECTION "/apis/coordination.k8s.io/v1/namespaces/kube-system/leases"
#define READ_PROBE_PATH "/api/v1/namespaces/kube-system/secrets?limit=1"

typedef struct probe_run {
	rot_ctx *ctx;
	rot_trend *trend;
	int lease_missing; /* a PATCH answered 404: the Lease is created again */
} probe_run;

typedef struct probe_call {
	probe_run *run;
	rot_trend_node *node;
	int write;
} probe_call;

static int64_t clamp_ns(int64_t v, int64_t lo, int64_t hi)
{
	return v < lo ? lo : v > hi ? hi : v;
}

/* ---- the probe Lease ---- */

static int create_probe_lease(rot_ctx *ctx, rk_err *err)
{
	char now[32];
	rk_kube_microtime(now);
	json_t *lease =
	    json_pack("{s:s,s:s,s:{s:s,s:s,s:{s:s}},s:{s:s,s:i,s:s}}", "apiVersion", "coordination.k8s.io/v1",
	              "kind", "Lease", "metadata", "name", ROT_PROBE_LEASE, "namespace", "kube-system",
	              "labels", "app.kubernetes.io/managed-by", "rekeyctl", "spec", "holderIdentity",
	              "rekeyctl", "leaseDurationSeconds", 60, "renewTime", now);
	long status = 0;
	int rc = lease
	             ? rk_kube_call_json(ctx->kube, "POST", NULL, LEASE_COLLECTION, lease, NULL, &status, err)
	             : rk_err_set(err, RK_FAIL, "out of memory");
	json_decref(lease);
	if (rc != RK_OK && status == 409) { /* left by an earlier run: used as it is */
		rk_err_clear(err);
		return RK_OK;
	}
	return rc == RK_OK
	           ? RK_OK
	           : rk_err_wrap(err, RK_UNSAFE, "budget: cannot create the probe lease kube-system/%s",
	                         ROT_PROBE_LEASE);
}

static void delete_probe_lease(rot_ctx *ctx)
{
	long status = 0;
	rk_err err;
	rk_err_clear(&err);
	if (rk_kube_call_json(ctx->kube, "DELETE", NULL, LEASE_COLLECTION "/" ROT_PROBE_LEASE, NULL, NULL,
	                      &status, &err) != RK_OK &&
	    status != 404)
		rk_warn("budget.probe-left", "probe lease kube-system/%s not deleted: %s", ROT_PROBE_LEASE,
		        err.msg);
}

/* ---- probes ---- */

static void add_latency(rot_trend_node *t, double ms)
{
	if (t->nlatencies == t->latencies_cap) {
		size_t cap = t->latencies_cap ? 2 * t->latencies_cap : 64;
		double *grown = realloc(t->latencies_ms, cap * sizeof *grown);
		if (!grown)
			return; /* out of memory: this sample is lost, the others stay */
		t->latencies_ms = grown;
		t->latencies_cap = cap;
	}
	t->latencies_ms[t->nlatencies++] = ms;
}

static void probe_done(void *user, rk_kube_resp *resp)
{
	probe_call *call = user;
	rot_trend_node *t = call->node;
	t->in_flight--;
	if (call->write && resp->http_status == 404)
		call->run->lease_missing = 1; /* not the apiserver's fault: not counted */
	else {
		add_latency(t, resp->latency_s * 1000.0);
		t->probes++;
		t->failed += resp->http_status < 200 || resp->http_status >= 300;
	}
	free(call);
}

static int submit_probe(probe_run *run, rot_trend_node *t, int write, rk_err *err)
{
	char body[96], now[32];
	rk_kube_microtime(now);
	snprintf(body, sizeof body, "{\"spec\":{\"renewTime\":\"%s\"}}", now);
	rk_kube_req req = {.method = write ? "PATCH" : "GET",
	                   .endpoint = t->node->apiserver,
	                   .path = write ? LEASE_COLLECTION "/" ROT_PROBE_LEASE : READ_PROBE_PATH,
	                   .body = write ? body : NULL,
	                   .body_len = write ? strlen(body) : 0,
	                   .content_type = write ? "application/merge-patch+json" : NULL,
	                   .no_retry = 1};
	probe_call *call = calloc(1, sizeof *call);
	if (!call)
		return rk_err_set(err, RK_FAIL, "out of memory");
	*call = (probe_call){run, t, write};
	int rc = rk_kube_submit(run->ctx->kube, &req, probe_done, call, err);
	if (rc != RK_OK)
		free(call);
	else
		t->in_flight++;
	return rc;
}

/* Every probe due by now, a write and a read in turn, at most PROBE_IN_FLIGHT_MAX in flight. */
static int submit_due(probe_run *run, int64_t now, int64_t tick, rk_err *err)
{
	for (size_t i = 0; i < run->trend->n; i++) {
		rot_trend_node *t = &run->trend->nodes[i];
		while (t->next_probe_ns <= now && t->in_flight < PROBE_IN_FLIGHT_MAX) {
			int rc = submit_probe(run, t, t->sent % 2 == 0, err);
			if (rc != RK_OK)
				return rc;
			t->sent++;
			t->next_probe_ns += tick;
		}
		if (t->next_probe_ns <= now) /* saturated: the missed ticks are not made up */
			t->next_probe_ns = now + tick;
	}
	return RK_OK;
}

/* ---- scrapes ---- */

static void scrape(rot_ctx *ctx, rot_trend_node *t)
{
	rk_buf text = RK_BUF_INIT;
	rk_err err;
	rk_prom_apiserver now;
	int rc = rk_kube_get_text(ctx->kube, t->node->apiserver, "/metrics", &text, &err);
	if (rc == RK_OK)
		rc = rk_prom_apiserver_parse((const char *)text.data, text.len, "", "", &now, &err);
	rk_buf_free(&text);
	if (rc != RK_OK) {
		snprintf(t->scrape_error, sizeof t->scrape_error, "%s", err.msg);
		return;
	}
	t->scrapes++;
	if (t->have_last && rk_prom_window_add(&t->window, &now, &t->last))
		rk_warn("budget.reset",
		        "apiserver on node %s restarted between two scrapes: that interval is "
		        "left out",
		        t->node->name);
	t->last = now;
	t->have_last = 1;
}

static void scrape_all(rot_ctx *ctx, rot_trend *trend)
{
	for (size_t i = 0; i < trend->n; i++)
		scrape(ctx, &trend->nodes[i]);
}

/* ---- verdicts ---- */

static int compare_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

static void judge_client(const rk_verdict_limits *limits, rot_trend_node *t)
{
	double *ms = t->latencies_ms;
	size_t n = t->nlatencies, slow = 0;
	if (n)
		qsort(ms, n, sizeof *ms, compare_double);
	for (size_t i = 0; i < n; i++)
		slow += limits->p99_ms > 0 && ms[i] > limits->p99_ms;
	t->client_p99_ms = n ? ms[(size_t)((double)(n - 1) * 0.99)] : NAN;
	rk_verdict_figures probes = {(double)t->probes, t->client_p99_ms, (double)slow,
	                             t->probes ? (double)t->failed / (double)t->probes : NAN, NAN};
	rk_verdict_client(limits, &probes, &t->client_verdict);
}

static void judge_server(const rk_verdict_limits *limits, rot_trend_node *t)
{
	rk_prom_window_figures(&t->window, &t->server);
	if (!t->window.intervals) {
		memset(&t->server_verdict, 0, sizeof t->server_verdict);
		snprintf(t->server_verdict.text, sizeof t->server_verdict.text, "no figures (%.200s)",
		         t->scrape_error[0] ? t->scrape_error
		         : t->window.resets ? "it restarted during the window"
		                            : "too few scrapes");
		return;
	}
	const rk_prom_figures *f = &t->server;
	double limit_s = limits->p99_ms / 1000;
	rk_verdict_figures writes = {f->writes, f->write_p99_ms,
	                             rk_prom_histogram_count_above(&t->window.writes, limit_s),
	                             f->write_5xx_ratio, f->write_429_ratio};
	rk_verdict_figures reads = {f->reads, f->read_p99_ms,
	                            rk_prom_histogram_count_above(&t->window.reads, limit_s),
	                            f->read_5xx_ratio, f->read_429_ratio};
	rk_verdict_server(limits, &writes, &reads, &t->server_verdict);
}

/* ---- the window ---- */

static void limits_from_plan(const rk_plan *plan, rk_verdict_limits *limits)
{
	const rk_rewrite_settings *s = &plan->rewrite;
	limits->p99_ms = (double)s->budget_p99_ms;
	limits->error_ratio = s->budget_errors;
	limits->throttled_ratio = rk_rewrite_settings_throttled(s);
	limits->min_requests = (double)s->budget_min_requests;
}

static int setup(rot_ctx *ctx, const rk_plan_node *only, long window_ms, rot_trend *out, rk_err *err)
{
	memset(out, 0, sizeof *out);
	out->n = only ? 1 : ctx->plan->nnodes;
	out->window_ms = window_ms;
	limits_from_plan(ctx->plan, &out->limits);
	out->nodes = calloc(out->n, sizeof *out->nodes);
	if (!out->nodes)
		return rk_err_set(err, RK_FAIL, "out of memory");
	for (size_t i = 0; i < out->n; i++) {
		out->nodes[i].node = only ? only : &ctx->plan->nodes[i];
		rk_prom_window_init(&out->nodes[i].window);
	}
	return RK_OK;
}

/* Probes and scrapes until the window ends (or a stop request). */
static int run_window(probe_run *run, int64_t start, rk_err *err)
{
	rot_trend *trend = run->trend;
	int64_t window = (int64_t)trend->window_ms * RK_NS_PER_MS, end = start + window;
	int64_t tick = clamp_ns(window / (2 * (int64_t)trend->limits.min_requests), TICK_MIN_NS, TICK_MAX_NS);
	int64_t every = clamp_ns(window / 6, SCRAPE_MIN_NS, SCRAPE_MAX_NS), next_scrape = start + every;
	rk_debug("budget.window", "%ld ms, a probe every %lld ms per apiserver, scrapes every %lld ms",
	         trend->window_ms, (long long)(tick / RK_NS_PER_MS), (long long)(every / RK_NS_PER_MS));
	for (size_t i = 0; i < trend->n; i++)
		trend->nodes[i].next_probe_ns = start;
	int64_t now;
	while ((now = rk_monotonic_ns()) < end) {
		const volatile sig_atomic_t *stop = run->ctx->opts->stop;
		if (stop && *stop)
			return rk_err_set(err, RK_STOPPED, "stopped by a signal while measuring the budget");
		if (run->lease_missing) {
			run->lease_missing = 0;
			int rc = create_probe_lease(run->ctx, err);
			if (rc != RK_OK)
				return rc;
		}
		int rc = submit_due(run, now, tick, err);
		if (rc != RK_OK)
			return rc;
		if (now >= next_scrape && next_scrape < end) {
			scrape_all(run->ctx, trend);
			next_scrape += every;
		}
		rk_kube_poll(run->ctx->kube, 10);
	}
	return RK_OK;
}

int rot_trend_measure(rot_ctx *ctx, const rk_plan_node *only, long window_ms, rot_trend *out, rk_err *err)
{
	probe_run run = {ctx, out, 0};
	int rc = setup(ctx, only, window_ms, out, err);
	if (rc == RK_OK)
		rc = create_probe_lease(ctx, err);
	if (rc != RK_OK)
		return rc;
	scrape_all(ctx, out);
	rc = run_window(&run, rk_monotonic_ns(), err);
	if (rc == RK_OK)
		scrape_all(ctx, out);
	rk_kube_run_until_idle(ctx->kube); /* probes still in flight: their latency counts */
	delete_probe_lease(ctx);
	for (size_t i = 0; rc == RK_OK && i < out->n; i++) {
		judge_server(&out->limits, &out->nodes[i]);
		judge_client(&out->limits, &out->nodes[i]);
	}
	return rc;
}

unsigned rot_trend_breached(const rot_trend *trend)
{
	unsigned breached = 0;
	for (size_t i = 0; i < trend->n; i++)
		breached |= trend->nodes[i].server_verdict.breached | trend->nodes[i].client_verdict.breached;
	return breached;
}

void rot_trend_node_describe(const rot_trend_node *t, rk_buf *out)
{
	rk_buf_printf(out, "%s: apiserver %s; client %s", t->node->name, t->server_verdict.text,
	              t->client_verdict.text);
}

void rot_trend_describe_breaches(const rot_trend *trend, rk_buf *out)
{
	int first = 1;
	for (size_t i = 0; i < trend->n; i++) {
		const rot_trend_node *t = &trend->nodes[i];
		if (!(t->server_verdict.breached | t->client_verdict.breached))
			continue;
		if (!first)
			rk_buf_printf(out, "; ");
		rot_trend_node_describe(t, out);
		first = 0;
	}
}

void rot_trend_free(rot_trend *trend)
{
	for (size_t i = 0; trend->nodes && i < trend->n; i++)
		free(trend->nodes[i].latencies_ms);
	free(trend->nodes);
	memset(trend, 0, sizeof *trend);
}
