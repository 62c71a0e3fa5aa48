/* store_failures.c: the objects a rewrite run could not rewrite, by identity (migration 0003), so a
 * resumed run can try each again; and the deletion of failures and orphans that such a retry settled.
 * Written inside the batch's transaction (store_rewrite.c); see rekey/store.h. */
#include <stdio.h>
#include <string.h>

#include "store_internal.h"

static int record_failure(rk_store *store, int64_t run_id, const char *resource, const rk_failure_ref *f,
                          rk_err *err)
{
	sqlite3_stmt *st;
	if (rk_store_prepare(
	        store,
	        "INSERT INTO rewrite_failures(run_id, resource, namespace, name, reason) "
	        "VALUES (?, ?, ?, ?, substr(?, 1, 1000)) ON CONFLICT(run_id, resource, namespace, "
	        "name) DO UPDATE SET reason = excluded.reason, seen_at = " RK_STORE_NOW,
	        &st, err) != RK_OK)
		return err->code;
	sqlite3_bind_int64(st, 1, run_id);
	rk_store_bind_text(st, 2, resource);
	rk_store_bind_text(st, 3, f->namespace_ ? f->namespace_ : "");
	rk_store_bind_text(st, 4, f->name);
	rk_store_bind_text(st, 5, f->reason);
	return rk_store_step_done(store, st, "record failed object", err);
}

int rk_store_refs_exec(rk_store *store, const char *sql, int64_t run_id, const char *resource,
                       const rk_orphan_ref *refs, size_t n, const char *what, rk_err *err)
{
	for (size_t i = 0; i < n; i++) {
		sqlite3_stmt *st;
		if (rk_store_prepare(store, sql, &st, err) != RK_OK)
			return err->code;
		sqlite3_bind_int64(st, 1, run_id);
		rk_store_bind_text(st, 2, resource);
		rk_store_bind_text(st, 3, refs[i].namespace_ ? refs[i].namespace_ : "");
		rk_store_bind_text(st, 4, refs[i].name);
		if (rk_store_step_done(store, st, what, err) != RK_OK)
			return err->code;
	}
	return RK_OK;
}

int rk_store_rows_save(rk_store *store, int64_t run_id, const char *resource, const rk_batch_rows *rows,
                       rk_err *err)
{
	for (size_t i = 0; i < rows->nfailures; i++)
		if (record_failure(store, run_id, resource, &rows->failures[i], err) != RK_OK)
			return err->code;
	if (rk_store_refs_exec(
	        store,
	        "DELETE FROM rewrite_failures WHERE run_id = ? AND resource = ? AND namespace = ? "
	        "AND name = ?",
	        run_id, resource, rows->cleared_failures, rows->ncleared_failures, "settle a failed object",
	        err) != RK_OK ||
	    rk_store_refs_exec(
	        store, "DELETE FROM orphans WHERE run_id = ? AND resource = ? AND namespace = ? AND name = ?",
	        run_id, resource, rows->cleared_orphans, rows->ncleared_orphans, "settle an orphan",
	        err) != RK_OK)
		return err->code;
	return RK_OK;
}

int rk_store_failure_count(rk_store *store, int64_t run_id, int64_t *count, rk_err *err)
{
	return rk_store_count_rows(store, "SELECT count(*) FROM rewrite_failures WHERE run_id = ?", run_id,
	                           count, err);
}

static void read_failure(sqlite3_stmt *st, rk_failure *f)
{
	rk_store_copy_col(f->resource, sizeof f->resource, st, 0);
	rk_store_copy_col(f->namespace_, sizeof f->namespace_, st, 1);
	rk_store_copy_col(f->name, sizeof f->name, st, 2);
	rk_store_copy_col(f->reason, sizeof f->reason, st, 3);
	rk_store_copy_col(f->seen_at, sizeof f->seen_at, st, 4);
}

int rk_store_failure_list(rk_store *store, int64_t run_id, const char *resource, rk_failure_cb cb, void *ud,
                          rk_err *err)
{
	sqlite3_stmt *st;
	if (rk_store_prepare(store,
	                     "SELECT resource, namespace, name, reason, seen_at FROM rewrite_failures WHERE "
	                     "run_id = ?1 AND (?2 IS NULL OR resource = ?2) ORDER BY id",
	                     &st, err) != RK_OK)
		return err->code;
	sqlite3_bind_int64(st, 1, run_id);
	rk_store_bind_text(st, 2, resource);
	int rc = SQLITE_DONE, stop = 0;
	rk_failure f;
	while (!stop && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		read_failure(st, &f);
		stop = cb(&f, ud);
	}
	sqlite3_finalize(st);
	if (!stop && rc != SQLITE_DONE)
		return rk_store_db_error(store, "list failed objects", err);
	return stop;
}
