/* buf.h: growable byte buffers (always NUL-terminated so text can be used as a C string). A buffer
 * marked secret (key material, credentials, decrypted values) never leaves a copy behind: it grows by
 * allocate, copy, wipe the old block, free (never realloc), and is wiped when freed. */
#ifndef REKEY_BUF_H
#define REKEY_BUF_H

#include <stddef.h>
#include <stdint.h>

typedef struct rk_buf {
	uint8_t *data; /* NULL until the first append; data[len] == 0 once allocated */
	size_t len;
	size_t cap;
	int secret; /* grow without realloc, wipe on free */
} rk_buf;

#define RK_BUF_INIT                                                                                          \
	{                                                                                                    \
		NULL, 0, 0, 0                                                                                \
	}
#define RK_BUF_SECRET                                                                                        \
	{                                                                                                    \
		NULL, 0, 0, 1                                                                                \
	}

/* All return 0 on success, -1 when out of memory (the buffer is unchanged then). */
int rk_buf_reserve(rk_buf *b, size_t extra);
int rk_buf_append(rk_buf *b, const void *data, size_t len);
int rk_buf_append_str(rk_buf *b, const char *s);
int rk_buf_printf(rk_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void rk_buf_set_secret(rk_buf *b);        /* from now on (and the bytes it holds): see above */
void rk_buf_reset(rk_buf *b);             /* len = 0, keeps memory */
void rk_buf_free(rk_buf *b);              /* frees memory */
void rk_buf_wipe_free(rk_buf *b);         /* OPENSSL_cleanse over the capacity, then frees (key material) */
char *rk_buf_steal(rk_buf *b);            /* returns data (NUL-terminated, never NULL) and resets b */
const char *rk_buf_cstr(const rk_buf *b); /* "" when empty */

/* Observes every block a buffer releases, just before free(3) (tests and audits: proves a secret
 * buffer's old blocks were wiped). NULL = none. Not thread-safe to change while buffers are in use. */
typedef void (*rk_buf_release_observer)(const uint8_t *block, size_t cap, int secret, void *ud);
void rk_buf_observe_releases(rk_buf_release_observer observer, void *ud);

#endif
