/* etcd.h: a client for etcd's v3 JSON gateway (POST /v3/kv/...) over libcurl, shared by both halves
 * of the sandbox. Keys and values are bytes (base64 on the wire); int64 fields travel as strings and
 * proto3 JSON omits false/zero/empty fields, which the parser treats as their zero values.
 * One curl easy handle per calling thread (kept alive across calls, freed when the thread exits). */
#ifndef REKEY_SBX_ETCD_H
#define REKEY_SBX_ETCD_H

#include <stddef.h>
#include <stdint.h>

#include "rekey/err.h"

/* Return value (besides RK_OK / RK_FAIL) when the requested revision has been compacted. */
#define SBX_ETCD_COMPACTED 10

typedef struct sbx_etcd sbx_etcd;

typedef struct sbx_kv {
	char *key; /* NUL-terminated (keys are text in the sandbox) */
	size_t key_len;
	uint8_t *value; /* NUL-terminated for convenience */
	size_t value_len;
	int64_t create_rev, mod_rev, version;
} sbx_kv;

typedef struct sbx_range {
	sbx_kv *kvs;
	size_t n;
	int more;         /* more keys past the limit */
	int64_t count;    /* keys in the whole range (from the start key) */
	int64_t revision; /* header revision the range was served at */
} sbx_range;

/* url = "http://127.0.0.1:PORT" (a trailing slash is fine). timeout_ms bounds each call (0 = 10 s). */
int sbx_etcd_open(const char *url, long timeout_ms, sbx_etcd **out, rk_err *err);
void sbx_etcd_close(sbx_etcd *etcd);
/* Frees the calling thread's curl handle now (threads that exit get it freed automatically). */
void sbx_etcd_thread_done(void);

/* Range [key, range_end) (range_end NULL = the single key; "" = prefix end computed from key is NOT
 * implied: use sbx_prefix_end). limit 0 = all; revision 0 = latest; keys_only skips values.
 * Returns RK_OK, SBX_ETCD_COMPACTED or RK_FAIL. */
int sbx_etcd_range(sbx_etcd *etcd, const char *key, const char *range_end, int64_t limit, int64_t revision,
                   int keys_only, sbx_range *out, rk_err *err);
/* The same with an explicit key length (keys holding NUL bytes, as continue start keys do). */
int sbx_etcd_range_n(sbx_etcd *etcd, const char *key, size_t key_len, const char *range_end, int64_t limit,
                     int64_t revision, int keys_only, sbx_range *out, rk_err *err);
void sbx_range_free(sbx_range *r);
/* The end of the prefix range of `prefix` (last byte + 1), malloc'd. */
char *sbx_prefix_end(const char *prefix);

/* Single key: *found = 0 when absent (kv zeroed). */
int sbx_etcd_get(sbx_etcd *etcd, const char *key, sbx_kv *kv, int *found, rk_err *err);
void sbx_kv_free(sbx_kv *kv);

/* Unconditional put; *revision = the new revision (may be NULL). */
int sbx_etcd_put(sbx_etcd *etcd, const char *key, const uint8_t *value, size_t len, int64_t *revision,
                 rk_err *err);
/* Put only when the key's mod_revision equals expect_mod_rev (0 = the key must not exist).
 * *ok = 1 and *revision = new revision on success; *ok = 0 when the compare failed. */
int sbx_etcd_put_if(sbx_etcd *etcd, const char *key, const uint8_t *value, size_t len, int64_t expect_mod_rev,
                    int *ok, int64_t *revision, rk_err *err);
/* The same, and only while guard_key exists (NULL = no guard): a write into a namespace that was
 * deleted meanwhile fails atomically. */
int sbx_etcd_put_guarded(sbx_etcd *etcd, const char *key, const uint8_t *value, size_t len,
                         int64_t expect_mod_rev, const char *guard_key, int *ok, int64_t *revision,
                         rk_err *err);
/* Delete only when mod_revision equals expect_mod_rev (-1 = unconditionally). */
int sbx_etcd_delete_if(sbx_etcd *etcd, const char *key, int64_t expect_mod_rev, int *ok, int64_t *revision,
                       rk_err *err);
/* Compacts history up to revision (physical). */
int sbx_etcd_compact(sbx_etcd *etcd, int64_t revision, rk_err *err);

#endif
