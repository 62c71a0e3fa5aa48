/* etcdscan_source.c: where a scan reads from. Live: etcd's JSON gateway through rekey/etcdgw.h, `limit`
 * keys a page, the next page from the last key + "\0", every page at the revision of the first one (a
 * consistent view); the page size adapts to replies of about 4 MiB unless one was given. Snapshot:
 * rk_snapshot_each_live. */
#include <stdlib.h>
#include <string.h>

#include "etcdscan_internal.h"
#include "rekey/etcdgw.h"
#include "rekey/snapshot.h"

#define FIRST_PAGE 500
#define MAX_PAGE 10000
#define PAGE_BYTES (4u << 20) /* adaptive pages aim at replies of about 4 MiB */

/* Accounts one page; moves start past its last key; the next page's limit. */
static int scan_page(const rk_scan_opts *opts, const rk_etcd_range *page, rk_scan_kv_fn fn, void *ud,
                     rk_buf *start, int64_t *limit, rk_err *err)
{
	for (size_t i = 0; i < page->n; i++) {
		const rk_etcd_kv *kv = &page->kvs[i];
		int rc = fn(ud, kv->key, kv->key_len, kv->value, kv->value_len);
		if (rc)
			return rc;
		rk_buf_reset(start);
		if (rk_buf_append(start, kv->key, kv->key_len) != 0 || rk_buf_append(start, "", 1) != 0)
			return rk_err_set(err, RK_FAIL, "out of memory");
	}
	if (!opts->page_limit && page->n > 0) {
		/* etcd counts the whole remaining range on every page: fewer, larger pages scale better */
		size_t next = PAGE_BYTES / (page->reply_bytes / page->n + 1);
		*limit = next < 100 ? 100 : next > MAX_PAGE ? MAX_PAGE : (int64_t)next;
	}
	return RK_OK;
}

int rk_scan_source_live(const rk_scan_opts *opts, const char *prefix, rk_scan_kv_fn fn, void *ud,
                        uint64_t *revision, rk_err *err)
{
	rk_etcdgw_opts go = {
	    .url = opts->etcd_url, .cacert = opts->cacert, .cert = opts->cert, .key = opts->key};
	rk_etcdgw *gw = NULL;
	int rc = rk_etcdgw_open(&go, &gw, err);
	if (rc != RK_OK)
		return rc;
	rk_buf start = RK_BUF_INIT, end = RK_BUF_INIT;
	rk_etcd_range_req req = {.limit = opts->page_limit ? (int64_t)opts->page_limit : FIRST_PAGE};
	if (rk_buf_append_str(&start, prefix) != 0 || rk_etcd_prefix_end(prefix, strlen(prefix), &end) != 0)
		rc = rk_err_set(err, RK_FAIL, "out of memory");
	for (int more = rc == RK_OK; more && rc == RK_OK;) {
		rk_etcd_range page;
		req.key = start.data;
		req.key_len = start.len;
		req.range_end = end.data;
		req.range_end_len = end.len;
		rc = rk_etcdgw_range(gw, &req, &page, err);
		if (rc == RK_ETCD_COMPACTED)
			rc =
			    rk_err_wrap(err, RK_FAIL,
			                "etcd compacted past the revision this scan reads at (run it again)");
		if (rc != RK_OK)
			break;
		if (req.revision == 0)
			*revision = (uint64_t)(req.revision = page.revision);
		rc = scan_page(opts, &page, fn, ud, &start, &req.limit, err);
		more = page.more && page.n > 0;
		rk_etcd_range_free(&page);
	}
	rk_buf_wipe_free(&start);
	rk_buf_free(&end);
	rk_etcdgw_close(gw);
	return rc;
}

struct snap_cb {
	rk_scan_kv_fn fn;
	void *ud;
};

static int on_live_kv(void *ctx, const rk_snap_kv *kv)
{
	const struct snap_cb *cb = ctx;
	return cb->fn(cb->ud, kv->key, kv->key_len, kv->value, kv->value_len);
}

int rk_scan_source_snapshot(const rk_scan_opts *opts, const char *prefix, rk_scan_kv_fn fn, void *ud,
                            rk_err *err)
{
	rk_snapshot *snap = NULL;
	int rc = rk_snapshot_open(opts->snapshot_path, &snap, err);
	if (rc)
		return rc;
	struct snap_cb cb = {fn, ud};
	rc = rk_snapshot_each_live(snap, prefix, on_live_kv, &cb, err);
	rk_snapshot_close(snap);
	return rc;
}
