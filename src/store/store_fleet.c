/* store_fleet.c: fleet runs and their members in the state store (see rekey/store_fleet.h). */
#include "rekey/store_fleet.h"

#include <stdio.h>
#include <string.h>

#include "store_internal.h"

static int known_state(const char *state, const char *const *states)
{
	for (; state && *states; states++)
		if (!strcmp(state, *states))
			return 1;
	return 0;
}

static const char *const run_states[] = {"running", "stopped", "done", "failed", "aborted", NULL};
static const char *const member_states[] = {"pending", "running", "done", "failed", "stopped", NULL};

static int insert_member(rk_store *store, int64_t id, const rk_fleet_member *m, rk_err *err)
{
	sqlite3_stmt *st;
	if (rk_store_check_len("cluster name", m->cluster, RK_STORE_NAME_MAX, 1, err) != RK_OK ||
	    rk_store_prepare(store,
	                     "INSERT INTO fleet_clusters(fleet_run, cluster, plan_path, wave, position) "
	                     "VALUES (?, ?, ?, ?, ?)",
	                     &st, err) != RK_OK)
		return err->code;
	sqlite3_bind_int64(st, 1, id);
	rk_store_bind_text(st, 2, m->cluster);
	rk_store_bind_text(st, 3, m->plan_path);
	sqlite3_bind_int(st, 4, m->wave);
	sqlite3_bind_int(st, 5, m->position);
	return rk_store_step_done(store, st, "insert fleet cluster", err);
}

int rk_store_fleet_run_create(rk_store *store, const char *fleet, const char *plan_hash,
                              const rk_fleet_member *members, size_t n, int64_t *id, rk_err *err)
{
	sqlite3_stmt *st;
	if (rk_store_check_len("fleet name", fleet, RK_STORE_NAME_MAX, 1, err) != RK_OK ||
	    rk_store_check_len("plan hash", plan_hash, RK_STORE_SHORT_MAX + 16, 1, err) != RK_OK ||
	    rk_store_begin(store, err) != RK_OK)
		return err->code;
	int rc = rk_store_prepare(store, "INSERT INTO fleet_runs(fleet, plan_hash) VALUES (?, ?)", &st, err);
	if (rc == RK_OK) {
		rk_store_bind_text(st, 1, fleet);
		rk_store_bind_text(st, 2, plan_hash);
		rc = rk_store_step_done(store, st, "insert fleet run", err);
	}
	if (rc == RK_OK)
		*id = sqlite3_last_insert_rowid(store->db);
	for (size_t i = 0; rc == RK_OK && i < n; i++)
		rc = insert_member(store, *id, &members[i], err);
	if (rc == RK_OK)
		return rk_store_commit(store, err);
	rk_store_rollback(store);
	return rc;
}

int rk_store_fleet_run_get(rk_store *store, const char *fleet, int64_t id, rk_fleet_run *run, int *found,
                           rk_err *err)
{
	sqlite3_stmt *st;
	memset(run, 0, sizeof *run);
	*found = 0;
	const char *sql = id > 0 ? "SELECT id, fleet, plan_hash, state, started_at, finished_at, "
	                           "coalesce(exit_code, -1), detail FROM fleet_runs WHERE id = ?"
	                         : "SELECT id, fleet, plan_hash, state, started_at, finished_at, "
	                           "coalesce(exit_code, -1), detail FROM fleet_runs WHERE fleet = ? "
	                           "ORDER BY id DESC LIMIT 1";
	if (rk_store_prepare(store, sql, &st, err) != RK_OK)
		return err->code;
	if (id > 0)
		sqlite3_bind_int64(st, 1, id);
	else
		rk_store_bind_text(st, 1, fleet);
	int rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		*found = 1;
		run->id = sqlite3_column_int64(st, 0);
		rk_store_copy_col(run->fleet, sizeof run->fleet, st, 1);
		rk_store_copy_col(run->plan_hash, sizeof run->plan_hash, st, 2);
		rk_store_copy_col(run->state, sizeof run->state, st, 3);
		rk_store_copy_col(run->started_at, sizeof run->started_at, st, 4);
		rk_store_copy_col(run->finished_at, sizeof run->finished_at, st, 5);
		run->exit_code = sqlite3_column_int(st, 6);
		rk_store_copy_col(run->detail, sizeof run->detail, st, 7);
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return rk_store_db_error(store, "read fleet run", err);
	return RK_OK;
}

int rk_store_fleet_run_set_state(rk_store *store, int64_t id, const char *state, int exit_code,
                                 const char *detail, rk_err *err)
{
	sqlite3_stmt *st;
	if (!known_state(state, run_states))
		return rk_err_set(err, RK_BADINPUT, "state db: unknown fleet run state \"%s\"",
		                  state ? state : "");
	int running = !strcmp(state, "running");
	const char *sql = running ? "UPDATE fleet_runs SET state = ?, finished_at = NULL, exit_code = NULL, "
	                            "detail = ? WHERE id = ?"
	                          : "UPDATE fleet_runs SET state = ?, finished_at = " RK_STORE_NOW
	                            ", exit_code = ?, detail = ? WHERE id = ?";
	if (rk_store_check_len("detail", detail, RK_STORE_DETAIL_MAX, 0, err) != RK_OK ||
	    rk_store_prepare(store, sql, &st, err) != RK_OK)
		return err->code;
	int i = 1;
	rk_store_bind_text(st, i++, state);
	if (!running)
		sqlite3_bind_int(st, i++, exit_code);
	rk_store_bind_text(st, i++, detail ? detail : "");
	sqlite3_bind_int64(st, i, id);
	return rk_store_step_done(store, st, "update fleet run", err);
}

static void read_member(sqlite3_stmt *st, rk_fleet_member *m)
{
	memset(m, 0, sizeof *m);
	rk_store_copy_col(m->cluster, sizeof m->cluster, st, 0);
	rk_store_copy_col(m->plan_path, sizeof m->plan_path, st, 1);
	m->wave = sqlite3_column_int(st, 2);
	m->position = sqlite3_column_int(st, 3);
	rk_store_copy_col(m->state, sizeof m->state, st, 4);
	m->run_id = sqlite3_column_int64(st, 5);
	m->exit_code = sqlite3_column_int(st, 6);
	rk_store_copy_col(m->started_at, sizeof m->started_at, st, 7);
	rk_store_copy_col(m->finished_at, sizeof m->finished_at, st, 8);
	rk_store_copy_col(m->detail, sizeof m->detail, st, 9);
}

int rk_store_fleet_members(rk_store *store, int64_t id, rk_fleet_member_cb cb, void *ud, rk_err *err)
{
	sqlite3_stmt *st;
	if (rk_store_prepare(store,
	                     "SELECT cluster, plan_path, wave, position, state, coalesce(run_id, 0), "
	                     "coalesce(exit_code, -1), started_at, finished_at, detail FROM fleet_clusters "
	                     "WHERE fleet_run = ? ORDER BY wave, position",
	                     &st, err) != RK_OK)
		return err->code;
	sqlite3_bind_int64(st, 1, id);
	rk_fleet_member m;
	int rc, stop = 0;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		read_member(st, &m);
		if ((stop = cb(&m, ud)) != 0)
			break;
	}
	sqlite3_finalize(st);
	if (stop)
		return stop;
	if (rc != SQLITE_DONE)
		return rk_store_db_error(store, "list fleet clusters", err);
	return RK_OK;
}

int rk_store_fleet_member_set(rk_store *store, int64_t id, const char *cluster, const char *state,
                              int64_t run_id, int exit_code, const char *detail, rk_err *err)
{
	sqlite3_stmt *st;
	if (!known_state(state, member_states))
		return rk_err_set(err, RK_BADINPUT, "state db: unknown fleet cluster state \"%s\"",
		                  state ? state : "");
	const char *times = !strcmp(state, "running")   ? "started_at = " RK_STORE_NOW ", finished_at = NULL"
	                    : !strcmp(state, "pending") ? "finished_at = NULL"
	                                                : "finished_at = " RK_STORE_NOW;
	char sql[512];
	snprintf(sql, sizeof sql,
	         "UPDATE fleet_clusters SET state = ?, run_id = coalesce(nullif(?, 0), run_id), "
	         "exit_code = nullif(?, -1), detail = ?, %s WHERE fleet_run = ? AND cluster = ?",
	         times);
	if (rk_store_check_len("detail", detail, RK_STORE_DETAIL_MAX, 0, err) != RK_OK ||
	    rk_store_prepare(store, sql, &st, err) != RK_OK)
		return err->code;
	rk_store_bind_text(st, 1, state);
	sqlite3_bind_int64(st, 2, run_id);
	sqlite3_bind_int(st, 3, exit_code);
	rk_store_bind_text(st, 4, detail ? detail : "");
	sqlite3_bind_int64(st, 5, id);
	rk_store_bind_text(st, 6, cluster);
	if (rk_store_step_done(store, st, "update fleet cluster", err) != RK_OK)
		return err->code;
	if (sqlite3_changes(store->db) == 0)
		return rk_err_set(err, RK_BADINPUT, "state db: fleet run %lld has no cluster \"%s\"",
		                  (long long)id, cluster);
	return RK_OK;
}
