/* cmd_config.c: `rekeyctl config validate|show|hash|add-key|promote|prune FILE`: offline work on an
 * EncryptionConfiguration. Parses arguments, calls one librekey entry point, prints. Never prints key
 * material; key bytes come from a 0600 key file (--key-file) or are generated, never from argv. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "args_internal.h"
#include "commands_internal.h"
#include "config_output_internal.h"
#include "rekey/encconfig.h"

#define MAX_SCOPE 64

typedef struct config_args {
	const char *sub, *file, *output, *provider, *key_name, *key_file;
	const char *kms_name, *endpoint, *kms_api_version, *timeout;
	char *scope_text;
	const char *scope[MAX_SCOPE];
	size_t nscope;
	int bytes;
	int dry_run, automatic_reload, all_but_identity, help;
} config_args;

static const char *const usage_text[] = {
    "validate",
    "rekeyctl config validate FILE [--automatic-reload] [-o json]\n"
    "  Loads FILE strictly and applies every kube-apiserver validation rule.\n"
    "  --automatic-reload  also require unique kms names (--encryption-provider-config-automatic-reload)\n",
    "show",
    "rekeyctl config show FILE [-o json]\n"
    "  Rules, providers, key names and fingerprints (never secrets), and the write key of each rule.\n",
    "hash",
    "rekeyctl config hash FILE [-o json]\n"
    "  sha256:<hex> of the exact file bytes, as kube-apiserver's last_config_info metric reports it.\n",
    "add-key",
    "rekeyctl config add-key FILE --provider aescbc|aesgcm|secretbox|kms [--resources R1,R2]\n"
    "        [--key NAME] [--key-file KEYFILE | --bytes 16|24|32] [--dry-run]\n"
    "        kms: --kms-name NAME --endpoint unix:///path [--kms-api-version v2] [--timeout 3s]\n"
    "  Adds a READ key (second position) for the rules of the resources (default: every rule),\n"
    "  creating the provider in second position when migrating. KEYFILE must be mode 0600;\n"
    "  without it a key is generated (RAND_bytes). NAME defaults to <provider>-<UTC time>.\n",
    "promote",
    "rekeyctl config promote FILE --key NAME [--resources R1,R2] [--dry-run]\n"
    "  Makes NAME the write key: first key of its provider, its provider first.\n"
    "  --key identity puts identity first (decrypt).\n",
    "prune",
    "rekeyctl config prune FILE (--key NAME | --all-but-identity) [--resources R1,R2] [--dry-run]\n"
    "  Removes a read key (refuses the write key, exit 4), or every provider but identity once\n"
    "  identity is the write provider.\n",
    NULL,
    NULL};

static void usage(FILE *out, const char *sub)
{
	for (size_t i = 0; usage_text[i]; i += 2)
		if (!sub || !strcmp(sub, usage_text[i]))
			fprintf(out, "%s", usage_text[i + 1]);
	if (!sub)
		fprintf(out,
		        "Writes replace FILE atomically (mode 0600) and keep the previous file as FILE.bak.\n"
		        "Exit codes: 0 done, 1 failed, 2 bad usage or input (file unchanged), 4 refused as "
		        "unsafe.\n");
}

static int bad_usage(const char *sub, const char *why)
{
	fprintf(stderr, "rekeyctl config%s%s: %s\n", sub ? " " : "", sub ? sub : "", why);
	usage(stderr, sub);
	return RK_BADINPUT;
}

static int fail(const config_args *a, const rk_err *err)
{
	fprintf(stderr, "rekeyctl config %s: %s\n", a->sub, err->msg);
	return err->code ? err->code : RK_FAIL;
}

/* ---- argument parsing ---- */

static int split_scope(config_args *a, const char *csv)
{
	free(a->scope_text);
	if (!(a->scope_text = strdup(csv)))
		return -1;
	a->nscope = 0;
	for (char *save = NULL, *tok = strtok_r(a->scope_text, ",", &save); tok;
	     tok = strtok_r(NULL, ",", &save)) {
		if (a->nscope == MAX_SCOPE)
			return -1;
		a->scope[a->nscope++] = tok;
	}
	return a->nscope ? 0 : -1;
}

enum {
	OPT_DRY_RUN = 256,
	OPT_RELOAD,
	OPT_KEY_FILE,
	OPT_BYTES,
	OPT_KMS_NAME,
	OPT_ENDPOINT,
	OPT_KMS_VERSION,
	OPT_TIMEOUT,
	OPT_ALL_BUT_IDENTITY,
	OPT_RESOURCES,
	OPT_PROVIDER,
	OPT_KEY
};

static const struct option long_options[] = {{"output", required_argument, NULL, 'o'},
                                             {"help", no_argument, NULL, 'h'},
                                             {"provider", required_argument, NULL, OPT_PROVIDER},
                                             {"resources", required_argument, NULL, OPT_RESOURCES},
                                             {"key", required_argument, NULL, OPT_KEY},
                                             {"key-file", required_argument, NULL, OPT_KEY_FILE},
                                             {"bytes", required_argument, NULL, OPT_BYTES},
                                             {"dry-run", no_argument, NULL, OPT_DRY_RUN},
                                             {"automatic-reload", no_argument, NULL, OPT_RELOAD},
                                             {"kms-name", required_argument, NULL, OPT_KMS_NAME},
                                             {"endpoint", required_argument, NULL, OPT_ENDPOINT},
                                             {"kms-api-version", required_argument, NULL, OPT_KMS_VERSION},
                                             {"timeout", required_argument, NULL, OPT_TIMEOUT},
                                             {"all-but-identity", no_argument, NULL, OPT_ALL_BUT_IDENTITY},
                                             {NULL, 0, NULL, 0}};

/* One option (args_take_fn): 0, or -1 after a one-line message. */
static int take_option(void *ud, int opt, const char *flag, const char *val)
{
	config_args *a = ud;
	int json = 0;
	switch (opt) {
	case 'o':
		a->output = val;
		return args_output("config", val, "text", &json);
	case 'h':
		a->help = 1;
		return 0;
	case OPT_PROVIDER:
		a->provider = val;
		return 0;
	case OPT_RESOURCES:
		if (split_scope(a, val) == 0)
			return 0;
		fprintf(stderr,
		        "rekeyctl config %s: --resources \"%s\": a comma-separated list of at most %d\n",
		        a->sub, val, MAX_SCOPE);
		return -1;
	case OPT_KEY:
		a->key_name = val;
		return 0;
	case OPT_KEY_FILE:
		a->key_file = val;
		return 0;
	case OPT_BYTES:
		return args_int("config", flag, val, 16, 32, &a->bytes);
	case OPT_DRY_RUN:
		a->dry_run = 1;
		return 0;
	case OPT_RELOAD:
		a->automatic_reload = 1;
		return 0;
	case OPT_KMS_NAME:
		a->kms_name = val;
		return 0;
	case OPT_ENDPOINT:
		a->endpoint = val;
		return 0;
	case OPT_KMS_VERSION:
		a->kms_api_version = val;
		return 0;
	case OPT_TIMEOUT:
		a->timeout = val;
		return 0;
	case OPT_ALL_BUT_IDENTITY:
		a->all_but_identity = 1;
		return 0;
	}
	return -1;
}

/* ---- read-only subcommands ---- */

static int run_validate(const config_args *a)
{
	rk_encconfig *cfg;
	char hash[72];
	rk_err err = {0};
	int rc = rk_encconfig_open(a->file, a->automatic_reload, &cfg, hash, &err);
	int json = a->output && !strcmp(a->output, "json");
	if (rc != RK_OK) {
		if (json)
			print_json(stdout, json_pack("{s:s, s:b, s:s}", "file", a->file, "valid", 0, "error",
			                             err.msg));
		return fail(a, &err);
	}
	char *warnings = NULL;
	rk_encconfig_warnings(cfg, &warnings);
	print_warnings(a->file, warnings);
	if (json)
		print_json(stdout, json_pack("{s:s, s:b, s:s, s:o}", "file", a->file, "valid", 1, "hash",
		                             hash, "warnings", warnings_to_json(warnings)));
	else
		printf("%s: valid (%zu rules, %s)\n", a->file, cfg->nrules, hash);
	free(warnings);
	rk_encconfig_free(cfg);
	return RK_OK;
}

static int run_show(const config_args *a)
{
	rk_encconfig *cfg;
	char hash[72];
	rk_err err = {0};
	if (rk_encconfig_open(a->file, 0, &cfg, hash, &err) != RK_OK)
		return fail(a, &err);
	char *warnings = NULL;
	rk_encconfig_warnings(cfg, &warnings);
	print_warnings(a->file, warnings);
	free(warnings);
	if (a->output && !strcmp(a->output, "json"))
		print_json(stdout, config_to_json(a->file, hash, cfg));
	else
		config_print_text(stdout, a->file, hash, cfg);
	rk_encconfig_free(cfg);
	return RK_OK;
}

static int run_hash(const config_args *a)
{
	char hash[72];
	rk_err err = {0};
	if (rk_config_hash_file(a->file, hash, &err) != RK_OK)
		return fail(a, &err);
	if (a->output && !strcmp(a->output, "json"))
		print_json(stdout, json_pack("{s:s, s:s}", "file", a->file, "hash", hash));
	else
		printf("%s\n", hash);
	return RK_OK;
}

/* ---- edits ---- */

static void print_edit_result(const config_args *a, const rk_edit_result *res)
{
	if (a->dry_run) {
		printf("# dry run: %s is unchanged; it would become (secrets redacted):\n%s", a->file,
		       res->preview);
		return;
	}
	if (!res->changed) {
		printf("%s: unchanged (%s)\n", a->file, res->old_hash);
		return;
	}
	printf("%s: written\n  old %s\n  new %s\n  previous file kept as %s.bak\n", a->file, res->old_hash,
	       res->new_hash, a->file);
}

/* Runs the edit and prints what happened; res (may be NULL) keeps the result for the caller to free. */
static int run_edit_request(const config_args *a, const rk_edit_request *req, rk_edit_result *res)
{
	rk_edit_result own;
	memset(&own, 0, sizeof own);
	rk_err err = {0};
	res = res ? res : &own;
	if (rk_encconfig_edit_file(a->file, req, res, &err) != RK_OK)
		return fail(a, &err);
	print_edit_result(a, res);
	if (res == &own)
		rk_edit_result_free(res);
	return RK_OK;
}

static void init_request(const config_args *a, rk_edit_request *req, rk_edit_op op)
{
	memset(req, 0, sizeof *req);
	req->op = op;
	req->resources = a->nscope ? a->scope : NULL;
	req->nresources = a->nscope;
	req->dry_run = a->dry_run;
}

static int add_kms(const config_args *a)
{
	const char *name = a->kms_name ? a->kms_name : a->key_name;
	if (!name || !a->endpoint)
		return bad_usage(a->sub, "--provider kms needs --kms-name and --endpoint");
	rk_kms kms = {.api_version = (char *)(a->kms_api_version ? a->kms_api_version : "v2"),
	              .name = (char *)name,
	              .endpoint = (char *)a->endpoint,
	              .timeout = (char *)a->timeout};
	rk_edit_request req;
	init_request(a, &req, RK_EDIT_ADD_KMS);
	req.kms = &kms;
	int rc = run_edit_request(a, &req, NULL);
	if (rc == RK_OK)
		printf("added kms provider %s as a read provider\n", name);
	return rc;
}

static int run_add_key(const config_args *a)
{
	if (!a->provider)
		return bad_usage(a->sub, "--provider is required");
	rk_provider_type type = rk_provider_from_name(a->provider);
	if (type == RK_PROV_KMS)
		return add_kms(a);
	if (type != RK_PROV_AESCBC && type != RK_PROV_AESGCM && type != RK_PROV_SECRETBOX)
		return bad_usage(a->sub, "--provider must be aescbc, aesgcm, secretbox or kms");
	rk_edit_request req;
	init_request(a, &req, RK_EDIT_ADD_KEY);
	req.type = type;
	req.key_file = a->key_file;
	req.key_bytes = (size_t)a->bytes;
	req.key_name = a->key_name;
	rk_edit_result res;
	int rc = run_edit_request(a, &req, &res);
	if (rc == RK_OK && res.key_fingerprint[0])
		printf("%s read key %s (%s) fingerprint %s\n", a->dry_run ? "would add" : "added",
		       res.key_name, a->provider, res.key_fingerprint);
	rk_edit_result_free(&res);
	return rc;
}

static int run_promote(const config_args *a)
{
	if (!a->key_name)
		return bad_usage(a->sub, "--key NAME is required");
	rk_edit_request req;
	init_request(a, &req, RK_EDIT_PROMOTE);
	req.name = a->key_name;
	return run_edit_request(a, &req, NULL);
}

static int run_prune(const config_args *a)
{
	if (!a->key_name == !a->all_but_identity)
		return bad_usage(a->sub, "give either --key NAME or --all-but-identity");
	rk_edit_request req;
	init_request(a, &req, a->all_but_identity ? RK_EDIT_ONLY_IDENTITY : RK_EDIT_PRUNE);
	req.name = a->key_name;
	return run_edit_request(a, &req, NULL);
}

/* ---- dispatch ---- */

static const struct {
	const char *name;
	int (*run)(const config_args *a);
} subcommands[] = {{"validate", run_validate}, {"show", run_show},       {"hash", run_hash},
                   {"add-key", run_add_key},   {"promote", run_promote}, {"prune", run_prune}};

static int dispatch(config_args *a, int argc, char **argv)
{
	char cmd[64];
	snprintf(cmd, sizeof cmd, "config %s", a->sub);
	int rc = args_parse(cmd, argc, argv, "o:h", long_options, take_option, a);
	if (rc != RK_OK)
		return rc;
	if (a->help) {
		usage(stdout, a->sub);
		return RK_OK;
	}
	if (optind != argc - 1)
		return bad_usage(a->sub, optind >= argc ? "FILE is required" : "exactly one FILE");
	a->file = argv[optind];
	for (size_t i = 0; i < sizeof subcommands / sizeof subcommands[0]; i++)
		if (!strcmp(a->sub, subcommands[i].name))
			return subcommands[i].run(a);
	return bad_usage(NULL, "unknown subcommand");
}

int cmd_config(int argc, char **argv)
{
	if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		usage(argc < 2 ? stderr : stdout, NULL);
		return argc < 2 ? RK_BADINPUT : RK_OK;
	}
	config_args a = {.sub = argv[1]};
	int rc = dispatch(&a, argc - 1, argv + 1);
	free(a.scope_text);
	return rc;
}
