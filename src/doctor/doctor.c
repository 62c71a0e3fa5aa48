/* doctor.c: rk_doctor_run, the runbook's triage: loads the plan and its kubeconfig, takes the plugin
 * sockets, then checks every apiserver (reach, readyz, metrics), every plugin (Status), and agreement
 * across them, and orders the findings by severity. Nothing is changed anywhere. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "doctor_internal.h"

#define DEFAULT_TIMEOUT_MS 10000L

static int open_run(doc_run *run, const rk_doctor_opts *opts, rk_doctor_report *report, rk_err *err)
{
	memset(run, 0, sizeof *run);
	run->opts = opts;
	run->report = report;
	if (!opts->plan_path)
		return rk_err_set(err, RK_BADINPUT, "a plan is required (-f PLAN)");
	int rc = rk_plan_load_file(opts->plan_path, &run->plan, err);
	if (rc != RK_OK)
		return rc;
	rk_kubeconfig_opts kopts = {.kubeconfig = run->plan->kubeconfig,
	                            .context = run->plan->context,
	                            .insecure_skip_tls_verify = opts->insecure_skip_tls_verify};
	rc = rk_kubeconfig_load(&kopts, &run->kcfg, err);
	if (rc != RK_OK)
		return rk_err_wrap(err, RK_BADINPUT, "plan %s: kubeconfig", opts->plan_path);
	rk_kube_opts kube_opts = {.connect_timeout_ms = opts->timeout_ms,
	                          .request_timeout_ms = opts->timeout_ms,
	                          .max_attempts = 1};
	rc = rk_kube_new(run->kcfg, &kube_opts, &run->kube, err);
	if (rc != RK_OK)
		return rc;
	run->napiservers = run->plan->nnodes;
	run->apiservers = calloc(run->napiservers ? run->napiservers : 1, sizeof *run->apiservers);
	if (!run->apiservers)
		return rk_err_set(err, RK_FAIL, "out of memory");
	for (size_t i = 0; i < run->napiservers; i++)
		run->apiservers[i].node = &run->plan->nodes[i];
	return doc_plugins_collect(run, err);
}

static void close_run(doc_run *run)
{
	free(run->plugins);
	free(run->apiservers);
	rk_kube_free(run->kube);
	rk_kube_config_free(run->kcfg);
	rk_plan_free(run->plan);
}

static void sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

/* Every reached apiserver's metrics: one scrape (figures since it started), or two a window apart. */
static void check_metrics(doc_run *run)
{
	long window = run->opts->window_ms;
	doc_span span = {.window = window > 0};
	snprintf(span.text, sizeof span.text,
	         window > 0 ? "in the last %.1f s" : "since the apiserver started", (double)window / 1000);
	size_t scraped = 0;
	for (size_t i = 0; i < run->napiservers; i++) {
		doc_apiserver *a = &run->apiservers[i];
		a->scraped = a->reached && doc_scrape(run, a, &a->metrics) == RK_OK;
		scraped += (size_t)a->scraped;
	}
	doc_metrics *first = window > 0 && scraped ? malloc(sizeof *first) : NULL, *delta = NULL;
	if (first && (delta = malloc(sizeof *delta)) != NULL)
		sleep_ms(window);
	for (size_t i = 0; i < run->napiservers; i++) {
		doc_apiserver *a = &run->apiservers[i];
		if (!a->scraped)
			continue;
		if (!delta) {
			doc_report_metrics(run, a, &a->metrics, &span);
			continue;
		}
		*first = a->metrics;
		a->scraped = doc_scrape(run, a, &a->metrics) == RK_OK;
		if (a->scraped) {
			doc_metrics_delta(&a->metrics, first, delta);
			doc_report_metrics(run, a, delta, &span);
		}
	}
	free(first);
	free(delta);
}

int rk_doctor_run(const rk_doctor_opts *opts, rk_doctor_report *report, rk_err *err)
{
	rk_doctor_opts defaults = *opts;
	if (defaults.timeout_ms <= 0)
		defaults.timeout_ms = DEFAULT_TIMEOUT_MS;
	memset(report, 0, sizeof *report);
	rk_err_clear(err);
	doc_run run;
	int rc = open_run(&run, &defaults, report, err);
	if (rc == RK_OK) {
		for (size_t i = 0; i < run.napiservers; i++)
			doc_check_apiserver(&run, &run.apiservers[i]);
		report->apiservers = run.napiservers;
		check_metrics(&run);
		doc_check_plugins(&run);
		doc_check_agreement(&run);
		doc_sort(report);
	}
	close_run(&run);
	return rc;
}
