/* pbwire.c: protobuf wire-format field walker (see include/rekey/pbwire.h). Every read is checked
 * against the end of the message; groups (wire types 3 and 4) are rejected as malformed. */
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
