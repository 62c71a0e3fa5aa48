/* grpc_wire.c: the gRPC wire pieces that need no connection (see include/rekey/grpc.h): message
 * framing and deframing (5-byte prefix: compressed flag, big-endian length), grpc-message percent
 * decoding, grpc-timeout formatting and status code names. */
#include <stdio.h>
#include <string.h>

#include "rekey/grpc.h"

int rk_grpc_frame(rk_buf *out, const uint8_t *msg, size_t len)
{
	if (len > UINT32_MAX || rk_buf_reserve(out, 5 + len) != 0)
		return -1;
	uint8_t prefix[5] = {0, (uint8_t)(len >> 24), (uint8_t)(len >> 16), (uint8_t)(len >> 8),
	                     (uint8_t)len};
	rk_buf_append(out, prefix, sizeof prefix); /* room reserved: cannot fail */
	return rk_buf_append(out, msg, len);
}

void rk_grpc_deframer_init(rk_grpc_deframer *d, size_t max_message, rk_grpc_sink sink, void *ctx)
{
	memset(d, 0, sizeof *d);
	d->max_message = max_message;
	d->sink = sink;
	d->sink_ctx = ctx;
}

static int fail(rk_grpc_deframer *d, const char *why)
{
	snprintf(d->error, sizeof d->error, "%s", why);
	return -1;
}

/* A whole prefix has arrived: checks it and starts the message. */
static int start_message(rk_grpc_deframer *d)
{
	const uint8_t *p = d->prefix;
	size_t len = (size_t)p[1] << 24 | (size_t)p[2] << 16 | (size_t)p[3] << 8 | p[4];
	d->have_prefix = 0;
	if (p[0] == 1)
		return fail(d, "compressed message in the reply (no grpc-encoding was asked for)");
	if (p[0] != 0)
		return fail(d, "bad message prefix (compressed flag neither 0 nor 1)");
	if (++d->messages > 1)
		return fail(d, "more than one message in a unary reply");
	if (len > d->max_message) {
		snprintf(d->error, sizeof d->error, "reply message of %zu bytes is over the limit of %zu",
		         len, d->max_message);
		return -1;
	}
	d->remaining = len;
	d->in_message = len > 0;
	return 0;
}

int rk_grpc_deframe(rk_grpc_deframer *d, const uint8_t *data, size_t len)
{
	while (len > 0) {
		if (!d->in_message) {
			size_t take = 5 - d->have_prefix < len ? 5 - d->have_prefix : len;
			memcpy(d->prefix + d->have_prefix, data, take);
			d->have_prefix += take;
			data += take;
			len -= take;
			if (d->have_prefix == 5 && start_message(d) != 0)
				return -1;
			continue;
		}
		size_t take = d->remaining < len ? d->remaining : len;
		if (d->sink && d->sink(d->sink_ctx, data, take) != 0)
			return -2;
		d->remaining -= take;
		d->in_message = d->remaining > 0;
		data += take;
		len -= take;
	}
	return 0;
}

int rk_grpc_deframe_end(rk_grpc_deframer *d)
{
	if (d->in_message) {
		snprintf(d->error, sizeof d->error, "reply cut short: %zu message bytes missing",
		         d->remaining);
		return -1;
	}
	if (d->have_prefix)
		return fail(d, "reply cut short inside a message prefix");
	if (d->messages != 1)
		return fail(d, "no message in the reply");
	return 0;
}

static int hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

void rk_grpc_percent_decode(const char *in, size_t len, char *out, size_t cap)
{
	size_t o = 0;
	if (cap == 0)
		return;
	for (size_t i = 0; i < len && o + 1 < cap; i++) {
		int hi = in[i] == '%' && i + 2 < len ? hex_value(in[i + 1]) : -1;
		int lo = hi >= 0 ? hex_value(in[i + 2]) : -1;
		if (lo >= 0) {
			out[o++] = (char)(hi << 4 | lo);
			i += 2;
		} else {
			out[o++] = in[i];
		}
	}
	out[o] = '\0';
}

void rk_grpc_timeout_header(long ms, char *out, size_t cap)
{
	static const struct {
		long per;
		char unit;
	} units[] = {{1, 'm'}, {1000, 'S'}, {60000, 'M'}, {3600000, 'H'}};
	if (ms < 1)
		ms = 1;
	size_t i = 0;
	long v = ms;
	for (; i < sizeof units / sizeof units[0]; i++) {
		v = (ms + units[i].per - 1) / units[i].per; /* round up: never a shorter deadline */
		if (v <= 99999999)
			break;
	}
	if (i == sizeof units / sizeof units[0]) {
		i--;
		v = 99999999;
	}
	snprintf(out, cap, "grpc-timeout: %ld%c", v, units[i].unit);
}

const char *rk_grpc_code_name(int code)
{
	static const char *const names[] = {
	    "OK",        "CANCELLED",       "UNKNOWN",           "INVALID_ARGUMENT",   "DEADLINE_EXCEEDED",
	    "NOT_FOUND", "ALREADY_EXISTS",  "PERMISSION_DENIED", "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION",
	    "ABORTED",   "OUT_OF_RANGE",    "UNIMPLEMENTED",     "INTERNAL",           "UNAVAILABLE",
	    "DATA_LOSS", "UNAUTHENTICATED",
	};
	return code >= 0 && code < (int)(sizeof names / sizeof names[0]) ? names[code] : "UNKNOWN";
}
