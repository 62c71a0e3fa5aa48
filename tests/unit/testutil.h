/* testutil.h: helpers shared by the unit suites: temporary directories and whole-file reads. */
#ifndef REKEY_TESTUTIL_H
#define REKEY_TESTUTIL_H

#include <stddef.h>

/* Creates a fresh directory under $TMPDIR (or /tmp); returns a malloc'd path. */
char *tu_mkdtemp(void);
/* Removes a directory tree (rm -rf). */
void tu_rmtree(const char *path);
/* Writes len bytes to path (mode 0600); returns 0 on success. */
int tu_write_file(const char *path, const char *data, size_t len);
/* Reads a whole file; returns malloc'd NUL-terminated data and its length, NULL on error. */
char *tu_read_file(const char *path, size_t *len);
/* malloc'd path "dir/name". */
char *tu_path(const char *dir, const char *name);
/* 1 while process pid runs (a zombie nobody reaped counts as gone). */
int tu_process_running(int pid);

#endif
