/* test_base64.c: the one base64 codec (src/util/base64.c) in each variant rekeyctl reads and writes, and
 * inputs far larger than any key (the decoder must not size scratch space by its input). */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "rekey/base64.h"

START_TEST(standard_round_trip)
{
	rk_buf b = RK_BUF_INIT;
	const char *plain[] = {"", "a", "ab", "abc", "abcd", "hello world\xff\x01"};
	const char *coded[] = {"", "YQ==", "YWI=", "YWJj", "YWJjZA==", "aGVsbG8gd29ybGT/AQ=="};
	for (size_t i = 0; i < sizeof plain / sizeof plain[0]; i++) {
		rk_buf_reset(&b);
		ck_assert_int_eq(rk_b64_encode(plain[i], strlen(plain[i]), RK_B64_STD, &b), 0);
		ck_assert_str_eq(rk_buf_cstr(&b), coded[i]);
		rk_buf_reset(&b);
		ck_assert_int_eq(rk_b64_decode(coded[i], strlen(coded[i]), RK_B64_STD, &b), 0);
		ck_assert_uint_eq(b.len, strlen(plain[i]));
		ck_assert(!memcmp(b.data ? (const char *)b.data : "", plain[i], b.len));
	}
	rk_buf_free(&b);
}
END_TEST

/* What the kubeconfig loader asks for: padding, line breaks skipped, unused bits zero. */
START_TEST(kubeconfig_variant)
{
	unsigned flags = RK_B64_NEWLINES | RK_B64_STRICT;
	rk_buf b = RK_BUF_INIT;
	ck_assert_int_eq(rk_b64_decode("aGVs\nbG8=", 9, flags, &b), 0);
	ck_assert_str_eq((char *)b.data, "hello");
	rk_buf_reset(&b);
	ck_assert_int_eq(rk_b64_decode("aGVsbG8", 7, flags, &b), -1);
	ck_assert_int_eq(rk_b64_decode("aG=sbG8=", 8, flags, &b), -1);
	ck_assert_int_eq(rk_b64_decode("aGVsbG9=", 8, flags, &b), -1);     /* non-zero trailing bits */
	ck_assert_int_eq(rk_b64_decode("aGVsbG9=", 8, RK_B64_STD, &b), 0); /* Go's StdEncoding takes them */
	ck_assert_int_eq(rk_b64_decode("aGVs\nbG8=", 9, RK_B64_STD, &b), -1);
	rk_buf_free(&b);
}
END_TEST

START_TEST(url_variant_has_no_padding)
{
	rk_buf b = RK_BUF_INIT;
	const unsigned char raw[] = {0xfb, 0xff, 0xbf, 0x7e};
	ck_assert_int_eq(rk_b64_encode(raw, sizeof raw, RK_B64_URL, &b), 0);
	ck_assert_str_eq(rk_buf_cstr(&b), "-_-_fg");
	rk_buf_reset(&b);
	ck_assert_int_eq(rk_b64_decode("-_-_fg", 6, RK_B64_URL, &b), 0);
	ck_assert_uint_eq(b.len, 4);
	ck_assert(!memcmp(b.data, raw, 4));
	ck_assert_int_eq(rk_b64_decode("+/+/fg", 6, RK_B64_URL, &b), -1); /* standard alphabet */
	ck_assert_int_eq(rk_b64_decode("-_-_fg==", 8, RK_B64_URL, &b), -1);
	ck_assert_int_eq(rk_b64_decode("-_-_f", 5, RK_B64_URL, &b), -1);
	rk_buf_free(&b);
}
END_TEST

START_TEST(decode_to_respects_cap)
{
	unsigned char out[3];
	ck_assert_int_eq(rk_b64_decode_to("YWJj", 4, RK_B64_STD, out, sizeof out), 3);
	ck_assert(!memcmp(out, "abc", 3));
	ck_assert_int_eq(rk_b64_decode_to("YWJjZA==", 8, RK_B64_STD, out, sizeof out), -1);
	ck_assert_int_eq(rk_b64_decode_to("YW Jj", 5, RK_B64_STD, out, sizeof out), -1);
}
END_TEST

/* 16 MiB of text: decoded into a heap buffer reserved once (a stack array of this size would crash). */
START_TEST(sixteen_megabytes)
{
	size_t n = 16u << 20;
	char *text = malloc(n + 1);
	ck_assert_ptr_nonnull(text);
	memset(text, 'A', n);
	text[n] = '\0';
	rk_buf b = RK_BUF_INIT;
	ck_assert_int_eq(rk_b64_decode(text, n, RK_B64_NEWLINES, &b), 0);
	ck_assert_uint_eq(b.len, n / 4 * 3);
	unsigned char small[32];
	ck_assert_int_eq(rk_b64_decode_to(text, n, RK_B64_STD, small, sizeof small), -1);
	rk_buf_free(&b);
	free(text);
}
END_TEST

Suite *base64_suite(void)
{
	Suite *s = suite_create("base64");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, standard_round_trip);
	tcase_add_test(tc, kubeconfig_variant);
	tcase_add_test(tc, url_variant_has_no_padding);
	tcase_add_test(tc, decode_to_respects_cap);
	tcase_add_test(tc, sixteen_megabytes);
	suite_add_tcase(s, tc);
	return s;
}
