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

Suite *buf_suite(void)
{
	Suite *s = suite_create("buf");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, buf_appends_and_terminates);
	tcase_add_test(tc, err_is_one_line_and_prefixed);
	suite_add_tcase(s, tc);
	return s;
}
