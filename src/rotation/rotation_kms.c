/* rotation_kms.c: what a rotation does about KMS v2: the wait for a healthy KMS when the rewrite was
 * paused by a KMS failure (fail closed), and the KEK rotation (plan kms.kek: true). The
 * EncryptionConfiguration keeps its kms v2 provider; the key_id changes inside the KMS. Before the rewrite
 * every apiserver must write under the new key_id: to one still on the old key_id an object under the old
 * keyID is not stale, so an unchanged PUT through it changes nothing (docs/kms.md sections 3, 4 and 8). So:
 * the target key_id is fixed and recorded (kek-target), every apiserver is watched until its latest Status
 * answer was that key_id and a probe written through it is stored under it (kek-pickup); then the ordinary
 * rewrite and a verify that requires every stored value to carry that keyID. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "rekey/kmsplugin.h"
#include "rekey/log.h"
#include "rekey/promtext.h"
#include "rotation_internal.h"

#define KEY_ID_STATUS_METRIC "apiserver_envelope_encryption_key_id_hash_status_last_timestamp_seconds"
#define POLL_MS 1000

int rot_kek_check_scope(const rot_ctx *ctx, const char *write_key, rk_err *err)
{
	const char *name = ctx->plan->kms.provider.name;
	if (strcmp(write_key, name) != 0)
		return rk_err_set(
		    err, RK_BADINPUT,
		    "%s: kms.kek: true rotates the KEK of kms provider %s, but the resources in "
		    "scope are written with %s: migrate onto %s first (a plan without kek)",
		    ctx->plan->path, name, write_key, name);
	return RK_OK;
}

/* The plugin's Status, when the plan's endpoint is a socket on this machine; *reached = 0 otherwise. */
static int plugin_key_id(const rot_ctx *ctx, rk_kms_status *st, int *reached, rk_err *err)
{
	const char *socket = rk_plan_kms_socket(ctx->plan);
	*reached = 0;
	if (!socket)
		return RK_OK;
	rk_err why;
	if (rk_kms_plugin_status(socket, 5000, st, &why) != RK_OK) {
		rk_warn("kek.plugin-unreachable", "kms plugin Status over %s: %s", socket, why.msg);
		return RK_OK;
	}
	*reached = 1;
	const char *problem = rk_kms_status_problem(st);
	if (problem)
		return rk_err_set(
		    err, RK_STOPPED,
		    "kms plugin %s is not healthy (%s: version \"%s\", healthz \"%s\"): the KEK "
		    "rotation waits for a healthy KMS; resume once it is",
		    socket, problem, st->version, st->healthz);
	return RK_OK;
}

int rot_kek_target(rot_ctx *ctx, rk_err *err)
{
	rk_kms_status st;
	int reached = 0;
	const char *planned = ctx->plan->kms.key_id;
	int rc = plugin_key_id(ctx, &st, &reached, err);
	if (rc != RK_OK)
		return rc;
	if (!planned && !reached)
		return rk_err_set(
		    err, RK_STOPPED,
		    "kek: no target key_id: the plan names none (kms.keyID) and the plugin's socket "
		    "%s did not answer Status",
		    rk_plan_kms_socket(ctx->plan) ? rk_plan_kms_socket(ctx->plan) : "(not local)");
	if (planned && reached && strcmp(planned, st.key_id) != 0)
		return rk_err_set(
		    err, RK_STOPPED,
		    "kek: the plugin reports key_id \"%s\", the plan waits for \"%s\": rotate the KEK "
		    "in the KMS first (or fix kms.keyID), then resume",
		    st.key_id, planned);
	const char *key_id = planned ? planned : st.key_id;
	rc = rk_store_kms_target_set(ctx->store, ctx->run_id, ctx->plan->kms.provider.name, key_id,
	                             planned ? "plan" : "plugin-status", err);
	if (rc == RK_OK)
		rc = rot_kek_load_target(ctx, err);
	if (rc == RK_OK) {
		char hash[72];
		rk_kms_key_id_hash(ctx->kek_key_id, hash);
		rk_store_audit_add(ctx->store, ctx->plan->cluster, ctx->run_id, "kek-target", "recorded",
		                   ctx->kek_key_id, err);
		rk_info("kek.target", "kms provider %s: every object goes under key_id %s (%s)",
		        ctx->plan->kms.provider.name, ctx->kek_key_id, hash);
	}
	return rc;
}

int rot_kek_load_target(rot_ctx *ctx, rk_err *err)
{
	int found = 0;
	int rc = rk_store_kms_target_get(ctx->store, ctx->run_id, ctx->kek_key_id, &found, err);
	if (rc == RK_OK && !found)
		rc = rk_err_set(err, RK_FAIL, "run %lld has no recorded target key_id",
		                (long long)ctx->run_id);
	return rc;
}

/* What one /metrics scrape says about the provider's Status answers. */
struct key_id_seen {
	const char *provider, *hash;
	double target;       /* last Status answering the target key_id (unix s), -1 = never */
	double newest_other; /* last Status answering any other key_id, -1 = none */
};

static int on_status_sample(const rk_prom_sample *s, void *ud)
{
	struct key_id_seen *seen = ud;
	const char *provider = rk_prom_label_value(s, "provider_name");
	const char *hash = rk_prom_label_value(s, "key_id_hash");
	if (strcmp(s->name, KEY_ID_STATUS_METRIC) != 0 || !provider || !hash ||
	    strcmp(provider, seen->provider))
		return 0;
	double *slot = !strcmp(hash, seen->hash) ? &seen->target : &seen->newest_other;
	if (s->value > *slot)
		*slot = s->value;
	return 0;
}

/* 1 when node's apiserver last heard the target key_id from its plugin (its newest Status series). The
 * readyz check first: it runs a Status call when its cached result is older than 20 s. */
static int node_reports_target(rot_ctx *ctx, const rk_plan_node *node, const char *hash, rk_err *err)
{
	rk_buf text = RK_BUF_INIT;
	int ready = 0;
	rk_kube_readyz(ctx->kube, node->apiserver, "kms-providers", &text, &ready, err);
	rk_buf_reset(&text);
	struct key_id_seen seen = {ctx->plan->kms.provider.name, hash, -1, -1};
	int rc = rk_kube_get_text(ctx->kube, node->apiserver, "/metrics", &text, err);
	if (rc == RK_OK)
		rc = rk_prom_parse(node->name, (const char *)text.data, text.len, on_status_sample, NULL,
		                   &seen, err);
	rk_buf_free(&text);
	return rc == RK_OK && seen.target >= 0 && seen.target >= seen.newest_other;
}

/* 1 when a probe written through node is stored under the target keyID. */
static int node_writes_target(rot_ctx *ctx, const rk_plan_node *node, rk_err *err)
{
	rk_value_info info;
	if (rot_probe_stored_value(ctx, node, &info, err) != RK_OK)
		return 0;
	if (info.kind == RK_VAL_KMS_V2 && !strcmp(info.name, ctx->plan->kms.provider.name) &&
	    !strcmp(info.key_id, ctx->kek_key_id))
		return 1;
	rk_err_set(err, RK_STOPPED, "a probe written through %s is stored as %s key \"%s\" keyID \"%.128s\"",
	           node->name, rk_value_kind_name(info.kind), info.name, info.key_id);
	return 0;
}

static int wait_node(rot_ctx *ctx, const rk_plan_node *node, const char *hash, double deadline, rk_err *err)
{
	rk_err why;
	rk_err_set(&why, RK_STOPPED, "its metrics do not show the key_id yet");
	int reported = 0;
	while (rot_now_s() < deadline) {
		if (ctx->opts->stop && *ctx->opts->stop)
			return rk_err_set(err, RK_STOPPED,
			                  "stopped by a signal while waiting for the KEK pickup");
		if (!reported && (reported = node_reports_target(ctx, node, hash, &why)))
			rk_info("kek.reported",
			        "node %s: its apiserver's plugin answered Status with key_id %s (%s)",
			        node->name, ctx->kek_key_id, hash);
		if (reported && node_writes_target(ctx, node, &why)) {
			rk_info("kek.writes", "node %s: a probe written through it is stored under keyID %s",
			        node->name, ctx->kek_key_id);
			return RK_OK;
		}
		rot_sleep_ms(POLL_MS);
	}
	return rk_err_set(err, RK_STOPPED,
	                  "kek: the apiserver on node %s does not write under key_id %s after %lds (%s); "
	                  "nothing was rewritten: resume to wait again",
	                  node->name, ctx->kek_key_id, ctx->plan->kms.pickup_timeout_ms / 1000, why.msg);
}

int rot_kek_pickup(rot_ctx *ctx, rk_err *err)
{
	char hash[72];
	rk_kms_key_id_hash(ctx->kek_key_id, hash);
	double deadline = rot_now_s() + (double)ctx->plan->kms.pickup_timeout_ms / 1000.0;
	int rc = RK_OK;
	for (size_t i = 0; rc == RK_OK && i < ctx->plan->nnodes; i++)
		rc = wait_node(ctx, &ctx->plan->nodes[i], hash, deadline, err);
	if (rc == RK_OK)
		rk_info("kek.picked-up", "every apiserver (%zu) writes under key_id %s", ctx->plan->nnodes,
		        ctx->kek_key_id);
	return rc;
}

/* Why the KMS is not healthy now ("" when it is): every apiserver's /readyz/kms-providers (which runs
 * its Status check when the cached result is older than 20 s), and the plugin's own Status where the
 * plan's socket is on this machine. */
static void kms_problem(rot_ctx *ctx, char *out, size_t cap)
{
	out[0] = '\0';
	for (size_t i = 0; !out[0] && i < ctx->plan->nnodes; i++) {
		const rk_plan_node *node = &ctx->plan->nodes[i];
		rk_buf text = RK_BUF_INIT;
		int ready = 0;
		rk_err e;
		if (rk_kube_readyz(ctx->kube, node->apiserver, "kms-providers", &text, &ready, &e) != RK_OK)
			snprintf(out, cap, "node %s: %.400s", node->name, e.msg);
		else if (!ready)
			snprintf(out, cap, "node %s: /readyz/kms-providers: %.300s", node->name,
			         rk_buf_cstr(&text));
		rk_buf_free(&text);
	}
	const char *socket = rk_plan_kms_socket(ctx->plan);
	rk_kms_status st;
	rk_err e;
	if (!out[0] && socket && rk_kms_plugin_status(socket, 5000, &st, &e) != RK_OK)
		snprintf(out, cap, "plugin %s: %.400s", socket, e.msg);
	else if (!out[0] && socket && rk_kms_status_problem(&st))
		snprintf(out, cap, "plugin %s: %s", socket, rk_kms_status_problem(&st));
}

int rot_kms_wait_healthy(rot_ctx *ctx, const char *why, rk_err *err)
{
	long timeout_ms = ctx->plan->kms.outage_timeout_ms;
	double t0 = rot_now_s(), deadline = t0 + (double)timeout_ms / 1000.0;
	char problem[768];
	rk_store_audit_add(ctx->store, ctx->plan->cluster, ctx->run_id, "kms-pause", "paused", why, err);
	rk_warn("kms.paused", "rewrite paused: %s; waiting up to %lds for a healthy KMS", why,
	        timeout_ms / 1000);
	for (;;) {
		if (ctx->opts->stop && *ctx->opts->stop)
			return rk_err_set(err, RK_STOPPED,
			                  "stopped by a signal while the rewrite waited for the KMS");
		kms_problem(ctx, problem, sizeof problem);
		if (!problem[0]) {
			rk_info("kms.recovered", "the KMS is healthy again after %.1fs: the rewrite goes on",
			        rot_now_s() - t0);
			rk_store_audit_add(ctx->store, ctx->plan->cluster, ctx->run_id, "kms-pause",
			                   "recovered", NULL, err);
			return RK_OK;
		}
		if (rot_now_s() >= deadline)
			break;
		rot_sleep_ms(2000);
	}
	rk_store_audit_add(ctx->store, ctx->plan->cluster, ctx->run_id, "kms-pause", "gave-up", problem, err);
	return rk_err_set(
	    err, RK_STOPPED,
	    "the KMS stayed unhealthy for %lds (%s; the rewrite stopped on: %s): the rewrite is "
	    "paused at its checkpoint and nothing was lost; `rekeyctl resume` continues once the "
	    "KMS is back",
	    timeout_ms / 1000, problem, why);
}
