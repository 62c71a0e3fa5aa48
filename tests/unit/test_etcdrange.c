/* test_etcdrange.c: etcd KV Range in protobuf: RangeRequest bytes as etcd reads them (field numbers
 * from rpc.proto), and the streaming RangeResponse decoder: a reply built with the encoder decodes the
 * same whatever the chunking, unknown fields are skipped, wrong wire types and cut replies are
 * malformed, and the callback can stop it. */
#include <check.h>
#include <stdio.h>
#include <string.h>

#include "rekey/etcdrange.h"
#include "rekey/pbwire.h"

START_TEST(request_bytes)
{
	rk_buf b = RK_BUF_INIT;
	rk_etcd_range_req q = {.key = (const uint8_t *)"/r/",
	                       .key_len = 3,
	                       .range_end = (const uint8_t *)"/r0",
	                       .range_end_len = 3,
	                       .limit = 500,
	                       .revision = 42,
	                       .keys_only = 1};
	ck_assert_int_eq(rk_etcd_range_encode(&q, &b), 0);
	const uint8_t want[] = {0x0a, 3,    '/',  'r',  '/',  0x12, 3,    '/', 'r',
	                        '0',  0x18, 0xf4, 0x03, 0x20, 42,   0x40, 1};
	ck_assert_uint_eq(b.len, sizeof want);
	ck_assert_mem_eq(b.data, want, sizeof want);
	rk_buf_reset(&b);
	rk_etcd_range_req empty = {0}; /* proto3: zero fields are left out */
	ck_assert_int_eq(rk_etcd_range_encode(&empty, &b), 0);
	ck_assert_uint_eq(b.len, 0);
	rk_etcd_range_req count = {.count_only = 1};
	ck_assert_int_eq(rk_etcd_range_encode(&count, &b), 0);
	ck_assert_uint_eq(b.len, 2);
	ck_assert_mem_eq(b.data, "\x48\x01", 2);
	rk_buf_free(&b);
}
END_TEST

static void put_kv(rk_buf *msg, const char *key, const char *value, int64_t mod)
{
	rk_buf kv = RK_BUF_INIT;
	rk_pb_put_bytes(&kv, 1, key, strlen(key));
	rk_pb_put_varint(&kv, 2, 5);
	rk_pb_put_varint(&kv, 3, (uint64_t)mod);
	rk_pb_put_varint(&kv, 4, 2);
	if (*value)
		rk_pb_put_bytes(&kv, 5, value, strlen(value));
	rk_pb_put_varint(&kv, 99, 7); /* a field this decoder does not know */
	rk_pb_put_bytes(msg, 2, kv.data, kv.len);
	rk_buf_free(&kv);
}

/* A RangeResponse: header{cluster_id, revision 77}, three kvs (one with an empty value and one
 * large), an unknown top-level field, more = true, count = 10. */
static void build_reply(rk_buf *msg, rk_buf *big)
{
	rk_buf header = RK_BUF_INIT;
	rk_pb_put_varint(&header, 1, 12345);
	rk_pb_put_varint(&header, 3, 77);
	rk_pb_put_bytes(msg, 1, header.data, header.len);
	rk_buf_free(&header);
	put_kv(msg, "/registry/secrets/a/s1", "k8s:enc:aescbc:v1:k1:xxxxxxxxxxxxxxxx", 70);
	put_kv(msg, "/registry/secrets/a/s2", "", 71);
	for (int i = 0; i < 3000; i++)
		rk_buf_append(big, "0123456789", 10);
	put_kv(msg, "/registry/secrets/b/s3", rk_buf_cstr(big), 72);
	rk_pb_put_bytes(msg, 15, "future", 6);
	rk_pb_put_varint(msg, 3, 1);
	rk_pb_put_varint(msg, 4, 10);
}

struct seen {
	int n;
	char keys[3][64];
	size_t value_len[3];
	int64_t mod[3];
	int stop_after;
};

static int on_kv(void *ctx, const rk_etcd_kv_view *kv)
{
	struct seen *s = ctx;
	if (s->n < 3) {
		snprintf(s->keys[s->n], sizeof s->keys[0], "%.*s", (int)kv->key_len, (const char *)kv->key);
		s->value_len[s->n] = kv->value_len;
		s->mod[s->n] = kv->mod_revision;
	}
	s->n++;
	return s->stop_after && s->n >= s->stop_after;
}

START_TEST(decodes_any_chunking)
{
	rk_buf msg = RK_BUF_INIT, big = RK_BUF_INIT;
	build_reply(&msg, &big);
	size_t steps[] = {1, 7, 100, 4096, msg.len};
	for (size_t si = 0; si < sizeof steps / sizeof steps[0]; si++) {
		struct seen s = {0};
		rk_etcd_range_decoder d;
		rk_etcd_range_decoder_init(&d, on_kv, &s);
		for (size_t i = 0; i < msg.len; i += steps[si]) {
			size_t n = msg.len - i < steps[si] ? msg.len - i : steps[si];
			ck_assert_msg(rk_etcd_range_feed(&d, msg.data + i, n) == 0, "step %zu: %s", steps[si],
			              d.error);
		}
		ck_assert_int_eq(rk_etcd_range_finish(&d), 0);
		ck_assert_int_eq(s.n, 3);
		ck_assert_uint_eq(d.nkvs, 3);
		ck_assert_str_eq(s.keys[0], "/registry/secrets/a/s1");
		ck_assert_str_eq(s.keys[2], "/registry/secrets/b/s3");
		ck_assert_uint_eq(s.value_len[1], 0);
		ck_assert_uint_eq(s.value_len[2], big.len);
		ck_assert_int_eq(s.mod[2], 72);
		ck_assert_int_eq(d.revision, 77);
		ck_assert_int_eq(d.more, 1);
		ck_assert_int_eq(d.count, 10);
		ck_assert_uint_eq(d.bytes, msg.len);
		/* it never holds more than one field: the large value, not the whole reply */
		ck_assert_uint_le(d.pending.cap, 2 * (big.len + 4096 + 64));
		rk_etcd_range_decoder_free(&d);
	}
	rk_buf_free(&msg);
	rk_buf_free(&big);
}
END_TEST

START_TEST(empty_reply_and_cut_reply)
{
	rk_etcd_range_decoder d;
	rk_etcd_range_decoder_init(&d, NULL, NULL);
	ck_assert_int_eq(rk_etcd_range_finish(&d), 0); /* an empty message: no header, nothing more */
	ck_assert_int_eq(d.more, 0);
	rk_buf msg = RK_BUF_INIT, big = RK_BUF_INIT;
	build_reply(&msg, &big);
	ck_assert_int_eq(rk_etcd_range_feed(&d, msg.data, msg.len - 1), 0);
	ck_assert_int_eq(rk_etcd_range_finish(&d), -1);
	ck_assert_ptr_nonnull(strstr(d.error, "cut short"));
	rk_etcd_range_decoder_free(&d);
	rk_buf_free(&msg);
	rk_buf_free(&big);
}
END_TEST

static int feed_all(const uint8_t *p, size_t n, rk_etcd_range_decoder *d)
{
	rk_etcd_range_decoder_init(d, NULL, NULL);
	int rc = rk_etcd_range_feed(d, p, n);
	if (rc == 0)
		rc = rk_etcd_range_finish(d);
	rk_etcd_range_decoder_free(d);
	return rc;
}

START_TEST(wrong_wire_types_are_malformed)
{
	rk_etcd_range_decoder d;
	const uint8_t kvs_varint[] = {0x10, 1};            /* kvs as a varint */
	const uint8_t more_bytes[] = {0x1a, 1, 'x'};       /* more as bytes */
	const uint8_t header_varint[] = {0x08, 1};         /* header as a varint */
	const uint8_t rev_bytes[] = {0x0a, 3, 0x1a, 1, 0}; /* header.revision as bytes */
	const uint8_t key_varint[] = {0x12, 2, 0x08, 1};   /* kv.key as a varint */
	const uint8_t mod_bytes[] = {0x12, 3, 0x1a, 1, 0}; /* kv.mod_revision as bytes */
	const uint8_t bad_inner[] = {0x12, 2, 0x0a, 5};    /* kv.key longer than the kv */
	const uint8_t group[] = {0x13};                    /* a group tag */
	const uint8_t *bad[] = {kvs_varint, more_bytes, header_varint, rev_bytes,
	                        key_varint, mod_bytes,  bad_inner,     group};
	size_t lens[] = {sizeof kvs_varint, sizeof more_bytes, sizeof header_varint, sizeof rev_bytes,
	                 sizeof key_varint, sizeof mod_bytes,  sizeof bad_inner,     sizeof group};
	for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++)
		ck_assert_msg(feed_all(bad[i], lens[i], &d) == -1, "case %zu accepted", i);
	ck_assert_int_eq(feed_all(bad_inner, sizeof bad_inner, &d), -1);
	ck_assert_ptr_nonnull(strstr(d.error, "malformed RangeResponse"));
}
END_TEST

START_TEST(callback_stops_decoder)
{
	rk_buf msg = RK_BUF_INIT, big = RK_BUF_INIT;
	build_reply(&msg, &big);
	struct seen s = {.stop_after = 2};
	rk_etcd_range_decoder d;
	rk_etcd_range_decoder_init(&d, on_kv, &s);
	ck_assert_int_eq(rk_etcd_range_feed(&d, msg.data, msg.len), -2);
	ck_assert_int_eq(s.n, 2);
	rk_etcd_range_decoder_free(&d);
	rk_buf_free(&msg);
	rk_buf_free(&big);
}
END_TEST

Suite *etcdrange_suite(void)
{
	Suite *s = suite_create("etcdrange");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, request_bytes);
	tcase_add_test(tc, decodes_any_chunking);
	tcase_add_test(tc, empty_reply_and_cut_reply);
	tcase_add_test(tc, wrong_wire_types_are_malformed);
	tcase_add_test(tc, callback_stops_decoder);
	suite_add_tcase(s, tc);
	return s;
}
