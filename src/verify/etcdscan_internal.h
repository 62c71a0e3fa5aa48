/* etcdscan_internal.h (private): the sources a scan reads from (etcdscan_source.c), called by the scan's
 * accounting (etcdscan.c) with a callback per stored value: the sources know nothing of the accounting. */
#ifndef REKEY_ETCDSCAN_INTERNAL_H
#define REKEY_ETCDSCAN_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

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

#endif
