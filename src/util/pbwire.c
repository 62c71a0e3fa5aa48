/* pbwire.c: protobuf wire format (see include/rekey/pbwire.h): the field walker, the whole-field probe
 * and the encoder. Every read is checked against the end of the message; groups (wire types 3 and 4)
 * are rejected as malformed. */
#include "rekey/pbwire.h"

void rk_pb_init(rk_pb_reader *r, const uint8_t *data, size_t len)
{
	r->pos = data;
	r->end = data ? data + len : data;
}

static int read_varint(rk_pb_reader *r, uint64_t *out)
{
	uint64_t v = 0;
	for (int shift = 0; shift < 64; shift += 7) {
		if (r->pos >= r->end)
			return -1;
		uint8_t b = *r->pos++;
		if (shift == 63 && (b & 0x7e))
			return -1; /* more than 64 bits */
		v |= (uint64_t)(b & 0x7f) << shift;
		if (!(b & 0x80)) {
			*out = v;
			return 0;
		}
	}
	return -1;
}

static int read_fixed(rk_pb_reader *r, size_t n, uint64_t *out)
{
	if ((size_t)(r->end - r->pos) < n)
		return -1;
	uint64_t v = 0;
	for (size_t i = 0; i < n; i++)
		v |= (uint64_t)r->pos[i] << (8 * i);
	r->pos += n;
	*out = v;
	return 0;
}

static int read_payload(rk_pb_reader *r, rk_pb_field *f)
{
	switch (f->wire) {
	case RK_PB_VARINT:
		return read_varint(r, &f->value);
	case RK_PB_FIXED64:
		return read_fixed(r, 8, &f->value);
	case RK_PB_FIXED32:
		return read_fixed(r, 4, &f->value);
	case RK_PB_BYTES: {
		uint64_t len;
		if (read_varint(r, &len) != 0 || len > (uint64_t)(r->end - r->pos))
			return -1;
		f->data = r->pos;
		f->len = (size_t)len;
		r->pos += len;
		return 0;
	}
	default:
		return -1;
	}
}

int rk_pb_next(rk_pb_reader *r, rk_pb_field *f)
{
	if (!r->pos || r->pos >= r->end)
		return 0;
	uint64_t tag;
	if (read_varint(r, &tag) != 0)
		return -1;
	if ((tag >> 3) == 0 || (tag >> 3) > 0x1fffffff)
		return -1;
	f->num = (uint32_t)(tag >> 3);
	f->wire = (int)(tag & 7);
	f->value = 0;
	f->data = NULL;
	f->len = 0;
	return read_payload(r, f) == 0 ? 1 : -1;
}

/* Field size probe: the same rules as rk_pb_next, but "ran out of bytes" is 0, not malformed. */
static int probe_varint(const uint8_t *p, size_t len, size_t *used, uint64_t *out)
{
	rk_pb_reader r = {p, p + (len > 10 ? 10 : len)};
	if (read_varint(&r, out) == 0) {
		*used = (size_t)(r.pos - p);
		return 1;
	}
	return len >= 10 ? -1 : 0; /* ten bytes without an end (or past 64 bits) is malformed */
}

int rk_pb_field_size(const uint8_t *data, size_t len, size_t *size)
{
	size_t n = 0, m = 0;
	uint64_t tag = 0, v = 0;
	if (len == 0)
		return 0;
	int rc = probe_varint(data, len, &n, &tag);
	if (rc <= 0)
		return rc;
	if ((tag >> 3) == 0 || (tag >> 3) > 0x1fffffff)
		return -1;
	size_t fixed = (tag & 7) == RK_PB_FIXED64 ? 8 : (tag & 7) == RK_PB_FIXED32 ? 4 : 0;
	switch (tag & 7) {
	case RK_PB_VARINT:
		rc = probe_varint(data + n, len - n, &m, &v);
		*size = n + m;
		return rc;
	case RK_PB_FIXED64:
	case RK_PB_FIXED32:
		*size = n + fixed;
		return len - n >= fixed;
	case RK_PB_BYTES:
		rc = probe_varint(data + n, len - n, &m, &v);
		if (rc <= 0)
			return rc;
		if (v > SIZE_MAX - n - m)
			return -1;
		*size = n + m + (size_t)v;
		return len >= *size;
	default:
		return -1;
	}
}

/* Appends a varint; the caller has reserved room (at most 10 bytes). */
static void put_raw_varint(rk_buf *b, uint64_t v)
{
	do {
		b->data[b->len++] = (uint8_t)((v & 0x7f) | (v > 0x7f ? 0x80 : 0));
		v >>= 7;
	} while (v);
	b->data[b->len] = 0;
}

int rk_pb_put_varint(rk_buf *b, uint32_t num, uint64_t value)
{
	if (rk_buf_reserve(b, 20) != 0)
		return -1;
	put_raw_varint(b, (uint64_t)num << 3 | RK_PB_VARINT);
	put_raw_varint(b, value);
	return 0;
}

int rk_pb_put_bytes(rk_buf *b, uint32_t num, const void *data, size_t len)
{
	if (len > SIZE_MAX - 20 || rk_buf_reserve(b, 20 + len) != 0)
		return -1;
	put_raw_varint(b, (uint64_t)num << 3 | RK_PB_BYTES);
	put_raw_varint(b, len);
	return rk_buf_append(b, data, len); /* room reserved: cannot fail */
}
