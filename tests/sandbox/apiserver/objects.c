/* objects.c: the storage layer of the sandbox apiserver, as kube-apiserver's etcd3 store does it:
 * objects live under /registry/<resource>/[<ns>/]<name>, resourceVersion = etcd mod_revision, writes are
 * etcd transactions comparing the mod_revision, values pass through the codec chain of the rule that
 * applies (AAD = the etcd key). The stored plaintext is JSON (the sandbox runs as with
 * --storage-media-type=application/json), not protobuf, with sorted keys and no resourceVersion.
 * Update follows GuaranteedUpdate: an update whose encoding equals the stored plaintext skips the write
 * and returns the stored resourceVersion, unless the stored value was read stale. */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "apiserver.h"
#include "apiserver_util.h"
#include "metrics.h"
#include "rekey/base64.h"

#define UPDATE_RETRIES 16

void sbx_object_key(const sbx_resource *res, const char *ns, const char *name, rk_buf *out)
{
	rk_buf_reset(out);
	rk_buf_printf(out, "/registry/%s/", res->prefix ? res->prefix : res->name);
	if (res->namespaced && ns)
		rk_buf_printf(out, "%s/", ns);
	if (name)
		rk_buf_append_str(out, name);
}

static json_t *meta_of(json_t *obj)
{
	json_t *m = json_object_get(obj, "metadata");
	if (!json_is_object(m)) {
		m = json_object();
		json_object_set_new(obj, "metadata", m);
	}
	return m;
}

static const char *meta_str(json_t *obj, const char *field)
{
	json_t *m = json_object_get(obj, "metadata");
	json_t *v = json_is_object(m) ? json_object_get(m, field) : NULL;
	return json_is_string(v) ? json_string_value(v) : NULL;
}

static void set_rv(json_t *obj, int64_t rev)
{
	char s[32];
	snprintf(s, sizeof s, "%lld", (long long)rev);
	json_object_set_new(meta_of(obj), "resourceVersion", json_string(s));
}

static void internal_error(sbx_apierr *e, const char *fmt, const char *detail)
{
	sbx_apierr_set(e, 500, "InternalError", NULL, "", fmt, detail);
}

/* Reads and decodes one stored value: plaintext into plain, the object (with resourceVersion) into *obj. */
static int decode_value(sbx_config *cfg, const sbx_resource *res, const rk_etcd_kv *kv, rk_buf *plain,
                        int *stale, json_t **obj, sbx_apierr *e)
{
	rk_err err;
	rk_err_clear(&err);
	rk_value_info info;
	rk_codec_classify(kv->value, kv->value_len, &info);
	char prefix[300];
	snprintf(prefix, sizeof prefix, "%.*s", (int)info.prefix_len, (const char *)kv->value);
	*stale = 0;
	rk_buf_reset(plain);
	if (rk_chain_read(sbx_config_chain(cfg, res), (const char *)kv->key, kv->value, kv->value_len, plain,
	                  stale, &err) != RK_OK) {
		sbx_metrics_transform("from_storage", prefix, 0);
		internal_error(e, "%s", err.msg);
		return -1;
	}
	sbx_metrics_transform("from_storage", prefix, 1);
	json_error_t jerr;
	*obj = json_loadb((const char *)plain->data, plain->len, 0, &jerr);
	if (!json_is_object(*obj)) {
		json_decref(*obj);
		*obj = NULL;
		char msg[600];
		snprintf(msg, sizeof msg, "object stored at %s is not JSON (the sandbox stores JSON): %s",
		         (const char *)kv->key, jerr.text);
		internal_error(e, "%s", msg);
		return -1;
	}
	set_rv(*obj, kv->mod_rev);
	if (res->stored_gv && json_object_get(*obj, "apiVersion")) /* converted to the version served */
		json_object_set_new(*obj, "apiVersion", json_string(res->group_version));
	return 0;
}

/* The canonical stored encoding: compact JSON, sorted keys, without metadata.resourceVersion, at the
 * stored version (a custom resource's storage version). */
static char *encode_object(const sbx_resource *res, json_t *obj)
{
	json_t *copy = json_deep_copy(obj);
	json_t *m = json_object_get(copy, "metadata");
	if (json_is_object(m))
		json_object_del(m, "resourceVersion");
	if (res->stored_gv)
		json_object_set_new(copy, "apiVersion", json_string(res->stored_gv));
	char *text = json_dumps(copy, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(copy);
	return text;
}

static int encrypt_value(sbx_config *cfg, const sbx_resource *res, const char *key, const char *plain,
                         rk_buf *stored, sbx_apierr *e)
{
	rk_err err;
	rk_err_clear(&err);
	rk_buf_reset(stored);
	int rc = rk_chain_write(sbx_config_chain(cfg, res), key, (const uint8_t *)plain, strlen(plain),
	                        stored, &err);
	rk_value_info info;
	if (rc == RK_OK)
		rk_codec_classify(stored->data, stored->len, &info);
	else
		info.prefix_len = 0;
	char prefix[300];
	snprintf(prefix, sizeof prefix, "%.*s", (int)info.prefix_len,
	         rc == RK_OK ? (const char *)stored->data : "");
	sbx_metrics_transform("to_storage", prefix, rc == RK_OK);
	if (rc != RK_OK) {
		internal_error(e, "%s", err.msg);
		return -1;
	}
	return 0;
}

static int etcd_failed(sbx_apierr *e, const rk_err *err)
{
	sbx_apierr_set(e, 500, "InternalError", NULL, "", "%s", err->msg);
	return -1;
}

/* RFC 1123 subdomain, as metadata.name of these resources must be. */
static int valid_name(const char *name)
{
	size_t n = strlen(name);
	if (n == 0 || n > 253 || !isalnum((unsigned char)name[0]) || !isalnum((unsigned char)name[n - 1]))
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!(islower((unsigned char)name[i]) || isdigit((unsigned char)name[i]) || name[i] == '-' ||
		      name[i] == '.'))
			return 0;
	return 1;
}

static int invalid_name(sbx_apierr *e, const sbx_resource *res, const char *name)
{
	sbx_apierr_set(
	    e, 422, "Invalid", res, name,
	    "%s \"%s\" is invalid: metadata.name: Invalid value: \"%s\": a lowercase RFC 1123 subdomain "
	    "must consist of lower case alphanumeric characters, '-' or '.', and must start and end with "
	    "an alphanumeric character",
	    res->kind, name, name);
	return -1;
}

/* The NamespaceLifecycle admission check: writes into a namespace that does not exist are NotFound. */
static int namespace_exists(const sbx_resource *res, const char *ns, sbx_apierr *e)
{
	if (!res->namespaced)
		return 0;
	rk_buf key = RK_BUF_INIT;
	sbx_object_key(&sbx_resources[SBX_NAMESPACES], NULL, ns, &key);
	rk_etcd_range r;
	rk_err err;
	int rc = sbx_etcd_range(key.data, key.len, NULL, 0, 0, 1, &r, &err);
	rk_buf_free(&key);
	if (rc != RK_OK)
		return etcd_failed(e, &err);
	size_t n = r.n;
	rk_etcd_range_free(&r);
	if (n == 0) {
		sbx_apierr_set(e, 404, "NotFound", &sbx_resources[SBX_NAMESPACES], ns,
		               "namespaces \"%s\" not found", ns);
		return -1;
	}
	return 0;
}

static void not_found(sbx_apierr *e, const sbx_resource *res, const char *name)
{
	if (*res->group)
		sbx_apierr_set(e, 404, "NotFound", res, name, "%s.%s \"%s\" not found", res->name, res->group,
		               name);
	else
		sbx_apierr_set(e, 404, "NotFound", res, name, "%s \"%s\" not found", res->name, name);
}

int sbx_store_get(sbx_server *srv, const sbx_resource *res, const char *ns, const char *name, json_t **out,
                  sbx_apierr *e)
{
	rk_buf key = RK_BUF_INIT, plain = RK_BUF_INIT;
	sbx_object_key(res, ns, name, &key);
	rk_etcd_kv kv;
	int found = 0, stale = 0, rc = -1;
	rk_err err;
	if (sbx_etcd_get(rk_buf_cstr(&key), &kv, &found, &err) != RK_OK) {
		etcd_failed(e, &err);
	} else if (!found) {
		not_found(e, res, name);
	} else {
		sbx_config *cfg = sbx_config_acquire(srv);
		rc = decode_value(cfg, res, &kv, &plain, &stale, out, e);
		sbx_config_release(srv, cfg);
		rk_etcd_kv_free(&kv);
	}
	rk_buf_free(&key);
	rk_buf_wipe_free(&plain);
	return rc;
}

/* ---- continue tokens: base64url(no padding) of {"v":"meta.k8s.io/v1","rv":N,"start":KEY} ---- */

static char *encode_continue(int64_t rv, const char *start, size_t start_len)
{
	json_t *tok = json_object();
	json_object_set_new(tok, "v", json_string("meta.k8s.io/v1"));
	json_object_set_new(tok, "rv", json_integer(rv));
	json_object_set_new(tok, "start", json_stringn(start, start_len));
	char *text = json_dumps(tok, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(tok);
	rk_buf b = RK_BUF_INIT;
	if (text)
		rk_b64_encode(text, strlen(text), RK_B64_URL, &b);
	free(text);
	return rk_buf_steal(&b);
}

static int decode_continue(const char *token, int64_t *rv, rk_buf *start, sbx_apierr *e)
{
	rk_buf raw = RK_BUF_INIT;
	json_t *tok = NULL;
	int ok = rk_b64_decode(token, strlen(token), RK_B64_URL, &raw) == 0;
	if (ok) {
		json_error_t jerr;
		tok = json_loadb((const char *)raw.data, raw.len, JSON_ALLOW_NUL, &jerr);
	}
	json_t *v = json_object_get(tok, "v"), *r = json_object_get(tok, "rv"),
	       *s = json_object_get(tok, "start");
	ok = ok && json_is_string(v) && !strcmp(json_string_value(v), "meta.k8s.io/v1") &&
	     json_is_integer(r) && json_is_string(s) && json_integer_value(r) != 0;
	if (ok) {
		*rv = json_integer_value(r);
		const char *sv = json_string_value(s);
		/* the start key must stay inside the listed prefix */
		ok = sv[0] && sv[0] != '/' && !strstr(sv, "..") &&
		     rk_buf_append(start, sv, json_string_length(s)) == 0;
	}
	json_decref(tok);
	rk_buf_free(&raw);
	if (!ok)
		sbx_apierr_set(e, 400, "BadRequest", NULL, "", "continue key is not valid: %s",
		               "incorrect encoded start resourceVersion (version meta.k8s.io/v1)");
	return ok ? 0 : -1;
}

static void expired(sbx_apierr *e, const char *start, size_t start_len)
{
	sbx_apierr_set(
	    e, 410, "Expired", NULL, "", "%s",
	    "The provided continue parameter is too old to display a consistent list result. You can "
	    "start a new list without the continue parameter, or use the continue token in this response "
	    "to retrieve the remainder of the results. Continuing with the provided token results in an "
	    "inconsistent list - objects that were created, modified, or deleted between the time the "
	    "first chunk was returned and now may show up in the list.");
	e->continue_token = encode_continue(-1, start, start_len);
}

static json_t *list_object(const sbx_resource *res, int64_t rv)
{
	char kind[80], rvs[32];
	snprintf(kind, sizeof kind, "%sList", res->kind);
	snprintf(rvs, sizeof rvs, "%lld", (long long)rv);
	return json_pack("{s:s,s:s,s:{s:s},s:[]}", "kind", kind, "apiVersion", res->group_version, "metadata",
	                 "resourceVersion", rvs, "items");
}

/* Items of one range page; list items carry no kind/apiVersion, as kube-apiserver's typed lists. */
static int decode_items(sbx_server *srv, const sbx_resource *res, rk_etcd_range *r, json_t *items,
                        sbx_apierr *e)
{
	sbx_config *cfg = sbx_config_acquire(srv);
	rk_buf plain = RK_BUF_INIT;
	int rc = 0;
	for (size_t i = 0; i < r->n && rc == 0; i++) {
		json_t *obj = NULL;
		int stale = 0;
		rc = decode_value(cfg, res, &r->kvs[i], &plain, &stale, &obj, e);
		if (rc == 0) {
			if (res->id != SBX_CUSTOM) { /* typed lists; unstructured ones keep them */
				json_object_del(obj, "kind");
				json_object_del(obj, "apiVersion");
			}
			json_array_append_new(items, obj);
		}
	}
	rk_buf_wipe_free(&plain);
	sbx_config_release(srv, cfg);
	return rc;
}

int sbx_store_list(sbx_server *srv, const sbx_resource *res, const char *ns, long limit, const char *cont,
                   json_t **out, sbx_apierr *e)
{
	rk_buf prefix = RK_BUF_INIT, start = RK_BUF_INIT, key = RK_BUF_INIT;
	sbx_object_key(res, ns, NULL, &prefix);
	int64_t rv = 0;
	int rc = -1;
	if (cont && *cont && decode_continue(cont, &rv, &start, e) < 0)
		goto done;
	rk_buf_append(&key, prefix.data, prefix.len);
	rk_buf_append(&key, start.data ? start.data : (const uint8_t *)"", start.len);
	rk_buf end = RK_BUF_INIT;
	rk_etcd_prefix_end(prefix.data, prefix.len, &end);
	rk_etcd_range r;
	rk_err err;
	int erc =
	    sbx_etcd_range(key.data, key.len, &end, limit > 0 ? limit : 0, rv > 0 ? rv : 0, 0, &r, &err);
	rk_buf_free(&end);
	if (erc == RK_ETCD_COMPACTED) {
		expired(e, rk_buf_cstr(&start), start.len);
		goto done;
	}
	if (erc != RK_OK) {
		etcd_failed(e, &err);
		goto done;
	}
	int64_t list_rv = rv > 0 ? rv : r.revision;
	json_t *list = list_object(res, list_rv);
	if (decode_items(srv, res, &r, json_object_get(list, "items"), e) == 0) {
		if (r.more && r.n > 0) {
			const rk_etcd_kv *last = &r.kvs[r.n - 1];
			rk_buf next = RK_BUF_INIT;
			rk_buf_append(&next, last->key + prefix.len, last->key_len - prefix.len);
			rk_buf_append(&next, "", 1); /* last key + "\0": the next page starts after it */
			char *tok = encode_continue(list_rv, (const char *)next.data, next.len);
			json_t *meta = json_object_get(list, "metadata");
			json_object_set_new(meta, "continue", json_string(tok));
			json_object_set_new(meta, "remainingItemCount",
			                    json_integer(r.count - (json_int_t)r.n));
			free(tok);
			rk_buf_free(&next);
		}
		*out = list;
		rc = 0;
	} else {
		json_decref(list);
	}
	rk_etcd_range_free(&r);
done:
	rk_buf_free(&prefix);
	rk_buf_free(&start);
	rk_buf_free(&key);
	return rc;
}

/* ---- create ---- */

/* stringData is write-only: merged into data (base64) as the v1 conversion does. */
static void merge_string_data(json_t *obj)
{
	json_t *sd = json_object_get(obj, "stringData");
	if (!json_is_object(sd))
		return;
	json_t *data = json_object_get(obj, "data");
	if (!json_is_object(data)) {
		data = json_object();
		json_object_set_new(obj, "data", data);
	}
	const char *k;
	json_t *v;
	json_object_foreach(sd, k, v)
	{
		if (!json_is_string(v))
			continue;
		rk_buf b = RK_BUF_INIT;
		rk_b64_encode(json_string_value(v), json_string_length(v), RK_B64_STD, &b);
		json_object_set_new(data, k, json_string(rk_buf_cstr(&b)));
		rk_buf_wipe_free(&b);
	}
	json_object_del(obj, "stringData");
}

/* Secret data values are []byte: JSON strings in standard base64 (the v1 decoder refuses others).
 * *bad names the first bad key (NULL when data is not an object). */
static int secret_data_ok(json_t *data, const char **bad)
{
	*bad = NULL;
	if (!json_is_object(data))
		return 0;
	const char *k;
	json_t *v;
	json_object_foreach(data, k, v)
	{
		rk_buf raw = RK_BUF_INIT;
		int ok = json_is_string(v) &&
		         rk_b64_decode(json_string_value(v), json_string_length(v), RK_B64_STD, &raw) == 0;
		rk_buf_wipe_free(&raw);
		if (!ok) {
			*bad = k;
			return 0;
		}
	}
	return 1;
}

/* Type checks common to create and update: kind/apiVersion, namespace of the body. */
static int check_body(const sbx_resource *res, const char *ns, json_t *body, sbx_apierr *e)
{
	if (!json_is_object(body)) {
		sbx_apierr_set(e, 400, "BadRequest", NULL, "",
		               "the body of the request is not a JSON object");
		return -1;
	}
	json_t *kind = json_object_get(body, "kind"), *av = json_object_get(body, "apiVersion");
	if ((kind && (!json_is_string(kind) || strcmp(json_string_value(kind), res->kind))) ||
	    (av && (!json_is_string(av) || strcmp(json_string_value(av), res->group_version)))) {
		sbx_apierr_set(e, 400, "BadRequest", NULL, "",
		               "the object provided is unrecognized (must be of type %s)", res->kind);
		return -1;
	}
	const char *bns = meta_str(body, "namespace");
	if (res->namespaced && bns && *bns && strcmp(bns, ns)) {
		sbx_apierr_set(
		    e, 400, "BadRequest", NULL, "", "%s",
		    "the namespace of the provided object does not match the namespace sent on the request");
		return -1;
	}
	json_t *data = json_object_get(body, "data");
	const char *bad = NULL;
	if (res->id == SBX_SECRETS && data && !secret_data_ok(data, &bad)) {
		sbx_apierr_set(e, 400, "BadRequest", NULL, "",
		               "Secret in version \"v1\" cannot be handled as a Secret: data%s%s must be %s",
		               bad ? "." : "", bad ? bad : "", bad ? "base64 encoded" : "an object");
		return -1;
	}
	return 0;
}

static void fill_type(const sbx_resource *res, const char *ns, json_t *obj)
{
	json_object_set_new(obj, "kind", json_string(res->kind));
	json_object_set_new(obj, "apiVersion", json_string(res->group_version));
	if (res->namespaced)
		json_object_set_new(meta_of(obj), "namespace", json_string(ns));
	if (res->id == SBX_SECRETS) {
		merge_string_data(obj);
		if (!json_is_string(json_object_get(obj, "type")))
			json_object_set_new(obj, "type", json_string("Opaque"));
	}
	if (res->id == SBX_NAMESPACES && !json_object_get(obj, "status"))
		json_object_set_new(obj, "status", json_pack("{s:s}", "phase", "Active"));
}

/* Resolves metadata.name (generateName gets 5 random characters). */
static int object_name(const sbx_resource *res, json_t *obj, sbx_apierr *e)
{
	const char *name = meta_str(obj, "name");
	const char *gen = meta_str(obj, "generateName");
	if ((!name || !*name) && gen && *gen) {
		char suffix[6], full[300];
		sbx_random_suffix(suffix, 5);
		snprintf(full, sizeof full, "%s%s", gen, suffix);
		json_object_set_new(meta_of(obj), "name", json_string(full));
		name = meta_str(obj, "name");
	}
	if (!name || !*name) {
		sbx_apierr_set(e, 422, "Invalid", res, "",
		               "%s \"\" is invalid: metadata.name: Required value: name or "
		               "generateName is required",
		               res->kind);
		return -1;
	}
	return valid_name(name) ? 0 : invalid_name(e, res, name);
}

/* Writes a stored value with one etcd txn: only while the object's mod_revision is expect_rev (0 = absent)
 * and its namespace exists. 1 = written (*rev), 0 = the object changed meanwhile (namespace present),
 * -1 = error in e (404 NotFound for the namespace: the NamespaceLifecycle admission answer). */
static int write_guarded(const sbx_resource *res, const char *ns, const char *key, const rk_buf *stored,
                         int64_t expect_rev, int64_t *rev, sbx_apierr *e)
{
	rk_buf nskey = RK_BUF_INIT;
	if (res->namespaced)
		sbx_object_key(&sbx_resources[SBX_NAMESPACES], NULL, ns, &nskey);
	int ok = 0;
	rk_err err;
	int rc = sbx_etcd_put_guarded(key, stored->data, stored->len, expect_rev,
	                              res->namespaced ? rk_buf_cstr(&nskey) : NULL, &ok, rev, &err);
	rk_buf_free(&nskey);
	if (rc != RK_OK)
		return etcd_failed(e, &err);
	if (ok)
		return 1;
	return namespace_exists(res, ns, e) < 0 ? -1 : 0;
}

static int store_new(sbx_server *srv, const sbx_resource *res, const char *ns, const char *key, json_t *obj,
                     sbx_apierr *e)
{
	char *text = encode_object(res, obj);
	rk_buf stored = RK_BUF_INIT;
	sbx_config *cfg = sbx_config_acquire(srv);
	int rc = encrypt_value(cfg, res, key, text, &stored, e);
	sbx_config_release(srv, cfg);
	free(text);
	int64_t rev = 0;
	if (rc == 0 && (rc = write_guarded(res, ns, key, &stored, 0, &rev, e)) == 0) {
		const char *name = meta_str(obj, "name");
		sbx_apierr_set(e, 409, "AlreadyExists", res, name, "%s \"%s\" already exists", res->name,
		               name);
		rc = -1;
	} else if (rc == 1) {
		set_rv(obj, rev);
		rc = 0;
	}
	rk_buf_free(&stored);
	return rc;
}

int sbx_store_create(sbx_server *srv, const sbx_resource *res, const char *ns, json_t *body, json_t **out,
                     sbx_apierr *e)
{
	if (check_body(res, ns, body, e) < 0 || object_name(res, body, e) < 0)
		return -1;
	if (res->id == SBX_CRDS && sbx_crd_check(body, e) < 0)
		return -1;
	const char *rv = meta_str(body, "resourceVersion");
	if (rv && *rv) {
		sbx_apierr_set(e, 500, "InternalError", NULL, "",
		               "resourceVersion should not be set on objects to be "
		               "created");
		return -1;
	}
	json_t *obj = json_deep_copy(body);
	fill_type(res, ns, obj);
	json_t *meta = meta_of(obj);
	char uid[37], ts[40];
	sbx_uuid(uid);
	sbx_now_rfc3339(ts, 0);
	json_object_set_new(meta, "uid", json_string(uid));
	json_object_set_new(meta, "creationTimestamp", json_string(ts));
	json_object_del(meta, "generateName");
	rk_buf key = RK_BUF_INIT;
	sbx_object_key(res, ns, meta_str(obj, "name"), &key);
	int rc = store_new(srv, res, ns, rk_buf_cstr(&key), obj, e);
	rk_buf_free(&key);
	if (rc < 0)
		json_decref(obj);
	else
		*out = obj;
	return rc;
}

int sbx_store_ensure(sbx_server *srv, const sbx_resource *res, const char *ns, json_t *obj, sbx_apierr *e)
{
	json_t *out = NULL;
	int rc = sbx_store_create(srv, res, ns, obj, &out, e);
	json_decref(out);
	if (rc < 0 && e->code == 409)
		rc = 0;
	return rc;
}

/* ---- update (GuaranteedUpdate) ---- */

typedef json_t *(*mutate_fn)(json_t *current, void *ctx, sbx_apierr *e);

/* Server-managed fields come from the stored object; the resourceVersion of the new object, when set,
 * is a precondition (409 Conflict when stale). */
static int prepare_update(const sbx_resource *res, const char *ns, const char *name, json_t *cur, json_t *obj,
                          int64_t mod_rev, sbx_apierr *e)
{
	const char *rv = meta_str(obj, "resourceVersion");
	if (rv && *rv && strtoll(rv, NULL, 10) != mod_rev) {
		sbx_apierr_set(
		    e, 409, "Conflict", res, name,
		    "Operation cannot be fulfilled on %s%s%s \"%s\": the object has been modified; please "
		    "apply your changes to the latest version and try again",
		    res->name, *res->group ? "." : "", res->group, name);
		return -1;
	}
	fill_type(res, ns, obj);
	if (sbx_admission_update(res, name, cur, obj, e) < 0 ||
	    (res->id == SBX_CRDS && sbx_crd_check(obj, e) < 0))
		return -1;
	json_t *meta = meta_of(obj), *cmeta = meta_of(cur);
	static const char *const kept[] = {"uid", "creationTimestamp", "deletionTimestamp", "name"};
	for (size_t i = 0; i < sizeof kept / sizeof kept[0]; i++) {
		json_t *v = json_object_get(cmeta, kept[i]);
		if (v)
			json_object_set(meta, kept[i], v);
		else
			json_object_del(meta, kept[i]);
	}
	json_object_del(meta, "resourceVersion");
	return 0;
}

/* One attempt of GuaranteedUpdate on the stored state kv. 1 = done (*out), 0 = lost a race (retry),
 * -1 = error in e. */
static int update_attempt(sbx_server *srv, const sbx_resource *res, const char *ns, const char *name,
                          const rk_etcd_kv *kv, mutate_fn mutate, void *ctx, json_t **out, sbx_apierr *e)
{
	rk_buf plain = RK_BUF_INIT, stored = RK_BUF_INIT;
	json_t *cur = NULL, *obj = NULL;
	char *text = NULL;
	int stale = 0, rc = -1;
	int64_t rev = 0;
	sbx_config *cfg = sbx_config_acquire(srv);
	if (decode_value(cfg, res, kv, &plain, &stale, &cur, e) < 0 || !(obj = mutate(cur, ctx, e)) ||
	    prepare_update(res, ns, name, cur, obj, kv->mod_rev, e) < 0)
		goto done;
	text = encode_object(res, obj);
	if (!stale && strlen(text) == plain.len && !memcmp(text, plain.data, plain.len)) {
		/* no-op: nothing written, the stored resourceVersion comes back (admission still applies) */
		if (namespace_exists(res, ns, e) == 0) {
			*out = cur;
			cur = NULL;
			rc = 1;
		}
		goto done;
	}
	if (encrypt_value(cfg, res, (const char *)kv->key, text, &stored, e) < 0)
		goto done;
	rc = write_guarded(res, ns, (const char *)kv->key, &stored, kv->mod_rev, &rev, e);
	if (rc == 1) {
		set_rv(obj, rev);
		*out = obj;
		obj = NULL;
	}
done:
	sbx_config_release(srv, cfg);
	free(text);
	json_decref(cur);
	json_decref(obj);
	rk_buf_wipe_free(&plain);
	rk_buf_free(&stored);
	return rc;
}

static int guaranteed_update(sbx_server *srv, const sbx_resource *res, const char *ns, const char *name,
                             mutate_fn mutate, void *ctx, json_t **out, sbx_apierr *e)
{
	rk_buf key = RK_BUF_INIT;
	sbx_object_key(res, ns, name, &key);
	int rc = 0;
	for (int attempt = 0; attempt < UPDATE_RETRIES && rc == 0; attempt++) {
		rk_etcd_kv kv;
		int found = 0;
		rk_err err;
		if (sbx_etcd_get(rk_buf_cstr(&key), &kv, &found, &err) != RK_OK) {
			rc = etcd_failed(e, &err);
		} else if (!found) {
			not_found(e, res, name);
			rc = -1;
		} else {
			rc = update_attempt(srv, res, ns, name, &kv, mutate, ctx, out, e);
			rk_etcd_kv_free(&kv);
		}
	}
	rk_buf_free(&key);
	if (rc == 0) /* lost every race: retried on the fresh state as GuaranteedUpdate does, then gave up */
		sbx_apierr_set(e, 409, "Conflict", res, name, "too many concurrent updates of %s \"%s\"",
		               res->name, name);
	return rc == 1 ? 0 : -1;
}

struct put_ctx {
	const sbx_resource *res;
	const char *ns, *name;
	json_t *body;
};

static json_t *mutate_replace(json_t *cur, void *ctx, sbx_apierr *e)
{
	(void)cur;
	struct put_ctx *p = ctx;
	const char *bname = meta_str(p->body, "name");
	if (!bname || strcmp(bname, p->name)) {
		sbx_apierr_set(e, 400, "BadRequest", NULL, "",
		               "the name of the object (%s) does not match the name on "
		               "the URL (%s)",
		               bname ? bname : "", p->name);
		return NULL;
	}
	return json_deep_copy(p->body);
}

int sbx_store_update(sbx_server *srv, const sbx_resource *res, const char *ns, const char *name, json_t *body,
                     json_t **out, int *created, sbx_apierr *e)
{
	*created = 0;
	if (check_body(res, ns, body, e) < 0)
		return -1;
	struct put_ctx p = {res, ns, name, body};
	int rc = guaranteed_update(srv, res, ns, name, mutate_replace, &p, out, e);
	if (rc < 0 && e->code == 404 && e->res == res && res->id == SBX_LEASES) {
		/* leases allow create on update */
		rc = sbx_store_create(srv, res, ns, body, out, e);
		*created = rc == 0;
	}
	return rc;
}

struct patch_ctx {
	json_t *patch;
	sbx_patch_type type;
};

static json_t *mutate_patch(json_t *cur, void *ctx, sbx_apierr *e)
{
	struct patch_ctx *p = ctx;
	json_t *obj = sbx_apply_patch(cur, p->patch, p->type, e);
	if (obj && !json_is_object(obj)) {
		json_decref(obj);
		sbx_apierr_set(e, 400, "BadRequest", NULL, "", "the patch did not produce an object");
		return NULL;
	}
	return obj;
}

int sbx_store_patch(sbx_server *srv, const sbx_resource *res, const char *ns, const char *name, json_t *patch,
                    sbx_patch_type type, json_t **out, sbx_apierr *e)
{
	struct patch_ctx p = {patch, type};
	return guaranteed_update(srv, res, ns, name, mutate_patch, &p, out, e);
}

int sbx_store_delete(sbx_server *srv, const sbx_resource *res, const char *ns, const char *name, json_t **out,
                     sbx_apierr *e)
{
	for (int attempt = 0; attempt < UPDATE_RETRIES; attempt++) {
		json_t *cur = NULL;
		if (sbx_store_get(srv, res, ns, name, &cur, e) < 0)
			return -1;
		const char *rv = meta_str(cur, "resourceVersion");
		const char *uid = meta_str(cur, "uid");
		rk_buf key = RK_BUF_INIT;
		sbx_object_key(res, ns, name, &key);
		int ok = 0;
		rk_err err;
		int rc = sbx_etcd_delete_if(rk_buf_cstr(&key), strtoll(rv, NULL, 10), &ok, NULL, &err);
		rk_buf_free(&key);
		if (rc == RK_OK && ok) {
			*out = json_pack("{s:s,s:s,s:{},s:s,s:{s:s,s:s,s:s}}", "kind", "Status", "apiVersion",
			                 "v1", "metadata", "status", "Success", "details", "name", name,
			                 "kind", res->name, "uid", uid ? uid : "");
			if (*res->group) /* omitted when empty, as metav1.StatusDetails' omitempty does */
				json_object_set_new(json_object_get(*out, "details"), "group",
				                    json_string(res->group));
			json_decref(cur);
			return 0;
		}
		json_decref(cur);
		if (rc != RK_OK)
			return etcd_failed(e, &err);
	}
	sbx_apierr_set(e, 409, "Conflict", res, name, "too many concurrent updates of %s \"%s\"", res->name,
	               name);
	return -1;
}

int sbx_store_ping(sbx_server *srv)
{
	(void)srv; /* etcd.c keeps the calling thread's client */
	rk_etcd_range r;
	rk_err err;
	int rc = sbx_etcd_range("/registry/health", strlen("/registry/health"), NULL, 1, 0, 1, &r, &err);
	if (rc == RK_OK)
		rk_etcd_range_free(&r);
	return rc == RK_OK ? 0 : -1;
}
