/* rewrite_budget.c: the rewrite's side of the latency/error budget (include/rekey/budget.h): the policy
 * from the options, a decision every second applied to the throttle (rate, pause) and logged and stored
 * with its numbers, a light GET probe twice a second while paused (no writes measure the apiserver then),
 * and, with --scrape-interval, the apiserver's own PUT p99 and mutating in-flight requests from /metrics. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "rekey/log.h"
#include "rekey/promtext.h"
#include "rewrite_engine_internal.h"

#define EVAL_MS 1000
#define PROBE_MS 500

int rk_rw_budget_new(rk_rw_engine *e, rk_err *err)
{
	const rk_rewrite_settings *o = &e->opts->settings;
	rk_budget_policy p;
	rk_budget_policy_defaults(&p);
	p.write_p99_ms = (double)o->budget_p99_ms;
	p.error_ratio = o->budget_errors;
	p.window_s = (double)o->budget_window_ms / 1000.0;
	p.soak_s = (double)o->soak_ms / 1000.0;
	p.on_breach = o->on_breach;
	p.target_qps = o->qps;
	p.server_inflight = o->budget_inflight;
	if (p.interval_s > p.soak_s && p.soak_s > 0)
		p.interval_s = p.soak_s; /* a short soak (tests, benchmarks) also means faster steps */
	e->budget_on = o->budget_p99_ms > 0 || o->budget_errors >= 0 || o->budget_inflight > 0;
	e->server_p99_ms = NAN;
	return rk_budget_new(&p, rk_monotonic_ns(), &e->budget, err);
}

static const char *decision_name(rk_budget_action a)
{
	return rk_budget_action_name(a);
}

static void set_state(rk_rw_engine *e, const rk_budget_decision *d)
{
	if (d->action == RK_BUDGET_ABORT)
		e->state = RK_RW_ABORTED;
	else if (d->paused)
		e->state = RK_RW_PAUSED;
	else if (d->rate > 0 && (e->opts->settings.qps <= 0 || d->rate < e->opts->settings.qps))
		e->state = RK_RW_SLOWED;
	else
		e->state = RK_RW_OK;
}

static void apply_decision(rk_rw_engine *e, const rk_budget_decision *d)
{
	rk_throttle_set_rate(&e->throttle, d->rate);
	rk_throttle_set_paused(&e->throttle, d->paused);
	set_state(e, d);
	int calm = d->action == RK_BUDGET_RECOVER || d->action == RK_BUDGET_RESUME;
	rk_log(calm ? RK_LOG_INFO : RK_LOG_WARN, "rewrite.budget", "%s", d->reason);
	rk_budget_record rec = {.decision = decision_name(d->action),
	                        .p50_ms = isnan(d->stats.p50_ms) ? 0 : d->stats.p50_ms,
	                        .p99_ms = isnan(d->stats.p99_ms) ? 0 : d->stats.p99_ms,
	                        .error_ratio = isnan(d->stats.error_ratio) ? 0 : d->stats.error_ratio,
	                        .rate_before = d->rate_before,
	                        .rate_after = d->rate,
	                        .reason = d->reason};
	rk_err err;
	if (rk_store_budget_insert(e->store, e->run_id, &rec, &err) != RK_OK)
		rk_warn("rewrite.budget", "could not record the decision: %s", err.msg);
}

static void probe_done(void *user, rk_kube_resp *resp)
{
	rk_rw_engine *e = user;
	e->probe_inflight = 0;
	int failed = resp->http_status == 0 || resp->http_status == 429 || resp->http_status >= 500;
	rk_budget_observe(e->budget, rk_monotonic_ns(), resp->latency_s * 1000.0, failed);
}

static void maybe_probe(rk_rw_engine *e, double now)
{
	if (e->state != RK_RW_PAUSED || e->probe_inflight || now - e->last_probe_ms < PROBE_MS ||
	    !e->list_path.len)
		return;
	char path[RK_STORE_PATH_MAX];
	snprintf(path, sizeof path, "%s?limit=1", rk_buf_cstr(&e->list_path));
	rk_kube_req req = {.method = "GET", .path = path, .no_retry = 1};
	rk_err err;
	e->last_probe_ms = now;
	if (rk_kube_submit(e->kube, &req, probe_done, e, &err) == RK_OK)
		e->probe_inflight = 1;
}

/* The apiserver's PUT p99 on this resource between two scrapes, and its mutating in-flight requests
 * (rk_prom_apiserver_*, promtext.h). A scrape of another resource than the previous one starts over. */
static void scrape(rk_rw_engine *e)
{
	rk_buf text = RK_BUF_INIT;
	rk_err err;
	rk_prom_apiserver now;
	int rc = rk_kube_get_text(e->kube, NULL, "/metrics", &text, &err);
	if (rc == RK_OK)
		rc = rk_prom_apiserver_parse((const char *)text.data, text.len, e->res.resource, e->res.group,
		                             &now, &err);
	rk_buf_free(&text);
	if (rc != RK_OK) {
		rk_debug("rewrite.scrape", "%s", err.msg);
		return;
	}
	rk_prom_apiserver *prev = &e->metrics_prev;
	int same =
	    e->have_metrics_prev && !strcmp(prev->resource, now.resource) && !strcmp(prev->group, now.group);
	double p99 = same ? rk_prom_apiserver_put_p99_ms(&now, prev) : NAN;
	*prev = now;
	e->have_metrics_prev = 1;
	e->server_p99_ms = p99;
	rk_budget_server(e->budget, rk_monotonic_ns(), p99, now.inflight_mutating);
}

void rk_rw_budget_tick(rk_rw_engine *e, double now)
{
	if (e->opts->settings.scrape_ms > 0 &&
	    now - e->last_scrape_ms >= (double)e->opts->settings.scrape_ms) {
		e->last_scrape_ms = now;
		scrape(e);
	}
	if (now - e->last_eval_ms >= EVAL_MS && e->budget_on && e->state != RK_RW_ABORTED) {
		e->last_eval_ms = now;
		rk_budget_decision d = rk_budget_decide(e->budget, rk_monotonic_ns());
		if (d.action != RK_BUDGET_NONE)
			apply_decision(e, &d);
	}
	maybe_probe(e, now);
}
