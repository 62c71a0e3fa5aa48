/* cmd_rewrite.c: `rekeyctl rewrite`: parses the flags, renders the progress and catches SIGINT/SIGTERM
 * around rk_rewrite_cmd (which opens the kubeconfig, the client and the state db), prints the result. */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "args_internal.h"
#include "commands_internal.h"
#include "output_internal.h"
#include "rekey/rewrite.h"

#define MAX_LIST 64

static const char usage_text[] =
    "usage: rekeyctl rewrite [--kubeconfig FILE] [--context NAME] [--resource R]... [--namespace NS]...\n"
    "         [--qps N] [--burst N] [--concurrency N] [--page-size N] [--batch-size N] [--batch-pause DUR]\n"
    "         [--budget-p99 DUR] [--budget-errors RATIO] [--budget-window DUR] [--soak DUR] "
    "[--budget-inflight N]\n"
    "         [--on-breach slowdown|pause|abort] [--resume] [--state DIR] [--cluster NAME]\n"
    "         [--scrape-interval DUR] [--metrics-file FILE] [--endpoint URL]... [-o json]\n"
    "PUTs every object of the resources back unchanged (re-encrypting it with the current write key),\n"
    "throttled, in checkpointed batches. Defaults: --resource secrets, all namespaces, unthrottled,\n"
    "--concurrency 8 --page-size 500 --batch-size 200. Durations are Go's (500ms, 30s, 1m30s).\n"
    "Exit 0 done, 1 failures or orphans, 2 bad input, 3 stopped (Ctrl-C, budget abort): continue with\n"
    "--resume. --resume also takes a run that ended with failures or orphans: once their cause is fixed\n"
    "it tries each failed object again and re-checks each orphan. --scrape-interval reads the\n"
    "apiserver's /metrics (PUT p99, in-flight) into the budget.\n"
    "--endpoint (repeatable) spreads the PUTs over these apiservers (the kubeconfig's credentials and\n"
    "tls-server-name), each with its own share and budget; default: the kubeconfig's server.\n";

static volatile sig_atomic_t stop_flag;

static void on_signal(int sig)
{
	(void)sig;
	stop_flag = 1;
}

struct rewrite_args {
	rk_rewrite_opts opts;
	rk_kubeconfig_opts kc;
	const char *state_dir;
	const char *resources[MAX_LIST];
	const char *namespaces[MAX_LIST];
	const char **endpoints; /* room for one per argument: any number */
	size_t max_endpoints;
	int json;
};

enum {
	OPT_STATE = 256,
	OPT_CLUSTER,
	OPT_METRICS_FILE,
	OPT_QPS,
	OPT_BURST,
	OPT_CONCURRENCY,
	OPT_PAGE_SIZE,
	OPT_BATCH_SIZE,
	OPT_BUDGET_INFLIGHT,
	OPT_BUDGET_ERRORS,
	OPT_BATCH_PAUSE,
	OPT_BUDGET_P99,
	OPT_BUDGET_WINDOW,
	OPT_SOAK,
	OPT_SCRAPE,
	OPT_ON_BREACH,
	OPT_RESOURCE,
	OPT_NAMESPACE,
	OPT_RESUME,
	OPT_ENDPOINT
};

static const struct option long_options[] = {
    ARGS_KUBECONFIG_OPTIONS,
    {"state", required_argument, NULL, OPT_STATE},
    {"cluster", required_argument, NULL, OPT_CLUSTER},
    {"metrics-file", required_argument, NULL, OPT_METRICS_FILE},
    {"qps", required_argument, NULL, OPT_QPS},
    {"burst", required_argument, NULL, OPT_BURST},
    {"concurrency", required_argument, NULL, OPT_CONCURRENCY},
    {"page-size", required_argument, NULL, OPT_PAGE_SIZE},
    {"batch-size", required_argument, NULL, OPT_BATCH_SIZE},
    {"budget-inflight", required_argument, NULL, OPT_BUDGET_INFLIGHT},
    {"budget-errors", required_argument, NULL, OPT_BUDGET_ERRORS},
    {"batch-pause", required_argument, NULL, OPT_BATCH_PAUSE},
    {"budget-p99", required_argument, NULL, OPT_BUDGET_P99},
    {"budget-window", required_argument, NULL, OPT_BUDGET_WINDOW},
    {"soak", required_argument, NULL, OPT_SOAK},
    {"scrape-interval", required_argument, NULL, OPT_SCRAPE},
    {"on-breach", required_argument, NULL, OPT_ON_BREACH},
    {"resource", required_argument, NULL, OPT_RESOURCE},
    {"namespace", required_argument, NULL, OPT_NAMESPACE},
    {"resume", no_argument, NULL, OPT_RESUME},
    {"endpoint", required_argument, NULL, OPT_ENDPOINT},
    {"output", required_argument, NULL, 'o'},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0}};

static int add_name(const char *flag, const char *v, const char **list, size_t *n, size_t max)
{
	if (*n >= max || !*v) {
		fprintf(stderr, "rekeyctl rewrite: --%s: empty, or more than %zu\n", flag, max);
		return -1;
	}
	list[(*n)++] = v;
	return 0;
}

/* One option (args_take_fn): 0, 1 after --help, or -1 after a one-line message. */
static int take(void *ud, int opt, const char *flag, const char *v)
{
	struct rewrite_args *a = ud;
	rk_rewrite_settings *s = &a->opts.settings;
	const char *c = "rewrite";
	rk_err berr;
	if (args_take_kubeconfig(opt, v, &a->kc))
		return 0;
	switch (opt) {
	case 'h':
		fputs(usage_text, stdout);
		return 1;
	case 'o':
		return args_output(c, v, NULL, &a->json);
	case OPT_STATE:
		a->state_dir = v;
		return 0;
	case OPT_CLUSTER:
		a->opts.cluster = v;
		return 0;
	case OPT_METRICS_FILE:
		a->opts.metrics_file = v;
		return 0;
	case OPT_RESUME:
		a->opts.resume = 1;
		return 0;
	case OPT_QPS:
		return args_double(c, flag, v, 0, 1e6, &s->qps);
	case OPT_BURST:
		return args_int(c, flag, v, 0, 1000000, &s->burst);
	case OPT_CONCURRENCY:
		return args_int(c, flag, v, 1, 1024, &s->concurrency);
	case OPT_PAGE_SIZE:
		return args_int(c, flag, v, 1, 10000, &s->page_size);
	case OPT_BATCH_SIZE:
		return args_int(c, flag, v, 1, 100000, &s->batch_size);
	case OPT_BUDGET_INFLIGHT:
		return args_double(c, flag, v, 0, 1e6, &s->budget_inflight);
	case OPT_BUDGET_ERRORS:
		return args_double(c, flag, v, 0, 1, &s->budget_errors);
	case OPT_BATCH_PAUSE:
		return args_duration_ms(c, flag, v, &s->batch_pause_ms);
	case OPT_BUDGET_P99:
		return args_duration_ms(c, flag, v, &s->budget_p99_ms);
	case OPT_BUDGET_WINDOW:
		return args_duration_ms(c, flag, v, &s->budget_window_ms);
	case OPT_SOAK:
		return args_duration_ms(c, flag, v, &s->soak_ms);
	case OPT_SCRAPE:
		return args_duration_ms(c, flag, v, &s->scrape_ms);
	case OPT_RESOURCE:
		return add_name("resource", v, a->resources, &a->opts.nresources, MAX_LIST);
	case OPT_NAMESPACE:
		return add_name("namespace", v, a->namespaces, &a->opts.nnamespaces, MAX_LIST);
	case OPT_ENDPOINT:
		return add_name("endpoint", v, a->endpoints, &a->opts.nendpoints, a->max_endpoints);
	case OPT_ON_BREACH:
		if (rk_budget_parse_action(v, &s->on_breach, &berr) == RK_OK)
			return 0;
		fprintf(stderr, "rekeyctl rewrite: --on-breach: %s\n", berr.msg);
		return -1;
	}
	return -1;
}

int cmd_rewrite(int argc, char **argv)
{
	struct rewrite_args a;
	memset(&a, 0, sizeof a);
	rk_rewrite_opts_init(&a.opts);
	a.max_endpoints = argc > 0 ? (size_t)argc : 1;
	a.endpoints = calloc(a.max_endpoints, sizeof *a.endpoints);
	if (!a.endpoints) {
		fprintf(stderr, "rekeyctl rewrite: out of memory\n");
		return RK_FAIL;
	}
	int rc = args_parse_flags_only("rewrite", argc, argv, "o:h", long_options, take, &a);
	if (rc != 0) {
		free(a.endpoints);
		return rc == 1 ? RK_OK : rc;
	}
	a.opts.resources = a.resources;
	a.opts.namespaces = a.namespaces;
	a.opts.endpoints = a.endpoints;
	out_progress prog;
	out_progress_init(&prog, stderr);
	rk_rewrite_hooks hooks = {.progress = out_progress_cb, .ud = &prog, .stop = &stop_flag};
	args_catch_signals(on_signal);
	rk_rewrite_result result;
	rk_err err;
	rc = rk_rewrite_cmd(&a.opts, &a.kc, a.state_dir, &hooks, &result, &err);
	if (prog.drawn)
		fputc('\n', stderr);
	if (rc != RK_OK)
		fprintf(stderr, "rekeyctl rewrite: %s\n", err.msg);
	if (rc == RK_STOPPED && result.stopped == 3) /* the engine's message serves rotations too */
		fprintf(stderr,
		        "rekeyctl rewrite: the KMS is unavailable: once it is healthy again (`rekeyctl "
		        "doctor -f PLAN` triages it), continue with `rekeyctl rewrite --resume` and the "
		        "same flags\n");
	if (result.run_id)
		out_rewrite_result(&result, rc, rc == RK_OK ? "" : err.msg, a.json);
	rk_rewrite_result_free(&result);
	free(a.endpoints);
	return rc;
}
