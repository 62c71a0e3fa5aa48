/* store_internal.h (private): what store.c shares with store_runs.c, store_rewrite.c and store_events.c: the
 * handle and statement helpers. Not part of librekey's public API. */
#ifndef REKEY_STORE_INTERNAL_H
#define REKEY_STORE_INTERNAL_H

#include <sqlite3.h>

#include "rekey/store.h"

#define RK_STORE_NOW "strftime('%Y-%m-%dT%H:%M:%fZ', 'now')"

struct rk_store {
	sqlite3 *db;
	char path[RK_STORE_PATH_MAX];
	unsigned version; /* highest applied migration */
};

/* Fills err from the connection's last error: "state db PATH: what: sqlite message". Constraint
 * violations are RK_BADINPUT, everything else RK_FAIL. Returns the code. */
int rk_store_db_error(rk_store *store, const char *what, rk_err *err);
int rk_store_prepare(rk_store *store, const char *sql, sqlite3_stmt **st, rk_err *err);
void rk_store_bind_text(sqlite3_stmt *st, int idx, const char *value); /* NULL binds SQL NULL */
/* Steps a statement that returns no rows, then finalizes it. */
int rk_store_step_done(rk_store *store, sqlite3_stmt *st, const char *what, rk_err *err);
int rk_store_exec(rk_store *store, const char *sql, const char *what, rk_err *err);
int rk_store_begin(rk_store *store, rk_err *err);  /* BEGIN IMMEDIATE */
int rk_store_commit(rk_store *store, rk_err *err); /* rolls back when the commit fails */
void rk_store_rollback(rk_store *store);           /* no-op outside a transaction */
void rk_store_copy_col(char *dst, size_t cap, sqlite3_stmt *st, int col); /* NULL -> "" */
/* SELECT count(*) ... WHERE run_id = ?1 into *count. */
int rk_store_count_rows(rk_store *store, const char *sql, int64_t run_id, int64_t *count, rk_err *err);
/* Runs sql (parameters: run_id, resource, namespace, name) once per ref, inside the caller's transaction. */
int rk_store_refs_exec(rk_store *store, const char *sql, int64_t run_id, const char *resource,
                       const rk_orphan_ref *refs, size_t n, const char *what, rk_err *err);
/* Inside the caller's transaction: records rows->failures (the reason updated when already recorded) and
 * deletes the settled failures and orphans (store_failures.c). */
int rk_store_rows_save(rk_store *store, int64_t run_id, const char *resource, const rk_batch_rows *rows,
                       rk_err *err);
/* RK_BADINPUT when value does not fit cap (with its NUL), or is NULL/"" and required. */
int rk_store_check_len(const char *field, const char *value, size_t cap, int required, rk_err *err);

#endif
