/* cmd_verify.c: `rekeyctl verify`: what is actually stored under which key, in live etcd or in a
 * snapshot file. Parses arguments, runs rk_etcdscan_run, prints the report. Exit 0 all expected,
 * 1 not, 2 bad input. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "rekey/encconfig.h"
#include "rekey/etcdscan.h"

#define MAX_RESOURCES 64

static const char verify_help[] =
    "usage: rekeyctl verify (--etcd URL [--cacert F --cert F --key F] [--etcd-api auto|grpc|json]\n"
    "         | --snapshot FILE) [--prefix /registry/] [--resource secrets]...\n"
    "         [--config FILE | --expect KEY] [--forbid KEY] [-o table|json] [--limit N] [--page-size N]\n"
    "         [--state DIR --cluster NAME]\n"
    "Classifies every stored value (identity, aescbc, aesgcm, secretbox, kms v1/v2 + keyID, or\n"
    "malformed), counts per resource and key, and lists the objects not under the expected key\n"
    "(table: first 20, json: all; --limit N, 0 = all). --config also decrypt-checks every local-key value;\n"
    "--forbid KEY fails when any value is still under KEY (the check before pruning it).\n"
    "--etcd reads etcd's gRPC API (KV Range), or its JSON gateway when the peer does not speak\n"
    "gRPC (auto, the default); --etcd-api grpc or json uses only that one.\n"
    "With --snapshot it also lists the keys the values need and whether the key archive of the state\n"
    "dir (--state, default $XDG_STATE_HOME/rekeyctl; --cluster: only that cluster's) holds each.\n"
    "Exit 0 all expected, 1 not, 2 bad input.\n";

static void verify_usage(FILE *out)
{
	fputs(verify_help, out);
}

struct verify_args {
	rk_scan_opts opts;
	const char *resources[MAX_RESOURCES];
	const char *config_path;
	const char *output;
	int limit_given, api_given;
};

static int parse_limit(const char *s, size_t *out)
{
	char *end;
	unsigned long long v = strtoull(s, &end, 10);
	if (!*s || *end || s[0] == '-')
		return -1;
	*out = (size_t)v;
	return 0;
}

static int parse_api(const char *s, int *api)
{
	static const char *const names[] = {
	    [RK_ETCD_API_AUTO] = "auto", [RK_ETCD_API_GRPC] = "grpc", [RK_ETCD_API_JSON] = "json"};
	for (int i = 0; i < (int)(sizeof names / sizeof names[0]); i++)
		if (!strcmp(s, names[i])) {
			*api = i;
			return 0;
		}
	return -1;
}

static int parse_args(int argc, char **argv, struct verify_args *a)
{
	static const struct option longopts[] = {
	    {"etcd", required_argument, 0, 'e'},     {"cacert", required_argument, 0, 'A'},
	    {"cert", required_argument, 0, 'C'},     {"key", required_argument, 0, 'K'},
	    {"etcd-api", required_argument, 0, 'a'}, {"snapshot", required_argument, 0, 's'},
	    {"prefix", required_argument, 0, 'p'},   {"resource", required_argument, 0, 'r'},
	    {"config", required_argument, 0, 'c'},   {"expect", required_argument, 0, 'x'},
	    {"forbid", required_argument, 0, 'f'},   {"output", required_argument, 0, 'o'},
	    {"limit", required_argument, 0, 'l'},    {"page-size", required_argument, 0, 'P'},
	    {"state", required_argument, 0, 'S'},    {"cluster", required_argument, 0, 'L'},
	    {"help", no_argument, 0, 'h'},           {0, 0, 0, 0},
	};
	a->opts.list_limit = 20;
	a->output = "table";
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "o:h", longopts, NULL)) != -1) {
		switch (c) {
		case 'e':
			a->opts.etcd_url = optarg;
			break;
		case 'A':
			a->opts.cacert = optarg;
			break;
		case 'C':
			a->opts.cert = optarg;
			break;
		case 'K':
			a->opts.key = optarg;
			break;
		case 'a':
			a->api_given = 1;
			if (parse_api(optarg, &a->opts.etcd_api) != 0) {
				fprintf(stderr, "rekeyctl verify: --etcd-api %s: want auto, grpc or json\n",
				        optarg);
				return RK_BADINPUT;
			}
			break;
		case 's':
			a->opts.snapshot_path = optarg;
			break;
		case 'p':
			a->opts.prefix = optarg;
			break;
		case 'c':
			a->config_path = optarg;
			break;
		case 'x':
			a->opts.expect = optarg;
			break;
		case 'f':
			a->opts.forbid = optarg;
			break;
		case 'o':
			a->output = optarg;
			break;
		case 'r':
			if (a->opts.nresources == MAX_RESOURCES) {
				fprintf(stderr, "rekeyctl verify: at most %d --resource options\n",
				        MAX_RESOURCES);
				return RK_BADINPUT;
			}
			a->resources[a->opts.nresources++] = optarg;
			break;
		case 'l':
			a->limit_given = 1;
			if (parse_limit(optarg, &a->opts.list_limit) != 0) {
				fprintf(stderr, "rekeyctl verify: --limit %s: want a number >= 0\n", optarg);
				return RK_BADINPUT;
			}
			break;
		case 'P':
			if (parse_limit(optarg, &a->opts.page_limit) != 0 || a->opts.page_limit == 0) {
				fprintf(stderr, "rekeyctl verify: --page-size %s: want a number > 0\n",
				        optarg);
				return RK_BADINPUT;
			}
			break;
		case 'S':
			a->opts.state_dir = optarg;
			break;
		case 'L':
			a->opts.archive_cluster = optarg;
			break;
		case 'h':
			verify_usage(stdout);
			return -1;
		default:
			verify_usage(stderr);
			return RK_BADINPUT;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "rekeyctl verify: unexpected argument \"%s\"\n", argv[optind]);
		return RK_BADINPUT;
	}
	if (a->api_given && !a->opts.etcd_url) {
		fprintf(stderr, "rekeyctl verify: --etcd-api needs --etcd URL\n");
		return RK_BADINPUT;
	}
	if (strcmp(a->output, "table") && strcmp(a->output, "json")) {
		fprintf(stderr, "rekeyctl verify: -o %s: want table or json\n", a->output);
		return RK_BADINPUT;
	}
	a->opts.resources = a->resources;
	a->opts.check_archive = a->opts.snapshot_path != NULL;
	if (!strcmp(a->output, "json") && !a->limit_given)
		a->opts.list_limit = 0; /* JSON lists every unexpected object unless told otherwise */
	return RK_OK;
}

static int load_config(const char *path, rk_encconfig **cfg)
{
	rk_err err;
	rk_err_clear(&err);
	if (rk_encconfig_load_file(path, cfg, &err) != RK_OK ||
	    rk_encconfig_validate(*cfg, 0, &err) != RK_OK) {
		fprintf(stderr, "rekeyctl verify: %s\n", err.msg);
		rk_encconfig_free(*cfg);
		*cfg = NULL;
		return RK_BADINPUT;
	}
	return RK_OK;
}

int cmd_verify(int argc, char **argv)
{
	struct verify_args a;
	memset(&a, 0, sizeof a);
	int rc = parse_args(argc, argv, &a);
	if (rc)
		return rc < 0 ? RK_OK : rc;
	rk_encconfig *cfg = NULL;
	if (a.config_path && (rc = load_config(a.config_path, &cfg)) != RK_OK)
		return rc;
	a.opts.config = cfg;
	rk_scan_report *report = NULL;
	rk_err err;
	rk_err_clear(&err);
	rc = rk_etcdscan_run(&a.opts, &report, &err);
	rk_encconfig_free(cfg);
	if (rc != RK_OK) {
		fprintf(stderr, "rekeyctl verify: %s\n", err.msg);
		return rc;
	}
	rk_buf out = RK_BUF_INIT;
	if (!strcmp(a.output, "json"))
		rk_scan_report_json(report, &out);
	else
		rk_scan_report_table(report, &out);
	fwrite(out.data, 1, out.len, stdout);
	rk_buf_free(&out);
	rc = rk_scan_verdict(report);
	rk_scan_report_free(report);
	return rc;
}
