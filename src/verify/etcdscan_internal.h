/* etcdscan_internal.h (private): shared state of a scan between etcdscan.c (accounting) and
 * etcdscan_source.c (live etcd and snapshot sources). Not a public header. */
#ifndef REKEY_ETCDSCAN_INTERNAL_H
#define REKEY_ETCDSCAN_INTERNAL_H

#include "rekey/codec.h"
#include "rekey/etcdscan.h"

struct scan_chain {
	const rk_rule *rule;
	rk_chain *chain;
};

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

/* Accounts one stored value (key as stored in etcd). */
int rk_scan_value(struct rk_scan *sc, const uint8_t *key, size_t klen, const uint8_t *val, size_t vlen);
/* check_archive: counts the value for its key (and keeps the first value of each key as a sample). */
int rk_scan_note_key(struct rk_scan *sc, const char *etcd_key, const uint8_t *val, size_t vlen,
                     const rk_value_info *v);
/* check_archive: looks every needed key up in the archive; frees the samples. */
int rk_scan_check_archive(struct rk_scan *sc);
void rk_scan_samples_free(struct rk_scan *sc);
int rk_scan_live(struct rk_scan *sc);
int rk_scan_snapshot(struct rk_scan *sc);

#endif
