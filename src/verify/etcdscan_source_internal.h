/* etcdscan_source_internal.h (private to the live sources): the pager both live sources share
 * (etcdscan_pager.c) and the gRPC source (etcdscan_grpc.c) that etcdscan_source.c tries first. Calls go
 * one way: etcdscan_source.c -> etcdscan_grpc.c -> etcdscan_pager.c, etcdscan_source.c ->
 * etcdscan_pager.c. */
#ifndef REKEY_ETCDSCAN_SOURCE_INTERNAL_H
#define REKEY_ETCDSCAN_SOURCE_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "etcdscan_internal.h"
#include "rekey/buf.h"
#include "rekey/err.h"
#include "rekey/etcdrange.h"

/* Paging a live scan by key: [start, end) is what is left, start moves to the last key + "\0" after
 * each value; every page reads at the revision of the first (pinned), unless etcd compacts past it. */
struct scan_pager {
	const rk_scan_sink *sink;
	rk_scan_live live; /* what the page callback is shown */
	rk_buf start, end;
	int64_t revision;  /* pinned; 0 until the first page answered (and after a compaction) */
	size_t limit;      /* keys per request: --page-size, or adapted to the value sizes seen */
	size_t fixed;      /* --page-size (0 = adaptive) */
	size_t page_bytes; /* adaptive pages aim at replies of about this size */
	size_t max_limit;
	int moves; /* times etcd compacted past the pinned revision */
};

/* Starts at prefix for a source speaking api ("grpc", "json"); 0, or -1 when out of memory. */
int rk_pager_init(struct scan_pager *pg, const rk_scan_opts *opts, const char *prefix,
                  const rk_scan_sink *sink, const char *api, size_t page_bytes, size_t max_limit);
void rk_pager_free(struct scan_pager *pg);
/* The next page's request: [start, end), limit keys, at the pinned revision (points into pg). */
rk_etcd_range_req rk_pager_request(const struct scan_pager *pg);
/* One value of the page: to the sink, then the next page starts after its key. The sink's code, or
 * RK_FAIL when out of memory. */
int rk_pager_value(struct scan_pager *pg, const uint8_t *key, size_t klen, const uint8_t *val, size_t vlen,
                   rk_err *err);
/* A page answered at header_revision with nkvs values in reply_bytes: pins the revision, adapts the
 * page size, calls the sink's page callback. */
void rk_pager_page_done(struct scan_pager *pg, int64_t header_revision, size_t nkvs, size_t reply_bytes);
/* etcd said the pinned revision was compacted (the error in err): RK_OK = carry on from the same key at
 * the newest revision (logged, err cleared; live.revision_moved is set from the next page); RK_FAIL =
 * give up, moved too often (err says so). */
int rk_pager_compacted(struct scan_pager *pg, rk_err *err);

/* The live scan over gRPC (KV Range); *not_grpc is set when the peer answered the first call but not in
 * gRPC (the caller may fall back to the JSON gateway). */
int rk_scan_source_grpc(const rk_scan_opts *opts, const char *prefix, const rk_scan_sink *sink, int *not_grpc,
                        rk_err *err);

#endif
