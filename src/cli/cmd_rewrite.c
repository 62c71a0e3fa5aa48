/* cmd_rewrite.c: `rekeyctl rewrite`: parses the flags, opens the state db and the API client, runs the
 * rewrite engine (rk_rewrite_run) with a progress display and SIGINT/SIGTERM handling, prints the result. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "args.h"
#include "commands.h"
#include "output.h"
#include "rekey/kube.h"
#include "rekey/kubeconfig.h"
#include "rekey/log.h"
#include "rekey/rewrite.h"
#include "rekey/store.h"

#define MAX_LIST 64

static const char usage_text[] =
    "usage: rekeyctl rewrite [--kubeconfig FILE] [--context NAME] [--resource R]... [--namespace NS]...\n"
    "         [--qps N] [--burst N] [--concurrency N] [--page-size N] [--batch-size N] [--batch-pause DUR]\n"
    "         [--budget-p99 DUR] [--budget-errors RATIO] [--budget-window DUR] [--soak DUR] "
    "[--budget-inflight N]\n"
    "         [--on-breach slowdown|pause|abort] [--resume] [--state DIR] [--cluster NAME]\n"
    "         [--scrape-interval DUR] [--metrics-file FILE] [-o json]\n"
    "PUTs every object of the resources back unchanged (re-encrypting it with the current write key),\n"
    "throttled, in checkpointed batches. Defaults: --resource secrets, all namespaces, unthrottled,\n"
    "--concurrency 8 --page-size 500 --batch-size 200. Exit 0 done, 1 failures or orphans, 2 bad input,\n"
    "3 stopped (Ctrl-C, budget abort): continue with --resume. --resume also takes a run that ended with\n"
    "failures or orphans: once their cause is fixed it tries each failed object again and re-checks each\n"
    "orphan. --scrape-interval reads the apiserver's /metrics (PUT p99, in-flight) into the budget.\n";

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
	const char *cluster;
	const char *resources[MAX_LIST];
	const char *namespaces[MAX_LIST];
	int json;
};

static int usage_error(const char *why)
{
	fprintf(stderr, "rekeyctl rewrite: %s\n%s", why, usage_text);
	return RK_BADINPUT;
}

/* Flags that take a value. Returns 0, 1 = not such a flag, -1 = bad value (already reported). */
static int parse_value_flag(struct rewrite_args *a, const char *f, const char *v)
{
	rk_rewrite_opts *o = &a->opts;
	const char *c = "rewrite";
	long ms;
	int rc = 0;
	if (!strcmp(f, "--kubeconfig"))
		a->kc.kubeconfig = v;
	else if (!strcmp(f, "--context"))
		a->kc.context = v;
	else if (!strcmp(f, "--state"))
		a->state_dir = v;
	else if (!strcmp(f, "--cluster"))
		a->cluster = v;
	else if (!strcmp(f, "--metrics-file"))
		o->metrics_file = v;
	else if (!strcmp(f, "--qps"))
		rc = args_double(c, f, v, 0, 1e6, &o->qps);
	else if (!strcmp(f, "--burst"))
		rc = args_int(c, f, v, 0, 1000000, &o->burst);
	else if (!strcmp(f, "--concurrency"))
		rc = args_int(c, f, v, 1, 1024, &o->concurrency);
	else if (!strcmp(f, "--page-size"))
		rc = args_int(c, f, v, 1, 10000, &o->page_size);
	else if (!strcmp(f, "--batch-size"))
		rc = args_int(c, f, v, 1, 100000, &o->batch_size);
	else if (!strcmp(f, "--budget-inflight"))
		rc = args_double(c, f, v, 0, 1e6, &o->budget_inflight);
	else if (!strcmp(f, "--budget-errors"))
		rc = args_double(c, f, v, 0, 1, &o->budget_errors);
	else if (!strcmp(f, "--batch-pause") || !strcmp(f, "--budget-p99") || !strcmp(f, "--budget-window") ||
	         !strcmp(f, "--soak") || !strcmp(f, "--scrape-interval")) {
		if (args_duration_ms(c, f, v, &ms) != 0)
			return -1;
		if (!strcmp(f, "--batch-pause"))
			o->batch_pause_ms = ms;
		else if (!strcmp(f, "--budget-p99"))
			o->budget_p99_ms = (double)ms;
		else if (!strcmp(f, "--budget-window"))
			o->budget_window_ms = ms;
		else if (!strcmp(f, "--soak"))
			o->soak_ms = ms;
		else
			o->scrape_ms = ms;
	} else if (!strcmp(f, "--on-breach")) {
		rk_err berr;
		if (rk_budget_parse_action(v, &o->on_breach, &berr) != RK_OK) {
			fprintf(stderr, "rekeyctl rewrite: --on-breach: %s\n", berr.msg);
			return -1;
		}
	} else if (!strcmp(f, "-o") || !strcmp(f, "--output")) {
		if (strcmp(v, "json") != 0 && strcmp(v, "table") != 0) {
			fprintf(stderr, "rekeyctl rewrite: -o \"%s\": must be json or table\n", v);
			return -1;
		}
		a->json = !strcmp(v, "json");
	} else if (!strcmp(f, "--resource") || !strcmp(f, "--namespace")) {
		int res = !strcmp(f, "--resource");
		size_t *n = res ? &o->nresources : &o->nnamespaces;
		if (*n >= MAX_LIST || !*v) {
			fprintf(stderr, "rekeyctl rewrite: %s: empty, or more than %d\n", f, MAX_LIST);
			return -1;
		}
		(res ? a->resources : a->namespaces)[(*n)++] = v;
	} else
		return 1;
	return rc;
}

static int parse_args(int argc, char **argv, struct rewrite_args *a)
{
	rk_rewrite_opts_init(&a->opts);
	for (int i = 1; i < argc; i++) {
		const char *f = argv[i];
		if (!strcmp(f, "--help") || !strcmp(f, "-h")) {
			fputs(usage_text, stdout);
			return -2;
		}
		if (!strcmp(f, "--resume")) {
			a->opts.resume = 1;
			continue;
		}
		if (!strcmp(f, "--insecure-skip-tls-verify")) {
			a->kc.insecure_skip_tls_verify = 1;
			continue;
		}
		if (i + 1 >= argc) {
			char why[128];
			snprintf(why, sizeof why, "%s: unknown flag or missing value", f);
			return usage_error(why);
		}
		int rc = parse_value_flag(a, f, argv[i + 1]);
		if (rc < 0)
			return RK_BADINPUT;
		if (rc > 0) {
			char why[128];
			snprintf(why, sizeof why, "unknown flag \"%s\"", f);
			return usage_error(why);
		}
		i++;
	}
	a->opts.resources = a->resources;
	a->opts.namespaces = a->namespaces;
	return 0;
}

static int run(struct rewrite_args *a, rk_kube_config *cfg, rk_kube *kube, rk_store *store)
{
	a->opts.cluster = a->cluster          ? a->cluster
	                  : cfg->context_name ? cfg->context_name
	                  : cfg->cluster_name ? cfg->cluster_name
	                                      : "in-cluster";
	out_progress prog;
	out_progress_init(&prog, stderr);
	rk_rewrite_hooks hooks = {.progress = out_progress_cb, .ud = &prog, .stop = &stop_flag};
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	rk_rewrite_result result;
	rk_err err;
	int rc = rk_rewrite_run(&a->opts, store, kube, &hooks, &result, &err);
	if (prog.drawn)
		fputc('\n', stderr);
	if (rc != RK_OK)
		fprintf(stderr, "rekeyctl rewrite: %s\n", err.msg);
	if (result.run_id)
		out_rewrite_result(&result, rc, rc == RK_OK ? "" : err.msg, a->json);
	return rc;
}

int cmd_rewrite(int argc, char **argv)
{
	struct rewrite_args a;
	memset(&a, 0, sizeof a);
	int prc = parse_args(argc, argv, &a);
	if (prc == -2)
		return RK_OK;
	if (prc != 0)
		return prc;
	rk_err err;
	rk_rewrite_opts precheck = a.opts; /* bad flags exit 2 before anything is opened */
	precheck.cluster = "x";
	if (rk_rewrite_opts_check(&precheck, &err) != RK_OK)
		return usage_error(err.msg);
	/* a rewrite rides out 429 storms and 5xx: more attempts than the client's default, within 2 minutes
	 */
	rk_kube_opts write_retries = {.max_attempts = 10, .retry_budget_ms = 120000};
	rk_kube_config *cfg = NULL;
	rk_kube *kube = NULL;
	rk_store *store = NULL;
	int rc = rk_kubeconfig_load(&a.kc, &cfg, &err);
	if (rc == RK_OK)
		rc = rk_kube_new(cfg, &write_retries, &kube, &err);
	if (rc == RK_OK)
		rc = rk_store_open(a.state_dir, &store, &err);
	if (rc != RK_OK)
		fprintf(stderr, "rekeyctl rewrite: %s\n", err.msg);
	else
		rc = run(&a, cfg, kube, store);
	rk_store_close(store);
	rk_kube_free(kube);
	rk_kube_config_free(cfg);
	return rc;
}
