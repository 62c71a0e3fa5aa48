/* cmd_doctor.c: `rekeyctl doctor -f PLAN [-o json]`: the runbook's triage (rk_doctor_run), printed as
 * findings ordered by severity with the next action for each, or the same as one JSON object. Exit 0
 * without a critical finding, 1 with one, 2 on bad input. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "args_internal.h"
#include "commands_internal.h"
#include "rekey/doctor.h"

#define MAX_SOCKETS 64
#define MAX_WINDOW_MS 600000L

static const char usage_text[] =
    "usage: rekeyctl doctor -f PLAN [-o json] [--kms-socket [NODE=]PATH ...] [--window DURATION]\n"
    "                       [--timeout DURATION] [--insecure-skip-tls-verify]\n"
    "Checks every apiserver of the plan (TCP, TLS, authentication, /readyz with the kms-providers check,\n"
    "KMS calls by gRPC status and latency, storage transformation failures, write latency and 5xx),\n"
    "agreement across them (EncryptionConfiguration hash, KMS key_id) and each KMS v2 plugin's Status\n"
    "over its unix socket (--kms-socket, repeatable; NODE=PATH for one node's plugin; default: the kms\n"
    "endpoints of the nodes' configs when the plan's access is local). Metric figures count since each\n"
    "apiserver started, or with --window over that long between two scrapes (failures in it: critical).\n"
    "Ends with the findings, critical first, and the next action for each. Changes nothing. Exit 0: no\n"
    "critical finding; 1: critical findings; 2: bad input.\n";

struct doctor_args {
	rk_doctor_opts opts;
	const char *sockets[MAX_SOCKETS];
	int json;
};

static const struct option long_options[] = {{"file", required_argument, NULL, 'f'},
                                             {"output", required_argument, NULL, 'o'},
                                             {"kms-socket", required_argument, NULL, 'K'},
                                             {"timeout", required_argument, NULL, 't'},
                                             {"window", required_argument, NULL, 'w'},
                                             {"insecure-skip-tls-verify", no_argument, NULL, 'k'},
                                             {"help", no_argument, NULL, 'h'},
                                             {NULL, 0, NULL, 0}};

static int take(void *ud, int opt, const char *flag, const char *v)
{
	struct doctor_args *a = ud;
	switch (opt) {
	case 'h':
		fputs(usage_text, stdout);
		return 1;
	case 'f':
		a->opts.plan_path = v;
		return 0;
	case 'o':
		return args_output("doctor", v, NULL, &a->json);
	case 'k':
		a->opts.insecure_skip_tls_verify = 1;
		return 0;
	case 't':
		if (args_duration_ms("doctor", flag, v, &a->opts.timeout_ms) != 0)
			return -1;
		if (a->opts.timeout_ms > 0)
			return 0;
		fprintf(stderr, "rekeyctl doctor: %s \"%s\": must be more than 0\n", flag, v);
		return -1;
	case 'w':
		if (args_duration_ms("doctor", flag, v, &a->opts.window_ms) != 0)
			return -1;
		if (a->opts.window_ms <= MAX_WINDOW_MS)
			return 0;
		fprintf(stderr, "rekeyctl doctor: %s \"%s\": at most 10m\n", flag, v);
		return -1;
	case 'K':
		if (a->opts.nkms_sockets == MAX_SOCKETS) {
			fprintf(stderr, "rekeyctl doctor: %s: at most %d sockets\n", flag, MAX_SOCKETS);
			return -1;
		}
		a->sockets[a->opts.nkms_sockets++] = v;
		return 0;
	}
	return -1;
}

static void print_table(const rk_doctor_opts *opts, const rk_doctor_report *r)
{
	printf("doctor: plan %s: %zu apiservers, %zu plugin sockets: %zu critical, %zu warning, %zu ok\n",
	       opts->plan_path, r->apiservers, r->plugins, rk_doctor_count(r, RK_DOCTOR_CRITICAL),
	       rk_doctor_count(r, RK_DOCTOR_WARNING), rk_doctor_count(r, RK_DOCTOR_OK));
	for (size_t i = 0; i < r->n; i++) {
		const rk_doctor_finding *f = &r->findings[i];
		char sev[16];
		snprintf(sev, sizeof sev, "%s", rk_doctor_severity_name(f->severity));
		for (char *p = sev; *p; p++)
			*p = (char)(*p >= 'a' && *p <= 'z' ? *p - 32 : *p);
		printf("%-9s %-12s %-16s %s\n", sev, f->subject, f->check, f->message);
		if (f->action[0])
			printf("%-9s next: %s\n", "", f->action);
	}
}

static void print_json(const rk_doctor_opts *opts, const rk_doctor_report *r)
{
	json_t *findings = json_array();
	for (size_t i = 0; i < r->n; i++) {
		const rk_doctor_finding *f = &r->findings[i];
		json_array_append_new(findings, json_pack("{s:s, s:s, s:s, s:s, s:s}", "severity",
		                                          rk_doctor_severity_name(f->severity), "subject",
		                                          f->subject, "check", f->check, "message",
		                                          f->message, "action", f->action));
	}
	json_t *doc = json_pack("{s:s, s:I, s:I, s:I, s:I, s:I, s:o}", "plan", opts->plan_path, "apiservers",
	                        (json_int_t)r->apiservers, "plugins", (json_int_t)r->plugins, "critical",
	                        (json_int_t)rk_doctor_count(r, RK_DOCTOR_CRITICAL), "warning",
	                        (json_int_t)rk_doctor_count(r, RK_DOCTOR_WARNING), "ok",
	                        (json_int_t)rk_doctor_count(r, RK_DOCTOR_OK), "findings", findings);
	json_dumpf(doc, stdout, JSON_INDENT(2));
	printf("\n");
	json_decref(doc);
}

int cmd_doctor(int argc, char **argv)
{
	struct doctor_args a;
	memset(&a, 0, sizeof a);
	int rc = args_parse_flags_only("doctor", argc, argv, "f:o:h", long_options, take, &a);
	if (rc != 0)
		return rc == 1 ? RK_OK : rc;
	if (!a.opts.plan_path) {
		fprintf(stderr, "rekeyctl doctor: a plan is required (-f PLAN)\n");
		return RK_BADINPUT;
	}
	a.opts.kms_sockets = a.sockets;
	rk_doctor_report report;
	rk_err err;
	rc = rk_doctor_run(&a.opts, &report, &err);
	if (rc != RK_OK) {
		fprintf(stderr, "rekeyctl doctor: %s\n", err.msg);
		rk_doctor_report_free(&report);
		return rc;
	}
	if (a.json)
		print_json(&a.opts, &report);
	else
		print_table(&a.opts, &report);
	rc = rk_doctor_count(&report, RK_DOCTOR_CRITICAL) ? RK_FAIL : RK_OK;
	rk_doctor_report_free(&report);
	return rc;
}
