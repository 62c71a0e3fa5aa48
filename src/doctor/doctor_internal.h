/* doctor_internal.h (private to src/doctor): what the doctor learns about each apiserver and plugin, the
 * thresholds its findings use, and the steps rk_doctor_run calls (doctor.c): reach and readyz
 * (doctor_apiserver.c), metrics (doctor_metrics.c, doctor_metrics_report.c), plugins (doctor_plugin.c),
 * agreement across apiservers (doctor_cluster.c), and the report (doctor_report.c). */
#ifndef REKEY_DOCTOR_INTERNAL_H
#define REKEY_DOCTOR_INTERNAL_H

#include <stddef.h>

#include "rekey/doctor.h"
#include "rekey/kube.h"
#include "rekey/plan.h"
#include "rekey/promtext.h"

/* Thresholds (docs/doctor.md). */
#define DOC_PLUGIN_SLOW_MS 500.0         /* the plugin's Status took at least this long: warning */
#define DOC_KMS_P99_SLOW_S 1.0           /* an apiserver's KMS calls, p99 since it started */
#define DOC_WRITE_P99_SLOW_S 1.0         /* an apiserver's writes, p99 since it started */
#define DOC_WRITE_5XX_RATIO 0.01         /* share of writes answered 5xx since it started */
#define DOC_KMS_DEFAULT_TIMEOUT_MS 3000L /* a kms provider's `timeout` when absent (kube-apiserver's) */

#define DOC_HASH_MAX 80
#define DOC_NAME_MAX 128
#define DOC_MAX_SERIES 48 /* distinct label sets kept per family; more are summed into the last */

/* A counter summed by a few labels. */
typedef struct doc_series {
	char a[DOC_NAME_MAX], b[DOC_NAME_MAX], c[DOC_NAME_MAX];
	double value;
} doc_series;

/* The newest key_id an apiserver's Status calls returned for one kms provider. */
typedef struct doc_keyid {
	char provider[DOC_NAME_MAX];
	char hash[DOC_HASH_MAX];
	double timestamp;
} doc_keyid;

/* What one /metrics scrape says (doctor_metrics.c). */
typedef struct doc_metrics {
	int scraped;
	char config_hash[DOC_HASH_MAX]; /* last_config_info hash ("" when absent) */
	double reload_success_ts, reload_failure_ts, reload_failures;
	doc_series kms_ops[DOC_MAX_SERIES]; /* provider, method, grpc code -> calls */
	size_t nkms_ops;
	rk_prom_histogram kms_latency[3];          /* Status, Encrypt, Decrypt (every code) */
	doc_series transform_fail[DOC_MAX_SERIES]; /* resource, transformation_type, status (not OK) */
	size_t ntransform_fail;
	doc_keyid keyids[8];
	size_t nkeyids;
	double invalid_key_ids;
	rk_prom_apiserver requests; /* promapi.c's figures: .writes (latency), .write_codes (total, 5xx) */
	rk_err parse_err;
} doc_metrics;

/* One apiserver of the plan. */
typedef struct doc_apiserver {
	const rk_plan_node *node;
	int reached;                  /* TCP, TLS and authentication passed: readyz and metrics were asked */
	int has_kms;                  /* /readyz lists kms-providers (or kms-provider-N) */
	doc_metrics metrics;          /* the latest scrape */
	int scraped;                  /* metrics holds a scrape */
	char file_hash[DOC_HASH_MAX]; /* sha256 of the node's config file ("" when unread) */
} doc_apiserver;

/* One plugin socket to call. */
typedef struct doc_plugin {
	char node[DOC_NAME_MAX]; /* "" = every apiserver's plugin */
	char path[512];
	char provider[DOC_NAME_MAX]; /* the kms name in the config, "" when given by --kms-socket */
	long timeout_ms;
	rk_doctor_kms_status status;
	int answered_ok; /* Status answered healthy with a valid key_id */
	char key_id_hash[DOC_HASH_MAX];
} doc_plugin;

typedef struct doc_run {
	const rk_doctor_opts *opts;
	rk_plan *plan;
	rk_kube_config *kcfg;
	rk_kube *kube;
	doc_apiserver *apiservers;
	size_t napiservers;
	doc_plugin *plugins;
	size_t nplugins;
	long
	    kms_timeout_ms; /* the largest kms provider timeout in the configs (the plugin call's deadline) */
	rk_doctor_report *report;
} doc_run;

/* doctor_report.c */
void doc_add(rk_doctor_report *r, rk_doctor_severity sev, const char *subject, const char *check,
             const char *action, const char *fmt, ...) __attribute__((format(printf, 6, 7)));
void doc_sort(rk_doctor_report *r);

/* doctor_apiserver.c: GET path on the apiserver, one attempt, text accepted (free resp with
 * rk_kube_resp_free). */
void doc_get(doc_run *run, const doc_apiserver *a, const char *path, rk_kube_resp *resp);
/* TCP, TLS, authentication and /readyz of one apiserver (sets a->reached, a->has_kms). */
void doc_check_apiserver(doc_run *run, doc_apiserver *a);

/* doctor_metrics.c */
void doc_metrics_init(doc_metrics *m);
int doc_metrics_parse(const char *source, const char *text, size_t len, doc_metrics *m, rk_err *err);
/* One /metrics scrape of a reached apiserver into m: RK_OK, or RK_FAIL with a finding added. */
int doc_scrape(doc_run *run, const doc_apiserver *a, doc_metrics *m);
/* The counters and histograms of later minus earlier (a counter that went down, a restart, counts from
 * 0); the config hash, key_ids and reloads of later. */
void doc_metrics_delta(const doc_metrics *later, const doc_metrics *earlier, doc_metrics *out);

/* doctor_metrics_report.c: what the figures span ("since the apiserver started", "in the last 10 s") */
typedef struct doc_span {
	char text[64];
	int window; /* 1: over a window (failures are happening now) */
} doc_span;
/* Findings of m (KMS calls, transformations, writes) and of a's latest scrape (reloads). */
void doc_report_metrics(doc_run *run, const doc_apiserver *a, const doc_metrics *m, const doc_span *span);

/* doctor_plugin.c: the plugin sockets (--kms-socket or the configs), and each one's Status. */
int doc_plugins_collect(doc_run *run, rk_err *err);
void doc_check_plugins(doc_run *run);

/* doctor_cluster.c: config hash and key_id agreement across the reached apiservers (and the plugins). */
void doc_check_agreement(doc_run *run);

#endif
