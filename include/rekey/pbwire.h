/* pbwire.h: a minimal protobuf wire format (no schema): a bounds-checked reader that walks the fields of
 * one message in any order, a probe that tells whether a whole field has arrived yet (for decoding a
 * message as it streams in), and an encoder that appends fields to a buffer. Used for kms v2
 * EncryptedObject, etcd's mvccpb.KeyValue and etcd's RangeRequest/RangeResponse. */
#ifndef REKEY_PBWIRE_H
#define REKEY_PBWIRE_H

#include <stddef.h>
#include <stdint.h>

#include "rekey/buf.h"

enum { RK_PB_VARINT = 0, RK_PB_FIXED64 = 1, RK_PB_BYTES = 2, RK_PB_FIXED32 = 5 };

typedef struct rk_pb_reader {
	const uint8_t *pos;
	const uint8_t *end;
} rk_pb_reader;

typedef struct rk_pb_field {
	uint32_t num;        /* field number (>= 1) */
	int wire;            /* RK_PB_* */
	uint64_t value;      /* varint, fixed64 or fixed32 value */
	const uint8_t *data; /* RK_PB_BYTES: points into the message */
	size_t len;
} rk_pb_field;

void rk_pb_init(rk_pb_reader *r, const uint8_t *data, size_t len);
/* 1 = a field was read into f, 0 = end of message, -1 = malformed (truncated, bad wire type, field 0,
 * overlong varint, length past the end). */
int rk_pb_next(rk_pb_reader *r, rk_pb_field *f);

/* Whether data starts with a whole field: 1 = yes, its size in bytes (tag, length, payload) in *size;
 * 0 = data ends inside the field (read more and ask again); -1 = malformed whatever follows (field 0,
 * group or unknown wire type, varint over 10 bytes). */
int rk_pb_field_size(const uint8_t *data, size_t len, size_t *size);

/* Encoder: each appends one field to b; 0, or -1 when out of memory. proto3 omits zero and empty
 * fields: the caller decides whether to call at all. */
int rk_pb_put_varint(rk_buf *b, uint32_t num, uint64_t value);
int rk_pb_put_bytes(rk_buf *b, uint32_t num, const void *data, size_t len);

#endif
