/* store.h: the SQLite state store: where it lives (state dir 0700, state.db 0600, WAL), the embedded
 * forward-only migrations, and the records later work keeps there: clusters, runs, stage intent/done
 * records, rewrite checkpoints with outcome counts and orphans, budget decisions, key lifecycle events
 * (fingerprints only, never key bytes), probe objects created in the cluster, and audit events.
 *
 * Every function returns an rk_code (RK_OK on success) and fills err (never NULL) on failure. Strings in the
 * record structs are copies (fixed-size arrays, no freeing); inputs longer than those arrays are refused
 * with RK_BADINPUT so a read never truncates. Times are UTC "YYYY-MM-DDTHH:MM:SS.sssZ" set by the store. */
#ifndef REKEY_STORE_H
#define REKEY_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "rekey/err.h"
#include "rekey/migrations.h"

#define RK_STORE_DB_NAME "state.db"
#define RK_STORE_BUSY_TIMEOUT_MS 5000

#define RK_STORE_NAME_MAX 256    /* cluster, key, resource, namespace and object names (+ NUL) */
#define RK_STORE_SHORT_MAX 64    /* kinds, states, events, outcomes (+ NUL) */
#define RK_STORE_TOKEN_MAX 4096  /* continue tokens (+ NUL) */
#define RK_STORE_DETAIL_MAX 1024 /* free text (+ NUL) */
#define RK_STORE_PATH_MAX 4096
#define RK_STORE_TIME_MAX 32

/* A store time ("2026-01-02T03:04:05.678Z") as seconds since the epoch; -1 when it does not parse. */
double rk_store_time_parse(const char *text);

typedef struct rk_store rk_store;

/* The state directory: `override` when non-empty, else $XDG_STATE_HOME/rekeyctl, else
 * $HOME/.local/state/rekeyctl. RK_BADINPUT when none can be formed or it does not fit. */
int rk_store_state_dir(const char *override, char *out, size_t cap, rk_err *err);

/* Opens (creating) DIR/state.db with the migrations built into the binary. DIR is created 0700;
 * an existing DIR owned by someone else is refused (RK_UNSAFE); one open to group/others is tightened
 * to 0700 with a warning; state.db is created 0600 (tightened likewise). WAL, busy timeout 5 s,
 * foreign keys on. Missing migrations are applied in order, one transaction each, and recorded in
 * schema_migrations. A db whose schema is newer than the binary's is refused with RK_UNSAFE (running
 * older code over state it does not understand could lose resume data; upgrading rekeyctl is the fix,
 * not changing the input) and left untouched. `state_dir` NULL or "" = the default dir. */
int rk_store_open(const char *state_dir, rk_store **out, rk_err *err);
/* The same with an explicit migration list (versions strictly increasing), for tests. */
int rk_store_open_with(const char *state_dir, const struct rk_migration *migrations, size_t count,
                       rk_store **out, rk_err *err);
void rk_store_close(rk_store *store); /* NULL is fine */

unsigned rk_store_schema_version(const rk_store *store); /* highest applied migration */
const char *rk_store_path(const rk_store *store);        /* path of state.db */

/* ---- clusters ---- */
int rk_store_cluster_upsert(rk_store *store, const char *name, int64_t *id, rk_err *err);
/* *id = 0 when no cluster has that name. */
int rk_store_cluster_get(rk_store *store, const char *name, int64_t *id, rk_err *err);

/* ---- runs: one rotation or rewrite ---- */
typedef struct rk_run_spec {
	const char *cluster;   /* created when missing */
	const char *kind;      /* "rotate", "rewrite", "rollback", "verify" */
	const char *plan_hash; /* may be NULL */
	const char *provider;  /* may be NULL */
	const char *old_key;   /* may be NULL */
	const char *new_key;   /* may be NULL */
} rk_run_spec;

typedef struct rk_run {
	int64_t id;
	char cluster[RK_STORE_NAME_MAX];
	char kind[RK_STORE_SHORT_MAX];
	char plan_hash[RK_STORE_SHORT_MAX + 16];
	char provider[RK_STORE_SHORT_MAX];
	char old_key[RK_STORE_NAME_MAX];
	char new_key[RK_STORE_NAME_MAX];
	char state[RK_STORE_SHORT_MAX]; /* "running", "stopped", "done", "failed", "aborted" */
	char started_at[RK_STORE_TIME_MAX];
	char finished_at[RK_STORE_TIME_MAX]; /* "" while running */
	int exit_code;                       /* -1 while running */
} rk_run;

/* New run in state "running". */
int rk_store_run_create(rk_store *store, const rk_run_spec *spec, int64_t *run_id, rk_err *err);
/* *found = 0 when there is no such run. */
int rk_store_run_get(rk_store *store, int64_t run_id, rk_run *run, int *found, rk_err *err);
/* The newest run of a cluster (kind NULL = any kind). */
int rk_store_run_latest(rk_store *store, const char *cluster, const char *kind, rk_run *run, int *found,
                        rk_err *err);
/* Sets the state; any state but "running" sets finished_at and exit_code, "running" (resume) clears
 * them. RK_BADINPUT for an unknown state or run. */
int rk_store_run_set_state(rk_store *store, int64_t run_id, const char *state, int exit_code, rk_err *err);
/* Runs newest first (cluster NULL = every cluster; limit 0 = all); a non-zero return from cb stops the
 * walk and is returned. */
typedef int (*rk_run_cb)(const rk_run *run, void *ud);
int rk_store_run_list(rk_store *store, const char *cluster, unsigned limit, rk_run_cb cb, void *ud,
                      rk_err *err);

/* ---- stages: intent before acting, done/failed after; idempotent upserts ---- */
typedef enum rk_stage_status {
	RK_STAGE_NONE = 0, /* no record */
	RK_STAGE_INTENT,
	RK_STAGE_DONE,
	RK_STAGE_FAILED
} rk_stage_status;

typedef struct rk_stage {
	char stage[RK_STORE_SHORT_MAX];
	char node[RK_STORE_NAME_MAX]; /* "" for cluster-wide stages */
	rk_stage_status status;
	char detail[RK_STORE_DETAIL_MAX];
	char started_at[RK_STORE_TIME_MAX];
	char finished_at[RK_STORE_TIME_MAX];
} rk_stage;

/* node NULL = "". intent leaves a done stage done (repeating a finished step is a no-op) and turns a
 * failed one back into intent (retry); done and failed always record. detail may be NULL. */
int rk_store_stage_intent(rk_store *store, int64_t run_id, const char *stage, const char *node,
                          const char *detail, rk_err *err);
int rk_store_stage_done(rk_store *store, int64_t run_id, const char *stage, const char *node,
                        const char *detail, rk_err *err);
int rk_store_stage_failed(rk_store *store, int64_t run_id, const char *stage, const char *node,
                          const char *detail, rk_err *err);
int rk_store_stage_status(rk_store *store, int64_t run_id, const char *stage, const char *node,
                          rk_stage_status *status, rk_err *err);
const char *rk_stage_status_name(rk_stage_status status); /* "none", "intent", "done", "failed" */
/* Calls cb for every stage of a run in the order they were first recorded; a non-zero return from cb
 * stops the walk and is returned. */
typedef int (*rk_stage_cb)(const rk_stage *stage, void *ud);
int rk_store_stage_list(rk_store *store, int64_t run_id, rk_stage_cb cb, void *ud, rk_err *err);

/* ---- rewrite checkpoints ---- */
typedef struct rk_counts {
	int64_t rewritten, current, conflict, gone, orphan, failed;
} rk_counts;

typedef struct rk_checkpoint {
	char resource[RK_STORE_NAME_MAX]; /* "secrets", "deployments.apps" */
	char scope[RK_STORE_NAME_MAX];    /* namespace scope: "" = all namespaces, else one namespace */
	char continue_token[RK_STORE_TOKEN_MAX];
	char last_namespace[RK_STORE_NAME_MAX]; /* of the last object of the last completed batch */
	char last_name[RK_STORE_NAME_MAX];
	int done;         /* 1 when the resource/scope is finished */
	rk_counts counts; /* running totals for run + resource (all scopes) */
	char updated_at[RK_STORE_TIME_MAX];
} rk_checkpoint;

typedef struct rk_orphan_ref {
	const char *namespace_; /* "" for cluster-scoped */
	const char *name;
} rk_orphan_ref;

/* In ONE transaction: the checkpoint row of (run, resource, scope), the outcome totals of
 * (run, resource), and the orphans seen in the batch (recorded once each). Either all or nothing. */
int rk_store_checkpoint_save(rk_store *store, int64_t run_id, const rk_checkpoint *cp,
                             const rk_orphan_ref *orphans, size_t norphans, rk_err *err);

typedef struct rk_failure_ref {
	const char *namespace_; /* "" for cluster-scoped */
	const char *name;
	const char *reason; /* why it failed; may be NULL */
} rk_failure_ref;

/* What a batch records besides its counts: objects that failed (recorded once each, the reason
 * updated) and orphans seen; earlier failures and orphans a retry settled (deleted). */
typedef struct rk_batch_rows {
	const rk_failure_ref *failures;
	size_t nfailures;
	const rk_orphan_ref *orphans;
	size_t norphans;
	const rk_orphan_ref *cleared_failures;
	size_t ncleared_failures;
	const rk_orphan_ref *cleared_orphans;
	size_t ncleared_orphans;
} rk_batch_rows;

/* rk_store_checkpoint_save with every kind of row (rows may be NULL). cp NULL: no checkpoint row, only
 * the totals `counts` of (run, resource) and the rows (a retry of earlier failures and orphans). */
int rk_store_batch_save(rk_store *store, int64_t run_id, const rk_checkpoint *cp, const char *resource,
                        const rk_counts *counts, const rk_batch_rows *rows, rk_err *err);

/* Failed objects recorded for a run (every resource). */
int rk_store_failure_count(rk_store *store, int64_t run_id, int64_t *count, rk_err *err);
typedef struct rk_failure {
	char resource[RK_STORE_NAME_MAX];
	char namespace_[RK_STORE_NAME_MAX];
	char name[RK_STORE_NAME_MAX];
	char reason[RK_STORE_DETAIL_MAX];
	char seen_at[RK_STORE_TIME_MAX];
} rk_failure;
/* Failed objects of a run in the order they were first seen; resource NULL = every resource. A non-zero
 * return from cb stops the walk and is returned. */
typedef int (*rk_failure_cb)(const rk_failure *failure, void *ud);
int rk_store_failure_list(rk_store *store, int64_t run_id, const char *resource, rk_failure_cb cb, void *ud,
                          rk_err *err);
/* *found = 0 (and cp zeroed, resource/scope filled) when nothing was saved yet. */
int rk_store_checkpoint_load(rk_store *store, int64_t run_id, const char *resource, const char *scope,
                             rk_checkpoint *cp, int *found, rk_err *err);
/* Orphans recorded for a run (every resource). */
int rk_store_orphan_count(rk_store *store, int64_t run_id, int64_t *count, rk_err *err);
typedef struct rk_orphan {
	char resource[RK_STORE_NAME_MAX];
	char namespace_[RK_STORE_NAME_MAX];
	char name[RK_STORE_NAME_MAX];
	char seen_at[RK_STORE_TIME_MAX];
} rk_orphan;
/* Orphans of a run in the order they were seen; a non-zero return from cb stops the walk and is returned. */
typedef int (*rk_orphan_cb)(const rk_orphan *orphan, void *ud);
int rk_store_orphan_list(rk_store *store, int64_t run_id, rk_orphan_cb cb, void *ud, rk_err *err);
/* Outcome totals of a run summed over its resources (zero when nothing was saved). */
int rk_store_counts_total(rk_store *store, int64_t run_id, rk_counts *counts, rk_err *err);

/* ---- budget decisions ---- */
typedef struct rk_budget_record {
	const char *decision; /* "slowdown", "recover", "pause", "resume", "abort" */
	double p50_ms, p99_ms, error_ratio, rate_before, rate_after;
	const char *reason; /* printable numbers that caused it; may be NULL */
	const char *signal; /* the budget signal that drove it (rk_signal_name, verdict.h); NULL = none */
} rk_budget_record;
int rk_store_budget_insert(rk_store *store, int64_t run_id, const rk_budget_record *rec, rk_err *err);
int rk_store_budget_count(rk_store *store, int64_t run_id, int64_t *count, rk_err *err);
/* How many decisions of each (decision, signal) pair a run took, in the order each pair first came
 * (signal "" for those no breach drove). cb returns non-zero to stop. */
typedef int (*rk_budget_signal_cb)(const char *decision, const char *signal, int64_t count, void *ud);
int rk_store_budget_signals(rk_store *store, int64_t run_id, rk_budget_signal_cb cb, void *ud, rk_err *err);

/* ---- key lifecycle events: fingerprints only ---- */
#define RK_STORE_KEY_ID_MAX 1025 /* a KMS v2 key_id is at most 1024 bytes */
typedef struct rk_key_event {
	char cluster[RK_STORE_NAME_MAX];
	char key_name[RK_STORE_NAME_MAX];
	char provider[RK_STORE_SHORT_MAX];
	char
	    fingerprint[17]; /* 16 lowercase hex chars (rk_key_fingerprint); the schema allows nothing else */
	char event[RK_STORE_SHORT_MAX]; /* "generated", "backed-up", "staged", "promoted", "pruned", ... */
	char backup_path[RK_STORE_PATH_MAX];
	char at[RK_STORE_TIME_MAX];
	/* provider "kms" (migration 0007): fingerprint is "" (no local key) and key_id the KMS key_id when
	 * it was known, "" otherwise; always "" for other providers */
	char key_id[RK_STORE_KEY_ID_MAX];
} rk_key_event;
/* backup_path may be NULL. A fingerprint that is not 16 lowercase hex chars is refused (RK_BADINPUT). */
int rk_store_key_event_add(rk_store *store, const char *cluster, const char *key_name, const char *provider,
                           const char *fingerprint, const char *event, const char *backup_path, rk_err *err);
/* A kms provider's event (provider "kms", no fingerprint): its name in the configs and the KMS key_id
 * when known (NULL = unknown; 1..1024 bytes: the KMS's name of a KEK, never key material). */
int rk_store_kms_key_event_add(rk_store *store, const char *cluster, const char *provider_name,
                               const char *key_id, const char *event, rk_err *err);
typedef int (*rk_key_event_cb)(const rk_key_event *ev, void *ud);
/* Oldest first; cluster NULL = every cluster. */
int rk_store_key_event_list(rk_store *store, const char *cluster, rk_key_event_cb cb, void *ud, rk_err *err);

/* ---- probes: objects a rotation creates in the cluster to test it ---- */
/* Recorded before the object is created, marked deleted once the apiserver confirmed the deletion (or
 * said 404): a kill -9 in between leaves a row rk_store_probe_left returns. Names are unique. */
int rk_store_probe_record(rk_store *store, int64_t run_id, const char *namespace_, const char *name,
                          rk_err *err);
int rk_store_probe_deleted(rk_store *store, const char *namespace_, const char *name, rk_err *err);
typedef struct rk_probe {
	int64_t run_id;
	char namespace_[RK_STORE_NAME_MAX];
	char name[RK_STORE_NAME_MAX];
	char recorded_at[RK_STORE_TIME_MAX];
} rk_probe;
/* Probes of cluster's runs not marked deleted, oldest first; a non-zero return from cb stops the walk
 * and is returned. */
typedef int (*rk_probe_cb)(const rk_probe *probe, void *ud);
int rk_store_probe_left(rk_store *store, const char *cluster, rk_probe_cb cb, void *ud, rk_err *err);

/* ---- kms: the key_id a KEK rotation targets (migration 0006) ---- */
/* Records the run's target key_id once (a second call keeps the first); source "plan" (kms.keyID) or
 * "plugin-status" (the plugin's Status when the run started). */
int rk_store_kms_target_set(rk_store *store, int64_t run_id, const char *provider, const char *key_id,
                            const char *source, rk_err *err);
/* *found = 0 (key_id "") when the run has none. */
int rk_store_kms_target_get(rk_store *store, int64_t run_id, char key_id[RK_STORE_KEY_ID_MAX], int *found,
                            rk_err *err);

/* ---- audit events: who did what, when ---- */
typedef struct rk_audit_event {
	char at[RK_STORE_TIME_MAX];
	char user[RK_STORE_SHORT_MAX]; /* from getpwuid(geteuid()) */
	char host[RK_STORE_NAME_MAX];  /* from gethostname */
	char cluster[RK_STORE_NAME_MAX];
	int64_t run_id; /* 0 = none */
	char action[RK_STORE_SHORT_MAX];
	char outcome[RK_STORE_SHORT_MAX];
	char detail[RK_STORE_DETAIL_MAX];
} rk_audit_event;
/* cluster, detail may be NULL; run_id 0 = none. */
int rk_store_audit_add(rk_store *store, const char *cluster, int64_t run_id, const char *action,
                       const char *outcome, const char *detail, rk_err *err);
typedef int (*rk_audit_cb)(const rk_audit_event *ev, void *ud);
/* Oldest first; cluster NULL = all; limit 0 = no limit (the newest `limit` events otherwise). */
int rk_store_audit_list(rk_store *store, const char *cluster, unsigned limit, rk_audit_cb cb, void *ud,
                        rk_err *err);
/* `rekeyctl history`: every key event, then every audit event (oldest first; cluster NULL = all) of the
 * state db in state_dir (NULL = the default). */
int rk_store_history(const char *state_dir, const char *cluster, rk_key_event_cb on_key, rk_audit_cb on_audit,
                     void *ud, rk_err *err);

/* ---- rewrite progress for `rekeyctl status` (store_rewrite_list.c) ---- */
/* Calls cb for every checkpoint of a run, least recently updated first (cp->counts = the totals of
 * (run, resource)); a non-zero return from cb stops the walk and is returned. */
typedef int (*rk_checkpoint_cb)(const rk_checkpoint *cp, void *ud);
int rk_store_checkpoint_list(rk_store *store, int64_t run_id, rk_checkpoint_cb cb, void *ud, rk_err *err);
/* The newest budget decision of a run into decision (cap bytes); *found 0 when none. */
int rk_store_budget_last(rk_store *store, int64_t run_id, char *decision, size_t cap, int *found,
                         rk_err *err);

#endif
