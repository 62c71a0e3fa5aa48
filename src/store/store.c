/* store.c: opening the SQLite state store (state dir, file modes, WAL, migrations) and the small
 * statement helpers the record modules (store_runs.c, store_rewrite.c, store_events.c) build on. See
 * include/rekey/store.h. */
#include "rekey/store.h"

#include <errno.h>
#include <fcntl.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "rekey/log.h"
#include "store_internal.h"

/* ---- statement helpers shared with the record modules ---- */

int rk_store_db_error(rk_store *store, const char *what, rk_err *err)
{
	int rc = sqlite3_extended_errcode(store->db);
	int code = RK_FAIL;
	const char *hint = "";
	if ((rc & 0xff) == SQLITE_CONSTRAINT)
		code = RK_BADINPUT;
	if ((rc & 0xff) == SQLITE_BUSY || (rc & 0xff) == SQLITE_LOCKED)
		hint = " (another rekeyctl holds the state db?)";
	return rk_err_set(err, code, "state db %s: %s: %s%s", store->path, what, sqlite3_errmsg(store->db),
	                  hint);
}

int rk_store_prepare(rk_store *store, const char *sql, sqlite3_stmt **st, rk_err *err)
{
	if (sqlite3_prepare_v2(store->db, sql, -1, st, NULL) != SQLITE_OK) {
		*st = NULL;
		return rk_store_db_error(store, "prepare", err);
	}
	return RK_OK;
}

void rk_store_bind_text(sqlite3_stmt *st, int idx, const char *value)
{
	if (value)
		sqlite3_bind_text(st, idx, value, -1, SQLITE_TRANSIENT);
	else
		sqlite3_bind_null(st, idx);
}

int rk_store_step_done(rk_store *store, sqlite3_stmt *st, const char *what, rk_err *err)
{
	int rc = sqlite3_step(st);
	int ret = rc == SQLITE_DONE ? RK_OK : rk_store_db_error(store, what, err);
	sqlite3_finalize(st);
	return ret;
}

int rk_store_exec(rk_store *store, const char *sql, const char *what, rk_err *err)
{
	if (sqlite3_exec(store->db, sql, NULL, NULL, NULL) != SQLITE_OK)
		return rk_store_db_error(store, what, err);
	return RK_OK;
}

int rk_store_begin(rk_store *store, rk_err *err)
{
	return rk_store_exec(store, "BEGIN IMMEDIATE", "begin", err);
}

int rk_store_commit(rk_store *store, rk_err *err)
{
	int rc = rk_store_exec(store, "COMMIT", "commit", err);
	if (rc != RK_OK)
		rk_store_rollback(store);
	return rc;
}

void rk_store_rollback(rk_store *store)
{
	if (!sqlite3_get_autocommit(store->db))
		sqlite3_exec(store->db, "ROLLBACK", NULL, NULL, NULL);
}

void rk_store_copy_col(char *dst, size_t cap, sqlite3_stmt *st, int col)
{
	const unsigned char *text = sqlite3_column_text(st, col);
	snprintf(dst, cap, "%s", text ? (const char *)text : "");
}

int rk_store_check_len(const char *field, const char *value, size_t cap, int required, rk_err *err)
{
	if (!value || !*value) {
		if (required)
			return rk_err_set(err, RK_BADINPUT, "state db: %s is required", field);
		return RK_OK;
	}
	if (strlen(value) >= cap)
		return rk_err_set(err, RK_BADINPUT, "state db: %s is longer than %zu bytes", field, cap - 1);
	return RK_OK;
}

/* ---- where the state lives ---- */

int rk_store_state_dir(const char *override, char *out, size_t cap, rk_err *err)
{
	const char *xdg = getenv("XDG_STATE_HOME");
	const char *home = getenv("HOME");
	int n;
	if (override && *override)
		n = snprintf(out, cap, "%s", override);
	else if (xdg && *xdg == '/')
		n = snprintf(out, cap, "%s/rekeyctl", xdg);
	else if (home && *home)
		n = snprintf(out, cap, "%s/.local/state/rekeyctl", home);
	else
		return rk_err_set(err, RK_BADINPUT,
		                  "no state directory: set --state, XDG_STATE_HOME or HOME");
	if (n < 0 || (size_t)n >= cap)
		return rk_err_set(err, RK_BADINPUT, "state directory path is too long");
	return RK_OK;
}

/* Creates every missing component of path with mode 0700. */
static int make_dirs(char *path, rk_err *err)
{
	for (char *p = path + 1;; p++) {
		if (*p != '/' && *p != '\0')
			continue;
		char saved = *p;
		*p = '\0';
		int rc = mkdir(path, 0700);
		*p = saved;
		if (rc != 0 && errno != EEXIST)
			return rk_err_set(err, RK_FAIL, "cannot create state directory %s: %s", path,
			                  strerror(errno));
		if (saved == '\0')
			return RK_OK;
	}
}

/* Refuses a path owned by someone else; tightens group/other permission bits with a warning. */
static int check_owner_mode(const char *path, int fd, const struct stat *st, unsigned mode, rk_err *err)
{
	if (st->st_uid != geteuid())
		return rk_err_set(err, RK_UNSAFE,
		                  "%s is owned by uid %u, not by you (uid %u): refusing to use it", path,
		                  (unsigned)st->st_uid, (unsigned)geteuid());
	if ((st->st_mode & 077) == 0)
		return RK_OK;
	rk_warn("store.permissions", "%s was mode %03o (open to group/others); setting %03o", path,
	        (unsigned)(st->st_mode & 0777), mode);
	int rc = fd >= 0 ? fchmod(fd, mode) : chmod(path, mode);
	if (rc != 0)
		return rk_err_set(err, RK_UNSAFE, "%s is open to group/others and chmod failed: %s", path,
		                  strerror(errno));
	return RK_OK;
}

static int prepare_dir(const char *dir, rk_err *err)
{
	char path[RK_STORE_PATH_MAX];
	snprintf(path, sizeof path, "%s", dir);
	if (make_dirs(path, err) != RK_OK)
		return err ? err->code : RK_FAIL;
	struct stat st;
	if (lstat(dir, &st) != 0)
		return rk_err_set(err, RK_FAIL, "state directory %s: %s", dir, strerror(errno));
	if (!S_ISDIR(st.st_mode))
		return rk_err_set(err, RK_BADINPUT,
		                  "state directory %s is not a directory (symlinks are not followed)", dir);
	return check_owner_mode(dir, -1, &st, 0700, err);
}

/* Creates state.db 0600 before SQLite opens it (SQLite gives its -wal/-shm files the same mode). */
static int prepare_db_file(const char *path, rk_err *err)
{
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return rk_err_set(err, RK_FAIL, "state db %s: %s", path, strerror(errno));
	struct stat st;
	int rc = RK_OK;
	if (fstat(fd, &st) != 0)
		rc = rk_err_set(err, RK_FAIL, "state db %s: %s", path, strerror(errno));
	else if (!S_ISREG(st.st_mode))
		rc = rk_err_set(err, RK_BADINPUT, "state db %s is not a regular file", path);
	else
		rc = check_owner_mode(path, fd, &st, 0600, err);
	close(fd);
	return rc;
}

/* ---- migrations ---- */

static int check_migration_list(const struct rk_migration *migrations, size_t count, rk_err *err)
{
	for (size_t i = 0; i < count; i++) {
		if (migrations[i].version == 0 || !migrations[i].sql || !migrations[i].name)
			return rk_err_set(err, RK_FAIL, "migration %zu is malformed", i);
		if (i > 0 && migrations[i].version <= migrations[i - 1].version)
			return rk_err_set(err, RK_FAIL, "migrations out of order: %s after %s",
			                  migrations[i].name, migrations[i - 1].name);
	}
	return RK_OK;
}

static int query_int(rk_store *store, const char *sql, int64_t *value, rk_err *err)
{
	sqlite3_stmt *st;
	if (rk_store_prepare(store, sql, &st, err) != RK_OK)
		return err->code;
	int rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		*value = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return rk_store_db_error(store, "query", err);
	return RK_OK;
}

/* Highest recorded migration; 0 for a new db. Reads only: nothing is written before the version check. */
static int read_schema_version(rk_store *store, unsigned *version, rk_err *err)
{
	int64_t has_table = 0, max_version = 0;
	if (query_int(store,
	              "SELECT count(*) FROM sqlite_master WHERE type='table' AND name='schema_migrations'",
	              &has_table, err) != RK_OK)
		return err->code;
	if (has_table && query_int(store, "SELECT coalesce(max(version), 0) FROM schema_migrations",
	                           &max_version, err) != RK_OK)
		return err->code;
	*version = (unsigned)max_version;
	return RK_OK;
}

static int refuse_newer(rk_store *store, unsigned db_version, const struct rk_migration *migrations,
                        size_t count, rk_err *err)
{
	unsigned known = count ? migrations[count - 1].version : 0;
	if (db_version <= known)
		return RK_OK;
	return rk_err_set(
	    err, RK_UNSAFE,
	    "state db %s has schema version %u, newer than this rekeyctl's %u: it was written by a "
	    "newer rekeyctl; upgrade rekeyctl or use another --state directory (the db was not changed)",
	    store->path, db_version, known);
}

static const struct rk_migration *find_migration(const struct rk_migration *migrations, size_t count,
                                                 unsigned version)
{
	for (size_t i = 0; i < count; i++)
		if (migrations[i].version == version)
			return &migrations[i];
	return NULL;
}

/* Every migration the db recorded must be the binary's migration of that version (same name): a db
 * from a diverging build is refused rather than migrated on top of a schema we do not know. */
static int check_applied(rk_store *store, const struct rk_migration *migrations, size_t count, rk_err *err)
{
	sqlite3_stmt *st;
	if (store->version == 0)
		return RK_OK;
	if (rk_store_prepare(store, "SELECT version, name FROM schema_migrations ORDER BY version", &st,
	                     err) != RK_OK)
		return err->code;
	int rc = RK_OK;
	while (rc == RK_OK && sqlite3_step(st) == SQLITE_ROW) {
		unsigned version = (unsigned)sqlite3_column_int64(st, 0);
		const char *name = (const char *)sqlite3_column_text(st, 1);
		const struct rk_migration *m = find_migration(migrations, count, version);
		if (!m || !name || strcmp(m->name, name) != 0)
			rc = rk_err_set(
			    err, RK_UNSAFE,
			    "state db %s has migration %u \"%s\" but this rekeyctl's is \"%s\": it was "
			    "written by a different build; use that build or another --state directory",
			    store->path, version, name ? name : "", m ? m->name : "(none)");
	}
	sqlite3_finalize(st);
	return rc;
}

static int record_migration(rk_store *store, const struct rk_migration *m, rk_err *err)
{
	sqlite3_stmt *st;
	if (rk_store_prepare(store, "INSERT INTO schema_migrations(version, name) VALUES (?, ?)", &st, err) !=
	    RK_OK)
		return err->code;
	sqlite3_bind_int64(st, 1, m->version);
	rk_store_bind_text(st, 2, m->name);
	return rk_store_step_done(store, st, "record migration", err);
}

/* One migration in its own transaction; skipped when another process applied it meanwhile. */
static int apply_migration(rk_store *store, const struct rk_migration *m, rk_err *err)
{
	if (rk_store_begin(store, err) != RK_OK)
		return err->code;
	unsigned now_version = 0;
	int rc = read_schema_version(store, &now_version, err);
	if (rc == RK_OK && now_version < m->version) {
		if (sqlite3_exec(store->db, m->sql, NULL, NULL, NULL) != SQLITE_OK)
			rc = rk_store_db_error(store, "migration failed", err);
		else
			rc = record_migration(store, m, err);
		if (rc != RK_OK)
			rk_err_prefix(err, "migration %s", m->name);
	}
	if (rc != RK_OK) {
		rk_store_rollback(store);
		return rc;
	}
	return rk_store_commit(store, err);
}

static int migrate(rk_store *store, const struct rk_migration *migrations, size_t count, rk_err *err)
{
	const char *table = "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, "
	                    "name TEXT NOT NULL, applied_at TEXT NOT NULL DEFAULT "
	                    "(strftime('%Y-%m-%dT%H:%M:%fZ', 'now')))";
	if (rk_store_exec(store, table, "create schema_migrations", err) != RK_OK)
		return err->code;
	for (size_t i = 0; i < count; i++) {
		if (migrations[i].version <= store->version)
			continue;
		if (apply_migration(store, &migrations[i], err) != RK_OK)
			return err->code;
		rk_debug("store.migrated", "state db %s: applied migration %s", store->path,
		         migrations[i].name);
		store->version = migrations[i].version;
	}
	return RK_OK;
}

/* ---- open/close ---- */

static int set_pragmas(rk_store *store, rk_err *err)
{
	sqlite3_busy_timeout(store->db, RK_STORE_BUSY_TIMEOUT_MS);
	return rk_store_exec(store, "PRAGMA foreign_keys = ON", "enable foreign keys", err);
}

/* Runs "PRAGMA journal_mode = WAL" once; SQLITE_ROW with the mode in `mode`, or SQLite's error code. */
static int try_wal(rk_store *store, char *mode, size_t cap)
{
	sqlite3_stmt *st;
	int rc = sqlite3_prepare_v2(store->db, "PRAGMA journal_mode = WAL", -1, &st, NULL);
	if (rc != SQLITE_OK)
		return rc;
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		rk_store_copy_col(mode, cap, st, 0);
	sqlite3_finalize(st);
	return rc;
}

/* Switching the journal mode does not wait on the busy handler when another process holds a lock (two
 * rekeyctl opening a new db at once), so it is retried here for up to the busy timeout. */
static int enable_wal(rk_store *store, rk_err *err)
{
	char mode[16] = "";
	int rc = SQLITE_BUSY;
	for (int waited = 0; waited <= RK_STORE_BUSY_TIMEOUT_MS; waited += 10) {
		rc = try_wal(store, mode, sizeof mode);
		if ((rc & 0xff) != SQLITE_BUSY && (rc & 0xff) != SQLITE_LOCKED)
			break;
		sqlite3_sleep(10);
	}
	if (rc != SQLITE_ROW || strcmp(mode, "wal") != 0)
		return rk_store_db_error(store, "cannot enable WAL mode", err);
	return RK_OK;
}

static int connect_db(rk_store *store, rk_err *err)
{
	int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOFOLLOW | SQLITE_OPEN_FULLMUTEX;
	if (sqlite3_open_v2(store->path, &store->db, flags, NULL) != SQLITE_OK)
		return rk_store_db_error(store, "open", err);
	if (set_pragmas(store, err) != RK_OK)
		return err->code;
	if (read_schema_version(store, &store->version, err) != RK_OK) {
		if (err->code == RK_FAIL)
			err->code = RK_BADINPUT; /* "file is not a database" and the like */
		return err->code;
	}
	return RK_OK;
}

int rk_store_open_with(const char *state_dir, const struct rk_migration *migrations, size_t count,
                       rk_store **out, rk_err *err)
{
	char dir[RK_STORE_PATH_MAX - 16];
	*out = NULL;
	if (rk_store_state_dir(state_dir, dir, sizeof dir, err) != RK_OK ||
	    check_migration_list(migrations, count, err) != RK_OK || prepare_dir(dir, err) != RK_OK)
		return err->code;
	rk_store *store = calloc(1, sizeof *store);
	if (!store)
		return rk_err_set(err, RK_FAIL, "out of memory");
	snprintf(store->path, sizeof store->path, "%s/%s", dir, RK_STORE_DB_NAME);
	int rc = prepare_db_file(store->path, err);
	if (rc == RK_OK)
		rc = connect_db(store, err);
	if (rc == RK_OK)
		rc = refuse_newer(store, store->version, migrations, count, err);
	if (rc == RK_OK)
		rc = check_applied(store, migrations, count, err);
	if (rc == RK_OK)
		rc = enable_wal(store, err);
	if (rc == RK_OK)
		rc = migrate(store, migrations, count, err);
	if (rc != RK_OK) {
		rk_store_close(store);
		return rc;
	}
	*out = store;
	return RK_OK;
}

int rk_store_open(const char *state_dir, rk_store **out, rk_err *err)
{
	return rk_store_open_with(state_dir, rk_migrations, rk_migrations_count, out, err);
}

void rk_store_close(rk_store *store)
{
	if (!store)
		return;
	sqlite3_close(store->db);
	free(store);
}

unsigned rk_store_schema_version(const rk_store *store)
{
	return store->version;
}
const char *rk_store_path(const rk_store *store)
{
	return store->path;
}

double rk_store_time_parse(const char *text)
{
	struct tm tm;
	memset(&tm, 0, sizeof tm);
	int ms = 0;
	if (!text || sscanf(text, "%d-%d-%dT%d:%d:%d.%dZ", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour,
	                    &tm.tm_min, &tm.tm_sec, &ms) < 6)
		return -1;
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	return (double)timegm(&tm) + ms / 1000.0;
}
