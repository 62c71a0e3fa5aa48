/* fuzz_execcred.c: libFuzzer harness for what an exec credential plugin prints: the ExecCredential JSON
 * (apiVersion, kind, status with token / client certificate and key / expirationTimestamp) must parse or
 * fail with a clean one-line error naming the plugin, and the RFC 3339 parser must never read past its
 * input (it gets its own NUL-terminated copy of the bytes). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "rekey/execcred.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void parse_credential(const uint8_t *data, size_t size, const char *api_version)
{
	rk_exec_config exec = {.command = "fuzz-plugin", .api_version = (char *)api_version};
	rk_kube_config cfg = {
	    .source = "fuzz", .user_name = "u", .server = "https://127.0.0.1:1", .exec = &exec};
	rk_exec_cred cred = {0};
	rk_err err;
	char *text = malloc(size + 1);
	if (!text)
		return;
	memcpy(text, data, size);
	text[size] = '\0';
	if (rk_exec_cred_parse(&cfg, text, size, &cred, &err) == RK_OK) {
		if (!cred.token && !cred.cert_pem.len)
			abort(); /* a parsed credential always holds something to authenticate with */
		rk_exec_cred_valid(&cred, 0);
	} else if (!strstr(err.msg, "fuzz-plugin") || strchr(err.msg, '\n')) {
		abort();
	}
	rk_exec_cred_clear(&cred);
	free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	parse_credential(data, size, "client.authentication.k8s.io/v1");
	parse_credential(data, size, "client.authentication.k8s.io/v1beta1");
	char *copy = malloc(size + 1);
	if (!copy)
		return 0;
	memcpy(copy, data, size);
	copy[size] = '\0';
	time_t t = 0;
	rk_parse_rfc3339(copy, &t);
	free(copy);
	return 0;
}
