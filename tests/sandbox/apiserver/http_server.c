/* http_server.c: libmicrohttpd wiring of the sandbox apiserver (see http.h). One thread per connection
 * (each keeps its own keep-alive curl handle to etcd); TCP_NODELAY on every accepted socket. */
#include "http.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "apiserver_util.h"
#include "auth.h"
#include "faults.h"
#include "metrics.h"
#include "rekey/log.h"

#define MAX_BODY (64u << 20)

static char *tls_key, *tls_cert, *tls_ca;
static size_t tls_key_len;

struct conn_req {
	sbx_req req;
	int unauthorized, too_large;
	double start;
};

const char *sbx_req_query(sbx_req *req, const char *name)
{
	return MHD_lookup_connection_value(req->conn, MHD_GET_ARGUMENT_KIND, name);
}

static enum MHD_Result find_key(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
	(void)kind, (void)value;
	const char **want = cls;
	if (*want && !strcmp(key, *want))
		*want = NULL; /* found: stop */
	return *want ? MHD_YES : MHD_NO;
}

int sbx_req_has_query(sbx_req *req, const char *name)
{
	const char *want = name;
	MHD_get_connection_values(req->conn, MHD_GET_ARGUMENT_KIND, find_key, (void *)&want);
	return want == NULL;
}

void sbx_reply_json(sbx_req *req, int status, json_t *body)
{
	rk_buf_reset(&req->out);
	char *text = json_dumps(body, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(body);
	rk_buf_append_str(&req->out, text ? text : "{}");
	rk_buf_append_str(&req->out, "\n");
	free(text);
	req->status = status;
	req->out_type = "application/json";
}

void sbx_reply_text(sbx_req *req, int status, const char *type, const char *text)
{
	rk_buf_reset(&req->out);
	rk_buf_append_str(&req->out, text);
	req->status = status;
	req->out_type = type;
}

void sbx_reply_error(sbx_req *req, sbx_apierr *e)
{
	sbx_reply_json(req, e->code, sbx_status_json(e));
	free(e->continue_token);
	e->continue_token = NULL;
}

static int random_below(double ratio)
{
	if (ratio <= 0)
		return 0;
	uint32_t r = 0;
	RAND_bytes((unsigned char *)&r, sizeof r);
	return (double)r / 4294967296.0 < ratio;
}

static void fail_with(sbx_req *req, int code, const char *reason, const char *msg, int retry_after)
{
	sbx_apierr e;
	sbx_apierr_set(&e, code, reason, NULL, "", "%s", msg);
	e.retry_after = retry_after;
	req->retry_after = retry_after;
	sbx_reply_error(req, &e);
}

/* Faults apply to API requests (/api, /apis), not to health, metrics or version. 1 = answered. */
static int apply_faults(sbx_req *req, int inflight_now)
{
	if (strncmp(req->url, "/api", 4) != 0)
		return 0;
	sbx_faults f;
	sbx_faults_get(&f);
	if ((f.max_inflight > 0 && inflight_now > f.max_inflight) || random_below(f.throttle_ratio)) {
		fail_with(req, 429, "TooManyRequests", "Too many requests, please try again later.",
		          f.retry_after_seconds);
		return 1;
	}
	long delay = f.latency_ms;
	if (f.jitter_ms > 0) {
		uint32_t r = 0;
		RAND_bytes((unsigned char *)&r, sizeof r);
		delay += (long)(r % (uint32_t)(f.jitter_ms + 1));
	}
	if (delay > 0) {
		struct timespec ts = {delay / 1000, (delay % 1000) * 1000000L};
		while (nanosleep(&ts, &ts) != 0) {
		}
	}
	int error_applies = (!f.error_verb[0] || !strcmp(req->method, f.error_verb)) &&
	                    !strncmp(req->url, f.error_path, strlen(f.error_path));
	if (error_applies && random_below(f.error_ratio)) {
		int code = f.error_code >= 400 && f.error_code <= 599 ? f.error_code : 503;
		fail_with(req, code,
		          code == 503   ? "ServiceUnavailable"
		          : code == 429 ? "TooManyRequests"
		                        : "InternalError",
		          "injected fault", code == 503 || code == 429 ? f.retry_after_seconds : 0);
		return 1;
	}
	return 0;
}

static enum MHD_Result send_answer(struct conn_req *c)
{
	sbx_req *req = &c->req;
	struct MHD_Response *resp = MHD_create_response_from_buffer(
	    req->out.len, req->out.data ? req->out.data : (void *)"", MHD_RESPMEM_MUST_COPY);
	if (!resp)
		return MHD_NO;
	MHD_add_response_header(resp, "Content-Type", req->out_type ? req->out_type : "application/json");
	MHD_add_response_header(resp, "Cache-Control", "no-cache, private");
	if (req->retry_after > 0) {
		char ra[16];
		snprintf(ra, sizeof ra, "%d", req->retry_after);
		MHD_add_response_header(resp, "Retry-After", ra);
	}
	enum MHD_Result r = MHD_queue_response(req->conn, (unsigned)req->status, resp);
	MHD_destroy_response(resp);
	return r;
}

static void answer(struct conn_req *c)
{
	sbx_req *req = &c->req;
	req->mutating = strcmp(req->method, "GET") && strcmp(req->method, "HEAD");
	req->verb = req->method;
	req->resource = req->group = req->scope = "";
	if (c->unauthorized) {
		fail_with(req, 401, "Unauthorized", "Unauthorized", 0);
		return;
	}
	if (c->too_large) {
		fail_with(req, 413, "RequestEntityTooLarge", "the request body is too large", 0);
		return;
	}
	sbx_route_labels(req);
	int now = sbx_metrics_inflight(req->mutating, 1);
	if (!apply_faults(req, now))
		sbx_route(req);
	sbx_metrics_inflight(req->mutating, -1);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
                                  const char *version, const char *upload, size_t *upload_size,
                                  void **con_cls)
{
	(void)version;
	struct conn_req *c = *con_cls;
	if (!c) {
		c = calloc(1, sizeof *c);
		if (!c)
			return MHD_NO;
		c->start = sbx_monotonic();
		c->req.srv = cls;
		c->req.conn = conn;
		c->req.url = url;
		c->req.method = method;
		c->req.content_type = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Content-Type");
		char user[256];
		c->unauthorized = !sbx_auth_check(conn, user, sizeof user);
		*con_cls = c;
		return MHD_YES;
	}
	if (*upload_size) {
		if (!c->unauthorized && c->req.body.len + *upload_size <= MAX_BODY)
			rk_buf_append(&c->req.body, upload, *upload_size);
		else if (!c->unauthorized)
			c->too_large = 1;
		*upload_size = 0;
		return MHD_YES;
	}
	answer(c);
	sbx_metrics_request(c->req.verb, c->req.group, c->req.resource, c->req.scope, c->req.status,
	                    sbx_monotonic() - c->start);
	return send_answer(c);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
	(void)cls, (void)conn, (void)toe;
	struct conn_req *c = *con_cls;
	if (!c)
		return;
	rk_buf_wipe_free(&c->req.body); /* bodies may hold secret data */
	rk_buf_wipe_free(&c->req.out);
	free(c);
	*con_cls = NULL;
}

static void on_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
                          enum MHD_ConnectionNotificationCode toe)
{
	(void)cls, (void)socket_context;
	if (toe != MHD_CONNECTION_NOTIFY_STARTED)
		return;
	const union MHD_ConnectionInfo *ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
	int one = 1;
	if (ci)
		setsockopt(ci->connect_fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
	(void)cls;
	char msg[512];
	vsnprintf(msg, sizeof msg, fmt, ap);
	size_t n = strlen(msg);
	while (n > 0 && msg[n - 1] == '\n')
		msg[--n] = 0;
	rk_debug("http.mhd", "%s", msg);
}

static int load_pki(const char *dir, rk_err *err)
{
	char path[4096];
	snprintf(path, sizeof path, "%s/pki/apiserver.key", dir);
	tls_key = sbx_read_file(path, &tls_key_len);
	if (!tls_key)
		return rk_err_set(err, RK_BADINPUT, "%s: cannot read the serving key", path);
	snprintf(path, sizeof path, "%s/pki/apiserver.crt", dir);
	tls_cert = sbx_read_file(path, NULL);
	if (!tls_cert)
		return rk_err_set(err, RK_BADINPUT, "%s: cannot read the serving certificate", path);
	snprintf(path, sizeof path, "%s/pki/ca.crt", dir);
	tls_ca = sbx_read_file(path, NULL);
	if (!tls_ca)
		return rk_err_set(err, RK_BADINPUT, "%s: cannot read the CA certificate", path);
	snprintf(path, sizeof path, "%s/pki/tokens.csv", dir);
	return sbx_auth_init(path, err);
}

static void free_pki(void)
{
	if (tls_key)
		OPENSSL_cleanse(tls_key, tls_key_len);
	free(tls_key);
	free(tls_cert);
	free(tls_ca);
	tls_key = tls_cert = tls_ca = NULL;
	sbx_auth_free();
}

int sbx_http_start(sbx_server *srv, rk_err *err)
{
	if (MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES)
		return rk_err_set(err, RK_FAIL, "libmicrohttpd was built without TLS support");
	if (load_pki(srv->dir, err) != RK_OK) {
		free_pki();
		return err->code;
	}
	struct sockaddr_in addr;
	memset(&addr, 0, sizeof addr);
	addr.sin_family = AF_INET;
	addr.sin_port = htons((uint16_t)srv->port);
	addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	unsigned flags = MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_TLS |
	                 MHD_USE_ERROR_LOG | MHD_USE_POLL;
	srv->daemon = MHD_start_daemon(
	    flags, (uint16_t)srv->port, NULL, NULL, on_request, srv, MHD_OPTION_SOCK_ADDR,
	    (struct sockaddr *)&addr, MHD_OPTION_HTTPS_MEM_KEY, tls_key, MHD_OPTION_HTTPS_MEM_CERT, tls_cert,
	    MHD_OPTION_HTTPS_MEM_TRUST, tls_ca, MHD_OPTION_NOTIFY_COMPLETED, on_completed, NULL,
	    MHD_OPTION_NOTIFY_CONNECTION, on_connection, NULL, MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, NULL,
	    MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)120, MHD_OPTION_LISTENING_ADDRESS_REUSE, (unsigned)1,
	    MHD_OPTION_END);
	if (!srv->daemon) {
		free_pki();
		return rk_err_set(
		    err, RK_FAIL,
		    "cannot listen on 127.0.0.1:%d (port in use, or bad TLS material in %s/pki)", srv->port,
		    srv->dir);
	}
	const union MHD_DaemonInfo *di = MHD_get_daemon_info(srv->daemon, MHD_DAEMON_INFO_BIND_PORT);
	if (di && di->port)
		srv->port = di->port;
	return RK_OK;
}

void sbx_http_stop(sbx_server *srv)
{
	if (srv->daemon)
		MHD_stop_daemon(srv->daemon);
	srv->daemon = NULL;
	free_pki();
}
