/* doctor.c: rk_doctor_run, the runbook's triage: loads the plan and its kubeconfig, takes the plugin
 * sockets, then checks every apiserver (reach, readyz, metrics), every plugin (Status), and agreement
 * across them, and orders the findings by severity. Nothing is changed anywhere. */
#include <stdlib.h>
#include <string.h>

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
		for (size_t i = 0; i < run.napiservers; i++) {
			doc_check_apiserver(&run, &run.apiservers[i]);
			if (run.apiservers[i].reached)
				doc_check_metrics(&run, &run.apiservers[i]);
		}
		report->apiservers = run.napiservers;
		doc_check_plugins(&run);
		doc_check_agreement(&run);
		doc_sort(report);
	}
	close_run(&run);
	return rc;
}
