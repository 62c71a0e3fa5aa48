/* fleet.h: rotations across many clusters (rekeyctl/v1 FleetPlan): the canary cluster's rotation finishes
 * and verifies first, then each wave of clusters, several at once within a wave, with a soak between
 * waves; the first failure beyond the stop rule stops the fleet with every cluster at a safe, resumable
 * point. Each cluster is rotated by a rekeyctl process of its own (`rekeyctl rotate|resume -f PLAN`, whose
 * exit code is the contract: docs/architecture.md, "Fleets run one process per cluster"), all sharing one
 * state db; clusters keep their own Lease locks, nothing is locked fleet-wide.
 *
 * Also `rekeyctl due`: which clusters' write keys are older than the policy. */
#ifndef REKEY_FLEET_H
#define REKEY_FLEET_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "rekey/err.h"
#include "rekey/store_fleet.h"

#define RK_FLEET_MAX_CLUSTERS 1000
#define RK_FLEET_MAX_PARALLEL 64
#define RK_FLEET_DEFAULT_MAX_KEY_AGE_MS (90L * 24 * 3600 * 1000) /* 2160h */

typedef struct rk_fleet_cluster {
	char *plan_path; /* as resolved: absolute, or relative to the fleet file's directory */
	char *name;      /* the plan's `cluster:` (the name in the state db) */
	int wave;        /* 0 = the canary's */
} rk_fleet_cluster;

typedef struct rk_fleet_plan {
	char *path;
	char *name; /* the fleet's name in the state db */
	rk_fleet_cluster *clusters;
	size_t nclusters;
	char *canary;
	int nwaves;          /* the canary's wave included */
	long parallelism;    /* rotations at once within a wave (default 1) */
	long soak_ms;        /* wait after each wave before the next (default 0) */
	long max_failures;   /* failed clusters tolerated before the fleet stops (default 0) */
	long max_key_age_ms; /* `rekeyctl due` (default RK_FLEET_DEFAULT_MAX_KEY_AGE_MS) */
} rk_fleet_plan;

/* Loads and validates a FleetPlan, and every cluster's RotationPlan (so a bad one stops everything
 * before anything starts); RK_BADINPUT "path:line:col: message". Waves are assigned here: wave 0 is the
 * canary alone; then the plan's `waves` in order, each `count: N` clusters or `percent: P` of the
 * non-canary clusters (rounded up), taken in plan order; clusters left after the listed waves form one
 * last wave. */
int rk_fleet_plan_load_file(const char *path, rk_fleet_plan **out, rk_err *err);
int rk_fleet_plan_load_buf(const char *data, size_t len, const char *path, rk_fleet_plan **out, rk_err *err);
void rk_fleet_plan_free(rk_fleet_plan *plan);

/* The `kind` of a rekeyctl YAML file ("FleetPlan", "RotationPlan", ...) into out; RK_BADINPUT when it has
 * none or does not parse. */
int rk_fleet_file_kind(const char *path, char *out, size_t cap, rk_err *err);

typedef struct rk_fleet_opts {
	const char *fleet_path;
	const char *state_dir;        /* NULL = the default; every cluster's rotation uses the same */
	int ignore_window;            /* passed to every cluster's rotation */
	int insecure_skip_tls_verify; /* likewise */
	const char *exe;              /* the rekeyctl binary run per cluster; NULL = this process's own */
	const char *metrics_dir;      /* each cluster writes DIR/rekeyctl-<cluster>.prom; NULL = none */
	volatile sig_atomic_t *stop;  /* SIGINT/SIGTERM: running clusters stop at a safe point */
} rk_fleet_opts;

/* `rekeyctl fleet rotate` (resume 0) and `fleet resume` (resume 1): RK_OK when every cluster is rotated;
 * RK_STOPPED when the fleet stopped (a cluster stopped or failed beyond the stop rule, or a signal:
 * resumable with `fleet resume`); RK_FAIL / RK_UNSAFE when the first failing cluster's rotation exited
 * with that code; RK_BADINPUT for a bad fleet plan or nothing to resume; RK_UNSAFE when a cluster has an
 * unfinished rotation of its own or the fleet has an unfinished run (rotate). fleet_run receives the
 * fleet run's id (0 when none was created). */
int rk_fleet_rotate(const rk_fleet_opts *opts, int resume, int64_t *fleet_run, rk_err *err);

/* One cluster of `rekeyctl fleet status`. */
typedef struct rk_fleet_cluster_status {
	rk_fleet_member member;
	char run_state[RK_STORE_SHORT_MAX]; /* its rotation run's state, "" when none */
	char stage[RK_STORE_SHORT_MAX];     /* the rotation's newest stage record, "" when none */
	char stage_node[RK_STORE_NAME_MAX];
	char stage_status[RK_STORE_SHORT_MAX]; /* "intent", "done", "failed" */
} rk_fleet_cluster_status;

typedef struct rk_fleet_status {
	rk_fleet_run run;
	rk_fleet_cluster_status *clusters;
	size_t nclusters;
	int nwaves;
	size_t done, failed, stopped, running, pending;
} rk_fleet_status;

/* The newest run of the fleet named by the FleetPlan at fleet_path (or, fleet_path NULL, of fleet_name),
 * or run id when > 0; RK_BADINPUT when there is none. Free with rk_fleet_status_free. */
int rk_fleet_status_read(const char *state_dir, const char *fleet_path, const char *fleet_name, int64_t id,
                         rk_fleet_status *st, rk_err *err);
void rk_fleet_status_free(rk_fleet_status *st);

/* ---- rekeyctl due ---- */
typedef struct rk_due_cluster {
	char cluster[RK_STORE_NAME_MAX];
	char plan_path[RK_STORE_PATH_MAX];
	char key[RK_STORE_NAME_MAX];     /* the write key, "" when unknown */
	char source[RK_STORE_SHORT_MAX]; /* "history", "name" (its creation time in its name), "unknown" */
	char created_at[RK_STORE_TIME_MAX];
	double age_s;       /* -1 when unknown */
	int64_t unfinished; /* an unfinished rotation run of the cluster, 0 = none */
	int due;            /* older than the policy, age unknown, or a rotation unfinished */
	char reason[RK_STORE_DETAIL_MAX];
} rk_due_cluster;

typedef struct rk_due_report {
	long max_age_ms;
	rk_due_cluster *clusters;
	size_t nclusters, ndue;
} rk_due_report;

typedef struct rk_due_opts {
	const char *path;      /* a RotationPlan or a FleetPlan */
	const char *state_dir; /* NULL = the default */
	long max_age_ms;       /* 0 = the fleet's maxKeyAge, else RK_FLEET_DEFAULT_MAX_KEY_AGE_MS */
	time_t now;            /* 0 = time(NULL) */
} rk_due_opts;

/* Which clusters are due: RK_OK with the report (report->ndue of them due); RK_BADINPUT for a bad file. */
int rk_due_check(const rk_due_opts *opts, rk_due_report *report, rk_err *err);
void rk_due_report_free(rk_due_report *report);

#endif
