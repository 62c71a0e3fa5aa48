/* etcdscan_internal.h (private): shared state of a scan between etcdscan.c (accounting),
 * etcdscan_source.c (the JSON gateway, the snapshot, and the pager both live sources share) and
 * etcdscan_grpc.c (KV Range over gRPC). Not a public header. */
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

/* Paging a live scan by key: [start, end) is what is left, start moves to the last key + "\0" after
 * each value; every page reads at the revision of the first (pinned), unless etcd compacts past it. */
struct scan_pager {
	struct rk_scan *sc;
	rk_buf start, end;
	long long revision; /* 0 until the first page answered */
	size_t limit;       /* keys per request: --page-size, or adapted to the value sizes seen */
	size_t page_bytes, max_limit;
	int moves; /* times etcd compacted past the pinned revision */
};
void rk_pager_init(struct scan_pager *pg, struct rk_scan *sc, size_t page_bytes, size_t max_limit);
void rk_pager_free(struct scan_pager *pg);
/* The next page starts after key; 0, or -1 when out of memory. */
int rk_pager_after(struct scan_pager *pg, const uint8_t *key, size_t klen);
/* A page answered at header_revision with nkvs values in reply_bytes: pins the revision, adapts the
 * page size, reports progress. */
void rk_pager_page_done(struct scan_pager *pg, long long header_revision, size_t nkvs, size_t reply_bytes);
/* etcd said the pinned revision was compacted: 1 = carry on from the same key at the newest revision
 * (logged; report->revision_moved is set from the next page), 0 = give up (moved too often). */
int rk_pager_compacted(struct scan_pager *pg);

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
/* The live scan over gRPC; *not_grpc is set when the peer answered the first call but not in gRPC. */
int rk_scan_grpc(struct rk_scan *sc, int *not_grpc);

#endif
