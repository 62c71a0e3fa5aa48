/* grpc.c: gRPC unary calls over one libcurl easy handle (see include/rekey/grpc.h). The handle keeps
 * its HTTP/2 connection between calls. Response headers and trailers both reach the header callback
 * (libcurl hands HTTP/2 trailers to it after the body), so grpc-status is found whether it came in the
 * trailers or in a Trailers-Only reply; a reply that is not HTTP/2, not 200 or not application/grpc
 * and has no grpc-status is "not gRPC", so a caller can fall back to another protocol.
 * libcurl before 8.0.0 (Debian 12 ships 7.88.1) fails the second request on a reused h2c
 * prior-knowledge connection with "Error in the HTTP2 framing layer" (curl issue 10634, fixed by
 * curl PR 10643): with those versions an h2c channel opens a new connection for each call. */
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "rekey/grpc.h"

#define DEFAULT_MAX_MESSAGE (256u << 20)
#define SNIPPET_MAX 200

struct rk_grpc {
	CURL *curl;
	char *base; /* "http://host:port" (no trailing slash) or "http://localhost" for a unix socket */
	char *shown;
	size_t max_message;
	int tls;
	char curl_error[CURL_ERROR_SIZE];
};

/* One call in flight. */
struct call {
	rk_grpc *g;
	rk_grpc_deframer deframer;
	rk_grpc_status *st;
	int have_status;
	int deframe_rc; /* 0, -1 malformed, -2 sink refused */
	char content_type[96];
	char snippet[SNIPPET_MAX + 1]; /* the start of a body that is not gRPC, for the message */
	size_t snippet_len;
};

static int set_target(rk_grpc *g, const char *target, rk_err *err)
{
	const char *path = NULL;
	if (!strncmp(target, "unix://", 7))
		path = target + 7;
	else if (!strncmp(target, "unix:", 5))
		path = target + 5;
	if (path) {
		if (!*path)
			return rk_err_set(err, RK_BADINPUT, "gRPC target %s: no socket path", target);
		curl_easy_setopt(g->curl, CURLOPT_UNIX_SOCKET_PATH, path);
		g->base = strdup("http://localhost");
	} else if (!strncmp(target, "http://", 7) || !strncmp(target, "https://", 8)) {
		size_t n = strlen(target);
		while (n > 8 && target[n - 1] == '/')
			n--;
		g->base = strndup(target, n);
	} else {
		return rk_err_set(err, RK_BADINPUT,
		                  "gRPC target %s: want http://host:port, https://host:port or unix:/path",
		                  target);
	}
	int tls = g->tls = !strncmp(target, "https://", 8);
	curl_easy_setopt(g->curl, CURLOPT_HTTP_VERSION,
	                 tls ? (long)CURL_HTTP_VERSION_2TLS : (long)CURL_HTTP_VERSION_2_PRIOR_KNOWLEDGE);
	if (!tls && curl_version_info(CURLVERSION_NOW)->version_num < 0x080000)
		curl_easy_setopt(g->curl, CURLOPT_FORBID_REUSE, 1L); /* see the top of this file */
	return g->base ? RK_OK : rk_err_set(err, RK_FAIL, "out of memory");
}

static void set_blob(CURL *curl, CURLoption opt, const rk_buf *pem)
{
	if (!pem || !pem->len)
		return;
	struct curl_blob blob = {.data = pem->data, .len = pem->len, .flags = CURL_BLOB_COPY};
	curl_easy_setopt(curl, opt, &blob);
}

int rk_grpc_open(const rk_grpc_opts *opts, rk_grpc **out, rk_err *err)
{
	*out = NULL;
	if (!opts->target || !*opts->target)
		return rk_err_set(err, RK_BADINPUT, "gRPC: no target");
	rk_grpc *g = calloc(1, sizeof *g);
	if (!g || !(g->curl = curl_easy_init()) || !(g->shown = strdup(opts->target))) {
		rk_grpc_close(g);
		return rk_err_set(err, RK_FAIL, "out of memory");
	}
	g->max_message = opts->max_message ? opts->max_message : DEFAULT_MAX_MESSAGE;
	int rc = set_target(g, opts->target, err);
	if (rc) {
		rk_grpc_close(g);
		return rc;
	}
	CURL *c = g->curl;
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_TCP_NODELAY, 1L);
	curl_easy_setopt(c, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(c, CURLOPT_BUFFERSIZE, 256L * 1024);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS,
	                 opts->connect_timeout_ms > 0 ? opts->connect_timeout_ms : 10000L);
	curl_easy_setopt(c, CURLOPT_USERAGENT, "grpc-c-rekeyctl/" REKEY_VERSION);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, g->curl_error);
	set_blob(c, CURLOPT_CAINFO_BLOB, opts->ca_pem);
	set_blob(c, CURLOPT_SSLCERT_BLOB, opts->cert_pem);
	set_blob(c, CURLOPT_SSLKEY_BLOB, opts->key_pem);
	curl_easy_setopt(c, CURLOPT_SSLCERTTYPE, "PEM");
	curl_easy_setopt(c, CURLOPT_SSLKEYTYPE, "PEM");
	*out = g;
	return RK_OK;
}

void rk_grpc_close(rk_grpc *g)
{
	if (!g)
		return;
	if (g->curl)
		curl_easy_cleanup(g->curl);
	free(g->base);
	free(g->shown);
	free(g);
}

/* ---- one call ---- */

static void trim(const char **s, size_t *n)
{
	while (*n && (**s == ' ' || **s == '\t')) {
		(*s)++;
		(*n)--;
	}
	while (*n && ((*s)[*n - 1] == '\r' || (*s)[*n - 1] == '\n' || (*s)[*n - 1] == ' '))
		(*n)--;
}

static int header_is(const char *line, size_t n, const char *name, const char **value, size_t *vlen)
{
	size_t k = strlen(name);
	if (n <= k || strncasecmp(line, name, k) != 0 || line[k] != ':')
		return 0;
	*value = line + k + 1;
	*vlen = n - k - 1;
	trim(value, vlen);
	return 1;
}

static size_t on_header(char *line, size_t size, size_t nitems, void *ctx)
{
	struct call *c = ctx;
	size_t n = size * nitems;
	const char *v;
	size_t vlen;
	if (header_is(line, n, "grpc-status", &v, &vlen)) {
		int code = 0, digits = 0;
		for (size_t i = 0; i < vlen && v[i] >= '0' && v[i] <= '9' && code < 1000; i++, digits++)
			code = code * 10 + (v[i] - '0');
		if (digits && digits == (int)vlen) {
			c->st->code = code;
			c->have_status = 1;
		}
	} else if (header_is(line, n, "grpc-message", &v, &vlen)) {
		rk_grpc_percent_decode(v, vlen, c->st->message, sizeof c->st->message);
	} else if (header_is(line, n, "content-type", &v, &vlen)) {
		snprintf(c->content_type, sizeof c->content_type, "%.*s", (int)vlen, v);
	}
	return n;
}

static int is_grpc_content_type(const char *ct)
{
	size_t k = strlen("application/grpc");
	return !strncasecmp(ct, "application/grpc", k) && (ct[k] == '\0' || ct[k] == '+' || ct[k] == ';');
}

static size_t on_body(char *data, size_t size, size_t nitems, void *ctx)
{
	struct call *c = ctx;
	size_t n = size * nitems;
	long status = 0;
	curl_easy_getinfo(c->g->curl, CURLINFO_RESPONSE_CODE, &status);
	if (status != 200 || !is_grpc_content_type(c->content_type)) {
		size_t take = SNIPPET_MAX - c->snippet_len < n ? SNIPPET_MAX - c->snippet_len : n;
		memcpy(c->snippet + c->snippet_len, data, take);
		c->snippet_len += take;
		c->snippet[c->snippet_len] = '\0';
		return n; /* not a gRPC body: kept for the message, not deframed */
	}
	c->deframe_rc = rk_grpc_deframe(&c->deframer, (const uint8_t *)data, n);
	return c->deframe_rc == 0 ? n : 0;
}

/* A transport error that means the peer does not speak HTTP/2 rather than that it is down: it took
 * the connection but sent no HTTP/2 reply. An HTTP/1 server answers the h2c preface with an error and
 * closes, which libcurl reports as one of these depending on timing. Over TLS, ALPN settles the
 * protocol (an HTTP/1-only server gets an HTTP/1 request and answers it), and a send or receive error
 * is the TLS peer refusing us (e.g. no client certificate under TLS 1.3), not a protocol mismatch. */
static int not_h2_error(const rk_grpc *g, CURLcode cc)
{
	long header_bytes = 0;
	curl_easy_getinfo(g->curl, CURLINFO_HEADER_SIZE, &header_bytes);
	if (header_bytes > 0)
		return 0;
	if (cc == CURLE_SEND_ERROR || cc == CURLE_RECV_ERROR)
		return !g->tls;
	return cc == CURLE_GOT_NOTHING || cc == CURLE_HTTP2 || cc == CURLE_WEIRD_SERVER_REPLY ||
	       cc == CURLE_UNSUPPORTED_PROTOCOL;
}

static void printable(char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || (unsigned char)*s > 0x7e)
			*s = ' ';
}

static int transport_error(struct call *c, CURLcode cc, const char *method, long deadline_ms, rk_err *err)
{
	rk_grpc *g = c->g;
	if (cc == CURLE_WRITE_ERROR && c->deframe_rc == -2)
		return err->code != RK_OK
		           ? err->code
		           : rk_err_set(err, RK_FAIL, "%s %s: reply refused", g->shown, method);
	if (cc == CURLE_WRITE_ERROR && c->deframe_rc == -1)
		return rk_err_set(err, RK_FAIL, "%s %s: %s", g->shown, method, c->deframer.error);
	if (cc == CURLE_HTTP2_STREAM && !c->have_status)
		return rk_err_set(
		    err, RK_FAIL,
		    "%s %s: the server reset the call before a status reached us (it answered "
		    "before reading the request, as for a method it does not implement: libcurl "
		    "%s can lose that early status)",
		    g->shown, method, curl_version_info(CURLVERSION_NOW)->version);
	if (cc == CURLE_OPERATION_TIMEDOUT && deadline_ms > 0) {
		c->st->code = 4; /* DEADLINE_EXCEEDED, decided locally */
		return rk_err_set(err, RK_FAIL, "%s %s: deadline of %ld ms exceeded", g->shown, method,
		                  deadline_ms);
	}
	c->st->not_grpc = not_h2_error(g, cc);
	return rk_err_set(err, RK_FAIL, "%s %s: %s%s%s%s%s", g->shown, method,
	                  c->st->not_grpc ? "not a gRPC server (no HTTP/2 reply): " : "",
	                  curl_easy_strerror(cc), g->curl_error[0] ? " (" : "", g->curl_error,
	                  g->curl_error[0] ? ")" : "");
}

/* After a completed transfer: was it a gRPC reply, and what did it say? */
static int judge_reply(struct call *c, const char *method, rk_err *err)
{
	rk_grpc *g = c->g;
	rk_grpc_status *st = c->st;
	long version = 0;
	curl_easy_getinfo(g->curl, CURLINFO_RESPONSE_CODE, &st->http_status);
	curl_easy_getinfo(g->curl, CURLINFO_HTTP_VERSION, &version);
	printable(c->snippet);
	if (version != CURL_HTTP_VERSION_2_0) {
		st->not_grpc = 1;
		return rk_err_set(err, RK_FAIL,
		                  "%s %s: not a gRPC server (it answered HTTP/1, status %ld: %s)", g->shown,
		                  method, st->http_status, c->snippet);
	}
	if (!c->have_status && (st->http_status != 200 || !is_grpc_content_type(c->content_type))) {
		st->not_grpc = 1;
		return rk_err_set(err, RK_FAIL,
		                  "%s %s: not a gRPC server (HTTP %ld, content-type \"%s\": %s)", g->shown,
		                  method, st->http_status, c->content_type, c->snippet);
	}
	if (!c->have_status) {
		st->code = RK_GRPC_NO_STATUS;
		return rk_err_set(err, RK_FAIL, "%s %s: the reply ended without a grpc-status", g->shown,
		                  method);
	}
	if (st->code != 0) {
		printable(st->message);
		return rk_err_set(err, RK_FAIL, "%s %s: grpc-status %d (%s): %s", g->shown, method, st->code,
		                  rk_grpc_code_name(st->code), st->message[0] ? st->message : "(no message)");
	}
	if (rk_grpc_deframe_end(&c->deframer) != 0)
		return rk_err_set(err, RK_FAIL, "%s %s: %s", g->shown, method, c->deframer.error);
	return RK_OK;
}

static struct curl_slist *call_headers(long deadline_ms)
{
	char timeout[64];
	struct curl_slist *h = NULL, *next;
	const char *fixed[] = {"Content-Type: application/grpc", "TE: trailers", "Accept:", "Expect:"};
	for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++) {
		if (!(next = curl_slist_append(h, fixed[i])))
			goto oom;
		h = next;
	}
	if (deadline_ms > 0) {
		rk_grpc_timeout_header(deadline_ms, timeout, sizeof timeout);
		if (!(next = curl_slist_append(h, timeout)))
			goto oom;
		h = next;
	}
	return h;
oom:
	curl_slist_free_all(h);
	return NULL;
}

int rk_grpc_call(rk_grpc *g, const char *method, const uint8_t *req, size_t req_len, long deadline_ms,
                 rk_grpc_sink sink, void *sink_ctx, rk_grpc_status *st, rk_err *err)
{
	rk_grpc_status local = {0};
	rk_err local_err;
	struct call c = {.g = g, .st = st ? st : &local};
	if (!err)
		err = &local_err;
	memset(c.st, 0, sizeof *c.st);
	c.st->code = RK_GRPC_NO_STATUS;
	rk_err_clear(err);
	g->curl_error[0] = '\0';
	rk_grpc_deframer_init(&c.deframer, g->max_message, sink, sink_ctx);
	rk_buf body = RK_BUF_SECRET, url = RK_BUF_INIT; /* a request may carry key material (KMS) */
	struct curl_slist *headers = call_headers(deadline_ms);
	if (!headers || rk_grpc_frame(&body, req, req_len) != 0 ||
	    rk_buf_printf(&url, "%s%s", g->base, method) != 0) {
		curl_slist_free_all(headers);
		rk_buf_free(&body);
		rk_buf_free(&url);
		return rk_err_set(err, RK_FAIL, "out of memory");
	}
	CURL *curl = g->curl;
	curl_easy_setopt(curl, CURLOPT_URL, rk_buf_cstr(&url));
	curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body.data);
	curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body.len);
	curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
	curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(curl, CURLOPT_HEADERDATA, &c);
	curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(curl, CURLOPT_WRITEDATA, &c);
	curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, deadline_ms > 0 ? deadline_ms : 0L);
	CURLcode cc = curl_easy_perform(curl);
	/* A server may answer before reading the request and then reset the stream (RST_STREAM NO_ERROR,
	 * PROTOCOL-HTTP2.md "Early Server Closure"): libcurl reports the reset, the status came first. */
	if (cc == CURLE_HTTP2_STREAM && c.have_status)
		cc = CURLE_OK;
	int rc =
	    cc != CURLE_OK ? transport_error(&c, cc, method, deadline_ms, err) : judge_reply(&c, method, err);
	curl_easy_setopt(curl, CURLOPT_HTTPHEADER, NULL);
	curl_easy_setopt(curl, CURLOPT_POSTFIELDS, NULL);
	curl_slist_free_all(headers);
	rk_buf_free(&body);
	rk_buf_free(&url);
	return rc;
}

struct collect {
	rk_buf *resp;
	rk_err *err;
};

static int append_sink(void *ctx, const uint8_t *data, size_t len)
{
	struct collect *c = ctx;
	if (rk_buf_append(c->resp, data, len) == 0)
		return 0;
	rk_err_set(c->err, RK_FAIL, "out of memory");
	return -1;
}

int rk_grpc_call_buf(rk_grpc *g, const char *method, const uint8_t *req, size_t req_len, long deadline_ms,
                     rk_buf *resp, rk_grpc_status *st, rk_err *err)
{
	struct collect c = {resp, err};
	rk_buf_reset(resp);
	return rk_grpc_call(g, method, req, req_len, deadline_ms, append_sink, &c, st, err);
}
