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
#include "rekey/rewrite.h"

typedef struct rk_rotation_opts {
	const char *plan_path;
	const char *state_dir;        /* NULL = default ($XDG_STATE_HOME/rekeyctl) */
	int ignore_window;            /* recorded in the audit log */
	int insecure_skip_tls_verify; /* passed to the kubeconfig loader */
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

/* `rekeyctl plan`: preflight (read-only) and the stages it would run, printed into out. */
int rk_rotation_plan(const rk_rotation_opts *opts, rk_buf *out, rk_err *err);

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

#endif
