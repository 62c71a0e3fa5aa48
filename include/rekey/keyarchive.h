/* keyarchive.h: the key archive. Every key rekeyctl prunes is archived first, so snapshots and backups
 * taken while it was in use stay readable: STATE/archive/<cluster>/<name>.<provider>.<fingerprint>.key,
 * one 0600 key file each (the base64 secret on one line, as `rekeyctl keygen` writes it), directories
 * 0700, every file and directory entry fsynced. In the file name the key name is percent-encoded
 * (anything but letters, digits, '-' and '_'), so names with dots or slashes round-trip. */
#ifndef REKEY_KEYARCHIVE_H
#define REKEY_KEYARCHIVE_H

#include <stddef.h>

#include "rekey/encconfig.h"
#include "rekey/err.h"

typedef struct rk_archived_key {
	char cluster[256];
	char name[256];
	char provider[16];    /* "aescbc", "aesgcm", "secretbox" */
	char fingerprint[17]; /* rk_key_fingerprint of the key, as recorded in the file name */
	char path[4096];
} rk_archived_key;

/* STATE/archive for a state directory. RK_BADINPUT when it does not fit in cap. */
int rk_archive_dir(const char *state_dir, char *out, size_t cap, rk_err *err);

/* Archives key (aescbc, aesgcm or secretbox) of cluster; *path (cap bytes, may be NULL) gets the file.
 * Idempotent: an entry already holding the same secret is kept; one holding another secret is
 * RK_UNSAFE (never overwritten). */
int rk_archive_put(const char *archive_dir, const char *cluster, rk_provider_type provider, const rk_key *key,
                   char *path, size_t cap, rk_err *err);

/* Calls cb for every entry of cluster (NULL = every cluster), in no particular order; a file whose name
 * is not an archive entry is skipped. A missing archive is empty. A non-zero return from cb stops the
 * walk and is returned. */
typedef int (*rk_archive_cb)(const rk_archived_key *entry, void *ud);
int rk_archive_each(const char *archive_dir, const char *cluster, rk_archive_cb cb, void *ud, rk_err *err);

#endif
