/* mkvalue.c: e2e test helper: prints the value kube-apiserver would store for stdin's plaintext:
 * `mkvalue PROVIDER KEYNAME ETCDKEY` with the base64 key secret in $MKVALUE_SECRET (never in argv).
 * Built by the scenarios from the codec sources; aescbc values in the scenarios come from the openssl
 * CLI instead, so the codec is not only checked against itself. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rekey/codec.h"

int main(int argc, char **argv)
{
	if (argc != 4 || !getenv("MKVALUE_SECRET")) {
		fprintf(
		    stderr,
		    "usage: MKVALUE_SECRET=B64 mkvalue aesgcm|aescbc|secretbox KEYNAME ETCDKEY < plain\n");
		return 2;
	}
	rk_key key = {.name = argv[2], .secret = getenv("MKVALUE_SECRET")};
	rk_provider provider = {
	    .type = rk_provider_from_name(argv[1]), .ntypes = 1, .keys = &key, .nkeys = 1};
	rk_rule rule = {.providers = &provider, .nproviders = 1};
	rk_buf plain = RK_BUF_INIT, out = RK_BUF_INIT;
	char chunk[4096];
	size_t n;
	while ((n = fread(chunk, 1, sizeof chunk, stdin)) > 0)
		rk_buf_append(&plain, chunk, n);
	rk_chain *chain = NULL;
	rk_err err;
	int rc = rk_chain_new(&rule, &chain, &err);
	if (rc == RK_OK)
		rc = rk_chain_write(chain, argv[3], plain.data, plain.len, &out, &err);
	if (rc != RK_OK)
		fprintf(stderr, "mkvalue: %s\n", err.msg);
	else
		fwrite(out.data, 1, out.len, stdout);
	rk_chain_free(chain);
	rk_buf_free(&plain);
	rk_buf_free(&out);
	return rc;
}
