/* etcdgw.c: the lifecycle half's client of etcd's JSON gateway (the /v3/kv endpoints): single
 * put/get/delete/count for mirror pods and checks, and a batched writer (many puts per txn, several txns in
 * flight with libcurl multi) for seeding. Keys and values travel base64-encoded, as the gateway wants. */
#include <curl/curl.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

#include "../sandbox.h"
#include "rekey/buf.h"

static int append_b64(rk_buf *out, const void *data, size_t len)
{
	if (rk_buf_reserve(out, 4 * ((len + 2) / 3) + 1))
		return -1;
	int n = EVP_EncodeBlock(out->data + out->len, data, (int)len);
	out->len += (size_t)n;
	out->data[out->len] = '\0';
	return 0;
}

static uint8_t *b64_decode(const char *text, size_t *len)
{
	size_t tlen = strlen(text);
	uint8_t *out = malloc(tlen / 4 * 3 + 4);
	int n = EVP_DecodeBlock(out, (const unsigned char *)text, (int)tlen);
	if (n < 0) {
		free(out);
		return NULL;
	}
	while (tlen > 0 && text[tlen - 1] == '=' && n > 0) {
		tlen--;
		n--;
	}
	*len = (size_t)n;
	return out;
}

static size_t collect(char *data, size_t size, size_t n, void *userp)
{
	return rk_buf_append(userp, data, size * n) ? 0 : size * n;
}

static CURL *gw_handle(const char *etcd_url, const char *api, const rk_buf *body, rk_buf *resp)
{
	CURL *curl = curl_easy_init();
	if (!curl)
		return NULL;
	char *url = lc_path("%s%s", etcd_url, api);
	curl_easy_setopt(curl, CURLOPT_URL, url);
	free(url);
	curl_easy_setopt(curl, CURLOPT_POSTFIELDS, (const char *)body->data);
	curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body->len);
	curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, collect);
	curl_easy_setopt(curl, CURLOPT_WRITEDATA, resp);
	curl_easy_setopt(curl, CURLOPT_TIMEOUT, 60L);
	curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(curl, CURLOPT_TCP_NODELAY, 1L);
	return curl;
}

/* POSTs body to the gateway; the parsed JSON answer in *out. */
static int gw_call(const char *etcd_url, const char *api, const rk_buf *body, json_t **out, rk_err *err)
{
	rk_buf resp = RK_BUF_INIT;
	CURL *curl = gw_handle(etcd_url, api, body, &resp);
	if (!curl)
		return rk_err_set(err, RK_FAIL, "curl: out of memory");
	CURLcode cc = curl_easy_perform(curl);
	long status = 0;
	curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
	curl_easy_cleanup(curl);
	int rc = RK_OK;
	if (cc != CURLE_OK)
		rc = rk_err_set(err, RK_FAIL, "etcd %s%s: %s", etcd_url, api, curl_easy_strerror(cc));
	else if (status != 200)
		rc = rk_err_set(err, RK_FAIL, "etcd %s%s: HTTP %ld: %.200s", etcd_url, api, status,
		                rk_buf_cstr(&resp));
	else if (out && !(*out = json_loadb((const char *)resp.data, resp.len, 0, NULL)))
		rc = rk_err_set(err, RK_FAIL, "etcd %s%s: answer is not JSON", etcd_url, api);
	rk_buf_free(&resp);
	return rc;
}

static void body_key(rk_buf *body, const char *field, const char *key)
{
	rk_buf_printf(body, "\"%s\":\"", field);
	append_b64(body, key, strlen(key));
	rk_buf_append_str(body, "\"");
}

int lc_etcd_put(const char *etcd_url, const char *key, const void *val, size_t len, rk_err *err)
{
	rk_buf body = RK_BUF_INIT;
	rk_buf_append_str(&body, "{");
	body_key(&body, "key", key);
	rk_buf_append_str(&body, ",\"value\":\"");
	append_b64(&body, val, len);
	rk_buf_append_str(&body, "\"}");
	int rc = gw_call(etcd_url, "/v3/kv/put", &body, NULL, err);
	rk_buf_free(&body);
	return rc;
}

int lc_etcd_create(const char *etcd_url, const char *key, const void *val, size_t len, int *created,
                   rk_err *err)
{
	rk_buf body = RK_BUF_INIT;
	rk_buf_append_str(&body, "{\"compare\":[{\"target\":\"CREATE\",\"result\":\"EQUAL\",");
	body_key(&body, "key", key);
	rk_buf_append_str(&body, ",\"create_revision\":\"0\"}],\"success\":[{\"request_put\":{");
	body_key(&body, "key", key);
	rk_buf_append_str(&body, ",\"value\":\"");
	append_b64(&body, val, len);
	rk_buf_append_str(&body, "\"}}]}");
	json_t *resp = NULL;
	int rc = gw_call(etcd_url, "/v3/kv/txn", &body, &resp, err);
	rk_buf_free(&body);
	if (rc == RK_OK)
		*created = json_is_true(json_object_get(resp, "succeeded")); /* absent when the key exists */
	json_decref(resp);
	return rc;
}

int lc_etcd_get(const char *etcd_url, const char *key, uint8_t **val, size_t *len, rk_err *err)
{
	rk_buf body = RK_BUF_INIT;
	rk_buf_append_str(&body, "{");
	body_key(&body, "key", key);
	rk_buf_append_str(&body, "}");
	json_t *resp = NULL;
	int rc = gw_call(etcd_url, "/v3/kv/range", &body, &resp, err);
	rk_buf_free(&body);
	if (rc)
		return rc;
	json_t *kv = json_array_get(json_object_get(resp, "kvs"), 0);
	const char *v64 = json_string_value(json_object_get(kv, "value"));
	*val = NULL;
	*len = 0;
	if (kv)
		*val = b64_decode(v64 ? v64 : "", len);
	json_decref(resp);
	return *val || !kv ? RK_OK : rk_err_set(err, RK_FAIL, "etcd: bad base64 value under %s", key);
}

int lc_etcd_delete(const char *etcd_url, const char *key, rk_err *err)
{
	rk_buf body = RK_BUF_INIT;
	rk_buf_append_str(&body, "{");
	body_key(&body, "key", key);
	rk_buf_append_str(&body, "}");
	int rc = gw_call(etcd_url, "/v3/kv/deleterange", &body, NULL, err);
	rk_buf_free(&body);
	return rc;
}

int lc_etcd_count(const char *etcd_url, const char *prefix, long *count, rk_err *err)
{
	size_t plen = strlen(prefix);
	char *end = strdup(prefix);
	end[plen - 1]++;
	rk_buf body = RK_BUF_INIT;
	rk_buf_append_str(&body, "{");
	body_key(&body, "key", prefix);
	rk_buf_append_str(&body, ",");
	body_key(&body, "range_end", end);
	rk_buf_append_str(&body, ",\"count_only\":true}");
	free(end);
	json_t *resp = NULL;
	int rc = gw_call(etcd_url, "/v3/kv/range", &body, &resp, err);
	rk_buf_free(&body);
	if (rc)
		return rc;
	const char *n = json_string_value(json_object_get(resp, "count")); /* int64 as string; absent = 0 */
	*count = n ? strtol(n, NULL, 10) : 0;
	json_decref(resp);
	return RK_OK;
}

int lc_etcd_healthy(const char *etcd_url)
{
	rk_buf body = RK_BUF_INIT;
	rk_buf_append_str(&body, "{");
	body_key(&body, "key", "/rekey-sandbox/health");
	rk_buf_append_str(&body, "}");
	json_t *resp = NULL;
	rk_err err;
	int rc = gw_call(etcd_url, "/v3/kv/range", &body, &resp, &err);
	rk_buf_free(&body);
	int ok = rc == RK_OK && json_object_get(resp, "header") != NULL;
	json_decref(resp);
	return ok;
}

/* ---- batched writer ---- */

#define BATCH_MAX_BYTES (4u << 20)

typedef struct batch_slot {
	CURL *curl;
	rk_buf body, resp;
	long puts;
} batch_slot;

struct lc_etcd_batch {
	char etcd_url[128];
	int per_txn, parallel;
	CURLM *multi;
	batch_slot *slots;
	rk_buf pending;
	long pending_puts, written;
	rk_err first_err;
};

lc_etcd_batch *lc_etcd_batch_new(const char *etcd_url, int per_txn, int parallel)
{
	lc_etcd_batch *b = calloc(1, sizeof *b);
	snprintf(b->etcd_url, sizeof b->etcd_url, "%s", etcd_url);
	b->per_txn = per_txn;
	b->parallel = parallel;
	b->multi = curl_multi_init();
	b->slots = calloc((size_t)parallel, sizeof *b->slots);
	return b;
}

static void slot_done(lc_etcd_batch *b, batch_slot *s, CURLcode cc)
{
	long status = 0;
	curl_easy_getinfo(s->curl, CURLINFO_RESPONSE_CODE, &status);
	int ok = cc == CURLE_OK && status == 200 && strstr(rk_buf_cstr(&s->resp), "\"succeeded\":true");
	if (ok)
		b->written += s->puts;
	else if (b->first_err.code == RK_OK)
		rk_err_set(&b->first_err, RK_FAIL, "etcd txn of %ld puts failed: %s HTTP %ld %.200s", s->puts,
		           curl_easy_strerror(cc), status, rk_buf_cstr(&s->resp));
	curl_multi_remove_handle(b->multi, s->curl);
	curl_easy_cleanup(s->curl);
	s->curl = NULL;
	rk_buf_free(&s->body);
	rk_buf_free(&s->resp);
}

/* Moves the transfers along without waiting (uploads only progress inside curl_multi_perform) and
 * collects the finished ones; returns how many are still in flight. */
static int batch_pump(lc_etcd_batch *b)
{
	int running = 0;
	curl_multi_perform(b->multi, &running);
	CURLMsg *msg;
	int left;
	while ((msg = curl_multi_info_read(b->multi, &left))) {
		if (msg->msg != CURLMSG_DONE)
			continue;
		CURL *done = msg->easy_handle; /* msg lives in the handle: copy before freeing it */
		CURLcode result = msg->data.result;
		for (int i = 0; i < b->parallel; i++)
			if (b->slots[i].curl == done)
				slot_done(b, &b->slots[i], result);
	}
	int busy = 0;
	for (int i = 0; i < b->parallel; i++)
		busy += b->slots[i].curl != NULL;
	return busy;
}

/* Drives the transfers until at least one slot is free (or all are, when `all`). */
static void batch_drive(lc_etcd_batch *b, int all)
{
	for (;;) {
		int busy = batch_pump(b);
		if (busy == 0 || (!all && busy < b->parallel))
			return;
		curl_multi_poll(b->multi, NULL, 0, 100, NULL);
	}
}

static void batch_submit(lc_etcd_batch *b)
{
	if (b->pending_puts == 0)
		return;
	batch_drive(b, 0);
	batch_slot *s = NULL;
	for (int i = 0; i < b->parallel && !s; i++)
		if (!b->slots[i].curl)
			s = &b->slots[i];
	rk_buf_append_str(&b->pending, "]}");
	s->body = b->pending;
	s->puts = b->pending_puts;
	b->pending = (rk_buf)RK_BUF_INIT;
	b->pending_puts = 0;
	s->curl = gw_handle(b->etcd_url, "/v3/kv/txn", &s->body, &s->resp);
	curl_multi_add_handle(b->multi, s->curl);
}

int lc_etcd_batch_put(lc_etcd_batch *b, const char *key, const void *val, size_t len, rk_err *err)
{
	rk_buf *p = &b->pending;
	rk_buf_append_str(p, b->pending_puts ? ",{\"request_put\":{" : "{\"success\":[{\"request_put\":{");
	body_key(p, "key", key);
	rk_buf_append_str(p, ",\"value\":\"");
	if (append_b64(p, val, len) || rk_buf_append_str(p, "\"}}"))
		return rk_err_set(err, RK_FAIL, "out of memory");
	if (++b->pending_puts >= b->per_txn || p->len >= BATCH_MAX_BYTES)
		batch_submit(b);
	else if (b->pending_puts % 32 == 0)
		batch_pump(b); /* keep the txns in flight moving while the next one is built */
	if (b->first_err.code != RK_OK) {
		*err = b->first_err;
		return err->code;
	}
	return RK_OK;
}

int lc_etcd_batch_finish(lc_etcd_batch *b, long *written, rk_err *err)
{
	batch_submit(b);
	batch_drive(b, 1);
	int rc = b->first_err.code;
	if (rc != RK_OK)
		*err = b->first_err;
	if (written)
		*written = b->written;
	rk_buf_free(&b->pending);
	curl_multi_cleanup(b->multi);
	free(b->slots);
	free(b);
	return rc;
}

json_t *lc_mirror_pod(const char *etcd_url, const char *node)
{
	char *key = lc_path("/registry/pods/kube-system/kube-apiserver-%s", node);
	uint8_t *val = NULL;
	size_t len = 0;
	rk_err err;
	json_t *pod = NULL;
	if (lc_etcd_get(etcd_url, key, &val, &len, &err) == RK_OK && val)
		pod = json_loadb((const char *)val, len, 0, NULL);
	free(val);
	free(key);
	return pod;
}
