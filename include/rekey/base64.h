/* base64.h: the one base64 codec of rekeyctl (RFC 4648), with the variants Go's encoding/base64 uses
 * where Kubernetes and etcd read and write base64: standard with padding (secrets in an
 * EncryptionConfiguration, []byte fields in JSON and kubeconfigs, the etcd gateway) and URL-safe without
 * padding (continue tokens). Decoding never allocates more than the input needs and never uses the stack
 * for the input's size, so it is safe on any input length. */
#ifndef REKEY_BASE64_H
#define REKEY_BASE64_H

#include <stddef.h>

#include "rekey/buf.h"

enum rk_b64_flags {
	RK_B64_STD = 0,      /* standard alphabet, padding required */
	RK_B64_URL = 1,      /* URL-safe alphabet without padding (Go's RawURLEncoding) */
	RK_B64_NEWLINES = 2, /* decode: skip '\r' and '\n' anywhere, as Go's decoders do */
	RK_B64_STRICT = 4    /* decode: the unused bits of the last symbol must be zero */
};

/* Appends the encoding of data to out (NUL-terminated). 0, or -1 when out of memory. */
int rk_b64_encode(const void *data, size_t len, unsigned flags, rk_buf *out);

/* Decodes text[0..len) into out[0..cap). Returns the decoded length, or -1 when the text is not valid
 * base64 of that variant or decodes to more than cap bytes. */
long rk_b64_decode_to(const char *text, size_t len, unsigned flags, unsigned char *out, size_t cap);

/* Appends the decoded bytes to out (NUL-terminated; room reserved once, before any byte is written).
 * 0, or -1 when invalid or out of memory. */
int rk_b64_decode(const char *text, size_t len, unsigned flags, rk_buf *out);

#endif
