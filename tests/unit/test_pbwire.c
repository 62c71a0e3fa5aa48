/* test_pbwire.c: the protobuf wire reader (every wire type, malformed input rejected), the whole-field
 * probe (complete, cut at every byte, malformed) and the encoder (round trips at the varint edges). */
#include <check.h>
#include <string.h>

#include "rekey/pbwire.h"

START_TEST(reads_every_wire_type)
{
	/* field 1 varint 300, field 2 bytes "hi", field 3 fixed32 1, field 4 fixed64 2 */
	const uint8_t msg[] = {0x08, 0xac, 0x02, 0x12, 0x02, 'h', 'i', 0x1d, 1, 0, 0,
	                       0,    0x21, 2,    0,    0,    0,   0,   0,    0, 0};
	rk_pb_reader r;
	rk_pb_field f;
	rk_pb_init(&r, msg, sizeof msg);
	ck_assert_int_eq(rk_pb_next(&r, &f), 1);
	ck_assert_uint_eq(f.num, 1);
	ck_assert_uint_eq(f.value, 300);
	ck_assert_int_eq(rk_pb_next(&r, &f), 1);
	ck_assert_int_eq(f.wire, RK_PB_BYTES);
	ck_assert_uint_eq(f.len, 2);
	ck_assert_mem_eq(f.data, "hi", 2);
	ck_assert_int_eq(rk_pb_next(&r, &f), 1);
	ck_assert_uint_eq(f.value, 1);
	ck_assert_int_eq(rk_pb_next(&r, &f), 1);
	ck_assert_uint_eq(f.num, 4);
	ck_assert_uint_eq(f.value, 2);
	ck_assert_int_eq(rk_pb_next(&r, &f), 0);
}
END_TEST

START_TEST(rejects_malformed)
{
	const uint8_t *bad[] = {
	    (const uint8_t *)"\x12\x05hi",                                   /* length past the end */
	    (const uint8_t *)"\x08",                                         /* truncated varint */
	    (const uint8_t *)"\x0b",                                         /* group start */
	    (const uint8_t *)"\x00\x01",                                     /* field 0 */
	    (const uint8_t *)"\x08\xff\xff\xff\xff\xff\xff\xff\xff\xff\x7f", /* varint over 64 bits */
	    (const uint8_t *)"\x1d\x01\x02",                                 /* short fixed32 */
	};
	const size_t lens[] = {4, 1, 1, 2, 11, 3};
	for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++) {
		rk_pb_reader r;
		rk_pb_field f;
		rk_pb_init(&r, bad[i], lens[i]);
		ck_assert_msg(rk_pb_next(&r, &f) == -1, "case %zu accepted", i);
	}
}
END_TEST

static const uint64_t edge_values[] = {
    0, 1, 127, 128, 300, 16383, 16384, UINT32_MAX, (uint64_t)1 << 63, UINT64_MAX};

START_TEST(encoder_round_trips_varint_edges)
{
	rk_buf b = RK_BUF_INIT;
	size_t n = sizeof edge_values / sizeof edge_values[0];
	for (size_t i = 0; i < n; i++)
		ck_assert_int_eq(rk_pb_put_varint(&b, (uint32_t)(i + 1), edge_values[i]), 0);
	ck_assert_int_eq(rk_pb_put_varint(&b, 0x1fffffff, 5), 0); /* the largest field number */
	rk_pb_reader r;
	rk_pb_field f;
	rk_pb_init(&r, b.data, b.len);
	for (size_t i = 0; i < n; i++) {
		ck_assert_int_eq(rk_pb_next(&r, &f), 1);
		ck_assert_uint_eq(f.num, i + 1);
		ck_assert_int_eq(f.wire, RK_PB_VARINT);
		ck_assert_msg(f.value == edge_values[i], "value %zu", i);
	}
	ck_assert_int_eq(rk_pb_next(&r, &f), 1);
	ck_assert_uint_eq(f.num, 0x1fffffff);
	ck_assert_int_eq(rk_pb_next(&r, &f), 0);
	rk_buf_free(&b);
}
END_TEST

START_TEST(encoder_known_bytes)
{
	rk_buf b = RK_BUF_INIT;
	ck_assert_int_eq(rk_pb_put_varint(&b, 1, 300), 0);
	ck_assert_int_eq(rk_pb_put_bytes(&b, 2, "hi", 2), 0);
	ck_assert_int_eq(rk_pb_put_bytes(&b, 16, "", 0), 0); /* two-byte tag, empty payload */
	const uint8_t want[] = {0x08, 0xac, 0x02, 0x12, 0x02, 'h', 'i', 0x82, 0x01, 0x00};
	ck_assert_uint_eq(b.len, sizeof want);
	ck_assert_mem_eq(b.data, want, sizeof want);
	ck_assert_uint_eq(b.data[b.len], 0); /* still NUL-terminated */
	rk_buf_free(&b);
}
END_TEST

START_TEST(encoder_large_bytes_field)
{
	rk_buf b = RK_BUF_INIT;
	static uint8_t big[200000];
	memset(big, 0xab, sizeof big);
	ck_assert_int_eq(rk_pb_put_bytes(&b, 5, big, sizeof big), 0);
	size_t size = 0;
	ck_assert_int_eq(rk_pb_field_size(b.data, b.len, &size), 1);
	ck_assert_uint_eq(size, b.len);
	ck_assert_uint_eq(b.len, 1 + 3 + sizeof big); /* 200000 takes a 3-byte varint */
	rk_pb_reader r;
	rk_pb_field f;
	rk_pb_init(&r, b.data, b.len);
	ck_assert_int_eq(rk_pb_next(&r, &f), 1);
	ck_assert_uint_eq(f.len, sizeof big);
	ck_assert_mem_eq(f.data, big, sizeof big);
	rk_buf_free(&b);
}
END_TEST

START_TEST(field_size_at_every_cut)
{
	rk_buf b = RK_BUF_INIT;
	rk_pb_put_varint(&b, 3, UINT64_MAX); /* 1 + 10 bytes */
	size_t varint_end = b.len;
	rk_pb_put_bytes(&b, 2, "hello world", 11); /* 1 + 1 + 11 */
	size_t bytes_end = b.len;
	const uint8_t fixed[] = {0x19, 1, 2, 3, 4, 5, 6, 7, 8, 0x25, 1, 2, 3, 4}; /* fixed64 3, fixed32 4 */
	rk_buf_append(&b, fixed, sizeof fixed);
	size_t ends[] = {varint_end, bytes_end, bytes_end + 9, b.len};
	size_t start = 0;
	for (size_t e = 0; e < sizeof ends / sizeof ends[0]; e++) {
		for (size_t cut = start; cut < ends[e]; cut++) {
			size_t size = 0;
			ck_assert_msg(rk_pb_field_size(b.data + start, cut - start, &size) == 0,
			              "field %zu cut at %zu not incomplete", e, cut);
		}
		size_t size = 0;
		ck_assert_int_eq(rk_pb_field_size(b.data + start, b.len - start, &size), 1);
		ck_assert_uint_eq(size, ends[e] - start);
		start = ends[e];
	}
	rk_buf_free(&b);
}
END_TEST

START_TEST(field_size_rejects_malformed)
{
	size_t size;
	const uint8_t field0[] = {0x00, 0x01}, group[] = {0x0b}, wire7[] = {0x0f},
	              long_varint[] = {0x08, 0xff, 0xff, 0xff, 0xff, 0xff,
	                               0xff, 0xff, 0xff, 0xff, 0xff, 0x01},
	              long_tag[] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
	ck_assert_int_eq(rk_pb_field_size(field0, sizeof field0, &size), -1);
	ck_assert_int_eq(rk_pb_field_size(group, sizeof group, &size), -1);
	ck_assert_int_eq(rk_pb_field_size(wire7, sizeof wire7, &size), -1);
	ck_assert_int_eq(rk_pb_field_size(long_varint, sizeof long_varint, &size), -1);
	ck_assert_int_eq(rk_pb_field_size(long_tag, sizeof long_tag, &size), -1);
	/* a length that cannot fit in memory is malformed, not "read more" */
	const uint8_t huge[] = {0x12, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01};
	ck_assert_int_eq(rk_pb_field_size(huge, sizeof huge, &size), -1);
	ck_assert_int_eq(rk_pb_field_size(NULL, 0, &size), 0);
}
END_TEST

Suite *pbwire_suite(void)
{
	Suite *s = suite_create("pbwire");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, reads_every_wire_type);
	tcase_add_test(tc, rejects_malformed);
	tcase_add_test(tc, encoder_round_trips_varint_edges);
	tcase_add_test(tc, encoder_known_bytes);
	tcase_add_test(tc, encoder_large_bytes_field);
	tcase_add_test(tc, field_size_at_every_cut);
	tcase_add_test(tc, field_size_rejects_malformed);
	suite_add_tcase(s, tc);
	return s;
}
