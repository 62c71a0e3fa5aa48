/* etcdgw.c: the etcd v3 JSON gateway client (see include/rekey/etcdgw.h): requests built and read with
 * jansson, keys and values base64-coded with rekey/base64.h, sent on one keep-alive curl handle. */
#include "rekey/etcdgw.h"

#include <curl/curl.h>
#include <jansson.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rekey/base64.h"

#define MAX_REPLY (256u << 20)

struct rk_etcdgw {
	char base[1024]; /* URL without a trailing slash */
	char shown[1040];
	CURL *curl;
	struct curl_slist *headers;
	rk_buf reply;
};

static size_t collect(char *p, size_t size, size_t n, void *ud)
{
	rk_buf *reply = ud;
	if (reply->len + size * n > MAX_REPLY || rk_buf_append(reply, p, size * n) != 0)
		return 0;
	return size * n;
}

static void setup_handle(rk_etcdgw *gw, const rk_etcdgw_opts *o)
{
	CURL *h = gw->curl;
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, collect);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &gw->reply);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, 10000L);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, o->timeout_ms > 0 ? o->timeout_ms : 120000L);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_TCP_NODELAY, 1L);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	if (o->cacert)
		curl_easy_setopt(h, CURLOPT_CAINFO, o->cacert);
	if (o->cert)
		curl_easy_setopt(h, CURLOPT_SSLCERT, o->cert);
	if (o->key)
		curl_easy_setopt(h, CURLOPT_SSLKEY, o->key);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, gw->headers);
}

int rk_etcdgw_open(const rk_etcdgw_opts *opts, rk_etcdgw **out, rk_err *err)
{
	*out = NULL;
	const char *url = opts->url ? opts->url : "";
	if (strncmp(url, "http://", 7) && strncmp(url, "https://", 8))
		return rk_err_set(err, RK_BADINPUT, "etcd %s: want an http:// or https:// URL", url);
	size_t n = strlen(url);
	while (n && url[n - 1] == '/')
		n--;
	rk_etcdgw *gw = calloc(1, sizeof *gw);
	if (!gw)
		return rk_err_set(err, RK_FAIL, "out of memory");
	if (n + sizeof "/v3/kv/deleterange" > sizeof gw->base) {
		free(gw);
		return rk_err_set(err, RK_BADINPUT, "etcd URL too long");
	}
	snprintf(gw->base, sizeof gw->base, "%.*s", (int)n, url);
	snprintf(gw->shown, sizeof gw->shown, "%s/v3/kv", gw->base);
	gw->curl = curl_easy_init();
	gw->headers = curl_slist_append(NULL, "Content-Type: application/json");
	if (!gw->curl || !gw->headers) {
		rk_etcdgw_close(gw);
		return rk_err_set(err, RK_FAIL, "libcurl: cannot create a handle");
	}
	setup_handle(gw, opts);
	rk_buf_set_secret(&gw->reply); /* values: plaintext under identity */
	*out = gw;
	return RK_OK;
}

void rk_etcdgw_close(rk_etcdgw *gw)
{
	if (!gw)
		return;
	if (gw->curl)
		curl_easy_cleanup(gw->curl);
	curl_slist_free_all(gw->headers);
	rk_buf_wipe_free(&gw->reply);
	free(gw);
}

const char *rk_etcdgw_url(const rk_etcdgw *gw)
{
	return gw->shown;
}

/* The gateway's error text of a reply ({"error": ..} or {"message": ..}), else the raw reply. */
static const char *reply_error(json_t *reply, const rk_buf *raw)
{
	const char *msg = json_string_value(json_object_get(reply, "message"));
	if (!msg)
		msg = json_string_value(json_object_get(reply, "error"));
	return msg ? msg : rk_buf_cstr(raw);
}

/* POSTs body to base + api; *reply = the parsed answer. Gateway errors become RK_FAIL, or
 * RK_ETCD_COMPACTED when the revision asked for is gone. */
static int post(rk_etcdgw *gw, const char *api, json_t *body, json_t **reply, rk_err *err)
{
	*reply = NULL;
	char url[1100];
	snprintf(url, sizeof url, "%s%s", gw->base, api);
	char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
	if (!text)
		return rk_err_set(err, RK_FAIL, "out of memory");
	rk_buf_reset(&gw->reply);
	curl_easy_setopt(gw->curl, CURLOPT_URL, url);
	curl_easy_setopt(gw->curl, CURLOPT_POSTFIELDS, text);
	CURLcode cc = curl_easy_perform(gw->curl);
	free(text);
	long status = 0;
	curl_easy_getinfo(gw->curl, CURLINFO_RESPONSE_CODE, &status);
	if (cc != CURLE_OK)
		return rk_err_set(err, RK_FAIL, "%s: %s", url, curl_easy_strerror(cc));
	json_error_t jerr;
	*reply = json_loadb((const char *)gw->reply.data, gw->reply.len, 0, &jerr);
	if (status == 200 && *reply && !json_object_get(*reply, "error"))
		return RK_OK;
	if (status == 200 && !*reply)
		return rk_err_set(err, RK_FAIL, "%s: reply is not JSON: %s", url, jerr.text);
	const char *msg = reply_error(*reply, &gw->reply);
	int compacted = strstr(msg, "compacted") != NULL;
	rk_err_set(err, RK_FAIL, "%s: HTTP %ld: %.300s", url, status, msg);
	json_decref(*reply);
	*reply = NULL;
	return compacted ? RK_ETCD_COMPACTED : RK_FAIL;
}

static json_t *b64_json(const void *data, size_t len)
{
	rk_buf b = RK_BUF_INIT;
	json_t *s =
	    rk_b64_encode(data, len, RK_B64_STD, &b) == 0 ? json_stringn(rk_buf_cstr(&b), b.len) : NULL;
	rk_buf_free(&b);
	return s;
}

static json_t *int64_json(int64_t v)
{
	char s[32];
	snprintf(s, sizeof s, "%lld", (long long)v);
	return json_string(s);
}

static int64_t int64_field(json_t *obj, const char *name)
{
	json_t *v = json_object_get(obj, name);
	if (json_is_string(v))
		return strtoll(json_string_value(v), NULL, 10);
	return json_is_integer(v) ? (int64_t)json_integer_value(v) : 0;
}

/* A base64 field into a malloc'd NUL-terminated copy; absent = empty. -1 when not base64. */
static int b64_field(json_t *obj, const char *name, uint8_t **data, size_t *len)
{
	json_t *v = json_object_get(obj, name);
	rk_buf b = RK_BUF_SECRET;
	if (rk_buf_reserve(&b, 1) != 0 ||
	    (json_is_string(v) &&
	     rk_b64_decode(json_string_value(v), json_string_length(v), RK_B64_STD, &b) != 0)) {
		rk_buf_wipe_free(&b);
		return -1;
	}
	*len = b.len;
	*data = (uint8_t *)rk_buf_steal(&b);
	return 0;
}

void rk_etcd_kv_free(rk_etcd_kv *kv)
{
	if (!kv)
		return;
	free(kv->key);
	if (kv->value)
		OPENSSL_cleanse(kv->value, kv->value_len);
	free(kv->value);
	memset(kv, 0, sizeof *kv);
}

void rk_etcd_range_free(rk_etcd_range *r)
{
	if (!r)
		return;
	for (size_t i = 0; i < r->n; i++)
		rk_etcd_kv_free(&r->kvs[i]);
	free(r->kvs);
	memset(r, 0, sizeof *r);
}

static int parse_kv(json_t *j, rk_etcd_kv *kv)
{
	memset(kv, 0, sizeof *kv);
	if (b64_field(j, "key", &kv->key, &kv->key_len) < 0 ||
	    b64_field(j, "value", &kv->value, &kv->value_len) < 0) {
		rk_etcd_kv_free(kv);
		return -1;
	}
	kv->create_rev = int64_field(j, "create_revision");
	kv->mod_rev = int64_field(j, "mod_revision");
	kv->version = int64_field(j, "version");
	return 0;
}

static int parse_range(rk_etcdgw *gw, json_t *reply, rk_etcd_range *out, rk_err *err)
{
	json_t *kvs = json_object_get(reply, "kvs");
	size_t n = json_is_array(kvs) ? json_array_size(kvs) : 0;
	out->kvs = n ? calloc(n, sizeof *out->kvs) : NULL;
	if (n && !out->kvs)
		return rk_err_set(err, RK_FAIL, "out of memory");
	for (size_t i = 0; i < n; i++) {
		if (parse_kv(json_array_get(kvs, i), &out->kvs[i]) < 0) {
			rk_etcd_range_free(out);
			return rk_err_set(err, RK_FAIL, "%s/range: a key or value is not base64", gw->shown);
		}
		out->n = i + 1;
	}
	out->more = json_is_true(json_object_get(reply, "more"));
	out->count = int64_field(reply, "count");
	out->revision = int64_field(json_object_get(reply, "header"), "revision");
	out->reply_bytes = gw->reply.len;
	return RK_OK;
}

int rk_etcdgw_range(rk_etcdgw *gw, const rk_etcd_range_req *req, rk_etcd_range *out, rk_err *err)
{
	memset(out, 0, sizeof *out);
	json_t *body = json_object();
	json_object_set_new(body, "key", b64_json(req->key, req->key_len));
	if (req->range_end)
		json_object_set_new(body, "range_end", b64_json(req->range_end, req->range_end_len));
	if (req->limit > 0)
		json_object_set_new(body, "limit", int64_json(req->limit));
	if (req->revision > 0)
		json_object_set_new(body, "revision", int64_json(req->revision));
	if (req->keys_only)
		json_object_set_new(body, "keys_only", json_true());
	if (req->count_only)
		json_object_set_new(body, "count_only", json_true());
	json_t *reply = NULL;
	int rc = post(gw, "/v3/kv/range", body, &reply, err);
	json_decref(body);
	if (rc == RK_OK)
		rc = parse_range(gw, reply, out, err);
	json_decref(reply);
	return rc;
}

int rk_etcd_prefix_end(const void *prefix, size_t len, rk_buf *end)
{
	rk_buf_reset(end);
	if (rk_buf_append(end, prefix, len) != 0)
		return -1;
	while (end->len && end->data[end->len - 1] == 0xff)
		end->len--;
	if (end->len == 0)
		return rk_buf_append(end, "", 1); /* "\0": to the end of the key space */
	end->data[end->len - 1]++;
	end->data[end->len] = '\0';
	return 0;
}

int rk_etcdgw_get(rk_etcdgw *gw, const char *key, rk_etcd_kv *kv, int *found, rk_err *err)
{
	rk_etcd_range r;
	rk_etcd_range_req req = {.key = key, .key_len = strlen(key)};
	memset(kv, 0, sizeof *kv);
	*found = 0;
	int rc = rk_etcdgw_range(gw, &req, &r, err);
	if (rc != RK_OK)
		return rc;
	if (r.n > 0) {
		*kv = r.kvs[0];
		memset(&r.kvs[0], 0, sizeof r.kvs[0]);
		*found = 1;
	}
	rk_etcd_range_free(&r);
	return RK_OK;
}

static json_t *put_op(const char *key, const void *value, size_t len)
{
	return json_pack("{s:o*,s:o*}", "key", b64_json(key, strlen(key)), "value", b64_json(value, len));
}

int rk_etcdgw_put(rk_etcdgw *gw, const char *key, const void *value, size_t len, int64_t *revision,
                  rk_err *err)
{
	json_t *body = put_op(key, value, len), *reply = NULL;
	int rc = post(gw, "/v3/kv/put", body, &reply, err);
	json_decref(body);
	if (rc == RK_OK && revision)
		*revision = int64_field(json_object_get(reply, "header"), "revision");
	json_decref(reply);
	return rc;
}

static json_t *compare(const char *target, const char *result, const char *key, const char *field, int64_t v)
{
	return json_pack("{s:s,s:s,s:o*,s:o}", "target", target, "result", result, "key",
	                 b64_json(key, strlen(key)), field, int64_json(v));
}

/* A txn of `ops` (an array, taken) under the compares (an array, taken); *ok = succeeded. */
static int txn(rk_etcdgw *gw, json_t *compares, json_t *ops, int *ok, int64_t *revision, rk_err *err)
{
	json_t *body = json_pack("{s:o,s:o}", "compare", compares, "success", ops), *reply = NULL;
	int rc = post(gw, "/v3/kv/txn", body, &reply, err);
	json_decref(body);
	if (rc == RK_OK) {
		*ok = json_is_true(json_object_get(reply, "succeeded")); /* absent when it failed */
		if (revision)
			*revision = int64_field(json_object_get(reply, "header"), "revision");
	}
	json_decref(reply);
	return rc;
}

/* MOD(key) == expect (expect < 0: none) and, with a guard key, CREATE(guard) > 0. */
static json_t *conditions(const char *key, int64_t expect, const char *guard)
{
	json_t *cmps = json_array();
	if (expect >= 0)
		json_array_append_new(cmps, compare("MOD", "EQUAL", key, "mod_revision", expect));
	if (guard)
		json_array_append_new(cmps, compare("CREATE", "GREATER", guard, "create_revision", 0));
	return cmps;
}

int rk_etcdgw_put_if(rk_etcdgw *gw, const char *key, const void *value, size_t len, int64_t expect_mod_rev,
                     const char *guard_key, int *ok, int64_t *revision, rk_err *err)
{
	json_t *ops = json_pack("[{s:o}]", "request_put", put_op(key, value, len));
	return txn(gw, conditions(key, expect_mod_rev, guard_key), ops, ok, revision, err);
}

int rk_etcdgw_delete_if(rk_etcdgw *gw, const char *key, int64_t expect_mod_rev, int *ok, int64_t *revision,
                        rk_err *err)
{
	json_t *ops = json_pack("[{s:{s:o*}}]", "request_delete_range", "key", b64_json(key, strlen(key)));
	return txn(gw, conditions(key, expect_mod_rev, NULL), ops, ok, revision, err);
}

int rk_etcdgw_compact(rk_etcdgw *gw, int64_t revision, rk_err *err)
{
	json_t *body = json_pack("{s:o,s:b}", "revision", int64_json(revision), "physical", 1), *reply = NULL;
	int rc = post(gw, "/v3/kv/compaction", body, &reply, err);
	json_decref(body);
	json_decref(reply);
	return rc;
}

int rk_etcdgw_put_many(rk_etcdgw *gw, const rk_etcd_put *puts, size_t n, rk_err *err)
{
	json_t *ops = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(
		    ops, json_pack("{s:o}", "request_put", put_op(puts[i].key, puts[i].value, puts[i].len)));
	int ok = 0;
	int rc = txn(gw, json_array(), ops, &ok, NULL, err);
	if (rc == RK_OK && !ok)
		rc = rk_err_set(err, RK_FAIL, "%s/txn: a txn of %zu puts did not succeed", gw->shown, n);
	return rc;
}
