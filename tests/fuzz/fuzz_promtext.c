/* fuzz_promtext.c: libFuzzer harness for the Prometheus text parser: any input, split into two chunks
 * at a point chosen by the first byte, must parse or fail cleanly (no read past a line, no leak), and
 * the histogram helpers must cope with whatever buckets it produced. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "rekey/promtext.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int on_sample(const rk_prom_sample *sample, void *ud)
{
	rk_prom_apiserver_on_sample(sample, ud);
	rk_prom_histogram_add(&((rk_prom_apiserver *)ud)->put, "x", NULL, 0, sample, NULL);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size == 0)
		return 0;
	size_t split = data[0] % size;
	rk_prom_apiserver now, before;
	rk_prom_apiserver_init(&now, "secrets", "");
	rk_prom_apiserver_init(&before, "secrets", "");
	rk_err err;
	rk_prom_parser *p = rk_prom_parser_new("fuzz", on_sample, NULL, &now);
	if (!p)
		return 0;
	if (rk_prom_parser_feed(p, (const char *)data + 1, split, &err) == RK_OK &&
	    rk_prom_parser_feed(p, (const char *)data + 1 + split, size - 1 - split, &err) == RK_OK)
		rk_prom_parser_finish(p, &err);
	rk_prom_parser_free(p);
	rk_prom_histogram_quantile(0.99, &now.put);
	rk_prom_apiserver_put_p99_ms(&now, &before);
	rk_prom_apiserver_put_p99_ms(&before, &now);
	return 0;
}
