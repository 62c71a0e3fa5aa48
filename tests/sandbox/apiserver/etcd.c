/* etcd.c: etcd v3 JSON gateway client (see etcd.h): requests built and parsed with jansson, sent with
 * one keep-alive curl handle per thread. */
#include "etcd.h"

#include <curl/curl.h>
#include <jansson.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "apiserver_util.h"
#include "rekey/buf.h"

struct sbx_etcd {
	char *base; /* without trailing slash */
	long timeout_ms;
};

static pthread_key_t curl_key;
static pthread_once_t curl_once = PTHREAD_ONCE_INIT;

static void curl_handle_free(void *h)
{
	curl_easy_cleanup((CURL *)h);
}

static void curl_setup_once(void)
{
	curl_global_init(CURL_GLOBAL_DEFAULT);
	pthread_key_create(&curl_key, curl_handle_free);
}

static CURL *thread_curl(void)
{
	CURL *h = pthread_getspecific(curl_key);
	if (!h) {
		h = curl_easy_init();
		pthread_setspecific(curl_key, h);
	}
	return h;
}

void sbx_etcd_thread_done(void)
{
	pthread_once(&curl_once, curl_setup_once);
	CURL *h = pthread_getspecific(curl_key);
	if (h) {
		curl_easy_cleanup(h);
		pthread_setspecific(curl_key, NULL);
	}
}

int sbx_etcd_open(const char *url, long timeout_ms, sbx_etcd **out, rk_err *err)
{
	pthread_once(&curl_once, curl_setup_once);
	if (strncmp(url, "http://", 7) != 0)
		return rk_err_set(err, RK_BADINPUT, "etcd URL %s: only http:// loopback URLs are supported",
		                  url);
	sbx_etcd *e = calloc(1, sizeof *e);
	if (!e || !(e->base = strdup(url))) {
		free(e);
		return rk_err_set(err, RK_FAIL, "out of memory");
	}
	size_t n = strlen(e->base);
	while (n > 0 && e->base[n - 1] == '/')
		e->base[--n] = 0;
	e->timeout_ms = timeout_ms > 0 ? timeout_ms : 10000;
	*out = e;
	return RK_OK;
}

void sbx_etcd_close(sbx_etcd *etcd)
{
	if (!etcd)
		return;
	free(etcd->base);
	free(etcd);
}

static size_t collect(char *ptr, size_t size, size_t nmemb, void *userdata)
{
	rk_buf *b = userdata;
	return rk_buf_append(b, ptr, size * nmemb) == 0 ? size * nmemb : 0;
}

/* POSTs body to base + path; *resp = parsed reply. Gateway errors ({"error": ..}) become RK_FAIL or
 * SBX_ETCD_COMPACTED. */
static int post(sbx_etcd *etcd, const char *path, json_t *body, json_t **resp, rk_err *err)
{
	CURL *h = thread_curl();
	if (!h)
		return rk_err_set(err, RK_FAIL, "etcd: curl_easy_init failed");
	char url[1024];
	snprintf(url, sizeof url, "%s%s", etcd->base, path);
	char *text = json_dumps(body, JSON_COMPACT);
	if (!text)
		return rk_err_set(err, RK_FAIL, "out of memory");
	rk_buf reply = RK_BUF_INIT;
	struct curl_slist *hdrs = curl_slist_append(NULL, "Content-Type: application/json");
	curl_easy_reset(h);
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_POSTFIELDS, text);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, collect);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &reply);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, etcd->timeout_ms);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_TCP_NODELAY, 1L);
	CURLcode cc = curl_easy_perform(h);
	long status = 0;
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
	curl_slist_free_all(hdrs);
	free(text);
	int rc = RK_OK;
	if (cc != CURLE_OK) {
		rc = rk_err_set(err, RK_FAIL, "etcd %s: %s", path, curl_easy_strerror(cc));
	} else {
		json_error_t jerr;
		*resp = json_loadb((const char *)reply.data, reply.len, 0, &jerr);
		json_t *msg = *resp ? json_object_get(*resp, "error") : NULL;
		if (!msg && *resp)
			msg = json_object_get(*resp, "message");
		if (!*resp || status != 200 || json_object_get(*resp, "error")) {
			const char *m = json_is_string(msg) ? json_string_value(msg) : rk_buf_cstr(&reply);
			rc = strstr(m, "compacted") ? SBX_ETCD_COMPACTED : RK_FAIL;
			rk_err_set(err, RK_FAIL, "etcd %s: HTTP %ld: %.300s", path, status, m);
			json_decref(*resp);
			*resp = NULL;
		}
	}
	rk_buf_free(&reply);
	return rc;
}

static json_t *b64_json(const void *data, size_t len)
{
	rk_buf b = RK_BUF_INIT;
	if (sbx_b64_encode(data, len, 0, &b) < 0)
		return NULL;
	json_t *s = json_stringn((const char *)rk_buf_cstr(&b), b.len);
	rk_buf_free(&b);
	return s;
}

static int64_t int64_field(json_t *obj, const char *name)
{
	json_t *v = json_object_get(obj, name);
	if (json_is_string(v))
		return strtoll(json_string_value(v), NULL, 10);
	if (json_is_integer(v))
		return (int64_t)json_integer_value(v);
	return 0;
}

static json_t *int64_json(int64_t v)
{
	char s[32];
	snprintf(s, sizeof s, "%lld", (long long)v);
	return json_string(s);
}

static int b64_field(json_t *obj, const char *name, uint8_t **data, size_t *len)
{
	json_t *v = json_object_get(obj, name);
	rk_buf b = RK_BUF_INIT;
	rk_buf_reserve(&b, 1);
	if (json_is_string(v) && sbx_b64_decode(json_string_value(v), json_string_length(v), 0, &b) < 0) {
		rk_buf_free(&b);
		return -1;
	}
	*len = b.len;
	*data = (uint8_t *)rk_buf_steal(&b);
	return 0;
}

static int parse_kv(json_t *j, sbx_kv *kv)
{
	memset(kv, 0, sizeof *kv);
	uint8_t *key = NULL;
	if (b64_field(j, "key", &key, &kv->key_len) < 0 ||
	    b64_field(j, "value", &kv->value, &kv->value_len) < 0) {
		free(key);
		free(kv->value);
		return -1;
	}
	kv->key = (char *)key;
	kv->create_rev = int64_field(j, "create_revision");
	kv->mod_rev = int64_field(j, "mod_revision");
	kv->version = int64_field(j, "version");
	return 0;
}

void sbx_kv_free(sbx_kv *kv)
{
	if (!kv)
		return;
	free(kv->key);
	free(kv->value);
	memset(kv, 0, sizeof *kv);
}

void sbx_range_free(sbx_range *r)
{
	if (!r)
		return;
	for (size_t i = 0; i < r->n; i++)
		sbx_kv_free(&r->kvs[i]);
	free(r->kvs);
	memset(r, 0, sizeof *r);
}

char *sbx_prefix_end(const char *prefix)
{
	char *end = strdup(prefix);
	if (!end)
		return NULL;
	size_t n = strlen(end);
	while (n > 0) {
		unsigned char c = (unsigned char)end[n - 1];
		if (c < 0xff) {
			end[n - 1] = (char)(c + 1);
			end[n] = 0;
			return end;
		}
		n--;
	}
	end[0] = 0; /* "\0" means "to the end of the key space" in etcd */
	return end;
}

static int parse_range(json_t *resp, sbx_range *out, rk_err *err)
{
	json_t *kvs = json_object_get(resp, "kvs");
	size_t n = json_is_array(kvs) ? json_array_size(kvs) : 0;
	out->kvs = n ? calloc(n, sizeof *out->kvs) : NULL;
	if (n && !out->kvs)
		return rk_err_set(err, RK_FAIL, "out of memory");
	for (size_t i = 0; i < n; i++) {
		if (parse_kv(json_array_get(kvs, i), &out->kvs[i]) < 0) {
			sbx_range_free(out);
			return rk_err_set(err, RK_FAIL, "etcd range: bad base64 in reply");
		}
		out->n = i + 1;
	}
	out->more = json_is_true(json_object_get(resp, "more"));
	out->count = int64_field(resp, "count");
	out->revision = int64_field(json_object_get(resp, "header"), "revision");
	return RK_OK;
}

int sbx_etcd_range(sbx_etcd *etcd, const char *key, const char *range_end, int64_t limit, int64_t revision,
                   int keys_only, sbx_range *out, rk_err *err)
{
	return sbx_etcd_range_n(etcd, key, strlen(key), range_end, limit, revision, keys_only, out, err);
}

int sbx_etcd_range_n(sbx_etcd *etcd, const char *key, size_t key_len, const char *range_end, int64_t limit,
                     int64_t revision, int keys_only, sbx_range *out, rk_err *err)
{
	memset(out, 0, sizeof *out);
	json_t *req = json_object();
	json_object_set_new(req, "key", b64_json(key, key_len));
	if (range_end)
		json_object_set_new(req, "range_end",
		                    b64_json(range_end, *range_end ? strlen(range_end) : 1));
	if (limit > 0)
		json_object_set_new(req, "limit", int64_json(limit));
	if (revision > 0)
		json_object_set_new(req, "revision", int64_json(revision));
	if (keys_only)
		json_object_set_new(req, "keys_only", json_true());
	json_t *resp = NULL;
	int rc = post(etcd, "/v3/kv/range", req, &resp, err);
	json_decref(req);
	if (rc == RK_OK)
		rc = parse_range(resp, out, err);
	json_decref(resp);
	return rc;
}

int sbx_etcd_get(sbx_etcd *etcd, const char *key, sbx_kv *kv, int *found, rk_err *err)
{
	sbx_range r;
	memset(kv, 0, sizeof *kv);
	*found = 0;
	int rc = sbx_etcd_range(etcd, key, NULL, 0, 0, 0, &r, err);
	if (rc != RK_OK)
		return rc;
	if (r.n > 0) {
		*kv = r.kvs[0];
		memset(&r.kvs[0], 0, sizeof r.kvs[0]);
		*found = 1;
	}
	sbx_range_free(&r);
	return RK_OK;
}

int sbx_etcd_put(sbx_etcd *etcd, const char *key, const uint8_t *value, size_t len, int64_t *revision,
                 rk_err *err)
{
	json_t *req = json_object();
	json_object_set_new(req, "key", b64_json(key, strlen(key)));
	json_object_set_new(req, "value", b64_json(value, len));
	json_t *resp = NULL;
	int rc = post(etcd, "/v3/kv/put", req, &resp, err);
	json_decref(req);
	if (rc == RK_OK && revision)
		*revision = int64_field(json_object_get(resp, "header"), "revision");
	json_decref(resp);
	return rc;
}

static json_t *compare(const char *target, const char *result, const char *key, const char *field, int64_t v)
{
	return json_pack("{s:s,s:s,s:o,s:o}", "target", target, "result", result, "key",
	                 b64_json(key, strlen(key)), field, int64_json(v));
}

/* A txn whose compare is MOD(key) == expect (expect < 0: none) and, with a guard key, that the guard
 * key exists (CREATE(guard) > 0); its success branch is `op`. */
static int txn_if_mod(sbx_etcd *etcd, const char *key, int64_t expect, const char *guard, json_t *op, int *ok,
                      int64_t *revision, rk_err *err)
{
	json_t *req = json_object(), *cmps = json_array();
	if (expect >= 0)
		json_array_append_new(cmps, compare("MOD", "EQUAL", key, "mod_revision", expect));
	if (guard)
		json_array_append_new(cmps, compare("CREATE", "GREATER", guard, "create_revision", 0));
	json_object_set_new(req, "compare", cmps);
	json_object_set_new(req, "success", json_pack("[o]", op));
	json_t *resp = NULL;
	int rc = post(etcd, "/v3/kv/txn", req, &resp, err);
	json_decref(req);
	if (rc == RK_OK) {
		*ok = json_is_true(json_object_get(resp, "succeeded"));
		if (revision)
			*revision = int64_field(json_object_get(resp, "header"), "revision");
	}
	json_decref(resp);
	return rc;
}

int sbx_etcd_put_if(sbx_etcd *etcd, const char *key, const uint8_t *value, size_t len, int64_t expect_mod_rev,
                    int *ok, int64_t *revision, rk_err *err)
{
	return sbx_etcd_put_guarded(etcd, key, value, len, expect_mod_rev, NULL, ok, revision, err);
}

int sbx_etcd_put_guarded(sbx_etcd *etcd, const char *key, const uint8_t *value, size_t len,
                         int64_t expect_mod_rev, const char *guard_key, int *ok, int64_t *revision,
                         rk_err *err)
{
	json_t *put = json_object();
	json_object_set_new(put, "key", b64_json(key, strlen(key)));
	json_object_set_new(put, "value", b64_json(value, len));
	return txn_if_mod(etcd, key, expect_mod_rev, guard_key, json_pack("{s:o}", "request_put", put), ok,
	                  revision, err);
}

int sbx_etcd_delete_if(sbx_etcd *etcd, const char *key, int64_t expect_mod_rev, int *ok, int64_t *revision,
                       rk_err *err)
{
	json_t *del = json_object();
	json_object_set_new(del, "key", b64_json(key, strlen(key)));
	return txn_if_mod(etcd, key, expect_mod_rev, NULL, json_pack("{s:o}", "request_delete_range", del),
	                  ok, revision, err);
}

int sbx_etcd_compact(sbx_etcd *etcd, int64_t revision, rk_err *err)
{
	json_t *req = json_object();
	json_object_set_new(req, "revision", int64_json(revision));
	json_object_set_new(req, "physical", json_true());
	json_t *resp = NULL;
	int rc = post(etcd, "/v3/kv/compaction", req, &resp, err);
	json_decref(req);
	json_decref(resp);
	return rc;
}
