/* cmd_keygen.c: `rekeyctl keygen --provider aescbc|aesgcm|secretbox [--bytes 16|24|32] --out FILE`:
 * generates a key with OpenSSL RAND_bytes into a NEW 0600 file (never overwrites) and prints its name
 * and fingerprint, never the key. */
#include <stdio.h>
#include <string.h>

#include "args_internal.h"
#include "commands_internal.h"
#include "config_output_internal.h"
#include "rekey/encconfig.h"
#include "rekey/keyfile.h"

static const char keygen_usage[] =
    "rekeyctl keygen --provider aescbc|aesgcm|secretbox [--bytes 16|24|32] --out FILE [-o json]\n"
    "  Generates a key (OpenSSL RAND_bytes; 32 bytes by default, secretbox needs 32) into FILE, a new\n"
    "  file of mode 0600 holding the standard-base64 key; refuses an existing FILE. Prints the key name\n"
    "  (<provider>-<UTC yyyymmddThhmmssZ>) and its fingerprint (first 8 bytes of sha256, hex).\n"
    "  Use it with: rekeyctl config add-key ENC.yaml --provider P --key-file FILE --key NAME\n";

typedef struct keygen_args {
	const char *provider, *out;
	int bytes, json;
} keygen_args;

static int keygen_bad(const char *why)
{
	fprintf(stderr, "rekeyctl keygen: %s\n%s", why, keygen_usage);
	return RK_BADINPUT;
}

static const struct option long_options[] = {
    {"provider", required_argument, NULL, 'p'}, {"bytes", required_argument, NULL, 'b'},
    {"out", required_argument, NULL, 'f'},      {"output", required_argument, NULL, 'o'},
    {"help", no_argument, NULL, 'h'},           {NULL, 0, NULL, 0}};

static int take(void *ud, int opt, const char *flag, const char *v)
{
	keygen_args *a = ud;
	switch (opt) {
	case 'p':
		a->provider = v;
		return 0;
	case 'f':
		a->out = v;
		return 0;
	case 'o':
		return args_output("keygen", v, NULL, &a->json);
	case 'b':
		return args_int("keygen", flag, v, 16, 32, &a->bytes);
	case 'h':
		fputs(keygen_usage, stdout);
		return 1;
	}
	return -1;
}

int cmd_keygen(int argc, char **argv)
{
	keygen_args a = {.provider = "aescbc"};
	int rc = args_parse_flags_only("keygen", argc, argv, "o:h", long_options, take, &a);
	if (rc != RK_OK)
		return rc == 1 ? RK_OK : rc;
	if (!a.out)
		return keygen_bad("--out FILE is required (the key never goes to stdout)");
	rk_provider_type type = rk_provider_from_name(a.provider);
	if (type != RK_PROV_AESCBC && type != RK_PROV_AESGCM && type != RK_PROV_SECRETBOX)
		return keygen_bad("--provider must be aescbc, aesgcm or secretbox");
	char name[256], fp[17];
	rk_err err = {0};
	rc = rk_key_generate_file(type, (size_t)a.bytes, a.out, name, sizeof name, fp, &err);
	if (rc != RK_OK) {
		fprintf(stderr, "rekeyctl keygen: %s\n", err.msg);
		return rc;
	}
	if (a.json)
		print_json(stdout, json_pack("{s:s, s:s, s:s, s:s}", "name", name, "provider", a.provider,
		                             "fingerprint", fp, "file", a.out));
	else
		printf("name: %s\nprovider: %s\nfingerprint: %s\nfile: %s (mode 0600)\n", name, a.provider,
		       fp, a.out);
	return RK_OK;
}
