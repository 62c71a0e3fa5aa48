/* doctor_metrics_report.c: the findings one apiserver's metric figures give (doctor_metrics.c reads them):
 * its KMS calls by gRPC status and their latency, failed storage transformations, its writes' latency
 * and 5xx, and its automatic reloads. Counted since the apiserver started (warnings: a failure long ago
 * stays until a restart), or over --window between two scrapes (failures then are happening now:
 * critical). Thresholds: doctor_internal.h. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "doctor_internal.h"

static const char *const kms_method_names[3] = {"Status", "Encrypt", "Decrypt"};

/* "Status 1.2 ms (12 calls), Encrypt ..." for the methods that were called. */
static double kms_latency_summary(const doc_metrics *m, char *out, size_t cap)
{
	double worst = 0;
	out[0] = 0;
	for (int i = 0; i < 3; i++) {
		const rk_prom_histogram *h = &m->kms_latency[i];
		if (h->total <= 0)
			continue;
		double p99 = rk_prom_histogram_quantile(0.99, h);
		worst = isnan(p99) || p99 < worst ? worst : p99;
		size_t used = strlen(out);
		snprintf(out + used, cap - used, "%s%s p99 %.1f ms (%.0f calls)", used ? ", " : "",
		         kms_method_names[i], p99 * 1e3, h->total);
	}
	return worst;
}

static void report_kms(doc_run *run, const doc_apiserver *a, const doc_metrics *m, const doc_span *span)
{
	char failures[600] = "", lat[300];
	double calls = 0, failed = 0;
	for (size_t i = 0; i < m->nkms_ops; i++) {
		calls += m->kms_ops[i].value;
		if (!strcmp(m->kms_ops[i].c, "OK") || m->kms_ops[i].value <= 0)
			continue;
		failed += m->kms_ops[i].value;
		size_t used = strlen(failures);
		snprintf(failures + used, sizeof failures - used, "%s%s %s %s x%.0f", used ? ", " : "",
		         m->kms_ops[i].a,
		         strrchr(m->kms_ops[i].b, '/') ? strrchr(m->kms_ops[i].b, '/') + 1 : m->kms_ops[i].b,
		         m->kms_ops[i].c, m->kms_ops[i].value);
	}
	if (calls <= 0) {
		if (span->window)
			doc_add(run->report, RK_DOCTOR_OK, a->node->name, "kms-errors", "", "no KMS call %s",
			        span->text);
		return;
	}
	if (failed > 0)
		doc_add(run->report, span->window ? RK_DOCTOR_CRITICAL : RK_DOCTOR_WARNING, a->node->name,
		        "kms-errors",
		        span->window ? "the plugin fails now: see its log (DeadlineExceeded = a slow or "
		                       "missing plugin, Unavailable/Internal = the plugin or its KMS)"
		                     : "run doctor again (or with --window): a count that grows means the "
		                       "plugin fails now (see its log; DeadlineExceeded = a slow or missing "
		                       "plugin, Unavailable/Internal = the plugin or its KMS)",
		        "%.0f of %.0f KMS calls failed %s: %s", failed, calls, span->text, failures);
	else
		doc_add(run->report, RK_DOCTOR_OK, a->node->name, "kms-errors", "",
		        "%.0f KMS calls %s, none failed", calls, span->text);
	double worst = kms_latency_summary(m, lat, sizeof lat);
	doc_add(run->report, worst >= DOC_KMS_P99_SLOW_S ? RK_DOCTOR_WARNING : RK_DOCTOR_OK, a->node->name,
	        "kms-latency",
	        worst >= DOC_KMS_P99_SLOW_S ? "the plugin or its KMS is slow: check the plugin's latency to "
	                                      "the KMS; calls over the provider's timeout fail"
	                                    : "",
	        "KMS call latency %s: %s", span->text, lat);
}

static void report_transformations(doc_run *run, const doc_apiserver *a, const doc_metrics *m,
                                   const doc_span *span)
{
	char list[700] = "";
	double failed = 0;
	for (size_t i = 0; i < m->ntransform_fail; i++) {
		if (m->transform_fail[i].value <= 0)
			continue;
		failed += m->transform_fail[i].value;
		size_t used = strlen(list);
		snprintf(list + used, sizeof list - used, "%s%s %s %s x%.0f", used ? ", " : "",
		         m->transform_fail[i].a, m->transform_fail[i].b, m->transform_fail[i].c,
		         m->transform_fail[i].value);
	}
	if (failed > 0)
		doc_add(run->report, span->window ? RK_DOCTOR_CRITICAL : RK_DOCTOR_WARNING, a->node->name,
		        "transformation",
		        "from_storage = reads that could not be decrypted, to_storage = writes that could "
		        "not be encrypted; unknown-non-grpc on to_storage = the DEK seed expired (plugin "
		        "down over 3 min), a gRPC code = the plugin's error: see the apiserver's log",
		        "%.0f storage transformations failed %s: %s", failed, span->text, list);
	else
		doc_add(run->report, RK_DOCTOR_OK, a->node->name, "transformation", "",
		        "no failed storage transformation %s", span->text);
}

static void report_writes(doc_run *run, const doc_apiserver *a, const doc_metrics *m, const doc_span *span)
{
	const rk_prom_codes *codes = &m->requests.write_codes;
	if (m->requests.writes.total <= 0 && codes->total <= 0)
		return;
	double p99 = rk_prom_histogram_quantile(0.99, &m->requests.writes);
	double ratio = codes->total > 0 ? codes->server_errors / codes->total : 0;
	int slow = !isnan(p99) && p99 >= DOC_WRITE_P99_SLOW_S, failing = ratio >= DOC_WRITE_5XX_RATIO;
	doc_add(run->report, slow || failing ? RK_DOCTOR_WARNING : RK_DOCTOR_OK, a->node->name, "write-path",
	        slow || failing ? "see the apiserver's log and etcd's latency; with KMS, writes fail once "
	                          "the DEK seed expires (3 min after the last good Status)"
	                        : "",
	        "writes %s: %.0f, p99 %.0f ms, 5xx %.0f (%.2f%%)", span->text, codes->total,
	        isnan(p99) ? 0.0 : p99 * 1e3, codes->server_errors, ratio * 100);
}

static void report_reload(doc_run *run, const doc_apiserver *a, const doc_metrics *m)
{
	if (m->reload_failures > 0 && m->reload_failure_ts > m->reload_success_ts)
		doc_add(run->report, RK_DOCTOR_WARNING, a->node->name, "reload",
		        "the node's config file does not load: see the apiserver's log (a kms plugin that is "
		        "down blocks a reload; the old config stays in force)",
		        "the last automatic reload of the EncryptionConfiguration failed (%.0f failures "
		        "since start)",
		        m->reload_failures);
	if (m->invalid_key_ids > 0)
		doc_add(run->report, RK_DOCTOR_WARNING, a->node->name, "kms-key-id",
		        "the plugin returned an empty or over-long key_id: fix the plugin",
		        "%.0f Status answers carried an invalid key_id since the apiserver started",
		        m->invalid_key_ids);
}

void doc_report_metrics(doc_run *run, const doc_apiserver *a, const doc_metrics *m, const doc_span *span)
{
	report_kms(run, a, m, span);
	report_transformations(run, a, m, span);
	report_writes(run, a, m, span);
	report_reload(run, a, &a->metrics);
}
