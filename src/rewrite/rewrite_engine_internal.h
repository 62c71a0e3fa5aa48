/* rewrite_engine_internal.h (private): the state of one running rewrite, shared by the engine's files, which
 * call each other one way only: rewrite_run.c (runs, estimate, scopes) -> rewrite_retry.c (earlier
 * failures and orphans again) -> rewrite.c (listing, writing, the window, checkpoints) -> rewrite_tick.c
 * (periodic work: rate, progress, metrics file) -> rewrite_budget.c (budget decisions, probes, scrapes) and
 * rewrite_spread.c (endpoints) -> rewrite_outcome.c (pure parts). */
#ifndef REKEY_REWRITE_ENGINE_INTERNAL_H
#define REKEY_REWRITE_ENGINE_INTERNAL_H

#include "rekey/budget.h"
#include "rekey/buf.h"
#include "rekey/kube.h"
#include "rekey/promtext.h"
#include "rekey/rewrite.h"
#include "rekey/throttle.h"
#include "rewrite_internal.h"

typedef struct rk_rw_engine rk_rw_engine;

/* One object taken from the list, in the window until it and every object before it finished. */
typedef struct rk_rw_item {
	rk_rw_engine *engine;
	char ns[RK_STORE_NAME_MAX];
	char name[RK_STORE_NAME_MAX];
	char rv[64];
	char *body;    /* the PUT body */
	rk_buf path;   /* the object's path */
	uint64_t page; /* sequence number of its list page (engine->page_tokens) */
	int ep;        /* endpoint of its current attempt */
	int submitted, finished;
	rk_outcome outcome;
	char why[256];  /* why it failed */
	size_t carried; /* a retry: index into engine->carried */
} rk_rw_item;

/* An object an earlier pass of the run recorded as failed or orphaned, tried again (rewrite_retry.c). */
typedef struct rk_rw_carried {
	char ns[RK_STORE_NAME_MAX];
	char name[RK_STORE_NAME_MAX];
	int orphan;         /* recorded as an orphan, else as failed */
	rk_outcome outcome; /* of the retry */
	char why[256];
} rk_rw_carried;

/* One apiserver the PUTs are spread over, with its own share, health and budget. */
typedef struct rk_rw_endpoint {
	const char *url;      /* NULL: the kubeconfig's server */
	const char *label;    /* url, or "cluster" */
	unsigned outstanding; /* attempts in flight */
	double health;        /* 0.05..1: its share is divided by 1/health; halved per failed attempt */
	double health_at_ms;  /* when health last changed (it regains over time) */
	double latency_ms;    /* moving average of its PUT attempts' latency (0: none yet) */
	double latency_at_ms; /* when it was last updated (it decays toward the fastest's) */
	rk_budget *budget;    /* its PUTs only */
	rk_throttle throttle; /* its own rate from its budget (0 = none) and pause */
	rk_rw_budget_state state;
	int probe_inflight;
	double last_probe_ms;
	rk_prom_apiserver metrics_prev; /* previous /metrics scrape, for the PUT latency histogram's delta */
	int have_metrics_prev;
	int scrape_warned; /* a failed scrape was logged as a warning once */
	rk_rewrite_endpoint_stats stats;
} rk_rw_endpoint;

#define RK_RW_RATE_SLOTS 24 /* achieved-rate history: one slot per 250 ms, 6 s */

/* An orphan or a failed object of the finished prefix, kept until the checkpoint that saves it. */
typedef struct rk_rw_kept {
	char ns[RK_STORE_NAME_MAX], name[RK_STORE_NAME_MAX];
	char why[256]; /* a failure's reason */
} rk_rw_kept;

typedef struct rk_rw_kept_list {
	rk_rw_kept *v;
	size_t n, cap;
} rk_rw_kept_list;

struct rk_rw_engine {
	const rk_rewrite_opts *opts;
	rk_store *store;
	rk_kube *kube;
	const rk_rewrite_hooks *hooks;
	int64_t run_id;
	/* current resource and scope */
	rk_kube_resource res;
	char resource_key[RK_STORE_NAME_MAX];                         /* "secrets", "deployments.apps" */
	char api_version[RK_KUBE_NAME_MAX + RK_KUBE_VERSION_MAX + 2]; /* "group/version" */
	const char *scope;
	rk_buf list_path;
	rk_kube_list *list;
	int list_end;
	uint64_t page_seq;      /* pages taken from (every opening of) the list */
	size_t list_pages_seen; /* rk_kube_list_pages at the last take */
	/* pacing and budget */
	rk_throttle throttle; /* --qps, --burst, --concurrency over every endpoint */
	rk_budget *budget;    /* every PUT: what progress and the metrics file show */
	rk_rw_budget_state state;
	int budget_on; /* a p99 or error budget is set */
	rk_rw_endpoint *eps;
	size_t neps;
	double last_scrape_ms;
	/* the window: items seq_head .. seq_tail-1 at win[seq % win_cap]; seq_head .. seq_submit-1 submitted
	 */
	rk_rw_item *win;
	size_t win_cap;
	uint64_t seq_head, seq_submit, seq_tail;
	uint64_t seq_saved;  /* seq_head at the last durable checkpoint */
	size_t inflight;     /* requests in flight (PUTs and confirming GETs) */
	char **page_tokens;  /* page_tokens[page % (win_cap + 2)]: token of each page in the window */
	double resume_at_ms; /* --batch-pause: no new PUT before this */
	/* the prefix: every object up to and including it finished; what a checkpoint saves */
	char prefix_ns[RK_STORE_NAME_MAX], prefix_name[RK_STORE_NAME_MAX];
	char prefix_token[RK_STORE_TOKEN_MAX];
	uint64_t prefix_page;
	rk_counts prefix_counts;  /* this resource: what the checkpoint saves */
	rk_rw_kept_list orphans;  /* orphans in the prefix since the last checkpoint */
	rk_rw_kept_list failures; /* failed objects in the prefix since the last checkpoint */
	/* what earlier passes of the run left for this resource, and whether the window holds a retry of it
	 */
	rk_rw_carried *carried;
	size_t ncarried;
	int retrying;
	/* resume bookkeeping */
	char skip_ns[RK_STORE_NAME_MAX], skip_name[RK_STORE_NAME_MAX];   /* skip up to this key */
	char taken_ns[RK_STORE_NAME_MAX], taken_name[RK_STORE_NAME_MAX]; /* last taken from the list */
	int skipping, relists;
	int64_t skipped;
	/* totals */
	rk_counts run_counts; /* every resource, as answers arrive (progress) */
	int64_t total;        /* estimate, -1 unknown */
	char **names;         /* the resources to rewrite, wildcards resolved */
	size_t nnames;
	char first_failure[RK_ERR_MSG_MAX / 2]; /* the current resource's first failed object and why */
	rk_buf failure_report;                  /* "resource: N ..., first ns/name: why; ..." */
	/* where the time goes */
	rk_rewrite_timing timing;
	/* ticks */
	double t0_ms, last_tick_ms, last_eval_ms, last_metrics_ms;
	double rate_t[RK_RW_RATE_SLOTS];
	int64_t rate_done[RK_RW_RATE_SLOTS];
	size_t rate_n;
	double achieved;
	/* the KMS failed a PUT or the list (rk_rewrite_kms_failure): stop submitting, keep that object
	 * unfinished (the checkpoint stays before it), and end the run RK_STOPPED */
	int kms_down;
	char kms_error[512];
};

/* rewrite.c */
int rk_rw_stop_requested(const rk_rw_engine *e);
/* RK_STOPPED with what stopped the run (the budget's abort, or the stop flag). */
int rk_rw_stop_error(const rk_rw_engine *e, rk_err *err);
int rk_rw_engine_init(rk_rw_engine *e, rk_err *err);
void rk_rw_engine_free(rk_rw_engine *e);
/* Rewrites the current (resource, scope) from cp. */
int rk_rw_scope(rk_rw_engine *e, const rk_checkpoint *cp, rk_err *err);
/* A retry through the window (at most a batch at a time): take an object as just read for carried entry
 * `carried`; run until every object taken has an outcome (or, stopped, was never sent), which goes to its
 * carried entry (outcome, why); the window is empty again. */
int rk_rw_retry_take(rk_rw_engine *e, json_t *obj, size_t carried, rk_err *err);
void rk_rw_retry_run(rk_rw_engine *e);

/* rewrite_retry.c: loads the failures and orphans earlier passes recorded for the current resource;
 * tries each again once its scopes are done (RK_STOPPED when stopped). */
int rk_rw_carry_load(rk_rw_engine *e, rk_err *err);
int rk_rw_retry(rk_rw_engine *e, rk_err *err);

/* rewrite_tick.c */
double rk_rw_now_ms(void);
/* Periodic work (at most every 250 ms): progress, budget evaluation and decisions, probes while paused,
 * the metrics file. */
void rk_rw_tick(rk_rw_engine *e);
/* One progress call; final = 1 on the last. */
void rk_rw_progress(rk_rw_engine *e, int final);
/* Writes the Prometheus textfile opts->metrics_file now. */
void rk_rw_write_metrics(rk_rw_engine *e);

/* rewrite_budget.c: the budgets (every PUT for display; each endpoint's own for decisions), the periodic
 * decision per endpoint, probes of paused endpoints and /metrics scrapes. */
int rk_rw_budget_new(rk_rw_engine *e, rk_err *err);
void rk_rw_budget_free(rk_rw_engine *e);
void rk_rw_budget_tick(rk_rw_engine *e, double now_ms);

/* rewrite_spread.c: the endpoints PUTs are spread over (least outstanding requests, divided by health)
 * and what each attempt's answer does to its endpoint. */
int rk_rw_endpoints_new(rk_rw_engine *e, rk_err *err);
void rk_rw_endpoints_free(rk_rw_engine *e);
/* The endpoint the next new PUT goes to, or -1 with *wait_ms (-1 when only a release or a resume helps). */
int rk_rw_endpoint_choose(rk_rw_engine *e, double *wait_ms);
/* rk_kube_req.pick for PUTs: attempt 1 goes where rk_rw_endpoint_choose said, retries to the best other. */
const char *rk_rw_endpoint_pick(void *item, int attempt);
/* The rk_kube observer: every attempt's answer, per endpoint. */
void rk_rw_endpoint_observe(void *engine, const char *method, const char *endpoint, long http_status,
                            double latency_s);
/* The state of the run from its endpoints' (aborted if one aborted, paused if all are, ...). */
rk_rw_budget_state rk_rw_endpoints_state(const rk_rw_engine *e);
/* The rate limit in force over every endpoint (0 = none). */
double rk_rw_endpoints_qps(const rk_rw_engine *e);

#endif
