/* etcdscan_internal.h (private): the sources a scan reads from (etcdscan_source.c: live etcd, over gRPC
 * or the JSON gateway, and snapshot files), called by the scan's accounting (etcdscan.c) with a sink: a
 * callback per stored value and, for live scans, one per page; the sources know nothing of the
 * accounting. And the scan's state, which the key-archive check (etcdscan_archive.c) reads. Calls go one
 * way: etcdscan.c -> etcdscan_source.c (-> etcdscan_grpc.c -> etcdscan_pager.c, see
 * etcdscan_source_internal.h), etcdscan.c -> etcdscan_archive.c. */
#ifndef REKEY_ETCDSCAN_INTERNAL_H
#define REKEY_ETCDSCAN_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "rekey/codec.h"
#include "rekey/err.h"
#include "rekey/etcdscan.h"

/* One stored value (key as stored in etcd); a non-zero return stops the source and is returned by it. */
typedef int (*rk_scan_kv_fn)(void *ud, const uint8_t *key, size_t klen, const uint8_t *val, size_t vlen);

/* Where a live scan stands, kept current as it reads. */
typedef struct rk_scan_live {
	uint64_t revision;       /* the revision the scan reads at (the first page's) */
	uint64_t revision_moved; /* etcd compacted past it mid-scan: the newest revision moved to; else 0 */
	char api[8];             /* "grpc" or "json": the protocol read */
} rk_scan_live;
/* Called after each page of a live scan. */
typedef void (*rk_scan_page_cb)(void *ud, const rk_scan_live *live);

typedef struct rk_scan_sink {
	rk_scan_kv_fn value;  /* every stored value, in key order */
	rk_scan_page_cb page; /* live scans: after each page (optional) */
	void *ud;
} rk_scan_sink;

/* Every value under prefix in key order from live etcd (opts->etcd_url, TLS files, etcd_api,
 * page_limit): over gRPC, or the JSON gateway when asked or when the peer does not speak gRPC (logged);
 * all pages at one revision unless etcd compacts past it mid-scan. */
int rk_scan_source_live(const rk_scan_opts *opts, const char *prefix, const rk_scan_sink *sink, rk_err *err);
/* Every live value under prefix in an `etcdctl snapshot save` file (opts->snapshot_path). */
int rk_scan_source_snapshot(const rk_scan_opts *opts, const char *prefix, const rk_scan_sink *sink,
                            rk_err *err);

struct scan_chain {
	const rk_rule *rule;
	rk_chain *chain;
};

/* The state of one scan (etcdscan.c), shared with the key-archive check (etcdscan_archive.c). */
struct rk_scan {
	const rk_scan_opts *opts;
	rk_scan_report *report;
	const char *prefix;
	rk_err *err;
	size_t rows_cap, items_cap;
	struct scan_chain *chains; /* one transformer chain per rule met */
	size_t nchains;
	rk_buf plain;               /* decrypt scratch, wiped */
	struct key_sample *samples; /* check_archive: one stored value per needed key */
	size_t nsamples;
};

/* One value stored under a needed key (etcdscan_archive.c). */
struct key_sample {
	char *etcd_key;
	uint8_t *value;
	size_t len, prefix_len;
};

/* check_archive: counts the value for its key (and keeps the first value of each key as a sample). */
int rk_scan_note_key(struct rk_scan *sc, const char *etcd_key, const uint8_t *val, size_t vlen,
                     const rk_value_info *v);
/* check_archive: looks every needed key up in the archive; frees the samples. */
int rk_scan_check_archive(struct rk_scan *sc);
void rk_scan_samples_free(struct rk_scan *sc);

#endif
