/* etcdrange.c: etcd RangeRequest encoding and streaming RangeResponse decoding (see
 * include/rekey/etcdrange.h). The decoder parses whole top-level fields straight out of each chunk and
 * keeps only the start of a field cut by the chunk's end, so it holds at most one KeyValue and one
 * chunk whatever the size of the reply. */
#include <stdio.h>
#include <string.h>

#include "rekey/etcdrange.h"
#include "rekey/pbwire.h"

int rk_etcd_range_encode(const rk_etcd_range_req *q, rk_buf *out)
{
	int rc = 0;
	if (q->key_len)
		rc |= rk_pb_put_bytes(out, 1, q->key, q->key_len);
	if (q->range_end_len)
		rc |= rk_pb_put_bytes(out, 2, q->range_end, q->range_end_len);
	if (q->limit)
		rc |= rk_pb_put_varint(out, 3, (uint64_t)q->limit);
	if (q->revision)
		rc |= rk_pb_put_varint(out, 4, (uint64_t)q->revision);
	if (q->keys_only)
		rc |= rk_pb_put_varint(out, 8, 1);
	if (q->count_only)
		rc |= rk_pb_put_varint(out, 9, 1);
	return rc ? -1 : 0;
}

void rk_etcd_range_decoder_init(rk_etcd_range_decoder *d, rk_etcd_kv_fn on_kv, void *ctx)
{
	memset(d, 0, sizeof *d);
	rk_buf_set_secret(&d->pending); /* values: plaintext under identity */
	d->on_kv = on_kv;
	d->ctx = ctx;
}

static int malformed(rk_etcd_range_decoder *d, const char *what, uint32_t num)
{
	snprintf(d->error, sizeof d->error, "malformed RangeResponse: %s (field %u)", what, num);
	return -1;
}

static int want_wire(rk_etcd_range_decoder *d, const rk_pb_field *f, int wire, const char *what)
{
	return f->wire == wire ? 0 : malformed(d, what, f->num);
}

static int decode_header(rk_etcd_range_decoder *d, const uint8_t *p, size_t n)
{
	rk_pb_reader r;
	rk_pb_field f;
	int rc;
	rk_pb_init(&r, p, n);
	while ((rc = rk_pb_next(&r, &f)) == 1) {
		if (f.num != 3)
			continue;
		if (want_wire(d, &f, RK_PB_VARINT, "header.revision is not a varint") != 0)
			return -1;
		d->revision = (int64_t)f.value;
	}
	d->have_header = 1;
	return rc == 0 ? 0 : malformed(d, "bad ResponseHeader", 1);
}

static int kv_field(rk_etcd_range_decoder *d, rk_etcd_kv_view *kv, const rk_pb_field *f)
{
	int64_t *ints[] = {NULL, NULL,      &kv->create_revision, &kv->mod_revision, &kv->version,
	                   NULL, &kv->lease};
	if (f->num == 1 || f->num == 5) {
		if (want_wire(d, f, RK_PB_BYTES, "KeyValue key/value is not bytes") != 0)
			return -1;
		*(f->num == 1 ? &kv->key : &kv->value) = f->data;
		*(f->num == 1 ? &kv->key_len : &kv->value_len) = f->len;
	} else if (f->num < sizeof ints / sizeof ints[0] && ints[f->num]) {
		if (want_wire(d, f, RK_PB_VARINT, "KeyValue revision/version/lease is not a varint") != 0)
			return -1;
		*ints[f->num] = (int64_t)f->value;
	}
	return 0;
}

static int decode_kv(rk_etcd_range_decoder *d, const uint8_t *p, size_t n)
{
	rk_etcd_kv_view kv = {.key = p, .value = p}; /* empty key/value point at valid memory */
	rk_pb_reader r;
	rk_pb_field f;
	int rc;
	rk_pb_init(&r, p, n);
	while ((rc = rk_pb_next(&r, &f)) == 1)
		if (kv_field(d, &kv, &f) != 0)
			return -1;
	if (rc != 0)
		return malformed(d, "bad KeyValue", 2);
	d->nkvs++;
	return d->on_kv && d->on_kv(d->ctx, &kv) != 0 ? -2 : 0;
}

/* One whole top-level field. */
static int decode_field(rk_etcd_range_decoder *d, const uint8_t *p, size_t n)
{
	rk_pb_reader r;
	rk_pb_field f;
	rk_pb_init(&r, p, n);
	if (rk_pb_next(&r, &f) != 1)
		return malformed(d, "bad field", 0);
	switch (f.num) {
	case 1:
		if (want_wire(d, &f, RK_PB_BYTES, "header is not a message") != 0)
			return -1;
		return decode_header(d, f.data, f.len);
	case 2:
		if (want_wire(d, &f, RK_PB_BYTES, "kvs is not a message") != 0)
			return -1;
		return decode_kv(d, f.data, f.len);
	case 3:
		d->more = f.value != 0;
		return want_wire(d, &f, RK_PB_VARINT, "more is not a varint");
	case 4:
		d->count = (int64_t)f.value;
		return want_wire(d, &f, RK_PB_VARINT, "count is not a varint");
	default:
		return 0; /* unknown field: skipped */
	}
}

/* Decodes every whole field at the start of p; returns the bytes consumed, or -1/-2. */
static long decode_fields(rk_etcd_range_decoder *d, const uint8_t *p, size_t n)
{
	size_t used = 0, size = 0;
	int rc;
	while ((rc = rk_pb_field_size(p + used, n - used, &size)) == 1) {
		int drc = decode_field(d, p + used, size);
		if (drc)
			return drc;
		used += size;
	}
	if (rc < 0)
		return malformed(d, "bad field tag or length", 0);
	return (long)used;
}

int rk_etcd_range_feed(rk_etcd_range_decoder *d, const uint8_t *data, size_t len)
{
	d->bytes += len;
	if (d->pending.len == 0) {
		long used = decode_fields(d, data, len);
		if (used < 0)
			return (int)used;
		data += used;
		len -= (size_t)used;
		return len && rk_buf_append(&d->pending, data, len) ? malformed(d, "out of memory", 0) : 0;
	}
	if (rk_buf_append(&d->pending, data, len) != 0)
		return malformed(d, "out of memory", 0);
	long used = decode_fields(d, d->pending.data, d->pending.len);
	if (used < 0)
		return (int)used;
	memmove(d->pending.data, d->pending.data + used, d->pending.len - (size_t)used);
	d->pending.len -= (size_t)used;
	d->pending.data[d->pending.len] = 0;
	return 0;
}

int rk_etcd_range_finish(rk_etcd_range_decoder *d)
{
	if (d->pending.len == 0)
		return 0;
	snprintf(d->error, sizeof d->error, "RangeResponse cut short inside a field (%zu bytes left over)",
	         d->pending.len);
	return -1;
}

void rk_etcd_range_decoder_free(rk_etcd_range_decoder *d)
{
	rk_buf_wipe_free(&d->pending);
}
