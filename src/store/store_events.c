/* store_events.c: key lifecycle events (fingerprints only, never key bytes) and audit events (who did
 * what, when) in the state store (see rekey/store.h). */
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "store_internal.h"

/* ---- key lifecycle ---- */

static int check_fingerprint(const char *fingerprint, rk_err *err)
{
	size_t n = fingerprint ? strlen(fingerprint) : 0;
	int hex = n == 16 && strspn(fingerprint, "0123456789abcdef") == n;
	if (!hex)
		return rk_err_set(
		    err, RK_BADINPUT,
		    "state db: a key fingerprint must be 16 lowercase hex characters (never key bytes)");
	return RK_OK;
}

static int check_key_event(const char *key_name, const char *provider, const char *event,
                           const char *backup_path, rk_err *err)
{
	if (rk_store_check_len("key name", key_name, RK_STORE_NAME_MAX, 1, err) != RK_OK ||
	    rk_store_check_len("provider", provider, RK_STORE_SHORT_MAX, 0, err) != RK_OK ||
	    rk_store_check_len("key event", event, RK_STORE_SHORT_MAX, 1, err) != RK_OK ||
	    rk_store_check_len("backup path", backup_path, RK_STORE_PATH_MAX, 0, err) != RK_OK)
		return err->code;
	return RK_OK;
}

/* One row; checked by the callers. key_id NULL = none. */
static int insert_key_event(rk_store *store, const char *cluster, const char *key_name, const char *provider,
                            const char *fingerprint, const char *event, const char *backup_path,
                            const char *key_id, rk_err *err)
{
	int64_t cluster_id;
	sqlite3_stmt *st;
	if (rk_store_cluster_upsert(store, cluster, &cluster_id, err) != RK_OK ||
	    rk_store_prepare(store,
	                     "INSERT INTO key_events(cluster_id, key_name, provider, fingerprint, event, "
	                     "backup_path, key_id) VALUES (?, ?, ?, ?, ?, ?, ?)",
	                     &st, err) != RK_OK)
		return err->code;
	sqlite3_bind_int64(st, 1, cluster_id);
	rk_store_bind_text(st, 2, key_name);
	rk_store_bind_text(st, 3, provider ? provider : "");
	rk_store_bind_text(st, 4, fingerprint);
	rk_store_bind_text(st, 5, event);
	rk_store_bind_text(st, 6, backup_path);
	rk_store_bind_text(st, 7, key_id);
	return rk_store_step_done(store, st, "record key event", err);
}

int rk_store_key_event_add(rk_store *store, const char *cluster, const char *key_name, const char *provider,
                           const char *fingerprint, const char *event, const char *backup_path, rk_err *err)
{
	if (check_fingerprint(fingerprint, err) != RK_OK ||
	    check_key_event(key_name, provider, event, backup_path, err) != RK_OK)
		return err->code;
	return insert_key_event(store, cluster, key_name, provider, fingerprint, event, backup_path, NULL,
	                        err);
}

int rk_store_kms_key_event_add(rk_store *store, const char *cluster, const char *provider_name,
                               const char *key_id, const char *event, rk_err *err)
{
	if (check_key_event(provider_name, "kms", event, NULL, err) != RK_OK ||
	    (key_id && rk_store_check_len("kms key_id", key_id, RK_STORE_KEY_ID_MAX, 1, err) != RK_OK))
		return err->code;
	return insert_key_event(store, cluster, provider_name, "kms", "", event, NULL, key_id, err);
}

static void read_key_event(sqlite3_stmt *st, rk_key_event *ev)
{
	rk_store_copy_col(ev->cluster, sizeof ev->cluster, st, 0);
	rk_store_copy_col(ev->key_name, sizeof ev->key_name, st, 1);
	rk_store_copy_col(ev->provider, sizeof ev->provider, st, 2);
	rk_store_copy_col(ev->fingerprint, sizeof ev->fingerprint, st, 3);
	rk_store_copy_col(ev->event, sizeof ev->event, st, 4);
	rk_store_copy_col(ev->backup_path, sizeof ev->backup_path, st, 5);
	rk_store_copy_col(ev->at, sizeof ev->at, st, 6);
	rk_store_copy_col(ev->key_id, sizeof ev->key_id, st, 7);
}

int rk_store_key_event_list(rk_store *store, const char *cluster, rk_key_event_cb cb, void *ud, rk_err *err)
{
	sqlite3_stmt *st;
	if (rk_store_prepare(store,
	                     "SELECT c.name, e.key_name, e.provider, e.fingerprint, e.event, e.backup_path, "
	                     "e.at, e.key_id "
	                     "FROM key_events e JOIN clusters c ON c.id = e.cluster_id "
	                     "WHERE ?1 IS NULL OR c.name = ?1 ORDER BY e.id",
	                     &st, err) != RK_OK)
		return err->code;
	rk_store_bind_text(st, 1, cluster);
	int rc = SQLITE_DONE, stop = 0;
	rk_key_event ev;
	while (!stop && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		read_key_event(st, &ev);
		stop = cb(&ev, ud);
	}
	sqlite3_finalize(st);
	if (!stop && rc != SQLITE_DONE)
		return rk_store_db_error(store, "list key events", err);
	return stop;
}

/* ---- audit ---- */

static void current_user(char *out, size_t cap)
{
	struct passwd pw, *found = NULL;
	char buf[4096];
	if (getpwuid_r(geteuid(), &pw, buf, sizeof buf, &found) == 0 && found)
		snprintf(out, cap, "%s", found->pw_name);
	else
		snprintf(out, cap, "uid:%u", (unsigned)geteuid());
}

static void current_host(char *out, size_t cap)
{
	if (gethostname(out, cap) != 0)
		snprintf(out, cap, "unknown");
	out[cap - 1] = '\0';
}

static int check_audit(const char *cluster, const char *action, const char *outcome, const char *detail,
                       rk_err *err)
{
	if (rk_store_check_len("cluster name", cluster, RK_STORE_NAME_MAX, 0, err) != RK_OK ||
	    rk_store_check_len("audit action", action, RK_STORE_SHORT_MAX, 1, err) != RK_OK ||
	    rk_store_check_len("audit outcome", outcome, RK_STORE_SHORT_MAX, 1, err) != RK_OK ||
	    rk_store_check_len("audit detail", detail, RK_STORE_DETAIL_MAX, 0, err) != RK_OK)
		return err->code;
	return RK_OK;
}

int rk_store_audit_add(rk_store *store, const char *cluster, int64_t run_id, const char *action,
                       const char *outcome, const char *detail, rk_err *err)
{
	char user[RK_STORE_SHORT_MAX], host[RK_STORE_NAME_MAX];
	sqlite3_stmt *st;
	if (check_audit(cluster, action, outcome, detail, err) != RK_OK ||
	    rk_store_prepare(store,
	                     "INSERT INTO audit_events(user, host, cluster, run_id, action, outcome, detail) "
	                     "VALUES (?, ?, ?, ?, ?, ?, ?)",
	                     &st, err) != RK_OK)
		return err->code;
	current_user(user, sizeof user);
	current_host(host, sizeof host);
	rk_store_bind_text(st, 1, user);
	rk_store_bind_text(st, 2, host);
	rk_store_bind_text(st, 3, cluster);
	if (run_id > 0)
		sqlite3_bind_int64(st, 4, run_id);
	else
		sqlite3_bind_null(st, 4);
	rk_store_bind_text(st, 5, action);
	rk_store_bind_text(st, 6, outcome);
	rk_store_bind_text(st, 7, detail);
	return rk_store_step_done(store, st, "record audit event", err);
}

static void read_audit(sqlite3_stmt *st, rk_audit_event *ev)
{
	rk_store_copy_col(ev->at, sizeof ev->at, st, 0);
	rk_store_copy_col(ev->user, sizeof ev->user, st, 1);
	rk_store_copy_col(ev->host, sizeof ev->host, st, 2);
	rk_store_copy_col(ev->cluster, sizeof ev->cluster, st, 3);
	ev->run_id = sqlite3_column_int64(st, 4);
	rk_store_copy_col(ev->action, sizeof ev->action, st, 5);
	rk_store_copy_col(ev->outcome, sizeof ev->outcome, st, 6);
	rk_store_copy_col(ev->detail, sizeof ev->detail, st, 7);
}

int rk_store_audit_list(rk_store *store, const char *cluster, unsigned limit, rk_audit_cb cb, void *ud,
                        rk_err *err)
{
	sqlite3_stmt *st;
	if (rk_store_prepare(
	        store,
	        "SELECT at, user, host, cluster, coalesce(run_id, 0), action, outcome, detail FROM "
	        "(SELECT * FROM audit_events WHERE ?1 IS NULL OR cluster = ?1 ORDER BY id DESC LIMIT ?2) "
	        "ORDER BY id",
	        &st, err) != RK_OK)
		return err->code;
	rk_store_bind_text(st, 1, cluster);
	sqlite3_bind_int64(st, 2, limit ? (sqlite3_int64)limit : -1);
	int rc = SQLITE_DONE, stop = 0;
	rk_audit_event ev;
	while (!stop && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		read_audit(st, &ev);
		stop = cb(&ev, ud);
	}
	sqlite3_finalize(st);
	if (!stop && rc != SQLITE_DONE)
		return rk_store_db_error(store, "list audit events", err);
	return stop;
}

int rk_store_history(const char *state_dir, const char *cluster, rk_key_event_cb on_key, rk_audit_cb on_audit,
                     void *ud, rk_err *err)
{
	rk_store *store = NULL;
	int rc = rk_store_open(state_dir, &store, err);
	if (rc == RK_OK)
		rc = rk_store_key_event_list(store, cluster, on_key, ud, err);
	if (rc == RK_OK)
		rc = rk_store_audit_list(store, cluster, 0, on_audit, ud, err);
	rk_store_close(store);
	return rc;
}
