/* keyfile.h: key files: a 0600 file holding one standard-base64 key (what `rekeyctl keygen` writes and
 * `rekeyctl config add-key --key-file` reads). Key material never travels through argv or env. */
#ifndef REKEY_KEYFILE_H
#define REKEY_KEYFILE_H

#include "rekey/encconfig.h"
#include "rekey/err.h"

/* Creates path (refuses an existing file or symlink: O_EXCL|O_NOFOLLOW), mode 0600, writing
 * key->secret and a newline; the file and its directory are fsynced. RK_BADINPUT when the file exists. */
int rk_key_write_file(const char *path, const rk_key *key, rk_err *err);

/* Reads the base64 key from path into key->secret (trailing whitespace dropped; key->name untouched).
 * Refuses (RK_UNSAFE) a file that is not a regular file or that its group or others may read or write,
 * and (RK_BADINPUT) text that is not strict standard base64 of 1..64 bytes. Free with rk_key_clear. */
int rk_key_read_file(const char *path, rk_key *key, rk_err *err);

/* `rekeyctl keygen`: a new key of type (aescbc, aesgcm, secretbox; bytes 0 = 32) named
 * <provider>-<UTC time>, written to a new 0600 file at path (rk_key_write_file). Its name and fingerprint
 * go to name and fp; the key itself never leaves the file. */
int rk_key_generate_file(rk_provider_type type, size_t bytes, const char *path, char *name, size_t name_cap,
                         char fp[17], rk_err *err);

#endif
