/* keys.c: key material helpers shared by the config engine and the codecs: provider names, base64
 * decoding of a configured key, and fingerprints (never the key itself). */
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rekey/encconfig.h"

static const char *const provider_names[] = {
    [RK_PROV_NONE] = "none",           [RK_PROV_AESGCM] = "aesgcm",     [RK_PROV_AESCBC] = "aescbc",
    [RK_PROV_SECRETBOX] = "secretbox", [RK_PROV_IDENTITY] = "identity", [RK_PROV_KMS] = "kms",
};

const char *rk_provider_name(rk_provider_type t)
{
	if ((unsigned)t >= sizeof provider_names / sizeof provider_names[0])
		return "none";
	return provider_names[t];
}

rk_provider_type rk_provider_from_name(const char *name)
{
	for (unsigned t = RK_PROV_AESGCM; t <= RK_PROV_KMS; t++)
		if (name && !strcmp(name, provider_names[t]))
			return (rk_provider_type)t;
	return RK_PROV_NONE;
}

static int b64_char_ok(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' ||
	       c == '/';
}

/* Standard base64 with padding, as Go's base64.StdEncoding.DecodeString accepts it. */
static int b64_decode_strict(const char *text, uint8_t *out, size_t cap)
{
	size_t len = strlen(text);
	if (len == 0 || len % 4 != 0)
		return -1;
	size_t pad = 0;
	for (size_t i = 0; i < len; i++) {
		if (text[i] == '=' && i >= len - 2) {
			pad++;
			continue;
		}
		if (pad || !b64_char_ok(text[i]))
			return -1;
	}
	size_t decoded = len / 4 * 3 - pad;
	if (decoded > cap)
		return -1;
	uint8_t tmp[len / 4 * 3];
	int n = EVP_DecodeBlock(tmp, (const unsigned char *)text, (int)len);
	if (n < 0) {
		OPENSSL_cleanse(tmp, sizeof tmp);
		return -1;
	}
	memcpy(out, tmp, decoded);
	OPENSSL_cleanse(tmp, sizeof tmp);
	return (int)decoded;
}

/* Go's base64 decoder (what the apiserver uses for secrets) skips '\r' and '\n' anywhere, so a
 * secret written as a folded YAML block still loads there: drop them before the strict decode. */
int rk_key_decode(const rk_key *key, uint8_t *out, size_t cap)
{
	if (!key || !key->secret)
		return -1;
	if (!strpbrk(key->secret, "\r\n"))
		return b64_decode_strict(key->secret, out, cap);
	size_t len = strlen(key->secret), kept = 0;
	char *folded = malloc(len + 1);
	if (!folded)
		return -1;
	for (size_t i = 0; i < len; i++)
		if (key->secret[i] != '\r' && key->secret[i] != '\n')
			folded[kept++] = key->secret[i];
	folded[kept] = '\0';
	int n = b64_decode_strict(folded, out, cap);
	OPENSSL_cleanse(folded, len + 1);
	free(folded);
	return n;
}

int rk_key_fingerprint(const rk_key *key, char out[17])
{
	uint8_t raw[256];
	int n = rk_key_decode(key, raw, sizeof raw);
	if (n < 0)
		return -1;
	uint8_t digest[SHA256_DIGEST_LENGTH];
	SHA256(raw, (size_t)n, digest);
	OPENSSL_cleanse(raw, sizeof raw);
	for (int i = 0; i < 8; i++)
		snprintf(out + 2 * i, 3, "%02x", digest[i]);
	return 0;
}
