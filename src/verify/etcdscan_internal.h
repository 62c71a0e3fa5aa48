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
	rk_buf plain; /* decrypt scratch, wiped */
};

/* Accounts one stored value (key as stored in etcd). */
int rk_scan_value(struct rk_scan *sc, const uint8_t *key, size_t klen, const uint8_t *val, size_t vlen);
int rk_scan_live(struct rk_scan *sc);
int rk_scan_snapshot(struct rk_scan *sc);

#endif
