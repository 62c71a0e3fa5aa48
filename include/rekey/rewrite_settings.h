/* rewrite_settings.h: the rewrite engine's settings, one struct for both ways of setting them: the flags of
 * `rekeyctl rewrite` and a rotation plan's `rewrite` and `budget` sections (rk_plan.rewrite). Their defaults
 * live here and only here. */
#ifndef REKEY_REWRITE_SETTINGS_H
#define REKEY_REWRITE_SETTINGS_H

#include "rekey/budget.h"
#include "rekey/err.h"

typedef struct rk_rewrite_settings {
	double qps;            /* token bucket rate; <= 0 = unthrottled */
	int burst;             /* bucket size; 0 = max(1, qps) */
	int concurrency;       /* PUTs in flight at most */
	int page_size;         /* list limit */
	int batch_size;        /* objects per checkpoint */
	long batch_pause_ms;   /* pause between batches */
	long budget_p99_ms;    /* PUT latency p99 budget; 0 = none */
	double budget_errors;  /* error ratio budget (0..1); < 0 = none */
	long budget_window_ms; /* the budget's sliding window */
	long soak_ms;          /* healthy time before resuming or recovering (a rotation's gates soak too) */
	rk_breach_action on_breach; /* slowdown, pause or abort (budget.h) */
	double budget_inflight; /* apiserver mutating in-flight requests budget (needs scrape_ms); 0 = none */
	long scrape_ms;         /* > 0: read the apiserver's /metrics this often */
	double budget_throttled; /* apiserver 429 ratio budget (0..1); < 0 = the error ratio budget */
	int budget_min_requests; /* requests a window needs before it is judged, default 20 */
} rk_rewrite_settings;

/* `rekeyctl rewrite`'s defaults: unthrottled, 8 PUTs in flight, pages of 500, checkpoints every 200
 * objects, no latency or error budget (window 60 s, soak 30 s, slow down on a breach, 20 requests
 * before a window is judged). */
void rk_rewrite_settings_init(rk_rewrite_settings *s);
/* A rotation plan's defaults: the same, but throttled to 100 objects/s (burst 200), held to a budget of
 * p99 500 ms and 1% errors, and reading every apiserver's /metrics every 5 s (its own PUT p99, 5xx and
 * 429 shares join the budget): a rotation runs unattended against the apiservers it has just restarted. */
void rk_rewrite_settings_init_rotation(rk_rewrite_settings *s);
/* The 429 ratio budget in force: budget_throttled, or budget_errors when that is < 0. */
double rk_rewrite_settings_throttled(const rk_rewrite_settings *s);
/* RK_BADINPUT with a one-line message for a value out of range. */
int rk_rewrite_settings_check(const rk_rewrite_settings *s, rk_err *err);

#endif
