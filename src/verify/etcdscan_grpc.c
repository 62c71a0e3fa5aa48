/* etcdscan_grpc.c: the live scan over etcd's gRPC API: /etcdserverpb.KV/Range pages on one HTTP/2
 * connection (src/grpc), each reply decoded as it streams in (rekey/etcdrange.h) and every KeyValue handed
 * to the sink as soon as it is whole, so memory holds one value, not one page. Paging, the pinned
 * revision and compaction: etcdscan_pager.c. TLS files are read into memory and given to the connection
 * as blobs; the key copy is wiped once the channel holds it. */
#include <string.h>

#include "etcdscan_source_internal.h"
#include "rekey/etcdrange.h"
#include "rekey/fsutil.h"
#include "rekey/grpc.h"

#define GRPC_PAGE_BYTES (16u << 20) /* memory does not grow with the page: aim at ~16 MiB replies */
#define GRPC_MAX_PAGE 50000
#define PAGE_DEADLINE_MS 120000L
#define GRPC_OUT_OF_RANGE 11 /* etcd's "required revision has been compacted" */

struct grpc_scan {
	const rk_scan_opts *opts;
	rk_err *err;
	struct scan_pager pg;
	rk_grpc *channel;
	rk_etcd_range_decoder dec;
	rk_buf req;
};

static int load_pem(const char *path, rk_buf *out, rk_err *err)
{
	if (!path)
		return RK_OK;
	char *data = NULL;
	size_t len = 0;
	if (rk_read_file(path, &data, &len, err) != RK_OK)
		return RK_BADINPUT;
	out->data = (uint8_t *)data;
	out->len = len;
	out->cap = len + 1;
	return RK_OK;
}

static int open_channel(struct grpc_scan *gs)
{
	const rk_scan_opts *o = gs->opts;
	rk_buf ca = RK_BUF_INIT, cert = RK_BUF_INIT, key = RK_BUF_INIT;
	/* replies are decoded as they stream in, so their size does not matter to memory: accept up to
	 * what the 4-byte length prefix can say (a first page of large values can pass 256 MiB) */
	rk_grpc_opts go = {.target = o->etcd_url,
	                   .ca_pem = &ca,
	                   .cert_pem = &cert,
	                   .key_pem = &key,
	                   .max_message = UINT32_MAX};
	int rc = load_pem(o->cacert, &ca, gs->err);
	if (rc == RK_OK)
		rc = load_pem(o->cert, &cert, gs->err);
	if (rc == RK_OK)
		rc = load_pem(o->key, &key, gs->err);
	if (rc == RK_OK)
		rc = rk_grpc_open(&go, &gs->channel, gs->err);
	rk_buf_free(&ca);
	rk_buf_free(&cert);
	rk_buf_wipe_free(&key);
	return rc;
}

static int on_kv(void *ctx, const rk_etcd_kv_view *kv)
{
	struct grpc_scan *gs = ctx;
	return rk_pager_value(&gs->pg, kv->key, kv->key_len, kv->value, kv->value_len, gs->err);
}

static int on_chunk(void *ctx, const uint8_t *data, size_t len)
{
	struct grpc_scan *gs = ctx;
	int rc = rk_etcd_range_feed(&gs->dec, data, len);
	if (rc == -1)
		rk_err_set(gs->err, RK_FAIL, "%s: %s", gs->opts->etcd_url, gs->dec.error);
	return rc;
}

/* One Range call; *more when etcd has keys after this page, *compacted when it refused the pinned
 * revision as compacted. */
static int range_page(struct grpc_scan *gs, int *more, int *compacted, rk_grpc_status *st)
{
	struct scan_pager *pg = &gs->pg;
	rk_etcd_range_req q = rk_pager_request(pg);
	rk_buf_reset(&gs->req);
	if (rk_etcd_range_encode(&q, &gs->req) != 0)
		return rk_err_set(gs->err, RK_FAIL, "out of memory");
	rk_etcd_range_decoder_init(&gs->dec, on_kv, gs);
	int rc = rk_grpc_call(gs->channel, RK_ETCD_RANGE_METHOD, gs->req.data, gs->req.len, PAGE_DEADLINE_MS,
	                      on_chunk, gs, st, gs->err);
	if (rc == RK_OK && rk_etcd_range_finish(&gs->dec) != 0)
		rc = rk_err_set(gs->err, RK_FAIL, "%s: %s", gs->opts->etcd_url, gs->dec.error);
	*compacted = rc != RK_OK && st->code == GRPC_OUT_OF_RANGE && strstr(st->message, "compacted");
	if (rc == RK_OK) {
		*more = gs->dec.more && gs->dec.nkvs > 0;
		rk_pager_page_done(pg, gs->dec.revision, (size_t)gs->dec.nkvs, (size_t)gs->dec.bytes);
	}
	rk_etcd_range_decoder_free(&gs->dec);
	return rc;
}

int rk_scan_source_grpc(const rk_scan_opts *opts, const char *prefix, const rk_scan_sink *sink, int *not_grpc,
                        rk_err *err)
{
	struct grpc_scan gs = {.opts = opts, .err = err};
	*not_grpc = 0;
	int rc = rk_pager_init(&gs.pg, opts, prefix, sink, "grpc", GRPC_PAGE_BYTES, GRPC_MAX_PAGE) == 0
	             ? open_channel(&gs)
	             : rk_err_set(err, RK_FAIL, "out of memory");
	for (int more = 1, first = 1; rc == RK_OK && more; first = 0) {
		rk_grpc_status st = {.code = RK_GRPC_NO_STATUS};
		int compacted = 0;
		rc = range_page(&gs, &more, &compacted, &st);
		if (rc != RK_OK && first)
			*not_grpc = st.not_grpc;
		if (rc != RK_OK && compacted)
			rc = rk_pager_compacted(&gs.pg, err);
	}
	rk_grpc_close(gs.channel);
	rk_buf_free(&gs.req);
	rk_pager_free(&gs.pg);
	return rc;
}
