/* apiserver_util.h: small helpers of the sandbox apiserver (base64 is librekey's rekey/base64.h): random
 * identifiers, timestamps, and writing a file atomically. */
#ifndef REKEY_SBX_UTIL_H
#define REKEY_SBX_UTIL_H

#include <stddef.h>
#include <stdint.h>

#include "rekey/buf.h"

/* A random RFC 4122 version-4 UUID (36 chars + NUL). */
void sbx_uuid(char out[37]);
/* Lower-case random letters and digits (n chars + NUL), as generateName uses. */
void sbx_random_suffix(char *out, size_t n);
/* Now in RFC 3339 UTC: "2006-01-02T15:04:05Z" (micro = 0) or with microseconds (micro = 1). */
void sbx_now_rfc3339(char out[40], int micro);
/* Monotonic seconds. */
double sbx_monotonic(void);

/* Writes data to path through a temp file and rename (mode 0644). 0 or -1 (errno set). */
int sbx_write_file(const char *path, const char *data, size_t len);
/* Reads a whole file (malloc'd, NUL-terminated); NULL on error. */
char *sbx_read_file(const char *path, size_t *len);

#endif
