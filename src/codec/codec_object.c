/* codec_object.c: is a plaintext a stored Kubernetes object? kube-apiserver stores built-in types as
 * protobuf, "k8s\0" followed by a runtime.Unknown {typeMeta = 1 (TypeMeta {apiVersion = 1, kind = 2}),
 * raw = 2, contentEncoding = 3, contentType = 4}, and JSON objects otherwise (CRDs,
 * --storage-media-type=application/json). A decryption with a wrong aescbc key passes the padding check
 * for about 1 value in 256; its plaintext is noise and fails this test. */
#include <jansson.h>
#include <string.h>

#include "rekey/codec.h"
#include "rekey/pbwire.h"

/* TypeMeta: only apiVersion (1) and kind (2), both strings (length-delimited). */
static int type_meta_ok(const uint8_t *data, size_t len)
{
	rk_pb_reader r;
	rk_pb_field f;
	int rc;
	rk_pb_init(&r, data, len);
	while ((rc = rk_pb_next(&r, &f)) == 1)
		if ((f.num != 1 && f.num != 2) || f.wire != RK_PB_BYTES)
			return 0;
	return rc == 0;
}

static const char *unknown_problem(const uint8_t *data, size_t len)
{
	rk_pb_reader r;
	rk_pb_field f;
	int rc, has_type_meta = 0, has_raw = 0;
	rk_pb_init(&r, data, len);
	while ((rc = rk_pb_next(&r, &f)) == 1) {
		if (f.num < 1 || f.num > 4 || f.wire != RK_PB_BYTES)
			return "protobuf with a field runtime.Unknown does not have";
		if (f.num == 1 && !type_meta_ok(f.data, f.len))
			return "protobuf whose typeMeta is not a TypeMeta";
		has_type_meta |= f.num == 1;
		has_raw |= f.num == 2;
	}
	if (rc < 0)
		return "protobuf that does not parse";
	if (!has_type_meta || !has_raw)
		return "protobuf without typeMeta or raw";
	return NULL;
}

const char *rk_codec_object_problem(const uint8_t *plain, size_t len)
{
	if (len >= 4 && memcmp(plain, "k8s\0", 4) == 0)
		return unknown_problem(plain + 4, len - 4);
	if (len == 0 || plain[0] != '{')
		return "neither k8s protobuf nor a JSON object";
	json_error_t jerr;
	json_t *obj = json_loadb((const char *)plain, len, 0, &jerr);
	int ok = json_is_object(obj);
	json_decref(obj);
	return ok ? NULL : "JSON that does not parse";
}
