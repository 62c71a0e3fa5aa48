/* etcdscan_internal.h (private): the sources a scan reads from (etcdscan_source.c), called by the scan's
 * accounting (etcdscan.c) with a callback per stored value: the sources know nothing of the accounting;
 * and the scan's state, which the key-archive check (etcdscan_archive.c) reads. Calls go one way:
 * etcdscan.c -> etcdscan_source.c, etcdscan.c -> etcdscan_archive.c. */
#ifndef REKEY_ETCDSCAN_INTERNAL_H
#define REKEY_ETCDSCAN_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "rekey/codec.h"
#include "rekey/err.h"
#include "rekey/etcdscan.h"

/* One stored value (key as stored in etcd); a non-zero return stops the source and is returned by it. */
typedef int (*rk_scan_kv_fn)(void *ud, const uint8_t *key, size_t klen, const uint8_t *val, size_t vlen);

/* Every value under prefix in key order from live etcd (opts->etcd_url, TLS files, page_limit), all
 * pages at one revision (*revision receives it). */
int rk_scan_source_live(const rk_scan_opts *opts, const char *prefix, rk_scan_kv_fn fn, void *ud,
                        uint64_t *revision, rk_err *err);
/* Every live value under prefix in an `etcdctl snapshot save` file (opts->snapshot_path). */
int rk_scan_source_snapshot(const rk_scan_opts *opts, const char *prefix, rk_scan_kv_fn fn, void *ud,
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
