/* etcdrange.h: etcd's KV Range request (the one rk_etcd_range_req both etcd clients take: the JSON
 * gateway, rekey/etcdgw.h, and gRPC) and its protobuf form (etcd api/etcdserverpb/rpc.proto,
 * mvccpb/kv.proto) for the gRPC method /etcdserverpb.KV/Range: RangeRequest encoding, and a
 * RangeResponse decoder that takes the reply in chunks as they arrive and hands each KeyValue over as
 * soon as it is whole, so a page of any size is read holding one value at a time.
 *   RangeRequest  {key=1 bytes, range_end=2 bytes, limit=3, revision=4, keys_only=8, count_only=9}
 *   RangeResponse {header=1 ResponseHeader{revision=3}, kvs=2 repeated KeyValue, more=3, count=4}
 *   KeyValue      {key=1, create_revision=2, mod_revision=3, version=4, value=5, lease=6} */
#ifndef REKEY_ETCDRANGE_H
#define REKEY_ETCDRANGE_H

#include <stddef.h>
#include <stdint.h>

#include "rekey/buf.h"

#define RK_ETCD_RANGE_METHOD "/etcdserverpb.KV/Range"

typedef struct rk_etcd_range_req {
	const void *key;
	size_t key_len;
	const void *range_end; /* NULL/0 = just key; "\0" (length 1) = every key from key on */
	size_t range_end_len;
	int64_t limit;    /* 0 = no limit */
	int64_t revision; /* 0 = the newest */
	int keys_only, count_only;
} rk_etcd_range_req;

/* Appends the encoded RangeRequest to out; 0, or -1 when out of memory. */
int rk_etcd_range_encode(const rk_etcd_range_req *req, rk_buf *out);

/* One KeyValue as the decoder sees it (rekey/etcdgw.h's rk_etcd_kv is an owned copy). */
typedef struct rk_etcd_kv_view {
	const uint8_t *key; /* point into the decoder: valid during the callback only */
	size_t key_len;
	const uint8_t *value;
	size_t value_len;
	int64_t create_revision, mod_revision, version, lease;
} rk_etcd_kv_view;

/* Called for each KeyValue in reply order; non-zero stops the decoder (rk_etcd_range_feed -> -2). */
typedef int (*rk_etcd_kv_fn)(void *ctx, const rk_etcd_kv_view *kv);

typedef struct rk_etcd_range_decoder {
	rk_buf pending; /* the start of a field whose bytes have not all arrived (a secret buffer) */
	rk_etcd_kv_fn on_kv;
	void *ctx;
	int64_t revision; /* header.revision */
	int have_header;
	int more;
	int64_t count;
	uint64_t nkvs;
	uint64_t bytes; /* message bytes fed */
	char error[128];
} rk_etcd_range_decoder;

void rk_etcd_range_decoder_init(rk_etcd_range_decoder *d, rk_etcd_kv_fn on_kv, void *ctx);
/* Feeds the next bytes of one RangeResponse. 0; -1 malformed (d->error says what); -2 the callback
 * stopped it. Unknown fields are skipped. */
int rk_etcd_range_feed(rk_etcd_range_decoder *d, const uint8_t *data, size_t len);
/* The message has ended: 0 when it ended between fields, -1 otherwise (d->error). */
int rk_etcd_range_finish(rk_etcd_range_decoder *d);
/* Frees the pending buffer (wiped: it may hold a value); the decoder can be initialised again. */
void rk_etcd_range_decoder_free(rk_etcd_range_decoder *d);

#endif
