/* codec.c: classifies the values kube-apiserver stores in etcd by their prefix (identity protobuf or
 * JSON, aescbc, aesgcm, secretbox, kms v1, kms v2 with its EncryptedObject), without any key. */
#include <stdio.h>
#include <string.h>

#include "rekey/codec.h"
#include "rekey/pbwire.h"

#define ENC_PREFIX "k8s:enc:"

static const char *const kind_names[] = {
    [RK_VAL_MALFORMED] = "malformed",    [RK_VAL_IDENTITY_PROTOBUF] = "identity",
    [RK_VAL_IDENTITY_JSON] = "identity", [RK_VAL_AESCBC] = "aescbc",
    [RK_VAL_AESGCM] = "aesgcm",          [RK_VAL_SECRETBOX] = "secretbox",
    [RK_VAL_KMS_V1] = "kms-v1",          [RK_VAL_KMS_V2] = "kms-v2",
};

const char *rk_value_kind_name(rk_value_kind kind)
{
	if ((unsigned)kind >= sizeof kind_names / sizeof kind_names[0])
		return "malformed";
	return kind_names[kind];
}

static int has_prefix(const uint8_t *v, size_t len, const char *prefix)
{
	size_t n = strlen(prefix);
	return len >= n && memcmp(v, prefix, n) == 0;
}

static void set_malformed(rk_value_info *info, const char *reason)
{
	info->kind = RK_VAL_MALFORMED;
	info->reason = reason;
}

/* Reads "<name>:" after the provider prefix into info->name; returns bytes consumed or 0. */
static size_t read_name(const uint8_t *v, size_t len, rk_value_info *info)
{
	const uint8_t *colon = memchr(v, ':', len);
	if (!colon) {
		set_malformed(info, "no ':' after the key name");
		return 0;
	}
	size_t n = (size_t)(colon - v);
	if (n == 0) {
		set_malformed(info, "empty key name");
		return 0;
	}
	if (n >= sizeof info->name) {
		set_malformed(info, "key name too long");
		return 0;
	}
	memcpy(info->name, v, n);
	info->name[n] = '\0';
	return n + 1;
}

/* Smallest payload each local provider can produce, and its granularity. */
static int local_payload_ok(rk_value_kind kind, size_t n, rk_value_info *info)
{
	switch (kind) {
	case RK_VAL_AESCBC:
		if (n < 32 || n % 16 != 0) {
			set_malformed(info, "aescbc payload is not IV + whole blocks");
			return 0;
		}
		return 1;
	case RK_VAL_AESGCM:
		if (n < 12 + 16) {
			set_malformed(info, "aesgcm payload shorter than nonce + tag");
			return 0;
		}
		return 1;
	default: /* secretbox */
		if (n < 24 + 16) {
			set_malformed(info, "secretbox payload shorter than nonce + tag");
			return 0;
		}
		return 1;
	}
}

static void classify_local(const uint8_t *v, size_t len, size_t plen, rk_value_kind kind, rk_value_info *info)
{
	size_t used = read_name(v + plen, len - plen, info);
	if (!used)
		return;
	info->prefix_len = plen + used;
	if (local_payload_ok(kind, len - info->prefix_len, info))
		info->kind = kind;
}

static void classify_kms_v1(const uint8_t *v, size_t len, size_t plen, rk_value_info *info)
{
	size_t used = read_name(v + plen, len - plen, info);
	if (!used)
		return;
	info->prefix_len = plen + used;
	const uint8_t *p = v + info->prefix_len;
	size_t rest = len - info->prefix_len;
	if (rest < 2 || (size_t)((p[0] << 8) | p[1]) + 2 > rest || ((p[0] << 8) | p[1]) == 0) {
		set_malformed(info, "kms v1 encrypted DEK length out of range");
		return;
	}
	info->kind = RK_VAL_KMS_V1;
}

/* Fields of EncryptedObject (k8s.io/apiserver pkg/storage/value/encrypt/envelope/kmsv2/v2/api.proto:
 * encryptedData = 1, keyID = 2, encryptedDEKSource = 3, annotations = 4 (map<string, bytes>: entries
 * with key = 1, value = 2), encryptedDEKSourceType = 5), checked as the apiserver's
 * ValidateEncryptedObject does. */
struct enc_object {
	size_t data_len, dek_len, key_id_len, annotations_len;
	const uint8_t *key_id;
	uint64_t dek_type;
	int bad_annotation;
};

/* A DNS-1123 label: 1-63 of [a-z0-9-], starting and ending alphanumeric. */
static int dns_label_ok(const uint8_t *p, size_t n)
{
	if (n == 0 || n > 63 || p[0] == '-' || p[n - 1] == '-')
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!((p[i] >= 'a' && p[i] <= 'z') || (p[i] >= '0' && p[i] <= '9') || p[i] == '-'))
			return 0;
	return 1;
}

/* apimachinery's IsFullyQualifiedDomainName: one trailing dot allowed, a DNS-1123 subdomain (at most
 * 253 bytes) of at least two labels. */
int rk_codec_fqdn_ok(const uint8_t *name, size_t n)
{
	if (n > 0 && name[n - 1] == '.')
		n--;
	if (n == 0 || n > 253)
		return 0;
	size_t labels = 0, start = 0;
	for (size_t i = 0; i <= n; i++)
		if (i == n || name[i] == '.') {
			if (!dns_label_ok(name + start, i - start))
				return 0;
			labels++;
			start = i + 1;
		}
	return labels >= 2;
}

/* One annotations entry: its key must be an FQDN; key and value sizes add to the total. */
static int parse_annotation(const uint8_t *p, size_t n, struct enc_object *o)
{
	rk_pb_reader r;
	rk_pb_field f;
	int rc;
	const uint8_t *key = NULL;
	size_t key_len = 0;
	rk_pb_init(&r, p, n);
	while ((rc = rk_pb_next(&r, &f)) == 1) {
		if ((f.num == 1 || f.num == 2) && f.wire != RK_PB_BYTES)
			return -1;
		if (f.num == 1)
			key = f.data, key_len = f.len;
		o->annotations_len += f.num == 1 || f.num == 2 ? f.len : 0;
	}
	if (rc == 0 && !rk_codec_fqdn_ok(key, key_len))
		o->bad_annotation = 1;
	return rc;
}

static int parse_encrypted_object(const uint8_t *p, size_t n, struct enc_object *o)
{
	rk_pb_reader r;
	rk_pb_field f;
	int rc;
	memset(o, 0, sizeof *o);
	rk_pb_init(&r, p, n);
	while ((rc = rk_pb_next(&r, &f)) == 1) {
		int want_bytes = f.num >= 1 && f.num <= 4;
		if ((want_bytes && f.wire != RK_PB_BYTES) || (f.num == 5 && f.wire != RK_PB_VARINT))
			return -1;
		if (f.num == 1)
			o->data_len = f.len;
		else if (f.num == 2)
			o->key_id = f.data, o->key_id_len = f.len;
		else if (f.num == 3)
			o->dek_len = f.len;
		else if (f.num == 4 && parse_annotation(f.data, f.len, o) != 0)
			return -1;
		else if (f.num == 5)
			o->dek_type = f.value;
	}
	return rc;
}

/* Why the apiserver would refuse the object, NULL when it would not. */
static const char *encrypted_object_problem(const struct enc_object *o)
{
	if (o->dek_type > 1)
		return "kms v2 unknown encryptedDEKSourceType";
	if (o->data_len == 0)
		return "kms v2 encryptedData is empty";
	if (o->dek_len == 0 || o->dek_len > 1024)
		return "kms v2 encryptedDEKSource empty or over 1 KiB";
	if (o->key_id_len == 0 || o->key_id_len > 1024)
		return "kms v2 keyID empty or over 1024 bytes";
	if (o->bad_annotation)
		return "kms v2 annotation key is not a fully qualified domain name";
	if (o->annotations_len > 32 * 1024)
		return "kms v2 annotations over 32 KiB";
	return NULL;
}

static void classify_kms_v2(const uint8_t *v, size_t len, size_t plen, rk_value_info *info)
{
	size_t used = read_name(v + plen, len - plen, info);
	if (!used)
		return;
	info->prefix_len = plen + used;
	struct enc_object o;
	if (parse_encrypted_object(v + info->prefix_len, len - info->prefix_len, &o) != 0) {
		set_malformed(info, "kms v2 EncryptedObject is not valid protobuf");
		return;
	}
	const char *problem = encrypted_object_problem(&o);
	if (problem) {
		set_malformed(info, problem);
		return;
	}
	memcpy(info->key_id, o.key_id, o.key_id_len);
	info->key_id[o.key_id_len] = '\0';
	info->dek_source_type = (int)o.dek_type;
	info->kind = RK_VAL_KMS_V2;
}

static const struct {
	const char *prefix;
	rk_value_kind kind;
} enc_prefixes[] = {
    {ENC_PREFIX "aescbc:v1:", RK_VAL_AESCBC},       {ENC_PREFIX "aesgcm:v1:", RK_VAL_AESGCM},
    {ENC_PREFIX "secretbox:v1:", RK_VAL_SECRETBOX}, {ENC_PREFIX "kms:v1:", RK_VAL_KMS_V1},
    {ENC_PREFIX "kms:v2:", RK_VAL_KMS_V2},
};

static void classify_encrypted(const uint8_t *v, size_t len, rk_value_info *info)
{
	for (size_t i = 0; i < sizeof enc_prefixes / sizeof enc_prefixes[0]; i++) {
		if (!has_prefix(v, len, enc_prefixes[i].prefix))
			continue;
		size_t plen = strlen(enc_prefixes[i].prefix);
		if (enc_prefixes[i].kind == RK_VAL_KMS_V1)
			classify_kms_v1(v, len, plen, info);
		else if (enc_prefixes[i].kind == RK_VAL_KMS_V2)
			classify_kms_v2(v, len, plen, info);
		else
			classify_local(v, len, plen, enc_prefixes[i].kind, info);
		return;
	}
	set_malformed(info, "unknown k8s:enc: provider prefix");
}

void rk_codec_classify(const uint8_t *value, size_t len, rk_value_info *info)
{
	memset(info, 0, sizeof *info);
	if (!value || len == 0) {
		set_malformed(info, "empty value");
		return;
	}
	if (has_prefix(value, len, ENC_PREFIX)) {
		classify_encrypted(value, len, info);
		return;
	}
	if (len >= 4 && memcmp(value, "k8s\0", 4) == 0) {
		info->kind = RK_VAL_IDENTITY_PROTOBUF;
		return;
	}
	if (value[0] == '{') {
		info->kind = RK_VAL_IDENTITY_JSON;
		return;
	}
	set_malformed(info, "neither k8s protobuf, JSON nor a k8s:enc: prefix");
}
