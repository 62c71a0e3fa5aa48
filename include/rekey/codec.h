/* codec.h: the value formats kube-apiserver stores in etcd: classify a stored value by its prefix,
 * encrypt/decrypt with local keys (aescbc, aesgcm, secretbox), and the apiserver's transformer chain
 * for one EncryptionConfiguration rule (write with the first provider/key, read with any, mark stale). */
#ifndef REKEY_CODEC_H
#define REKEY_CODEC_H

#include <stddef.h>
#include <stdint.h>

#include "rekey/buf.h"
#include "rekey/encconfig.h"
#include "rekey/err.h"

typedef enum rk_value_kind {
	RK_VAL_MALFORMED = 0,
	RK_VAL_IDENTITY_PROTOBUF, /* "k8s\0" + runtime.Unknown */
	RK_VAL_IDENTITY_JSON,     /* starts with '{' */
	RK_VAL_AESCBC,
	RK_VAL_AESGCM,
	RK_VAL_SECRETBOX,
	RK_VAL_KMS_V1,
	RK_VAL_KMS_V2
} rk_value_kind;

typedef struct rk_value_info {
	rk_value_kind kind;
	char name[256];      /* key name (aes*, secretbox) or kms provider name */
	char key_id[1025];   /* kms v2: EncryptedObject.keyID (the apiserver accepts up to 1024 bytes) */
	size_t prefix_len;   /* bytes of "k8s:enc:...:<name>:" */
	int dek_source_type; /* kms v2: EncryptedObject.encryptedDEKSourceType (0 AES_GCM_KEY, 1 HKDF) */
	const char *reason;  /* RK_VAL_MALFORMED: why (static string); NULL otherwise */
} rk_value_info;

/* Classifies a stored value; never fails (unknown -> RK_VAL_MALFORMED with a reason). A value whose
 * prefix names a provider but whose payload cannot be valid for it (too short, CBC not a multiple of
 * the block size, kms v2 EncryptedObject that does not parse or that the apiserver's
 * ValidateEncryptedObject refuses: type not 0/1, empty encryptedData, encryptedDEKSource or keyID
 * empty or over 1024 bytes, an annotation key that is not a fully qualified domain name, annotations
 * over 32 KiB) is malformed too; `name` is still filled when the prefix carried one. */
void rk_codec_classify(const uint8_t *value, size_t len, rk_value_info *info);
const char *rk_value_kind_name(rk_value_kind kind); /* "aescbc", "identity", "kms-v2", "malformed" */
/* 1 when name (n bytes) is a fully qualified domain name as apimachinery's IsFullyQualifiedDomainName
 * sees it (what the apiserver requires of a kms v2 annotation key). */
int rk_codec_fqdn_ok(const uint8_t *name, size_t n);

/* NULL when plain is a stored object: "k8s\0" + a well-formed runtime.Unknown (typeMeta and raw present,
 * no other fields than typeMeta, raw, contentEncoding, contentType), or a JSON object that parses;
 * otherwise a short reason. Decrypting with a wrong aescbc key "succeeds" now and then (the padding
 * happens to check out); its plaintext fails this test. */
const char *rk_codec_object_problem(const uint8_t *plain, size_t len);

/* Payload encryption with a raw key (prefix not included). aad = the etcd key (aesgcm only; NULL =
 * none). Layouts as kube-apiserver: aescbc IV(16)||CBC(PKCS#7); aesgcm nonce(12)||ct||tag(16);
 * secretbox nonce(24)||tag(16)||XSalsa20 ct. Errors (RK_FAIL) name the provider; a bad key size is
 * RK_BADINPUT. */
int rk_codec_encrypt(rk_provider_type type, const uint8_t *key, size_t keylen, const char *aad,
                     const uint8_t *plain, size_t plain_len, rk_buf *out, rk_err *err);
int rk_codec_decrypt(rk_provider_type type, const uint8_t *key, size_t keylen, const char *aad,
                     const uint8_t *payload, size_t payload_len, rk_buf *out, rk_err *err);

/* The transformer chain of one rule (NULL rule = identity only). Keys are decoded once and wiped on free. */
typedef struct rk_chain rk_chain;
int rk_chain_new(const rk_rule *rule, rk_chain **out, rk_err *err);
void rk_chain_free(rk_chain *chain);
/* Writes with the first provider and its first key: prefix + payload into out. */
int rk_chain_write(rk_chain *chain, const char *etcd_key, const uint8_t *plain, size_t len, rk_buf *out,
                   rk_err *err);
/* Reads like the apiserver: every provider whose prefix matches, in order; *stale = 1 when the value was
 * read through a provider or key other than the first. Error names the etcd key and the key tried. */
int rk_chain_read(rk_chain *chain, const char *etcd_key, const uint8_t *stored, size_t len, rk_buf *out,
                  int *stale, rk_err *err);
/* 1 when a kms provider of the chain has the stored value's prefix ("k8s:enc:kms:v2:<name>:"): only its
 * plugin can read the value. */
int rk_chain_kms_known(const rk_chain *chain, const uint8_t *stored, size_t len);

#endif
