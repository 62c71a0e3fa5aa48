/* doctor_metrics.c: one /metrics scrape of an apiserver read in one pass (src/metrics' streaming parser):
 * the config hash it runs, its automatic reloads, its KMS calls by method and gRPC status and their
 * latency, the newest key_id its Status calls returned per kms provider, failed storage transformations,
 * and its writes' latency and 5xx (src/metrics/promapi.c's request figures, the budget's definition of a
 * write); and the difference of two scrapes (the figures of a window). Their findings:
 * doctor_metrics_report.c. Metric names and labels: k8s.io/apiserver v0.34.4 (docs/kms.md section 6,
 * docs/doctor.md). */
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

static const char *const kms_methods[3] = {"/v2.KeyManagementService/Status",
                                           "/v2.KeyManagementService/Encrypt",
                                           "/v2.KeyManagementService/Decrypt"};

void doc_metrics_init(doc_metrics *m)
{
	memset(m, 0, sizeof *m);
	rk_prom_apiserver_init(&m->requests, "", "");
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

static int take_kms_latency(doc_metrics *m, const rk_prom_sample *s)
{
	if (!strncmp(s->name, M_KMS_LATENCY, sizeof M_KMS_LATENCY - 1))
		for (int i = 0; i < 3; i++) {
			rk_prom_label match = {"method_name", kms_methods[i]};
			if (rk_prom_histogram_add(&m->kms_latency[i], M_KMS_LATENCY, &match, 1, s,
			                          &m->parse_err))
				return 1;
		}
	return 0;
}

static int on_sample(const rk_prom_sample *s, void *ud)
{
	doc_metrics *m = ud;
	const char *name = s->name;
	if (rk_prom_apiserver_on_sample(s, &m->requests)) { /* the request figures (promapi.c) */
		m->parse_err = m->requests.add_err;
		return 1;
	}
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
	return take_kms_latency(m, s);
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

/* One /metrics scrape into m; RK_OK, or RK_FAIL with a finding added. */
int doc_scrape(doc_run *run, const doc_apiserver *a, doc_metrics *m)
{
	rk_kube_resp resp;
	rk_err err;
	doc_metrics_init(m);
	doc_get(run, a, "/metrics", &resp);
	if (resp.err.code != RK_OK) {
		int refused = resp.http_status == 401 || resp.http_status == 403;
		doc_add(run->report, RK_DOCTOR_WARNING, a->node->name, refused ? "auth" : "metrics",
		        refused
		            ? "grant the user get on the non-resource URL /metrics (e.g. system:monitoring)"
		            : "see the apiserver's log",
		        "cannot read /metrics, the metric checks were skipped: %s", resp.err.msg);
		rk_kube_resp_free(&resp);
		return RK_FAIL;
	}
	char source[200];
	snprintf(source, sizeof source, "%s/metrics", a->node->apiserver);
	int rc = doc_metrics_parse(source, (const char *)resp.body.data, resp.body.len, m, &err);
	if (rc != RK_OK)
		doc_add(run->report, RK_DOCTOR_WARNING, a->node->name, "metrics", "",
		        "cannot parse /metrics, the metric checks were skipped: %s", err.msg);
	rk_kube_resp_free(&resp);
	return rc == RK_OK ? RK_OK : RK_FAIL;
}

/* later - earlier for the counters of a list of series (a series missing earlier counts from 0; one
 * that went down, a restart, counts from 0 too). */
static void series_delta(doc_series *out, size_t n, const doc_series *earlier, size_t nearlier)
{
	for (size_t i = 0; i < n; i++)
		for (size_t k = 0; k < nearlier; k++)
			if (!strcmp(out[i].a, earlier[k].a) && !strcmp(out[i].b, earlier[k].b) &&
			    !strcmp(out[i].c, earlier[k].c) && out[i].value >= earlier[k].value)
				out[i].value -= earlier[k].value;
}

void doc_metrics_delta(const doc_metrics *later, const doc_metrics *earlier, doc_metrics *out)
{
	*out = *later;
	series_delta(out->kms_ops, out->nkms_ops, earlier->kms_ops, earlier->nkms_ops);
	series_delta(out->transform_fail, out->ntransform_fail, earlier->transform_fail,
	             earlier->ntransform_fail);
	for (int i = 0; i < 3; i++)
		rk_prom_histogram_delta(&later->kms_latency[i], &earlier->kms_latency[i],
		                        &out->kms_latency[i]);
	rk_prom_histogram_delta(&later->requests.writes, &earlier->requests.writes, &out->requests.writes);
	const rk_prom_codes *lc = &later->requests.write_codes, *ec = &earlier->requests.write_codes;
	if (lc->total >= ec->total && lc->server_errors >= ec->server_errors) {
		out->requests.write_codes.total = lc->total - ec->total;
		out->requests.write_codes.server_errors = lc->server_errors - ec->server_errors;
	}
}
