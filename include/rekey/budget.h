/* budget.h: the rewrite's latency/error budget: a sliding window (default 60 s) of this run's write
 * latencies (p50/p99 from a bounded log-scale histogram: constant memory, about 5% error) and error
 * ratio, plus the apiserver's own p99 and in-flight requests when known; a policy; and the decision
 * taken from them: slow down (halve the rate, add back 10% of the target per healthy interval), pause
 * (until healthy for the soak time) or abort. Times are monotonic nanoseconds (>= 0) given by the
 * caller, so tests drive it with a hand-moved clock. */
#ifndef REKEY_BUDGET_H
#define REKEY_BUDGET_H

#include <stdint.h>

#include "rekey/err.h"
#include "rekey/verdict.h"

typedef enum rk_breach_action { RK_BREACH_SLOWDOWN = 0, RK_BREACH_PAUSE, RK_BREACH_ABORT } rk_breach_action;

typedef struct rk_budget_policy {
	double write_p99_ms; /* client-side p99 budget; 0 = none */
	double error_ratio;  /* errors / writes budget, 0..1 (0 = any error breaches); < 0 = none */
	double window_s;     /* sliding window, default 60 */
	double soak_s;       /* healthy time before resuming or the first recovery, default 30 */
	rk_breach_action on_breach;
	double target_qps;      /* the configured rate; 0 = unlimited */
	double min_qps;         /* slowdown floor, default 1 */
	double interval_s;      /* time between two rate steps, default 5 */
	unsigned min_samples;   /* writes in the window needed to judge latency/errors, default 20 */
	double server_p99_ms;   /* apiserver-side p99 budget; 0 = same as write_p99_ms */
	double server_inflight; /* apiserver in-flight mutating requests budget; 0 = none */
	double throttled_ratio; /* apiserver 429s / its mutating requests; < 0 = none (defaults: as
	                           error_ratio) */
} rk_budget_policy;

void rk_budget_policy_defaults(rk_budget_policy *policy);
/* "slowdown", "pause", "abort" -> RK_OK; anything else RK_BADINPUT naming the choices. */
int rk_budget_parse_action(const char *name, rk_breach_action *action, rk_err *err);
const char *rk_breach_action_name(rk_breach_action action);

typedef enum rk_budget_action {
	RK_BUDGET_NONE = 0, /* nothing changes */
	RK_BUDGET_SLOWDOWN, /* rate halved */
	RK_BUDGET_RECOVER,  /* rate raised a step toward the target */
	RK_BUDGET_PAUSE,    /* stop starting writes */
	RK_BUDGET_RESUME,   /* start writing again */
	RK_BUDGET_ABORT     /* checkpoint and stop (exit 3); sticky */
} rk_budget_action;
const char *rk_budget_action_name(rk_budget_action action); /* "none", "slowdown", ... */

/* Statistics of the writes in a window. NaN where there were no writes / no server figures. */
typedef struct rk_budget_stats {
	uint64_t writes, errors;
	double p50_ms, p99_ms, error_ratio;
	double server_p99_ms, server_inflight;
	double server_writes, server_5xx_ratio, server_429_ratio; /* every mutating request it served */
	double write_rate;                                        /* writes per second over the window */
} rk_budget_stats;

typedef struct rk_budget_decision {
	rk_budget_action action;
	double rate_before, rate; /* requests per second; 0 = unlimited */
	int paused;               /* 1 while no write may start */
	int signal;               /* the rk_signal (verdict.h) of the budget broken; -1 when none was */
	rk_budget_stats stats;    /* the numbers the decision was taken on */
	char reason[512];         /* printable: what was measured against which budget */
} rk_budget_decision;

typedef struct rk_budget rk_budget;

/* RK_BADINPUT for a policy out of range (window <= 0 or > 3600 s, error ratio > 1, negative times...). */
int rk_budget_new(const rk_budget_policy *policy, int64_t now_ns, rk_budget **out, rk_err *err);
void rk_budget_free(rk_budget *budget);

/* One finished write: its latency and whether it failed (5xx, 429, timeout, connection error). */
void rk_budget_observe(rk_budget *budget, int64_t now_ns, double latency_ms, int failed);
/* The apiserver's own figures from a /metrics scrape (NaN or < 0 = unknown). */
void rk_budget_server(rk_budget *budget, int64_t now_ns, double p99_ms, double inflight);
/* Between the last two scrapes: the mutating requests the apiserver served (all clients') and the shares
 * answered 5xx and 429 (NaN = unknown). With fewer than min_samples requests the ratios are taken over
 * min_samples (verdict.h's padding). */
void rk_budget_server_answers(rk_budget *budget, int64_t now_ns, double writes, double ratio_5xx,
                              double ratio_429);

/* Takes at most one step. Only writes made after the last rate change count for the next step, so the
 * effect of a step is measured before another is taken. Slowdown halves the rate (floor min_qps; from
 * unlimited it halves the measured write rate); recovery adds 10% of the target once healthy for the
 * soak time and then once per interval, up to the target; pause holds until healthy for the soak time
 * and resumes at the rate it had; abort is final. */
rk_budget_decision rk_budget_decide(rk_budget *budget, int64_t now_ns);

/* Statistics over the whole window ending at now (for progress display). */
void rk_budget_stats_now(const rk_budget *budget, int64_t now_ns, rk_budget_stats *stats);
/* The rate in force (0 = unlimited) and whether writes are paused. */
double rk_budget_rate(const rk_budget *budget);
int rk_budget_paused(const rk_budget *budget);

#endif
