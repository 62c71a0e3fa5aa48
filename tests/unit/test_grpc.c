/* test_grpc.c: the gRPC wire helpers: framing, deframing a reply cut into chunks at every byte
 * (the compressed flag, the size limit, a second message, a reply cut short), grpc-message percent
 * decoding, grpc-timeout formatting, status code names, and targets that are not accepted. */
#include <check.h>
#include <string.h>

#include "rekey/grpc.h"

static int collect(void *ctx, const uint8_t *data, size_t len)
{
	return rk_buf_append(ctx, data, len);
}

START_TEST(frame_prefix_is_flag_and_big_endian_length)
{
	rk_buf b = RK_BUF_INIT;
	uint8_t msg[300];
	memset(msg, 7, sizeof msg);
	ck_assert_int_eq(rk_grpc_frame(&b, msg, sizeof msg), 0);
	const uint8_t want[] = {0, 0, 0, 0x01, 0x2c};
	ck_assert_uint_eq(b.len, 5 + sizeof msg);
	ck_assert_mem_eq(b.data, want, 5);
	ck_assert_mem_eq(b.data + 5, msg, sizeof msg);
	rk_buf_reset(&b);
	ck_assert_int_eq(rk_grpc_frame(&b, NULL, 0), 0); /* an empty message is 5 zero bytes */
	ck_assert_uint_eq(b.len, 5);
	ck_assert_mem_eq(b.data, "\0\0\0\0\0", 5);
	rk_buf_free(&b);
}
END_TEST

/* Frames msg, then deframes it cut at `cut` and at every later byte in turn. */
START_TEST(deframe_any_chunking)
{
	rk_buf framed = RK_BUF_INIT, out = RK_BUF_INIT;
	const char *msg = "a RangeResponse would be here";
	rk_grpc_frame(&framed, (const uint8_t *)msg, strlen(msg));
	for (size_t cut = 0; cut <= framed.len; cut++) {
		for (size_t step = 1; step <= 3; step++) {
			rk_grpc_deframer d;
			rk_buf_reset(&out);
			rk_grpc_deframer_init(&d, 1024, collect, &out);
			ck_assert_int_eq(rk_grpc_deframe(&d, framed.data, cut), 0);
			for (size_t i = cut; i < framed.len; i += step) {
				size_t n = framed.len - i < step ? framed.len - i : step;
				ck_assert_int_eq(rk_grpc_deframe(&d, framed.data + i, n), 0);
			}
			ck_assert_msg(rk_grpc_deframe_end(&d) == 0, "cut %zu: %s", cut, d.error);
			ck_assert_uint_eq(out.len, strlen(msg));
			ck_assert_mem_eq(out.data, msg, out.len);
		}
	}
	rk_buf_free(&framed);
	rk_buf_free(&out);
}
END_TEST

static int deframe_all(const uint8_t *data, size_t len, size_t max, rk_grpc_deframer *d)
{
	rk_grpc_deframer_init(d, max, NULL, NULL);
	int rc = rk_grpc_deframe(d, data, len);
	return rc ? rc : rk_grpc_deframe_end(d);
}

START_TEST(deframe_rejects_bad_replies)
{
	rk_grpc_deframer d;
	const uint8_t compressed[] = {1, 0, 0, 0, 1, 'x'};
	ck_assert_int_eq(deframe_all(compressed, sizeof compressed, 100, &d), -1);
	ck_assert_ptr_nonnull(strstr(d.error, "compressed"));
	const uint8_t bad_flag[] = {2, 0, 0, 0, 0};
	ck_assert_int_eq(deframe_all(bad_flag, sizeof bad_flag, 100, &d), -1);
	const uint8_t too_big[] = {0, 0, 0, 0, 101};
	ck_assert_int_eq(deframe_all(too_big, sizeof too_big, 100, &d), -1);
	ck_assert_ptr_nonnull(strstr(d.error, "over the limit"));
	const uint8_t huge[] = {0, 0xff, 0xff, 0xff, 0xff};
	ck_assert_int_eq(deframe_all(huge, sizeof huge, 100, &d), -1);
	const uint8_t two[] = {0, 0, 0, 0, 1, 'a', 0, 0, 0, 0, 1, 'b'};
	ck_assert_int_eq(deframe_all(two, sizeof two, 100, &d), -1);
	ck_assert_ptr_nonnull(strstr(d.error, "more than one message"));
	const uint8_t short_body[] = {0, 0, 0, 0, 9, 'a', 'b'};
	ck_assert_int_eq(deframe_all(short_body, sizeof short_body, 100, &d), -1);
	ck_assert_ptr_nonnull(strstr(d.error, "7 message bytes missing"));
	const uint8_t short_prefix[] = {0, 0, 0};
	ck_assert_int_eq(deframe_all(short_prefix, sizeof short_prefix, 100, &d), -1);
	ck_assert_ptr_nonnull(strstr(d.error, "prefix"));
	ck_assert_int_eq(deframe_all(NULL, 0, 100, &d), -1);
	ck_assert_ptr_nonnull(strstr(d.error, "no message"));
	const uint8_t empty[] = {0, 0, 0, 0, 0};
	ck_assert_int_eq(deframe_all(empty, sizeof empty, 100, &d), 0);
	ck_assert_uint_eq(d.messages, 1);
}
END_TEST

static int refuse(void *ctx, const uint8_t *data, size_t len)
{
	(void)ctx, (void)data, (void)len;
	return -1;
}

START_TEST(deframe_sink_refusal_stops)
{
	rk_grpc_deframer d;
	const uint8_t msg[] = {0, 0, 0, 0, 2, 'o', 'k'};
	rk_grpc_deframer_init(&d, 100, refuse, NULL);
	ck_assert_int_eq(rk_grpc_deframe(&d, msg, sizeof msg), -2);
}
END_TEST

START_TEST(percent_decoding)
{
	char out[64];
	const char *in = "etcdserver: key%20is%20not%20provided";
	rk_grpc_percent_decode(in, strlen(in), out, sizeof out);
	ck_assert_str_eq(out, "etcdserver: key is not provided");
	in = "100%25 %e2%9c%93 %zz %4";
	rk_grpc_percent_decode(in, strlen(in), out, sizeof out);
	ck_assert_str_eq(out, "100% \xe2\x9c\x93 %zz %4"); /* broken sequences kept as they are */
	rk_grpc_percent_decode("abcdef", 6, out, 4);
	ck_assert_str_eq(out, "abc"); /* truncated to the buffer */
	rk_grpc_percent_decode("%41", 2, out, sizeof out);
	ck_assert_str_eq(out, "%4"); /* the length given is the end, not the NUL */
}
END_TEST

START_TEST(timeout_header_units)
{
	char h[64];
	rk_grpc_timeout_header(1500, h, sizeof h);
	ck_assert_str_eq(h, "grpc-timeout: 1500m");
	rk_grpc_timeout_header(0, h, sizeof h);
	ck_assert_str_eq(h, "grpc-timeout: 1m");
	rk_grpc_timeout_header(99999999, h, sizeof h);
	ck_assert_str_eq(h, "grpc-timeout: 99999999m");
	rk_grpc_timeout_header(100000001, h, sizeof h); /* 9 digits in ms: seconds, rounded up */
	ck_assert_str_eq(h, "grpc-timeout: 100001S");
	rk_grpc_timeout_header(99999999L * 60000 + 1, h, sizeof h);
	ck_assert_str_eq(h, "grpc-timeout: 1666667H");
}
END_TEST

START_TEST(code_names)
{
	ck_assert_str_eq(rk_grpc_code_name(0), "OK");
	ck_assert_str_eq(rk_grpc_code_name(11), "OUT_OF_RANGE");
	ck_assert_str_eq(rk_grpc_code_name(16), "UNAUTHENTICATED");
	ck_assert_str_eq(rk_grpc_code_name(17), "UNKNOWN");
	ck_assert_str_eq(rk_grpc_code_name(-1), "UNKNOWN");
}
END_TEST

START_TEST(bad_targets)
{
	rk_grpc *g = NULL;
	rk_err err;
	const char *bad[] = {"ftp://x", "127.0.0.1:2379", "unix:", "unix://", ""};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		rk_grpc_opts o = {.target = bad[i]};
		ck_assert_int_eq(rk_grpc_open(&o, &g, &err), RK_BADINPUT);
		ck_assert_ptr_null(g);
	}
	rk_grpc_opts o = {.target = "unix:/run/kms.sock"};
	ck_assert_int_eq(rk_grpc_open(&o, &g, &err), RK_OK);
	rk_grpc_close(g);
}
END_TEST

Suite *grpc_suite(void)
{
	Suite *s = suite_create("grpc");
	TCase *tc = tcase_create("wire");
	tcase_add_test(tc, frame_prefix_is_flag_and_big_endian_length);
	tcase_add_test(tc, deframe_any_chunking);
	tcase_add_test(tc, deframe_rejects_bad_replies);
	tcase_add_test(tc, deframe_sink_refusal_stops);
	tcase_add_test(tc, percent_decoding);
	tcase_add_test(tc, timeout_header_units);
	tcase_add_test(tc, code_names);
	tcase_add_test(tc, bad_targets);
	suite_add_tcase(s, tc);
	return s;
}
