/* fleet_internal.h (private): what the fleet's files share: the running fleet's context and its
 * per-cluster processes. */
#ifndef REKEY_FLEET_INTERNAL_H
#define REKEY_FLEET_INTERNAL_H

#include <sys/types.h>

#include "rekey/fleet.h"
#include "rekey/store.h"
#include "rekey/store_fleet.h"

/* A cluster's state in the running fleet (the store holds the same, this is the in-memory copy). */
typedef struct fleet_member {
	char state[RK_STORE_SHORT_MAX];
	int64_t run_id;
} fleet_member;

/* One running per-cluster rekeyctl. */
typedef struct fleet_proc {
	size_t idx;        /* cluster index in the plan */
	pid_t pid;         /* 0 = slot free */
	int pidfd;         /* -1 when pidfd_open is unavailable (then polled) */
	int signalled;     /* the fleet asked it to stop: its exit is not a failure of its own */
	int64_t known_run; /* rotate: the newest rotation run before it started; resume: the run resumed */
	int resumed;
} fleet_proc;

typedef struct fleet_ctx {
	const rk_fleet_opts *opts;
	rk_fleet_plan *plan;
	rk_store *store;
	char state_dir[4096];
	char exe[4096];
	char log_dir[4400];
	rk_fleet_run run;
	fleet_member *members; /* one per plan cluster */
	size_t failures;       /* clusters that failed or stopped on their own in this invocation */
	int first_failure;     /* exit code of the first one, 0 = none */
	char first_failed[RK_STORE_NAME_MAX];
	int stopping;  /* no new cluster starts; running ones were asked to stop */
	int signalled; /* the fleet itself got SIGINT/SIGTERM */
} fleet_ctx;

/* fleet_proc.c: starts `EXE rotate|resume -f PLAN --state DIR ...` for cluster idx, output appended to
 * LOG_DIR/<cluster>.log (0600). */
int fleet_proc_start(fleet_ctx *ctx, size_t idx, int resume, fleet_proc *p, rk_err *err);
/* Waits up to timeout_ms for any of the n procs to exit; reaps the first exited one into *done_i and
 * *status (as from waitpid). Returns 1 when one exited, 0 on timeout or signal. */
int fleet_proc_wait_any(fleet_proc *procs, size_t n, int timeout_ms, size_t *done_i, int *status);
/* SIGTERM: rekeyctl stops at its next safe point and exits 3. */
void fleet_proc_stop(fleet_proc *p);
/* The last non-empty line of a cluster's log (its final message), into out. */
void fleet_log_tail(const fleet_ctx *ctx, size_t idx, char *out, size_t cap);

#endif
