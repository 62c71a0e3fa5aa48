/* etcdscan_source.c: where a scan reads from. Live: gRPC first (etcdscan_grpc.c), etcd's v3 JSON gateway
 * (rekey/etcdgw.h, the one gateway client) when the peer does not speak gRPC or when asked; both page
 * with etcdscan_pager.c (by key, every page at the revision of the first unless etcd compacts past it
 * mid-scan, then from the same key at the newest revision). Snapshot: rk_snapshot_each_live. Each value
 * goes to the sink; the sources know nothing of the accounting. */
#include <string.h>

#include "etcdscan_source_internal.h"
#include "rekey/etcdgw.h"
#include "rekey/log.h"
#include "rekey/snapshot.h"

#define JSON_MAX_PAGE 10000
#define JSON_PAGE_BYTES (4u << 20) /* the whole JSON reply is held: aim at about 4 MiB */

/* Accounts one page of the gateway's reply; *more when etcd has keys after it. */
static int json_page(struct scan_pager *pg, const rk_etcd_range *page, int *more, rk_err *err)
{
	for (size_t i = 0; i < page->n; i++) {
		const rk_etcd_kv *kv = &page->kvs[i];
		int rc = rk_pager_value(pg, kv->key, kv->key_len, kv->value, kv->value_len, err);
		if (rc)
			return rc;
	}
	*more = page->more && page->n > 0;
	rk_pager_page_done(pg, page->revision, page->n, page->reply_bytes);
	return RK_OK;
}

static int scan_json(const rk_scan_opts *opts, const char *prefix, const rk_scan_sink *sink, rk_err *err)
{
	rk_etcdgw_opts go = {
	    .url = opts->etcd_url, .cacert = opts->cacert, .cert = opts->cert, .key = opts->key};
	rk_etcdgw *gw = NULL;
	struct scan_pager pg;
	int rc = rk_pager_init(&pg, opts, prefix, sink, "json", JSON_PAGE_BYTES, JSON_MAX_PAGE) == 0
	             ? rk_etcdgw_open(&go, &gw, err)
	             : rk_err_set(err, RK_FAIL, "out of memory");
	for (int more = 1; rc == RK_OK && more;) {
		rk_etcd_range_req req = rk_pager_request(&pg);
		rk_etcd_range page;
		rc = rk_etcdgw_range(gw, &req, &page, err);
		if (rc == RK_OK)
			rc = json_page(&pg, &page, &more, err);
		else if (rc == RK_ETCD_COMPACTED)
			rc = rk_pager_compacted(&pg, err);
		rk_etcd_range_free(&page);
	}
	rk_etcdgw_close(gw);
	rk_pager_free(&pg);
	return rc;
}

int rk_scan_source_live(const rk_scan_opts *opts, const char *prefix, const rk_scan_sink *sink, rk_err *err)
{
	if (strncmp(opts->etcd_url, "http://", 7) && strncmp(opts->etcd_url, "https://", 8))
		return rk_err_set(err, RK_BADINPUT, "--etcd %s: want an http:// or https:// URL",
		                  opts->etcd_url);
	if (opts->etcd_api == RK_ETCD_API_JSON)
		return scan_json(opts, prefix, sink, err);
	int not_grpc = 0;
	int rc = rk_scan_source_grpc(opts, prefix, sink, &not_grpc, err);
	if (rc == RK_OK || opts->etcd_api == RK_ETCD_API_GRPC || !not_grpc)
		return rc;
	rk_info("etcdscan.fallback", "%s does not speak gRPC (%s); reading its JSON gateway instead",
	        opts->etcd_url, err->msg);
	rk_err_clear(err);
	return scan_json(opts, prefix, sink, err);
}

static int on_live_kv(void *ctx, const rk_snap_kv *kv)
{
	const rk_scan_sink *sink = ctx;
	return sink->value(sink->ud, kv->key, kv->key_len, kv->value, kv->value_len);
}

int rk_scan_source_snapshot(const rk_scan_opts *opts, const char *prefix, const rk_scan_sink *sink,
                            rk_err *err)
{
	rk_snapshot *snap = NULL;
	int rc = rk_snapshot_open(opts->snapshot_path, &snap, err);
	if (rc)
		return rc;
	rk_scan_sink to = *sink;
	rc = rk_snapshot_each_live(snap, prefix, on_live_kv, &to, err);
	rk_snapshot_close(snap);
	return rc;
}
