/* test_kmsplugin.c: the KMS v2 plugin's StatusResponse (decode, the apiserver's health rules), the
 * key_id hash of the envelope metrics, and a missing socket as a clean error (Status against the real
 * plugin runs in tests/e2e/67_rotate_kms.sh). */
#include <check.h>
#include <string.h>

#include "rekey/buf.h"
#include "rekey/kmsplugin.h"
#include "rekey/pbwire.h"

static void status_msg(rk_buf *b, const char *version, const char *healthz, const char *key_id)
{
	rk_buf_reset(b);
	if (version)
		ck_assert_int_eq(rk_pb_put_bytes(b, 1, version, strlen(version)), 0);
	if (healthz)
		ck_assert_int_eq(rk_pb_put_bytes(b, 2, healthz, strlen(healthz)), 0);
	if (key_id)
		ck_assert_int_eq(rk_pb_put_bytes(b, 3, key_id, strlen(key_id)), 0);
}

START_TEST(status_decode_and_health)
{
	rk_buf b = RK_BUF_INIT;
	rk_kms_status st;
	status_msg(&b, "v2", "ok", "kek-2-8d1e8b6a");
	ck_assert_int_eq(rk_kms_status_decode(b.data, b.len, &st), 0);
	ck_assert_str_eq(st.version, "v2");
	ck_assert_str_eq(st.key_id, "kek-2-8d1e8b6a");
	ck_assert_ptr_null(rk_kms_status_problem(&st));
	status_msg(&b, "v2beta1", "ok", "k");
	ck_assert_int_eq(rk_kms_status_decode(b.data, b.len, &st), 0);
	ck_assert_ptr_null(rk_kms_status_problem(&st));
	status_msg(&b, "v1", "ok", "k");
	rk_kms_status_decode(b.data, b.len, &st);
	ck_assert_str_eq(rk_kms_status_problem(&st), "version is not v2");
	status_msg(&b, "v2", "kek sealed", "k");
	rk_kms_status_decode(b.data, b.len, &st);
	ck_assert_str_eq(rk_kms_status_problem(&st), "healthz is not \"ok\"");
	status_msg(&b, "v2", "ok", NULL);
	rk_kms_status_decode(b.data, b.len, &st);
	ck_assert_str_eq(rk_kms_status_problem(&st), "key_id is empty");
	char long_id[1100];
	memset(long_id, 'k', 1025);
	long_id[1025] = '\0';
	status_msg(&b, "v2", "ok", long_id);
	rk_kms_status_decode(b.data, b.len, &st);
	ck_assert_str_eq(rk_kms_status_problem(&st), "key_id is over 1024 bytes");
	long_id[1024] = '\0';
	status_msg(&b, "v2", "ok", long_id);
	rk_kms_status_decode(b.data, b.len, &st);
	ck_assert_ptr_null(rk_kms_status_problem(&st));
	/* an empty message is every field at its default; a varint where a string belongs is not one */
	ck_assert_int_eq(rk_kms_status_decode(NULL, 0, &st), 0);
	ck_assert_str_eq(rk_kms_status_problem(&st), "version is not v2");
	rk_buf_reset(&b);
	ck_assert_int_eq(rk_pb_put_varint(&b, 3, 7), 0);
	ck_assert_int_eq(rk_kms_status_decode(b.data, b.len, &st), -1);
	const uint8_t truncated[] = {0x0a, 0x05, 'v'};
	ck_assert_int_eq(rk_kms_status_decode(truncated, sizeof truncated, &st), -1);
	rk_buf_free(&b);
}
END_TEST

/* The label kube-apiserver v1.34 put on its envelope metrics for this key_id (observed in
 * tests/e2e/67_rotate_kms.sh's run: sha256 of the key_id's bytes). */
START_TEST(key_id_hash_matches_the_apiserver_label)
{
	char hash[72];
	rk_kms_key_id_hash("kek-2-8d1e8b6a", hash);
	ck_assert_str_eq(hash, "sha256:ccd4d51c2bbb2734dcf70cedb647f8aa5068719519d53c9140e1b98745b8f342");
}
END_TEST

START_TEST(status_on_a_missing_socket_is_a_clean_error)
{
	rk_kms_status st;
	rk_err err;
	ck_assert_int_eq(rk_kms_plugin_status("/nonexistent/kms.sock", 2000, &st, &err), RK_FAIL);
	ck_assert_ptr_nonnull(strstr(err.msg, "/nonexistent/kms.sock"));
	ck_assert_ptr_null(strchr(err.msg, '\n'));
}
END_TEST

Suite *kmsplugin_suite(void)
{
	Suite *s = suite_create("kmsplugin");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, status_decode_and_health);
	tcase_add_test(tc, key_id_hash_matches_the_apiserver_label);
	tcase_add_test(tc, status_on_a_missing_socket_is_a_clean_error);
	suite_add_tcase(s, tc);
	return s;
}
