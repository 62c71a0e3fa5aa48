/* pbwire.h: a minimal, bounds-checked protobuf wire-format reader (no schema): walks the fields of
 * one message in any order. Used for kms v2 EncryptedObject and etcd's mvccpb.KeyValue. */
#ifndef REKEY_PBWIRE_H
#define REKEY_PBWIRE_H

#include <stddef.h>
#include <stdint.h>

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

#endif
