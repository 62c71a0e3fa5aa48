/* test_store.c: the SQLite state store on real files: modes, WAL, migrations (fresh, upgrade, newer db
 * refused untouched, failed migration rolled back), runs, idempotent stages, checkpoints in one
 * transaction (injected failure and kill -9), budget/key/audit records, no key material in the db. */
#include <check.h>
#include <pwd.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "rekey/encconfig.h"
#include "rekey/store.h"
#include "testutil.h"

static const struct rk_migration test_v1[] = {
    {1, "0001_a", "CREATE TABLE a (x TEXT NOT NULL);"},
};
static const struct rk_migration test_v2[] = {
    {1, "0001_a", "CREATE TABLE a (x TEXT NOT NULL);"},
    {2, "0002_b", "CREATE TABLE b (y INTEGER); ALTER TABLE a ADD COLUMN z INTEGER NOT NULL DEFAULT 7;"},
};
static const struct rk_migration test_bad[] = {
    {1, "0001_a", "CREATE TABLE a (x TEXT NOT NULL);"},
    {2, "0002_broken", "CREATE TABLE c (x); INSERT INTO no_such_table VALUES (1);"},
};

static char *tmpdir;
static char *statedir;
static char *dbpath;

static void setup(void)
{
	tmpdir = tu_mkdtemp();
	ck_assert_ptr_nonnull(tmpdir);
	statedir = tu_path(tmpdir, "nested/state");
	dbpath = tu_path(statedir, "state.db");
}

static void teardown(void)
{
	tu_rmtree(tmpdir);
	free(tmpdir);
	free(statedir);
	free(dbpath);
}

static rk_store *open_default(void)
{
	rk_store *store = NULL;
	rk_err err;
	int rc = rk_store_open(statedir, &store, &err);
	ck_assert_msg(rc == RK_OK, "open: %s", err.msg);
	return store;
}

/* Runs one query on a separate raw connection and returns the first column of the first row as text. */
static char *raw_query(const char *sql)
{
	sqlite3 *db;
	sqlite3_stmt *st;
	char *out = NULL;
	ck_assert_int_eq(sqlite3_open_v2(dbpath, &db, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
	sqlite3_busy_timeout(db, 5000); /* another process may be writing (kill -9 test) */
	ck_assert_msg(sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK, "%s", sqlite3_errmsg(db));
	if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0))
		out = strdup((const char *)sqlite3_column_text(st, 0));
	sqlite3_finalize(st);
	sqlite3_close(db);
	return out ? out : strdup("");
}

static void raw_exec(const char *sql)
{
	sqlite3 *db;
	ck_assert_int_eq(sqlite3_open_v2(dbpath, &db, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
	sqlite3_busy_timeout(db, 5000);
	ck_assert_msg(sqlite3_exec(db, sql, NULL, NULL, NULL) == SQLITE_OK, "%s", sqlite3_errmsg(db));
	sqlite3_close(db);
}

static void assert_query(const char *sql, const char *want)
{
	char *got = raw_query(sql);
	ck_assert_msg(!strcmp(got, want), "%s: got \"%s\", want \"%s\"", sql, got, want);
	free(got);
}

static unsigned mode_of(const char *path)
{
	struct stat st;
	ck_assert_int_eq(stat(path, &st), 0);
	return st.st_mode & 0777;
}

/* Every embedded migration applied exactly once. */
static void assert_migration_count(void)
{
	char want[16];
	snprintf(want, sizeof want, "%u", rk_migrations_count);
	assert_query("SELECT count(*) FROM schema_migrations", want);
}

START_TEST(fresh_db_has_schema_modes_and_wal)
{
	rk_store *store = open_default();
	ck_assert_uint_eq(rk_store_schema_version(store), rk_migrations[rk_migrations_count - 1].version);
	ck_assert_str_eq(rk_store_path(store), dbpath);
	ck_assert_uint_eq(mode_of(statedir), 0700);
	ck_assert_uint_eq(mode_of(dbpath), 0600);
	const char *tables[] = {"clusters",         "runs",
	                        "stages",           "rewrite_checkpoints",
	                        "rewrite_counts",   "orphans",
	                        "budget_decisions", "key_events",
	                        "audit_events",     "schema_migrations",
	                        "probes",           "kms_targets",
	                        "rewrite_failures"};
	for (size_t i = 0; i < sizeof tables / sizeof tables[0]; i++) {
		char sql[256];
		snprintf(sql, sizeof sql,
		         "SELECT count(*) FROM sqlite_master WHERE type='table' AND name='%s'", tables[i]);
		assert_query(sql, "1");
	}
	assert_query("SELECT name FROM schema_migrations WHERE version = 1", "0001_init");
	assert_query("PRAGMA journal_mode", "wal");
	char *wal = tu_path(statedir, "state.db-wal");
	ck_assert_uint_eq(mode_of(wal), 0600); /* SQLite gives the WAL the db file's mode */
	free(wal);
	rk_store_close(store);
	/* reopening applies nothing twice */
	store = open_default();
	assert_migration_count();
	rk_store_close(store);
}
END_TEST

START_TEST(loose_modes_are_tightened)
{
	char *nested = tu_path(tmpdir, "nested");
	ck_assert_int_eq(mkdir(nested, 0755), 0);
	ck_assert_int_eq(mkdir(statedir, 0755), 0);
	ck_assert_int_eq(tu_write_file(dbpath, "", 0), 0);
	ck_assert_int_eq(chmod(dbpath, 0644), 0);
	rk_store *store = open_default();
	ck_assert_uint_eq(mode_of(statedir), 0700);
	ck_assert_uint_eq(mode_of(dbpath), 0600);
	rk_store_close(store);
	free(nested);
}
END_TEST

START_TEST(foreign_or_symlinked_dir_is_refused)
{
	rk_store *store = NULL;
	rk_err err;
	char *real = tu_path(tmpdir, "real");
	char *nested = tu_path(tmpdir, "nested");
	ck_assert_int_eq(mkdir(real, 0700), 0);
	ck_assert_int_eq(mkdir(nested, 0700), 0);
	ck_assert_int_eq(symlink(real, statedir), 0);
	ck_assert_int_eq(rk_store_open(statedir, &store, &err), RK_BADINPUT);
	ck_assert_ptr_nonnull(strstr(err.msg, "symlinks are not followed"));
	if (geteuid() == 0) { /* root can hand the directory to someone else */
		ck_assert_int_eq(chown(real, 65534, 65534), 0);
		ck_assert_int_eq(rk_store_open(real, &store, &err), RK_UNSAFE);
		ck_assert_ptr_nonnull(strstr(err.msg, "owned by uid 65534"));
	}
	ck_assert_ptr_null(store);
	free(real);
	free(nested);
}
END_TEST

START_TEST(state_dir_resolution)
{
	char dir[256];
	rk_err err;
	ck_assert_int_eq(rk_store_state_dir("/x/y", dir, sizeof dir, &err), RK_OK);
	ck_assert_str_eq(dir, "/x/y");
	setenv("XDG_STATE_HOME", "/xdg", 1);
	setenv("HOME", "/home/u", 1);
	ck_assert_int_eq(rk_store_state_dir(NULL, dir, sizeof dir, &err), RK_OK);
	ck_assert_str_eq(dir, "/xdg/rekeyctl");
	setenv("XDG_STATE_HOME", "relative", 1); /* the XDG spec says relative paths are ignored */
	ck_assert_int_eq(rk_store_state_dir("", dir, sizeof dir, &err), RK_OK);
	ck_assert_str_eq(dir, "/home/u/.local/state/rekeyctl");
	unsetenv("XDG_STATE_HOME");
	unsetenv("HOME");
	ck_assert_int_eq(rk_store_state_dir(NULL, dir, sizeof dir, &err), RK_BADINPUT);
	ck_assert_int_eq(rk_store_state_dir("/a/very/long/path", dir, 8, &err), RK_BADINPUT);
}
END_TEST

/* Several rekeyctl processes opening a new state dir at once: each migration is applied once. */
START_TEST(concurrent_first_open)
{
	enum { NPROC = 4 };
	pid_t pids[NPROC];
	for (int i = 0; i < NPROC; i++) {
		pids[i] = fork();
		ck_assert_int_ge(pids[i], 0);
		if (pids[i] == 0) {
			rk_store *store = NULL;
			rk_err err;
			int rc = rk_store_open(statedir, &store, &err);
			if (rc == RK_OK)
				rc = rk_store_audit_add(store, "c", 0, "open", "ok", NULL, &err);
			if (rc != RK_OK)
				fprintf(stderr, "child: %s\n", err.msg);
			rk_store_close(store);
			_exit(rc);
		}
	}
	for (int i = 0; i < NPROC; i++) {
		int status;
		waitpid(pids[i], &status, 0);
		ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child %d failed (status %d)", i,
		              status);
	}
	assert_migration_count();
	assert_query("SELECT count(*) FROM audit_events", "4");
}
END_TEST

START_TEST(upgrade_applies_new_migration_and_keeps_data)
{
	rk_store *store = NULL;
	rk_err err;
	ck_assert_int_eq(rk_store_open_with(statedir, test_v1, 1, &store, &err), RK_OK);
	ck_assert_uint_eq(rk_store_schema_version(store), 1);
	rk_store_close(store);
	raw_exec("INSERT INTO a(x) VALUES ('kept')");
	ck_assert_int_eq(rk_store_open_with(statedir, test_v2, 2, &store, &err), RK_OK);
	ck_assert_uint_eq(rk_store_schema_version(store), 2);
	rk_store_close(store);
	assert_query("SELECT x || '/' || z FROM a", "kept/7");
	assert_query("SELECT count(*) FROM sqlite_master WHERE name = 'b'", "1");
	assert_query("SELECT group_concat(version || ':' || name, ',') FROM schema_migrations",
	             "1:0001_a,2:0002_b");
}
END_TEST

START_TEST(newer_db_is_refused_untouched)
{
	rk_store *store = NULL;
	rk_err err;
	ck_assert_int_eq(rk_store_open_with(statedir, test_v2, 2, &store, &err), RK_OK);
	rk_store_close(store);
	size_t before_len, after_len;
	char *before = tu_read_file(dbpath, &before_len);
	ck_assert_int_eq(rk_store_open_with(statedir, test_v1, 1, &store, &err), RK_UNSAFE);
	ck_assert_ptr_null(store);
	ck_assert_msg(strstr(err.msg, "schema version 2") && strstr(err.msg, "rekeyctl's 1"), "%s", err.msg);
	ck_assert_ptr_nonnull(strstr(err.msg, dbpath));
	char *after = tu_read_file(dbpath, &after_len);
	ck_assert_uint_eq(before_len, after_len);
	ck_assert_int_eq(memcmp(before, after, before_len), 0);
	assert_query("SELECT max(version) FROM schema_migrations", "2");
	free(before);
	free(after);
}
END_TEST

START_TEST(diverging_migration_is_refused)
{
	rk_store *store = NULL;
	rk_err err;
	ck_assert_int_eq(rk_store_open_with(statedir, test_v2, 2, &store, &err), RK_OK);
	rk_store_close(store);
	const struct rk_migration other[] = {
	    test_v2[0], {2, "0002_other", "CREATE TABLE o (x);"}, {3, "0003_more", "CREATE TABLE m (x);"}};
	ck_assert_int_eq(rk_store_open_with(statedir, other, 3, &store, &err), RK_UNSAFE);
	ck_assert_msg(strstr(err.msg, "migration 2 \"0002_b\"") && strstr(err.msg, "\"0002_other\""), "%s",
	              err.msg);
	assert_query("SELECT count(*) FROM sqlite_master WHERE name IN ('o', 'm')", "0");
	assert_query("SELECT max(version) FROM schema_migrations", "2");
}
END_TEST

START_TEST(failed_migration_rolls_back)
{
	rk_store *store = NULL;
	rk_err err;
	ck_assert_int_eq(rk_store_open_with(statedir, test_bad, 2, &store, &err), RK_FAIL);
	ck_assert_ptr_null(store);
	ck_assert_msg(strstr(err.msg, "0002_broken") && strstr(err.msg, "no_such_table"), "%s", err.msg);
	assert_query("SELECT max(version) FROM schema_migrations", "1");
	assert_query("SELECT count(*) FROM sqlite_master WHERE name = 'c'", "0");
	/* a list out of order is refused before anything is touched */
	const struct rk_migration swapped[] = {test_v2[1], test_v2[0]};
	ck_assert_int_eq(rk_store_open_with(statedir, swapped, 2, &store, &err), RK_FAIL);
	ck_assert_ptr_nonnull(strstr(err.msg, "out of order"));
}
END_TEST

static void make_statedir(void)
{
	char *nested = tu_path(tmpdir, "nested");
	ck_assert_int_eq(mkdir(nested, 0700), 0);
	ck_assert_int_eq(mkdir(statedir, 0700), 0);
	free(nested);
}

START_TEST(garbage_file_is_bad_input)
{
	make_statedir();
	const char junk[] = "this is not an SQLite database, just some text that is long enough to read";
	ck_assert_int_eq(tu_write_file(dbpath, junk, sizeof junk), 0);
	rk_store *store = NULL;
	rk_err err;
	ck_assert_int_eq(rk_store_open(statedir, &store, &err), RK_BADINPUT);
	ck_assert_ptr_null(store);
	ck_assert_msg(strstr(err.msg, dbpath) != NULL, "%s", err.msg);
	size_t len;
	char *after = tu_read_file(dbpath, &len);
	ck_assert_uint_eq(len, sizeof junk);
	free(after);
}
END_TEST

static int64_t new_run(rk_store *store, const char *cluster, const char *kind)
{
	rk_run_spec spec = {.cluster = cluster,
	                    .kind = kind,
	                    .plan_hash = "sha256:abc",
	                    .provider = "aescbc",
	                    .old_key = "aescbc-1",
	                    .new_key = "aescbc-2"};
	int64_t id = 0;
	rk_err err;
	int rc = rk_store_run_create(store, &spec, &id, &err);
	ck_assert_msg(rc == RK_OK, "%s", err.msg);
	ck_assert_int_gt(id, 0);
	return id;
}

struct text {
	char text[2048];
};

static int collect_run(const rk_run *run, void *ud)
{
	struct text *t = ud;
	snprintf(t->text + strlen(t->text), sizeof t->text - strlen(t->text), "%lld,", (long long)run->id);
	return 0;
}

START_TEST(runs_create_get_latest_state)
{
	rk_store *store = open_default();
	rk_err err;
	int64_t r1 = new_run(store, "prod", "rotate");
	int64_t r2 = new_run(store, "prod", "rewrite");
	new_run(store, "other", "rotate");
	int64_t cid = 0;
	ck_assert_int_eq(rk_store_cluster_get(store, "prod", &cid, &err), RK_OK);
	ck_assert_int_gt(cid, 0);
	ck_assert_int_eq(rk_store_cluster_get(store, "nope", &cid, &err), RK_OK);
	ck_assert_int_eq(cid, 0);
	rk_run run;
	int found = 0;
	ck_assert_int_eq(rk_store_run_latest(store, "prod", NULL, &run, &found, &err), RK_OK);
	ck_assert_int_eq(found, 1);
	ck_assert_int_eq(run.id, r2);
	ck_assert_int_eq(rk_store_run_latest(store, "prod", "rotate", &run, &found, &err), RK_OK);
	ck_assert_int_eq(run.id, r1);
	ck_assert_str_eq(run.cluster, "prod");
	ck_assert_str_eq(run.new_key, "aescbc-2");
	ck_assert_str_eq(run.state, "running");
	ck_assert_str_eq(run.finished_at, "");
	ck_assert_int_eq(run.exit_code, -1);
	ck_assert_int_eq(rk_store_run_set_state(store, r1, "stopped", 3, &err), RK_OK);
	ck_assert_int_eq(rk_store_run_get(store, r1, &run, &found, &err), RK_OK);
	ck_assert_str_eq(run.state, "stopped");
	ck_assert_int_eq(run.exit_code, 3);
	ck_assert_uint_eq(strlen(run.finished_at), 24);
	ck_assert_int_eq(rk_store_run_set_state(store, r1, "running", 0, &err), RK_OK);
	ck_assert_int_eq(rk_store_run_get(store, r1, &run, &found, &err), RK_OK);
	ck_assert_int_eq(run.exit_code, -1);
	ck_assert_int_eq(rk_store_run_set_state(store, r1, "finished", 0, &err), RK_BADINPUT);
	ck_assert_int_eq(rk_store_run_set_state(store, 9999, "done", 0, &err), RK_BADINPUT);
	ck_assert_int_eq(rk_store_run_get(store, 9999, &run, &found, &err), RK_OK);
	ck_assert_int_eq(found, 0);
	struct text ids = {""};
	ck_assert_int_eq(rk_store_run_list(store, "prod", 0, collect_run, &ids, &err), RK_OK);
	char want[64];
	snprintf(want, sizeof want, "%lld,%lld,", (long long)r2, (long long)r1);
	ck_assert_str_eq(ids.text, want);
	ids.text[0] = 0;
	ck_assert_int_eq(rk_store_run_list(store, NULL, 1, collect_run, &ids, &err), RK_OK);
	ck_assert_str_eq(ids.text, "3,");
	rk_run_spec bad = {.cluster = "prod", .kind = "explode"};
	int64_t id;
	ck_assert_int_eq(rk_store_run_create(store, &bad, &id, &err), RK_BADINPUT);
	rk_run_spec noname = {.cluster = "", .kind = "rotate"};
	ck_assert_int_eq(rk_store_run_create(store, &noname, &id, &err), RK_BADINPUT);
	rk_store_close(store);
}
END_TEST

static rk_stage_status stage_of(rk_store *store, int64_t run, const char *stage, const char *node)
{
	rk_stage_status status = RK_STAGE_NONE;
	rk_err err;
	ck_assert_int_eq(rk_store_stage_status(store, run, stage, node, &status, &err), RK_OK);
	return status;
}

static int collect_stage(const rk_stage *stage, void *ud)
{
	struct text *names = ud;
	strncat(names->text, stage->stage, sizeof names->text - strlen(names->text) - 2);
	strncat(names->text, stage->node[0] ? stage->node : "-",
	        sizeof names->text - strlen(names->text) - 2);
	strcat(names->text, ",");
	return 0;
}

START_TEST(stages_are_idempotent)
{
	rk_store *store = open_default();
	rk_err err;
	int64_t run = new_run(store, "prod", "rotate");
	ck_assert_int_eq(stage_of(store, run, "stage-read-key", "cp-1"), RK_STAGE_NONE);
	for (int i = 0; i < 2; i++)
		ck_assert_int_eq(rk_store_stage_intent(store, run, "stage-read-key", "cp-1", "first", &err),
		                 RK_OK);
	ck_assert_int_eq(stage_of(store, run, "stage-read-key", "cp-1"), RK_STAGE_INTENT);
	ck_assert_int_eq(stage_of(store, run, "stage-read-key", "cp-2"), RK_STAGE_NONE);
	ck_assert_int_eq(rk_store_stage_done(store, run, "stage-read-key", "cp-1", NULL, &err), RK_OK);
	char *finished = raw_query("SELECT finished_at FROM stages WHERE node = 'cp-1'");
	ck_assert_uint_eq(strlen(finished), 24);
	/* repeating a finished step changes nothing */
	ck_assert_int_eq(rk_store_stage_intent(store, run, "stage-read-key", "cp-1", "again", &err), RK_OK);
	ck_assert_int_eq(rk_store_stage_done(store, run, "stage-read-key", "cp-1", "again", &err), RK_OK);
	ck_assert_int_eq(stage_of(store, run, "stage-read-key", "cp-1"), RK_STAGE_DONE);
	char *sql = NULL;
	ck_assert_int_ge(
	    asprintf(&sql, "SELECT finished_at = '%s' AND detail = 'first' FROM stages WHERE node = 'cp-1'",
	             finished),
	    0);
	assert_query(sql, "1");
	free(sql);
	free(finished);
	/* failed, then retried */
	ck_assert_int_eq(rk_store_stage_failed(store, run, "promote", NULL, "gate: readyz 500", &err), RK_OK);
	ck_assert_int_eq(stage_of(store, run, "promote", ""), RK_STAGE_FAILED);
	ck_assert_int_eq(rk_store_stage_intent(store, run, "promote", NULL, NULL, &err), RK_OK);
	ck_assert_int_eq(stage_of(store, run, "promote", NULL), RK_STAGE_INTENT);
	assert_query("SELECT detail FROM stages WHERE stage = 'promote'", "gate: readyz 500");
	struct text names = {""};
	ck_assert_int_eq(rk_store_stage_list(store, run, collect_stage, &names, &err), RK_OK);
	ck_assert_str_eq(names.text, "stage-read-keycp-1,promote-,");
	assert_query("SELECT count(*) FROM stages", "2");
	/* a stage of a run that does not exist violates the foreign key */
	ck_assert_int_eq(rk_store_stage_intent(store, 4242, "x", NULL, NULL, &err), RK_BADINPUT);
	ck_assert_int_eq(rk_store_stage_intent(store, run, "", NULL, NULL, &err), RK_BADINPUT);
	ck_assert_str_eq(rk_stage_status_name(RK_STAGE_DONE), "done");
	rk_store_close(store);
}
END_TEST

static rk_checkpoint make_checkpoint(int i)
{
	rk_checkpoint cp;
	memset(&cp, 0, sizeof cp);
	snprintf(cp.resource, sizeof cp.resource, "secrets");
	snprintf(cp.continue_token, sizeof cp.continue_token, "token-%d", i);
	snprintf(cp.last_namespace, sizeof cp.last_namespace, "ns-%d", i % 7);
	snprintf(cp.last_name, sizeof cp.last_name, "s-%d", i);
	cp.counts.rewritten = i;
	cp.counts.current = 2 * i;
	cp.counts.conflict = 1;
	cp.counts.orphan = i;
	return cp;
}

static int collect_orphan(const rk_orphan *o, void *ud)
{
	struct text *t = ud;
	snprintf(t->text + strlen(t->text), sizeof t->text - strlen(t->text), "%s/%s/%s;", o->resource,
	         o->namespace_, o->name);
	return 0;
}

START_TEST(checkpoint_round_trip)
{
	rk_store *store = open_default();
	rk_err err;
	int64_t run = new_run(store, "prod", "rewrite");
	rk_checkpoint cp = make_checkpoint(5), got;
	int found = 1;
	ck_assert_int_eq(rk_store_checkpoint_load(store, run, "secrets", "", &got, &found, &err), RK_OK);
	ck_assert_int_eq(found, 0);
	ck_assert_str_eq(got.resource, "secrets");
	rk_orphan_ref orphans[] = {{"gone-ns", "s-1"}, {"gone-ns", "s-2"}};
	ck_assert_int_eq(rk_store_checkpoint_save(store, run, &cp, orphans, 2, &err), RK_OK);
	/* the same orphans again are recorded once */
	ck_assert_int_eq(rk_store_checkpoint_save(store, run, &cp, orphans, 2, &err), RK_OK);
	ck_assert_int_eq(rk_store_checkpoint_load(store, run, "secrets", NULL, &got, &found, &err), RK_OK);
	ck_assert_int_eq(found, 1);
	ck_assert_str_eq(got.continue_token, "token-5");
	ck_assert_str_eq(got.last_namespace, "ns-5");
	ck_assert_str_eq(got.last_name, "s-5");
	ck_assert_int_eq(got.counts.rewritten, 5);
	ck_assert_int_eq(got.counts.current, 10);
	ck_assert_int_eq(got.counts.conflict, 1);
	ck_assert_int_eq(got.counts.gone, 0);
	ck_assert_int_eq(got.done, 0);
	int64_t n = 0;
	ck_assert_int_eq(rk_store_orphan_count(store, run, &n, &err), RK_OK);
	ck_assert_int_eq(n, 2);
	struct text names = {""};
	ck_assert_int_eq(rk_store_orphan_list(store, run, collect_orphan, &names, &err), RK_OK);
	ck_assert_str_eq(names.text, "secrets/gone-ns/s-1;secrets/gone-ns/s-2;");
	rk_checkpoint cm = make_checkpoint(3);
	snprintf(cm.resource, sizeof cm.resource, "configmaps");
	ck_assert_int_eq(rk_store_checkpoint_save(store, run, &cm, NULL, 0, &err), RK_OK);
	rk_counts total;
	ck_assert_int_eq(rk_store_counts_total(store, run, &total, &err), RK_OK);
	ck_assert_int_eq(total.rewritten, 8);
	ck_assert_int_eq(total.current, 16);
	ck_assert_int_eq(total.conflict, 2);
	/* a scope is its own checkpoint */
	ck_assert_int_eq(rk_store_checkpoint_load(store, run, "secrets", "kube-system", &got, &found, &err),
	                 RK_OK);
	ck_assert_int_eq(found, 0);
	cp.counts.failed = -1; /* totals cannot go negative: refused by the schema, nothing saved */
	ck_assert_int_eq(rk_store_checkpoint_save(store, run, &cp, NULL, 0, &err), RK_BADINPUT);
	rk_orphan_ref nameless = {"ns", ""};
	ck_assert_int_eq(rk_store_checkpoint_save(store, run, &cp, &nameless, 1, &err), RK_BADINPUT);
	rk_store_close(store);
}
END_TEST

START_TEST(checkpoint_failure_keeps_previous)
{
	rk_store *store = open_default();
	rk_err err;
	int64_t run = new_run(store, "prod", "rewrite");
	rk_checkpoint first = make_checkpoint(1), second = make_checkpoint(2), got;
	rk_orphan_ref o1 = {"ns", "o-1"};
	ck_assert_int_eq(rk_store_checkpoint_save(store, run, &first, &o1, 1, &err), RK_OK);
	/* a failure injected after the checkpoint row and the counts were written, inside the transaction */
	raw_exec("CREATE TRIGGER inject BEFORE INSERT ON orphans WHEN NEW.name = 'boom' "
	         "BEGIN SELECT RAISE(ABORT, 'injected failure'); END");
	rk_orphan_ref o2[] = {{"ns", "o-2"}, {"ns", "boom"}};
	ck_assert_int_ne(rk_store_checkpoint_save(store, run, &second, o2, 2, &err), RK_OK);
	ck_assert_ptr_nonnull(strstr(err.msg, "injected failure"));
	int found = 0;
	ck_assert_int_eq(rk_store_checkpoint_load(store, run, "secrets", "", &got, &found, &err), RK_OK);
	ck_assert_str_eq(got.continue_token, "token-1");
	ck_assert_int_eq(got.counts.rewritten, 1);
	int64_t n = 0;
	ck_assert_int_eq(rk_store_orphan_count(store, run, &n, &err), RK_OK);
	ck_assert_int_eq(n, 1);
	/* the store stays usable after the rollback */
	ck_assert_int_eq(rk_store_checkpoint_save(store, run, &second, o2, 1, &err), RK_OK);
	ck_assert_int_eq(rk_store_checkpoint_load(store, run, "secrets", "", &got, &found, &err), RK_OK);
	ck_assert_str_eq(got.continue_token, "token-2");
	rk_store_close(store);
}
END_TEST

static int collect_failure(const rk_failure *f, void *ud)
{
	struct text *t = ud;
	snprintf(t->text + strlen(t->text), sizeof t->text - strlen(t->text), "%s/%s/%s=%s;", f->resource,
	         f->namespace_, f->name, f->reason);
	return 0;
}

/* Failed objects are kept by identity with the batch (issue 11 item 10); a retry deletes the failures and
 * orphans it settled, in the same transaction as the new totals. */
START_TEST(failures_recorded_and_settled)
{
	rk_store *store = open_default();
	rk_err err;
	int64_t run = new_run(store, "prod", "rewrite");
	rk_checkpoint cp = make_checkpoint(4);
	cp.counts.failed = 2;
	cp.counts.orphan = 1;
	rk_failure_ref failed[] = {{"ns-1", "f-1", "400 BadRequest: denied"}, {"", "f-2", NULL}};
	rk_orphan_ref orphan = {"gone", "o-1"};
	rk_batch_rows rows = {.failures = failed, .nfailures = 2, .orphans = &orphan, .norphans = 1};
	ck_assert_int_eq(rk_store_batch_save(store, run, &cp, "secrets", &cp.counts, &rows, &err), RK_OK);
	failed[0].reason = "503 ServiceUnavailable"; /* seen again: recorded once, the reason updated */
	ck_assert_int_eq(rk_store_batch_save(store, run, &cp, "secrets", &cp.counts, &rows, &err), RK_OK);
	int64_t n = 0;
	ck_assert_int_eq(rk_store_failure_count(store, run, &n, &err), RK_OK);
	ck_assert_int_eq(n, 2);
	struct text names = {""};
	ck_assert_int_eq(rk_store_failure_list(store, run, NULL, collect_failure, &names, &err), RK_OK);
	ck_assert_str_eq(names.text, "secrets/ns-1/f-1=503 ServiceUnavailable;secrets//f-2=;");
	names.text[0] = '\0';
	ck_assert_int_eq(rk_store_failure_list(store, run, "configmaps", collect_failure, &names, &err),
	                 RK_OK);
	ck_assert_str_eq(names.text, "");
	/* a retry: f-1 rewritten, o-1 gone; no checkpoint row, only totals and rows */
	rk_counts after = cp.counts;
	after.failed = 1;
	after.orphan = 0;
	after.rewritten++;
	after.gone++;
	rk_orphan_ref settled_failure = {"ns-1", "f-1"};
	rk_batch_rows retry = {.cleared_failures = &settled_failure,
	                       .ncleared_failures = 1,
	                       .cleared_orphans = &orphan,
	                       .ncleared_orphans = 1};
	ck_assert_int_eq(rk_store_batch_save(store, run, NULL, "secrets", &after, &retry, &err), RK_OK);
	ck_assert_int_eq(rk_store_failure_count(store, run, &n, &err), RK_OK);
	ck_assert_int_eq(n, 1);
	ck_assert_int_eq(rk_store_orphan_count(store, run, &n, &err), RK_OK);
	ck_assert_int_eq(n, 0);
	rk_checkpoint got;
	int found = 0;
	ck_assert_int_eq(rk_store_checkpoint_load(store, run, "secrets", "", &got, &found, &err), RK_OK);
	ck_assert_int_eq(got.counts.failed, 1);
	ck_assert_int_eq(got.counts.gone, 1);
	ck_assert_str_eq(got.continue_token, "token-4"); /* the checkpoint row untouched */
	/* all or nothing: a nameless failure refuses the batch before anything is written */
	rk_failure_ref nameless = {"ns", "", "x"};
	rk_batch_rows bad = {.failures = &nameless,
	                     .nfailures = 1,
	                     .cleared_failures = &settled_failure,
	                     .ncleared_failures = 1};
	ck_assert_int_eq(rk_store_batch_save(store, run, NULL, "secrets", &after, &bad, &err), RK_BADINPUT);
	ck_assert_int_eq(rk_store_failure_count(store, run, &n, &err), RK_OK);
	ck_assert_int_eq(n, 1);
	rk_store_close(store);
}
END_TEST

/* Child: saves checkpoint i with totals i and orphan i, for i = 1, 2, ... until killed. */
static void checkpoint_writer(int64_t run)
{
	rk_store *store = NULL;
	rk_err err;
	if (rk_store_open(statedir, &store, &err) != RK_OK)
		_exit(2);
	for (int i = 1; i < 1000000; i++) {
		rk_checkpoint cp = make_checkpoint(i);
		char name[32];
		snprintf(name, sizeof name, "o-%d", i);
		rk_orphan_ref orphan = {"ns", name};
		if (rk_store_checkpoint_save(store, run, &cp, &orphan, 1, &err) != RK_OK)
			_exit(3);
	}
	_exit(0);
}

static int64_t saved_rewritten(int64_t run)
{
	char sql[128];
	snprintf(sql, sizeof sql,
	         "SELECT coalesce(max(rewritten), 0) FROM rewrite_counts WHERE run_id = %lld",
	         (long long)run);
	char *v = raw_query(sql);
	int64_t n = atoll(v);
	free(v);
	return n;
}

START_TEST(checkpoint_survives_kill_9)
{
	rk_store *store = open_default();
	int64_t run = new_run(store, "prod", "rewrite");
	rk_store_close(store);
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0)
		checkpoint_writer(run);
	time_t deadline = time(NULL) + 20;
	while (saved_rewritten(run) < 25 && time(NULL) < deadline)
		usleep(2000);
	kill(pid, SIGKILL);
	int status;
	waitpid(pid, &status, 0);
	ck_assert_msg(WIFSIGNALED(status), "writer ended before the kill (status %d)", status);
	store = open_default();
	rk_checkpoint cp;
	rk_err err;
	int found = 0;
	int64_t orphans = 0;
	ck_assert_int_eq(rk_store_checkpoint_load(store, run, "secrets", "", &cp, &found, &err), RK_OK);
	ck_assert_int_eq(rk_store_orphan_count(store, run, &orphans, &err), RK_OK);
	ck_assert_int_ge(cp.counts.rewritten, 25);
	char token[64];
	snprintf(token, sizeof token, "token-%lld", (long long)cp.counts.rewritten);
	ck_assert_str_eq(cp.continue_token, token);
	ck_assert_int_eq(orphans, cp.counts.rewritten);
	rk_store_close(store);
}
END_TEST

START_TEST(budget_decisions_recorded)
{
	rk_store *store = open_default();
	rk_err err;
	int64_t run = new_run(store, "prod", "rewrite");
	rk_budget_record rec = {"slowdown", 40.5, 612.0, 0.002, 200, 100, "p99 612ms > 500ms", "server-p99"};
	ck_assert_int_eq(rk_store_budget_insert(store, run, &rec, &err), RK_OK);
	rec.decision = "explode";
	ck_assert_int_eq(rk_store_budget_insert(store, run, &rec, &err), RK_BADINPUT);
	int64_t n = 0;
	ck_assert_int_eq(rk_store_budget_count(store, run, &n, &err), RK_OK);
	ck_assert_int_eq(n, 1);
	assert_query(
	    "SELECT decision || ' ' || p99_ms || ' ' || rate_after || ' ' || reason || ' ' || signal "
	    "FROM budget_decisions",
	    "slowdown 612.0 100.0 p99 612ms > 500ms server-p99");
	rk_store_close(store);
}
END_TEST

static int collect_signal(const char *decision, const char *signal, int64_t count, void *ud)
{
	struct text *t = ud;
	snprintf(t->text + strlen(t->text), sizeof t->text - strlen(t->text), "%s/%s/%lld;", decision, signal,
	         (long long)count);
	return 0;
}

/* Decisions grouped by the signal that drove them, in the order each pair first came. */
START_TEST(budget_decisions_by_signal)
{
	rk_store *store = open_default();
	rk_err err;
	int64_t run = new_run(store, "prod", "rotate"), other = new_run(store, "prod", "rewrite");
	const char *rows[][2] = {{"slowdown", "5xx"}, {"slowdown", "server-p99"}, {"recover", NULL},
	                         {"slowdown", "5xx"}, {"pause", "429"},           {"resume", NULL},
	                         {"slowdown", "5xx"}};
	for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
		rk_budget_record rec = {rows[i][0], 0, 0, 0, 0, 0, "why", rows[i][1]};
		ck_assert_int_eq(rk_store_budget_insert(store, run, &rec, &err), RK_OK);
	}
	rk_budget_record elsewhere = {"abort", 0, 0, 0, 0, 0, NULL, "inflight"};
	ck_assert_int_eq(rk_store_budget_insert(store, other, &elsewhere, &err), RK_OK);
	char long_signal[RK_STORE_SHORT_MAX + 1];
	memset(long_signal, 'x', sizeof long_signal - 1);
	long_signal[sizeof long_signal - 1] = '\0';
	elsewhere.signal = long_signal;
	ck_assert_int_eq(rk_store_budget_insert(store, other, &elsewhere, &err), RK_BADINPUT);
	struct text t = {""};
	ck_assert_int_eq(rk_store_budget_signals(store, run, collect_signal, &t, &err), RK_OK);
	ck_assert_str_eq(t.text, "slowdown/5xx/3;slowdown/server-p99/1;recover//1;pause/429/1;resume//1;");
	rk_store_close(store);
}
END_TEST

static int collect_key_event(const rk_key_event *ev, void *ud)
{
	struct text *t = ud;
	snprintf(t->text + strlen(t->text), sizeof t->text - strlen(t->text), "%s/%s/%s/%s/%s;", ev->cluster,
	         ev->key_name, ev->fingerprint, ev->event, ev->backup_path);
	return 0;
}

START_TEST(key_events_fingerprint_only)
{
	rk_store *store = open_default();
	rk_err err;
	ck_assert_int_eq(rk_store_key_event_add(store, "prod", "aescbc-1", "aescbc", "0123456789abcdef",
	                                        "generated", "/backup/aescbc-1.key", &err),
	                 RK_OK);
	ck_assert_int_eq(rk_store_key_event_add(store, "dev", "aescbc-9", "aescbc", "fedcba9876543210",
	                                        "pruned", NULL, &err),
	                 RK_OK);
	const char *bad[] = {"c2VjcmV0IGlzIHNlY3VyZSwgSSB0aGluayBzbw==", "0123456789ABCDEF",
	                     "0123456789abcde", "0123456789abcdef0", NULL};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		ck_assert_int_eq(
		    rk_store_key_event_add(store, "prod", "k", "aescbc", bad[i], "generated", NULL, &err),
		    RK_BADINPUT);
	struct text t = {""};
	ck_assert_int_eq(rk_store_key_event_list(store, "prod", collect_key_event, &t, &err), RK_OK);
	ck_assert_str_eq(t.text, "prod/aescbc-1/0123456789abcdef/generated//backup/aescbc-1.key;");
	t.text[0] = 0;
	ck_assert_int_eq(rk_store_key_event_list(store, NULL, collect_key_event, &t, &err), RK_OK);
	ck_assert_ptr_nonnull(strstr(t.text, "dev/aescbc-9/fedcba9876543210/pruned/;"));
	rk_store_close(store);
	/* the schema itself refuses anything but a fingerprint */
	sqlite3 *db;
	ck_assert_int_eq(sqlite3_open(dbpath, &db), SQLITE_OK);
	int rc = sqlite3_exec(db,
	                      "INSERT INTO key_events(cluster_id, key_name, fingerprint, event) "
	                      "VALUES (1, 'k', 'c2VjcmV0IGlzIHNlY3VyZSwgSSB0aGluayBzbw==', 'generated')",
	                      NULL, NULL, NULL);
	ck_assert_int_eq(rc, SQLITE_CONSTRAINT);
	sqlite3_close(db);
}
END_TEST

static int collect_kms_event(const rk_key_event *ev, void *ud)
{
	struct text *t = ud;
	snprintf(t->text + strlen(t->text), sizeof t->text - strlen(t->text), "%s/%s/%s/[%s]/%s/[%s];",
	         ev->cluster, ev->key_name, ev->provider, ev->fingerprint, ev->event, ev->key_id);
	return 0;
}

/* kms providers (0007): name, provider "kms", no fingerprint, the key_id when known; an empty fingerprint
 * or a key_id stays refused for every other provider, by the API and by the schema. */
START_TEST(key_events_of_kms_providers)
{
	rk_store *store = open_default();
	rk_err err;
	char long_id[1100];
	memset(long_id, 'k', sizeof long_id - 1);
	long_id[sizeof long_id - 1] = '\0';
	ck_assert_int_eq(rk_store_kms_key_event_add(store, "prod", "kms-a", NULL, "promoted", &err), RK_OK);
	ck_assert_int_eq(rk_store_kms_key_event_add(store, "prod", "kms-a", "kek-2", "rewrite-done", &err),
	                 RK_OK);
	ck_assert_int_eq(rk_store_kms_key_event_add(store, "prod", "kms-a", long_id, "promoted", &err),
	                 RK_BADINPUT);
	ck_assert_int_eq(rk_store_kms_key_event_add(store, "prod", "", NULL, "promoted", &err), RK_BADINPUT);
	ck_assert_int_eq(rk_store_key_event_add(store, "prod", "k", "aescbc", "", "generated", NULL, &err),
	                 RK_BADINPUT);
	struct text t = {""};
	ck_assert_int_eq(rk_store_key_event_list(store, "prod", collect_kms_event, &t, &err), RK_OK);
	ck_assert_str_eq(t.text, "prod/kms-a/kms/[]/promoted/[];prod/kms-a/kms/[]/rewrite-done/[kek-2];");
	rk_store_close(store);
	const char *refused[] = {
	    "INSERT INTO key_events(cluster_id, key_name, provider, fingerprint, event) "
	    "VALUES (1, 'k', 'aescbc', '', 'generated')",
	    "INSERT INTO key_events(cluster_id, key_name, provider, fingerprint, event, key_id) "
	    "VALUES (1, 'k', 'aescbc', '0123456789abcdef', 'generated', 'id')",
	    "INSERT INTO key_events(cluster_id, key_name, provider, fingerprint, event, key_id) "
	    "VALUES (1, 'k', 'kms', '', 'promoted', '')"};
	sqlite3 *db;
	ck_assert_int_eq(sqlite3_open(dbpath, &db), SQLITE_OK);
	for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++)
		ck_assert_int_eq(sqlite3_exec(db, refused[i], NULL, NULL, NULL), SQLITE_CONSTRAINT);
	sqlite3_close(db);
}
END_TEST

/* A state db of 0006 keeps its key events (ids, fingerprints, times) through 0007's table rebuild. */
START_TEST(key_events_kept_by_0007)
{
	rk_store *store = NULL;
	rk_err err;
	size_t before_0007 = 0;
	while (before_0007 < rk_migrations_count && rk_migrations[before_0007].version < 7)
		before_0007++;
	ck_assert_uint_lt(before_0007, rk_migrations_count);
	ck_assert_int_eq(rk_store_open_with(statedir, rk_migrations, before_0007, &store, &err), RK_OK);
	rk_store_close(store);
	raw_exec("INSERT INTO clusters(name) VALUES ('prod'); INSERT INTO key_events(cluster_id, key_name, "
	         "provider, fingerprint, event, backup_path) VALUES (1, 'aescbc-1', 'aescbc', "
	         "'0123456789abcdef', 'generated', '/backup/aescbc-1.key')");
	char *at = raw_query("SELECT id || ' ' || at FROM key_events");
	store = open_default();
	rk_store_close(store);
	char *after = raw_query("SELECT id || ' ' || at FROM key_events");
	ck_assert_str_eq(after, at);
	assert_query(
	    "SELECT key_name || '/' || fingerprint || '/' || coalesce(key_id, 'null') FROM key_events",
	    "aescbc-1/0123456789abcdef/null");
	assert_query("SELECT count(*) FROM sqlite_master WHERE name = 'key_events_by_cluster'", "1");
	free(at);
	free(after);
}
END_TEST

static int collect_probe(const rk_probe *probe, void *ud)
{
	struct text *t = ud;
	snprintf(t->text + strlen(t->text), sizeof t->text - strlen(t->text), "%lld %s/%s;",
	         (long long)probe->run_id, probe->namespace_, probe->name);
	return 0;
}

START_TEST(probes_recorded_until_deleted)
{
	rk_store *store = open_default();
	rk_err err;
	int64_t prod = new_run(store, "prod", "rotate"), dev = new_run(store, "dev", "rotate");
	ck_assert_int_eq(rk_store_probe_record(store, prod, "kube-system", "rekeyctl-probe-1", &err), RK_OK);
	ck_assert_int_eq(rk_store_probe_record(store, prod, "kube-system", "rekeyctl-probe-2", &err), RK_OK);
	ck_assert_int_eq(rk_store_probe_record(store, dev, "kube-system", "rekeyctl-probe-3", &err), RK_OK);
	/* a name is recorded once; empty names are bad input */
	ck_assert_int_eq(rk_store_probe_record(store, prod, "kube-system", "rekeyctl-probe-1", &err),
	                 RK_BADINPUT);
	ck_assert_int_eq(rk_store_probe_record(store, prod, "kube-system", "", &err), RK_BADINPUT);
	ck_assert_int_eq(rk_store_probe_deleted(store, "kube-system", "rekeyctl-probe-1", &err), RK_OK);
	struct text t = {""};
	ck_assert_int_eq(rk_store_probe_left(store, "prod", collect_probe, &t, &err), RK_OK);
	char want[128];
	snprintf(want, sizeof want, "%lld kube-system/rekeyctl-probe-2;", (long long)prod);
	ck_assert_str_eq(t.text, want);
	/* marking twice (or an unknown name) is harmless */
	ck_assert_int_eq(rk_store_probe_deleted(store, "kube-system", "rekeyctl-probe-1", &err), RK_OK);
	ck_assert_int_eq(rk_store_probe_deleted(store, "kube-system", "never-recorded", &err), RK_OK);
	rk_store_close(store);
}
END_TEST

/* A KEK rotation's target key_id: one per run, the first kept, bounded as the apiserver bounds it. */
START_TEST(kms_target_recorded_once_per_run)
{
	rk_store *store = open_default();
	rk_err err;
	int64_t run = new_run(store, "prod", "rotate"), other = new_run(store, "dev", "rotate");
	char key_id[RK_STORE_KEY_ID_MAX];
	int found = 1;
	ck_assert_int_eq(rk_store_kms_target_get(store, run, key_id, &found, &err), RK_OK);
	ck_assert_int_eq(found, 0);
	ck_assert_int_eq(rk_store_kms_target_set(store, run, "kms-a", "kek-2", "plugin-status", &err), RK_OK);
	ck_assert_int_eq(rk_store_kms_target_set(store, run, "kms-a", "kek-3", "plan", &err), RK_OK);
	ck_assert_int_eq(rk_store_kms_target_get(store, run, key_id, &found, &err), RK_OK);
	ck_assert_int_eq(found, 1);
	ck_assert_str_eq(key_id, "kek-2"); /* a resumed run checks what the first attempt recorded */
	ck_assert_int_eq(rk_store_kms_target_set(store, other, "kms-a", "", "plan", &err), RK_BADINPUT);
	ck_assert_int_eq(rk_store_kms_target_set(store, other, "kms-a", "kek-9", "guess", &err), RK_BADINPUT);
	char long_id[1100];
	memset(long_id, 'k', 1025);
	long_id[1025] = '\0';
	ck_assert_int_eq(rk_store_kms_target_set(store, other, "kms-a", long_id, "plan", &err), RK_BADINPUT);
	long_id[1024] = '\0';
	ck_assert_int_eq(rk_store_kms_target_set(store, other, "kms-a", long_id, "plan", &err), RK_OK);
	ck_assert_int_eq(rk_store_kms_target_get(store, other, key_id, &found, &err), RK_OK);
	ck_assert_uint_eq(strlen(key_id), 1024);
	rk_store_close(store);
}
END_TEST

static int collect_audit(const rk_audit_event *ev, void *ud)
{
	struct text *t = ud;
	snprintf(t->text + strlen(t->text), sizeof t->text - strlen(t->text), "%s@%s %s %lld %s %s;",
	         ev->user, ev->host, ev->cluster, (long long)ev->run_id, ev->action, ev->outcome);
	return 0;
}

START_TEST(audit_events_name_who_and_where)
{
	rk_store *store = open_default();
	rk_err err;
	int64_t run = new_run(store, "prod", "rotate");
	ck_assert_int_eq(rk_store_audit_add(store, "prod", run, "rotate.start", "ok", "plan p.yaml", &err),
	                 RK_OK);
	ck_assert_int_eq(rk_store_audit_add(store, "prod", 0, "config.add-key", "ok", NULL, &err), RK_OK);
	ck_assert_int_eq(rk_store_audit_add(store, "dev", 0, "verify", "failed", NULL, &err), RK_OK);
	ck_assert_int_eq(rk_store_audit_add(store, NULL, 0, "", "ok", NULL, &err), RK_BADINPUT);
	struct passwd *pw = getpwuid(geteuid());
	char host[256] = "";
	gethostname(host, sizeof host);
	char want[2048];
	snprintf(want, sizeof want, "%s@%s prod %lld rotate.start ok;%s@%s prod 0 config.add-key ok;",
	         pw ? pw->pw_name : "?", host, (long long)run, pw ? pw->pw_name : "?", host);
	struct text t = {""};
	ck_assert_int_eq(rk_store_audit_list(store, "prod", 0, collect_audit, &t, &err), RK_OK);
	ck_assert_str_eq(t.text, want);
	t.text[0] = 0;
	ck_assert_int_eq(rk_store_audit_list(store, NULL, 1, collect_audit, &t, &err), RK_OK);
	ck_assert_ptr_nonnull(strstr(t.text, " dev 0 verify failed;"));
	ck_assert_ptr_null(strstr(t.text, "prod"));
	rk_store_close(store);
}
END_TEST

static int file_contains(const char *path, const void *needle, size_t len)
{
	size_t n = 0;
	char *data = tu_read_file(path, &n);
	if (!data)
		return 0;
	int found = memmem(data, n, needle, len) != NULL;
	free(data);
	return found;
}

/* The rotation's paths: a generated key is recorded by name and fingerprint; its secret must not reach
 * the db file or its WAL, whatever the caller tries. */
START_TEST(no_key_material_in_db)
{
	rk_key key = {.name = "aescbc-20260101T000000Z",
	              .secret = "bm90LWEtcmVhbC1rZXktYnV0LTMyLWJ5dGVzLWxvbiE="};
	uint8_t raw[64];
	int rawlen = rk_key_decode(&key, raw, sizeof raw);
	ck_assert_int_eq(rawlen, 32);
	char fp[17];
	ck_assert_int_eq(rk_key_fingerprint(&key, fp), 0);
	rk_store *store = open_default();
	rk_err err;
	int64_t run = new_run(store, "prod", "rotate");
	ck_assert_int_eq(
	    rk_store_key_event_add(store, "prod", key.name, "aescbc", fp, "generated", NULL, &err), RK_OK);
	ck_assert_int_eq(
	    rk_store_key_event_add(store, "prod", key.name, "aescbc", key.secret, "generated", NULL, &err),
	    RK_BADINPUT);
	ck_assert_int_eq(rk_store_stage_done(store, run, "generate-key", NULL, key.name, &err), RK_OK);
	ck_assert_int_eq(rk_store_audit_add(store, "prod", run, "keygen", "ok", key.name, &err), RK_OK);
	char *wal = tu_path(statedir, "state.db-wal");
	ck_assert(file_contains(dbpath, key.name, strlen(key.name)) ||
	          file_contains(wal, key.name, strlen(key.name)));
	rk_store_close(store);
	ck_assert(!file_contains(dbpath, key.secret, strlen(key.secret)));
	ck_assert(!file_contains(dbpath, raw, (size_t)rawlen));
	ck_assert(!file_contains(wal, key.secret, strlen(key.secret)));
	free(wal);
}
END_TEST

Suite *store_suite(void)
{
	Suite *s = suite_create("store");
	TCase *tc = tcase_create("store");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, fresh_db_has_schema_modes_and_wal);
	tcase_add_test(tc, loose_modes_are_tightened);
	tcase_add_test(tc, foreign_or_symlinked_dir_is_refused);
	tcase_add_test(tc, state_dir_resolution);
	tcase_add_test(tc, concurrent_first_open);
	tcase_add_test(tc, upgrade_applies_new_migration_and_keeps_data);
	tcase_add_test(tc, newer_db_is_refused_untouched);
	tcase_add_test(tc, diverging_migration_is_refused);
	tcase_add_test(tc, failed_migration_rolls_back);
	tcase_add_test(tc, garbage_file_is_bad_input);
	tcase_add_test(tc, runs_create_get_latest_state);
	tcase_add_test(tc, stages_are_idempotent);
	tcase_add_test(tc, checkpoint_round_trip);
	tcase_add_test(tc, checkpoint_failure_keeps_previous);
	tcase_add_test(tc, failures_recorded_and_settled);
	tcase_add_test(tc, checkpoint_survives_kill_9);
	tcase_add_test(tc, budget_decisions_recorded);
	tcase_add_test(tc, budget_decisions_by_signal);
	tcase_add_test(tc, key_events_fingerprint_only);
	tcase_add_test(tc, probes_recorded_until_deleted);
	tcase_add_test(tc, kms_target_recorded_once_per_run);
	tcase_add_test(tc, audit_events_name_who_and_where);
	tcase_add_test(tc, no_key_material_in_db);
	tcase_add_test(tc, key_events_of_kms_providers);
	tcase_add_test(tc, key_events_kept_by_0007);
	suite_add_tcase(s, tc);
	return s;
}
