/* rewrite_budget.c: the rewrite's side of the latency/error budget (include/rekey/budget.h). Every endpoint
 * (apiserver) the PUTs are spread over has a budget of its own, fed with its own PUTs only: a decision
 * every second, applied to that endpoint's rate and pause (a slow or failing apiserver takes less, the
 * others go on) and logged and stored with its numbers; a light GET probe of a paused endpoint twice a
 * second (no writes measure it then); and, with --scrape-interval, each endpoint's own PUT p99 and
 * mutating in-flight requests and the shares of its mutating requests answered 5xx and 429 from its
 * /metrics (a rotation's rewrite scrapes by default). Each decision is stored with the signal that drove
 * it (status shows them). One more budget sees every PUT, for progress and the
 * metrics file. The run's state is its endpoints' (rewrite_spread.c). */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "rekey/log.h"
#include "rekey/promtext.h"
#include "rewrite_engine_internal.h"

#define EVAL_MS 1000
#define PROBE_MS 500

static void policy_of(const rk_rw_engine *e, double target_qps, rk_budget_policy *p)
{
	const rk_rewrite_settings *o = &e->opts->settings;
	rk_budget_policy_defaults(p);
	p->write_p99_ms = (double)o->budget_p99_ms;
	p->error_ratio = o->budget_errors;
	p->window_s = (double)o->budget_window_ms / 1000.0;
	p->soak_s = (double)o->soak_ms / 1000.0;
	p->on_breach = o->on_breach;
	p->target_qps = target_qps;
	p->server_inflight = o->budget_inflight;
	p->throttled_ratio = rk_rewrite_settings_throttled(o);
	p->min_samples = (unsigned)o->budget_min_requests;
	if (p->interval_s > p->soak_s && p->soak_s > 0)
		p->interval_s = p->soak_s; /* a short soak (tests, benchmarks) also means faster steps */
}

int rk_rw_budget_new(rk_rw_engine *e, rk_err *err)
{
	const rk_rewrite_settings *o = &e->opts->settings;
	rk_budget_policy p;
	e->budget_on = o->budget_p99_ms > 0 || o->budget_errors >= 0 || o->budget_inflight > 0 ||
	               o->budget_throttled >= 0;
	policy_of(e, o->qps, &p);
	if (rk_budget_new(&p, rk_monotonic_ns(), &e->budget, err) != RK_OK)
		return err->code;
	/* each endpoint's share of --qps is what its recovery climbs back to */
	policy_of(e, o->qps > 0 ? o->qps / (double)e->neps : 0, &p);
	for (size_t i = 0; i < e->neps; i++)
		if (rk_budget_new(&p, rk_monotonic_ns(), &e->eps[i].budget, err) != RK_OK)
			return err->code;
	return RK_OK;
}

void rk_rw_budget_free(rk_rw_engine *e)
{
	for (size_t i = 0; i < e->neps; i++) {
		while (e->eps[i].probe_inflight) /* its callback points at the endpoint */
			rk_kube_poll(e->kube, 100);
		rk_budget_free(e->eps[i].budget);
		e->eps[i].budget = NULL;
	}
	rk_budget_free(e->budget);
	e->budget = NULL;
}

static rk_rw_budget_state state_of(const rk_rw_engine *e, const rk_budget_decision *d)
{
	if (d->action == RK_BUDGET_ABORT)
		return RK_RW_ABORTED;
	if (d->paused)
		return RK_RW_PAUSED;
	double target = e->opts->settings.qps > 0 ? e->opts->settings.qps / (double)e->neps : 0;
	if (d->rate > 0 && (target <= 0 || d->rate < target))
		return RK_RW_SLOWED;
	return RK_RW_OK;
}

static void apply_decision(rk_rw_engine *e, rk_rw_endpoint *ep, const rk_budget_decision *d)
{
	rk_throttle_set_rate(&ep->throttle, d->rate);
	rk_throttle_set_paused(&ep->throttle, d->paused);
	ep->state = state_of(e, d);
	ep->stats.decisions++;
	e->state = rk_rw_endpoints_state(e);
	char reason[sizeof d->reason + 300];
	if (e->neps > 1)
		snprintf(reason, sizeof reason, "%s: %s", ep->label, d->reason);
	else
		snprintf(reason, sizeof reason, "%s", d->reason);
	int calm = d->action == RK_BUDGET_RECOVER || d->action == RK_BUDGET_RESUME;
	rk_log(calm ? RK_LOG_INFO : RK_LOG_WARN, "rewrite.budget", "%s", reason);
	rk_budget_record rec = {.decision = rk_budget_action_name(d->action),
	                        .p50_ms = isnan(d->stats.p50_ms) ? 0 : d->stats.p50_ms,
	                        .p99_ms = isnan(d->stats.p99_ms) ? 0 : d->stats.p99_ms,
	                        .error_ratio = isnan(d->stats.error_ratio) ? 0 : d->stats.error_ratio,
	                        .rate_before = d->rate_before,
	                        .rate_after = d->rate,
	                        .reason = reason,
	                        .signal = d->signal >= 0 ? rk_signal_name((rk_signal)d->signal) : NULL};
	rk_err err;
	if (rk_store_budget_insert(e->store, e->run_id, &rec, &err) != RK_OK)
		rk_warn("rewrite.budget", "could not record the decision: %s", err.msg);
}

static void probe_done(void *user, rk_kube_resp *resp)
{
	rk_rw_endpoint *ep = user;
	ep->probe_inflight = 0;
	int failed = resp->http_status == 0 || resp->http_status == 429 || resp->http_status >= 500;
	rk_budget_observe(ep->budget, rk_monotonic_ns(), resp->latency_s * 1000.0, failed);
}

static void maybe_probe(rk_rw_engine *e, rk_rw_endpoint *ep, double now)
{
	if (ep->state != RK_RW_PAUSED || ep->probe_inflight || now - ep->last_probe_ms < PROBE_MS ||
	    !e->list_path.len)
		return;
	char path[RK_STORE_PATH_MAX];
	snprintf(path, sizeof path, "%s?limit=1", rk_buf_cstr(&e->list_path));
	rk_kube_req req = {.method = "GET", .path = path, .endpoint = ep->url, .no_retry = 1};
	rk_err err;
	ep->last_probe_ms = now;
	if (rk_kube_submit(e->kube, &req, probe_done, ep, &err) == RK_OK)
		ep->probe_inflight = 1;
}

/* Between two scrapes of the endpoint: its mutating requests (everyone's) and the shares answered 5xx and
 * 429; unknown across a restart (rk_prom_window skips that interval). */
static void server_answers(rk_rw_endpoint *ep, const rk_prom_apiserver *now, const rk_prom_apiserver *prev)
{
	rk_prom_window w;
	rk_prom_figures f;
	rk_prom_window_init(&w);
	if (rk_prom_window_add(&w, now, prev)) {
		rk_budget_server_answers(ep->budget, rk_monotonic_ns(), NAN, NAN, NAN);
		return;
	}
	rk_prom_window_figures(&w, &f);
	rk_budget_server_answers(ep->budget, rk_monotonic_ns(), f.writes, f.write_5xx_ratio,
	                         f.write_429_ratio);
}

/* The endpoint's PUT p99 on this resource between two scrapes, its 5xx and 429 shares, and its mutating
 * in-flight requests (rk_prom_apiserver_*, promtext.h). A scrape of another resource than the previous
 * one starts over. */
static void scrape(rk_rw_engine *e, rk_rw_endpoint *ep)
{
	rk_buf text = RK_BUF_INIT;
	rk_err err;
	rk_prom_apiserver now;
	int rc = rk_kube_get_text(e->kube, ep->url, "/metrics", &text, &err);
	if (rc == RK_OK)
		rc = rk_prom_apiserver_parse((const char *)text.data, text.len, e->res.resource, e->res.group,
		                             &now, &err);
	rk_buf_free(&text);
	if (rc != RK_OK) { /* the first failure of each endpoint is a warning: its budget is the client's */
		rk_log(ep->scrape_warned ? RK_LOG_DEBUG : RK_LOG_WARN, "rewrite.scrape-failed",
		       "%s: %s (its budget goes on with our own figures)", ep->label, err.msg);
		ep->scrape_warned = 1;
		return;
	}
	rk_prom_apiserver *prev = &ep->metrics_prev;
	int same =
	    ep->have_metrics_prev && !strcmp(prev->resource, now.resource) && !strcmp(prev->group, now.group);
	double p99 = same ? rk_prom_apiserver_put_p99_ms(&now, prev) : NAN;
	if (same)
		server_answers(ep, &now, prev);
	if (!ep->have_metrics_prev)
		rk_info("rewrite.scrape", "%s: its /metrics read every %ldms into its budget", ep->label,
		        e->opts->settings.scrape_ms);
	*prev = now;
	ep->have_metrics_prev = 1;
	rk_budget_server(ep->budget, rk_monotonic_ns(), p99, now.inflight_mutating);
}

void rk_rw_budget_tick(rk_rw_engine *e, double now)
{
	int scrape_due =
	    e->opts->settings.scrape_ms > 0 && now - e->last_scrape_ms >= (double)e->opts->settings.scrape_ms;
	int eval_due = now - e->last_eval_ms >= EVAL_MS && e->budget_on && e->state != RK_RW_ABORTED;
	if (scrape_due)
		e->last_scrape_ms = now;
	if (eval_due)
		e->last_eval_ms = now;
	for (size_t i = 0; i < e->neps; i++) {
		rk_rw_endpoint *ep = &e->eps[i];
		if (scrape_due)
			scrape(e, ep);
		if (eval_due && e->state != RK_RW_ABORTED) {
			rk_budget_decision d = rk_budget_decide(ep->budget, rk_monotonic_ns());
			if (d.action != RK_BUDGET_NONE)
				apply_decision(e, ep, &d);
		}
		maybe_probe(e, ep, now);
	}
}
