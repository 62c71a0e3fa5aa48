/* rewrite_int.h: the pure parts of the rewrite engine, shared by src/rewrite*.c and the unit tests:
 * the sliding window of write latencies and errors, the budget
 * controller that turns the window into slowdown/recover/pause/resume/abort decisions, outcome
 * classification and the etcd key order of objects. Times are milliseconds on any monotonic clock the
 * caller passes in, so the tests drive them with a fake clock. Not part of librekey's public API. */
#ifndef REKEY_REWRITE_INT_H
#define REKEY_REWRITE_INT_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "rekey/rewrite.h"
#include "rekey/store.h"

/* ---- sliding window of write results ---- */
#define RK_WINDOW_CAP 65536 /* the oldest samples are dropped past this (memory stays bounded) */

typedef struct rk_sample {
	double t_ms;
	float latency_ms;
	uint8_t ok;
} rk_sample;

typedef struct rk_window {
	rk_sample *ring; /* RK_WINDOW_CAP entries */
	size_t head, len;
	float *scratch; /* for quantiles */
} rk_window;

typedef struct rk_window_stats {
	size_t n;
	double p50_ms, p99_ms, error_ratio;
} rk_window_stats;

int rk_window_init(rk_window *w); /* -1 when out of memory */
void rk_window_free(rk_window *w);
void rk_window_add(rk_window *w, double t_ms, double latency_ms, int ok);
/* Stats of the samples with t_ms >= since_ms (older ones are dropped). Quantiles by the nearest rank. */
void rk_window_stats_since(rk_window *w, double since_ms, rk_window_stats *out);

/* ---- budget controller ---- */
#define RK_BUDGET_MIN_SAMPLES 20 /* fewer writes than this say nothing about health */
#define RK_BUDGET_MIN_PROBES 3   /* while paused: probe answers needed to judge health */

typedef enum rk_decision {
	RK_DECIDE_NONE = 0,
	RK_DECIDE_SLOWDOWN,
	RK_DECIDE_RECOVER,
	RK_DECIDE_PAUSE,
	RK_DECIDE_RESUME,
	RK_DECIDE_ABORT
} rk_decision;
const char *rk_decision_name(rk_decision d); /* as stored: "slowdown", "recover", ... */

typedef struct rk_budget_ctl {
	double p99_ms, errors; /* budgets; 0 = not checked */
	double window_ms, soak_ms;
	rk_on_breach mode;
	double target; /* configured rate; 0 = unlimited */
	double rate;   /* current rate; 0 = unlimited */
	double
	    ceiling; /* rate recovery climbs back to (target, or the achieved rate at the first slowdown) */
	rk_budget_state state;
	double since_ms; /* the window starts here after a decision */
	double last_ms;  /* time of the last decision */
	double bad_ms;   /* while paused: last time the budget was breached */
} rk_budget_ctl;

typedef struct rk_budget_out {
	rk_decision decision;
	rk_window_stats stats;
	double rate_before, rate_after; /* 0 = unlimited */
	char reason[256];
} rk_budget_out;

void rk_budget_ctl_init(rk_budget_ctl *c, const rk_rewrite_opts *opts, double now_ms);
/* 1 when some budget is set. */
int rk_budget_ctl_enabled(const rk_budget_ctl *c);
/* Looks at the window and decides; `achieved` is the measured write rate (used when the rate is unlimited).
 * out->decision NONE when nothing changes. */
void rk_budget_ctl_eval(rk_budget_ctl *c, rk_window *w, double now_ms, double achieved, rk_budget_out *out);

/* ---- outcomes ---- */
typedef enum rk_outcome {
	RK_OUT_REWRITTEN = 0,
	RK_OUT_CURRENT,
	RK_OUT_CONFLICT,
	RK_OUT_GONE,
	RK_OUT_ORPHAN,
	RK_OUT_FAILED,
	RK_OUT_CHECK /* 404 on the PUT: a GET decides between gone and orphan */
} rk_outcome;
const char *rk_outcome_name(rk_outcome o);

/* From the PUT's HTTP status (0 = no answer) and resourceVersions (new_rv NULL when absent). */
rk_outcome rk_outcome_of_put(long http_status, const char *old_rv, const char *new_rv);
/* From the confirming GET after a 404. */
rk_outcome rk_outcome_of_get(long http_status);
void rk_counts_add(rk_counts *c, rk_outcome o);
int64_t rk_counts_sum(const rk_counts *c);
void rk_counts_merge(rk_counts *into, const rk_counts *from);

/* Compares two objects in etcd key order (the order of a list): "ns/name" byte by byte. */
int rk_objkey_cmp(const char *ns_a, const char *name_a, const char *ns_b, const char *name_b);

/* An object as listed -> the PUT body: a copy with apiVersion and kind set. NULL on out of memory. */
char *rk_rewrite_put_body(json_t *item, const char *api_version, const char *kind);

/* Seconds left at `rate` objects/s for total - done objects; -1 when unknown. */
double rk_eta_s(int64_t done, int64_t total, double rate);

#endif
