/* fuzz_encconfig.c: libFuzzer harness for the EncryptionConfiguration engine: load any bytes; when they
 * load, validate, emit, reload and require the reload to be equal and the re-emission byte-identical;
 * when they validate, run an edit on a copy. Crashes, leaks and broken round trips are findings. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "rekey/encconfig.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_round_trip(const rk_encconfig *cfg)
{
	size_t len1, len2;
	char *yaml1 = rk_encconfig_emit(cfg, &len1);
	rk_encconfig *again = NULL;
	rk_err err;
	if (rk_encconfig_load_buf(yaml1, len1, "emitted", &again, &err) != RK_OK)
		abort(); /* canonical output must always load */
	if (!rk_encconfig_equal(cfg, again))
		abort();
	char *yaml2 = rk_encconfig_emit(again, &len2);
	if (len1 != len2 || memcmp(yaml1, yaml2, len1) != 0)
		abort();
	free(yaml1);
	free(yaml2);
	rk_encconfig_free(again);
}

static void try_edits(const rk_encconfig *cfg)
{
	rk_encconfig *copy = rk_encconfig_clone(cfg);
	rk_err err;
	rk_key key = {.name = "fuzz-new", .secret = "MDEyMzQ1Njc4OWFiY2RlZmdoaWprbG1ub3BxcnN0dXY="};
	if (rk_encconfig_add_key(copy, NULL, 0, RK_PROV_AESCBC, &key, &err) == RK_OK) {
		if (rk_encconfig_validate(copy, 0, &err) != RK_OK)
			abort(); /* edits only ever produce valid configs */
		rk_encconfig_promote(copy, NULL, 0, "fuzz-new", &err);
		rk_encconfig_identity_first(copy, NULL, 0, &err);
		check_round_trip(copy);
	}
	rk_encconfig_free(copy);
}

/* Elements naming several providers are invalid, and emit keeps only the first of them. */
static int one_type_per_element(const rk_encconfig *cfg)
{
	for (size_t i = 0; i < cfg->nrules; i++)
		for (size_t j = 0; j < cfg->rules[i].nproviders; j++)
			if (cfg->rules[i].providers[j].ntypes > 1)
				return 0;
	return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	rk_encconfig *cfg = NULL;
	rk_err err;
	if (rk_encconfig_load_buf((const char *)data, size, "fuzz", &cfg, &err) != RK_OK)
		return 0;
	if (one_type_per_element(cfg))
		check_round_trip(cfg);
	if (rk_encconfig_validate(cfg, 1, &err) == RK_OK)
		try_edits(cfg);
	rk_encconfig_free(cfg);
	return 0;
}
