/* kube.c: the request engine of the API client: a curl multi handle running many requests at once,
 * per-attempt easy handles, response parsing (jansson, kind: Status), and the retry policy with
 * exponential backoff and jitter (see include/rekey/kube.h). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "kube_internal.h"
#include "rekey/log.h"

struct kube_call {
	kube_call *next;
	char *method;
	char *url;            /* what curl requests (host may be the tls-server-name) */
	char *shown_url;      /* what messages show (the real endpoint) */
	char *connect_to;     /* "name:port:host:port" when the tls-server-name differs from the host */
	char *path;           /* the request's path (kept to build the URL of each attempt) */
	const char *endpoint; /* of the current attempt (the request's, or what pick returned) */
	const char *(*pick)(void *pick_user, int attempt);
	void *pick_user;
	rk_buf body;
	char *content_type, *accept;
	int no_retry;
	rk_kube_done_fn done;
	void *user;
	CURL *easy;
	struct curl_slist *headers;
	struct curl_slist *connect_list;
	char errbuf[CURL_ERROR_SIZE];
	double started;    /* submit time (monotonic seconds) */
	double not_before; /* when waiting: earliest start of the next attempt */
	int reauth_done;   /* a 401 already triggered an exec plugin re-run */
	unsigned long auth_generation;
	rk_kube_resp resp;
};

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---- life cycle ---- */

static void default_opts(rk_kube_opts *o, const rk_kube_opts *given)
{
	if (given)
		*o = *given;
	else
		memset(o, 0, sizeof *o);
	if (o->connect_timeout_ms <= 0)
		o->connect_timeout_ms = 5000;
	if (o->request_timeout_ms <= 0)
		o->request_timeout_ms = 30000;
	if (o->max_attempts <= 0)
		o->max_attempts = 6;
	if (o->retry_budget_ms <= 0)
		o->retry_budget_ms = 60000;
	if (o->backoff_base_ms <= 0)
		o->backoff_base_ms = 200;
	if (o->backoff_max_ms <= 0)
		o->backoff_max_ms = 8000;
	if (o->max_host_connections <= 0)
		o->max_host_connections = 8;
}

int rk_kube_new(const rk_kube_config *cfg, const rk_kube_opts *opts, rk_kube **out, rk_err *err)
{
	*out = NULL;
	rk_kube *k = calloc(1, sizeof *k);
	if (!k)
		return rk_err_set(err, RK_FAIL, "out of memory");
	k->cfg = cfg;
	default_opts(&k->opts, opts);
	k->rng = (unsigned)time(NULL) ^ (unsigned)getpid() ^ (unsigned)(uintptr_t)k;
	k->multi = curl_multi_init();
	k->share = curl_share_init();
	if (!k->multi || !k->share) {
		rk_kube_free(k);
		return rk_err_set(err, RK_FAIL, "libcurl: cannot create handles");
	}
	curl_share_setopt(k->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
	curl_share_setopt(k->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
	curl_multi_setopt(k->multi, CURLMOPT_PIPELINING, (long)CURLPIPE_MULTIPLEX);
	/* HTTP/1.1: one connection per request in flight, up to what the caller keeps in flight; the cache
	 * keeps them open between requests (its default, 4 x the handles added, shrinks as we add and remove
	 * a handle per attempt). HTTP/2: streams follow the same number on one connection. */
	long conns = k->opts.max_host_connections;
	curl_multi_setopt(k->multi, CURLMOPT_MAX_HOST_CONNECTIONS, conns);
	curl_multi_setopt(k->multi, CURLMOPT_MAXCONNECTS, conns * 4 + 8);
	curl_multi_setopt(k->multi, CURLMOPT_MAX_CONCURRENT_STREAMS, conns > 100 ? conns : 100L);
	*out = k;
	return RK_OK;
}

static void call_free(kube_call *c)
{
	if (!c)
		return;
	if (c->easy)
		curl_easy_cleanup(c->easy);
	kube_headers_free(c->headers);
	curl_slist_free_all(c->connect_list);
	free(c->method);
	free(c->url);
	free(c->shown_url);
	free(c->connect_to);
	free(c->path);
	rk_buf_wipe_free(&c->body);
	free(c->content_type);
	free(c->accept);
	rk_kube_resp_free(&c->resp);
	free(c);
}

void rk_kube_free(rk_kube *k)
{
	if (!k)
		return;
	for (kube_call *c = k->active, *next; c; c = next) {
		next = c->next;
		curl_multi_remove_handle(k->multi, c->easy);
		call_free(c);
	}
	for (kube_call *c = k->waiting, *next; c; c = next) {
		next = c->next;
		call_free(c);
	}
	if (k->multi)
		curl_multi_cleanup(k->multi);
	if (k->share)
		curl_share_cleanup(k->share);
	kube_auth_free(&k->auth);
	rk_kube_config_free(k->owned_cfg);
	free(k);
}

int rk_kube_open(const rk_kubeconfig_opts *kubeconfig, const rk_kube_opts *opts, rk_kube **out, rk_err *err)
{
	rk_kube_config *cfg = NULL;
	*out = NULL;
	int rc = rk_kubeconfig_load(kubeconfig, &cfg, err);
	if (rc == RK_OK)
		rc = rk_kube_new(cfg, opts, out, err);
	if (rc == RK_OK)
		(*out)->owned_cfg = cfg;
	else
		rk_kube_config_free(cfg);
	return rc;
}

const rk_kube_config *rk_kube_get_config(const rk_kube *k)
{
	return k->cfg;
}

void rk_kube_set_observer(rk_kube *k, rk_kube_observe_fn fn, void *user)
{
	k->observe = fn;
	k->observe_user = user;
}

void rk_kube_set_final(rk_kube *k, rk_kube_final_fn fn, void *user)
{
	k->final = fn;
	k->final_user = user;
}

void rk_kube_get_stats(const rk_kube *k, rk_kube_stats *out)
{
	*out = k->stats;
}

size_t rk_kube_pending(const rk_kube *k)
{
	return k->pending;
}

void rk_kube_resp_free(rk_kube_resp *resp)
{
	rk_buf_free(&resp->body);
	json_decref(resp->json);
	free(resp->reason);
	free(resp->message);
	free(resp->status_continue);
	free(resp->url);
	resp->json = NULL;
	resp->reason = resp->message = resp->status_continue = resp->url = NULL;
}

/* ---- URLs: endpoint + path, with tls-server-name kept through CURLOPT_CONNECT_TO ---- */

static int build_urls(rk_kube *k, kube_call *c, const char *endpoint, const char *path, rk_err *err)
{
	free(c->url);
	free(c->shown_url);
	free(c->connect_to);
	c->url = c->shown_url = c->connect_to = NULL;
	c->endpoint = endpoint;
	const char *base = endpoint && *endpoint ? endpoint : k->cfg->server;
	size_t blen = strlen(base);
	while (blen && base[blen - 1] == '/')
		blen--;
	if (asprintf(&c->shown_url, "%.*s%s%s", (int)blen, base, path[0] == '/' ? "" : "/", path) < 0)
		return rk_err_set(err, RK_FAIL, "out of memory");
	const char *sni = k->cfg->tls_server_name;
	if (!sni || strncmp(base, "https://", 8) != 0) {
		c->url = strdup(c->shown_url);
		return c->url ? RK_OK : rk_err_set(err, RK_FAIL, "out of memory");
	}
	CURLU *u = curl_url();
	char *host = NULL, *port = NULL, *url = NULL;
	int rc = RK_OK;
	if (!u || curl_url_set(u, CURLUPART_URL, c->shown_url, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) != CURLUE_OK ||
	    curl_url_set(u, CURLUPART_HOST, sni, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_URL, &url, 0) != CURLUE_OK)
		rc =
		    rk_err_set(err, RK_BADINPUT, "bad server URL %s (tls-server-name %s)", c->shown_url, sni);
	if (rc == RK_OK && asprintf(&c->connect_to, "%s:%s:%s:%s", sni, port, host, port) < 0)
		rc = rk_err_set(err, RK_FAIL, "out of memory");
	if (rc == RK_OK)
		c->url = strdup(url);
	curl_free(host);
	curl_free(port);
	curl_free(url);
	curl_url_cleanup(u);
	return rc;
}

/* What messages name: the URL of the last attempt, or the path when none could be built. */
static const char *shown(const kube_call *c)
{
	return c->shown_url ? c->shown_url : c->path ? c->path : "";
}

/* ---- one attempt ---- */

static size_t on_body(char *data, size_t size, size_t n, void *user)
{
	kube_call *c = user;
	return rk_buf_append(&c->resp.body, data, size * n) == 0 ? size * n : 0;
}

static void set_tls(rk_kube *k, CURL *e)
{
	if (k->cfg->ca_pem.len) {
		struct curl_blob ca = {
		    .data = k->cfg->ca_pem.data, .len = k->cfg->ca_pem.len, .flags = CURL_BLOB_COPY};
		curl_easy_setopt(e, CURLOPT_CAINFO_BLOB, &ca);
	}
	if (k->cfg->insecure) {
		curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 0L);
		curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 0L);
	}
	if (k->cfg->proxy_url)
		curl_easy_setopt(e, CURLOPT_PROXY, k->cfg->proxy_url);
}

static void set_transfer(rk_kube *k, kube_call *c, CURL *e)
{
	curl_easy_setopt(e, CURLOPT_URL, c->url);
	curl_easy_setopt(e, CURLOPT_SHARE, k->share);
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_TCP_NODELAY, 1L);
	curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(e, CURLOPT_PIPEWAIT, 1L);
	curl_easy_setopt(e, CURLOPT_HTTP_VERSION,
	                 k->opts.http1_only ? (long)CURL_HTTP_VERSION_1_1 : (long)CURL_HTTP_VERSION_2TLS);
	curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, k->opts.connect_timeout_ms);
	curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, k->opts.request_timeout_ms);
	curl_easy_setopt(e, CURLOPT_USERAGENT, "rekeyctl/" REKEY_VERSION);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, c);
	curl_easy_setopt(e, CURLOPT_PRIVATE, c);
	curl_easy_setopt(e, CURLOPT_ERRORBUFFER, c->errbuf);
	curl_easy_setopt(e, CURLOPT_ACCEPT_ENCODING, "");
	if (strcmp(c->method, "GET") != 0)
		curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, c->method);
	if (c->body.len || !strcmp(c->method, "POST") || !strcmp(c->method, "PUT")) {
		curl_easy_setopt(e, CURLOPT_POSTFIELDS, c->body.data ? (char *)c->body.data : "");
		curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)c->body.len);
	}
	if (c->connect_to) {
		c->connect_list = curl_slist_append(NULL, c->connect_to);
		curl_easy_setopt(e, CURLOPT_CONNECT_TO, c->connect_list);
	}
}

static int add_header(struct curl_slist **h, const char *name, const char *value)
{
	char line[512];
	snprintf(line, sizeof line, *value ? "%s: %s" : "%s:", name, value); /* "Name:" removes a header */
	struct curl_slist *n = curl_slist_append(*h, line);
	if (!n)
		return -1;
	*h = n;
	return 0;
}

/* The attempt's URL: the request's endpoint, or the one its pick chooses for this attempt. */
static int attempt_url(rk_kube *k, kube_call *c, rk_err *err)
{
	if (!c->pick)
		return RK_OK; /* built once at submit */
	return build_urls(k, c, c->pick(c->pick_user, c->resp.attempts + 1), c->path, err);
}

static int start_attempt_picked(rk_kube *k, kube_call *c, rk_err *err);

/* Starts the next attempt. An attempt whose endpoint was picked but that could not start is still
 * reported to the observer (status 0), so a caller counting requests per endpoint stays even. */
static int start_attempt(rk_kube *k, kube_call *c, rk_err *err)
{
	if (attempt_url(k, c, err) != RK_OK)
		return err->code;
	int rc = start_attempt_picked(k, c, err);
	if (rc != RK_OK && c->pick && k->observe)
		k->observe(k->observe_user, c->method, c->endpoint, 0, 0);
	return rc;
}

static int start_attempt_picked(rk_kube *k, kube_call *c, rk_err *err)
{
	if (kube_auth_refresh(k, err) != RK_OK)
		return err->code;
	c->auth_generation = k->auth.exec_generation;
	CURL *e = curl_easy_init();
	if (!e)
		return rk_err_set(err, RK_FAIL, "libcurl: cannot create a transfer");
	c->easy = e;
	c->errbuf[0] = '\0';
	rk_buf_reset(&c->resp.body);
	set_transfer(k, c, e);
	set_tls(k, e);
	struct curl_slist *h = NULL;
	if (add_header(&h, "Accept", c->accept) || add_header(&h, "Expect", "") ||
	    (c->body.len && add_header(&h, "Content-Type", c->content_type)) ||
	    kube_auth_apply(k, e, c->url, &h)) {
		kube_headers_free(h);
		return rk_err_set(err, RK_FAIL, "out of memory");
	}
	c->headers = h;
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, h);
	if (curl_multi_add_handle(k->multi, e) != CURLM_OK)
		return rk_err_set(err, RK_FAIL, "libcurl: cannot start a transfer");
	c->resp.attempts++;
	k->stats.attempts++;
	if (c->resp.attempts > 1)
		k->stats.retries++;
	c->next = k->active;
	k->active = c;
	return RK_OK;
}

static void end_attempt(rk_kube *k, kube_call *c)
{
	curl_multi_remove_handle(k->multi, c->easy);
	curl_easy_cleanup(c->easy);
	c->easy = NULL;
	kube_headers_free(c->headers);
	c->headers = NULL;
	curl_slist_free_all(c->connect_list);
	c->connect_list = NULL;
}

/* ---- submit ---- */

static char *dup_default(const char *s, const char *dflt)
{
	return strdup(s && *s ? s : dflt);
}

int rk_kube_submit(rk_kube *k, const rk_kube_req *req, rk_kube_done_fn done, void *user, rk_err *err)
{
	if (!req->method || !req->path)
		return rk_err_set(err, RK_BADINPUT, "kube request without method or path");
	kube_call *c = calloc(1, sizeof *c);
	if (c)
		rk_buf_set_secret(&c->body); /* answers carry Secret objects and tokens */
	if (!c)
		return rk_err_set(err, RK_FAIL, "out of memory");
	c->method = strdup(req->method);
	c->content_type = dup_default(req->content_type, "application/json");
	c->accept = dup_default(req->accept, "application/json");
	c->no_retry = req->no_retry;
	c->pick = req->pick;
	c->pick_user = req->pick_user;
	c->endpoint = req->endpoint;
	c->done = done;
	c->user = user;
	c->started = now_s();
	c->resp.retry_after_s = -1;
	int rc = RK_OK;
	if (!c->method || !c->content_type || !c->accept ||
	    (req->body_len && rk_buf_append(&c->body, req->body, req->body_len) != 0))
		rc = rk_err_set(err, RK_FAIL, "out of memory");
	if (rc == RK_OK && !(c->path = strdup(req->path)))
		rc = rk_err_set(err, RK_FAIL, "out of memory");
	if (rc == RK_OK && !c->pick)
		rc = build_urls(k, c, req->endpoint, req->path, err);
	if (rc == RK_OK)
		rc = start_attempt(k, c, err);
	if (rc != RK_OK) {
		if (c->easy)
			end_attempt(k, c);
		call_free(c);
		return rc;
	}
	k->stats.requests++;
	k->pending++;
	return RK_OK;
}

/* ---- responses ---- */

static char *dup_json_str(json_t *v)
{
	const char *s = json_string_value(v);
	return s && *s ? strdup(s) : NULL;
}

void kube_resp_parse(rk_kube_resp *r)
{
	json_error_t jerr;
	r->json = r->body.len ? json_loadb((const char *)r->body.data, r->body.len, 0, &jerr) : NULL;
	json_t *j = r->json;
	const char *kind = json_string_value(json_object_get(j, "kind"));
	if (kind && !strcmp(kind, "Status")) {
		r->reason = dup_json_str(json_object_get(j, "reason"));
		r->message = dup_json_str(json_object_get(j, "message"));
		r->status_continue =
		    dup_json_str(json_object_get(json_object_get(j, "metadata"), "continue"));
		json_t *ra = json_object_get(json_object_get(j, "details"), "retryAfterSeconds");
		if (json_is_integer(ra) && json_integer_value(ra) > r->retry_after_s)
			r->retry_after_s = (long)json_integer_value(ra);
		return;
	}
	if (!j && r->http_status >= 400 && r->body.len) {
		size_t n = strcspn((const char *)r->body.data, "\r\n");
		r->message = strndup((const char *)r->body.data, n > 200 ? 200 : n);
	}
}

static void read_attempt(rk_kube *k, kube_call *c, CURLcode result)
{
	rk_kube_resp *r = &c->resp;
	long status = 0, version = 0, connects = 0;
	curl_off_t total_us = 0, retry_after = -1;
	curl_easy_getinfo(c->easy, CURLINFO_RESPONSE_CODE, &status);
	curl_easy_getinfo(c->easy, CURLINFO_HTTP_VERSION, &version);
	curl_easy_getinfo(c->easy, CURLINFO_TOTAL_TIME_T, &total_us);
	curl_easy_getinfo(c->easy, CURLINFO_NUM_CONNECTS, &connects);
	curl_easy_getinfo(c->easy, CURLINFO_RETRY_AFTER, &retry_after);
	json_decref(r->json);
	free(r->reason);
	free(r->message);
	free(r->status_continue);
	r->json = NULL;
	r->reason = r->message = r->status_continue = NULL;
	r->http_status = result == CURLE_OK ? status : 0;
	r->http_version = version == CURL_HTTP_VERSION_2_0 ? 2 : version ? 1 : 0;
	r->latency_s = (double)total_us / 1e6;
	r->retry_after_s = retry_after >= 0 ? (long)retry_after : -1;
	k->stats.connections += (unsigned long)connects;
	if (r->http_version == 2)
		k->stats.http2++;
	if (result == CURLE_OK)
		kube_resp_parse(r);
	if (k->observe)
		k->observe(k->observe_user, c->method, c->endpoint, r->http_status, r->latency_s);
}

static int retryable_status(long s)
{
	return s == 429 || s == 500 || s == 502 || s == 503 || s == 504;
}

/* A handshake cut by the peer (reset, EOF: an apiserver restarting) is a connection error, not a
 * certificate problem; curl reports both as CURLE_SSL_CONNECT_ERROR. */
static int handshake_cut(const kube_call *c, CURLcode rc)
{
	return rc == CURLE_SSL_CONNECT_ERROR &&
	       (strstr(c->errbuf, "SSL_ERROR_SYSCALL") || strstr(c->errbuf, "reset") ||
	        strstr(c->errbuf, "unexpected eof"));
}

static int retryable_curl(const kube_call *c, CURLcode rc)
{
	switch (rc) {
	case CURLE_OPERATION_TIMEDOUT:
	case CURLE_COULDNT_CONNECT:
	case CURLE_RECV_ERROR:
	case CURLE_SEND_ERROR:
	case CURLE_GOT_NOTHING:
	case CURLE_PARTIAL_FILE:
	case CURLE_HTTP2:
	case CURLE_HTTP2_STREAM:
		return 1;
	default:
		return handshake_cut(c, rc);
	}
}

static int is_tls_error(const kube_call *c, CURLcode rc)
{
	if (handshake_cut(c, rc))
		return 0;
	return rc == CURLE_PEER_FAILED_VERIFICATION || rc == CURLE_SSL_CONNECT_ERROR ||
	       rc == CURLE_SSL_CERTPROBLEM || rc == CURLE_SSL_CACERT_BADFILE || rc == CURLE_SSL_ISSUER_ERROR;
}

static int retryable(const kube_call *c, CURLcode result)
{
	return result == CURLE_OK ? retryable_status(c->resp.http_status) : retryable_curl(c, result);
}

static void describe_failure(kube_call *c, CURLcode result, char *out, size_t cap)
{
	const rk_kube_resp *r = &c->resp;
	if (result != CURLE_OK)
		snprintf(out, cap, "%s%s (%s)", is_tls_error(c, result) ? "TLS/certificate error: " : "",
		         c->errbuf[0] ? c->errbuf : curl_easy_strerror(result), curl_easy_strerror(result));
	else
		snprintf(out, cap, "%ld %s: %s", r->http_status, r->reason ? r->reason : "",
		         r->message ? r->message : "(no message)");
}

static long backoff_ms(rk_kube *k, int attempt)
{
	double d = (double)k->opts.backoff_base_ms * pow(2.0, attempt - 1);
	if (d > (double)k->opts.backoff_max_ms)
		d = (double)k->opts.backoff_max_ms;
	double jitter = (double)rand_r(&k->rng) / RAND_MAX;
	return (long)(d * (0.5 + 0.5 * jitter));
}

/* Decides what follows an attempt: 0 = finished (resp final), 1 = retry scheduled. */
static int plan_retry(rk_kube *k, kube_call *c, CURLcode result)
{
	rk_kube_resp *r = &c->resp;
	if (result == CURLE_OK && r->http_status == 401 && !c->reauth_done &&
	    kube_auth_invalidate(k, c->auth_generation)) {
		c->reauth_done = 1; /* exec credential rejected: run the plugin again, once */
		c->not_before = 0;
		return 1;
	}
	if (!retryable(c, result) || c->no_retry || (k->final && k->final(k->final_user, r)))
		return 0;
	long delay = backoff_ms(k, r->attempts);
	if (r->retry_after_s >= 0 && r->retry_after_s * 1000 > delay)
		delay = r->retry_after_s * 1000;
	double at = now_s() + (double)delay / 1000.0;
	if (r->attempts >= k->opts.max_attempts || at > c->started + (double)k->opts.retry_budget_ms / 1000.0)
		return 0;
	c->not_before = at;
	char why[700];
	describe_failure(c, result, why, sizeof why);
	rk_debug("kube.retry", "%s %s: attempt %d failed (%s), retrying in %ld ms", c->method, c->shown_url,
	         r->attempts, why, delay);
	return 1;
}

static void finish(rk_kube *k, kube_call *c, CURLcode result)
{
	rk_kube_resp *r = &c->resp;
	r->total_s = now_s() - c->started;
	r->url = strdup(shown(c));
	rk_err_clear(&r->err);
	if (result != CURLE_OK || r->http_status < 200 || r->http_status >= 300) {
		char why[700];
		describe_failure(c, result, why, sizeof why);
		if (retryable(c, result) && r->attempts > 1) {
			rk_err_set(&r->err, RK_FAIL, "%s %s: gave up after %d attempts in %.1fs: %s",
			           c->method, shown(c), r->attempts, r->total_s, why);
			if (r->http_status == 429) /* the last answer was throttling: the caller may stop */
				r->err.throttled_tries = r->attempts;
		} else
			rk_err_set(&r->err, RK_FAIL, "%s %s: %s", c->method, shown(c), why);
	}
	k->pending--;
	if (c->done)
		c->done(c->user, r);
	call_free(c);
}

static void unlink_call(kube_call **list, kube_call *c)
{
	for (kube_call **p = list; *p; p = &(*p)->next)
		if (*p == c) {
			*p = c->next;
			c->next = NULL;
			return;
		}
}

static void on_attempt_done(rk_kube *k, kube_call *c, CURLcode result)
{
	read_attempt(k, c, result);
	end_attempt(k, c);
	unlink_call(&k->active, c);
	if (plan_retry(k, c, result)) {
		c->next = k->waiting;
		k->waiting = c;
		return;
	}
	finish(k, c, result);
}

/* ---- the loop ---- */

static void fail_start(rk_kube *k, kube_call *c, const rk_err *why)
{
	rk_kube_resp *r = &c->resp;
	r->total_s = now_s() - c->started;
	rk_err_set(&r->err, why->code, "%s %s: %s", c->method, shown(c), why->msg);
	k->pending--;
	if (c->done)
		c->done(c->user, r);
	call_free(c);
}

/* Starts waiting retries whose time has come; returns ms until the next one (or -1). */
static long start_due_retries(rk_kube *k)
{
	double now = now_s(), next = -1;
	kube_call *c = k->waiting;
	k->waiting = NULL;
	while (c) {
		kube_call *rest = c->next;
		c->next = NULL;
		if (c->not_before <= now) {
			rk_err err;
			rk_err_clear(&err);
			if (start_attempt(k, c, &err) != RK_OK) {
				if (c->easy)
					end_attempt(k, c);
				fail_start(k, c, &err);
			}
		} else {
			c->next = k->waiting;
			k->waiting = c;
			if (next < 0 || c->not_before < next)
				next = c->not_before;
		}
		c = rest;
	}
	return next < 0 ? -1 : (long)((next - now) * 1000.0) + 1;
}

static int collect_done(rk_kube *k)
{
	int n = 0, left;
	CURLMsg *m;
	while ((m = curl_multi_info_read(k->multi, &left)) != NULL) {
		if (m->msg != CURLMSG_DONE)
			continue;
		kube_call *c = NULL;
		curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&c);
		CURLcode result = m->data.result;
		on_attempt_done(k, c, result);
		n++;
	}
	return n;
}

size_t rk_kube_poll(rk_kube *k, long timeout_ms)
{
	long until_retry = start_due_retries(k);
	int running = 0;
	curl_multi_perform(k->multi, &running);
	if (collect_done(k) > 0 || k->pending == 0)
		return k->pending;
	long wait = timeout_ms;
	if (until_retry >= 0 && until_retry < wait)
		wait = until_retry;
	if (wait > 0)
		curl_multi_poll(k->multi, NULL, 0, (int)wait, NULL);
	start_due_retries(k);
	curl_multi_perform(k->multi, &running);
	collect_done(k);
	return k->pending;
}

void rk_kube_wakeup(rk_kube *k)
{
	curl_multi_wakeup(k->multi);
}

void rk_kube_run_until_idle(rk_kube *k)
{
	while (k->pending)
		rk_kube_poll(k, 1000);
}

/* ---- blocking ---- */

struct blocking {
	rk_kube_resp *out;
	int done;
};

static void blocking_done(void *user, rk_kube_resp *resp)
{
	struct blocking *b = user;
	*b->out = *resp;
	memset(resp, 0, sizeof *resp); /* ownership moves to the caller */
	b->done = 1;
}

int rk_kube_request(rk_kube *k, const rk_kube_req *req, rk_kube_resp *resp)
{
	memset(resp, 0, sizeof *resp);
	resp->retry_after_s = -1;
	struct blocking b = {.out = resp};
	rk_err err;
	rk_err_clear(&err);
	if (rk_kube_submit(k, req, blocking_done, &b, &err) != RK_OK) {
		resp->err = err;
		return err.code;
	}
	while (!b.done)
		rk_kube_poll(k, 1000);
	return resp->err.code;
}
