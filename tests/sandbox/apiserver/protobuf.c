/* protobuf.c: request bodies in Kubernetes' protobuf encoding (application/vnd.kubernetes.protobuf:
 * "k8s\0" + runtime.Unknown{typeMeta, raw}), decoded to the JSON object the rest of the sandbox
 * handles, for the kinds real kubectl posts that way (`kubectl create secret generic`, `create
 * configmap`): v1 Secret and ConfigMap. ObjectMeta keeps what a client sets (name, generateName,
 * namespace, uid, resourceVersion, labels, annotations, finalizers); server-set fields are skipped, as
 * are unknown fields. Other kinds are refused (415). Field numbers: k8s.io/api core/v1 generated.proto. */
#include <stdio.h>
#include <string.h>

#include "apiserver.h"
#include "rekey/base64.h"
#include "rekey/pbwire.h"

static json_t *pb_string(const rk_pb_field *f)
{
	return json_stringn((const char *)f->data, f->len);
}

/* A map<string,string|bytes> entry (key = 1, value = 2) added to obj; bytes values base64. */
static int map_entry(json_t *obj, const rk_pb_field *entry, int bytes)
{
	rk_pb_reader r;
	rk_pb_field f;
	json_t *key = NULL, *value = NULL;
	int rc;
	rk_pb_init(&r, entry->data, entry->len);
	while ((rc = rk_pb_next(&r, &f)) == 1) {
		if (f.wire != RK_PB_BYTES)
			continue;
		if (f.num == 1) {
			json_decref(key);
			key = pb_string(&f);
		} else if (f.num == 2) {
			json_decref(value);
			rk_buf b = RK_BUF_INIT;
			if (bytes)
				rk_b64_encode(f.data, f.len, 0, &b);
			value = bytes ? json_string(rk_buf_cstr(&b)) : pb_string(&f);
			rk_buf_wipe_free(&b);
		}
	}
	if (!value)
		value = json_string("");
	if (rc == 0 && key && json_string_value(key))
		json_object_set(obj, json_string_value(key), value);
	json_decref(key);
	json_decref(value);
	return rc == 0 && key ? 0 : -1;
}

/* Adds map field f to parent[name] (created on first use). */
static int add_map(json_t *parent, const char *name, const rk_pb_field *f, int bytes)
{
	json_t *map = json_object_get(parent, name);
	if (!map) {
		map = json_object();
		json_object_set_new(parent, name, map);
	}
	return map_entry(map, f, bytes);
}

static json_t *object_meta(const rk_pb_field *meta)
{
	static const char *const strings[] = {
	    [1] = "name", [2] = "generateName", [3] = "namespace", [5] = "uid", [6] = "resourceVersion"};
	json_t *out = json_object();
	rk_pb_reader r;
	rk_pb_field f;
	int rc;
	rk_pb_init(&r, meta->data, meta->len);
	while ((rc = rk_pb_next(&r, &f)) == 1) {
		if (f.wire != RK_PB_BYTES)
			continue;
		if (f.num < sizeof strings / sizeof strings[0] && strings[f.num])
			json_object_set_new(out, strings[f.num], pb_string(&f));
		else if ((f.num == 11 || f.num == 12) &&
		         add_map(out, f.num == 11 ? "labels" : "annotations", &f, 0))
			rc = -1;
		else if (f.num == 14) {
			if (!json_object_get(out, "finalizers"))
				json_object_set_new(out, "finalizers", json_array());
			json_array_append_new(json_object_get(out, "finalizers"), pb_string(&f));
		}
		if (rc < 0)
			break;
	}
	if (rc != 0) {
		json_decref(out);
		return NULL;
	}
	return out;
}

/* The fields of a Secret (secret = 1) or ConfigMap (secret = 0) message into obj. */
static int object_fields(json_t *obj, const uint8_t *raw, size_t len, int secret)
{
	rk_pb_reader r;
	rk_pb_field f;
	int rc;
	rk_pb_init(&r, raw, len);
	while ((rc = rk_pb_next(&r, &f)) == 1) {
		int bad = 0;
		if (f.num == 1 && f.wire == RK_PB_BYTES) {
			json_t *meta = object_meta(&f);
			bad = !meta;
			if (meta)
				json_object_set_new(obj, "metadata", meta);
		} else if (f.wire == RK_PB_VARINT && f.num == (secret ? 5u : 4u)) {
			json_object_set_new(obj, "immutable", json_boolean(f.value != 0));
		} else if (secret && f.wire == RK_PB_BYTES && f.num == 3) {
			json_object_set_new(obj, "type", pb_string(&f));
		} else if (f.wire == RK_PB_BYTES && (f.num == 2 || f.num == (secret ? 4u : 3u))) {
			int bytes = secret ? f.num == 2 : f.num == 3;
			const char *name = f.num == 2 ? "data" : secret ? "stringData" : "binaryData";
			bad = add_map(obj, name, &f, bytes);
		}
		if (bad)
			return -1;
	}
	return rc;
}

json_t *sbx_pb_decode_object(const uint8_t *body, size_t len, int *unsupported, char *why, size_t cap)
{
	rk_pb_reader r;
	rk_pb_field f;
	const uint8_t *raw = NULL;
	size_t raw_len = 0;
	char api_version[64] = "", kind[64] = "";
	int rc;
	*unsupported = 0;
	if (len < 4 || memcmp(body, "k8s\0", 4)) {
		snprintf(why, cap, "the body does not start with the protobuf magic k8s\\x00");
		return NULL;
	}
	rk_pb_init(&r, body + 4, len - 4);
	while ((rc = rk_pb_next(&r, &f)) == 1) {
		if (f.num == 1 && f.wire == RK_PB_BYTES) { /* TypeMeta */
			rk_pb_reader t;
			rk_pb_field tf;
			rk_pb_init(&t, f.data, f.len);
			while (rk_pb_next(&t, &tf) == 1)
				if (tf.wire == RK_PB_BYTES && (tf.num == 1 || tf.num == 2))
					snprintf(tf.num == 1 ? api_version : kind, 64, "%.*s", (int)tf.len,
					         (const char *)tf.data);
		} else if (f.num == 2 && f.wire == RK_PB_BYTES) {
			raw = f.data, raw_len = f.len;
		}
	}
	int secret = !strcmp(kind, "Secret");
	if (rc != 0 || !raw || strcmp(api_version, "v1") || (!secret && strcmp(kind, "ConfigMap"))) {
		*unsupported = rc == 0 && raw;
		snprintf(why, cap, "%s",
		         *unsupported ? "the sandbox decodes protobuf only for v1 Secret and ConfigMap"
		                      : "malformed protobuf body");
		return NULL;
	}
	json_t *obj = json_pack("{s:s, s:s}", "apiVersion", "v1", "kind", kind);
	if (object_fields(obj, raw, raw_len, secret) != 0) {
		json_decref(obj);
		snprintf(why, cap, "malformed protobuf %s", kind);
		return NULL;
	}
	return obj;
}
