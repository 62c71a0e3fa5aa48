/* test_codec.c: stored value formats. Known answers come from an independent path: OpenSSL EVP and
 * libsodium called directly here (never through codec.c), plus NIST SP 800-38A/38D vectors. */
#include <check.h>
#include <openssl/evp.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "rekey/codec.h"
#include "rekey/pbwire.h"

/* 32 bytes "0123456789abcdef0123456789abcdef", 16 bytes "0123456789abcdef", and another 32. */
#define K32_A "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="
#define K16_A "MDEyMzQ1Njc4OWFiY2RlZg=="
#define K32_B "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVphYmNkZWY="
static const uint8_t key32a[] = "0123456789abcdef0123456789abcdef";
static const uint8_t key32b[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdef";
static const char *etcd_key = "/registry/secrets/default/s1";
static const uint8_t plain[] =
    "k8s\0\x0a\x0d\x0a\x02v1\x12\x06Secret payload of a secret, long enough for tests";
#define PLAIN_LEN (sizeof plain - 1)

static void hex_decode(const char *hex, uint8_t *out)
{
	for (size_t i = 0; hex[2 * i]; i++)
		sscanf(hex + 2 * i, "%2hhx", &out[i]);
}

/* Independent AES-GCM seal: nonce || ct || tag. */
static size_t evp_gcm_seal(const uint8_t *key, size_t keylen, const uint8_t nonce[12], const char *aad,
                           const uint8_t *in, size_t n, uint8_t *out)
{
	const EVP_CIPHER *c = keylen == 16 ? EVP_aes_128_gcm() : EVP_aes_256_gcm();
	EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
	int l = 0;
	memcpy(out, nonce, 12);
	ck_assert(EVP_EncryptInit_ex(ctx, c, NULL, key, nonce));
	if (aad)
		ck_assert(EVP_EncryptUpdate(ctx, NULL, &l, (const uint8_t *)aad, (int)strlen(aad)));
	ck_assert(EVP_EncryptUpdate(ctx, out + 12, &l, in, (int)n));
	ck_assert(EVP_EncryptFinal_ex(ctx, out + 12 + l, &l));
	ck_assert(EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, 16, out + 12 + n));
	EVP_CIPHER_CTX_free(ctx);
	return 12 + n + 16;
}

/* Independent AES-CBC with PKCS#7: iv || ct. */
static size_t evp_cbc_seal(const uint8_t *key, size_t keylen, const uint8_t iv[16], const uint8_t *in,
                           size_t n, uint8_t *out)
{
	const EVP_CIPHER *c = keylen == 16 ? EVP_aes_128_cbc() : EVP_aes_256_cbc();
	EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
	int l1 = 0, l2 = 0;
	memcpy(out, iv, 16);
	ck_assert(EVP_EncryptInit_ex(ctx, c, NULL, key, iv));
	ck_assert(EVP_EncryptUpdate(ctx, out + 16, &l1, in, (int)n));
	ck_assert(EVP_EncryptFinal_ex(ctx, out + 16 + l1, &l2));
	EVP_CIPHER_CTX_free(ctx);
	return 16 + (size_t)(l1 + l2);
}

/* Independent raw AES-CBC without padding (to plant bad padding). */
static void evp_cbc_raw(const uint8_t *key, const uint8_t iv[16], const uint8_t *in, size_t n, uint8_t *out)
{
	EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
	int l = 0;
	ck_assert(EVP_EncryptInit_ex(ctx, EVP_aes_256_cbc(), NULL, key, iv));
	EVP_CIPHER_CTX_set_padding(ctx, 0);
	ck_assert(EVP_EncryptUpdate(ctx, out, &l, in, (int)n));
	EVP_CIPHER_CTX_free(ctx);
}

START_TEST(cbc_nist_vector)
{
	/* SP 800-38A F.2.1 CBC-AES128: first block; PKCS#7 adds a second block. */
	uint8_t key[16], iv[16], p[16], want[16], stored[48];
	hex_decode("2b7e151628aed2a6abf7158809cf4f3c", key);
	hex_decode("000102030405060708090a0b0c0d0e0f", iv);
	hex_decode("6bc1bee22e409f96e93d7e117393172a", p);
	hex_decode("7649abac8119b246cee98e9b12e9197d", want);
	ck_assert_uint_eq(evp_cbc_seal(key, 16, iv, p, 16, stored), 48);
	ck_assert_mem_eq(stored + 16, want, 16);
	rk_buf out = RK_BUF_INIT;
	rk_err err;
	ck_assert_int_eq(rk_codec_decrypt(RK_PROV_AESCBC, key, 16, NULL, stored, 48, &out, &err), RK_OK);
	ck_assert_uint_eq(out.len, 16);
	ck_assert_mem_eq(out.data, p, 16);
	rk_buf_free(&out);
}
END_TEST

START_TEST(gcm_nist_vector)
{
	/* SP 800-38D test case 2: K = 0^128, IV = 0^96, P = 0^128. */
	uint8_t key[16] = {0}, stored[12 + 16 + 16] = {0}, zero[16] = {0};
	hex_decode("0388dace60b6a392f328c2b971b2fe78", stored + 12);
	hex_decode("ab6e47d42cec13bdf53a67b21257bddf", stored + 28);
	rk_buf out = RK_BUF_INIT;
	rk_err err;
	ck_assert_int_eq(rk_codec_decrypt(RK_PROV_AESGCM, key, 16, NULL, stored, sizeof stored, &out, &err),
	                 RK_OK);
	ck_assert_uint_eq(out.len, 16);
	ck_assert_mem_eq(out.data, zero, 16);
	rk_buf_free(&out);
}
END_TEST

START_TEST(gcm_matches_independent_evp_with_aad)
{
	rk_buf out = RK_BUF_INIT;
	rk_err err;
	ck_assert_int_eq(rk_codec_encrypt(RK_PROV_AESGCM, key32a, 32, etcd_key, plain, PLAIN_LEN, &out, &err),
	                 RK_OK);
	ck_assert_uint_eq(out.len, 12 + PLAIN_LEN + 16);
	uint8_t expect[12 + PLAIN_LEN + 16];
	evp_gcm_seal(key32a, 32, out.data, etcd_key, plain, PLAIN_LEN, expect);
	ck_assert_mem_eq(out.data, expect, sizeof expect);
	/* and the other way: an independent seal decrypts through the codec */
	uint8_t nonce[12] = {9, 8, 7, 6, 5, 4, 3, 2, 1, 0, 1, 2};
	evp_gcm_seal(key32a, 32, nonce, etcd_key, plain, PLAIN_LEN, expect);
	rk_buf dec = RK_BUF_INIT;
	ck_assert_int_eq(
	    rk_codec_decrypt(RK_PROV_AESGCM, key32a, 32, etcd_key, expect, sizeof expect, &dec, &err), RK_OK);
	ck_assert_mem_eq(dec.data, plain, PLAIN_LEN);
	rk_buf_free(&out);
	rk_buf_free(&dec);
}
END_TEST

START_TEST(cbc_matches_independent_evp)
{
	rk_buf out = RK_BUF_INIT;
	rk_err err;
	for (size_t n = 0; n <= 33; n += 11) { /* 0, 11, 22, 33: includes an empty value */
		rk_buf_reset(&out);
		ck_assert_int_eq(rk_codec_encrypt(RK_PROV_AESCBC, key32a, 32, etcd_key, plain, n, &out, &err),
		                 RK_OK);
		uint8_t expect[16 + 48];
		size_t len = evp_cbc_seal(key32a, 32, out.data, plain, n, expect);
		ck_assert_uint_eq(out.len, len);
		ck_assert_mem_eq(out.data, expect, len);
	}
	uint8_t iv[16] = {1}, stored[16 + 48];
	size_t len = evp_cbc_seal(key32a, 32, iv, plain, 32, stored); /* 32 bytes: a whole padding block */
	ck_assert_uint_eq(len, 16 + 48);
	rk_buf dec = RK_BUF_INIT;
	ck_assert_int_eq(rk_codec_decrypt(RK_PROV_AESCBC, key32a, 32, "ignored", stored, len, &dec, &err),
	                 RK_OK);
	ck_assert_uint_eq(dec.len, 32);
	ck_assert_mem_eq(dec.data, plain, 32);
	rk_buf_free(&out);
	rk_buf_free(&dec);
}
END_TEST

START_TEST(secretbox_matches_libsodium)
{
	ck_assert_int_ge(sodium_init(), 0);
	rk_buf out = RK_BUF_INIT;
	rk_err err;
	ck_assert_int_eq(rk_codec_encrypt(RK_PROV_SECRETBOX, key32a, 32, NULL, plain, PLAIN_LEN, &out, &err),
	                 RK_OK);
	ck_assert_uint_eq(out.len, 24 + 16 + PLAIN_LEN);
	uint8_t opened[PLAIN_LEN];
	ck_assert_int_eq(crypto_secretbox_open_easy(opened, out.data + 24, out.len - 24, out.data, key32a),
	                 0);
	ck_assert_mem_eq(opened, plain, PLAIN_LEN);
	uint8_t sealed[24 + 16 + PLAIN_LEN];
	memset(sealed, 7, 24);
	crypto_secretbox_easy(sealed + 24, plain, PLAIN_LEN, sealed, key32a);
	rk_buf dec = RK_BUF_INIT;
	ck_assert_int_eq(
	    rk_codec_decrypt(RK_PROV_SECRETBOX, key32a, 32, NULL, sealed, sizeof sealed, &dec, &err), RK_OK);
	ck_assert_mem_eq(dec.data, plain, PLAIN_LEN);
	sealed[30] ^= 1;
	rk_buf_reset(&dec);
	ck_assert_int_eq(
	    rk_codec_decrypt(RK_PROV_SECRETBOX, key32a, 32, NULL, sealed, sizeof sealed, &dec, &err),
	    RK_FAIL);
	ck_assert_ptr_nonnull(strstr(err.msg, "authentication failed"));
	rk_buf_free(&out);
	rk_buf_free(&dec);
}
END_TEST

START_TEST(gcm_tamper_and_aad_mismatch_fail)
{
	rk_buf out = RK_BUF_INIT, dec = RK_BUF_INIT;
	rk_err err;
	ck_assert_int_eq(rk_codec_encrypt(RK_PROV_AESGCM, key32a, 32, etcd_key, plain, PLAIN_LEN, &out, &err),
	                 RK_OK);
	ck_assert_int_eq(rk_codec_decrypt(RK_PROV_AESGCM, key32a, 32, "/registry/secrets/default/s2",
	                                  out.data, out.len, &dec, &err),
	                 RK_FAIL);
	ck_assert_ptr_nonnull(strstr(err.msg, "message authentication failed"));
	ck_assert_uint_eq(dec.len, 0);
	out.data[out.len - 1] ^= 0x80; /* tag */
	ck_assert_int_eq(
	    rk_codec_decrypt(RK_PROV_AESGCM, key32a, 32, etcd_key, out.data, out.len, &dec, &err), RK_FAIL);
	ck_assert_int_eq(rk_codec_decrypt(RK_PROV_AESGCM, key32a, 32, etcd_key, out.data, 27, &dec, &err),
	                 RK_FAIL);
	ck_assert_ptr_nonnull(strstr(err.msg, "shorter than the required size"));
	rk_buf_free(&out);
	rk_buf_free(&dec);
}
END_TEST

START_TEST(cbc_bad_padding_fails)
{
	uint8_t iv[16] = {0}, block[16], stored[32];
	rk_buf dec = RK_BUF_INIT;
	rk_err err;
	memset(block, 'x', 15);
	block[15] = 3; /* claims 3 bytes of padding, but only the last is 3 */
	memcpy(stored, iv, 16);
	evp_cbc_raw(key32a, iv, block, 16, stored + 16);
	ck_assert_int_eq(rk_codec_decrypt(RK_PROV_AESCBC, key32a, 32, NULL, stored, 32, &dec, &err), RK_FAIL);
	ck_assert_str_eq(err.msg, "aescbc: invalid padding on input");
	block[15] = 0;
	evp_cbc_raw(key32a, iv, block, 16, stored + 16);
	ck_assert_int_eq(rk_codec_decrypt(RK_PROV_AESCBC, key32a, 32, NULL, stored, 32, &dec, &err), RK_FAIL);
	ck_assert_str_eq(err.msg, "aescbc: invalid PKCS7 data (empty or not padded)");
	ck_assert_int_eq(rk_codec_decrypt(RK_PROV_AESCBC, key32a, 32, NULL, stored, 31, &dec, &err), RK_FAIL);
	ck_assert_str_eq(err.msg, "aescbc: the stored data is not a multiple of the block size");
	ck_assert_uint_eq(dec.len, 0);
	ck_assert_int_eq(rk_codec_decrypt(RK_PROV_AESCBC, key32a, 20, NULL, stored, 32, &dec, &err),
	                 RK_BADINPUT);
	rk_buf_free(&dec);
}
END_TEST

START_TEST(round_trip_every_provider_and_key_size)
{
	const rk_provider_type types[] = {RK_PROV_AESCBC, RK_PROV_AESGCM, RK_PROV_SECRETBOX};
	const size_t sizes[] = {16, 24, 32};
	for (size_t t = 0; t < 3; t++)
		for (size_t s = 0; s < 3; s++) {
			if (types[t] == RK_PROV_SECRETBOX && sizes[s] != 32)
				continue;
			rk_buf out = RK_BUF_INIT, dec = RK_BUF_INIT;
			rk_err err;
			ck_assert_int_eq(rk_codec_encrypt(types[t], key32b, sizes[s], etcd_key, plain,
			                                  PLAIN_LEN, &out, &err),
			                 RK_OK);
			ck_assert_int_eq(rk_codec_decrypt(types[t], key32b, sizes[s], etcd_key, out.data,
			                                  out.len, &dec, &err),
			                 RK_OK);
			ck_assert_uint_eq(dec.len, PLAIN_LEN);
			ck_assert_mem_eq(dec.data, plain, PLAIN_LEN);
			rk_buf_free(&out);
			rk_buf_free(&dec);
		}
}
END_TEST

/* ---- the chain ---- */

static rk_provider local_provider(rk_provider_type type, rk_key *keys, size_t n)
{
	rk_provider p = {.type = type, .ntypes = 1, .keys = keys, .nkeys = n};
	return p;
}

static rk_provider identity_provider(void)
{
	rk_provider p = {.type = RK_PROV_IDENTITY, .ntypes = 1};
	return p;
}

static rk_chain *chain_of(rk_provider *providers, size_t n)
{
	static char *resources[] = {"secrets"};
	rk_rule rule = {.resources = resources, .nresources = 1, .providers = providers, .nproviders = n};
	rk_chain *chain = NULL;
	rk_err err;
	ck_assert_msg(rk_chain_new(&rule, &chain, &err) == RK_OK, "%s", err.msg);
	return chain;
}

static void chain_write(rk_chain *chain, rk_buf *out)
{
	rk_err err;
	rk_buf_reset(out);
	ck_assert_msg(rk_chain_write(chain, etcd_key, plain, PLAIN_LEN, out, &err) == RK_OK, "%s", err.msg);
}

START_TEST(chain_writes_first_key_with_prefix)
{
	rk_key keys[] = {{.name = "new", .secret = K32_A}, {.name = "old", .secret = K32_B}};
	rk_provider p[] = {local_provider(RK_PROV_AESGCM, keys, 2), identity_provider()};
	rk_chain *chain = chain_of(p, 2);
	rk_buf out = RK_BUF_INIT, dec = RK_BUF_INIT;
	chain_write(chain, &out);
	const char *prefix = "k8s:enc:aesgcm:v1:new:";
	ck_assert_mem_eq(out.data, prefix, strlen(prefix));
	/* the payload opens with the raw key through libcrypto directly */
	rk_err err;
	ck_assert_int_eq(rk_codec_decrypt(RK_PROV_AESGCM, key32a, 32, etcd_key, out.data + strlen(prefix),
	                                  out.len - strlen(prefix), &dec, &err),
	                 RK_OK);
	int stale = -1;
	rk_buf_reset(&dec);
	ck_assert_int_eq(rk_chain_read(chain, etcd_key, out.data, out.len, &dec, &stale, &err), RK_OK);
	ck_assert_int_eq(stale, 0);
	ck_assert_mem_eq(dec.data, plain, PLAIN_LEN);
	rk_buf_free(&out);
	rk_buf_free(&dec);
	rk_chain_free(chain);
}
END_TEST

START_TEST(chain_second_key_is_stale)
{
	rk_key old_only[] = {{.name = "k1", .secret = K32_A}};
	rk_key rotated[] = {{.name = "k2", .secret = K32_B}, {.name = "k1", .secret = K32_A}};
	rk_provider before[] = {local_provider(RK_PROV_AESCBC, old_only, 1)};
	rk_provider after[] = {local_provider(RK_PROV_AESCBC, rotated, 2)};
	rk_chain *c_before = chain_of(before, 1), *c_after = chain_of(after, 1);
	rk_buf stored = RK_BUF_INIT, dec = RK_BUF_INIT;
	rk_err err;
	int stale = -1;
	chain_write(c_before, &stored);
	ck_assert_int_eq(rk_chain_read(c_after, etcd_key, stored.data, stored.len, &dec, &stale, &err),
	                 RK_OK);
	ck_assert_int_eq(stale, 1);
	ck_assert_mem_eq(dec.data, plain, PLAIN_LEN);
	chain_write(c_after, &stored);
	rk_buf_reset(&dec);
	ck_assert_int_eq(rk_chain_read(c_after, etcd_key, stored.data, stored.len, &dec, &stale, &err),
	                 RK_OK);
	ck_assert_int_eq(stale, 0);
	rk_buf_free(&stored);
	rk_buf_free(&dec);
	rk_chain_free(c_before);
	rk_chain_free(c_after);
}
END_TEST

START_TEST(chain_second_provider_is_stale)
{
	rk_key sb[] = {{.name = "box", .secret = K32_B}};
	rk_key cbc[] = {{.name = "k1", .secret = K16_A}};
	rk_provider before[] = {local_provider(RK_PROV_AESCBC, cbc, 1)};
	rk_provider after[] = {local_provider(RK_PROV_SECRETBOX, sb, 1),
	                       local_provider(RK_PROV_AESCBC, cbc, 1), identity_provider()};
	rk_chain *c_before = chain_of(before, 1), *c_after = chain_of(after, 3);
	rk_buf stored = RK_BUF_INIT, dec = RK_BUF_INIT;
	rk_err err;
	int stale = -1;
	chain_write(c_before, &stored);
	ck_assert_int_eq(rk_chain_read(c_after, etcd_key, stored.data, stored.len, &dec, &stale, &err),
	                 RK_OK);
	ck_assert_int_eq(stale, 1);
	/* plain data read through the trailing identity: stale too */
	rk_buf_reset(&dec);
	ck_assert_int_eq(rk_chain_read(c_after, etcd_key, plain, PLAIN_LEN, &dec, &stale, &err), RK_OK);
	ck_assert_int_eq(stale, 1);
	ck_assert_mem_eq(dec.data, plain, PLAIN_LEN);
	chain_write(c_after, &stored);
	ck_assert_mem_eq(stored.data, "k8s:enc:secretbox:v1:box:", 25);
	rk_buf_free(&stored);
	rk_buf_free(&dec);
	rk_chain_free(c_before);
	rk_chain_free(c_after);
}
END_TEST

START_TEST(chain_identity_refuses_encrypted_data)
{
	rk_key cbc[] = {{.name = "k1", .secret = K32_A}};
	rk_provider enc[] = {local_provider(RK_PROV_AESCBC, cbc, 1)};
	rk_chain *c_enc = chain_of(enc, 1), *c_id = NULL;
	rk_err err;
	ck_assert_int_eq(rk_chain_new(NULL, &c_id, &err), RK_OK);
	rk_buf stored = RK_BUF_INIT, dec = RK_BUF_INIT;
	int stale = -1;
	chain_write(c_enc, &stored);
	ck_assert_int_eq(rk_chain_read(c_id, etcd_key, stored.data, stored.len, &dec, &stale, &err), RK_FAIL);
	ck_assert_ptr_nonnull(strstr(err.msg, "/registry/secrets/default/s1: no matching prefix found"));
	ck_assert_ptr_nonnull(strstr(err.msg, "aescbc key \"k1\""));
	/* identity first, aescbc second (decrypting): encrypted data still reads, stale */
	rk_provider dec_cfg[] = {identity_provider(), local_provider(RK_PROV_AESCBC, cbc, 1)};
	rk_chain *c_dec = chain_of(dec_cfg, 2);
	ck_assert_int_eq(rk_chain_read(c_dec, etcd_key, stored.data, stored.len, &dec, &stale, &err), RK_OK);
	ck_assert_int_eq(stale, 1);
	chain_write(c_dec, &stored);
	ck_assert_uint_eq(stored.len, PLAIN_LEN);
	ck_assert_mem_eq(stored.data, plain, PLAIN_LEN);
	rk_buf_reset(&dec);
	ck_assert_int_eq(rk_chain_read(c_dec, etcd_key, stored.data, stored.len, &dec, &stale, &err), RK_OK);
	ck_assert_int_eq(stale, 0);
	rk_buf_free(&stored);
	rk_buf_free(&dec);
	rk_chain_free(c_enc);
	rk_chain_free(c_id);
	rk_chain_free(c_dec);
}
END_TEST

START_TEST(chain_wrong_key_names_the_key)
{
	rk_key right[] = {{.name = "k1", .secret = K32_A}};
	rk_key wrong[] = {{.name = "k1", .secret = K32_B}};
	const rk_provider_type types[] = {RK_PROV_AESGCM, RK_PROV_SECRETBOX};
	for (size_t t = 0; t < 2; t++) {
		rk_provider a[] = {local_provider(types[t], right, 1)},
		            b[] = {local_provider(types[t], wrong, 1)};
		rk_chain *ca = chain_of(a, 1), *cb = chain_of(b, 1);
		rk_buf stored = RK_BUF_INIT, dec = RK_BUF_INIT;
		rk_err err;
		int stale;
		chain_write(ca, &stored);
		ck_assert_int_eq(rk_chain_read(cb, etcd_key, stored.data, stored.len, &dec, &stale, &err),
		                 RK_FAIL);
		ck_assert_msg(strstr(err.msg, etcd_key) && strstr(err.msg, "key \"k1\"") &&
		                  strstr(err.msg, rk_provider_name(types[t])),
		              "%s", err.msg);
		ck_assert_uint_eq(dec.len, 0);
		rk_buf_free(&stored);
		rk_buf_free(&dec);
		rk_chain_free(ca);
		rk_chain_free(cb);
	}
	/* aescbc has no MAC: a fixed ciphertext whose wrong-key decryption is known not to pad correctly */
	uint8_t iv[16] = {0}, stored[64];
	memcpy(stored, "k8s:enc:aescbc:v1:k1:", 21);
	size_t len = 21 + evp_cbc_seal(key32a, 32, iv, plain, 10, stored + 21);
	rk_provider b[] = {local_provider(RK_PROV_AESCBC, wrong, 1)};
	rk_chain *cb = chain_of(b, 1);
	rk_buf dec = RK_BUF_INIT;
	rk_err err;
	int stale;
	ck_assert_int_eq(rk_chain_read(cb, etcd_key, stored, len, &dec, &stale, &err), RK_FAIL);
	ck_assert_msg(strstr(err.msg, "aescbc key \"k1\": invalid"), "%s", err.msg);
	rk_buf_free(&dec);
	rk_chain_free(cb);
}
END_TEST

START_TEST(chain_collects_errors_of_every_matching_provider)
{
	/* two aesgcm providers share the prefix; both fail -> both named, as Go's aggregate */
	rk_key k1[] = {{.name = "k1", .secret = K32_B}};
	rk_key k1again[] = {{.name = "k1", .secret = K16_A}};
	rk_key good[] = {{.name = "k1", .secret = K32_A}};
	rk_provider bad[] = {local_provider(RK_PROV_AESGCM, k1, 1),
	                     local_provider(RK_PROV_AESGCM, k1again, 1)};
	rk_provider ok[] = {local_provider(RK_PROV_AESGCM, good, 1)};
	rk_chain *cbad = chain_of(bad, 2), *cok = chain_of(ok, 1);
	rk_buf stored = RK_BUF_INIT, dec = RK_BUF_INIT;
	rk_err err;
	int stale;
	chain_write(cok, &stored);
	ck_assert_int_eq(rk_chain_read(cbad, etcd_key, stored.data, stored.len, &dec, &stale, &err), RK_FAIL);
	ck_assert_msg(strstr(err.msg, ": [aesgcm key \"k1\"") && strstr(err.msg, ", aesgcm key \"k1\""), "%s",
	              err.msg);
	/* prefix matches but no key of that name */
	rk_key other[] = {{.name = "k9", .secret = K32_A}};
	rk_provider p9[] = {local_provider(RK_PROV_AESGCM, other, 1)};
	rk_chain *c9 = chain_of(p9, 1);
	ck_assert_int_eq(rk_chain_read(c9, etcd_key, stored.data, stored.len, &dec, &stale, &err), RK_FAIL);
	ck_assert_ptr_nonnull(strstr(err.msg, "no matching key was found for the provided AES transformer"));
	rk_buf_free(&stored);
	rk_buf_free(&dec);
	rk_chain_free(cbad);
	rk_chain_free(cok);
	rk_chain_free(c9);
}
END_TEST

START_TEST(chain_rejects_bad_keys)
{
	rk_key short_key[] = {{.name = "short", .secret = K16_A}};
	rk_key not_b64[] = {{.name = "junk", .secret = "not base64!"}};
	rk_provider sb[] = {local_provider(RK_PROV_SECRETBOX, short_key, 1)};
	rk_provider cbc[] = {local_provider(RK_PROV_AESCBC, not_b64, 1)};
	rk_rule r1 = {.providers = sb, .nproviders = 1}, r2 = {.providers = cbc, .nproviders = 1};
	rk_chain *chain = (rk_chain *)1;
	rk_err err;
	ck_assert_int_eq(rk_chain_new(&r1, &chain, &err), RK_BADINPUT);
	ck_assert_ptr_null(chain);
	ck_assert_str_eq(err.msg, "secretbox key \"short\": key is 16 bytes, want 32");
	ck_assert_int_eq(rk_chain_new(&r2, &chain, &err), RK_BADINPUT);
	ck_assert_str_eq(err.msg, "aescbc key \"junk\": secrets must be base64 encoded");
}
END_TEST

START_TEST(chain_kms_not_supported_yet)
{
	rk_key cbc[] = {{.name = "k1", .secret = K32_A}};
	rk_provider kms = {.type = RK_PROV_KMS, .ntypes = 1, .kms = {.api_version = "v2", .name = "vault"}};
	rk_provider p[] = {kms, local_provider(RK_PROV_AESCBC, cbc, 1)};
	rk_chain *chain = chain_of(p, 2), *c_cbc = chain_of(p + 1, 1);
	rk_buf stored = RK_BUF_INIT, dec = RK_BUF_INIT;
	rk_err err;
	int stale;
	ck_assert_int_eq(rk_chain_write(chain, etcd_key, plain, PLAIN_LEN, &stored, &err), RK_FAIL);
	ck_assert_str_eq(err.msg, "kms provider \"vault\": kms not supported by this build yet");
	chain_write(c_cbc, &stored); /* local data still reads through the rule, stale */
	ck_assert_int_eq(rk_chain_read(chain, etcd_key, stored.data, stored.len, &dec, &stale, &err), RK_OK);
	ck_assert_int_eq(stale, 1);
	const char *kmsval = "k8s:enc:kms:v2:vault:\x0a\x01x\x12\x02id\x1a\x01z";
	ck_assert_int_eq(
	    rk_chain_read(chain, etcd_key, (const uint8_t *)kmsval, strlen(kmsval), &dec, &stale, &err),
	    RK_FAIL);
	ck_assert_ptr_nonnull(strstr(err.msg, "kms not supported by this build yet"));
	ck_assert_int_eq(rk_chain_kms_known(chain, (const uint8_t *)kmsval, strlen(kmsval)), 1);
	const char *other = "k8s:enc:kms:v2:other:\x0a\x01x", *v1 = "k8s:enc:kms:v1:vault:\x00\x01x";
	ck_assert_int_eq(rk_chain_kms_known(chain, (const uint8_t *)other, strlen(other)), 0);
	ck_assert_int_eq(rk_chain_kms_known(chain, (const uint8_t *)v1, strlen(v1)), 0);
	ck_assert_int_eq(rk_chain_kms_known(c_cbc, (const uint8_t *)kmsval, strlen(kmsval)), 0);
	rk_buf_free(&stored);
	rk_buf_free(&dec);
	rk_chain_free(chain);
	rk_chain_free(c_cbc);
}
END_TEST

/* ---- classification ---- */

static void classify_str(const char *v, size_t n, rk_value_info *info)
{
	rk_codec_classify((const uint8_t *)v, n, info);
}

START_TEST(classify_identity_and_local)
{
	rk_value_info info;
	classify_str("k8s\0\x0a\x0cv1", 7, &info);
	ck_assert_int_eq(info.kind, RK_VAL_IDENTITY_PROTOBUF);
	classify_str("{\"kind\":\"Secret\"}", 17, &info);
	ck_assert_int_eq(info.kind, RK_VAL_IDENTITY_JSON);
	ck_assert_str_eq(rk_value_kind_name(info.kind), "identity");
	char v[128];
	memset(v, 'A', sizeof v);
	memcpy(v, "k8s:enc:aescbc:v1:key-1:", 24);
	classify_str(v, 24 + 32, &info);
	ck_assert_int_eq(info.kind, RK_VAL_AESCBC);
	ck_assert_str_eq(info.name, "key-1");
	ck_assert_uint_eq(info.prefix_len, 24);
	classify_str(v, 24 + 33, &info);
	ck_assert_int_eq(info.kind, RK_VAL_MALFORMED);
	ck_assert_str_eq(info.name, "key-1");
	ck_assert_ptr_nonnull(info.reason);
	memcpy(v, "k8s:enc:aesgcm:v1:g:", 20);
	classify_str(v, 20 + 28, &info);
	ck_assert_int_eq(info.kind, RK_VAL_AESGCM);
	ck_assert_str_eq(info.name, "g");
	classify_str(v, 20 + 27, &info);
	ck_assert_int_eq(info.kind, RK_VAL_MALFORMED);
	memcpy(v, "k8s:enc:secretbox:v1:s:", 23);
	classify_str(v, 23 + 40, &info);
	ck_assert_int_eq(info.kind, RK_VAL_SECRETBOX);
	ck_assert_str_eq(rk_value_kind_name(info.kind), "secretbox");
	memcpy(v,
	       "k8s:enc:kms:v1:old-kms:\x00\x03"
	       "DEKpayload",
	       35);
	classify_str(v, 35, &info);
	ck_assert_int_eq(info.kind, RK_VAL_KMS_V1);
	ck_assert_str_eq(info.name, "old-kms");
	memcpy(v, "k8s:enc:kms:v1:old-kms:\x01\x00", 25);
	classify_str(v, 35, &info);
	ck_assert_int_eq(info.kind, RK_VAL_MALFORMED);
}
END_TEST

START_TEST(classify_malformed)
{
	rk_value_info info;
	const char *bad[] = {"",
	                     "k8s",
	                     "k8s:enc:",
	                     "k8s:enc:aescbc:v1:",
	                     "k8s:enc:aescbc:v1::AAAA",
	                     "k8s:enc:rot13:v1:k:xx",
	                     "plain text",
	                     "[1,2]",
	                     "k8s:enc:kms:v2:x"};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		classify_str(bad[i], strlen(bad[i]), &info);
		ck_assert_msg(info.kind == RK_VAL_MALFORMED && info.reason, "\"%s\" -> %d", bad[i],
		              info.kind);
	}
	rk_codec_classify(NULL, 0, &info);
	ck_assert_int_eq(info.kind, RK_VAL_MALFORMED);
}
END_TEST

/* EncryptedObject by hand: fields in the order given, protobuf wire format. */
static size_t put_bytes_field(uint8_t *p, int num, const char *data, size_t n)
{
	p[0] = (uint8_t)(num << 3 | 2);
	p[1] = (uint8_t)n;
	memcpy(p + 2, data, n);
	return 2 + n;
}

START_TEST(classify_kms_v2_encrypted_object)
{
	uint8_t v[256];
	size_t n = 0;
	const char *prefix = "k8s:enc:kms:v2:vault:";
	memcpy(v, prefix, strlen(prefix));
	n = strlen(prefix);
	/* reversed field order: type=1, annotations, DEK source, keyID, data */
	v[n++] = 5 << 3 | 0;
	v[n++] = 1;
	uint8_t entry[32];
	size_t e = put_bytes_field(entry, 1, "a.example.com", 13);
	e += put_bytes_field(entry + e, 2, "v", 1);
	n += put_bytes_field(v + n, 4, (const char *)entry, e);
	n += put_bytes_field(v + n, 3, "encrypted-seed", 14);
	n += put_bytes_field(v + n, 2, "kek-2024-06", 11);
	n += put_bytes_field(v + n, 1, "ciphertext-bytes", 16);
	rk_value_info info;
	rk_codec_classify(v, n, &info);
	ck_assert_int_eq(info.kind, RK_VAL_KMS_V2);
	ck_assert_str_eq(info.name, "vault");
	ck_assert_str_eq(info.key_id, "kek-2024-06");
	ck_assert_int_eq(info.dek_source_type, 1);
	ck_assert_str_eq(rk_value_kind_name(info.kind), "kms-v2");
	/* truncated: the last length runs past the end */
	rk_codec_classify(v, n - 1, &info);
	ck_assert_int_eq(info.kind, RK_VAL_MALFORMED);
	/* keyID sent as a varint: wrong wire type */
	size_t m = strlen(prefix);
	uint8_t w[64];
	memcpy(w, v, m);
	w[m] = 2 << 3 | 0, w[m + 1] = 5;
	rk_codec_classify(w, m + 2, &info);
	ck_assert_int_eq(info.kind, RK_VAL_MALFORMED);
	/* no keyID */
	m = strlen(prefix);
	m += put_bytes_field(w + m, 1, "ct", 2);
	m += put_bytes_field(w + m, 3, "dek", 3);
	rk_codec_classify(w, m, &info);
	ck_assert_int_eq(info.kind, RK_VAL_MALFORMED);
	ck_assert_str_eq(info.reason, "kms v2 keyID empty or over 1024 bytes");
	/* unknown DEK source type */
	m += put_bytes_field(w + m, 2, "id", 2);
	w[m] = 5 << 3, w[m + 1] = 7;
	rk_codec_classify(w, m + 2, &info);
	ck_assert_int_eq(info.kind, RK_VAL_MALFORMED);
	rk_codec_classify(w, m, &info);
	ck_assert_int_eq(info.kind, RK_VAL_KMS_V2);
	ck_assert_int_eq(info.dek_source_type, 0);
}
END_TEST

/* An EncryptedObject with a keyID of key_id_len bytes and one annotation (key, value_len bytes). */
static void kms_value(rk_buf *b, size_t key_id_len, const char *ann_key, size_t value_len)
{
	rk_buf_reset(b);
	rk_buf_append_str(b, "k8s:enc:kms:v2:kms-a:");
	char *filler = calloc(1, key_id_len > value_len ? key_id_len + 1 : value_len + 1);
	memset(filler, 'k', key_id_len > value_len ? key_id_len : value_len);
	rk_buf entry = RK_BUF_INIT;
	ck_assert_int_eq(rk_pb_put_bytes(&entry, 1, ann_key, strlen(ann_key)), 0);
	ck_assert_int_eq(rk_pb_put_bytes(&entry, 2, filler, value_len), 0);
	ck_assert_int_eq(rk_pb_put_bytes(b, 1, "ciphertext", 10), 0);
	ck_assert_int_eq(rk_pb_put_bytes(b, 2, filler, key_id_len), 0);
	ck_assert_int_eq(rk_pb_put_bytes(b, 3, "seed", 4), 0);
	ck_assert_int_eq(rk_pb_put_bytes(b, 4, entry.data, entry.len), 0);
	ck_assert_int_eq(rk_pb_put_varint(b, 5, 1), 0);
	rk_buf_free(&entry);
	free(filler);
}

/* The apiserver's ValidateEncryptedObject limits (docs/kms.md section 2): keyID up to 1024 bytes,
 * annotation keys FQDNs, annotations at most 32 KiB in total. */
START_TEST(classify_kms_v2_apiserver_limits)
{
	rk_buf b = RK_BUF_INIT;
	rk_value_info info;
	kms_value(&b, 1024, "kmsplugin.rekeyctl.local", 11);
	rk_codec_classify(b.data, b.len, &info);
	ck_assert_int_eq(info.kind, RK_VAL_KMS_V2);
	ck_assert_uint_eq(strlen(info.key_id), 1024);
	kms_value(&b, 1025, "kmsplugin.rekeyctl.local", 11);
	rk_codec_classify(b.data, b.len, &info);
	ck_assert_int_eq(info.kind, RK_VAL_MALFORMED);
	ck_assert_str_eq(info.reason, "kms v2 keyID empty or over 1024 bytes");
	kms_value(&b, 8, "localhost", 1); /* one label: not fully qualified */
	rk_codec_classify(b.data, b.len, &info);
	ck_assert_int_eq(info.kind, RK_VAL_MALFORMED);
	ck_assert_str_eq(info.reason, "kms v2 annotation key is not a fully qualified domain name");
	kms_value(&b, 8, "Version.example.com", 1);
	rk_codec_classify(b.data, b.len, &info);
	ck_assert_int_eq(info.kind, RK_VAL_MALFORMED);
	kms_value(&b, 8, "a.example.com.", 32768 - 14); /* trailing dot; exactly 32 KiB in total */
	rk_codec_classify(b.data, b.len, &info);
	ck_assert_int_eq(info.kind, RK_VAL_KMS_V2);
	kms_value(&b, 8, "a.example.com.", 32768 - 13);
	rk_codec_classify(b.data, b.len, &info);
	ck_assert_int_eq(info.kind, RK_VAL_MALFORMED);
	ck_assert_str_eq(info.reason, "kms v2 annotations over 32 KiB");
	rk_buf_free(&b);
	const char *good[] = {"a.b", "x-1.example.com", "a.b.", "0.0"};
	const char *bad[] = {"", ".", "a", "a..b", "-a.b", "a-.b", "a_b.c", "A.b", "a.b..", "a.b/c"};
	for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
		ck_assert_msg(rk_codec_fqdn_ok((const uint8_t *)good[i], strlen(good[i])), "%s", good[i]);
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		ck_assert_msg(!rk_codec_fqdn_ok((const uint8_t *)bad[i], strlen(bad[i])), "%s", bad[i]);
}
END_TEST

/* ---- is a plaintext a stored object? ---- */

static const char *object_problem(const char *v, size_t n)
{
	uint8_t *copy = malloc(n ? n : 1); /* its own allocation: ASan sees a read past the end */
	memcpy(copy, v, n);
	const char *why = rk_codec_object_problem(copy, n);
	free(copy);
	return why;
}
#define PB(lit) object_problem(lit, sizeof lit - 1)

START_TEST(stored_object_recognised)
{
	/* k8s\0 + Unknown{typeMeta{apiVersion "v1", kind "Secret"}, raw "abc", contentEncoding "",
	 * contentType ""} */
	ck_assert_ptr_null(PB("k8s\0\x0a\x0c\x0a\x02v1\x12\x06Secret\x12\x03"
	                      "abc\x1a\x00\x22\x00"));
	ck_assert_ptr_null(PB("k8s\0\x12\x00\x0a\x00"));   /* any order, empty typeMeta */
	ck_assert_ptr_null(PB("{\"kind\":\"Secret\"}\n")); /* JSON as the apiserver stores it */
	ck_assert_str_eq(PB(" {}"), "neither k8s protobuf nor a JSON object"); /* must start with '{' */
	ck_assert_str_eq(PB("k8s\0"), "protobuf without typeMeta or raw");
	ck_assert_str_eq(PB("k8s\0\x0a\x00"), "protobuf without typeMeta or raw");
	ck_assert_str_eq(PB("k8s\0\x0a\x00\x12\x05"
	                    "ab"),
	                 "protobuf that does not parse");
	ck_assert_str_eq(PB("k8s\0\x0a\x00\x12\x00\x2a\x00"),
	                 "protobuf with a field runtime.Unknown does not have");
	ck_assert_str_eq(PB("k8s\0\x08\x01\x12\x00"), "protobuf with a field runtime.Unknown does not have");
	ck_assert_str_eq(PB("k8s\0\x0a\x02\x18\x01\x12\x00"), "protobuf whose typeMeta is not a TypeMeta");
	ck_assert_str_eq(PB("k8s\0\x0a\x02\x0a\x05\x12\x00"), "protobuf whose typeMeta is not a TypeMeta");
	ck_assert_str_eq(PB("{\"kind\":"), "JSON that does not parse");
	ck_assert_str_eq(PB("{} trailing"), "JSON that does not parse");
	ck_assert_str_eq(PB("{\"a\":1}\0\xff"), "JSON that does not parse");
	ck_assert_str_eq(PB("[1,2]"), "neither k8s protobuf nor a JSON object");
	ck_assert_str_eq(object_problem("", 0), "neither k8s protobuf nor a JSON object");
	ck_assert_str_eq(PB("\x8f\x01garbage"), "neither k8s protobuf nor a JSON object");
}
END_TEST

/* With a wrong aescbc key about 1 value in 256 "decrypts" (the padding happens to check out); none of
 * those plaintexts passes as a stored object. */
START_TEST(wrong_aescbc_key_plaintext_is_not_an_object)
{
	rk_key right[] = {{.name = "k1", .secret = K32_A}}, wrong[] = {{.name = "k1", .secret = K32_B}};
	rk_provider pr = local_provider(RK_PROV_AESCBC, right, 1),
	            pw = local_provider(RK_PROV_AESCBC, wrong, 1);
	rk_chain *c_right = chain_of(&pr, 1), *c_wrong = chain_of(&pw, 1);
	rk_buf stored = RK_BUF_INIT, dec = RK_BUF_INIT;
	rk_err err;
	int stale, padded = 0, values = 0;
	const char *obj = "{\"apiVersion\":\"v1\",\"kind\":\"Secret\",\"data\":{\"a\":\"YQ==\"}}";
	for (; values < 20000 && (values < 1000 || padded < 3); values++) {
		rk_buf_reset(&stored);
		rk_buf_reset(&dec);
		ck_assert_int_eq(
		    rk_chain_write(c_right, etcd_key, (const uint8_t *)obj, strlen(obj), &stored, &err),
		    RK_OK);
		if (rk_chain_read(c_wrong, etcd_key, stored.data, stored.len, &dec, &stale, &err) != RK_OK)
			continue;
		padded++;
		ck_assert_ptr_nonnull(
		    rk_codec_object_problem(dec.data ? dec.data : (const uint8_t *)"", dec.len));
	}
	ck_assert_int_ge(padded, 3);
	ck_assert_int_ge(values, 1000);
	rk_buf_free(&stored);
	rk_buf_free(&dec);
	rk_chain_free(c_right);
	rk_chain_free(c_wrong);
}
END_TEST

Suite *codec_suite(void)
{
	Suite *s = suite_create("codec");
	TCase *tc = tcase_create("crypto");
	tcase_add_test(tc, cbc_nist_vector);
	tcase_add_test(tc, gcm_nist_vector);
	tcase_add_test(tc, gcm_matches_independent_evp_with_aad);
	tcase_add_test(tc, cbc_matches_independent_evp);
	tcase_add_test(tc, secretbox_matches_libsodium);
	tcase_add_test(tc, gcm_tamper_and_aad_mismatch_fail);
	tcase_add_test(tc, cbc_bad_padding_fails);
	tcase_add_test(tc, round_trip_every_provider_and_key_size);
	suite_add_tcase(s, tc);
	TCase *chain = tcase_create("chain");
	tcase_add_test(chain, chain_writes_first_key_with_prefix);
	tcase_add_test(chain, chain_second_key_is_stale);
	tcase_add_test(chain, chain_second_provider_is_stale);
	tcase_add_test(chain, chain_identity_refuses_encrypted_data);
	tcase_add_test(chain, chain_wrong_key_names_the_key);
	tcase_add_test(chain, chain_collects_errors_of_every_matching_provider);
	tcase_add_test(chain, chain_rejects_bad_keys);
	tcase_add_test(chain, chain_kms_not_supported_yet);
	suite_add_tcase(s, chain);
	TCase *cls = tcase_create("classify");
	tcase_add_test(cls, classify_identity_and_local);
	tcase_add_test(cls, classify_malformed);
	tcase_add_test(cls, classify_kms_v2_encrypted_object);
	tcase_add_test(cls, classify_kms_v2_apiserver_limits);
	tcase_add_test(cls, stored_object_recognised);
	tcase_add_test(cls, wrong_aescbc_key_plaintext_is_not_an_object);
	suite_add_tcase(s, cls);
	return s;
}
