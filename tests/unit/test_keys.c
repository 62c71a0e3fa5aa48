/* test_keys.c: provider names, strict base64 key decoding, fingerprints. */
#include <check.h>
#include <string.h>

#include "rekey/encconfig.h"

START_TEST(provider_names_round_trip)
{
	for (int t = RK_PROV_AESGCM; t <= RK_PROV_KMS; t++)
		ck_assert_int_eq(rk_provider_from_name(rk_provider_name((rk_provider_type)t)), t);
	ck_assert_int_eq(rk_provider_from_name("AESCBC"), RK_PROV_NONE);
	ck_assert_int_eq(rk_provider_from_name(NULL), RK_PROV_NONE);
}
END_TEST

START_TEST(key_decode_is_strict)
{
	uint8_t out[64];
	rk_key key = {.name = "k", .secret = "c2VjcmV0IGlzIHNlY3VyZSwgSSB0aGluayBzbw=="};
	ck_assert_int_eq(rk_key_decode(&key, out, sizeof out), 28);
	ck_assert_int_eq(memcmp(out, "secret is secure, I think so", 28), 0);
	const char *bad[] = {"", "abc", "ab=c", "a*cd", "YW Jj", "YQ===", "YWJjZA", "\n\r\n"};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		key.secret = (char *)bad[i];
		ck_assert_msg(rk_key_decode(&key, out, sizeof out) < 0, "accepted \"%s\"", bad[i]);
	}
	key.secret = "YWJj";
	ck_assert_int_eq(rk_key_decode(&key, out, 2), -1);
	/* like Go's decoder, line breaks anywhere are skipped (a secret folded over YAML lines) */
	key.secret = "YW\r\nJj\n";
	ck_assert_int_eq(rk_key_decode(&key, out, sizeof out), 3);
	ck_assert_int_eq(memcmp(out, "abc", 3), 0);
}
END_TEST

START_TEST(fingerprint_is_sha256_prefix)
{
	/* sha256("abc") = ba7816bf8f01cfea... */
	rk_key key = {.name = "k", .secret = "YWJj"};
	char fp[17];
	ck_assert_int_eq(rk_key_fingerprint(&key, fp), 0);
	ck_assert_str_eq(fp, "ba7816bf8f01cfea");
}
END_TEST

Suite *keys_suite(void)
{
	Suite *s = suite_create("keys");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, provider_names_round_trip);
	tcase_add_test(tc, key_decode_is_strict);
	tcase_add_test(tc, fingerprint_is_sha256_prefix);
	suite_add_tcase(s, tc);
	return s;
}
