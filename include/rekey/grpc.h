/* grpc.h: a small gRPC client for unary calls over HTTP/2 (libcurl): h2c with prior knowledge on
 * http:// targets, TLS with ALPN h2 on https:// targets, h2c over a unix socket on unix: targets (a
 * KMS v2 plugin's socket). The caller brings the request message bytes and gets the response message
 * bytes back, whole or streamed in chunks as they arrive; grpc-status and grpc-message come from the
 * trailers (or a Trailers-Only reply). No compression, no retries, one call at a time per channel; the
 * connection is kept between calls. Framing follows grpc/grpc doc/PROTOCOL-HTTP2.md: each message is
 * a 1-byte compressed flag, a 4-byte big-endian length and the message. */
#ifndef REKEY_GRPC_H
#define REKEY_GRPC_H

#include <stddef.h>
#include <stdint.h>

#include "rekey/buf.h"
#include "rekey/err.h"

typedef struct rk_grpc_opts {
	/* http://host:port, https://host:port, unix:/path or unix:///path */
	const char *target;
	/* TLS (https:// only), PEM bytes in memory: the CA that signed the server (empty = the system's),
	 * a client certificate and its key. Copied by rk_grpc_open; the key copy is wiped on close. */
	const rk_buf *ca_pem, *cert_pem, *key_pem;
	long connect_timeout_ms; /* 0 = 10 s */
	size_t max_message;      /* largest response message accepted; 0 = 256 MiB */
} rk_grpc_opts;

typedef struct rk_grpc rk_grpc;

/* What a call ended with. code: the grpc-status (0 = OK), or RK_GRPC_NO_STATUS when the call ended
 * without one; not_grpc: the peer answered, but not as a gRPC server (no HTTP/2, an HTTP status other
 * than 200, another content-type, or no grpc-status at all): a caller may try another protocol. */
enum { RK_GRPC_NO_STATUS = -1 };
typedef struct rk_grpc_status {
	int code;
	char message[512]; /* grpc-message, percent-decoded */
	int not_grpc;
	long http_status;
} rk_grpc_status;

/* Receives the response message in chunks as they arrive (a unary reply is one message); non-zero
 * aborts the call (rk_grpc_call returns what the sink left in err, or RK_FAIL). */
typedef int (*rk_grpc_sink)(void *ctx, const uint8_t *data, size_t len);

int rk_grpc_open(const rk_grpc_opts *opts, rk_grpc **out, rk_err *err);
void rk_grpc_close(rk_grpc *g);

/* One unary call of method ("/package.Service/Method") with deadline_ms (0 = none; sent as
 * grpc-timeout and enforced locally). RK_OK when grpc-status is 0 and exactly one message came back;
 * RK_FAIL otherwise, with err "TARGET METHOD: ..." naming the grpc-status and grpc-message, the
 * transport error, or what was not gRPC about the reply; st (optional) tells which. */
int rk_grpc_call(rk_grpc *g, const char *method, const uint8_t *req, size_t req_len, long deadline_ms,
                 rk_grpc_sink sink, void *sink_ctx, rk_grpc_status *st, rk_err *err);
/* The same, collecting the response message into resp (reset first; mark it secret with
 * rk_buf_set_secret when replies carry key material). The framed copy of the request is a secret
 * buffer, wiped when the call ends. */
int rk_grpc_call_buf(rk_grpc *g, const char *method, const uint8_t *req, size_t req_len, long deadline_ms,
                     rk_buf *resp, rk_grpc_status *st, rk_err *err);

/* The canonical name of a status code ("NOT_FOUND"), "UNKNOWN" past 16. */
const char *rk_grpc_code_name(int code);

/* ---- wire helpers (exposed for tests) ---- */

/* Appends one Length-Prefixed-Message (flag 0, big-endian length, msg). 0, or -1 (out of memory or
 * over 4 GiB). */
int rk_grpc_frame(rk_buf *out, const uint8_t *msg, size_t len);

/* Splits a response body into messages as its bytes arrive in any chunks. */
typedef struct rk_grpc_deframer {
	uint8_t prefix[5];
	size_t have_prefix; /* bytes of the current prefix seen */
	size_t remaining;   /* message bytes still to come after a whole prefix */
	size_t messages;    /* messages started */
	size_t max_message;
	int in_message;
	rk_grpc_sink sink;
	void *sink_ctx;
	char error[128]; /* why rk_grpc_deframe failed */
} rk_grpc_deframer;
void rk_grpc_deframer_init(rk_grpc_deframer *d, size_t max_message, rk_grpc_sink sink, void *ctx);
/* 0, -1 = malformed (compressed flag set, message over the limit, a second message in a unary
 * reply; d->error says which), -2 = the sink refused. */
int rk_grpc_deframe(rk_grpc_deframer *d, const uint8_t *data, size_t len);
/* After the body: 0 when exactly one whole message arrived, -1 otherwise (d->error says why). */
int rk_grpc_deframe_end(rk_grpc_deframer *d);

/* grpc-message is percent-encoded: decodes %XX (invalid sequences are kept as they are) into out. */
void rk_grpc_percent_decode(const char *in, size_t len, char *out, size_t cap);
/* "grpc-timeout: 1500m" for a deadline in ms (at most 8 digits: larger values in seconds, then
 * minutes, then hours). */
void rk_grpc_timeout_header(long ms, char *out, size_t cap);

#endif
