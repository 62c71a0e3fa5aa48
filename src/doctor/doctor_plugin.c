/* doctor_plugin.c: which KMS v2 plugin sockets to call (--kms-socket, else the unix endpoints of the kms
 * v2 providers in the nodes' EncryptionConfigurations when the plan's nodes are this machine), the nodes'
 * config files (their hash, their kms timeouts), and each plugin's own Status judged as the apiserver
 * judges it (version v2 or v2beta1, healthz "ok", key_id of 1 to 1024 bytes: docs/kms.md section 1). */
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "doctor_internal.h"
#include "rekey/duration.h"
#include "rekey/encconfig.h"
#include "rekey/grpc.h"
#include "rekey/kmsplugin.h"
#include "rekey/transport.h"

static doc_plugin *plugin_add(doc_run *run, const char *node, const char *path, const char *provider,
                              long timeout_ms)
{
	for (size_t i = 0; i < run->nplugins; i++)
		if (!strcmp(run->plugins[i].path, path)) {
			/* the same socket for several nodes: everyone's plugin */
			if (strcmp(run->plugins[i].node, node))
				run->plugins[i].node[0] = 0;
			return &run->plugins[i];
		}
	doc_plugin *grown = realloc(run->plugins, (run->nplugins + 1) * sizeof *grown);
	if (!grown)
		return NULL;
	run->plugins = grown;
	doc_plugin *p = &run->plugins[run->nplugins++];
	memset(p, 0, sizeof *p);
	snprintf(p->node, sizeof p->node, "%s", node);
	snprintf(p->path, sizeof p->path, "%s", path);
	snprintf(p->provider, sizeof p->provider, "%s", provider);
	p->timeout_ms = timeout_ms;
	return p;
}

/* The unix path of a kms endpoint ("unix:///path" or "unix:/path"), NULL for anything else. */
static const char *endpoint_path(const char *endpoint)
{
	if (!endpoint || strncmp(endpoint, "unix:", 5))
		return NULL;
	const char *p = endpoint + 5;
	if (!strncmp(p, "//", 2))
		p += 2;
	return *p == '/' ? p : NULL;
}

static long kms_timeout_ms(const rk_kms *kms)
{
	long long ns = 0;
	if (!kms->timeout || rk_go_duration_parse(kms->timeout, &ns) != 0 || ns <= 0)
		return DOC_KMS_DEFAULT_TIMEOUT_MS;
	return (long)(ns / 1000000);
}

/* The kms v2 providers of one node's config: the largest timeout, and plugins when from_configs. */
static void take_config_kms(doc_run *run, const rk_plan_node *node, const rk_encconfig *cfg, int from_configs)
{
	for (size_t r = 0; r < cfg->nrules; r++)
		for (size_t i = 0; i < cfg->rules[r].nproviders; i++) {
			const rk_provider *pv = &cfg->rules[r].providers[i];
			if (pv->type != RK_PROV_KMS || !pv->kms.api_version ||
			    strcmp(pv->kms.api_version, "v2"))
				continue;
			long timeout = kms_timeout_ms(&pv->kms);
			if (timeout > run->kms_timeout_ms)
				run->kms_timeout_ms = timeout;
			const char *path = endpoint_path(pv->kms.endpoint);
			if (from_configs && path)
				plugin_add(run, node->name, path, pv->kms.name ? pv->kms.name : "", timeout);
		}
}

/* Each node's config: its hash (what its apiserver should report running) and its kms providers. */
static void read_configs(doc_run *run, int from_configs)
{
	rk_transport *t = NULL;
	rk_err err;
	if (rk_transport_new(run->plan, &t, &err) != RK_OK) {
		doc_add(run->report, RK_DOCTOR_WARNING, "cluster", "config",
		        "check the plan's access settings", "cannot reach the nodes' configs: %s", err.msg);
		return;
	}
	for (size_t i = 0; i < run->napiservers; i++) {
		doc_apiserver *a = &run->apiservers[i];
		char *data = NULL;
		size_t len = 0;
		rk_encconfig *cfg = NULL;
		if (rk_transport_read_config(t, a->node, &data, &len, &err) == RK_OK)
			rk_config_hash(data, len, a->file_hash);
		if (data && rk_encconfig_load_buf(data, len, a->node->config_path, &cfg, &err) == RK_OK)
			take_config_kms(run, a->node, cfg, from_configs);
		else
			doc_add(run->report, RK_DOCTOR_WARNING, a->node->name, "config",
			        "check the node's configPath in the plan and the file on the node",
			        "cannot read the node's EncryptionConfiguration: %s", err.msg);
		rk_encconfig_free(cfg);
		if (data)
			OPENSSL_cleanse(data, len);
		free(data);
	}
	rk_transport_free(t);
}

/* "NODE=PATH" or "PATH". */
static int take_socket_flag(doc_run *run, const char *value, rk_err *err)
{
	const char *eq = strchr(value, '=');
	char node[DOC_NAME_MAX] = "";
	const char *path = value;
	if (eq && !memchr(value, '/', (size_t)(eq - value))) {
		snprintf(node, sizeof node, "%.*s", (int)(eq - value), value);
		path = eq + 1;
		if (!rk_plan_find_node(run->plan, node))
			return rk_err_set(err, RK_BADINPUT, "--kms-socket %s: the plan has no node %s", value,
			                  node);
	}
	if (!*path)
		return rk_err_set(err, RK_BADINPUT, "--kms-socket %s: no socket path", value);
	if (!plugin_add(run, node, path, "", 0))
		return rk_err_set(err, RK_FAIL, "out of memory");
	return RK_OK;
}

int doc_plugins_collect(doc_run *run, rk_err *err)
{
	for (size_t i = 0; i < run->opts->nkms_sockets; i++) {
		int rc = take_socket_flag(run, run->opts->kms_sockets[i], err);
		if (rc != RK_OK)
			return rc;
	}
	read_configs(run, run->opts->nkms_sockets == 0 && run->plan->access == RK_ACCESS_LOCAL);
	for (size_t i = 0; i < run->nplugins; i++)
		if (run->plugins[i].timeout_ms <= 0)
			run->plugins[i].timeout_ms =
			    run->kms_timeout_ms > 0 ? run->kms_timeout_ms : DOC_KMS_DEFAULT_TIMEOUT_MS;
	return RK_OK;
}

static const char *outcome_action(rk_doctor_kms_outcome outcome)
{
	switch (outcome) {
	case RK_DOCTOR_KMS_NO_SOCKET:
	case RK_DOCTOR_KMS_NOT_SOCKET:
		return "start the KMS plugin on the node (the socket is its config endpoint); apiservers "
		       "fail their kms check within 23 s and refuse writes 3 min after their last good "
		       "Status";
	case RK_DOCTOR_KMS_REFUSED:
		return "the plugin is gone but left its socket file: restart the plugin";
	case RK_DOCTOR_KMS_NOT_GRPC:
		return "the endpoint names a socket that is not the KMS plugin: point the config's kms "
		       "endpoint at the plugin's socket";
	case RK_DOCTOR_KMS_TIMEOUT:
		return "the plugin hangs or its KMS is slow: see the plugin's log and its latency to the "
		       "KMS; the apiservers' kms check fails the same way";
	case RK_DOCTOR_KMS_GRPC_ERROR:
		return "see the plugin's log: its KMS may refuse it (credentials, quota, network); "
		       "apiservers keep reading from cached DEK seeds and refuse writes 3 min after their "
		       "last good Status";
	default:
		return "see the plugin's log";
	}
}

static const char *const outcome_text[] = {
    "answered",          "no socket",         "not a unix socket", "nobody listens on the socket",
    "not a gRPC server", "no answer in time", "Status failed",     "bad reply"};

/* The apiserver's rules for a Status answer; NULL when it passes, else why not. */
static const char *invalid_answer(const rk_doctor_kms_status *st)
{
	if (strcmp(st->version, "v2") && strcmp(st->version, "v2beta1"))
		return "version is not v2 (or v2beta1)";
	if (strcmp(st->healthz, "ok"))
		return "healthz is not \"ok\": the plugin reports itself unhealthy";
	if (st->key_id_len == 0)
		return "key_id is empty";
	if (st->key_id_len > RK_DOCTOR_KMS_KEY_ID_MAX)
		return "key_id is longer than 1024 bytes";
	return NULL;
}

static void judge_answer(doc_run *run, doc_plugin *p, const char *subject)
{
	const rk_doctor_kms_status *st = &p->status;
	const char *bad = invalid_answer(st);
	if (bad) {
		doc_add(run->report, RK_DOCTOR_CRITICAL, subject, "kms-plugin",
		        "fix the plugin (or its KMS): every apiserver's kms check fails the same way",
		        "%s: Status answered version \"%s\", healthz \"%.200s\", a %zu-byte key_id: %s",
		        p->path, st->version, st->healthz, st->key_id_len, bad);
		return;
	}
	p->answered_ok = 1;
	rk_kms_key_id_hash(st->key_id, p->key_id_hash); /* a valid answer: the whole key_id */
	int slow = st->elapsed_ms >= DOC_PLUGIN_SLOW_MS;
	doc_add(run->report, slow ? RK_DOCTOR_WARNING : RK_DOCTOR_OK, subject,
	        slow ? "kms-plugin-slow" : "kms-plugin",
	        slow ? "the plugin or its KMS is slow: see the plugin's latency to the KMS; past the "
	               "provider's timeout the apiservers' kms check fails"
	             : "",
	        "%s: Status took %.0f ms (timeout %ld ms): version %s, healthz ok, key_id %.100s (%s)",
	        p->path, st->elapsed_ms, p->timeout_ms, st->version, st->key_id, p->key_id_hash);
}

void doc_check_plugins(doc_run *run)
{
	for (size_t i = 0; i < run->nplugins; i++) {
		doc_plugin *p = &run->plugins[i];
		char subject[sizeof p->node + 8];
		snprintf(subject, sizeof subject, "plugin%s%s", p->node[0] ? " " : "",
		         p->node[0] ? p->node : "");
		rk_doctor_kms_status_call(p->path, p->timeout_ms, &p->status);
		run->report->plugins++;
		const rk_doctor_kms_status *st = &p->status;
		if (st->outcome == RK_DOCTOR_KMS_ANSWERED)
			judge_answer(run, p, subject);
		else if (st->outcome == RK_DOCTOR_KMS_GRPC_ERROR)
			doc_add(run->report, RK_DOCTOR_CRITICAL, subject, "kms-plugin",
			        outcome_action(st->outcome), "%s: Status failed with %s after %.0f ms: %s",
			        p->path, rk_grpc_code_name(st->grpc_code), st->elapsed_ms, st->detail);
		else
			doc_add(run->report, RK_DOCTOR_CRITICAL, subject, "kms-plugin",
			        outcome_action(st->outcome), "%s: %s after %.0f ms: %s", p->path,
			        outcome_text[st->outcome], st->elapsed_ms, st->detail);
	}
}
