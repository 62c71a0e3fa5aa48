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
} rk_rw_item;

#define RK_RW_RATE_SLOTS 24 /* achieved-rate history: one slot per 250 ms, 6 s */

struct rk_rw_engine {
	const rk_rewrite_opts *opts;
	rk_store *store;
	rk_kube *kube;
	const rk_rewrite_hooks *hooks;
	int64_t run_id;
	/* current resource and scope */
	rk_kube_resource res;
	char resource_key[RK_STORE_NAME_MAX]; /* "secrets", "deployments.apps" */
	char api_version[256];
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
	char **names;         /* the resources to rewrite, wildcards resolved */
	size_t nnames;
	char first_failure[RK_ERR_MSG_MAX / 2]; /* the current resource's first failed object and why */
	rk_buf failures;                        /* "resource: N ..., first ns/name: why; ..." */
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
int rk_rw_engine_init(rk_rw_engine *e, rk_err *err);
void rk_rw_engine_free(rk_rw_engine *e);
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

/* rewrite_budget.c: the budget from the options; the periodic decision, probes and scrapes. */
int rk_rw_budget_new(rk_rw_engine *e, rk_err *err);
void rk_rw_budget_tick(rk_rw_engine *e, double now_ms);

#endif
