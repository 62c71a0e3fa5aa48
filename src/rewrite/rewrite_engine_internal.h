/* rewrite_engine_internal.h (private): the state of one running rewrite, shared by the engine's files, which
 * call each other one way only: rewrite_run.c (runs, estimate, scopes) -> rewrite.c (listing, writing,
 * batches, checkpoints) -> rewrite_tick.c (periodic work: rate, progress, metrics file) -> rewrite_budget.c
 * (budget decisions, probes, scrapes) -> rewrite_outcome.c (pure parts). */
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

typedef struct rk_rw_item {
	rk_rw_engine *engine;
	char ns[RK_STORE_NAME_MAX];
	char name[RK_STORE_NAME_MAX];
	char rv[64];
	char *body;     /* the PUT body */
	rk_buf path;    /* the object's path */
	int page_token; /* index into engine->tokens */
	int finished;
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

#define RK_RW_RATE_SLOTS 24 /* achieved-rate history: one slot per 250 ms, 6 s */

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
	/* pacing and budget */
	rk_throttle throttle;
	rk_budget *budget;
	rk_rw_budget_state state;
	int budget_on;                  /* a p99 or error budget is set */
	double server_p99_ms;           /* last /metrics figures (NaN = unknown) */
	rk_prom_apiserver metrics_prev; /* previous /metrics scrape, for the PUT latency histogram's delta */
	int have_metrics_prev;
	double last_scrape_ms;
	/* the batch */
	rk_rw_item *batch;
	size_t nbatch, next_submit, ndone, inflight;
	char **tokens; /* page tokens of the batch's items */
	size_t ntokens;
	rk_orphan_ref *orphans;
	size_t norphans;
	rk_failure_ref *failures;
	size_t nfailures;
	/* what earlier passes of the run left for this resource, and whether the batch is a retry of it */
	rk_rw_carried *carried;
	size_t ncarried;
	int retrying;
	/* resume bookkeeping */
	char saved_token[RK_STORE_TOKEN_MAX];
	char last_ns[RK_STORE_NAME_MAX], last_name[RK_STORE_NAME_MAX];   /* last checkpointed */
	char skip_ns[RK_STORE_NAME_MAX], skip_name[RK_STORE_NAME_MAX];   /* skip up to this key */
	char taken_ns[RK_STORE_NAME_MAX], taken_name[RK_STORE_NAME_MAX]; /* last taken from the list */
	int skipping, relists;
	int64_t skipped;
	/* totals */
	rk_counts res_counts; /* this resource (every scope), resumed totals included */
	rk_counts run_counts; /* every resource */
	int64_t total;        /* estimate, -1 unknown */
	/* ticks */
	double t0_ms, last_tick_ms, last_eval_ms, last_metrics_ms, last_probe_ms;
	int probe_inflight;
	double rate_t[RK_RW_RATE_SLOTS];
	int64_t rate_done[RK_RW_RATE_SLOTS];
	size_t rate_n;
	double achieved;
};

/* rewrite.c */
int rk_rw_stop_requested(const rk_rw_engine *e);
/* RK_STOPPED with what stopped the run (the budget's abort, or the stop flag). */
int rk_rw_stop_error(const rk_rw_engine *e, rk_err *err);
int rk_rw_engine_init(rk_rw_engine *e, rk_err *err);
void rk_rw_engine_free(rk_rw_engine *e);
/* The batch: add an object as listed (or read), PUT the batch until every item has an outcome, empty
 * it. */
int rk_rw_batch_add(rk_rw_engine *e, json_t *obj, const char *page_token, rk_err *err);
void rk_rw_run_batch(rk_rw_engine *e);
void rk_rw_batch_clear(rk_rw_engine *e);
/* Rewrites the current (resource, scope) from cp. */
int rk_rw_scope(rk_rw_engine *e, const rk_checkpoint *cp, rk_err *err);

/* rewrite_tick.c */
double rk_rw_now_ms(void);
/* Periodic work (at most every 250 ms): progress, budget evaluation and decisions, probes while paused,
 * the metrics file. */
void rk_rw_tick(rk_rw_engine *e);
/* One progress call; final = 1 on the last. */
void rk_rw_progress(rk_rw_engine *e, int final);
/* Writes the Prometheus textfile opts->metrics_file now. */
void rk_rw_write_metrics(rk_rw_engine *e);

/* rewrite_retry.c: loads the failures and orphans earlier passes recorded for the current resource;
 * tries each again once its scopes are done (RK_STOPPED when stopped). */
int rk_rw_carry_load(rk_rw_engine *e, rk_err *err);
int rk_rw_retry(rk_rw_engine *e, rk_err *err);

/* rewrite_budget.c: the budget from the options; the periodic decision, probes and scrapes. */
int rk_rw_budget_new(rk_rw_engine *e, rk_err *err);
void rk_rw_budget_tick(rk_rw_engine *e, double now_ms);

#endif
