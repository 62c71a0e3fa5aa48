/* cmd_keygen.c: `rekeyctl keygen --provider aescbc|aesgcm|secretbox [--bytes 16|24|32] --out FILE`:
 * generates a key with OpenSSL RAND_bytes into a NEW 0600 file (never overwrites) and prints its name
 * and fingerprint, never the key. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
	const char *provider, *out, *output;
	long bytes;
	int help;
} keygen_args;

static int keygen_bad(const char *why)
{
	fprintf(stderr, "rekeyctl keygen: %s\n%s", why, keygen_usage);
	return RK_BADINPUT;
}

static int parse_keygen(keygen_args *a, int argc, char **argv)
{
	static const struct option opts[] = {
	    {"provider", required_argument, NULL, 'p'}, {"bytes", required_argument, NULL, 'b'},
	    {"out", required_argument, NULL, 'f'},      {"output", required_argument, NULL, 'o'},
	    {"help", no_argument, NULL, 'h'},           {NULL, 0, NULL, 0}};
	optind = 0;
	opterr = 0;
	char *end;
	for (int opt; (opt = getopt_long(argc, argv, "o:h", opts, NULL)) != -1;) {
		if (opt == 'p')
			a->provider = optarg;
		else if (opt == 'f')
			a->out = optarg;
		else if (opt == 'o')
			a->output = optarg;
		else if (opt == 'h')
			a->help = 1;
		else if (opt == 'b' && (a->bytes = strtol(optarg, &end, 10)) > 0 && !*end)
			continue;
		else
			return keygen_bad("bad option or value");
	}
	if (optind != argc)
		return keygen_bad("unexpected argument");
	return RK_OK;
}

static void print_key(const keygen_args *a, const rk_key *key, const char *fp)
{
	if (a->output && !strcmp(a->output, "json"))
		print_json(stdout, json_pack("{s:s, s:s, s:s, s:s}", "name", key->name, "provider",
		                             a->provider, "fingerprint", fp, "file", a->out));
	else
		printf("name: %s\nprovider: %s\nfingerprint: %s\nfile: %s (mode 0600)\n", key->name,
		       a->provider, fp, a->out);
}

int cmd_keygen(int argc, char **argv)
{
	keygen_args a = {.provider = "aescbc"};
	int rc = parse_keygen(&a, argc, argv);
	if (rc != RK_OK || a.help) {
		if (a.help)
			printf("%s", keygen_usage);
		return rc;
	}
	if (!a.out)
		return keygen_bad("--out FILE is required (the key never goes to stdout)");
	rk_provider_type type = rk_provider_from_name(a.provider);
	if (type != RK_PROV_AESCBC && type != RK_PROV_AESGCM && type != RK_PROV_SECRETBOX)
		return keygen_bad("--provider must be aescbc, aesgcm or secretbox");
	rk_key key;
	rk_err err = {0};
	char fp[17];
	rc = rk_key_generate(NULL, type, a.bytes > 0 ? (size_t)a.bytes : 32, &key, &err);
	if (rc == RK_OK && (rc = rk_key_write_file(a.out, &key, &err)) == RK_OK &&
	    rk_key_fingerprint(&key, fp) == 0)
		print_key(&a, &key, fp);
	if (rc != RK_OK)
		fprintf(stderr, "rekeyctl keygen: %s\n", err.msg);
	rk_key_clear(&key);
	return rc;
}
