/* doctor_metrics.c: one /metrics scrape of an apiserver read in one pass (src/metrics' streaming parser):
 * the config hash it runs, its automatic reloads, its KMS calls by method and gRPC status and their
 * latency, the newest key_id its Status calls returned per kms provider, failed storage transformations,
 * and its writes' latency and 5xx; then the findings they give. The figures are counted since the
 * apiserver started (a scrape holds no history): a count that grows between two runs is happening now.
 * Metric names and labels: k8s.io/apiserver v0.34.4 (docs/kms.md section 6, docs/doctor.md). */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "doctor_internal.h"

#define M_LAST_CONFIG "apiserver_encryption_config_controller_last_config_info"
#define M_RELOADS "apiserver_encryption_config_controller_automatic_reloads_total"
#define M_RELOAD_TS "apiserver_encryption_config_controller_automatic_reload_last_timestamp_seconds"
#define M_KMS_LATENCY "apiserver_envelope_encryption_kms_operations_latency_seconds"
#define M_KEYID_STATUS "apiserver_envelope_encryption_key_id_hash_status_last_timestamp_seconds"
#define M_INVALID_KEYID "apiserver_envelope_encryption_invalid_key_id_from_status_total"
#define M_TRANSFORM "apiserver_storage_transformation_operations_total"
#define M_REQ_DURATION "apiserver_request_duration_seconds"
#define M_REQ_TOTAL "apiserver_request_total"

static const char *const kms_methods[3] = {"/v2.KeyManagementService/Status",
                                           "/v2.KeyManagementService/Encrypt",
                                           "/v2.KeyManagementService/Decrypt"};
static const char *const write_verbs[] = {"POST", "PUT", "PATCH", "DELETE", "APPLY"};

void doc_metrics_init(doc_metrics *m)
{
	memset(m, 0, sizeof *m);
}

static const char *label(const rk_prom_sample *s, const char *name)
{
	const char *v = rk_prom_label_value(s, name);
	return v ? v : "";
}

/* Adds value to the series (a, b, c), the last slot taking what does not fit. */
static void series_add(doc_series *list, size_t *n, const char *a, const char *b, const char *c, double value)
{
	size_t i = 0;
	while (i < *n && (strcmp(list[i].a, a) || strcmp(list[i].b, b) || strcmp(list[i].c, c)))
		i++;
	if (i == *n && *n < DOC_MAX_SERIES) {
		snprintf(list[i].a, sizeof list[i].a, "%s", a);
		snprintf(list[i].b, sizeof list[i].b, "%s", b);
		snprintf(list[i].c, sizeof list[i].c, "%s", c);
		list[i].value = 0;
		(*n)++;
	}
	list[i < *n ? i : *n - 1].value += value;
}

static int is_write_verb(const char *verb)
{
	for (size_t i = 0; i < sizeof write_verbs / sizeof *write_verbs; i++)
		if (!strcmp(verb, write_verbs[i]))
			return 1;
	return 0;
}

static void take_keyid(doc_metrics *m, const rk_prom_sample *s)
{
	const char *provider = label(s, "provider_name"), *hash = label(s, "key_id_hash");
	size_t i = 0;
	while (i < m->nkeyids && strcmp(m->keyids[i].provider, provider))
		i++;
	if (i == m->nkeyids) {
		if (m->nkeyids == sizeof m->keyids / sizeof *m->keyids)
			return;
		m->nkeyids++;
		snprintf(m->keyids[i].provider, sizeof m->keyids[i].provider, "%s", provider);
		m->keyids[i].timestamp = -1;
	}
	if (s->value > m->keyids[i].timestamp) {
		m->keyids[i].timestamp = s->value;
		snprintf(m->keyids[i].hash, sizeof m->keyids[i].hash, "%s", hash);
	}
}

static void take_reload(doc_metrics *m, const rk_prom_sample *s)
{
	const char *status = label(s, "status");
	if (!strcmp(s->name, M_RELOADS) && !strcmp(status, "failure"))
		m->reload_failures += s->value;
	else if (!strcmp(s->name, M_RELOAD_TS) && !strcmp(status, "success"))
		m->reload_success_ts = s->value;
	else if (!strcmp(s->name, M_RELOAD_TS) && !strcmp(status, "failure"))
		m->reload_failure_ts = s->value;
}

static int take_histograms(doc_metrics *m, const rk_prom_sample *s)
{
	if (!strncmp(s->name, M_KMS_LATENCY, sizeof M_KMS_LATENCY - 1))
		for (int i = 0; i < 3; i++) {
			rk_prom_label match = {"method_name", kms_methods[i]};
			if (rk_prom_histogram_add(&m->kms_latency[i], M_KMS_LATENCY, &match, 1, s,
			                          &m->parse_err))
				return 1;
		}
	if (!strncmp(s->name, M_REQ_DURATION, sizeof M_REQ_DURATION - 1) && is_write_verb(label(s, "verb")))
		return rk_prom_histogram_add(&m->writes, M_REQ_DURATION, NULL, 0, s, &m->parse_err) != RK_OK;
	return 0;
}

static int on_sample(const rk_prom_sample *s, void *ud)
{
	doc_metrics *m = ud;
	const char *name = s->name;
	if (!strcmp(name, M_LAST_CONFIG) && s->value == 1)
		snprintf(m->config_hash, sizeof m->config_hash, "%s", label(s, "hash"));
	else if (!strcmp(name, M_RELOADS) || !strcmp(name, M_RELOAD_TS))
		take_reload(m, s);
	else if (!strcmp(name, M_KMS_LATENCY "_count"))
		series_add(m->kms_ops, &m->nkms_ops, label(s, "provider_name"), label(s, "method_name"),
		           label(s, "grpc_status_code"), s->value);
	else if (!strcmp(name, M_KEYID_STATUS))
		take_keyid(m, s);
	else if (!strcmp(name, M_INVALID_KEYID))
		m->invalid_key_ids += s->value;
	else if (!strcmp(name, M_TRANSFORM) && strcmp(label(s, "status"), "OK"))
		series_add(m->transform_fail, &m->ntransform_fail, label(s, "resource"),
		           label(s, "transformation_type"), label(s, "status"), s->value);
	else if (!strcmp(name, M_REQ_TOTAL) && is_write_verb(label(s, "verb"))) {
		m->writes_total += s->value;
		if (label(s, "code")[0] == '5')
			m->writes_5xx += s->value;
	}
	return take_histograms(m, s);
}

int doc_metrics_parse(const char *source, const char *text, size_t len, doc_metrics *m, rk_err *err)
{
	doc_metrics_init(m);
	int rc = rk_prom_parse(source, text, len, on_sample, NULL, m, err);
	if (rc != RK_OK && m->parse_err.code != RK_OK)
		*err = m->parse_err;
	m->scraped = rc == RK_OK;
	return rc == RK_OK ? RK_OK : RK_BADINPUT;
}

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
		         strrchr(kms_methods[i], '/') + 1, p99 * 1e3, h->total);
	}
	return worst;
}

static void report_kms(doc_run *run, const doc_apiserver *a)
{
	const doc_metrics *m = &a->metrics;
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
	if (calls <= 0)
		return;
	if (failed > 0)
		doc_add(run->report, RK_DOCTOR_WARNING, a->node->name, "kms-errors",
		        "run doctor again: a count that grows means the plugin fails now (see its log; "
		        "DeadlineExceeded = a slow or missing plugin, Unavailable/Internal = the plugin or "
		        "its KMS)",
		        "%.0f of %.0f KMS calls failed since the apiserver started: %s", failed, calls,
		        failures);
	else
		doc_add(run->report, RK_DOCTOR_OK, a->node->name, "kms-errors", "",
		        "%.0f KMS calls since the apiserver started, none failed", calls);
	double worst = kms_latency_summary(m, lat, sizeof lat);
	doc_add(run->report, worst >= DOC_KMS_P99_SLOW_S ? RK_DOCTOR_WARNING : RK_DOCTOR_OK, a->node->name,
	        "kms-latency",
	        worst >= DOC_KMS_P99_SLOW_S
	            ? "the plugin or its KMS is slow: check the plugin's latency to the KMS; calls over the "
	              "provider's timeout fail"
	            : "",
	        "KMS call latency since the apiserver started: %s", lat);
}

static void report_transformations(doc_run *run, const doc_apiserver *a)
{
	const doc_metrics *m = &a->metrics;
	char list[700] = "";
	double failed = 0;
	for (size_t i = 0; i < m->ntransform_fail; i++) {
		failed += m->transform_fail[i].value;
		size_t used = strlen(list);
		snprintf(list + used, sizeof list - used, "%s%s %s %s x%.0f", used ? ", " : "",
		         m->transform_fail[i].a, m->transform_fail[i].b, m->transform_fail[i].c,
		         m->transform_fail[i].value);
	}
	if (failed > 0)
		doc_add(
		    run->report, RK_DOCTOR_WARNING, a->node->name, "transformation",
		    "from_storage = reads that could not be decrypted, to_storage = writes that could not be "
		    "encrypted; status unknown-non-grpc on to_storage = the DEK seed expired (plugin down "
		    "over 3 "
		    "min), a gRPC code = the plugin's error: see the apiserver's log",
		    "%.0f storage transformations failed since the apiserver started: %s", failed, list);
	else
		doc_add(run->report, RK_DOCTOR_OK, a->node->name, "transformation", "",
		        "no failed storage transformation since the apiserver started");
}

static void report_writes(doc_run *run, const doc_apiserver *a)
{
	const doc_metrics *m = &a->metrics;
	if (m->writes.total <= 0 && m->writes_total <= 0)
		return;
	double p99 = rk_prom_histogram_quantile(0.99, &m->writes);
	double ratio = m->writes_total > 0 ? m->writes_5xx / m->writes_total : 0;
	int slow = !isnan(p99) && p99 >= DOC_WRITE_P99_SLOW_S, failing = ratio >= DOC_WRITE_5XX_RATIO;
	doc_add(run->report, slow || failing ? RK_DOCTOR_WARNING : RK_DOCTOR_OK, a->node->name, "write-path",
	        slow || failing
	            ? "see the apiserver's log and etcd's latency; with KMS, writes fail once the DEK "
	              "seed expires (3 min after the last good Status)"
	            : "",
	        "writes since the apiserver started: %.0f, p99 %.0f ms, 5xx %.0f (%.2f%%)", m->writes_total,
	        isnan(p99) ? 0.0 : p99 * 1e3, m->writes_5xx, ratio * 100);
}

static void report_reload(doc_run *run, const doc_apiserver *a)
{
	const doc_metrics *m = &a->metrics;
	if (m->reload_failures > 0 && m->reload_failure_ts > m->reload_success_ts)
		doc_add(run->report, RK_DOCTOR_WARNING, a->node->name, "reload",
		        "the node's config file does not load: see the apiserver's log (a kms plugin that is "
		        "down "
		        "blocks a reload; the old config stays in force)",
		        "the last automatic reload of the EncryptionConfiguration failed (%.0f failures "
		        "since start)",
		        m->reload_failures);
	if (m->invalid_key_ids > 0)
		doc_add(run->report, RK_DOCTOR_WARNING, a->node->name, "kms-key-id",
		        "the plugin returned an empty or over-long key_id: fix the plugin",
		        "%.0f Status answers carried an invalid key_id since the apiserver started",
		        m->invalid_key_ids);
}

void doc_check_metrics(doc_run *run, doc_apiserver *a)
{
	rk_kube_resp resp;
	rk_err err;
	doc_get(run, a, "/metrics", &resp);
	if (resp.err.code != RK_OK) {
		int refused = resp.http_status == 401 || resp.http_status == 403;
		doc_add(run->report, RK_DOCTOR_WARNING, a->node->name, refused ? "auth" : "metrics",
		        refused
		            ? "grant the user get on the non-resource URL /metrics (e.g. system:monitoring)"
		            : "see the apiserver's log",
		        "cannot read /metrics, the metric checks were skipped: %s", resp.err.msg);
		rk_kube_resp_free(&resp);
		return;
	}
	char source[200];
	snprintf(source, sizeof source, "%s/metrics", a->node->apiserver);
	if (doc_metrics_parse(source, (const char *)resp.body.data, resp.body.len, &a->metrics, &err) !=
	    RK_OK)
		doc_add(run->report, RK_DOCTOR_WARNING, a->node->name, "metrics", "",
		        "cannot parse /metrics, the metric checks were skipped: %s", err.msg);
	rk_kube_resp_free(&resp);
	if (!a->metrics.scraped)
		return;
	report_kms(run, a);
	report_transformations(run, a);
	report_writes(run, a);
	report_reload(run, a);
}
