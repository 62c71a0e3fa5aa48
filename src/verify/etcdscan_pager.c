/* etcdscan_pager.c: how both live sources (gRPC and the JSON gateway) page through a prefix: by key, the
 * next page from the last key + "\0", every page at the revision of the first one (a consistent view);
 * when etcd compacts past that revision mid-scan, on from the same key at the newest revision, so each
 * key is still read once. Page sizes adapt to the value sizes seen unless --page-size was given. */
#include <stdio.h>
#include <string.h>

#include "etcdscan_source_internal.h"
#include "rekey/etcdgw.h"
#include "rekey/log.h"

#define FIRST_PAGE 500
#define MIN_PAGE 100
#define MAX_MOVES 10 /* compactions past the pinned revision one scan rides out */

int rk_pager_init(struct scan_pager *pg, const rk_scan_opts *opts, const char *prefix,
                  const rk_scan_sink *sink, const char *api, size_t page_bytes, size_t max_limit)
{
	memset(pg, 0, sizeof *pg);
	pg->sink = sink;
	snprintf(pg->live.api, sizeof pg->live.api, "%s", api);
	pg->fixed = opts->page_limit;
	pg->limit = pg->fixed ? pg->fixed : FIRST_PAGE;
	pg->page_bytes = page_bytes;
	pg->max_limit = max_limit;
	return rk_buf_append_str(&pg->start, prefix) != 0 ||
	               rk_etcd_prefix_end(prefix, strlen(prefix), &pg->end) != 0
	           ? -1
	           : 0;
}

void rk_pager_free(struct scan_pager *pg)
{
	rk_buf_wipe_free(&pg->start);
	rk_buf_free(&pg->end);
}

rk_etcd_range_req rk_pager_request(const struct scan_pager *pg)
{
	rk_etcd_range_req req = {.key = pg->start.data,
	                         .key_len = pg->start.len,
	                         .range_end = pg->end.data,
	                         .range_end_len = pg->end.len,
	                         .limit = (int64_t)pg->limit,
	                         .revision = pg->revision};
	return req;
}

int rk_pager_value(struct scan_pager *pg, const uint8_t *key, size_t klen, const uint8_t *val, size_t vlen,
                   rk_err *err)
{
	int rc = pg->sink->value(pg->sink->ud, key, klen, val, vlen);
	if (rc)
		return rc;
	rk_buf_reset(&pg->start);
	if (rk_buf_append(&pg->start, key, klen) != 0 || rk_buf_append(&pg->start, "", 1) != 0)
		return rk_err_set(err, RK_FAIL, "out of memory");
	return RK_OK;
}

void rk_pager_page_done(struct scan_pager *pg, int64_t header_revision, size_t nkvs, size_t reply_bytes)
{
	if (pg->revision == 0 && header_revision > 0) {
		pg->revision = header_revision;
		if (pg->live.revision == 0)
			pg->live.revision = (uint64_t)header_revision;
		else
			pg->live.revision_moved = (uint64_t)header_revision;
	}
	if (!pg->fixed && nkvs > 0) {
		/* etcd walks the whole remaining range on every page: fewer, larger pages scale better */
		size_t next = pg->page_bytes / (reply_bytes / nkvs + 1);
		pg->limit = next < MIN_PAGE ? MIN_PAGE : next > pg->max_limit ? pg->max_limit : next;
	}
	if (pg->sink->page)
		pg->sink->page(pg->sink->ud, &pg->live);
}

int rk_pager_compacted(struct scan_pager *pg, rk_err *err)
{
	if (++pg->moves > MAX_MOVES)
		return rk_err_wrap(err, RK_FAIL,
		                   "etcd kept compacting past the revision this scan reads at (%d times)",
		                   MAX_MOVES);
	rk_warn("etcdscan.compacted",
	        "etcd compacted past revision %lld during the scan; carrying on from the same key at the "
	        "newest revision",
	        (long long)pg->revision);
	rk_err_clear(err);
	pg->revision = 0;
	return RK_OK;
}
