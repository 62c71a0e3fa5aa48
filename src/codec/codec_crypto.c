/* codec_crypto.c: the payload ciphers of kube-apiserver's local providers, byte for byte:
 * aescbc = IV(16) || AES-CBC(PKCS#7), no AAD; aesgcm = nonce(12) || ct || tag(16), AAD = etcd key;
 * secretbox = nonce(24) || crypto_secretbox_easy (tag(16) || XSalsa20 ct). Error texts follow the
 * apiserver's (staging/src/k8s.io/apiserver/pkg/storage/value/encrypt/{aes,secretbox}). */
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <sodium.h>
#include <string.h>

#include "rekey/codec.h"

#define CBC_BLOCK 16
#define GCM_NONCE 12
#define GCM_TAG 16
#define SB_NONCE crypto_secretbox_NONCEBYTES
#define SB_TAG crypto_secretbox_MACBYTES

static const EVP_CIPHER *aes_cipher(rk_provider_type type, size_t keylen)
{
	int gcm = type == RK_PROV_AESGCM;
	switch (keylen) {
	case 16:
		return gcm ? EVP_aes_128_gcm() : EVP_aes_128_cbc();
	case 24:
		return gcm ? EVP_aes_192_gcm() : EVP_aes_192_cbc();
	case 32:
		return gcm ? EVP_aes_256_gcm() : EVP_aes_256_cbc();
	default:
		return NULL;
	}
}

static int check_key(rk_provider_type type, size_t keylen, rk_err *err)
{
	if (type == RK_PROV_SECRETBOX) {
		if (keylen != crypto_secretbox_KEYBYTES)
			return rk_err_set(err, RK_BADINPUT, "secretbox: key is %zu bytes, want 32", keylen);
		return RK_OK;
	}
	if (type != RK_PROV_AESCBC && type != RK_PROV_AESGCM)
		return rk_err_set(err, RK_BADINPUT, "%s: not a local cipher provider",
		                  rk_provider_name(type));
	if (!aes_cipher(type, keylen))
		return rk_err_set(err, RK_BADINPUT, "%s: key is %zu bytes, want 16, 24 or 32",
		                  rk_provider_name(type), keylen);
	return RK_OK;
}

static int reserve_out(rk_buf *out, size_t n, rk_err *err)
{
	if (rk_buf_reserve(out, n) != 0)
		return rk_err_set(err, RK_FAIL, "out of memory");
	return RK_OK;
}

static int cbc_encrypt(const uint8_t *key, size_t keylen, const uint8_t *plain, size_t n, rk_buf *out,
                       rk_err *err)
{
	size_t pad = CBC_BLOCK - n % CBC_BLOCK;
	if (n > SIZE_MAX / 2 || reserve_out(out, CBC_BLOCK + n + pad, err) != RK_OK)
		return rk_err_set(err, RK_FAIL, "aescbc: out of memory");
	uint8_t *iv = out->data + out->len;
	if (RAND_bytes(iv, CBC_BLOCK) != 1)
		return rk_err_set(err, RK_FAIL, "aescbc: unable to read sufficient random bytes");
	EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
	int len1 = 0, len2 = 0,
	    ok = ctx && EVP_EncryptInit_ex(ctx, aes_cipher(RK_PROV_AESCBC, keylen), NULL, key, iv);
	ok = ok && EVP_EncryptUpdate(ctx, iv + CBC_BLOCK, &len1, plain, (int)n); /* OpenSSL pads PKCS#7 */
	ok = ok && EVP_EncryptFinal_ex(ctx, iv + CBC_BLOCK + len1, &len2);
	EVP_CIPHER_CTX_free(ctx);
	if (!ok || (size_t)(len1 + len2) != n + pad)
		return rk_err_set(err, RK_FAIL, "aescbc: encryption failed");
	out->len += CBC_BLOCK + n + pad;
	out->data[out->len] = 0;
	return RK_OK;
}

/* Same checks, same order, same messages as the apiserver's cbc.TransformFromStorage. */
static int cbc_unpad(const uint8_t *blocks, size_t n, size_t *plain_len, rk_err *err)
{
	if (n == 0)
		return rk_err_set(err, RK_FAIL, "aescbc: invalid PKCS7 data (empty or not padded)");
	uint8_t c = blocks[n - 1];
	if (c == 0 || c > n)
		return rk_err_set(err, RK_FAIL, "aescbc: invalid PKCS7 data (empty or not padded)");
	for (size_t i = n - c; i < n; i++)
		if (blocks[i] != c)
			return rk_err_set(err, RK_FAIL, "aescbc: invalid padding on input");
	*plain_len = n - c;
	return RK_OK;
}

static int cbc_decrypt(const uint8_t *key, size_t keylen, const uint8_t *payload, size_t n, rk_buf *out,
                       rk_err *err)
{
	if (n < CBC_BLOCK)
		return rk_err_set(err, RK_FAIL, "aescbc: the stored data was shorter than the required size");
	size_t body = n - CBC_BLOCK;
	if (body % CBC_BLOCK != 0)
		return rk_err_set(err, RK_FAIL,
		                  "aescbc: the stored data is not a multiple of the block size");
	if (reserve_out(out, body + CBC_BLOCK, err) != RK_OK)
		return RK_FAIL;
	uint8_t *dst = out->data + out->len;
	EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
	int len1 = 0, len2 = 0;
	int ok = ctx && EVP_DecryptInit_ex(ctx, aes_cipher(RK_PROV_AESCBC, keylen), NULL, key, payload);
	ok = ok && EVP_CIPHER_CTX_set_padding(ctx, 0);
	ok = ok && EVP_DecryptUpdate(ctx, dst, &len1, payload + CBC_BLOCK, (int)body);
	ok = ok && EVP_DecryptFinal_ex(ctx, dst + len1, &len2);
	EVP_CIPHER_CTX_free(ctx);
	size_t plain_len = 0;
	int rc = !ok ? rk_err_set(err, RK_FAIL, "aescbc: decryption failed")
	             : cbc_unpad(dst, body, &plain_len, err);
	if (rc == RK_OK)
		out->len += plain_len;
	OPENSSL_cleanse(dst + plain_len, body - plain_len);
	out->data[out->len] = 0;
	return rc;
}

static int gcm_encrypt(const uint8_t *key, size_t keylen, const char *aad, const uint8_t *plain, size_t n,
                       rk_buf *out, rk_err *err)
{
	if (n > INT32_MAX || reserve_out(out, GCM_NONCE + n + GCM_TAG, err) != RK_OK)
		return rk_err_set(err, RK_FAIL, "aesgcm: out of memory");
	uint8_t *nonce = out->data + out->len, *ct = nonce + GCM_NONCE;
	if (RAND_bytes(nonce, GCM_NONCE) != 1)
		return rk_err_set(err, RK_FAIL, "aesgcm: failed to write nonce for AES-GCM");
	EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
	int len1 = 0, len2 = 0, aadlen = 0;
	int ok = ctx && EVP_EncryptInit_ex(ctx, aes_cipher(RK_PROV_AESGCM, keylen), NULL, key, nonce);
	if (ok && aad && *aad)
		ok = EVP_EncryptUpdate(ctx, NULL, &aadlen, (const uint8_t *)aad, (int)strlen(aad));
	ok = ok && EVP_EncryptUpdate(ctx, ct, &len1, plain, (int)n);
	ok = ok && EVP_EncryptFinal_ex(ctx, ct + len1, &len2);
	ok = ok && EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, GCM_TAG, ct + n);
	EVP_CIPHER_CTX_free(ctx);
	if (!ok)
		return rk_err_set(err, RK_FAIL, "aesgcm: encryption failed");
	out->len += GCM_NONCE + n + GCM_TAG;
	out->data[out->len] = 0;
	return RK_OK;
}

static int gcm_decrypt(const uint8_t *key, size_t keylen, const char *aad, const uint8_t *payload, size_t n,
                       rk_buf *out, rk_err *err)
{
	if (n < GCM_NONCE + GCM_TAG)
		return rk_err_set(err, RK_FAIL, "aesgcm: the stored data was shorter than the required size");
	size_t ct_len = n - GCM_NONCE - GCM_TAG;
	if (ct_len > INT32_MAX || reserve_out(out, ct_len + 16, err) != RK_OK)
		return rk_err_set(err, RK_FAIL, "aesgcm: out of memory");
	uint8_t *dst = out->data + out->len;
	EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
	int len1 = 0, len2 = 0, aadlen = 0;
	int ok = ctx && EVP_DecryptInit_ex(ctx, aes_cipher(RK_PROV_AESGCM, keylen), NULL, key, payload);
	if (ok && aad && *aad)
		ok = EVP_DecryptUpdate(ctx, NULL, &aadlen, (const uint8_t *)aad, (int)strlen(aad));
	ok = ok && EVP_DecryptUpdate(ctx, dst, &len1, payload + GCM_NONCE, (int)ct_len);
	ok = ok && EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, GCM_TAG, (void *)(payload + n - GCM_TAG));
	ok = ok && EVP_DecryptFinal_ex(ctx, dst + len1, &len2) == 1;
	EVP_CIPHER_CTX_free(ctx);
	if (!ok) {
		OPENSSL_cleanse(dst, ct_len);
		out->data[out->len] = 0;
		return rk_err_set(err, RK_FAIL, "aesgcm: cipher: message authentication failed");
	}
	out->len += ct_len;
	out->data[out->len] = 0;
	return RK_OK;
}

static int secretbox_encrypt(const uint8_t *key, const uint8_t *plain, size_t n, rk_buf *out, rk_err *err)
{
	if (sodium_init() < 0)
		return rk_err_set(err, RK_FAIL, "secretbox: libsodium failed to initialise");
	if (n > SIZE_MAX / 2 || reserve_out(out, SB_NONCE + SB_TAG + n, err) != RK_OK)
		return rk_err_set(err, RK_FAIL, "secretbox: out of memory");
	uint8_t *nonce = out->data + out->len;
	randombytes_buf(nonce, SB_NONCE);
	if (crypto_secretbox_easy(nonce + SB_NONCE, plain, n, nonce, key) != 0)
		return rk_err_set(err, RK_FAIL, "secretbox: encryption failed");
	out->len += SB_NONCE + SB_TAG + n;
	out->data[out->len] = 0;
	return RK_OK;
}

static int secretbox_decrypt(const uint8_t *key, const uint8_t *payload, size_t n, rk_buf *out, rk_err *err)
{
	if (sodium_init() < 0)
		return rk_err_set(err, RK_FAIL, "secretbox: libsodium failed to initialise");
	if (n < SB_NONCE + SB_TAG)
		return rk_err_set(err, RK_FAIL,
		                  "secretbox: the stored data was shorter than the required size");
	size_t plain_len = n - SB_NONCE - SB_TAG;
	if (reserve_out(out, plain_len, err) != RK_OK)
		return RK_FAIL;
	uint8_t *dst = out->data + out->len;
	if (crypto_secretbox_open_easy(dst, payload + SB_NONCE, n - SB_NONCE, payload, key) != 0) {
		out->data[out->len] = 0;
		return rk_err_set(err, RK_FAIL, "secretbox: message authentication failed");
	}
	out->len += plain_len;
	out->data[out->len] = 0;
	return RK_OK;
}

int rk_codec_encrypt(rk_provider_type type, const uint8_t *key, size_t keylen, const char *aad,
                     const uint8_t *plain, size_t plain_len, rk_buf *out, rk_err *err)
{
	int rc = check_key(type, keylen, err);
	if (rc != RK_OK)
		return rc;
	if (type == RK_PROV_AESCBC)
		return cbc_encrypt(key, keylen, plain, plain_len, out, err);
	if (type == RK_PROV_AESGCM)
		return gcm_encrypt(key, keylen, aad, plain, plain_len, out, err);
	return secretbox_encrypt(key, plain, plain_len, out, err);
}

int rk_codec_decrypt(rk_provider_type type, const uint8_t *key, size_t keylen, const char *aad,
                     const uint8_t *payload, size_t payload_len, rk_buf *out, rk_err *err)
{
	int rc = check_key(type, keylen, err);
	if (rc != RK_OK)
		return rc;
	if (type == RK_PROV_AESCBC)
		return cbc_decrypt(key, keylen, payload, payload_len, out, err);
	if (type == RK_PROV_AESGCM)
		return gcm_decrypt(key, keylen, aad, payload, payload_len, out, err);
	return secretbox_decrypt(key, payload, payload_len, out, err);
}
