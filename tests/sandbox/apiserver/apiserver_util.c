/* apiserver_util.c: random identifiers, timestamps and file helpers for the sandbox apiserver. */
#include "apiserver_util.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

void sbx_uuid(char out[37])
{
	uint8_t b[16];
	RAND_bytes(b, sizeof b);
	b[6] = (uint8_t)((b[6] & 0x0f) | 0x40);
	b[8] = (uint8_t)((b[8] & 0x3f) | 0x80);
	snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0], b[1],
	         b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]);
}

void sbx_random_suffix(char *out, size_t n)
{
	static const char alphabet[] = "bcdfghjklmnpqrstvwxz2456789"; /* as Kubernetes' rand.String */
	uint8_t r[64];
	if (n > sizeof r)
		n = sizeof r;
	RAND_bytes(r, (int)n);
	for (size_t i = 0; i < n; i++)
		out[i] = alphabet[r[i] % (sizeof alphabet - 1)];
	out[n] = 0;
}

void sbx_now_rfc3339(char out[40], int micro)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	struct tm tm;
	gmtime_r(&ts.tv_sec, &tm);
	size_t n = strftime(out, 40, "%Y-%m-%dT%H:%M:%S", &tm);
	if (micro)
		snprintf(out + n, 40 - n, ".%06dZ", (int)(ts.tv_nsec / 1000) % 1000000);
	else
		snprintf(out + n, 40 - n, "Z");
}

double sbx_monotonic(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int sbx_write_file(const char *path, const char *data, size_t len)
{
	char tmp[4096];
	if (snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid()) >= (int)sizeof tmp) {
		errno = ENAMETOOLONG;
		return -1;
	}
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return -1;
	ssize_t w = write(fd, data, len);
	if (w != (ssize_t)len || fsync(fd) < 0) {
		close(fd);
		unlink(tmp);
		return -1;
	}
	close(fd);
	if (rename(tmp, path) < 0) {
		unlink(tmp);
		return -1;
	}
	return 0;
}

char *sbx_read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	rk_buf b = RK_BUF_INIT;
	char chunk[8192];
	size_t n;
	while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
		if (rk_buf_append(&b, chunk, n) < 0) {
			fclose(f);
			rk_buf_free(&b);
			return NULL;
		}
	fclose(f);
	if (len)
		*len = b.len;
	return rk_buf_steal(&b);
}
