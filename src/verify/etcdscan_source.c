/* etcdscan_source.c: where a scan reads from. Live: gRPC first (etcdscan_grpc.c), etcd's v3 JSON
 * gateway when the peer does not speak gRPC or when asked: POST /v3/kv/range with base64
 * key/range_end, `limit` keys a page; proto3 JSON omits false/zero fields (`more`, `kvs`) and sends
 * int64 as strings. Both page with the pager here: the next page from the last key + "\0", every page
 * at the revision of the first one (a consistent view) unless etcd compacts past it mid-scan, then
 * from the same key at the newest revision. Snapshot: rk_snapshot_each_live. */
#include <curl/curl.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

#include "etcdscan_internal.h"
#include "rekey/log.h"
#include "rekey/snapshot.h"

#define FIRST_PAGE 500
#define JSON_MAX_PAGE 10000
#define JSON_PAGE_BYTES (4u << 20) /* the whole JSON reply is held: aim at about 4 MiB */
#define MIN_PAGE 100
#define MAX_MOVES 10 /* compactions past the pinned revision one scan rides out */
#define MAX_REPLY (256u << 20)

static int b64_encode(const uint8_t *p, size_t n, rk_buf *out)
{
	rk_buf_reset(out);
	if (rk_buf_reserve(out, 4 * ((n + 2) / 3) + 1) != 0)
		return -1;
	out->len = (size_t)EVP_EncodeBlock(out->data, p, (int)n);
	out->data[out->len] = 0;
	return 0;
}

static int b64_decode(const char *s, rk_buf *out)
{
	size_t n = strlen(s);
	rk_buf_reset(out);
	if (n % 4 != 0 || rk_buf_reserve(out, n / 4 * 3 + 1) != 0)
		return -1;
	int got = EVP_DecodeBlock(out->data, (const uint8_t *)s, (int)n);
	if (got < 0)
		return -1;
	size_t pad = (n && s[n - 1] == '=') + (n > 1 && s[n - 2] == '=');
	out->len = (size_t)got - pad;
	out->data[out->len] = 0;
	return 0;
}

/* range_end for a prefix: the prefix with its last byte + 1 (dropping trailing 0xff bytes). */
static void prefix_end(const char *prefix, rk_buf *end)
{
	size_t n = strlen(prefix);
	rk_buf_reset(end);
	rk_buf_append(end, prefix, n);
	while (end->len && end->data[end->len - 1] == 0xff)
		end->len--;
	if (end->len == 0) {
		rk_buf_append(end, "", 1); /* "\0": every key */
		return;
	}
	end->data[end->len - 1]++;
}

void rk_pager_init(struct scan_pager *pg, struct rk_scan *sc, size_t page_bytes, size_t max_limit)
{
	memset(pg, 0, sizeof *pg);
	pg->sc = sc;
	pg->page_bytes = page_bytes;
	pg->max_limit = max_limit;
	pg->limit = sc->opts->page_limit ? sc->opts->page_limit : FIRST_PAGE;
	rk_buf_append_str(&pg->start, sc->prefix);
	prefix_end(sc->prefix, &pg->end);
}

void rk_pager_free(struct scan_pager *pg)
{
	rk_buf_free(&pg->start);
	rk_buf_free(&pg->end);
}

int rk_pager_after(struct scan_pager *pg, const uint8_t *key, size_t klen)
{
	rk_buf_reset(&pg->start);
	return rk_buf_append(&pg->start, key, klen) || rk_buf_append(&pg->start, "", 1) ? -1 : 0;
}

void rk_pager_page_done(struct scan_pager *pg, long long header_revision, size_t nkvs, size_t reply_bytes)
{
	rk_scan_report *r = pg->sc->report;
	if (pg->revision == 0 && header_revision > 0) {
		pg->revision = header_revision;
		if (r->revision == 0)
			r->revision = (uint64_t)header_revision;
		else
			r->revision_moved = (uint64_t)header_revision;
	}
	if (!pg->sc->opts->page_limit && nkvs > 0) {
		/* etcd walks the whole remaining range on every page: fewer, larger pages scale better */
		size_t next = pg->page_bytes / (reply_bytes / nkvs + 1);
		pg->limit = next < MIN_PAGE ? MIN_PAGE : next > pg->max_limit ? pg->max_limit : next;
	}
	if (pg->sc->opts->on_page)
		pg->sc->opts->on_page(pg->sc->opts->page_ctx, r);
}

int rk_pager_compacted(struct scan_pager *pg)
{
	if (++pg->moves > MAX_MOVES)
		return 0;
	rk_warn("etcdscan.compacted",
	        "etcd compacted past revision %lld during the scan; carrying on from the same key at the "
	        "newest revision",
	        pg->revision);
	pg->revision = 0;
	return 1;
}

static size_t collect_reply(char *p, size_t size, size_t n, void *ctx)
{
	rk_buf *reply = ctx;
	if (reply->len + size * n > MAX_REPLY || rk_buf_append(reply, p, size * n) != 0)
		return 0;
	return size * n;
}

struct live {
	struct rk_scan *sc;
	struct scan_pager pg;
	CURL *curl;
	char url[1024];
	struct curl_slist *headers;
	rk_buf reply, b64a, b64b, kbuf, vbuf;
};

/* The error reply of a range request; 1 in *compacted when etcd compacted the pinned revision. */
static int range_error(struct live *lv, long status, json_t *reply, int *compacted)
{
	const char *msg = reply ? json_string_value(json_object_get(reply, "message")) : NULL;
	if (!msg && reply)
		msg = json_string_value(json_object_get(reply, "error"));
	*compacted = msg && strstr(msg, "compacted") != NULL;
	return rk_err_set(lv->sc->err, RK_FAIL, "%s: HTTP %ld: %s%s", lv->url, status,
	                  msg ? msg : rk_buf_cstr(&lv->reply),
	                  *compacted ? " (etcd kept compacting past the revision this scan reads at)" : "");
}

static int post_range(struct live *lv, json_t **out, int *compacted)
{
	struct scan_pager *pg = &lv->pg;
	json_t *req =
	    json_pack("{s:s, s:s, s:I}", "key", "", "range_end", "", "limit", (json_int_t)pg->limit);
	if (b64_encode(pg->start.data, pg->start.len, &lv->b64a) ||
	    b64_encode(pg->end.data, pg->end.len, &lv->b64b))
		return rk_err_set(lv->sc->err, RK_FAIL, "out of memory");
	json_object_set_new(req, "key", json_string(rk_buf_cstr(&lv->b64a)));
	json_object_set_new(req, "range_end", json_string(rk_buf_cstr(&lv->b64b)));
	if (pg->revision > 0)
		json_object_set_new(req, "revision", json_integer(pg->revision));
	char *body = json_dumps(req, JSON_COMPACT);
	json_decref(req);
	rk_buf_reset(&lv->reply);
	curl_easy_setopt(lv->curl, CURLOPT_POSTFIELDS, body);
	CURLcode cc = curl_easy_perform(lv->curl);
	free(body);
	long status = 0;
	curl_easy_getinfo(lv->curl, CURLINFO_RESPONSE_CODE, &status);
	if (cc != CURLE_OK)
		return rk_err_set(lv->sc->err, RK_FAIL, "%s: %s", lv->url, curl_easy_strerror(cc));
	json_error_t jerr;
	*out = json_loadb((const char *)lv->reply.data, lv->reply.len, 0, &jerr);
	if (status != 200) {
		int rc = range_error(lv, status, *out, compacted);
		json_decref(*out);
		*out = NULL;
		return rc;
	}
	if (!*out)
		return rk_err_set(lv->sc->err, RK_FAIL, "%s: reply is not JSON: %s", lv->url, jerr.text);
	return RK_OK;
}

static long long json_int64(json_t *v)
{
	if (json_is_string(v))
		return strtoll(json_string_value(v), NULL, 10);
	return json_is_integer(v) ? (long long)json_integer_value(v) : 0;
}

/* Accounts one page; sets *more and moves the pager past the last key. */
static int scan_page(struct live *lv, json_t *reply, int *more)
{
	json_t *kvs = json_object_get(reply, "kvs");
	size_t i;
	json_t *kv;
	json_array_foreach(kvs, i, kv)
	{
		const char *k = json_string_value(json_object_get(kv, "key"));
		const char *v = json_string_value(json_object_get(kv, "value"));
		if (!k || b64_decode(k, &lv->kbuf) || b64_decode(v ? v : "", &lv->vbuf))
			return rk_err_set(lv->sc->err, RK_FAIL, "%s: a key or value is not base64", lv->url);
		int rc = rk_scan_value(lv->sc, lv->kbuf.data, lv->kbuf.len, lv->vbuf.data, lv->vbuf.len);
		if (rc)
			return rc;
		if (rk_pager_after(&lv->pg, lv->kbuf.data, lv->kbuf.len) != 0)
			return rk_err_set(lv->sc->err, RK_FAIL, "out of memory");
	}
	*more = json_is_true(json_object_get(reply, "more")) && json_array_size(kvs) > 0;
	rk_pager_page_done(&lv->pg, json_int64(json_object_get(json_object_get(reply, "header"), "revision")),
	                   json_array_size(kvs), lv->reply.len);
	return RK_OK;
}

static int live_setup(struct live *lv)
{
	const rk_scan_opts *o = lv->sc->opts;
	size_t n = strlen(o->etcd_url);
	while (n && o->etcd_url[n - 1] == '/')
		n--;
	if (n + sizeof "/v3/kv/range" > sizeof lv->url)
		return rk_err_set(lv->sc->err, RK_BADINPUT, "--etcd: URL too long");
	snprintf(lv->url, sizeof lv->url, "%.*s/v3/kv/range", (int)n, o->etcd_url);
	lv->curl = curl_easy_init();
	if (!lv->curl)
		return rk_err_set(lv->sc->err, RK_FAIL, "curl_easy_init failed");
	curl_easy_setopt(lv->curl, CURLOPT_URL, lv->url);
	curl_easy_setopt(lv->curl, CURLOPT_WRITEFUNCTION, collect_reply);
	curl_easy_setopt(lv->curl, CURLOPT_WRITEDATA, &lv->reply);
	curl_easy_setopt(lv->curl, CURLOPT_CONNECTTIMEOUT, 10L);
	curl_easy_setopt(lv->curl, CURLOPT_TIMEOUT, 120L);
	curl_easy_setopt(lv->curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(lv->curl, CURLOPT_PROTOCOLS_STR, "http,https");
	if (o->cacert)
		curl_easy_setopt(lv->curl, CURLOPT_CAINFO, o->cacert);
	if (o->cert)
		curl_easy_setopt(lv->curl, CURLOPT_SSLCERT, o->cert);
	if (o->key)
		curl_easy_setopt(lv->curl, CURLOPT_SSLKEY, o->key);
	lv->headers = curl_slist_append(NULL, "Content-Type: application/json");
	curl_easy_setopt(lv->curl, CURLOPT_HTTPHEADER, lv->headers);
	return RK_OK;
}

static int scan_json(struct rk_scan *sc)
{
	struct live lv = {.sc = sc};
	rk_pager_init(&lv.pg, sc, JSON_PAGE_BYTES, JSON_MAX_PAGE);
	snprintf(sc->report->api, sizeof sc->report->api, "json");
	rk_buf *secret_bufs[] = {&lv.reply, &lv.b64b, &lv.vbuf}; /* values: plaintext under identity */
	for (size_t i = 0; i < sizeof secret_bufs / sizeof secret_bufs[0]; i++)
		rk_buf_set_secret(secret_bufs[i]);
	int rc = live_setup(&lv);
	int more = rc == RK_OK;
	while (more && rc == RK_OK) {
		json_t *reply = NULL;
		int compacted = 0;
		rc = post_range(&lv, &reply, &compacted);
		if (rc == RK_OK)
			rc = scan_page(&lv, reply, &more);
		else if (compacted && rk_pager_compacted(&lv.pg))
			rc = RK_OK;
		json_decref(reply);
	}
	if (lv.curl)
		curl_easy_cleanup(lv.curl);
	curl_slist_free_all(lv.headers);
	rk_pager_free(&lv.pg);
	rk_buf *bufs[] = {&lv.reply, &lv.b64a, &lv.b64b, &lv.kbuf, &lv.vbuf};
	for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++)
		rk_buf_wipe_free(bufs[i]);
	return rc;
}

int rk_scan_live(struct rk_scan *sc)
{
	const rk_scan_opts *o = sc->opts;
	if (strncmp(o->etcd_url, "http://", 7) && strncmp(o->etcd_url, "https://", 8))
		return rk_err_set(sc->err, RK_BADINPUT, "--etcd %s: want an http:// or https:// URL",
		                  o->etcd_url);
	if (o->etcd_api == RK_ETCD_API_JSON)
		return scan_json(sc);
	int not_grpc = 0;
	int rc = rk_scan_grpc(sc, &not_grpc);
	if (rc == RK_OK || o->etcd_api == RK_ETCD_API_GRPC || !not_grpc)
		return rc;
	rk_info("etcdscan.fallback", "%s does not speak gRPC (%s); reading its JSON gateway instead",
	        o->etcd_url, sc->err->msg);
	rk_err_clear(sc->err);
	return scan_json(sc);
}

static int on_live_kv(void *ctx, const rk_snap_kv *kv)
{
	return rk_scan_value(ctx, kv->key, kv->key_len, kv->value, kv->value_len);
}

int rk_scan_snapshot(struct rk_scan *sc)
{
	rk_snapshot *snap = NULL;
	int rc = rk_snapshot_open(sc->opts->snapshot_path, &snap, sc->err);
	if (rc)
		return rc;
	rc = rk_snapshot_each_live(snap, sc->prefix, on_live_kv, sc, sc->err);
	rk_snapshot_close(snap);
	return rc;
}
