/* fsutil.c: atomic file replacement (temp file in the same directory, fsync, backup, rename, fsync of
 * the directory), whole-file reads and mkdir -p (see include/rekey/fsutil.h).
 * The temp and backup-temp names are fixed per process (".<name>.rekey-<pid>.tmp") and opened with
 * O_EXCL|O_NOFOLLOW: a planted file or symlink at that name makes the write fail, never followed. */
#include "rekey/fsutil.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int rk_write_all(int fd, const void *data, size_t len)
{
	const char *p = data;
	while (len > 0) {
		ssize_t n = write(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* dirname and basename copies of path (malloc'd). */
static int split_path(const char *path, char **dir, char **base)
{
	char *a = strdup(path), *b = strdup(path);
	*dir = *base = NULL;
	if (a && b) {
		*dir = strdup(dirname(a));
		*base = strdup(basename(b));
	}
	free(a);
	free(b);
	if (!*dir || !*base) {
		free(*dir);
		free(*base);
		return -1;
	}
	return 0;
}

static int fsync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	int rc = fsync(fd);
	close(fd);
	return rc;
}

int rk_fsync_dir(const char *dir, rk_err *err)
{
	if (fsync_dir(dir) != 0)
		return rk_err_set(err, RK_FAIL, "%s: cannot fsync the directory: %s", dir, strerror(errno));
	return RK_OK;
}

/* The owner the replacement must keep (the original's: an apiserver running as a non-root user must
 * still read its 0600 config); -1/-1 when there is no original. */
typedef struct owner {
	uid_t uid;
	gid_t gid;
} owner;

static owner owner_of(const char *path)
{
	struct stat st;
	owner o = {(uid_t)-1, (gid_t)-1};
	if (stat(path, &st) == 0) {
		o.uid = st.st_uid;
		o.gid = st.st_gid;
	}
	return o;
}

static int keep_owner(int fd, owner o)
{
	struct stat st;
	if (o.uid == (uid_t)-1 || fstat(fd, &st) != 0)
		return 0;
	if (st.st_uid == o.uid && st.st_gid == o.gid)
		return 0;
	return fchown(fd, o.uid, o.gid);
}

/* Writes data into a new 0600 file `tmp` (O_EXCL) owned like the original, fsyncs it. On failure
 * removes it if created. */
static int write_new_file(const char *tmp, const void *data, size_t len, owner o, rk_err *err)
{
	int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return rk_err_set(err, RK_FAIL, "%s: cannot create: %s", tmp, strerror(errno));
	int failed = fchmod(fd, 0600) != 0 || keep_owner(fd, o) != 0 || rk_write_all(fd, data, len) != 0 ||
	             fsync(fd) != 0;
	int saved = errno;
	if (close(fd) != 0 && !failed) {
		failed = 1;
		saved = errno;
	}
	if (failed) {
		unlink(tmp);
		return rk_err_set(err, RK_FAIL, "%s: cannot write: %s", tmp, strerror(saved));
	}
	return RK_OK;
}

/* Copies the current file at path to path.bak (0600) through its own temp file. ENOENT: no backup. */
static int keep_backup_copy(const char *path, const char *bak_tmp, rk_err *err)
{
	char *old = NULL;
	size_t old_len = 0;
	struct stat st;
	if (lstat(path, &st) != 0 && errno == ENOENT)
		return RK_OK;
	int rc = rk_read_file(path, &old, &old_len, err);
	if (rc != RK_OK)
		return RK_FAIL;
	rc = write_new_file(bak_tmp, old, old_len, owner_of(path), err);
	OPENSSL_cleanse(old, old_len);
	free(old);
	if (rc != RK_OK)
		return rc;
	char bak[4096];
	snprintf(bak, sizeof bak, "%s.bak", path);
	if (rename(bak_tmp, bak) != 0) {
		int saved = errno;
		unlink(bak_tmp);
		return rk_err_set(err, RK_FAIL, "%s: cannot keep the backup: %s", bak, strerror(saved));
	}
	return RK_OK;
}

/* The file a write must replace: path itself, or the final target when path is a symlink. */
static char *write_target(const char *path)
{
	struct stat st;
	if (lstat(path, &st) == 0 && S_ISLNK(st.st_mode))
		return realpath(path, NULL);
	return strdup(path);
}

static int write_atomic_at(const char *path, const void *data, size_t len, int keep_backup, rk_err *err);

int rk_write_file_atomic(const char *path, const void *data, size_t len, int keep_backup, rk_err *err)
{
	char *target = write_target(path);
	if (!target)
		return rk_err_set(err, RK_FAIL, "%s: cannot resolve the link: %s", path, strerror(errno));
	int rc = write_atomic_at(target, data, len, keep_backup, err);
	free(target);
	return rc;
}

int rk_write_file_replacing(const char *path, const void *expected, size_t expected_len, const void *data,
                            size_t len, int keep_backup, rk_err *err)
{
	char *current;
	size_t current_len;
	int rc = rk_read_file(path, &current, &current_len, err);
	if (rc != RK_OK)
		return RK_FAIL;
	int same = current_len == expected_len && memcmp(current, expected, expected_len) == 0;
	OPENSSL_cleanse(current, current_len);
	free(current);
	if (!same)
		return rk_err_set(err, RK_FAIL, "%s: changed since it was read: nothing written, run again",
		                  path);
	return rk_write_file_atomic(path, data, len, keep_backup, err);
}

static int write_atomic_at(const char *path, const void *data, size_t len, int keep_backup, rk_err *err)
{
	char *dir, *base;
	if (strlen(path) > 4000 || split_path(path, &dir, &base) != 0)
		return rk_err_set(err, RK_FAIL, "%s: path too long or out of memory", path);
	char tmp[4096], bak_tmp[4096];
	snprintf(tmp, sizeof tmp, "%s/.%s.rekey-%ld.tmp", dir, base, (long)getpid());
	snprintf(bak_tmp, sizeof bak_tmp, "%s/.%s.rekey-%ld.bak.tmp", dir, base, (long)getpid());
	int rc = write_new_file(tmp, data, len, owner_of(path), err);
	if (rc == RK_OK && keep_backup && (rc = keep_backup_copy(path, bak_tmp, err)) != RK_OK)
		unlink(tmp);
	if (rc == RK_OK && rename(tmp, path) != 0) {
		rc = rk_err_set(err, RK_FAIL, "%s: cannot replace: %s", path, strerror(errno));
		unlink(tmp);
	}
	if (rc == RK_OK && fsync_dir(dir) != 0)
		rc = rk_err_set(err, RK_FAIL, "%s: cannot fsync the directory: %s", dir, strerror(errno));
	free(dir);
	free(base);
	return rc;
}

/* Doubles a buffer that may hold key material: the old copy is wiped before it is freed. */
static int grow_wiped(char **buf, size_t *cap, size_t used)
{
	size_t bigger = *cap ? *cap * 2 : 8192;
	char *grown = malloc(bigger);
	if (!grown)
		return -1;
	if (*buf) {
		memcpy(grown, *buf, used);
		OPENSSL_cleanse(*buf, *cap);
		free(*buf);
	}
	*buf = grown;
	*cap = bigger;
	return 0;
}

static int too_large(const char *path, rk_err *err)
{
	return rk_err_set(err, RK_BADINPUT,
	                  "%s: larger than %u MiB, the limit for configs, plans and kubeconfigs", path,
	                  RK_INPUT_MAX >> 20);
}

int rk_read_file(const char *path, char **data, size_t *len, rk_err *err)
{
	*data = NULL;
	*len = 0;
	FILE *f = fopen(path, "rb");
	if (!f)
		return rk_err_set(err, RK_BADINPUT, "%s: %s", path, strerror(errno));
	setvbuf(f, NULL, _IONBF, 0); /* no stdio buffer: it would be freed holding key bytes unwiped */
	struct stat st;
	if (fstat(fileno(f), &st) == 0 && S_ISREG(st.st_mode) && st.st_size > (off_t)RK_INPUT_MAX) {
		fclose(f);
		return too_large(path, err);
	}
	char *buf = NULL;
	size_t cap = 0, n = 0, got;
	int oom = 0;
	do {
		if (n + 4096 + 1 > cap && (oom = grow_wiped(&buf, &cap, n)) != 0)
			break;
		got = fread(buf + n, 1, cap - n - 1, f);
		n += got;
	} while (got > 0 && n <= RK_INPUT_MAX);
	int failed = oom || ferror(f) || n > RK_INPUT_MAX, saved = errno;
	fclose(f);
	if (failed) {
		if (buf)
			OPENSSL_cleanse(buf, cap);
		free(buf);
		if (n > RK_INPUT_MAX)
			return too_large(path, err);
		return rk_err_set(err, RK_BADINPUT, "%s: %s", path, oom ? "out of memory" : strerror(saved));
	}
	buf[n] = '\0';
	*data = buf;
	*len = n;
	return RK_OK;
}

int rk_mkdir_p(const char *path, unsigned mode, rk_err *err)
{
	char buf[4096];
	if (strlen(path) >= sizeof buf)
		return rk_err_set(err, RK_BADINPUT, "%s: path too long", path);
	strcpy(buf, path);
	for (char *p = buf + 1;; p++) {
		if (*p != '/' && *p != '\0')
			continue;
		char saved = *p;
		*p = '\0';
		if (mkdir(buf, (mode_t)mode) != 0 && errno != EEXIST)
			return rk_err_set(err, RK_FAIL, "%s: cannot create: %s", buf, strerror(errno));
		*p = saved;
		if (!saved)
			break;
	}
	struct stat st;
	if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode))
		return rk_err_set(err, RK_FAIL, "%s: not a directory", path);
	return RK_OK;
}

int rk_expand_home(const char *path, char **out)
{
	*out = NULL;
	if (path[0] != '~' || (path[1] != '\0' && path[1] != '/'))
		return (*out = strdup(path)) ? 0 : -2;
	const char *home = getenv("HOME");
	if (!home || !*home)
		return -1;
	return asprintf(out, "%s%s", home, path + 1) < 0 ? (*out = NULL, -2) : 0;
}
