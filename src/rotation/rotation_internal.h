/* rotation_internal.h (private): pieces of the rotation orchestrator shared by its files (not librekey's
 * API). */
#ifndef REKEY_ROTATION_INTERNAL_H
#define REKEY_ROTATION_INTERNAL_H

#include <pthread.h>
#include <signal.h>
#include <time.h>

#include "rekey/buf.h"
#include "rekey/codec.h"
#include "rekey/encconfig.h"
#include "rekey/kube.h"
#include "rekey/plan.h"
#include "rekey/rotation.h"
#include "rekey/store.h"

/* ---- what a rotation changes (rotation_scope.c) ---- */

/* A write key of the selected rules and the entries of the rules it writes (the prune drops it there). */
typedef struct rot_old_key {
	char *name; /* key or kms provider name, "identity" for a rule not encrypted yet */
	char **entries;
	size_t nentries;
} rot_old_key;

typedef struct rot_scope {
	size_t nrules;
	unsigned char *selected; /* per rule of the base config: selected by the plan's `resources` */
	char **entries;          /* every entry of every selected rule: the scope of each edit */
	size_t nentries;
	rot_old_key *old; /* the distinct write keys of the selected rules */
	size_t nold;
} rot_scope;

/* Selects the rules the plan names (rk_encconfig_select_rules; errors name the plan file and line). */
int rot_scope_build(const rk_encconfig *cfg, const rk_plan *plan, rot_scope *out, rk_err *err);
void rot_scope_free(rot_scope *s);
/* "k1" or "k1,k2": the old write keys (run record, messages). */
void rot_scope_old_names(const rot_scope *s, char *out, size_t cap);

/* The stored resources the selected rules cover, each with the index of its rule. */
typedef struct rot_resources {
	rk_kube_resource *items;
	int *rule;
	size_t n;
} rot_resources;
int rot_scope_resources(const rot_scope *s, const rk_encconfig *cfg, rk_kube *kube, rot_resources *out,
                        rk_err *err);
void rot_resources_free(rot_resources *r);
/* Those resources as names the rewrite engine resolves exactly ("secrets", "widgets.v1.example.com");
 * free with rot_names_free. */
int rot_scope_names(const rot_scope *s, const rk_encconfig *cfg, rk_kube *kube, char ***names, size_t *n,
                    rk_err *err);
void rot_names_free(char ***names, size_t *n);

/* ---- the configs (rotation_configs.c) ---- */

/* The four configs of a rotation, derived from the base config and the new key. */
enum { ROT_CFG_BASE = 0, ROT_CFG_READ, ROT_CFG_WRITE, ROT_CFG_PRUNED, ROT_CFG_COUNT };

typedef struct rot_configs {
	rk_buf bytes[ROT_CFG_COUNT]; /* key material: wiped on free */
	char hash[ROT_CFG_COUNT][72];
	rot_scope scope;   /* the rules the plan selects in the base config */
	char old_key[512]; /* the write key(s) of the selected rules in the base config ("k1,k2") */
	char new_key[256]; /* the key being introduced ("identity" when decrypting) */
} rot_configs;

/* Loads and validates the base config and selects the plan's rules in it (the scope). */
int rot_base_scope(const char *base, size_t len, const rk_plan *plan, rk_encconfig **cfg, rot_scope *scope,
                   rk_err *err);
/* Refuses a selected rule that already writes with new_key (RK_BADINPUT naming it; break_glass and to_kms
 * add what to do instead). */
int rot_scope_check_not_done(const rot_scope *s, const char *new_key, int break_glass, int to_kms,
                             rk_err *err);
/* Derives read/write/pruned configs: each selected rule gets the new key (read), then writes with it,
 * then drops its own old write key; every other rule keeps its bytes (rk_encconfig_emit_over). new_key
 * NULL = decrypt (identity becomes the write provider), or, for provider kms, the plan's kms provider is
 * added to the selected rules (unless listed already), promoted, and their old write keys pruned (with
 * the breakGlass identity read fallback). break_glass: new_key is the plan's emergency aescbc key, added
 * to the selected rules (identity last in the rules of breakGlass.identityRead) and promoted; pruned =
 * write. */
int rot_configs_derive(const char *base, size_t len, const rk_plan *plan, const rk_key *new_key,
                       int break_glass, rot_configs *out, rk_err *err);
void rot_configs_free(rot_configs *c);

/* The running rotation. */
typedef struct rot_ctx {
	const rk_rotation_opts *opts;
	rk_plan *plan;
	rk_store *store;
	rk_kube_config *kcfg;
	rk_kube *kube;
	char state_dir[4096];
	int64_t run_id;
	rot_configs cfgs;
	char holder[256]; /* lock holder identity: user@host/pid */
	/* lease renewal thread */
	pthread_t lease_thread;
	int lease_running;
	volatile int lease_stop;
	volatile int lease_lost;
	volatile sig_atomic_t rewrite_stop; /* signal or maintenance window end during the rewrite */
	time_t window_end;                  /* end of the window the run started in; -1 = none */
	pthread_mutex_t lease_mu;
	pthread_cond_t lease_cv;
	int64_t metrics_written_ns;           /* rot_metrics_write's throttle (monotonic) */
	char kek_key_id[RK_STORE_KEY_ID_MAX]; /* a KEK rotation's target key_id ("" before it is known) */
	int break_glass; /* a break-glass run: gates leave out /readyz's kms-providers check */
} rot_ctx;

/* ---- gates (rotation_gate.c) ---- */
double rot_now_s(void); /* monotonic seconds */
void rot_sleep_ms(long ms);
/* Waits (up to the plan's readyTimeout) until node answers /readyz and runs the config with `hash`,
 * then soaks: a light probe load must hold the budget for the soak time. RK_STOPPED on failure. */
int rot_gate_node(rot_ctx *ctx, const rk_plan_node *node, const char *hash, rk_err *err);
/* The config hash a node's apiserver reports it runs (last_config_info, else the mirror pod's
 * rekeyctl.io/config-hash annotation when Ready), "" when unknown. */
int rot_node_config_hash(rot_ctx *ctx, const rk_plan_node *node, char *out, size_t cap, rk_err *err);
/* Writes a probe secret through the canary and reads it back through every other apiserver. Its name
 * is recorded in the state db before it is created, and marked deleted after. */
int rot_probe_cross_read(rot_ctx *ctx, const rk_plan_node *canary, rk_err *err);
/* Writes a probe secret through node's apiserver and classifies the value the plan's etcd stores for it
 * (recorded before it is created, deleted after): which key (and kms v2 keyID) that apiserver writes
 * with now. */
int rot_probe_stored_value(rot_ctx *ctx, const rk_plan_node *node, rk_value_info *info, rk_err *err);
/* Deletes every probe secret of the cluster's runs still recorded as not deleted (404 counts as
 * deleted; other failures are warnings and keep the record for next time). */
int rot_probe_cleanup(rot_ctx *ctx, rk_err *err);

/* ---- KMS (rotation_kms.c) ---- */
/* The rewrite stopped on a KMS failure (why): waits up to kms.outageTimeout for every apiserver's
 * /readyz/kms-providers and the plugin's Status (where its socket is local) to be healthy. RK_OK when
 * they are (the rewrite goes on), RK_STOPPED when they stay unhealthy or a signal came; audited. */
int rot_kms_wait_healthy(rot_ctx *ctx, const char *why, rk_err *err);
/* KEK rotation (plan kms.kek: true): */
/* The resources in scope must already be written by the plan's kms provider (RK_BADINPUT). */
int rot_kek_check_scope(const rot_ctx *ctx, const char *write_key, rk_err *err);
/* Stage kek-target: the key_id to reach (kms.keyID, checked against the plugin's Status where its socket
 * is reachable, else that Status), recorded in the state db; ctx->kek_key_id. */
int rot_kek_target(rot_ctx *ctx, rk_err *err);
/* ctx->kek_key_id from the state db (a resumed run). */
int rot_kek_load_target(rot_ctx *ctx, rk_err *err);
/* Stage kek-pickup: waits (kms.pickupTimeout) until every apiserver reports the target key_id from its
 * latest Status (key_id_hash_status_last_timestamp_seconds, its /readyz/kms-providers polled to make it
 * ask) and a probe written through it is stored under that keyID in etcd. RK_STOPPED on timeout. */
int rot_kek_pickup(rot_ctx *ctx, rk_err *err);

/* ---- break glass (rotation_breakglass.c) ---- */
/* The /readyz check the gates leave out ("kms-providers" in a break-glass run, else NULL). */
const char *rot_readyz_exclude(const rot_ctx *ctx);
/* The plan's emergency key, read from its 0600 key file under breakGlass.keyName; refused (RK_UNSAFE)
 * when history knows that name for another key; archived (STATE/archive, 0600: idempotent) before any
 * node sees it, and the first time (stage-key not done yet) recorded in history (fingerprint, file). */
int rot_break_glass_key(rot_ctx *ctx, int first, rk_key *key, rk_err *err);
/* The audit record (who and when come from the store; why = opts->reason) and the banner. */
void rot_break_glass_announce(rot_ctx *ctx, const char *outcome, const char *detail);

/* ---- cluster lock (rotation_lock.c): a Lease in kube-system ---- */
int rot_lock_acquire(rot_ctx *ctx, rk_err *err);
/* err, met before anything was changed: when its cause is an apiserver that answered 429 until the kube
 * client's retries ran out (err->throttled_tries), RK_STOPPED "WHAT: the apiserver kept throttling (429)
 * for N tries: nothing was changed; try again later (...)"; any other error unchanged. Returns err->code. */
int rot_stop_if_throttled(const char *what, rk_err *err);
void rot_lock_release(rot_ctx *ctx);

#define ROT_LOCK_LEASE "rekeyctl-rotation-lock"
#define ROT_LOCK_SECONDS 60

/* Where the key named key_name is backed up: the plan's keyBackupDir, else STATE/keys/CLUSTER/. */
void rot_key_backup_path(const rot_ctx *ctx, const char *key_name, char *out, size_t cap);

/* rotation_keyage.c: the cluster's newest rotation that finished (*found 0 when none), and when a key
 * was generated according to history ("" when it has no `generated` event). */
int rot_last_done_rotation(rk_store *store, const char *cluster, rk_run *run, int *found, rk_err *err);
int rot_key_generated_at(rk_store *store, const char *cluster, const char *key, char *at, size_t cap,
                         rk_err *err);

/* rotation_status.c: the run (run_id, else cluster's newest) read through an open store: the rotation's own
 * connection (a second one opened and closed in the same process made reads fail: "disk I/O error"). */
int rot_status_get(rk_store *store, const char *cluster, int64_t run_id, rk_rotation_status *st, rk_err *err);

/* rotation_metrics.c: the Prometheus textfile of the run (opts->metrics_file; nothing when NULL): the
 * stage, the rewrite's progress, the last success, the keys' creation times and the write key's age.
 * Throttled to one write per 2 s unless force; a failure is logged, never fatal. */
void rot_metrics_write(rot_ctx *ctx, int force);
/* The run's part of that textfile into b (cluster c: already escaped as a label value): running, state,
 * stage and its index, the rewrite's progress and rate. */
void rot_metrics_run(rk_buf *b, const char *c, const rk_rotation_status *st);

#endif
