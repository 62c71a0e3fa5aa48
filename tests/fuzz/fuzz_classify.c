/* fuzz_classify.c: libFuzzer harness for the value classifier and the transformer chain read path:
 * any stored bytes must classify without reading past the value, reading them through a rule with
 * every local provider must fail cleanly or succeed, and the stored-object test verify applies to a
 * plaintext (k8s protobuf envelope or JSON object) must cope with the bytes and with what they decrypt to. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "rekey/codec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static rk_chain *fuzz_chain(void)
{
	static rk_key gcm[] = {{.name = "k2", .secret = "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVphYmNkZWY="}};
	static rk_key cbc[] = {{.name = "k1", .secret = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="}};
	static rk_key box[] = {{.name = "box", .secret = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="}};
	static rk_provider providers[] = {
	    {.type = RK_PROV_AESGCM, .ntypes = 1, .keys = gcm, .nkeys = 1},
	    {.type = RK_PROV_AESCBC, .ntypes = 1, .keys = cbc, .nkeys = 1},
	    {.type = RK_PROV_SECRETBOX, .ntypes = 1, .keys = box, .nkeys = 1},
	    {.type = RK_PROV_KMS, .ntypes = 1, .kms = {.api_version = "v2", .name = "vault"}},
	    {.type = RK_PROV_IDENTITY, .ntypes = 1},
	};
	static rk_rule rule = {.providers = providers, .nproviders = 5};
	static rk_chain *chain;
	rk_err err;
	if (!chain && rk_chain_new(&rule, &chain, &err) != RK_OK)
		abort();
	return chain;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *copy = malloc(size ? size : 1);
	if (!copy)
		return 0;
	memcpy(copy, data, size);
	rk_value_info info;
	rk_codec_classify(copy, size, &info);
	if (info.kind == RK_VAL_MALFORMED && !info.reason)
		abort();
	if (info.prefix_len > size || strlen(info.name) >= sizeof info.name)
		abort();
	rk_buf out = RK_BUF_INIT;
	rk_err err;
	int stale = 0;
	int rc = rk_chain_read(fuzz_chain(), "/registry/secrets/ns/fuzz", copy, size, &out, &stale, &err);
	if (rc == RK_OK && info.kind != RK_VAL_IDENTITY_JSON && info.kind != RK_VAL_IDENTITY_PROTOBUF &&
	    info.kind != RK_VAL_AESCBC && info.kind != RK_VAL_AESGCM && info.kind != RK_VAL_SECRETBOX &&
	    info.kind != RK_VAL_MALFORMED)
		abort(); /* kms values cannot be read by this build */
	/* what verify --config does with a plaintext: is it a stored object? */
	rk_codec_object_problem(copy, size);
	if (rc == RK_OK)
		rk_codec_object_problem(out.data ? out.data : copy, out.len);
	rk_chain_kms_known(fuzz_chain(), copy, size);
	rk_buf_free(&out);
	free(copy);
	return 0;
}
