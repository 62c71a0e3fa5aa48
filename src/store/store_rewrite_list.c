/* store_rewrite_list.c: reading a rewrite run's progress back out of the state store for `rekeyctl
 * status`: every checkpoint with its resource totals, the newest budget decision and the decisions by the
 * signal that drove them. */
#include <stdio.h>
#include <string.h>

#include "store_internal.h"

static void row_to_checkpoint(sqlite3_stmt *st, rk_checkpoint *cp)
{
	memset(cp, 0, sizeof *cp);
	rk_store_copy_col(cp->resource, sizeof cp->resource, st, 0);
	rk_store_copy_col(cp->scope, sizeof cp->scope, st, 1);
	rk_store_copy_col(cp->continue_token, sizeof cp->continue_token, st, 2);
	rk_store_copy_col(cp->last_namespace, sizeof cp->last_namespace, st, 3);
	rk_store_copy_col(cp->last_name, sizeof cp->last_name, st, 4);
	cp->done = sqlite3_column_int(st, 5);
	rk_store_copy_col(cp->updated_at, sizeof cp->updated_at, st, 6);
	int64_t *counts[] = {&cp->counts.rewritten, &cp->counts.current, &cp->counts.conflict,
	                     &cp->counts.gone,      &cp->counts.orphan,  &cp->counts.failed};
	for (int i = 0; i < 6; i++)
		*counts[i] = sqlite3_column_int64(st, 7 + i);
}

int rk_store_checkpoint_list(rk_store *store, int64_t run_id, rk_checkpoint_cb cb, void *ud, rk_err *err)
{
	sqlite3_stmt *st;
	if (rk_store_prepare(
	        store,
	        "SELECT k.resource, k.scope, k.continue_token, k.last_namespace, k.last_name, k.done, "
	        "k.updated_at, c.rewritten, c.current, c.conflict, c.gone, c.orphan, c.failed "
	        "FROM rewrite_checkpoints k LEFT JOIN rewrite_counts c ON c.run_id = k.run_id AND "
	        "c.resource = k.resource WHERE k.run_id = ? ORDER BY k.updated_at, k.resource, k.scope",
	        &st, err) != RK_OK)
		return err->code;
	sqlite3_bind_int64(st, 1, run_id);
	int rc, stop = 0;
	while (!stop && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		rk_checkpoint cp;
		row_to_checkpoint(st, &cp);
		stop = cb(&cp, ud);
	}
	sqlite3_finalize(st);
	if (stop)
		return stop;
	if (rc != SQLITE_DONE)
		return rk_store_db_error(store, "list checkpoints", err);
	return RK_OK;
}

int rk_store_budget_last(rk_store *store, int64_t run_id, char *decision, size_t cap, int *found, rk_err *err)
{
	sqlite3_stmt *st;
	*found = 0;
	if (cap)
		decision[0] = 0;
	if (rk_store_prepare(
	        store, "SELECT decision FROM budget_decisions WHERE run_id = ? ORDER BY id DESC LIMIT 1", &st,
	        err) != RK_OK)
		return err->code;
	sqlite3_bind_int64(st, 1, run_id);
	int rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		rk_store_copy_col(decision, cap, st, 0);
		*found = 1;
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return rk_store_db_error(store, "last budget decision", err);
	return RK_OK;
}

int rk_store_budget_signals(rk_store *store, int64_t run_id, rk_budget_signal_cb cb, void *ud, rk_err *err)
{
	sqlite3_stmt *st;
	if (rk_store_prepare(store,
	                     "SELECT decision, signal, count(*) FROM budget_decisions WHERE run_id = ? "
	                     "GROUP BY decision, signal ORDER BY min(id)",
	                     &st, err) != RK_OK)
		return err->code;
	sqlite3_bind_int64(st, 1, run_id);
	int rc, stop = 0;
	while (!stop && (rc = sqlite3_step(st)) == SQLITE_ROW)
		stop = cb((const char *)sqlite3_column_text(st, 0), (const char *)sqlite3_column_text(st, 1),
		          sqlite3_column_int64(st, 2), ud);
	sqlite3_finalize(st);
	if (stop)
		return RK_OK;
	if (rc != SQLITE_DONE)
		return rk_store_db_error(store, "budget signals", err);
	return RK_OK;
}
