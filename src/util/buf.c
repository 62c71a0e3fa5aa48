/* buf.c: growable byte buffers (see include/rekey/buf.h). */
#include "rekey/buf.h"

#include <openssl/crypto.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int rk_buf_reserve(rk_buf *b, size_t extra)
{
	if (extra > SIZE_MAX - b->len - 1)
		return -1;
	size_t need = b->len + extra + 1;
	if (need <= b->cap)
		return 0;
	size_t cap = b->cap ? b->cap : 64;
	while (cap < need)
		cap = cap > SIZE_MAX / 2 ? need : cap * 2;
	uint8_t *p = realloc(b->data, cap);
	if (!p)
		return -1;
	b->data = p;
	b->cap = cap;
	b->data[b->len] = 0;
	return 0;
}

int rk_buf_append(rk_buf *b, const void *data, size_t len)
{
	if (rk_buf_reserve(b, len) != 0)
		return -1;
	if (len)
		memcpy(b->data + b->len, data, len);
	b->len += len;
	b->data[b->len] = 0;
	return 0;
}

int rk_buf_append_str(rk_buf *b, const char *s)
{
	return rk_buf_append(b, s, strlen(s));
}

int rk_buf_printf(rk_buf *b, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0 || rk_buf_reserve(b, (size_t)n) != 0)
		return -1;
	va_start(ap, fmt);
	vsnprintf((char *)b->data + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
	return 0;
}

void rk_buf_reset(rk_buf *b)
{
	b->len = 0;
	if (b->data)
		b->data[0] = 0;
}

void rk_buf_free(rk_buf *b)
{
	free(b->data);
	b->data = NULL;
	b->len = b->cap = 0;
}

void rk_buf_wipe_free(rk_buf *b)
{
	if (b->data)
		OPENSSL_cleanse(b->data, b->cap);
	rk_buf_free(b);
}

char *rk_buf_steal(rk_buf *b)
{
	if (!b->data && rk_buf_reserve(b, 0) != 0)
		return NULL;
	char *s = (char *)b->data;
	b->data = NULL;
	b->len = b->cap = 0;
	return s;
}

const char *rk_buf_cstr(const rk_buf *b)
{
	return b->data ? (const char *)b->data : "";
}
