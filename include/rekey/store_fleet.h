/* store_fleet.h: fleet runs in the state store (migration 0005): one row per run of a FleetPlan and one
 * per cluster of it (its wave, its state in the fleet, and the cluster's own rotation run once one
 * exists). The clusters' rotations keep their own runs, stages and locks (store.h); these records only
 * order them. Conventions as store.h: rk_code returns, fixed-size copies, UTC times set by the store. */
#ifndef REKEY_STORE_FLEET_H
#define REKEY_STORE_FLEET_H

#include <stddef.h>
#include <stdint.h>

#include "rekey/err.h"
#include "rekey/store.h"

typedef struct rk_fleet_run {
	int64_t id;
	char fleet[RK_STORE_NAME_MAX];
	char plan_hash[RK_STORE_SHORT_MAX + 16];
	char state[RK_STORE_SHORT_MAX]; /* "running", "stopped", "done", "failed", "aborted" */
	char started_at[RK_STORE_TIME_MAX];
	char finished_at[RK_STORE_TIME_MAX]; /* "" while running */
	int exit_code;                       /* -1 while running */
	char detail[RK_STORE_DETAIL_MAX];
} rk_fleet_run;

/* One cluster of a fleet run. */
typedef struct rk_fleet_member {
	char cluster[RK_STORE_NAME_MAX];
	char plan_path[RK_STORE_PATH_MAX];
	int wave;                       /* 0 = the canary cluster's wave */
	int position;                   /* order in the fleet plan */
	char state[RK_STORE_SHORT_MAX]; /* "pending", "running", "done", "failed", "stopped" */
	int64_t run_id;                 /* the cluster's rotation run (runs.id); 0 = none yet */
	int exit_code;                  /* of its last rekeyctl process; -1 = none yet */
	char started_at[RK_STORE_TIME_MAX];
	char finished_at[RK_STORE_TIME_MAX];
	char detail[RK_STORE_DETAIL_MAX];
} rk_fleet_member;

/* A new fleet run in state "running" with every member "pending", in one transaction (members' state,
 * run_id and times are ignored). */
int rk_store_fleet_run_create(rk_store *store, const char *fleet, const char *plan_hash,
                              const rk_fleet_member *members, size_t n, int64_t *id, rk_err *err);
/* The newest run of fleet (*found 0 when none), or run id when > 0. */
int rk_store_fleet_run_get(rk_store *store, const char *fleet, int64_t id, rk_fleet_run *run, int *found,
                           rk_err *err);
/* Any state but "running" sets finished_at and exit_code; "running" clears them. detail may be NULL. */
int rk_store_fleet_run_set_state(rk_store *store, int64_t id, const char *state, int exit_code,
                                 const char *detail, rk_err *err);
/* Members in wave, then plan order; a non-zero return from cb stops the walk and is returned. */
typedef int (*rk_fleet_member_cb)(const rk_fleet_member *member, void *ud);
int rk_store_fleet_members(rk_store *store, int64_t id, rk_fleet_member_cb cb, void *ud, rk_err *err);
/* A member's state ("running" sets started_at and clears finished_at; "done", "failed" and "stopped" set
 * finished_at), its rotation run (0 = keep) and exit code (-1 = none), detail (NULL = ""). */
int rk_store_fleet_member_set(rk_store *store, int64_t id, const char *cluster, const char *state,
                              int64_t run_id, int exit_code, const char *detail, rk_err *err);

#endif
