/* store_kms.c: the key_id a KEK rotation targets, one per run (table kms_targets, migration 0006; see
 * rekey/store.h). */
#include <string.h>

#include "store_internal.h"

int rk_store_kms_target_set(rk_store *store, int64_t run_id, const char *provider, const char *key_id,
                            const char *source, rk_err *err)
{
	sqlite3_stmt *st;
	if (rk_store_check_len("kms provider", provider, RK_STORE_NAME_MAX, 1, err) != RK_OK ||
	    rk_store_check_len("kms key_id", key_id, RK_STORE_KEY_ID_MAX, 1, err) != RK_OK ||
	    rk_store_prepare(store,
	                     "INSERT INTO kms_targets(run_id, provider, key_id, source) VALUES (?, ?, ?, ?) "
	                     "ON CONFLICT(run_id) DO NOTHING",
	                     &st, err) != RK_OK)
		return err->code;
	sqlite3_bind_int64(st, 1, run_id);
	rk_store_bind_text(st, 2, provider);
	rk_store_bind_text(st, 3, key_id);
	rk_store_bind_text(st, 4, source);
	return rk_store_step_done(store, st, "record the kms target key_id", err);
}

int rk_store_kms_target_get(rk_store *store, int64_t run_id, char key_id[RK_STORE_KEY_ID_MAX], int *found,
                            rk_err *err)
{
	sqlite3_stmt *st;
	*found = 0;
	key_id[0] = '\0';
	if (rk_store_prepare(store, "SELECT key_id FROM kms_targets WHERE run_id = ?", &st, err) != RK_OK)
		return err->code;
	sqlite3_bind_int64(st, 1, run_id);
	int rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		rk_store_copy_col(key_id, RK_STORE_KEY_ID_MAX, st, 0);
		*found = 1;
	}
	sqlite3_finalize(st);
	return rc == SQLITE_ROW || rc == SQLITE_DONE ? RK_OK
	                                             : rk_store_db_error(store, "read the kms target", err);
}
