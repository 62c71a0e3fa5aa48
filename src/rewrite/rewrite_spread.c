/* rewrite_spread.c: the apiservers a rewrite spreads its PUTs over. Each new PUT goes to the endpoint with
 * the lowest expected wait: (attempts in flight + 1) x its moving-average latency / its health. A slow
 * apiserver gets few PUTs (each of which would hold the window behind it); its average decays toward the
 * fastest endpoint's while it gets none, so it is tried again now and then and used again once it is
 * fast. A failed attempt (no answer, 429, 5xx) halves its
 * endpoint's health, which comes back over a few seconds (so a failing apiserver is still tried now and
 * then, and is used again once it answers); a retry goes to the best endpoint other than the one that
 * failed. An endpoint its own budget paused gets nothing; one it slowed gets at most its rate. With one
 * endpoint (the kubeconfig's server) this is the plain single-server rewrite. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rekey/log.h"
#include "rewrite_engine_internal.h"

#define HEALTH_MIN 0.05
#define HEALTH_REGAIN_MS 2000.0 /* half of what is missing comes back every 2 s */
#define LATENCY_DECAY_MS 3000.0 /* a slow endpoint left alone looks half as slow every 3 s */
#define LATENCY_WEIGHT 0.2      /* of a new sample in the moving average */

int rk_rw_endpoints_new(rk_rw_engine *e, rk_err *err)
{
	size_t n = e->opts->nendpoints ? e->opts->nendpoints : 1;
	e->eps = calloc(n, sizeof *e->eps);
	if (!e->eps)
		return rk_err_set(err, RK_FAIL, "out of memory");
	e->neps = n;
	for (size_t i = 0; i < n; i++) {
		rk_rw_endpoint *ep = &e->eps[i];
		ep->url = e->opts->nendpoints ? e->opts->endpoints[i] : NULL;
		const char *name =
		    e->opts->nendpoints && e->opts->endpoint_names ? e->opts->endpoint_names[i] : NULL;
		ep->label = name ? name : ep->url ? ep->url : "cluster";
		ep->health = 1;
		ep->stats.min_health = 1;
		snprintf(ep->stats.url, sizeof ep->stats.url, "%s", ep->url ? ep->url : "");
		rk_throttle_init(&ep->throttle, 0, 0, 0, rk_clock_system());
	}
	return RK_OK;
}

void rk_rw_endpoints_free(rk_rw_engine *e)
{
	free(e->eps);
	e->eps = NULL;
	e->neps = 0;
}

/* Health regained since it last changed: half of what is missing per HEALTH_REGAIN_MS. */
static double health_now(const rk_rw_endpoint *ep, double now)
{
	double dt = now - ep->health_at_ms;
	if (ep->health >= 1 || dt <= 0)
		return ep->health;
	return 1 - (1 - ep->health) * pow(0.5, dt / HEALTH_REGAIN_MS);
}

/* The fastest endpoint's average latency (0 when none measured yet). */
static double fastest_ms(const rk_rw_engine *e)
{
	double best = 0;
	for (size_t i = 0; i < e->neps; i++)
		if (e->eps[i].latency_ms > 0 && (best == 0 || e->eps[i].latency_ms < best))
			best = e->eps[i].latency_ms;
	return best;
}

/* Its average latency, the excess over the fastest halved every LATENCY_DECAY_MS since its last sample. */
static double latency_now(const rk_rw_endpoint *ep, double fastest, double now)
{
	if (ep->latency_ms <= 0 || fastest <= 0)
		return fastest > 0 ? fastest : 1;
	double dt = now - ep->latency_at_ms;
	double excess = ep->latency_ms - fastest;
	return fastest + (dt > 0 ? excess * pow(0.5, dt / LATENCY_DECAY_MS) : excess);
}

/* Lower is better: the expected wait of one more request there. */
static double load_score(const rk_rw_endpoint *ep, double fastest, double now)
{
	return ((double)ep->outstanding + 1) * latency_now(ep, fastest, now) / health_now(ep, now);
}

/* The best endpoint other than `avoid` (-1: any) that its budget lets take a PUT now; -1 when none, with
 * *wait_ms the time until one's rate allows (-1: only a resume helps). A retry (avoid >= 0) may also go to
 * one whose rate makes new PUTs wait, never to a paused one: the PUT is sent anyway, and the endpoint that
 * just failed it is the worst place for it. */
static int best_endpoint(rk_rw_engine *e, int avoid, double *wait_ms)
{
	double now = rk_rw_now_ms(), best = 0, fastest = fastest_ms(e);
	int pick = -1;
	*wait_ms = -1;
	for (size_t i = 0; i < e->neps; i++) {
		rk_rw_endpoint *ep = &e->eps[i];
		if ((int)i == avoid && e->neps > 1)
			continue;
		int64_t wait = rk_throttle_wait_ns(&ep->throttle);
		if (wait == RK_THROTTLE_BLOCKED)
			continue;
		if (wait > 0 && avoid < 0) {
			double ms = (double)wait / RK_NS_PER_MS;
			if (*wait_ms < 0 || ms < *wait_ms)
				*wait_ms = ms;
			continue;
		}
		double score = load_score(ep, fastest, now);
		if (pick < 0 || score < best) {
			pick = (int)i;
			best = score;
		}
	}
	return pick;
}

int rk_rw_endpoint_choose(rk_rw_engine *e, double *wait_ms)
{
	return best_endpoint(e, -1, wait_ms);
}

const char *rk_rw_endpoint_pick(void *item, int attempt)
{
	rk_rw_item *it = item;
	rk_rw_engine *e = it->engine;
	if (attempt > 1) { /* a retry: elsewhere if another endpoint may take it, else where it was */
		double wait;
		int other = best_endpoint(e, it->ep, &wait);
		if (other >= 0)
			it->ep = other;
	}
	rk_rw_endpoint *ep = &e->eps[it->ep];
	ep->outstanding++;
	return ep->url;
}

static rk_rw_endpoint *endpoint_of(rk_rw_engine *e, const char *url)
{
	for (size_t i = 0; i < e->neps; i++)
		if (e->eps[i].url == url)
			return &e->eps[i];
	return NULL;
}

static void health_change(rk_rw_endpoint *ep, int failed, double now)
{
	double h = health_now(ep, now);
	if (failed) {
		h = h / 2 < HEALTH_MIN ? HEALTH_MIN : h / 2;
		if (h < ep->stats.min_health)
			ep->stats.min_health = h;
	}
	ep->health = h;
	ep->health_at_ms = now;
}

static void latency_sample(rk_rw_engine *e, rk_rw_endpoint *ep, double ms, double now)
{
	double fastest = fastest_ms(e);
	double avg = ep->latency_ms > 0 ? latency_now(ep, fastest, now) : ms;
	ep->latency_ms = avg + LATENCY_WEIGHT * (ms - avg);
	ep->latency_at_ms = now;
}

void rk_rw_endpoint_observe(void *engine, const char *method, const char *endpoint, long http_status,
                            double latency_s)
{
	rk_rw_engine *e = engine;
	if (strcmp(method, "PUT") != 0)
		return;
	int failed = http_status == 0 || http_status == 429 || http_status >= 500;
	int64_t now_ns = rk_monotonic_ns();
	double ms = latency_s * 1000.0;
	rk_budget_observe(e->budget, now_ns, ms, failed);
	e->timing.put_latency_s += latency_s;
	e->timing.put_attempts++;
	rk_rw_endpoint *ep = endpoint_of(e, endpoint);
	if (!ep)
		return;
	if (ep->outstanding)
		ep->outstanding--;
	ep->stats.attempts++;
	ep->stats.errors += failed ? 1 : 0;
	ep->stats.latency_ms += ms;
	rk_budget_observe(ep->budget, now_ns, ms, failed);
	double now = rk_rw_now_ms();
	health_change(ep, failed, now);
	if (!failed || http_status == 0)
		latency_sample(e, ep, ms, now); /* a quick error says nothing of how fast it writes */
}

rk_rw_budget_state rk_rw_endpoints_state(const rk_rw_engine *e)
{
	size_t paused = 0, slowed = 0;
	for (size_t i = 0; i < e->neps; i++) {
		rk_rw_budget_state s = e->eps[i].state;
		if (s == RK_RW_ABORTED)
			return RK_RW_ABORTED;
		paused += s == RK_RW_PAUSED;
		slowed += s == RK_RW_SLOWED;
	}
	if (paused == e->neps)
		return RK_RW_PAUSED;
	return paused || slowed ? RK_RW_SLOWED : RK_RW_OK;
}

double rk_rw_endpoints_qps(const rk_rw_engine *e)
{
	double global = e->throttle.qps, sum = 0;
	for (size_t i = 0; i < e->neps; i++) {
		const rk_rw_endpoint *ep = &e->eps[i];
		if (ep->throttle.paused)
			continue;
		if (ep->throttle.qps <= 0) {
			if (global <= 0)
				return 0; /* one endpoint unlimited, and so the run */
			sum += global / (double)e->neps;
		} else {
			sum += ep->throttle.qps;
		}
	}
	return global > 0 && global < sum ? global : sum;
}
