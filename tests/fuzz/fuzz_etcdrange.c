/* fuzz_etcdrange.c: libFuzzer harness for the streaming RangeResponse decoder. The first byte picks a
 * chunk size; the rest is decoded twice, whole and in chunks of that size: both must end the same
 * way (result, values seen with their bytes, header revision, more, count), so no chunking changes
 * what the scan counts. Then the same bytes go through the gRPC deframer into the decoder as a reply
 * body would. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "rekey/etcdrange.h"
#include "rekey/grpc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct outcome {
	int rc;
	uint64_t nkvs, sum;
	int64_t revision, count, mod_sum;
	int more;
};

static int on_kv(void *ctx, const rk_etcd_kv_view *kv)
{
	struct outcome *o = ctx;
	for (size_t i = 0; i < kv->key_len; i++)
		o->sum = o->sum * 31 + kv->key[i];
	for (size_t i = 0; i < kv->value_len; i++)
		o->sum = o->sum * 31 + kv->value[i];
	o->mod_sum += kv->mod_revision + kv->create_revision + kv->version + kv->lease;
	return 0;
}

static void decode(const uint8_t *msg, size_t len, size_t chunk, struct outcome *o)
{
	rk_etcd_range_decoder d;
	memset(o, 0, sizeof *o);
	rk_etcd_range_decoder_init(&d, on_kv, o);
	for (size_t i = 0; i < len && o->rc == 0; i += chunk)
		o->rc = rk_etcd_range_feed(&d, msg + i, len - i < chunk ? len - i : chunk);
	if (o->rc == 0)
		o->rc = rk_etcd_range_finish(&d);
	o->nkvs = d.nkvs;
	o->revision = d.revision;
	o->count = d.count;
	o->more = d.more;
	rk_etcd_range_decoder_free(&d);
}

static int feed_decoder(void *ctx, const uint8_t *data, size_t len)
{
	return rk_etcd_range_feed(ctx, data, len) == 0 ? 0 : -1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	size_t chunk = (size_t)data[0] + 1;
	uint8_t *msg = malloc(size); /* exact-size heap copy: ASan sees any overrun */
	if (!msg)
		return 0;
	memcpy(msg, data + 1, size - 1);
	struct outcome whole, chunked;
	decode(msg, size - 1, size, &whole);
	decode(msg, size - 1, chunk, &chunked);
	if (whole.rc == -2 || memcmp(&whole, &chunked, sizeof whole) != 0)
		abort();
	rk_etcd_range_decoder d;
	rk_grpc_deframer f;
	rk_etcd_range_decoder_init(&d, NULL, NULL);
	rk_grpc_deframer_init(&f, 1u << 20, feed_decoder, &d);
	for (size_t i = 0; i < size - 1; i += chunk)
		if (rk_grpc_deframe(&f, msg + i, size - 1 - i < chunk ? size - 1 - i : chunk) != 0)
			break;
	rk_grpc_deframe_end(&f);
	rk_etcd_range_decoder_free(&d);
	free(msg);
	return 0;
}
