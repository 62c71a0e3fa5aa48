/* store_probes.c: probe objects a rotation creates in the cluster, recorded before they exist and
 * marked deleted after, so leftovers can always be found and removed (see rekey/store.h). */
#include <stdio.h>
#include <string.h>

#include "store_internal.h"

static int check_probe(const char *namespace_, const char *name, rk_err *err)
{
	if (rk_store_check_len("probe namespace", namespace_, RK_STORE_NAME_MAX, 1, err) != RK_OK ||
	    rk_store_check_len("probe name", name, RK_STORE_NAME_MAX, 1, err) != RK_OK)
		return err->code;
	return RK_OK;
}

int rk_store_probe_record(rk_store *store, int64_t run_id, const char *namespace_, const char *name,
                          rk_err *err)
{
	sqlite3_stmt *st;
	if (check_probe(namespace_, name, err) != RK_OK ||
	    rk_store_prepare(store, "INSERT INTO probes(run_id, namespace, name) VALUES (?, ?, ?)", &st,
	                     err) != RK_OK)
		return err->code;
	sqlite3_bind_int64(st, 1, run_id);
	rk_store_bind_text(st, 2, namespace_);
	rk_store_bind_text(st, 3, name);
	return rk_store_step_done(store, st, "record a probe", err);
}

int rk_store_probe_deleted(rk_store *store, const char *namespace_, const char *name, rk_err *err)
{
	sqlite3_stmt *st;
	if (check_probe(namespace_, name, err) != RK_OK ||
	    rk_store_prepare(store,
	                     "UPDATE probes SET deleted_at = " RK_STORE_NOW
	                     " WHERE namespace = ? AND name = ? AND deleted_at IS NULL",
	                     &st, err) != RK_OK)
		return err->code;
	rk_store_bind_text(st, 1, namespace_);
	rk_store_bind_text(st, 2, name);
	return rk_store_step_done(store, st, "mark a probe deleted", err);
}

int rk_store_probe_left(rk_store *store, const char *cluster, rk_probe_cb cb, void *ud, rk_err *err)
{
	sqlite3_stmt *st;
	if (rk_store_prepare(store,
	                     "SELECT p.run_id, p.namespace, p.name, p.recorded_at FROM probes p "
	                     "JOIN runs r ON r.id = p.run_id JOIN clusters c ON c.id = r.cluster_id "
	                     "WHERE p.deleted_at IS NULL AND c.name = ? ORDER BY p.id",
	                     &st, err) != RK_OK)
		return err->code;
	rk_store_bind_text(st, 1, cluster);
	int rc = SQLITE_DONE, stop = 0;
	rk_probe probe;
	while (!stop && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		probe.run_id = sqlite3_column_int64(st, 0);
		rk_store_copy_col(probe.namespace_, sizeof probe.namespace_, st, 1);
		rk_store_copy_col(probe.name, sizeof probe.name, st, 2);
		rk_store_copy_col(probe.recorded_at, sizeof probe.recorded_at, st, 3);
		stop = cb(&probe, ud);
	}
	sqlite3_finalize(st);
	if (!stop && rc != SQLITE_DONE)
		return rk_store_db_error(store, "list probes", err);
	return stop;
}
