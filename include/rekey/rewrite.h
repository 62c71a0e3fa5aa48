/* rewrite.h: the rewrite engine (storage migration): lists every object of the resources in scope page
 * by page, PUTs each one back unchanged with the resourceVersion it was listed with (so the apiserver
 * re-encrypts it with its current write key and never overwrites a newer write), many requests in flight,
 * throttled by a token bucket and a concurrency cap, in batches checkpointed to the state store, while a
 * latency/error budget slows, pauses or stops the run. `rekeyctl rewrite` calls rk_rewrite_cmd(), the
 * rotation orchestrator rk_rewrite_run(): the same engine with the same client settings (retries: 10
 * attempts within 120 s, so a rewrite rides out 429 storms and apiserver restarts) either way.
 *
 * Outcome of one object:
 *   rewritten  the PUT returned a new resourceVersion (the value was stored again, under the write key)
 *   current    the PUT returned the same resourceVersion (the apiserver found it already current)
 *   conflict   409: written by someone else since it was listed, so already under the write key
 *   gone       404 on the PUT and a GET confirms 404 (deleted since it was listed)
 *   orphan     404 on the PUT while a GET still returns it (e.g. its namespace is gone): recorded by name,
 *              it blocks pruning the old key
 *   failed     a non-retryable error, or the client's retries ran out
 *
 * Pipeline: objects are PUT in list order through a window of max(batch, 4 x concurrency) objects (the next
 * list page is fetched while the current one is written); an object leaves the window once it and every
 * object before it have an outcome (the finished prefix). Resume: each time the finished prefix has grown by
 * a batch the store gets, in one transaction, the token of the page holding the prefix's last object, that
 * object's namespace/name, and the outcome totals of the prefix, while later PUTs stay in flight. A resumed
 * run re-lists from that page and skips every object up to the saved one (etcd key order). No PUT starts more
 * than batch + window objects past the last saved checkpoint, so a kill -9 repeats at most batch + window
 * objects (rk_rewrite_repeat_bound). An expired token (410) goes on from the inconsistent token the Status
 * carries; without one the list is opened again from the start and objects up to the saved one are skipped
 * (logged, never silent). */
#ifndef REKEY_REWRITE_H
#define REKEY_REWRITE_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "rekey/budget.h"
#include "rekey/err.h"
#include "rekey/kube.h"
#include "rekey/kubeconfig.h"
#include "rekey/rewrite_settings.h"
#include "rekey/store.h"

typedef struct rk_rewrite_opts {
	const char *cluster; /* state db cluster name (required) */
	int64_t run_id;      /* > 0: continue this run (the orchestrator's); 0: create one, or resume */
	int resume;          /* run_id 0: continue the newest unfinished rewrite run of the cluster */
	/* "secrets", "deployments.apps", "deployments.v1.apps", or a config's wildcard entry: "*." (core
	 * group), "*.apps", "*.*", each replaced by the stored resources it covers
	 * (rk_kube_stored_resources); NULL/0 = secrets */
	const char *const *resources;
	size_t nresources;
	const char *const *namespaces; /* NULL/0 = all namespaces */
	size_t nnamespaces;
	rk_rewrite_settings settings; /* pace, batches and budget (rewrite_settings.h) */
	const char *metrics_file;     /* Prometheus textfile updated every few seconds; NULL = none */
	/* Apiservers to spread the PUTs over (each with its own share, health and budget), reached with the
	 * kubeconfig's credentials and tls-server-name; NULL/0 = the kubeconfig's server. Any number, each
	 * once. */
	const char *const *endpoints;
	const char *const *endpoint_names; /* how the log and stored decisions name them; NULL = their URLs */
	size_t nendpoints;
} rk_rewrite_opts;

/* The window of objects in flight or finished behind an unfinished one: max(batch size, 4 x concurrency),
 * so one slow PUT does not stall the others while a batch goes by. */
size_t rk_rewrite_window(const rk_rewrite_settings *settings);
/* Objects a kill -9 can make a resumed run PUT again: batch size + window. */
size_t rk_rewrite_repeat_bound(const rk_rewrite_settings *settings);

/* Zeroes opts and fills the settings with `rekeyctl rewrite`'s defaults (rk_rewrite_settings_init). */
void rk_rewrite_opts_init(rk_rewrite_opts *opts);
/* RK_BADINPUT with a one-line message for a missing cluster, bad names or settings out of range. */
int rk_rewrite_opts_check(const rk_rewrite_opts *opts, rk_err *err);

typedef enum rk_rw_budget_state {
	RK_RW_OK = 0, /* running at the configured rate */
	RK_RW_SLOWED, /* running below it after a slowdown */
	RK_RW_PAUSED, /* holding new writes */
	RK_RW_ABORTED /* stopped by the budget */
} rk_rw_budget_state;
const char *rk_rw_budget_state_name(rk_rw_budget_state state); /* "ok", "slowed", "paused", "aborted" */

typedef struct rk_rewrite_progress {
	int64_t run_id;
	const char *resource; /* current resource and namespace scope ("" = all) */
	const char *scope;
	rk_counts counts;                   /* this run, every resource, resumed totals included */
	int64_t done;                       /* sum of counts */
	int64_t total;                      /* estimate of every object in scope (-1 when unknown) */
	double rate;                        /* objects/s achieved over the last few seconds */
	double qps_limit;                   /* current token rate (0 = unthrottled) */
	double eta_s;                       /* -1 when unknown */
	double p50_ms, p99_ms, error_ratio; /* budget window */
	rk_rw_budget_state budget;
	double elapsed_s;
	int final; /* 1 on the last call */
} rk_rewrite_progress;

typedef struct rk_rewrite_hooks {
	/* Called about 4 times a second and after every batch; may be NULL. */
	void (*progress)(const rk_rewrite_progress *progress, void *ud);
	void *ud;
	/* Non-zero: stop taking new objects, finish the ones in flight, checkpoint, return RK_STOPPED. */
	volatile sig_atomic_t *stop;
} rk_rewrite_hooks;

/* One endpoint's share of the PUTs. */
typedef struct rk_rewrite_endpoint_stats {
	char url[256];      /* "" = the kubeconfig's server */
	uint64_t attempts;  /* PUT attempts answered there (retries included) */
	uint64_t errors;    /* of which failed: no answer, 429 or 5xx */
	double latency_ms;  /* sum of their latencies */
	uint64_t decisions; /* budget decisions taken on it (slowdown, pause, ...) */
	double min_health;  /* lowest health it had (1 = never failed) */
} rk_rewrite_endpoint_stats;

/* Where the time went (instrumented, not estimated). The loop waits for one thing at a time: */
typedef enum rk_rewrite_wait {
	RK_REWRITE_WAIT_LIST = 0, /* nothing to submit while the next list page was on its way */
	RK_REWRITE_WAIT_INFLIGHT, /* the in-flight cap was full: PUT round trips */
	RK_REWRITE_WAIT_THROTTLE, /* the rate, a budget slowdown or pause */
	RK_REWRITE_WAIT_WINDOW,   /* the window was full behind an unfinished object */
	RK_REWRITE_WAIT_DRAIN,    /* the list was done (or stopping): the last PUTs */
	RK_REWRITE_WAIT_N
} rk_rewrite_wait;
const char *rk_rewrite_wait_name(rk_rewrite_wait w); /* "list", "inflight", ... */

typedef struct rk_rewrite_timing {
	double wall_s;                    /* the engine, discovery and estimate included */
	double wait_s[RK_REWRITE_WAIT_N]; /* time spent waiting, by what for */
	double checkpoint_s;              /* checkpoint transactions (SQLite commit and fsync) */
	uint64_t checkpoints;
	double put_latency_s; /* sum of PUT attempt latencies (client-side round trips) */
	uint64_t put_attempts;
	double cpu_user_s, cpu_sys_s; /* the process's CPU (getrusage) */
	size_t window, repeat_bound;
} rk_rewrite_timing;

typedef struct rk_rewrite_result {
	int64_t run_id;
	rk_counts counts;
	int64_t orphans; /* recorded for the run */
	int stopped;     /* 1: stopped by the stop flag, 2: by the budget (abort), 3: the KMS failed a write
	                    or the list (kms_error says how); nothing was counted failed for it */
	char kms_error[512];
	/* Each resource with objects that could not be written back (an admission webhook or policy refusing,
	 * a stored object that no longer validates): "configmaps: 2 object(s) could not be written back,
	 * first ns/name: <the apiserver's answer>; ..."; "" when none failed in this run. */
	char failures[RK_ERR_MSG_MAX];
	rk_rewrite_timing timing;
	rk_rewrite_endpoint_stats *endpoints; /* one per endpoint, malloc'ed: rk_rewrite_result_free */
	size_t nendpoints;
} rk_rewrite_result;

/* Frees what a result holds (its endpoints); the result is zeroed. */
void rk_rewrite_result_free(rk_rewrite_result *result);

/* Runs (or resumes) a rewrite through its own API client for kubeconfig (created with the engine's retry
 * policy). First, through a client of its own, wildcard entries are resolved by discovery and
 * rk_rewrite_check_access asks about every resulting resource (RK_UNSAFE, nothing recorded or written,
 * when a verb is denied). Returns RK_OK when every object in scope ended rewritten, current, conflict or
 * gone; RK_FAIL when some failed or an orphan was seen (the run is complete but the old key must not be
 * pruned); RK_STOPPED when stopped by the flag or the budget, or paused because the apiservers answered that
 * their KMS v2 plugin failed them (result->stopped 3; resumable, the checkpoint before that object);
 * RK_BADINPUT for bad options, an unknown resource, or --resume with nothing to resume; RK_UNSAFE when
 * another process is rewriting the same cluster with the same state dir (an flock next to the state db). */
int rk_rewrite_run(const rk_rewrite_opts *opts, rk_store *store, const rk_kube_config *kubeconfig,
                   const rk_rewrite_hooks *hooks, rk_rewrite_result *result, rk_err *err);

/* Before any write: may the client list, get and update each resource in each namespace (nns 0: all)?
 * RK_UNSAFE naming the first verb and resource denied; RK_OK too when the apiserver cannot say (logged). */
int rk_rewrite_check_access(rk_kube *k, const char *const *resources, size_t nres,
                            const char *const *namespaces, size_t nns, rk_err *err);

/* `rekeyctl rewrite`: checks opts (bad values: RK_BADINPUT before anything is opened), loads the
 * kubeconfig, opens the state db in state_dir (NULL = the default) and runs rk_rewrite_run. opts->cluster
 * NULL = the kubeconfig's context name, else its cluster's, else "in-cluster". */
int rk_rewrite_cmd(const rk_rewrite_opts *opts, const rk_kubeconfig_opts *kubeconfig, const char *state_dir,
                   const rk_rewrite_hooks *hooks, rk_rewrite_result *result, rk_err *err);

/* ---- status from the state db (what `rekeyctl status` prints) ---- */

/* How many budget decisions of one kind one signal drove ("slowdown" by "server-p99": 2). */
typedef struct rk_budget_signal_count {
	char decision[RK_STORE_SHORT_MAX];
	char signal[RK_STORE_SHORT_MAX]; /* "" for decisions no breach drove (recover, resume) */
	int64_t count;
} rk_budget_signal_count;
#define RK_REWRITE_SIGNALS_MAX 24

typedef struct rk_rewrite_status {
	rk_run run;
	rk_counts counts;    /* every resource */
	int64_t done, total; /* total -1 when unknown */
	int64_t orphans;
	int scopes, scopes_done;          /* (resource, namespace scope) pairs checkpointed, and finished */
	char resource[RK_STORE_NAME_MAX]; /* most recently checkpointed */
	char scope[RK_STORE_NAME_MAX];
	char last_namespace[RK_STORE_NAME_MAX];
	char last_name[RK_STORE_NAME_MAX];
	char updated_at[RK_STORE_TIME_MAX];
	char started_at[RK_STORE_TIME_MAX]; /* the rewrite's start: the run's, or its rotation stage's */
	double rate, eta_s;                 /* rate from started_at to the last checkpoint; -1 when unknown */
	char budget[RK_STORE_SHORT_MAX];    /* last budget decision ("" = none) */
	int64_t budget_decisions;
	rk_budget_signal_count
	    signals[RK_REWRITE_SIGNALS_MAX]; /* the decisions by the signal that drove them */
	size_t nsignals;
} rk_rewrite_status;

/* The newest run of cluster that rewrites, a `rewrite` or a rotation (*found 0 when none), or run_id when
 * > 0. */
int rk_rewrite_status_get(rk_store *store, const char *cluster, int64_t run_id, rk_rewrite_status *st,
                          int *found, rk_err *err);
/* `rekeyctl status`: rk_rewrite_status_get on the state db in state_dir (NULL = the default); RK_BADINPUT
 * "no rewrite run for cluster C in PATH" when there is none. */
int rk_rewrite_status_read(const char *state_dir, const char *cluster, int64_t run_id, rk_rewrite_status *st,
                           rk_err *err);

/* The newest run of cluster of any kind (a rotation or a rewrite), or run_id when > 0, into st; *found 0
 * when none. */
int rk_rewrite_status_latest(rk_store *store, const char *cluster, int64_t run_id, rk_rewrite_status *st,
                             int *found, rk_err *err);

#endif
