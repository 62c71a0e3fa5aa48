/* keyfile.c: reading and writing 0600 key files (see include/rekey/keyfile.h). Buffers that held key
 * material are wiped before they are freed. */
#include "rekey/keyfile.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "rekey/fsutil.h"

#define KEYFILE_MAX 1024

int rk_key_write_file(const char *path, const rk_key *key, rk_err *err)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return rk_err_set(err, errno == EEXIST ? RK_BADINPUT : RK_FAIL,
		                  "%s: cannot create the key file: %s%s", path, strerror(errno),
		                  errno == EEXIST ? " (keygen never overwrites a file)" : "");
	size_t len = strlen(key->secret);
	int failed = fchmod(fd, 0600) != 0 || write(fd, key->secret, len) != (ssize_t)len ||
	             write(fd, "\n", 1) != 1 || fsync(fd) != 0;
	int saved = errno;
	failed |= close(fd) != 0;
	if (failed) {
		unlink(path);
		return rk_err_set(err, RK_FAIL, "%s: cannot write the key file: %s", path, strerror(saved));
	}
	char *slash = strrchr(path, '/');
	if (!slash)
		return rk_fsync_dir(".", err);
	char *dir = slash == path ? strdup("/") : strndup(path, (size_t)(slash - path));
	int rc = dir ? rk_fsync_dir(dir, err) : rk_err_set(err, RK_FAIL, "out of memory");
	free(dir);
	return rc;
}

static int check_key_file_mode(int fd, const char *path, rk_err *err)
{
	struct stat st;
	if (fstat(fd, &st) != 0)
		return rk_err_set(err, RK_FAIL, "%s: %s", path, strerror(errno));
	if (!S_ISREG(st.st_mode))
		return rk_err_set(err, RK_UNSAFE, "%s: not a regular file", path);
	if (st.st_mode & 077)
		return rk_err_set(err, RK_UNSAFE,
		                  "%s: mode %04o lets others read or change the key: chmod 600 it", path,
		                  (unsigned)(st.st_mode & 07777));
	return RK_OK;
}

static int read_key_text(int fd, const char *path, char *buf, size_t cap, rk_err *err)
{
	size_t n = 0;
	ssize_t got;
	while (n < cap - 1 && (got = read(fd, buf + n, cap - 1 - n)) > 0)
		n += (size_t)got;
	if (n == cap - 1)
		return rk_err_set(err, RK_BADINPUT, "%s: too large for a key file", path);
	while (n > 0 && (buf[n - 1] == ' ' || buf[n - 1] == '\t' || buf[n - 1] == '\r' || buf[n - 1] == '\n'))
		n--;
	buf[n < cap ? n : cap - 1] = '\0';
	return RK_OK;
}

static int take_secret(const char *path, const char *text, rk_key *key, rk_err *err)
{
	uint8_t raw[KEYFILE_MAX];
	rk_key probe = {.secret = (char *)text};
	int n = rk_key_decode(&probe, raw, 64);
	OPENSSL_cleanse(raw, sizeof raw);
	if (n <= 0)
		return rk_err_set(err, RK_BADINPUT, "%s: the key is not standard base64 of 1 to 64 bytes",
		                  path);
	if (key->secret)
		OPENSSL_cleanse(key->secret, strlen(key->secret));
	free(key->secret);
	if (!(key->secret = strdup(text)))
		return rk_err_set(err, RK_FAIL, "out of memory");
	return RK_OK;
}

int rk_key_read_file(const char *path, rk_key *key, rk_err *err)
{
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return rk_err_set(err, RK_BADINPUT, "%s: %s", path, strerror(errno));
	char buf[KEYFILE_MAX];
	int rc = check_key_file_mode(fd, path, err);
	if (rc == RK_OK)
		rc = read_key_text(fd, path, buf, sizeof buf, err);
	close(fd);
	if (rc == RK_OK)
		rc = take_secret(path, buf, key, err);
	OPENSSL_cleanse(buf, sizeof buf);
	return rc;
}

int rk_key_generate_file(rk_provider_type type, size_t bytes, const char *path, char *name, size_t name_cap,
                         char fp[17], rk_err *err)
{
	if (type != RK_PROV_AESCBC && type != RK_PROV_AESGCM && type != RK_PROV_SECRETBOX)
		return rk_err_set(err, RK_BADINPUT,
		                  "a key is generated for aescbc, aesgcm or secretbox, not %s",
		                  rk_provider_name(type));
	rk_key key;
	int rc = rk_key_generate(NULL, type, bytes, &key, err);
	if (rc == RK_OK)
		rc = rk_key_write_file(path, &key, err);
	if (rc == RK_OK && rk_key_fingerprint(&key, fp) != 0)
		rc = rk_err_set(err, RK_FAIL, "cannot fingerprint the new key");
	if (rc == RK_OK)
		snprintf(name, name_cap, "%s", key.name);
	rk_key_clear(&key);
	return rc;
}
