/* budget.c: the latency/error budget (see include/rekey/budget.h). The window is a ring of 60 slots
 * (window/60 each); every slot holds a write count, an error count and a log-scale latency histogram
 * (buckets 5% apart from 0.1 ms up to ~10 min), so memory is constant whatever the write rate. */
#include "rekey/budget.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rekey/clock.h"

#define NSLOTS 60
#define NBUCKETS 320
#define BUCKET_BASE_MS 0.1
#define BUCKET_RATIO 1.05
#define NEVER (INT64_MIN / 4)

struct slot {
	int64_t epoch; /* now / slot_ns when the slot was filled; NEVER when empty */
	uint32_t writes, errors;
	uint32_t hist[NBUCKETS];
};

struct rk_budget {
	rk_budget_policy policy;
	int64_t slot_ns;
	struct slot slots[NSLOTS];
	double bound_ms[NBUCKETS]; /* upper bound of each latency bucket */
	double server_p99_ms, server_inflight;
	int64_t server_at;
	double server_writes, server_5xx, server_429; /* answers between the last two scrapes */
	int64_t answers_at;
	double rate;      /* in force; 0 = unlimited */
	double base_rate; /* what recovery climbs back to */
	int paused, aborted;
	int64_t created_at, changed_at, last_breach_at;
};

/* ---- policy ---- */

void rk_budget_policy_defaults(rk_budget_policy *policy)
{
	memset(policy, 0, sizeof *policy);
	policy->write_p99_ms = 500;
	policy->error_ratio = 0.01;
	policy->window_s = 60;
	policy->soak_s = 30;
	policy->on_breach = RK_BREACH_SLOWDOWN;
	policy->min_qps = 1;
	policy->interval_s = 5;
	policy->min_samples = 20;
	policy->throttled_ratio = -1;
}

static const char *const breach_names[] = {"slowdown", "pause", "abort"};
static const char *const action_names[] = {"none", "slowdown", "recover", "pause", "resume", "abort"};

const char *rk_breach_action_name(rk_breach_action action)
{
	return (unsigned)action < 3 ? breach_names[action] : "slowdown";
}

const char *rk_budget_action_name(rk_budget_action action)
{
	return (unsigned)action < 6 ? action_names[action] : "none";
}

int rk_budget_parse_action(const char *name, rk_breach_action *action, rk_err *err)
{
	for (unsigned i = 0; i < 3; i++)
		if (name && !strcmp(name, breach_names[i])) {
			*action = (rk_breach_action)i;
			return RK_OK;
		}
	return rk_err_set(err, RK_BADINPUT, "budget: onBreach \"%s\" is not one of slowdown, pause, abort",
	                  name ? name : "");
}

static int check_policy(const rk_budget_policy *p, rk_err *err)
{
	if (!(p->window_s > 0 && p->window_s <= 3600))
		return rk_err_set(err, RK_BADINPUT, "budget: window %gs must be > 0 and <= 3600s",
		                  p->window_s);
	if (p->error_ratio > 1 || isnan(p->error_ratio) || p->throttled_ratio > 1 ||
	    isnan(p->throttled_ratio))
		return rk_err_set(err, RK_BADINPUT,
		                  "budget: errorRatio %g and throttledRatio %g must be at most 1",
		                  p->error_ratio, p->throttled_ratio);
	if (!(p->write_p99_ms >= 0 && p->soak_s >= 0 && p->interval_s >= 0 && p->target_qps >= 0 &&
	      p->min_qps >= 0 && p->server_p99_ms >= 0 && p->server_inflight >= 0))
		return rk_err_set(err, RK_BADINPUT,
		                  "budget: latencies, times and rates must not be negative");
	if ((unsigned)p->on_breach > RK_BREACH_ABORT)
		return rk_err_set(err, RK_BADINPUT, "budget: unknown onBreach action %d", (int)p->on_breach);
	return RK_OK;
}

int rk_budget_new(const rk_budget_policy *policy, int64_t now_ns, rk_budget **out, rk_err *err)
{
	*out = NULL;
	if (check_policy(policy, err) != RK_OK)
		return err->code;
	rk_budget *b = calloc(1, sizeof *b);
	if (!b)
		return rk_err_set(err, RK_FAIL, "out of memory");
	b->policy = *policy;
	b->slot_ns = (int64_t)(policy->window_s * RK_NS_PER_SEC / NSLOTS);
	for (int i = 0; i < NSLOTS; i++)
		b->slots[i].epoch = NEVER;
	for (int i = 0; i < NBUCKETS; i++)
		b->bound_ms[i] = BUCKET_BASE_MS * pow(BUCKET_RATIO, i);
	b->server_p99_ms = b->server_inflight = NAN;
	b->server_at = NEVER;
	b->server_writes = b->server_5xx = b->server_429 = NAN;
	b->answers_at = NEVER;
	b->rate = policy->target_qps;
	b->base_rate = policy->target_qps;
	b->created_at = now_ns;
	b->changed_at = NEVER;
	b->last_breach_at = NEVER;
	*out = b;
	return RK_OK;
}

void rk_budget_free(rk_budget *budget)
{
	free(budget);
}
double rk_budget_rate(const rk_budget *budget)
{
	return budget->rate;
}
int rk_budget_paused(const rk_budget *budget)
{
	return budget->paused;
}

/* ---- inputs ---- */

static int bucket_of(double latency_ms)
{
	if (!(latency_ms > BUCKET_BASE_MS))
		return 0;
	double i = ceil(log(latency_ms / BUCKET_BASE_MS) / log(BUCKET_RATIO) - 1e-9);
	return i >= NBUCKETS - 1 ? NBUCKETS - 1 : (int)i;
}

static struct slot *slot_for(rk_budget *b, int64_t now_ns)
{
	int64_t epoch = (now_ns > 0 ? now_ns : 0) / b->slot_ns;
	struct slot *s = &b->slots[epoch % NSLOTS];
	if (s->epoch != epoch) {
		memset(s, 0, sizeof *s);
		s->epoch = epoch;
	}
	return s;
}

void rk_budget_observe(rk_budget *budget, int64_t now_ns, double latency_ms, int failed)
{
	struct slot *s = slot_for(budget, now_ns);
	s->writes++;
	s->errors += failed ? 1 : 0;
	s->hist[bucket_of(latency_ms)]++;
}

void rk_budget_server(rk_budget *budget, int64_t now_ns, double p99_ms, double inflight)
{
	budget->server_p99_ms = p99_ms >= 0 ? p99_ms : NAN;
	budget->server_inflight = inflight >= 0 ? inflight : NAN;
	budget->server_at = now_ns;
}

void rk_budget_server_answers(rk_budget *budget, int64_t now_ns, double writes, double ratio_5xx,
                              double ratio_429)
{
	budget->server_writes = writes >= 0 ? writes : NAN;
	budget->server_5xx = ratio_5xx >= 0 ? ratio_5xx : NAN;
	budget->server_429 = ratio_429 >= 0 ? ratio_429 : NAN;
	budget->answers_at = now_ns;
}

/* ---- statistics ---- */

/* Linear interpolation inside the bucket holding the rank. */
static double hist_quantile(const rk_budget *b, const uint64_t *hist, uint64_t n, double q)
{
	double rank = q * (double)n, cum = 0;
	if (n == 0)
		return NAN;
	if (rank < 1)
		rank = 1;
	for (int i = 0; i < NBUCKETS; i++) {
		if (hist[i] && cum + (double)hist[i] >= rank) {
			double lo = i ? b->bound_ms[i - 1] : 0, hi = b->bound_ms[i];
			return lo + (hi - lo) * ((rank - cum) / (double)hist[i]);
		}
		cum += (double)hist[i];
	}
	return b->bound_ms[NBUCKETS - 1];
}

/* Writes in the slots from first_epoch up to now's slot (never older than the window). */
static void stats_from(const rk_budget *b, int64_t now_ns, int64_t first_epoch, rk_budget_stats *st)
{
	uint64_t hist[NBUCKETS] = {0};
	int64_t now_epoch = now_ns / b->slot_ns;
	if (first_epoch < now_epoch - NSLOTS + 1)
		first_epoch = now_epoch - NSLOTS + 1;
	memset(st, 0, sizeof *st);
	for (int i = 0; i < NSLOTS; i++) {
		const struct slot *s = &b->slots[i];
		if (s->epoch < first_epoch || s->epoch > now_epoch)
			continue;
		st->writes += s->writes;
		st->errors += s->errors;
		for (int k = 0; k < NBUCKETS; k++)
			hist[k] += s->hist[k];
	}
	st->p50_ms = hist_quantile(b, hist, st->writes, 0.5);
	st->p99_ms = hist_quantile(b, hist, st->writes, 0.99);
	st->error_ratio = st->writes ? (double)st->errors / (double)st->writes : NAN;
	int64_t start = first_epoch * b->slot_ns > b->created_at ? first_epoch * b->slot_ns : b->created_at;
	double span_s = (double)(now_ns - start) / RK_NS_PER_SEC;
	st->write_rate = span_s > 0 ? (double)st->writes / span_s : NAN;
}

static int fresh(const rk_budget *b, int64_t at, int64_t now_ns, int64_t since)
{
	return at > since && now_ns - at <= (int64_t)(b->policy.window_s * RK_NS_PER_SEC);
}

/* Server figures count when taken within the window (and, for a decision, after `since`). */
static void add_server(const rk_budget *b, int64_t now_ns, int64_t since, rk_budget_stats *st)
{
	int scraped = fresh(b, b->server_at, now_ns, since), answers = fresh(b, b->answers_at, now_ns, since);
	st->server_p99_ms = scraped ? b->server_p99_ms : NAN;
	st->server_inflight = scraped ? b->server_inflight : NAN;
	st->server_writes = answers ? b->server_writes : NAN;
	st->server_5xx_ratio = answers ? b->server_5xx : NAN;
	st->server_429_ratio = answers ? b->server_429 : NAN;
}

void rk_budget_stats_now(const rk_budget *budget, int64_t now_ns, rk_budget_stats *stats)
{
	stats_from(budget, now_ns, now_ns / budget->slot_ns - NSLOTS + 1, stats);
	add_server(budget, now_ns, NEVER, stats);
}

/* What the next step is judged on: only what happened after the last change (from the next slot on). */
static void decision_stats(const rk_budget *b, int64_t now_ns, rk_budget_stats *st)
{
	int64_t first = b->changed_at == NEVER ? NEVER : b->changed_at / b->slot_ns + 1;
	stats_from(b, now_ns, first, st);
	add_server(b, now_ns, b->changed_at, st);
}

/* ---- decisions ---- */

/* Client-side budget: p99 and error ratio, judged once the window holds min_samples writes. Returns the
 * rk_signal broken, -1 when none. */
static int client_breach(const rk_budget_policy *p, const rk_budget_stats *st, char *why, size_t cap)
{
	if (st->writes == 0 || st->writes < p->min_samples)
		return -1;
	if (p->write_p99_ms > 0 && st->p99_ms > p->write_p99_ms) {
		snprintf(why, cap, "write p99 %.1fms > budget %.1fms", st->p99_ms, p->write_p99_ms);
		return RK_SIGNAL_CLIENT_LATENCY;
	}
	if (p->error_ratio >= 0 && st->error_ratio > p->error_ratio) {
		snprintf(why, cap, "errors %.2f%% > budget %.2f%%", 100 * st->error_ratio,
		         100 * p->error_ratio);
		return RK_SIGNAL_CLIENT_ERRORS;
	}
	return -1;
}

/* A share of the apiserver's mutating requests over at least min_samples of them (verdict.h's padding). */
static int ratio_breach(const rk_budget_policy *p, const rk_budget_stats *st, double ratio, double limit,
                        const char *name, char *why, size_t cap)
{
	if (isnan(ratio) || !(st->server_writes > 0) || limit < 0)
		return 0;
	double padded =
	    st->server_writes >= p->min_samples ? ratio : ratio * st->server_writes / p->min_samples;
	if (padded <= limit)
		return 0;
	if (st->server_writes >= p->min_samples)
		snprintf(why, cap, "apiserver %s %.2f%% of %.0f writes > budget %.2f%%", name, 100 * ratio,
		         st->server_writes, 100 * limit);
	else
		snprintf(why, cap, "apiserver %s %.2f%% of %.0f writes (%.2f%% padded to %u) > budget %.2f%%",
		         name, 100 * ratio, st->server_writes, 100 * padded, p->min_samples, 100 * limit);
	return 1;
}

/* Server-side budget: the apiserver's own p99, 5xx and 429 shares and in-flight requests, when known. */
static int server_breach(const rk_budget_policy *p, const rk_budget_stats *st, char *why, size_t cap)
{
	double limit = p->server_p99_ms > 0 ? p->server_p99_ms : p->write_p99_ms;
	if (limit > 0 && st->server_p99_ms > limit) {
		snprintf(why, cap, "apiserver p99 %.1fms > budget %.1fms", st->server_p99_ms, limit);
		return RK_SIGNAL_SERVER_P99;
	}
	if (ratio_breach(p, st, st->server_5xx_ratio, p->error_ratio, "5xx", why, cap))
		return RK_SIGNAL_SERVER_5XX;
	if (ratio_breach(p, st, st->server_429_ratio, p->throttled_ratio, "429", why, cap))
		return RK_SIGNAL_SERVER_429;
	if (p->server_inflight > 0 && st->server_inflight > p->server_inflight) {
		snprintf(why, cap, "apiserver inflight %.0f > budget %.0f", st->server_inflight,
		         p->server_inflight);
		return RK_SIGNAL_SERVER_INFLIGHT;
	}
	return -1;
}

/* Writes into why the first budget the stats break and returns its rk_signal; -1 when none is broken. */
static int find_breach(const rk_budget *b, const rk_budget_stats *st, char *why, size_t cap)
{
	int signal = client_breach(&b->policy, st, why, cap);
	return signal >= 0 ? signal : server_breach(&b->policy, st, why, cap);
}

static void format_rate(char *out, size_t cap, double rate)
{
	if (rate > 0)
		snprintf(out, cap, "%.1f/s", rate);
	else
		snprintf(out, cap, "unlimited");
}

static void format_ms(char *out, size_t cap, double ms)
{
	if (isnan(ms))
		snprintf(out, cap, "-");
	else
		snprintf(out, cap, "%.1fms", ms);
}

/* reason = "<action>: <cause>; p50 ..ms p99 ..ms, errors ..% of N writes; rate A -> B" */
static void describe(rk_budget_decision *d, const char *cause)
{
	char before[32], after[32], p50[32], p99[32];
	format_rate(before, sizeof before, d->rate_before);
	format_rate(after, sizeof after, d->rate);
	format_ms(p50, sizeof p50, d->stats.p50_ms);
	format_ms(p99, sizeof p99, d->stats.p99_ms);
	double errors = isnan(d->stats.error_ratio) ? 0 : 100 * d->stats.error_ratio;
	snprintf(d->reason, sizeof d->reason,
	         "%s: %s; p50 %s p99 %s, errors %.2f%% of %llu writes; rate %s -> %s",
	         rk_budget_action_name(d->action), cause, p50, p99, errors,
	         (unsigned long long)d->stats.writes, before, after);
}

static double slower_rate(rk_budget *b, int64_t now_ns, const rk_budget_stats *st)
{
	double from = b->rate;
	if (from <= 0) { /* unlimited: halve what was achieved */
		rk_budget_stats whole;
		rk_budget_stats_now(b, now_ns, &whole);
		from = st->write_rate > 0 ? st->write_rate : whole.write_rate;
		if (b->base_rate <= 0 && from > 0)
			b->base_rate = from;
	}
	double next = from > 0 ? from / 2 : b->policy.min_qps;
	return next < b->policy.min_qps ? b->policy.min_qps : next;
}

static void on_breach(rk_budget *b, int64_t now_ns, rk_budget_decision *d)
{
	switch (b->policy.on_breach) {
	case RK_BREACH_ABORT:
		b->aborted = 1;
		d->action = RK_BUDGET_ABORT;
		break;
	case RK_BREACH_PAUSE:
		b->paused = 1;
		d->action = RK_BUDGET_PAUSE;
		break;
	default:
		if (b->rate > 0 && b->rate <= b->policy.min_qps)
			return; /* already at the floor: nothing left to halve */
		b->rate = slower_rate(b, now_ns, &d->stats);
		d->action = RK_BUDGET_SLOWDOWN;
	}
	b->changed_at = now_ns;
}

static int soaked(const rk_budget *b, int64_t now_ns)
{
	return b->last_breach_at == NEVER ||
	       now_ns - b->last_breach_at >= (int64_t)(b->policy.soak_s * RK_NS_PER_SEC);
}

static void maybe_resume(rk_budget *b, int64_t now_ns, rk_budget_decision *d)
{
	if (!soaked(b, now_ns))
		return;
	b->paused = 0;
	b->changed_at = now_ns;
	d->action = RK_BUDGET_RESUME;
}

static void maybe_recover(rk_budget *b, int64_t now_ns, rk_budget_decision *d)
{
	const rk_budget_policy *p = &b->policy;
	int slowed = b->rate > 0 && (p->target_qps == 0 || b->rate < p->target_qps);
	int step_due = now_ns - b->changed_at >= (int64_t)(p->interval_s * RK_NS_PER_SEC);
	if (!slowed || !step_due || !soaked(b, now_ns) || d->stats.writes < p->min_samples ||
	    d->stats.writes == 0)
		return;
	double base = p->target_qps > 0 ? p->target_qps : b->base_rate;
	b->rate += 0.1 * base;
	if (b->rate >= base - 1e-9)
		b->rate = p->target_qps; /* back to the target (0 = unlimited) */
	b->changed_at = now_ns;
	d->action = RK_BUDGET_RECOVER;
}

rk_budget_decision rk_budget_decide(rk_budget *budget, int64_t now_ns)
{
	rk_budget_decision d;
	char cause[160] = "healthy";
	memset(&d, 0, sizeof d);
	decision_stats(budget, now_ns, &d.stats);
	d.rate_before = budget->rate;
	d.signal = budget->aborted ? -1 : find_breach(budget, &d.stats, cause, sizeof cause);
	int breached = d.signal >= 0;
	if (breached)
		budget->last_breach_at = now_ns;
	if (budget->aborted) {
		d.action = RK_BUDGET_ABORT;
		snprintf(cause, sizeof cause, "aborted earlier");
	} else if (budget->paused)
		maybe_resume(budget, now_ns, &d);
	else if (breached)
		on_breach(budget, now_ns, &d);
	else
		maybe_recover(budget, now_ns, &d);
	d.rate = budget->rate;
	d.paused = budget->paused || budget->aborted;
	describe(&d, cause);
	return d;
}
