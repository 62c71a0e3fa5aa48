/* cmd_verify.c: `rekeyctl verify`: what is actually stored under which key, in live etcd or in a
 * snapshot file. Parses arguments, runs rk_etcdscan_run, prints the report. Exit 0 all expected,
 * 1 not, 2 bad input. */
#include <stdio.h>
#include <string.h>

#include "args_internal.h"
#include "commands_internal.h"
#include "rekey/etcdscan.h"

#define MAX_RESOURCES 64

static const char verify_help[] =
    "usage: rekeyctl verify (--etcd URL [--cacert F --cert F --key F] [--etcd-api auto|grpc|json]\n"
    "         | --snapshot FILE) [--prefix /registry/] [--resource secrets]...\n"
    "         [--config FILE | --expect KEY] [--expect-key-id ID] [--forbid KEY] [-o table|json]\n"
    "         [--limit N] [--page-size N] [--state DIR --cluster NAME]\n"
    "Classifies every stored value (identity, aescbc, aesgcm, secretbox, kms v1/v2 + keyID, or\n"
    "malformed), counts per resource and key, and lists the objects not under the expected key\n"
    "(table: first 20, json: all; --limit N, 0 = all). --config also decrypt-checks every local-key value;\n"
    "--forbid KEY fails when any value is still under KEY (the check before pruning it).\n"
    "--expect-key-id ID: kms v2 values under the expected provider must also carry keyID ID.\n"
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
	int json;
	int limit_given;
};

static const struct option long_options[] = {
    {"etcd", required_argument, 0, 'e'},
    {"cacert", required_argument, 0, 'A'},
    {"cert", required_argument, 0, 'C'},
    {"key", required_argument, 0, 'K'},
    {"etcd-api", required_argument, 0, 'a'},
    {"snapshot", required_argument, 0, 's'},
    {"prefix", required_argument, 0, 'p'},
    {"resource", required_argument, 0, 'r'},
    {"config", required_argument, 0, 'c'},
    {"expect", required_argument, 0, 'x'},
    {"forbid", required_argument, 0, 'f'},
    {"output", required_argument, 0, 'o'},
    {"limit", required_argument, 0, 'l'},
    {"page-size", required_argument, 0, 'P'},
    {"state", required_argument, 0, 'S'},
    {"cluster", required_argument, 0, 'L'},
    {"expect-key-id", required_argument, 0, 'I'},
    {"help", no_argument, 0, 'h'},
    {0, 0, 0, 0},
};

/* --etcd-api words, indexed by enum rk_etcd_api. */
static const char *const etcd_apis[] = {
    [RK_ETCD_API_AUTO] = "auto", [RK_ETCD_API_GRPC] = "grpc", [RK_ETCD_API_JSON] = "json"};

/* A count flag into a size_t within [min, max]. */
static int size_arg(const char *flag, const char *v, long min, long max, size_t *out)
{
	long n = 0;
	if (args_long("verify", flag, v, min, max, &n) != 0)
		return -1;
	*out = (size_t)n;
	return 0;
}

static int take(void *ud, int opt, const char *flag, const char *v)
{
	struct verify_args *a = ud;
	rk_scan_opts *o = &a->opts;
	switch (opt) {
	case 'e':
		o->etcd_url = v;
		return 0;
	case 'A':
		o->cacert = v;
		return 0;
	case 'C':
		o->cert = v;
		return 0;
	case 'K':
		o->key = v;
		return 0;
	case 'a':
		return args_choice("verify", flag, v, etcd_apis, sizeof etcd_apis / sizeof etcd_apis[0],
		                   &o->etcd_api);
	case 's':
		o->snapshot_path = v;
		return 0;
	case 'p':
		o->prefix = v;
		return 0;
	case 'c':
		o->config_path = v;
		return 0;
	case 'x':
		o->expect = v;
		return 0;
	case 'f':
		o->forbid = v;
		return 0;
	case 'I':
		o->expect_key_id = v;
		return 0;
	case 'S':
		o->state_dir = v;
		return 0;
	case 'L':
		o->archive_cluster = v;
		return 0;
	case 'o':
		return args_output("verify", v, NULL, &a->json);
	case 'l':
		a->limit_given = 1;
		return size_arg(flag, v, 0, 100000000, &o->list_limit);
	case 'P':
		return size_arg(flag, v, 1, 100000, &o->page_limit);
	case 'h':
		verify_usage(stdout);
		return 1;
	case 'r':
		if (o->nresources < MAX_RESOURCES) {
			a->resources[o->nresources++] = v;
			return 0;
		}
		fprintf(stderr, "rekeyctl verify: at most %d --resource options\n", MAX_RESOURCES);
		return -1;
	}
	return -1;
}

int cmd_verify(int argc, char **argv)
{
	struct verify_args a;
	memset(&a, 0, sizeof a);
	a.opts.list_limit = 20;
	int rc = args_parse_flags_only("verify", argc, argv, "o:h", long_options, take, &a);
	if (rc)
		return rc == 1 ? RK_OK : rc;
	a.opts.resources = a.resources;
	a.opts.check_archive = a.opts.snapshot_path != NULL;
	if (a.json && !a.limit_given)
		a.opts.list_limit = 0; /* JSON lists every unexpected object unless told otherwise */
	rk_scan_report *report = NULL;
	rk_err err;
	rk_err_clear(&err);
	rc = rk_etcdscan_run(&a.opts, &report, &err);
	if (rc != RK_OK) {
		fprintf(stderr, "rekeyctl verify: %s\n", err.msg);
		return rc;
	}
	rk_buf out = RK_BUF_INIT;
	if (a.json)
		rk_scan_report_json(report, &out);
	else
		rk_scan_report_table(report, &out);
	fwrite(out.data, 1, out.len, stdout);
	rk_buf_free(&out);
	rc = rk_scan_verdict(report);
	rk_scan_report_free(report);
	return rc;
}
