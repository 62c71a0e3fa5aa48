/* fuzz_snapshot.c: libFuzzer harness for the bbolt snapshot reader: any bytes must open cleanly or
 * fail with RK_BADINPUT, and walking the live keys must stay inside the buffer. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "rekey/snapshot.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int touch(void *ctx, const rk_snap_kv *kv)
{
	size_t *sum = ctx;
	for (size_t i = 0; i < kv->key_len; i++)
		*sum += kv->key[i];
	for (size_t i = 0; i < kv->value_len; i++)
		*sum += kv->value[i];
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *copy = malloc(size ? size : 1); /* exact-size heap copy: ASan sees any overrun */
	if (!copy)
		return 0;
	memcpy(copy, data, size);
	rk_snapshot *snap = NULL;
	rk_err err;
	size_t sum = 0;
	if (rk_snapshot_open_mem(copy, size, "fuzz", &snap, &err) == RK_OK) {
		int rc = rk_snapshot_each_live(snap, "/", touch, &sum, &err);
		if (rc != RK_OK && rc != RK_BADINPUT)
			abort();
		rk_snapshot_close(snap);
	} else if (err.code != RK_BADINPUT) {
		abort();
	}
	free(copy);
	return 0;
}
