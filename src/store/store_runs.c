/* store_runs.c: clusters, runs and stage intent/done records in the state store (see rekey/store.h). */
#include <stdio.h>
#include <string.h>

#include "store_internal.h"

/* ---- clusters ---- */

int rk_store_cluster_get(rk_store *store, const char *name, int64_t *id, rk_err *err)
{
	sqlite3_stmt *st;
	*id = 0;
	if (rk_store_check_len("cluster name", name, RK_STORE_NAME_MAX, 1, err) != RK_OK ||
	    rk_store_prepare(store, "SELECT id FROM clusters WHERE name = ?", &st, err) != RK_OK)
		return err->code;
	rk_store_bind_text(st, 1, name);
	int rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		*id = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return rk_store_db_error(store, "read cluster", err);
	return RK_OK;
}

int rk_store_cluster_upsert(rk_store *store, const char *name, int64_t *id, rk_err *err)
{
	sqlite3_stmt *st;
	if (rk_store_check_len("cluster name", name, RK_STORE_NAME_MAX, 1, err) != RK_OK ||
	    rk_store_prepare(store, "INSERT INTO clusters(name) VALUES (?) ON CONFLICT(name) DO NOTHING", &st,
	                     err) != RK_OK)
		return err->code;
	rk_store_bind_text(st, 1, name);
	if (rk_store_step_done(store, st, "insert cluster", err) != RK_OK)
		return err->code;
	return rk_store_cluster_get(store, name, id, err);
}

/* ---- runs ---- */

static int check_run_spec(const rk_run_spec *spec, rk_err *err)
{
	static const char *const kinds[] = {"rotate", "rewrite", "rollback", "verify"};
	int known = 0;
	for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++)
		known |= spec->kind && !strcmp(spec->kind, kinds[i]);
	if (!known)
		return rk_err_set(err, RK_BADINPUT, "state db: unknown run kind \"%s\"",
		                  spec->kind ? spec->kind : "");
	if (rk_store_check_len("plan hash", spec->plan_hash, RK_STORE_SHORT_MAX + 16, 0, err) != RK_OK ||
	    rk_store_check_len("provider", spec->provider, RK_STORE_SHORT_MAX, 0, err) != RK_OK ||
	    rk_store_check_len("old key name", spec->old_key, RK_STORE_NAME_MAX, 0, err) != RK_OK ||
	    rk_store_check_len("new key name", spec->new_key, RK_STORE_NAME_MAX, 0, err) != RK_OK)
		return err->code;
	return RK_OK;
}

int rk_store_run_create(rk_store *store, const rk_run_spec *spec, int64_t *run_id, rk_err *err)
{
	int64_t cluster_id;
	sqlite3_stmt *st;
	if (check_run_spec(spec, err) != RK_OK ||
	    rk_store_cluster_upsert(store, spec->cluster, &cluster_id, err) != RK_OK)
		return err->code;
	if (rk_store_prepare(store,
	                     "INSERT INTO runs(cluster_id, kind, plan_hash, provider, old_key, new_key) "
	                     "VALUES (?, ?, ?, ?, ?, ?)",
	                     &st, err) != RK_OK)
		return err->code;
	sqlite3_bind_int64(st, 1, cluster_id);
	rk_store_bind_text(st, 2, spec->kind);
	rk_store_bind_text(st, 3, spec->plan_hash);
	rk_store_bind_text(st, 4, spec->provider);
	rk_store_bind_text(st, 5, spec->old_key);
	rk_store_bind_text(st, 6, spec->new_key);
	if (rk_store_step_done(store, st, "insert run", err) != RK_OK)
		return err->code;
	*run_id = sqlite3_last_insert_rowid(store->db);
	return RK_OK;
}

#define RUN_COLUMNS                                                                                          \
	"SELECT r.id, c.name, r.kind, r.plan_hash, r.provider, r.old_key, r.new_key, r.state, "              \
	"r.started_at, "                                                                                     \
	"r.finished_at, coalesce(r.exit_code, -1) FROM runs r JOIN clusters c ON c.id = r.cluster_id "

static void read_run(sqlite3_stmt *st, rk_run *run)
{
	run->id = sqlite3_column_int64(st, 0);
	rk_store_copy_col(run->cluster, sizeof run->cluster, st, 1);
	rk_store_copy_col(run->kind, sizeof run->kind, st, 2);
	rk_store_copy_col(run->plan_hash, sizeof run->plan_hash, st, 3);
	rk_store_copy_col(run->provider, sizeof run->provider, st, 4);
	rk_store_copy_col(run->old_key, sizeof run->old_key, st, 5);
	rk_store_copy_col(run->new_key, sizeof run->new_key, st, 6);
	rk_store_copy_col(run->state, sizeof run->state, st, 7);
	rk_store_copy_col(run->started_at, sizeof run->started_at, st, 8);
	rk_store_copy_col(run->finished_at, sizeof run->finished_at, st, 9);
	run->exit_code = sqlite3_column_int(st, 10);
}

/* Steps a prepared run query once: *found = 1 and run filled when it returned a row. */
static int fetch_run(rk_store *store, sqlite3_stmt *st, rk_run *run, int *found, rk_err *err)
{
	memset(run, 0, sizeof *run);
	int rc = sqlite3_step(st);
	*found = rc == SQLITE_ROW;
	if (*found)
		read_run(st, run);
	sqlite3_finalize(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return rk_store_db_error(store, "read run", err);
	return RK_OK;
}

int rk_store_run_get(rk_store *store, int64_t run_id, rk_run *run, int *found, rk_err *err)
{
	sqlite3_stmt *st;
	if (rk_store_prepare(store, RUN_COLUMNS "WHERE r.id = ?", &st, err) != RK_OK)
		return err->code;
	sqlite3_bind_int64(st, 1, run_id);
	return fetch_run(store, st, run, found, err);
}

int rk_store_run_latest(rk_store *store, const char *cluster, const char *kind, rk_run *run, int *found,
                        rk_err *err)
{
	sqlite3_stmt *st;
	if (rk_store_prepare(store,
	                     RUN_COLUMNS
	                     "WHERE c.name = ? AND (?2 IS NULL OR r.kind = ?2) ORDER BY r.id DESC LIMIT 1",
	                     &st, err) != RK_OK)
		return err->code;
	rk_store_bind_text(st, 1, cluster);
	rk_store_bind_text(st, 2, kind);
	return fetch_run(store, st, run, found, err);
}

static int known_run_state(const char *state)
{
	static const char *const states[] = {"running", "stopped", "done", "failed", "aborted"};
	for (size_t i = 0; i < sizeof states / sizeof states[0]; i++)
		if (state && !strcmp(state, states[i]))
			return 1;
	return 0;
}

int rk_store_run_set_state(rk_store *store, int64_t run_id, const char *state, int exit_code, rk_err *err)
{
	sqlite3_stmt *st;
	if (!known_run_state(state))
		return rk_err_set(err, RK_BADINPUT, "state db: unknown run state \"%s\"", state ? state : "");
	if (rk_store_prepare(store,
	                     "UPDATE runs SET state = ?1, "
	                     "finished_at = CASE WHEN ?1 = 'running' THEN NULL ELSE " RK_STORE_NOW " END, "
	                     "exit_code = CASE WHEN ?1 = 'running' THEN NULL ELSE ?2 END WHERE id = ?3",
	                     &st, err) != RK_OK)
		return err->code;
	rk_store_bind_text(st, 1, state);
	sqlite3_bind_int(st, 2, exit_code);
	sqlite3_bind_int64(st, 3, run_id);
	if (rk_store_step_done(store, st, "update run", err) != RK_OK)
		return err->code;
	if (sqlite3_changes(store->db) != 1)
		return rk_err_set(err, RK_BADINPUT, "state db: no run %lld", (long long)run_id);
	return RK_OK;
}

int rk_store_run_list(rk_store *store, const char *cluster, unsigned limit, rk_run_cb cb, void *ud,
                      rk_err *err)
{
	sqlite3_stmt *st;
	if (rk_store_prepare(store, RUN_COLUMNS "WHERE ?1 IS NULL OR c.name = ?1 ORDER BY r.id DESC LIMIT ?2",
	                     &st, err) != RK_OK)
		return err->code;
	rk_store_bind_text(st, 1, cluster);
	sqlite3_bind_int64(st, 2, limit ? (sqlite3_int64)limit : -1);
	int rc = SQLITE_DONE, stop = 0;
	rk_run run;
	while (!stop && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		memset(&run, 0, sizeof run);
		read_run(st, &run);
		stop = cb(&run, ud);
	}
	sqlite3_finalize(st);
	if (!stop && rc != SQLITE_DONE)
		return rk_store_db_error(store, "list runs", err);
	return stop;
}

/* ---- stages ---- */

static const char *const stage_status_names[] = {"none", "intent", "done", "failed"};

const char *rk_stage_status_name(rk_stage_status status)
{
	if ((unsigned)status >= sizeof stage_status_names / sizeof stage_status_names[0])
		return "none";
	return stage_status_names[status];
}

static rk_stage_status stage_status_from_name(const char *name)
{
	for (size_t i = 1; i < sizeof stage_status_names / sizeof stage_status_names[0]; i++)
		if (name && !strcmp(name, stage_status_names[i]))
			return (rk_stage_status)i;
	return RK_STAGE_NONE;
}

/* The upsert of each transition: a new row, or the change allowed on an existing one. */
static const char *const stage_sql[] = {
    [RK_STAGE_INTENT] =
        "INSERT INTO stages(run_id, stage, node, status, detail) VALUES (?1, ?2, ?3, 'intent', ?4) "
        "ON CONFLICT(run_id, stage, node) DO UPDATE SET status = 'intent', "
        "detail = coalesce(?4, detail), started_at = " RK_STORE_NOW ", finished_at = NULL "
        "WHERE status = 'failed'",
    [RK_STAGE_DONE] = "INSERT INTO stages(run_id, stage, node, status, detail, finished_at) "
                      "VALUES (?1, ?2, ?3, 'done', ?4, " RK_STORE_NOW ") "
                      "ON CONFLICT(run_id, stage, node) DO UPDATE SET status = 'done', "
                      "detail = coalesce(?4, detail), finished_at = " RK_STORE_NOW " WHERE status <> 'done'",
    [RK_STAGE_FAILED] = "INSERT INTO stages(run_id, stage, node, status, detail, finished_at) "
                        "VALUES (?1, ?2, ?3, 'failed', ?4, " RK_STORE_NOW ") "
                        "ON CONFLICT(run_id, stage, node) DO UPDATE SET status = 'failed', "
                        "detail = coalesce(?4, detail), finished_at = " RK_STORE_NOW,
};

static int check_stage_args(const char *stage, const char *node, const char *detail, rk_err *err)
{
	if (rk_store_check_len("stage name", stage, RK_STORE_SHORT_MAX, 1, err) != RK_OK ||
	    rk_store_check_len("node name", node, RK_STORE_NAME_MAX, 0, err) != RK_OK ||
	    rk_store_check_len("stage detail", detail, RK_STORE_DETAIL_MAX, 0, err) != RK_OK)
		return err->code;
	return RK_OK;
}

static int record_stage(rk_store *store, rk_stage_status to, int64_t run_id, const char *stage,
                        const char *node, const char *detail, rk_err *err)
{
	sqlite3_stmt *st;
	if (check_stage_args(stage, node, detail, err) != RK_OK ||
	    rk_store_prepare(store, stage_sql[to], &st, err) != RK_OK)
		return err->code;
	sqlite3_bind_int64(st, 1, run_id);
	rk_store_bind_text(st, 2, stage);
	rk_store_bind_text(st, 3, node ? node : "");
	rk_store_bind_text(st, 4, detail);
	return rk_store_step_done(store, st, "record stage", err);
}

int rk_store_stage_intent(rk_store *store, int64_t run_id, const char *stage, const char *node,
                          const char *detail, rk_err *err)
{
	return record_stage(store, RK_STAGE_INTENT, run_id, stage, node, detail, err);
}

int rk_store_stage_done(rk_store *store, int64_t run_id, const char *stage, const char *node,
                        const char *detail, rk_err *err)
{
	return record_stage(store, RK_STAGE_DONE, run_id, stage, node, detail, err);
}

int rk_store_stage_failed(rk_store *store, int64_t run_id, const char *stage, const char *node,
                          const char *detail, rk_err *err)
{
	return record_stage(store, RK_STAGE_FAILED, run_id, stage, node, detail, err);
}

int rk_store_stage_status(rk_store *store, int64_t run_id, const char *stage, const char *node,
                          rk_stage_status *status, rk_err *err)
{
	sqlite3_stmt *st;
	char name[RK_STORE_SHORT_MAX] = "";
	*status = RK_STAGE_NONE;
	if (rk_store_prepare(store, "SELECT status FROM stages WHERE run_id = ? AND stage = ? AND node = ?",
	                     &st, err) != RK_OK)
		return err->code;
	sqlite3_bind_int64(st, 1, run_id);
	rk_store_bind_text(st, 2, stage);
	rk_store_bind_text(st, 3, node ? node : "");
	int rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		rk_store_copy_col(name, sizeof name, st, 0);
	sqlite3_finalize(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return rk_store_db_error(store, "read stage", err);
	*status = stage_status_from_name(name);
	return RK_OK;
}

static void read_stage(sqlite3_stmt *st, rk_stage *stage)
{
	char status[RK_STORE_SHORT_MAX];
	rk_store_copy_col(stage->stage, sizeof stage->stage, st, 0);
	rk_store_copy_col(stage->node, sizeof stage->node, st, 1);
	rk_store_copy_col(status, sizeof status, st, 2);
	stage->status = stage_status_from_name(status);
	rk_store_copy_col(stage->detail, sizeof stage->detail, st, 3);
	rk_store_copy_col(stage->started_at, sizeof stage->started_at, st, 4);
	rk_store_copy_col(stage->finished_at, sizeof stage->finished_at, st, 5);
}

int rk_store_stage_list(rk_store *store, int64_t run_id, rk_stage_cb cb, void *ud, rk_err *err)
{
	sqlite3_stmt *st;
	if (rk_store_prepare(store,
	                     "SELECT stage, node, status, detail, started_at, finished_at FROM stages "
	                     "WHERE run_id = ? ORDER BY id",
	                     &st, err) != RK_OK)
		return err->code;
	sqlite3_bind_int64(st, 1, run_id);
	int rc = SQLITE_DONE, stop = 0;
	rk_stage stage;
	while (!stop && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		read_stage(st, &stage);
		stop = cb(&stage, ud);
	}
	sqlite3_finalize(st);
	if (!stop && rc != SQLITE_DONE)
		return rk_store_db_error(store, "list stages", err);
	return stop;
}
