/* test_pbwire.c: the protobuf wire reader: every wire type, and malformed input rejected. */
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

Suite *pbwire_suite(void)
{
	Suite *s = suite_create("pbwire");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, reads_every_wire_type);
	tcase_add_test(tc, rejects_malformed);
	suite_add_tcase(s, tc);
	return s;
}
