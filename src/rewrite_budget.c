/* rewrite_budget.c: the rewrite's latency/error budget: the sliding window of write latencies and errors,
 * and the controller that turns it into slowdown/recover/pause/resume/abort decisions (the rate itself is
 * applied by the throttle, include/rekey/throttle.h). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rewrite_int.h"

/* ---- sliding window ---- */

int rk_window_init(rk_window *w)
{
	memset(w, 0, sizeof *w);
	w->ring = calloc(RK_WINDOW_CAP, sizeof *w->ring);
	w->scratch = calloc(RK_WINDOW_CAP, sizeof *w->scratch);
	if (!w->ring || !w->scratch) {
		rk_window_free(w);
		return -1;
	}
	return 0;
}

void rk_window_free(rk_window *w)
{
	free(w->ring);
	free(w->scratch);
	memset(w, 0, sizeof *w);
}

void rk_window_add(rk_window *w, double t_ms, double latency_ms, int ok)
{
	size_t at = (w->head + w->len) % RK_WINDOW_CAP;
	if (w->len == RK_WINDOW_CAP) {
		w->head = (w->head + 1) % RK_WINDOW_CAP;
		w->len--;
	}
	w->ring[at] = (rk_sample){t_ms, (float)latency_ms, (uint8_t)(ok != 0)};
	w->len++;
}

static int cmp_float(const void *a, const void *b)
{
	float x = *(const float *)a, y = *(const float *)b;
	return (x > y) - (x < y);
}

/* Nearest rank: the smallest value with at least q of the samples at or below it. */
static double nearest_rank(const float *sorted, size_t n, double q)
{
	size_t rank = (size_t)ceil(q * (double)n);
	if (rank < 1)
		rank = 1;
	return sorted[rank - 1];
}

void rk_window_stats_since(rk_window *w, double since_ms, rk_window_stats *out)
{
	size_t n = 0, errors = 0;
	while (w->len && w->ring[w->head].t_ms < since_ms) {
		w->head = (w->head + 1) % RK_WINDOW_CAP;
		w->len--;
	}
	for (size_t i = 0; i < w->len; i++) {
		const rk_sample *s = &w->ring[(w->head + i) % RK_WINDOW_CAP];
		w->scratch[n++] = s->latency_ms;
		errors += !s->ok;
	}
	memset(out, 0, sizeof *out);
	out->n = n;
	if (!n)
		return;
	qsort(w->scratch, n, sizeof *w->scratch, cmp_float);
	out->p50_ms = nearest_rank(w->scratch, n, 0.50);
	out->p99_ms = nearest_rank(w->scratch, n, 0.99);
	out->error_ratio = (double)errors / (double)n;
}

/* ---- budget controller ---- */

const char *rk_decision_name(rk_decision d)
{
	static const char *const names[] = {"none", "slowdown", "recover", "pause", "resume", "abort"};
	return d <= RK_DECIDE_ABORT ? names[d] : "none";
}

void rk_budget_ctl_init(rk_budget_ctl *c, const rk_rewrite_opts *opts, double now_ms)
{
	memset(c, 0, sizeof *c);
	c->p99_ms = opts->budget_p99_ms;
	c->errors = opts->budget_errors;
	c->window_ms = opts->budget_window_ms > 0 ? (double)opts->budget_window_ms : 60000.0;
	c->soak_ms = opts->soak_ms >= 0 ? (double)opts->soak_ms : 30000.0;
	c->mode = opts->on_breach;
	c->target = opts->qps > 0 ? opts->qps : 0;
	c->rate = c->target;
	c->ceiling = c->target;
	c->since_ms = now_ms;
	c->last_ms = now_ms;
}

int rk_budget_ctl_enabled(const rk_budget_ctl *c)
{
	return c->p99_ms > 0 || c->errors > 0;
}

static int breached(const rk_budget_ctl *c, const rk_window_stats *s, char *why, size_t cap)
{
	if (c->p99_ms > 0 && s->p99_ms > c->p99_ms) {
		snprintf(why, cap, "p99 %.1fms > budget %.1fms over %zu writes", s->p99_ms, c->p99_ms, s->n);
		return 1;
	}
	if (c->errors > 0 && s->error_ratio > c->errors) {
		snprintf(why, cap, "error ratio %.4f > budget %.4f over %zu writes", s->error_ratio,
		         c->errors, s->n);
		return 1;
	}
	snprintf(why, cap, "p99 %.1fms, error ratio %.4f over %zu writes within budget", s->p99_ms,
	         s->error_ratio, s->n);
	return 0;
}

static void decide(rk_budget_ctl *c, rk_budget_out *out, rk_decision d, double new_rate, double now_ms)
{
	out->decision = d;
	out->rate_before = c->rate;
	out->rate_after = new_rate;
	c->rate = new_rate;
	c->last_ms = now_ms;
	c->since_ms = now_ms; /* judge the new rate on new writes only */
}

static void eval_running(rk_budget_ctl *c, double now_ms, double achieved, int bad, rk_budget_out *out)
{
	if (bad) {
		if (c->mode == RK_BREACH_ABORT) {
			c->state = RK_BUDGET_ABORTED;
			decide(c, out, RK_DECIDE_ABORT, c->rate, now_ms);
		} else if (c->mode == RK_BREACH_PAUSE) {
			c->state = RK_BUDGET_PAUSED;
			c->bad_ms = now_ms;
			decide(c, out, RK_DECIDE_PAUSE, c->rate, now_ms);
		} else {
			double from = c->rate > 0 ? c->rate : (achieved > 1 ? achieved : 2);
			if (c->ceiling <= 0)
				c->ceiling = from;
			double to = from / 2 < 1 ? 1 : from / 2;
			c->state = RK_BUDGET_SLOWED;
			decide(c, out, RK_DECIDE_SLOWDOWN, to, now_ms);
			out->rate_before = from;
		}
		return;
	}
	/* healthy: climb back a quarter of the ceiling per step, one step per soak/3 (at least 2 s) */
	double step_ms = c->soak_ms / 3 > 2000 ? c->soak_ms / 3 : 2000;
	if (c->state == RK_BUDGET_SLOWED && now_ms - c->last_ms >= step_ms) {
		double to = c->rate + c->ceiling / 4;
		if (to >= c->ceiling) {
			to = c->target; /* back to the configured rate (0 = unlimited) */
			c->state = RK_BUDGET_OK;
		}
		decide(c, out, RK_DECIDE_RECOVER, to, now_ms);
	}
}

void rk_budget_ctl_eval(rk_budget_ctl *c, rk_window *w, double now_ms, double achieved, rk_budget_out *out)
{
	memset(out, 0, sizeof *out);
	double since = now_ms - c->window_ms;
	if (since < c->since_ms)
		since = c->since_ms;
	rk_window_stats_since(w, since, &out->stats);
	if (!rk_budget_ctl_enabled(c) || c->state == RK_BUDGET_ABORTED)
		return;
	size_t need = c->state == RK_BUDGET_PAUSED ? RK_BUDGET_MIN_PROBES : RK_BUDGET_MIN_SAMPLES;
	if (out->stats.n < need)
		return;
	int bad = breached(c, &out->stats, out->reason, sizeof out->reason);
	if (c->state != RK_BUDGET_PAUSED) {
		eval_running(c, now_ms, achieved, bad, out);
		return;
	}
	if (bad) { /* still unhealthy: start the soak again on fresh probes */
		c->bad_ms = now_ms;
		c->since_ms = now_ms;
	} else if (now_ms - c->bad_ms >= c->soak_ms) {
		c->state = RK_BUDGET_OK;
		decide(c, out, RK_DECIDE_RESUME, c->rate, now_ms);
	}
}
