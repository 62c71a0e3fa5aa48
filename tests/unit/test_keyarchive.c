/* test_keyarchive.c: the key archive: 0600 entries in 0700 directories, names that round-trip through
 * the file name (dots, slashes, percent signs), idempotent puts, a different secret never overwritten. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "rekey/keyarchive.h"
#include "rekey/keyfile.h"
#include "testutil.h"

struct seen {
	rk_archived_key entries[8];
	size_t n;
};

static int collect(const rk_archived_key *e, void *ud)
{
	struct seen *s = ud;
	if (s->n < 8)
		s->entries[s->n++] = *e;
	return 0;
}

static const rk_archived_key *find(const struct seen *s, const char *name)
{
	for (size_t i = 0; i < s->n; i++)
		if (!strcmp(s->entries[i].name, name))
			return &s->entries[i];
	return NULL;
}

START_TEST(entries_round_trip_with_mode_and_fingerprint)
{
	char *state = tu_mkdtemp(), archive[4200], path[4096];
	rk_err err;
	ck_assert_int_eq(rk_archive_dir(state, archive, sizeof archive, &err), RK_OK);
	rk_key plain = {.name = "key1", .secret = "c2VjcmV0LWtleS1tYXRlcmlhbC0wMDAwMDAwMDAwMDA="};
	rk_key odd = {.name = "a.b/c%d e", .secret = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="};
	ck_assert_int_eq(rk_archive_put(archive, "prod", RK_PROV_AESCBC, &plain, path, sizeof path, &err),
	                 RK_OK);
	struct stat st;
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_int_eq(st.st_mode & 0777, 0600);
	char *dir = tu_path(archive, "prod");
	ck_assert_int_eq(stat(dir, &st), 0);
	ck_assert_int_eq(st.st_mode & 0777, 0700);
	ck_assert_int_eq(rk_archive_put(archive, "prod", RK_PROV_SECRETBOX, &odd, NULL, 0, &err), RK_OK);
	ck_assert_int_eq(rk_archive_put(archive, "test", RK_PROV_AESGCM, &plain, NULL, 0, &err), RK_OK);
	/* the same key again: kept, no error */
	ck_assert_int_eq(rk_archive_put(archive, "prod", RK_PROV_AESCBC, &plain, NULL, 0, &err), RK_OK);

	struct seen prod = {0}, all = {0};
	ck_assert_int_eq(rk_archive_each(archive, "prod", collect, &prod, &err), RK_OK);
	ck_assert_uint_eq(prod.n, 2);
	const rk_archived_key *e = find(&prod, "a.b/c%d e");
	ck_assert_ptr_nonnull(e);
	ck_assert_str_eq(e->provider, "secretbox");
	ck_assert_str_eq(e->cluster, "prod");
	char fp[17];
	ck_assert_int_eq(rk_key_fingerprint(&odd, fp), 0);
	ck_assert_str_eq(e->fingerprint, fp);
	rk_key back = {0};
	ck_assert_int_eq(rk_key_read_file(e->path, &back, &err), RK_OK);
	ck_assert_str_eq(back.secret, odd.secret);
	rk_key_clear(&back);
	ck_assert_int_eq(rk_archive_each(archive, NULL, collect, &all, &err), RK_OK);
	ck_assert_uint_eq(all.n, 3);
	free(dir);
	tu_rmtree(state);
	free(state);
}
END_TEST

START_TEST(another_secret_under_a_name_is_never_overwritten)
{
	char *state = tu_mkdtemp(), archive[4200], path[4096];
	rk_err err;
	ck_assert_int_eq(rk_archive_dir(state, archive, sizeof archive, &err), RK_OK);
	rk_key key = {.name = "k", .secret = "c2VjcmV0LWtleS1tYXRlcmlhbC0wMDAwMDAwMDAwMDA="};
	ck_assert_int_eq(rk_archive_put(archive, "c", RK_PROV_AESCBC, &key, path, sizeof path, &err), RK_OK);
	/* a file planted at that name with another secret */
	const char *other = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=\n";
	ck_assert_int_eq(tu_write_file(path, other, strlen(other)), 0);
	ck_assert_int_eq(rk_archive_put(archive, "c", RK_PROV_AESCBC, &key, NULL, 0, &err), RK_UNSAFE);
	ck_assert_ptr_nonnull(strstr(err.msg, "another key"));
	size_t len;
	char *now = tu_read_file(path, &len);
	ck_assert_str_eq(now, other);
	free(now);
	/* kms and identity have no local key to archive; a missing archive lists nothing */
	ck_assert_int_eq(rk_archive_put(archive, "c", RK_PROV_KMS, &key, NULL, 0, &err), RK_BADINPUT);
	struct seen none = {0};
	ck_assert_int_eq(rk_archive_each("/nonexistent/archive", NULL, collect, &none, &err), RK_OK);
	ck_assert_uint_eq(none.n, 0);
	tu_rmtree(state);
	free(state);
}
END_TEST

START_TEST(foreign_files_are_not_entries)
{
	char *state = tu_mkdtemp(), archive[4200];
	rk_err err;
	ck_assert_int_eq(rk_archive_dir(state, archive, sizeof archive, &err), RK_OK);
	rk_key key = {.name = "k", .secret = "c2VjcmV0LWtleS1tYXRlcmlhbC0wMDAwMDAwMDAwMDA="};
	ck_assert_int_eq(rk_archive_put(archive, "c", RK_PROV_AESCBC, &key, NULL, 0, &err), RK_OK);
	const char *names[] = {"README",
	                       "x.key",
	                       "k.rot13.0123456789abcdef.key",
	                       "k.aescbc.0123.key",
	                       "k%zz.aescbc.0123456789abcdef.key",
	                       ".aescbc.0123456789abcdef.key"};
	char *dir = tu_path(archive, "c");
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
		char *p = tu_path(dir, names[i]);
		ck_assert_int_eq(tu_write_file(p, "x\n", 2), 0);
		free(p);
	}
	struct seen s = {0};
	ck_assert_int_eq(rk_archive_each(archive, "c", collect, &s, &err), RK_OK);
	ck_assert_uint_eq(s.n, 1);
	ck_assert_str_eq(s.entries[0].name, "k");
	free(dir);
	tu_rmtree(state);
	free(state);
}
END_TEST

Suite *keyarchive_suite(void)
{
	Suite *s = suite_create("keyarchive");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, entries_round_trip_with_mode_and_fingerprint);
	tcase_add_test(tc, another_secret_under_a_name_is_never_overwritten);
	tcase_add_test(tc, foreign_files_are_not_entries);
	suite_add_tcase(s, tc);
	return s;
}
