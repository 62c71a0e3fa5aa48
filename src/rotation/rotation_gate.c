/* rotation_gate.c: the gates after every node's change (ready on its own endpoint, running exactly the
 * written config, budget held for the soak time) and the cross-apiserver probe after promotion. */
#include <jansson.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "rekey/etcdgw.h"
#include "rekey/failpoint.h"
#include "rekey/log.h"
#include "rekey/manifest.h"
#include "rekey/promtext.h"
#include "rotation_internal.h"
#include "rotation_steps_internal.h"
#include "rotation_trend_internal.h"

#define LAST_CONFIG_INFO "apiserver_encryption_config_controller_last_config_info"

double rot_now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void rot_sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
}

/* The hex digest of a config hash in any of the apiserver's spellings: "sha256:<hex>",
 * "k8s:enc:unstable:1:<hex>" or bare hex. */
static const char *hash_hex(const char *hash)
{
	const char *colon = strrchr(hash, ':');
	return colon ? colon + 1 : hash;
}

struct hash_search {
	char *out;
	size_t cap;
};

static int take_config_hash(const rk_prom_sample *sample, void *ud)
{
	struct hash_search *search = ud;
	const char *hash = rk_prom_label_value(sample, "hash");
	if (strcmp(sample->name, LAST_CONFIG_INFO) != 0 || !hash || sample->value != 1)
		return 0;
	snprintf(search->out, search->cap, "%s", hash);
	return 1;
}

static int mirror_pod_hash(rot_ctx *ctx, const rk_plan_node *node, char *out, size_t cap, rk_err *err)
{
	char path[512];
	snprintf(path, sizeof path, "/api/v1/namespaces/kube-system/pods/kube-apiserver-%s", node->name);
	json_t *pod = NULL;
	long status = 0;
	rk_err_clear(err);
	if (rk_kube_call_json(ctx->kube, "GET", node->apiserver, path, NULL, &pod, &status, err) != RK_OK) {
		rk_err_clear(err);
		return RK_OK; /* no mirror pod: unknown */
	}
	const char *hash = json_string_value(json_object_get(
	    json_object_get(json_object_get(pod, "metadata"), "annotations"), RK_MANIFEST_HASH_ANNOTATION));
	json_t *conditions = json_object_get(json_object_get(pod, "status"), "conditions");
	int ready = 0;
	size_t i;
	json_t *c;
	json_array_foreach(conditions, i, c)
	{
		const char *type = json_string_value(json_object_get(c, "type"));
		const char *value = json_string_value(json_object_get(c, "status"));
		ready |= type && value && !strcmp(type, "Ready") && !strcmp(value, "True");
	}
	if (hash && ready)
		snprintf(out, cap, "%s", hash);
	json_decref(pod);
	return RK_OK;
}

int rot_node_config_hash(rot_ctx *ctx, const rk_plan_node *node, char *out, size_t cap, rk_err *err)
{
	out[0] = '\0';
	rk_buf metrics = RK_BUF_INIT;
	int rc = rk_kube_get_text(ctx->kube, node->apiserver, "/metrics", &metrics, err);
	if (rc == RK_OK) {
		struct hash_search search = {out, cap};
		rk_err parse_err;
		rk_prom_parse(node->apiserver, (const char *)metrics.data, metrics.len, take_config_hash,
		              NULL, &search, &parse_err);
	}
	rk_buf_free(&metrics);
	if (rc != RK_OK)
		return rc;
	return out[0] ? RK_OK : mirror_pod_hash(ctx, node, out, cap, err);
}

/* "/readyz not ready: [-]a [-]b" from a verbose /readyz text (its failed checks). */
static void failed_checks(const char *text, char *out, size_t cap)
{
	size_t used = (size_t)snprintf(out, cap, "/readyz not ready:");
	for (const char *p = strstr(text, "[-]"); p && used + 1 < cap; p = strstr(p + 3, "[-]")) {
		size_t n = strcspn(p, " \n");
		used += (size_t)snprintf(out + used, cap - used, " %.*s", (int)n, p);
	}
}

/* Polls until the node is ready and runs `hash`, or the ready timeout passes. */
static int wait_ready_with_config(rot_ctx *ctx, const rk_plan_node *node, const char *hash, rk_err *err)
{
	double deadline = rot_now_s() + (double)ctx->plan->ready_timeout_ms / 1000.0;
	char seen[128] = "";
	char last_problem[RK_ERR_MSG_MAX] = "no answer yet";
	for (;;) {
		rk_buf text = RK_BUF_INIT;
		int ready = 0;
		rk_err probe;
		rk_err_clear(&probe);
		if (rk_kube_readyz_excluding(ctx->kube, node->apiserver, rot_readyz_exclude(ctx), &text,
		                             &ready, &probe) != RK_OK)
			snprintf(last_problem, sizeof last_problem, "%s", probe.msg);
		else if (!ready)
			failed_checks(rk_buf_cstr(&text), last_problem, sizeof last_problem);
		else if (rot_node_config_hash(ctx, node, seen, sizeof seen, &probe) != RK_OK)
			snprintf(last_problem, sizeof last_problem, "%s", probe.msg);
		else if (!strcmp(hash_hex(seen), hash_hex(hash))) {
			rk_buf_free(&text);
			return RK_OK;
		} else
			snprintf(last_problem, sizeof last_problem, "runs config %s",
			         seen[0] ? seen : "(unknown)");
		rk_buf_free(&text);
		if (ctx->opts->stop && *ctx->opts->stop) /* not the node's fault: say so */
			return rk_err_set(
			    err, RK_STOPPED,
			    "gate on node %s stopped by a signal at a safe point (its config is "
			    "written, resume checks it again; last: %s): rekeyctl resume continues",
			    node->name, last_problem);
		if (rot_now_s() > deadline)
			return rk_err_set(
			    err, RK_STOPPED,
			    "gate: apiserver on node %s did not come back ready with config %s within %lds "
			    "(last: %s); no further node was touched",
			    node->name, hash, ctx->plan->ready_timeout_ms / 1000, last_problem);
		rot_sleep_ms(250);
	}
}

/* The node under a light probe load for the soak time: its own figures (write p99, 5xx and 429 ratios
 * from its /metrics) and our probes' must hold the budget. */
static int soak(rot_ctx *ctx, const rk_plan_node *node, rk_err *err)
{
	long soak_ms = ctx->plan->rewrite.soak_ms;
	if (soak_ms <= 0)
		return RK_OK;
	rot_trend trend;
	memset(&trend, 0, sizeof trend);
	int rc = rot_trend_measure(ctx, node, soak_ms, &trend, err);
	rk_buf line = RK_BUF_INIT;
	if (rc == RK_OK) {
		rot_trend_node_describe(&trend.nodes[0], &line);
		rk_info("gate.soak", "%s", rk_buf_cstr(&line));
	}
	if (rc == RK_OK && rot_trend_breached(&trend))
		rc = rk_err_set(
		    err, RK_STOPPED,
		    "gate: node %s broke the budget while soaking for %gs: %s; no further node was "
		    "touched",
		    node->name, (double)soak_ms / 1000, rk_buf_cstr(&line));
	rk_buf_free(&line);
	rot_trend_free(&trend);
	return rc;
}

int rot_gate_node(rot_ctx *ctx, const rk_plan_node *node, const char *hash, rk_err *err)
{
	int rc = wait_ready_with_config(ctx, node, hash, err);
	if (rc == RK_OK)
		rc = soak(ctx, node, err);
	if (rc == RK_OK)
		rk_info("gate.passed", "node %s is ready and runs config %s", node->name, hash);
	return rc;
}

/* ---- the cross-apiserver probe ---- */

static json_t *probe_secret(const char *name, const char *value_b64)
{
	return json_pack("{s:s,s:s,s:{s:s,s:s,s:{s:s}},s:s,s:{s:s}}", "apiVersion", "v1", "kind", "Secret",
	                 "metadata", "name", name, "namespace", "kube-system", "labels",
	                 "app.kubernetes.io/managed-by", "rekeyctl", "type", "Opaque", "data", "probe",
	                 value_b64);
}

static int read_back(rot_ctx *ctx, const rk_plan_node *node, const char *path, const char *want, rk_err *err)
{
	json_t *got = NULL;
	long status = 0;
	int rc = rk_kube_call_json(ctx->kube, "GET", node->apiserver, path, NULL, &got, &status, err);
	const char *value = json_string_value(json_object_get(json_object_get(got, "data"), "probe"));
	if (rc == RK_OK && (!value || strcmp(value, want) != 0))
		rc = rk_err_set(err, RK_STOPPED, "probe: apiserver on node %s returned different data",
		                node->name);
	else if (rc != RK_OK)
		rc = rk_err_set(
		    err, RK_STOPPED,
		    "probe: apiserver on node %s cannot read a secret written through the canary (HTTP %ld): "
		    "it does not decrypt the new key",
		    node->name, status);
	json_decref(got);
	return rc;
}

/* Deletes a recorded probe (404 counts: it is gone) and marks it deleted; a failure is a warning and
 * leaves the record for the next resume, abort or rollback. */
static void delete_probe(rot_ctx *ctx, const char *endpoint, const char *namespace_, const char *name)
{
	char path[600];
	long status = 0;
	rk_err err;
	rk_err_clear(&err);
	snprintf(path, sizeof path, "/api/v1/namespaces/%s/secrets/%s", namespace_, name);
	int rc = rk_kube_call_json(ctx->kube, "DELETE", endpoint, path, NULL, NULL, &status, &err);
	if (rc != RK_OK && status != 404) {
		rk_warn("probe.left",
		        "probe secret %s/%s not deleted (%s): the next resume, abort or rollback "
		        "deletes it",
		        namespace_, name, err.msg);
		return;
	}
	if (rk_store_probe_deleted(ctx->store, namespace_, name, &err) != RK_OK)
		rk_warn("probe.unrecorded", "%s", err.msg);
}

struct left_probes {
	rk_probe list[16];
	size_t n;
};

static int collect_probe(const rk_probe *probe, void *ud)
{
	struct left_probes *left = ud;
	if (left->n == sizeof left->list / sizeof left->list[0])
		return -1; /* full: the rest next time */
	left->list[left->n++] = *probe;
	return 0;
}

int rot_probe_cleanup(rot_ctx *ctx, rk_err *err)
{
	struct left_probes left = {.n = 0};
	int rc = rk_store_probe_left(ctx->store, ctx->plan->cluster, collect_probe, &left, err);
	if (rc > 0)
		return rc;
	for (size_t i = 0; i < left.n; i++) {
		rk_info("probe.cleanup", "deleting the probe secret %s/%s left by run %lld",
		        left.list[i].namespace_, left.list[i].name, (long long)left.list[i].run_id);
		delete_probe(ctx, NULL, left.list[i].namespace_, left.list[i].name);
	}
	return RK_OK;
}

/* A fresh probe name and value (hex, which is also base64). */
static void probe_names(char name[64], char value[32])
{
	unsigned char nonce[8];
	RAND_bytes(nonce, sizeof nonce);
	snprintf(name, 64, "rekeyctl-probe-%02x%02x%02x%02x", nonce[0], nonce[1], nonce[2], nonce[3]);
	snprintf(value, 32, "%02x%02x%02x%02x", nonce[4], nonce[5], nonce[6], nonce[7]);
}

/* Records the probe (before it exists: whatever happens next, a later run can find and delete it),
 * then creates it through node. */
static int probe_create(rot_ctx *ctx, const rk_plan_node *node, const char *name, const char *value,
                        rk_err *err)
{
	int rc = rk_store_probe_record(ctx->store, ctx->run_id, "kube-system", name, err);
	if (rc != RK_OK)
		return rc;
	json_t *secret = probe_secret(name, value);
	rc = rk_kube_call_json(ctx->kube, "POST", node->apiserver, "/api/v1/namespaces/kube-system/secrets",
	                       secret, NULL, NULL, err);
	json_decref(secret);
	if (rc != RK_OK) /* it may exist all the same (an answer lost): the caller's delete tries */
		return rk_err_wrap(err, RK_STOPPED, "probe: cannot write through %s", node->name);
	RK_FAILPOINT("probe", NULL, "created");
	return RK_OK;
}

/* The stored value of kube-system/<name> in the plan's etcd, classified. */
static int probe_stored(rot_ctx *ctx, const char *name, rk_value_info *info, rk_err *err)
{
	const rk_plan_etcd *e = &ctx->plan->etcd;
	rk_etcdgw_opts o = {
	    .url = e->url, .cacert = e->cacert, .cert = e->cert, .key = e->key, .timeout_ms = 10000};
	rk_etcdgw *gw = NULL;
	rk_etcd_kv kv;
	int found = 0;
	char key[128];
	snprintf(key, sizeof key, "/registry/secrets/kube-system/%s", name);
	memset(&kv, 0, sizeof kv);
	int rc = rk_etcdgw_open(&o, &gw, err);
	if (rc == RK_OK)
		rc = rk_etcdgw_get(gw, key, &kv, &found, err);
	if (rc == RK_OK && !found)
		rc = rk_err_set(err, RK_STOPPED, "probe: %s is not in etcd %s", key, e->url);
	if (rc == RK_OK)
		rk_codec_classify(kv.value, kv.value_len, info);
	rk_etcd_kv_free(&kv);
	rk_etcdgw_close(gw);
	return rc;
}

int rot_probe_stored_value(rot_ctx *ctx, const rk_plan_node *node, rk_value_info *info, rk_err *err)
{
	char name[64], value[32];
	probe_names(name, value);
	int rc = probe_create(ctx, node, name, value, err);
	if (rc == RK_OK)
		rc = probe_stored(ctx, name, info, err);
	delete_probe(ctx, node->apiserver, "kube-system", name);
	return rc;
}

int rot_probe_cross_read(rot_ctx *ctx, const rk_plan_node *canary, rk_err *err)
{
	char name[64], value[32], path[256];
	probe_names(name, value);
	snprintf(path, sizeof path, "/api/v1/namespaces/kube-system/secrets/%s", name);
	int rc = probe_create(ctx, canary, name, value, err);
	for (size_t i = 0; rc == RK_OK && i < ctx->plan->nnodes; i++)
		if (&ctx->plan->nodes[i] != canary)
			rc = read_back(ctx, &ctx->plan->nodes[i], path, value, err);
	delete_probe(ctx, canary->apiserver, "kube-system", name);
	if (rc == RK_OK)
		rk_info("probe.passed",
		        "a secret written through %s was read back through every other apiserver",
		        canary->name);
	return rc;
}
