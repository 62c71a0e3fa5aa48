/* etcdgw.h: the one client of etcd's v3 JSON gateway (POST /v3/kv/range, put, txn, deleterange,
 * compaction over http or https): `rekeyctl verify` and the rotation's verify stage read stored values
 * with it, and the sandbox stores its objects with it. Keys and values are bytes (base64 on the wire);
 * int64 fields travel as strings and proto3 JSON omits false/zero/empty fields, read here as their zero
 * values. A client is one keep-alive connection: use it from one thread at a time (one client per thread). */
#ifndef REKEY_ETCDGW_H
#define REKEY_ETCDGW_H

#include <stddef.h>
#include <stdint.h>

#include "rekey/buf.h"
#include "rekey/err.h"
#include "rekey/etcdrange.h" /* rk_etcd_range_req */

/* Returned besides RK_OK / RK_FAIL when the revision a range asked for has been compacted. */
#define RK_ETCD_COMPACTED 10

typedef struct rk_etcdgw rk_etcdgw;

typedef struct rk_etcdgw_opts {
	const char *url;                 /* http(s)://host:port of the gateway (a trailing slash is fine) */
	const char *cacert, *cert, *key; /* TLS files (optional) */
	long timeout_ms;                 /* per request; 0 = 120 s (connecting: at most 10 s) */
} rk_etcdgw_opts;

/* RK_BADINPUT for a URL that is not http(s) or too long. */
int rk_etcdgw_open(const rk_etcdgw_opts *opts, rk_etcdgw **out, rk_err *err);
void rk_etcdgw_close(rk_etcdgw *gw);
/* "URL/v3/kv" for messages. */
const char *rk_etcdgw_url(const rk_etcdgw *gw);

typedef struct rk_etcd_kv {
	uint8_t *key; /* NUL-terminated */
	size_t key_len;
	uint8_t *value; /* NUL-terminated */
	size_t value_len;
	int64_t create_rev, mod_rev, version;
} rk_etcd_kv;

typedef struct rk_etcd_range {
	rk_etcd_kv *kvs;
	size_t n;
	int more;           /* more keys past the limit */
	int64_t count;      /* keys in the whole range (from the start key) */
	int64_t revision;   /* header revision the range was served at */
	size_t reply_bytes; /* size of the JSON reply (callers size their pages by it) */
} rk_etcd_range;

/* RK_OK, RK_ETCD_COMPACTED or RK_FAIL (out zeroed then). */
int rk_etcdgw_range(rk_etcdgw *gw, const rk_etcd_range_req *req, rk_etcd_range *out, rk_err *err);
/* Frees (and wipes: stored values may be plaintext) every kv. */
void rk_etcd_range_free(rk_etcd_range *r);
void rk_etcd_kv_free(rk_etcd_kv *kv);
/* The end of the range of keys starting with prefix (its last byte + 1, trailing 0xff bytes dropped;
 * "\0" when none is left) into end. 0, or -1 when out of memory. */
int rk_etcd_prefix_end(const void *prefix, size_t len, rk_buf *end);

/* Single key (text): *found = 0 when absent (kv zeroed). */
int rk_etcdgw_get(rk_etcdgw *gw, const char *key, rk_etcd_kv *kv, int *found, rk_err *err);
/* Unconditional put; *revision = the new revision (may be NULL). */
int rk_etcdgw_put(rk_etcdgw *gw, const char *key, const void *value, size_t len, int64_t *revision,
                  rk_err *err);
/* One txn: puts only while key's mod_revision equals expect_mod_rev (0: the key must not exist; < 0: no
 * condition) and, with guard_key, while guard_key exists. *ok = 1 when written (revision then set). */
int rk_etcdgw_put_if(rk_etcdgw *gw, const char *key, const void *value, size_t len, int64_t expect_mod_rev,
                     const char *guard_key, int *ok, int64_t *revision, rk_err *err);
/* One txn: deletes only while mod_revision equals expect_mod_rev (< 0: unconditionally). */
int rk_etcdgw_delete_if(rk_etcdgw *gw, const char *key, int64_t expect_mod_rev, int *ok, int64_t *revision,
                        rk_err *err);
/* Compacts history up to revision (physical). */
int rk_etcdgw_compact(rk_etcdgw *gw, int64_t revision, rk_err *err);

/* Many puts in one txn (bulk loading; etcd's --max-txn-ops bounds n). */
typedef struct rk_etcd_put {
	const char *key;
	const void *value;
	size_t len;
} rk_etcd_put;
int rk_etcdgw_put_many(rk_etcdgw *gw, const rk_etcd_put *puts, size_t n, rk_err *err);

#endif
