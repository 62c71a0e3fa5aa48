/* test_buf.c: growable buffers and one-line errors. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "rekey/buf.h"
#include "rekey/err.h"

START_TEST(buf_appends_and_terminates)
{
	rk_buf b = RK_BUF_INIT;
	ck_assert_str_eq(rk_buf_cstr(&b), "");
	for (int i = 0; i < 1000; i++)
		ck_assert_int_eq(rk_buf_append_str(&b, "ab"), 0);
	ck_assert_uint_eq(b.len, 2000);
	ck_assert_int_eq(b.data[b.len], 0);
	ck_assert_int_eq(rk_buf_printf(&b, "%d-%s", 42, "x"), 0);
	ck_assert_str_eq((char *)b.data + 2000, "42-x");
	char *s = rk_buf_steal(&b);
	ck_assert_uint_eq(strlen(s), 2004);
	ck_assert_ptr_null(b.data);
	free(s);
}
END_TEST

START_TEST(err_is_one_line_and_prefixed)
{
	rk_err err;
	rk_err_clear(&err);
	ck_assert_int_eq(err.code, RK_OK);
	ck_assert_int_eq(rk_err_set(&err, RK_BADINPUT, "bad\nthing %d", 7), RK_BADINPUT);
	ck_assert_str_eq(err.msg, "bad thing 7");
	rk_err_prefix(&err, "%s:%d", "f.yaml", 3);
	ck_assert_str_eq(err.msg, "f.yaml:3: bad thing 7");
	ck_assert_int_eq(err.code, RK_BADINPUT);
}
END_TEST

/* What the release observer saw: every released block, and whether each was all zeros. */
struct releases {
	size_t blocks, wiped, secret;
	size_t marker_blocks; /* released blocks that still held the marker */
};

static const char marker[] = "KEY-MATERIAL-0123456789";

static void observe(const uint8_t *block, size_t cap, int secret, void *ud)
{
	struct releases *r = ud;
	size_t zero = 0;
	for (size_t i = 0; i < cap; i++)
		zero += block[i] == 0;
	r->blocks++;
	r->wiped += zero == cap;
	r->secret += secret;
	r->marker_blocks += memmem(block, cap, marker, sizeof marker - 1) != NULL;
}

/* A secret buffer that grows from 64 bytes to 64 KiB releases several blocks: each was wiped before
 * free, so no copy of the key is left in freed memory (realloc would have freed them unwiped). */
START_TEST(secret_buffer_growth_leaves_no_copy)
{
	struct releases seen = {0};
	rk_buf_observe_releases(observe, &seen);
	rk_buf key = RK_BUF_SECRET;
	ck_assert_int_eq(rk_buf_append_str(&key, marker), 0);
	for (int i = 0; i < 2000; i++)
		ck_assert_int_eq(rk_buf_append_str(&key, "0123456789abcdefghijklmnopqrstuvwxyz"), 0);
	ck_assert_uint_ge(seen.blocks, 9); /* 64 -> 128 -> ... -> 128 KiB */
	ck_assert_uint_eq(seen.wiped, seen.blocks);
	ck_assert_uint_eq(seen.marker_blocks, 0);
	ck_assert(memcmp(key.data, marker, sizeof marker - 1) == 0); /* the bytes moved, intact */
	size_t before = seen.blocks;
	rk_buf_free(&key); /* a secret buffer is wiped by the plain free too */
	ck_assert_uint_eq(seen.blocks, before + 1);
	ck_assert_uint_eq(seen.wiped, seen.blocks);
	ck_assert_uint_eq(seen.secret, seen.blocks);
	/* a buffer marked secret after it was filled */
	rk_buf late = RK_BUF_INIT;
	rk_buf_append_str(&late, marker);
	rk_buf_set_secret(&late);
	for (int i = 0; i < 10; i++)
		rk_buf_append_str(&late, "0123456789abcdefghijklmnopqrstuvwxyz");
	rk_buf_free(&late);
	ck_assert_uint_eq(seen.wiped, seen.blocks);
	ck_assert_uint_eq(seen.marker_blocks, 0);
	/* an ordinary buffer is not wiped when freed (the observer sees what free(3) gets) */
	rk_buf plain = RK_BUF_INIT;
	rk_buf_append_str(&plain, marker);
	rk_buf_free(&plain);
	ck_assert_uint_eq(seen.marker_blocks, 1);
	rk_buf_observe_releases(NULL, NULL);
}
END_TEST

Suite *buf_suite(void)
{
	Suite *s = suite_create("buf");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, buf_appends_and_terminates);
	tcase_add_test(tc, err_is_one_line_and_prefixed);
	tcase_add_test(tc, secret_buffer_growth_leaves_no_copy);
	suite_add_tcase(s, tc);
	return s;
}
