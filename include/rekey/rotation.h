/* rotation.h: the rotation orchestrator: one resumable state machine that takes a cluster from "old
 * key writes" to "new key writes, every object re-encrypted, old key gone" with a canary, gates, a
 * cluster lock, maintenance windows and an audit trail (docs/design.md, "The job, end to end").
 *
 * Stages, each recorded as intent before it acts and done after, each idempotent:
 *   preflight -> stage-key -> read:<node>... (canary first) -> promote:<canary> (+ probe)
 *   -> promote:<node>... -> rewrite -> verify -> archive (every key the prune drops, kept 0600 in
 *   STATE/archive) -> prune:<node>... (canary first) -> done
 * Every config a node ever receives is derived deterministically from the base config (saved 0600 in
 * the state dir at the start) and the new key (backed up 0600 before any node sees it), so a resumed
 * run writes byte-identical files. */
#ifndef REKEY_ROTATION_H
#define REKEY_ROTATION_H

#include <signal.h>
#include <stdint.h>

#include "rekey/buf.h"
#include "rekey/err.h"
#include "rekey/plan.h"
#include "rekey/promtext.h"
#include "rekey/rewrite.h"
#include "rekey/store.h"
#include "rekey/verdict.h"

typedef struct rk_rotation_opts {
	const char *plan_path;
	const char *state_dir;        /* NULL = default ($XDG_STATE_HOME/rekeyctl) */
	int ignore_window;            /* recorded in the audit log */
	int insecure_skip_tls_verify; /* passed to the kubeconfig loader */
	const char *metrics_file;     /* Prometheus textfile of the run (rotate, resume); NULL = none */
	volatile sig_atomic_t *stop;  /* set by SIGINT/SIGTERM: stop at the next safe point (exit 3) */
	/* The rewrite stage's progress, about 4 times a second and once at the end (NULL = none): the
	 * library draws nothing itself, the caller renders it (rekeyctl: a bar or JSON lines). */
	void (*progress)(const rk_rewrite_progress *progress, void *ud);
	void *progress_ud;
	/* break-glass: why (required; recorded in the audit log with who and when), and the banner saying
	 * so, handed to the caller to print (NULL = none). */
	const char *reason;
	void (*banner)(const char *text, void *ud);
	void *banner_ud;
} rk_rotation_opts;

/* One apiserver over the preflight's budget trend window (docs/budget.md, "Preflight trend"). */
typedef struct rk_rotation_trend_node {
	const char *node;          /* the plan node's name (in the preview's plan) */
	unsigned scrapes;          /* of its /metrics */
	rk_prom_figures server;    /* its writes and reads over the window (NaN where none) */
	rk_verdict server_verdict; /* judged on its writes, or its reads when it made too few */
	unsigned probes, failed;   /* our probes through it, the ones that failed */
	double client_p99_ms;      /* of the probes answered (NaN when none) */
	rk_verdict client_verdict;
	unsigned breached; /* 1u << rk_signal for every budget it broke, either side */
} rk_rotation_trend_node;

/* A stored resource a selected rule covers (found by discovery). */
typedef struct rk_rotation_preview_resource {
	char name[520];    /* "secrets", "widgets.example.com" */
	char version[64];  /* the version it is stored at (and rewritten at) */
	long long objects; /* objects stored, -1 when unknown */
} rk_rotation_preview_resource;

/* One rule (resources[index]) of the config the nodes run. */
typedef struct rk_rotation_preview_rule {
	size_t index;
	char **entries; /* its `resources` entries ("secrets", "*.apps", "*.*") */
	size_t nentries;
	char write_key[256]; /* its first provider's key or provider name, "" when it has none */
	char provider[32];   /* that provider's type ("aescbc", "kms", "identity"), "" when none */
	int selected;        /* rotated by the plan (its `resources` names an entry of the rule) */
	/* a selected rule's stored resources (none for the others) and the known counts' sum */
	rk_rotation_preview_resource *resources;
	size_t nresources;
	long long objects;
} rk_rotation_preview_rule;

/* `rekeyctl plan`: what a rotation would do, found by preflight (read-only). */
typedef struct rk_rotation_preview {
	rk_plan *plan;        /* the plan as loaded (its nodes, canary, access, reload, gates, rewrite) */
	char config_hash[72]; /* "sha256:..." of the config every node runs */
	char write_key[512];  /* the selected rules' write key(s) now ("k1" or "k1,k2") */
	int window_open;      /* inside a maintenance window now (rotate refuses outside) */
	rk_rotation_preview_rule *rules; /* every rule of the config, in its order */
	size_t nrules;
	char discovery_error[1024]; /* why the stored resources could not be listed ("" = they were) */
	int unknown;                /* a count is unknown (or discovery failed): total is a lower bound */
	long long total;            /* the selected rules' known object counts' sum */
	double estimate_s;          /* total / plan->rewrite.qps; -1 when unthrottled */
	/* the budget trend over budget.preflightWindow (0 = off: no nodes) against trend_limits; over
	 * budget, rotate would refuse now (exit 3) */
	long trend_window_ms;
	rk_verdict_limits trend_limits;
	rk_rotation_trend_node *trend;
	size_t ntrend;
} rk_rotation_preview;

int rk_rotation_plan(const rk_rotation_opts *opts, rk_rotation_preview *out, rk_err *err);
void rk_rotation_preview_free(rk_rotation_preview *p);

/* `rekeyctl rotate` (resume = 0) and `rekeyctl resume` (resume = 1). Exit codes as the CLI: RK_OK done,
 * RK_STOPPED stopped safely (gate, window, budget, signal: resumable), RK_UNSAFE refused (lock held,
 * unsafe state), RK_BADINPUT bad plan/config, RK_FAIL failed. */
int rk_rotation_run(const rk_rotation_opts *opts, int resume, rk_err *err);

/* `rekeyctl break-glass`: writes the plan's pre-agreed emergency config (its breakGlass section) while
 * the KMS is down: a rotation whose target is that config, through the same stages, canary and gates
 * (the gates leave out /readyz's kms-providers and informer-sync checks), with no rewrite and no
 * prune (the kms provider stays to read what it still can). RK_BADINPUT without opts->reason or a
 * breakGlass section, before anything changes. An unfinished break-glass run of the cluster is
 * continued; an unfinished rotation refuses (RK_UNSAFE: abort it first). The way back is `rotate`
 * with the same plan. */
int rk_rotation_break_glass(const rk_rotation_opts *opts, rk_err *err);

/* `rekeyctl abort`: marks the unfinished run aborted (configs stay as they are: every stage boundary is
 * a safe state) and releases the cluster lock. */
int rk_rotation_abort(const rk_rotation_opts *opts, rk_err *err);

/* `rekeyctl rollback`: before promotion, removes the new key from every node; after promotion, makes the
 * old key the write key again (both kept); refused (RK_UNSAFE) once pruning started. */
int rk_rotation_rollback(const rk_rotation_opts *opts, rk_err *err);

/* ---- `rekeyctl status`: a run's progress from the state db ---- */
typedef struct rk_rotation_status {
	/* the run (rewrite.run: a rotation or a rewrite) and its rewrite progress */
	rk_rewrite_status rewrite;
	/* a rotation's stage records in the order first recorded (not the rewrite's internal ones); NULL for
	 * a rewrite run */
	rk_stage *stages;
	size_t nstages;
	long current; /* index of the stage it is at: the newest not done, else the newest; -1 = none */
} rk_rotation_status;

/* The newest run of cluster (or, cluster NULL, of plan_path's cluster) of any kind, or run_id when > 0,
 * from the state db in state_dir (NULL = the default); RK_BADINPUT "no run ..." when there is none. Free
 * with rk_rotation_status_free. */
int rk_rotation_status_read(const char *state_dir, const char *cluster, const char *plan_path, int64_t run_id,
                            rk_rotation_status *st, rk_err *err);
void rk_rotation_status_free(rk_rotation_status *st);

/* ---- the write key's age (`rekeyctl due`, the rotation's metrics) ---- */
typedef struct rk_key_age {
	char cluster[RK_STORE_NAME_MAX];
	char key[RK_STORE_NAME_MAX];     /* the write key of the plan's resources, "" when unknown */
	char source[RK_STORE_SHORT_MAX]; /* "history", "name" (the time in its name) or "unknown" */
	char created_at[RK_STORE_TIME_MAX];
	double created;                            /* seconds since the epoch, -1 when unknown */
	int64_t unfinished;                        /* the cluster's unfinished rotation run, 0 = none */
	char unfinished_state[RK_STORE_SHORT_MAX]; /* its state */
	char note[RK_STORE_DETAIL_MAX];            /* why the age is unknown */
} rk_key_age;

/* The plan's cluster's write key and when it was created: from the state db when a rotation of the
 * cluster finished there (its new key, created when the `generated` event was recorded), else from the
 * canary node's config (read through the plan's transport) and the creation time rekeyctl's key names
 * carry (`<provider>-yyyymmddThhmmssZ`). An age that cannot be known (no history, a node that cannot be
 * read, a name without a time) is source "unknown" with a note, not an error; RK_BADINPUT for a bad plan. */
int rk_rotation_key_age(const char *plan_path, const char *state_dir, rk_key_age *age, rk_err *err);

#endif
