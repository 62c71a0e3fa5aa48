/* test_fsutil.c: atomic file replacement (never partial, original intact on every failure, 0600 files,
 * backups), whole-file reads, mkdir -p, and 0600 key files. */
#include <check.h>
#include <dirent.h>
#include <linux/capability.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "encconfig_fixtures.h"
#include "rekey/fsutil.h"
#include "rekey/keyfile.h"
#include "testutil.h"

static int count_entries(const char *dir)
{
	DIR *d = opendir(dir);
	int n = 0;
	for (struct dirent *e; d && (e = readdir(d));)
		n += strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
	if (d)
		closedir(d);
	return n;
}

static void assert_content(const char *path, const char *want)
{
	char *got = tu_read_file(path, NULL);
	ck_assert_ptr_nonnull(got);
	ck_assert_str_eq(got, want);
	free(got);
}

static int mode_of(const char *path)
{
	struct stat st;
	return lstat(path, &st) == 0 ? (int)(st.st_mode & 0777) : -1;
}

START_TEST(atomic_write_creates_0600_and_keeps_backup)
{
	char *dir = tu_mkdtemp(), *path = tu_path(dir, "enc.yaml"), *bak = tu_path(dir, "enc.yaml.bak");
	rk_err err = {0};
	ck_assert_int_eq(rk_write_file_atomic(path, "one\n", 4, 1, &err), RK_OK);
	ck_assert_int_eq(mode_of(path), 0600);
	ck_assert_int_eq(mode_of(bak), -1); /* nothing to back up the first time */
	chmod(path, 0644);
	ck_assert_int_eq(rk_write_file_atomic(path, "two\n", 4, 1, &err), RK_OK);
	assert_content(path, "two\n");
	assert_content(bak, "one\n");
	ck_assert_int_eq(mode_of(path), 0600);
	ck_assert_int_eq(mode_of(bak), 0600);
	ck_assert_int_eq(count_entries(dir), 2); /* no temp file left */
	tu_rmtree(dir);
	free(dir);
	free(path);
	free(bak);
}
END_TEST

START_TEST(atomic_write_refuses_a_planted_temp_name)
{
	char *dir = tu_mkdtemp(), *path = tu_path(dir, "enc.yaml"), *victim = tu_path(dir, "victim");
	char tmp[4096];
	snprintf(tmp, sizeof tmp, "%s/.enc.yaml.rekey-%ld.tmp", dir, (long)getpid());
	ck_assert_int_eq(tu_write_file(path, "original\n", 9), 0);
	ck_assert_int_eq(tu_write_file(victim, "victim\n", 7), 0);
	ck_assert_int_eq(symlink(victim, tmp), 0);
	rk_err err = {0};
	ck_assert_int_eq(rk_write_file_atomic(path, "new\n", 4, 1, &err), RK_FAIL);
	ck_assert_ptr_nonnull(strstr(err.msg, "cannot create"));
	assert_content(path, "original\n");
	assert_content(victim, "victim\n");
	ck_assert_int_eq(count_entries(dir), 3); /* enc.yaml, victim, the planted link: no backup, no temp */
	tu_rmtree(dir);
	free(dir);
	free(path);
	free(victim);
}
END_TEST

/* Drops the capabilities that let root ignore directory permissions (this test process only). */
static void drop_dac_capabilities(void)
{
	struct __user_cap_header_struct hdr = {_LINUX_CAPABILITY_VERSION_3, 0};
	struct __user_cap_data_struct data[2];
	if (geteuid() != 0)
		return;
	ck_assert_int_eq(syscall(SYS_capget, &hdr, data), 0);
	data[0].effective &= ~((1u << CAP_DAC_OVERRIDE) | (1u << CAP_DAC_READ_SEARCH) | (1u << CAP_FOWNER));
	ck_assert_int_eq(syscall(SYS_capset, &hdr, data), 0);
}

START_TEST(atomic_write_in_read_only_dir_keeps_original)
{
	char *dir = tu_mkdtemp(), *path = tu_path(dir, "enc.yaml");
	ck_assert_int_eq(tu_write_file(path, "original\n", 9), 0);
	chmod(dir, 0500);
	drop_dac_capabilities();
	rk_err err = {0};
	ck_assert_int_eq(rk_write_file_atomic(path, "new\n", 4, 1, &err), RK_FAIL);
	ck_assert_ptr_nonnull(strstr(err.msg, "Permission denied"));
	assert_content(path, "original\n");
	ck_assert_int_eq(count_entries(dir), 1);
	chmod(dir, 0700);
	tu_rmtree(dir);
	free(dir);
	free(path);
}
END_TEST

START_TEST(atomic_write_backup_failure_keeps_original)
{
	char *dir = tu_mkdtemp(), *path = tu_path(dir, "enc.yaml"), *bak = tu_path(dir, "enc.yaml.bak");
	char *inside = tu_path(bak, "x");
	ck_assert_int_eq(tu_write_file(path, "original\n", 9), 0);
	ck_assert_int_eq(mkdir(bak, 0700), 0); /* a directory where the backup must go */
	ck_assert_int_eq(tu_write_file(inside, "x", 1), 0);
	rk_err err = {0};
	ck_assert_int_eq(rk_write_file_atomic(path, "new\n", 4, 1, &err), RK_FAIL);
	ck_assert_ptr_nonnull(strstr(err.msg, "cannot keep the backup"));
	assert_content(path, "original\n");
	ck_assert_int_eq(count_entries(dir), 2);
	ck_assert_int_eq(rk_write_file_atomic(path, "new\n", 4, 0, &err),
	                 RK_OK); /* without backup it works */
	assert_content(path, "new\n");
	tu_rmtree(dir);
	free(dir);
	free(path);
	free(bak);
	free(inside);
}
END_TEST

#define BIG (256 * 1024)

/* A writer process replaces the file again and again; every read sees one whole version. */
START_TEST(atomic_write_is_never_partial)
{
	char *dir = tu_mkdtemp(), *path = tu_path(dir, "enc.yaml");
	char *a = malloc(BIG), *b = malloc(BIG);
	memset(a, 'a', BIG);
	memset(b, 'b', BIG);
	rk_err err = {0};
	ck_assert_int_eq(rk_write_file_atomic(path, a, BIG, 0, &err), RK_OK);
	pid_t writer = fork();
	ck_assert_int_ge(writer, 0);
	if (writer == 0) {
		for (int i = 0; i < 40; i++)
			if (rk_write_file_atomic(path, i % 2 ? a : b, BIG, 1, &err) != RK_OK)
				_exit(1);
		_exit(0);
	}
	int status, reads = 0;
	while (waitpid(writer, &status, WNOHANG) == 0 || reads < 5) {
		size_t len;
		char *got = tu_read_file(path, &len);
		ck_assert_ptr_nonnull(got);
		ck_assert_uint_eq(len, BIG);
		ck_assert_msg(memchr(got, got[0] == 'a' ? 'b' : 'a', len) == NULL, "mixed content seen");
		free(got);
		reads++;
	}
	ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	ck_assert_int_eq(count_entries(dir), 2);
	free(a);
	free(b);
	tu_rmtree(dir);
	free(dir);
	free(path);
}
END_TEST

START_TEST(replacing_refuses_a_file_changed_since_read)
{
	char *dir = tu_mkdtemp(), *path = tu_path(dir, "enc.yaml");
	ck_assert_int_eq(tu_write_file(path, "someone else's edit\n", 20), 0);
	rk_err err = {0};
	ck_assert_int_eq(rk_write_file_replacing(path, "what we read\n", 13, "ours\n", 5, 1, &err), RK_FAIL);
	ck_assert_ptr_nonnull(strstr(err.msg, "changed since it was read"));
	assert_content(path, "someone else's edit\n");
	ck_assert_int_eq(count_entries(dir), 1);
	ck_assert_int_eq(rk_write_file_replacing(path, "someone else's edit\n", 20, "ours\n", 5, 1, &err),
	                 RK_OK);
	assert_content(path, "ours\n");
	tu_rmtree(dir);
	free(dir);
	free(path);
}
END_TEST

START_TEST(atomic_write_follows_a_symlink)
{
	char *dir = tu_mkdtemp(), *real_dir = tu_path(dir, "real"), *target = tu_path(real_dir, "enc.yaml");
	char *link = tu_path(dir, "enc.yaml"), *bak = tu_path(real_dir, "enc.yaml.bak");
	ck_assert_int_eq(mkdir(real_dir, 0700), 0);
	ck_assert_int_eq(tu_write_file(target, "old\n", 4), 0);
	ck_assert_int_eq(symlink("real/enc.yaml", link), 0);
	rk_err err = {0};
	ck_assert_int_eq(rk_write_file_atomic(link, "new\n", 4, 1, &err), RK_OK);
	struct stat st;
	ck_assert_int_eq(lstat(link, &st), 0);
	ck_assert(S_ISLNK(st.st_mode)); /* the link stays a link */
	assert_content(target, "new\n");
	assert_content(bak, "old\n");
	tu_rmtree(dir);
	free(dir);
	free(real_dir);
	free(target);
	free(link);
	free(bak);
}
END_TEST

START_TEST(atomic_write_keeps_the_owner)
{
	char *dir = tu_mkdtemp(), *path = tu_path(dir, "enc.yaml"), *bak = tu_path(dir, "enc.yaml.bak");
	ck_assert_int_eq(tu_write_file(path, "old\n", 4), 0);
	uid_t uid = getuid() == 0 ? 4321 : getuid();
	gid_t gid = getuid() == 0 ? 4322 : getgid();
	ck_assert_int_eq(chown(path, uid, gid), 0);
	rk_err err = {0};
	ck_assert_int_eq(rk_write_file_atomic(path, "new\n", 4, 1, &err), RK_OK);
	struct stat st;
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_int_eq(st.st_uid, uid);
	ck_assert_int_eq(st.st_gid, gid);
	ck_assert_int_eq(st.st_mode & 0777, 0600);
	ck_assert_int_eq(stat(bak, &st), 0);
	ck_assert_int_eq(st.st_uid, uid);
	tu_rmtree(dir);
	free(dir);
	free(path);
	free(bak);
}
END_TEST

START_TEST(read_file_reports_path_and_reason)
{
	char *data;
	size_t len;
	rk_err err = {0};
	ck_assert_int_eq(rk_read_file("/nonexistent/x", &data, &len, &err), RK_BADINPUT);
	ck_assert_str_eq(err.msg, "/nonexistent/x: No such file or directory");
	char *dir = tu_mkdtemp(), *path = tu_path(dir, "f");
	ck_assert_int_eq(tu_write_file(path, "a\0b", 3), 0);
	ck_assert_int_eq(rk_read_file(path, &data, &len, &err), RK_OK);
	ck_assert_uint_eq(len, 3);
	ck_assert_int_eq(memcmp(data, "a\0b", 4), 0);
	free(data);
	tu_rmtree(dir);
	free(dir);
	free(path);
}
END_TEST

START_TEST(mkdir_p_creates_each_level)
{
	char *dir = tu_mkdtemp(), *deep = tu_path(dir, "a/b/c");
	rk_err err = {0};
	ck_assert_int_eq(rk_mkdir_p(deep, 0700, &err), RK_OK);
	ck_assert_int_eq(mode_of(deep), 0700);
	ck_assert_int_eq(rk_mkdir_p(deep, 0700, &err), RK_OK);
	char *file = tu_path(dir, "file");
	ck_assert_int_eq(tu_write_file(file, "x", 1), 0);
	char *under = tu_path(file, "sub");
	ck_assert_int_ne(rk_mkdir_p(under, 0700, &err), RK_OK);
	tu_rmtree(dir);
	free(dir);
	free(deep);
	free(file);
	free(under);
}
END_TEST

START_TEST(key_file_round_trip_and_refusals)
{
	char *dir = tu_mkdtemp(), *path = tu_path(dir, "k"), *link = tu_path(dir, "link");
	rk_key key = {.name = "k", .secret = K32}, got = {0};
	rk_err err = {0};
	ck_assert_int_eq(rk_key_write_file(path, &key, &err), RK_OK);
	ck_assert_int_eq(mode_of(path), 0600);
	ck_assert_int_eq(rk_key_write_file(path, &key, &err), RK_BADINPUT); /* never overwrites */
	ck_assert_int_eq(rk_key_read_file(path, &got, &err), RK_OK);
	ck_assert_str_eq(got.secret, K32);
	rk_key_clear(&got);
	ck_assert_int_eq(symlink(path, link), 0);
	ck_assert_int_ne(rk_key_read_file(link, &got, &err), RK_OK);
	chmod(path, 0640);
	ck_assert_int_eq(rk_key_read_file(path, &got, &err), RK_UNSAFE);
	ck_assert_ptr_nonnull(strstr(err.msg, "mode 0640"));
	chmod(path, 0600);
	ck_assert_int_eq(tu_write_file(path, "not base64!\n", 12), 0);
	ck_assert_int_eq(rk_key_read_file(path, &got, &err), RK_BADINPUT);
	ck_assert_ptr_null(strstr(err.msg, "not base64!"));
	ck_assert_ptr_null(got.secret);
	tu_rmtree(dir);
	free(dir);
	free(path);
	free(link);
}
END_TEST

Suite *fsutil_suite(void)
{
	Suite *s = suite_create("fsutil");
	TCase *tc = tcase_create("files");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, atomic_write_creates_0600_and_keeps_backup);
	tcase_add_test(tc, atomic_write_refuses_a_planted_temp_name);
	tcase_add_test(tc, atomic_write_in_read_only_dir_keeps_original);
	tcase_add_test(tc, atomic_write_backup_failure_keeps_original);
	tcase_add_test(tc, atomic_write_is_never_partial);
	tcase_add_test(tc, replacing_refuses_a_file_changed_since_read);
	tcase_add_test(tc, atomic_write_follows_a_symlink);
	tcase_add_test(tc, atomic_write_keeps_the_owner);
	tcase_add_test(tc, read_file_reports_path_and_reason);
	tcase_add_test(tc, mkdir_p_creates_each_level);
	tcase_add_test(tc, key_file_round_trip_and_refusals);
	suite_add_tcase(s, tc);
	return s;
}
