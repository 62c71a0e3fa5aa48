/* fsutil.h: file-system helpers with the project's safety rules: atomic replacement, 0600 files,
 * 0700 directories. */
#ifndef REKEY_FSUTIL_H
#define REKEY_FSUTIL_H

#include <stddef.h>

#include "rekey/err.h"

/* Writes bytes atomically to path: temp file in the same directory (0600), fsync, the previous file
 * kept as path + ".bak" (0600) when `keep_backup`, rename, fsync of the directory. On any failure the
 * original file is intact and no temp file is left. The replacement (and the backup) keep the original's
 * owner and group: an apiserver running as another user still reads its config. A symlink at path is
 * followed: its target is replaced (temp file next to the target), the link stays. */
int rk_write_file_atomic(const char *path, const void *data, size_t len, int keep_backup, rk_err *err);

/* Like rk_write_file_atomic, after checking that path still holds exactly `expected` (what the caller
 * read and edited): RK_FAIL "changed since it was read" and nothing written when another writer got
 * there first. A symlinked path is written through: the link's target is replaced, the link kept. */
int rk_write_file_replacing(const char *path, const void *expected, size_t expected_len, const void *data,
                            size_t len, int keep_backup, rk_err *err);

/* write(2) until every byte is written (EINTR retried); 0, or -1 with errno set. */
int rk_write_all(int fd, const void *data, size_t len);

/* The largest input file rekeyctl reads: EncryptionConfigurations, plans, kubeconfigs and the files they
 * name (real ones are a few KiB; kube-apiserver's own limit on a Secret is 1 MiB). */
#define RK_INPUT_MAX (4u << 20)

/* Reads a whole file (malloc'd, NUL-terminated, grown without leaving unwiped copies). RK_BADINPUT with
 * "path: reason" when unreadable, and "path: larger than 4 MiB, ..." past RK_INPUT_MAX. */
int rk_read_file(const char *path, char **data, size_t *len, rk_err *err);

/* A path with a leading "~/" (or exactly "~") taken from $HOME, as a shell would; any other path is copied
 * unchanged ("~user/x" too). *out is malloc'd. 0, -1 when the path needs HOME and HOME is unset or
 * empty, -2 when out of memory. */
int rk_expand_home(const char *path, char **out);

/* fsync(2) of a directory (makes the entries created or renamed in it durable). */
int rk_fsync_dir(const char *dir, rk_err *err);

/* mkdir -p with mode for each created directory; existing directories are left as they are. */
int rk_mkdir_p(const char *path, unsigned mode, rk_err *err);

#endif
