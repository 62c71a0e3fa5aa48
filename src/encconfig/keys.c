/* keys.c: key material helpers shared by the config engine and the codecs: provider names, base64
 * decoding of a configured key, and fingerprints (never the key itself). */
#include <openssl/crypto.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rekey/base64.h"
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

/* Standard base64 with padding, as Go's base64.StdEncoding.DecodeString (the apiserver's decoder for
 * secrets) accepts it: it skips '\r' and '\n' anywhere, so a secret written as a folded YAML block
 * still loads. Decodes straight into out: no copy of the secret on the stack or the heap. */
int rk_key_decode(const rk_key *key, uint8_t *out, size_t cap)
{
	if (!key || !key->secret)
		return -1;
	long n = rk_b64_decode_to(key->secret, strlen(key->secret), RK_B64_NEWLINES, out, cap);
	return n > 0 ? (int)n : -1;
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
