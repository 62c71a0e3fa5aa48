/* buf.c: growable byte buffers (see include/rekey/buf.h). */
#include "rekey/buf.h"

#include <openssl/crypto.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static rk_buf_release_observer release_observer;
static void *release_observer_ud;

void rk_buf_observe_releases(rk_buf_release_observer observer, void *ud)
{
	release_observer = observer;
	release_observer_ud = ud;
}

/* Frees a block the buffer no longer uses, wiped first when it held secrets. */
static void release(uint8_t *block, size_t cap, int secret)
{
	if (!block)
		return;
	if (secret)
		OPENSSL_cleanse(block, cap);
	if (release_observer)
		release_observer(block, cap, secret, release_observer_ud);
	free(block);
}

/* A secret buffer never uses realloc: it could leave the old bytes in a block it frees unwiped. */
static uint8_t *grow_block(rk_buf *b, size_t cap)
{
	if (!b->secret)
		return realloc(b->data, cap);
	uint8_t *p = malloc(cap);
	if (p && b->data) {
		memcpy(p, b->data, b->len + 1);
		release(b->data, b->cap, 1);
	}
	return p;
}

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
	uint8_t *p = grow_block(b, cap);
	if (!p)
		return -1;
	b->data = p;
	b->cap = cap;
	b->data[b->len] = 0;
	return 0;
}

void rk_buf_set_secret(rk_buf *b)
{
	b->secret = 1;
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
	release(b->data, b->cap, b->secret);
	b->data = NULL;
	b->len = b->cap = 0;
}

void rk_buf_wipe_free(rk_buf *b)
{
	release(b->data, b->cap, 1);
	b->data = NULL;
	b->len = b->cap = 0;
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
