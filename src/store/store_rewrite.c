/* store_rewrite.c: rewrite checkpoints (checkpoint row + outcome totals + orphans and failed objects in
 * one transaction), orphans and budget decisions in the state store (see rekey/store.h). The failed
 * objects and settled rows are in store_failures.c. */
#include <stdio.h>
#include <string.h>

#include "store_internal.h"

static int check_refs(const char *what, const rk_orphan_ref *refs, size_t n, rk_err *err)
{
	for (size_t i = 0; i < n; i++)
		if (rk_store_check_len(what, refs[i].name, RK_STORE_NAME_MAX, 1, err) != RK_OK ||
		    rk_store_check_len(what, refs[i].namespace_, RK_STORE_NAME_MAX, 0, err) != RK_OK)
			return err->code;
	return RK_OK;
}

static int check_rows(const rk_batch_rows *rows, rk_err *err)
{
	if (!rows)
		return RK_OK;
	for (size_t i = 0; i < rows->nfailures; i++)
		if (rk_store_check_len("failed object name", rows->failures[i].name, RK_STORE_NAME_MAX, 1,
		                       err) != RK_OK ||
		    rk_store_check_len("failed object namespace", rows->failures[i].namespace_,
		                       RK_STORE_NAME_MAX, 0, err) != RK_OK)
			return err->code;
	if (check_refs("orphan", rows->orphans, rows->norphans, err) != RK_OK ||
	    check_refs("settled failure", rows->cleared_failures, rows->ncleared_failures, err) != RK_OK ||
	    check_refs("settled orphan", rows->cleared_orphans, rows->ncleared_orphans, err) != RK_OK)
		return err->code;
	return RK_OK;
}

static int check_checkpoint(const rk_checkpoint *cp, rk_err *err)
{
	if (rk_store_check_len("resource", cp->resource, sizeof cp->resource, 1, err) != RK_OK ||
	    rk_store_check_len("namespace scope", cp->scope, sizeof cp->scope, 0, err) != RK_OK ||
	    rk_store_check_len("continue token", cp->continue_token, sizeof cp->continue_token, 0, err) !=
	        RK_OK ||
	    rk_store_check_len("last namespace", cp->last_namespace, sizeof cp->last_namespace, 0, err) !=
	        RK_OK ||
	    rk_store_check_len("last name", cp->last_name, sizeof cp->last_name, 0, err) != RK_OK)
		return err->code;
	return RK_OK;
}

static int save_checkpoint_row(rk_store *store, int64_t run_id, const rk_checkpoint *cp, rk_err *err)
{
	sqlite3_stmt *st;
	if (rk_store_prepare(
	        store,
	        "INSERT INTO rewrite_checkpoints(run_id, resource, scope, continue_token, last_namespace, "
	        "last_name, done) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT(run_id, resource, scope) DO "
	        "UPDATE SET continue_token = excluded.continue_token, last_namespace = "
	        "excluded.last_namespace, last_name = excluded.last_name, done = excluded.done, "
	        "updated_at = " RK_STORE_NOW,
	        &st, err) != RK_OK)
		return err->code;
	sqlite3_bind_int64(st, 1, run_id);
	rk_store_bind_text(st, 2, cp->resource);
	rk_store_bind_text(st, 3, cp->scope);
	rk_store_bind_text(st, 4, cp->continue_token);
	rk_store_bind_text(st, 5, cp->last_namespace);
	rk_store_bind_text(st, 6, cp->last_name);
	sqlite3_bind_int(st, 7, cp->done ? 1 : 0);
	return rk_store_step_done(store, st, "save checkpoint", err);
}

static int save_counts(rk_store *store, int64_t run_id, const char *resource, const rk_counts *c, rk_err *err)
{
	sqlite3_stmt *st;
	if (rk_store_prepare(
	        store,
	        "INSERT INTO rewrite_counts(run_id, resource, rewritten, current, conflict, gone, orphan, "
	        "failed) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(run_id, resource) DO UPDATE SET "
	        "rewritten = excluded.rewritten, current = excluded.current, conflict = "
	        "excluded.conflict, gone = excluded.gone, orphan = excluded.orphan, failed = excluded.failed",
	        &st, err) != RK_OK)
		return err->code;
	sqlite3_bind_int64(st, 1, run_id);
	rk_store_bind_text(st, 2, resource);
	const int64_t values[] = {c->rewritten, c->current, c->conflict, c->gone, c->orphan, c->failed};
	for (int i = 0; i < 6; i++)
		sqlite3_bind_int64(st, 3 + i, values[i]);
	return rk_store_step_done(store, st, "save outcome counts", err);
}

int rk_store_batch_save(rk_store *store, int64_t run_id, const rk_checkpoint *cp, const char *resource,
                        const rk_counts *counts, const rk_batch_rows *rows, rk_err *err)
{
	if ((cp && check_checkpoint(cp, err) != RK_OK) ||
	    rk_store_check_len("resource", resource, RK_STORE_NAME_MAX, 1, err) != RK_OK ||
	    check_rows(rows, err) != RK_OK || rk_store_begin(store, err) != RK_OK)
		return err->code;
	if ((cp && save_checkpoint_row(store, run_id, cp, err) != RK_OK) ||
	    save_counts(store, run_id, resource, counts, err) != RK_OK ||
	    (rows && rk_store_refs_exec(
	                 store,
	                 "INSERT INTO orphans(run_id, resource, namespace, name) VALUES (?, ?, ?, ?) "
	                 "ON CONFLICT(run_id, resource, namespace, name) DO NOTHING",
	                 run_id, resource, rows->orphans, rows->norphans, "record orphan", err) != RK_OK) ||
	    (rows && rk_store_rows_save(store, run_id, resource, rows, err) != RK_OK)) {
		rk_store_rollback(store);
		return err->code;
	}
	return rk_store_commit(store, err);
}

int rk_store_checkpoint_save(rk_store *store, int64_t run_id, const rk_checkpoint *cp,
                             const rk_orphan_ref *orphans, size_t norphans, rk_err *err)
{
	rk_batch_rows rows = {.orphans = orphans, .norphans = norphans};
	return rk_store_batch_save(store, run_id, cp, cp->resource, &cp->counts, &rows, err);
}

static void read_checkpoint(sqlite3_stmt *st, rk_checkpoint *cp)
{
	rk_store_copy_col(cp->continue_token, sizeof cp->continue_token, st, 0);
	rk_store_copy_col(cp->last_namespace, sizeof cp->last_namespace, st, 1);
	rk_store_copy_col(cp->last_name, sizeof cp->last_name, st, 2);
	cp->done = sqlite3_column_int(st, 3);
	rk_store_copy_col(cp->updated_at, sizeof cp->updated_at, st, 4);
	int64_t *counts[] = {&cp->counts.rewritten, &cp->counts.current, &cp->counts.conflict,
	                     &cp->counts.gone,      &cp->counts.orphan,  &cp->counts.failed};
	for (int i = 0; i < 6; i++)
		*counts[i] = sqlite3_column_int64(st, 5 + i);
}

int rk_store_checkpoint_load(rk_store *store, int64_t run_id, const char *resource, const char *scope,
                             rk_checkpoint *cp, int *found, rk_err *err)
{
	sqlite3_stmt *st;
	memset(cp, 0, sizeof *cp);
	*found = 0;
	if (rk_store_check_len("resource", resource, sizeof cp->resource, 1, err) != RK_OK ||
	    rk_store_check_len("namespace scope", scope, sizeof cp->scope, 0, err) != RK_OK)
		return err->code;
	snprintf(cp->resource, sizeof cp->resource, "%s", resource);
	snprintf(cp->scope, sizeof cp->scope, "%s", scope ? scope : "");
	if (rk_store_prepare(
	        store,
	        "SELECT k.continue_token, k.last_namespace, k.last_name, k.done, k.updated_at, "
	        "c.rewritten, c.current, c.conflict, c.gone, c.orphan, c.failed FROM rewrite_checkpoints k "
	        "LEFT JOIN rewrite_counts c ON c.run_id = k.run_id AND c.resource = k.resource "
	        "WHERE k.run_id = ? AND k.resource = ? AND k.scope = ?",
	        &st, err) != RK_OK)
		return err->code;
	sqlite3_bind_int64(st, 1, run_id);
	rk_store_bind_text(st, 2, cp->resource);
	rk_store_bind_text(st, 3, cp->scope);
	int rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		read_checkpoint(st, cp);
	*found = rc == SQLITE_ROW;
	sqlite3_finalize(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return rk_store_db_error(store, "load checkpoint", err);
	return RK_OK;
}

int rk_store_count_rows(rk_store *store, const char *sql, int64_t run_id, int64_t *count, rk_err *err)
{
	sqlite3_stmt *st;
	*count = 0;
	if (rk_store_prepare(store, sql, &st, err) != RK_OK)
		return err->code;
	sqlite3_bind_int64(st, 1, run_id);
	int rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		*count = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	if (rc != SQLITE_ROW)
		return rk_store_db_error(store, "count", err);
	return RK_OK;
}

int rk_store_orphan_count(rk_store *store, int64_t run_id, int64_t *count, rk_err *err)
{
	return rk_store_count_rows(store, "SELECT count(*) FROM orphans WHERE run_id = ?", run_id, count,
	                           err);
}

static void read_orphan(sqlite3_stmt *st, rk_orphan *o)
{
	rk_store_copy_col(o->resource, sizeof o->resource, st, 0);
	rk_store_copy_col(o->namespace_, sizeof o->namespace_, st, 1);
	rk_store_copy_col(o->name, sizeof o->name, st, 2);
	rk_store_copy_col(o->seen_at, sizeof o->seen_at, st, 3);
}

int rk_store_orphan_list(rk_store *store, int64_t run_id, rk_orphan_cb cb, void *ud, rk_err *err)
{
	sqlite3_stmt *st;
	if (rk_store_prepare(
	        store, "SELECT resource, namespace, name, seen_at FROM orphans WHERE run_id = ? ORDER BY id",
	        &st, err) != RK_OK)
		return err->code;
	sqlite3_bind_int64(st, 1, run_id);
	int rc = SQLITE_DONE, stop = 0;
	rk_orphan o;
	while (!stop && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		read_orphan(st, &o);
		stop = cb(&o, ud);
	}
	sqlite3_finalize(st);
	if (!stop && rc != SQLITE_DONE)
		return rk_store_db_error(store, "list orphans", err);
	return stop;
}

int rk_store_counts_total(rk_store *store, int64_t run_id, rk_counts *counts, rk_err *err)
{
	sqlite3_stmt *st;
	memset(counts, 0, sizeof *counts);
	if (rk_store_prepare(
	        store,
	        "SELECT coalesce(sum(rewritten), 0), coalesce(sum(current), 0), coalesce(sum(conflict), 0), "
	        "coalesce(sum(gone), 0), coalesce(sum(orphan), 0), coalesce(sum(failed), 0) "
	        "FROM rewrite_counts WHERE run_id = ?",
	        &st, err) != RK_OK)
		return err->code;
	sqlite3_bind_int64(st, 1, run_id);
	int rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		int64_t *fields[] = {&counts->rewritten, &counts->current, &counts->conflict,
		                     &counts->gone,      &counts->orphan,  &counts->failed};
		for (int i = 0; i < 6; i++)
			*fields[i] = sqlite3_column_int64(st, i);
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_ROW)
		return rk_store_db_error(store, "sum outcome counts", err);
	return RK_OK;
}

int rk_store_budget_count(rk_store *store, int64_t run_id, int64_t *count, rk_err *err)
{
	return rk_store_count_rows(store, "SELECT count(*) FROM budget_decisions WHERE run_id = ?", run_id,
	                           count, err);
}

int rk_store_budget_insert(rk_store *store, int64_t run_id, const rk_budget_record *rec, rk_err *err)
{
	sqlite3_stmt *st;
	if (rk_store_check_len("budget decision", rec->decision, RK_STORE_SHORT_MAX, 1, err) != RK_OK ||
	    rk_store_check_len("budget reason", rec->reason, RK_STORE_DETAIL_MAX, 0, err) != RK_OK ||
	    rk_store_check_len("budget signal", rec->signal, RK_STORE_SHORT_MAX, 0, err) != RK_OK)
		return err->code;
	if (rk_store_prepare(
	        store,
	        "INSERT INTO budget_decisions(run_id, decision, p50_ms, p99_ms, error_ratio, rate_before, "
	        "rate_after, reason, signal) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
	        &st, err) != RK_OK)
		return err->code;
	sqlite3_bind_int64(st, 1, run_id);
	rk_store_bind_text(st, 2, rec->decision);
	const double values[] = {rec->p50_ms, rec->p99_ms, rec->error_ratio, rec->rate_before,
	                         rec->rate_after};
	for (int i = 0; i < 5; i++)
		sqlite3_bind_double(st, 3 + i, values[i]);
	rk_store_bind_text(st, 8, rec->reason);
	rk_store_bind_text(st, 9, rec->signal ? rec->signal : "");
	return rk_store_step_done(store, st, "record budget decision", err);
}
