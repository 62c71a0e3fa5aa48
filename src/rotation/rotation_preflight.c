/* rotation_preflight.c: the read-only checks before a rotation (every apiserver ready, one config on
 * every node, running it, the rewrite's and the probes' permissions, inside a window, the budget trend)
 * and the `plan` preview's figures: per rule of the config, the stored resources it covers with their
 * object counts, and the budget trend. */
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "rekey/log.h"
#include "rekey/transport.h"
#include "rotation_preflight_internal.h"
#include "rotation_setup_internal.h"

static int check_ready(rot_ctx *ctx, const rk_plan_node *node, rk_err *err)
{
	rk_buf text = RK_BUF_INIT;
	int ready = 0;
	int rc =
	    rk_kube_readyz_excluding(ctx->kube, node->apiserver, rot_readyz_exclude(ctx), &text, &ready, err);
	rk_buf_free(&text);
	if (rc != RK_OK)
		return rk_err_wrap(err, RK_UNSAFE, "preflight: apiserver on node %s is unreachable",
		                   node->name);
	if (!ready)
		return rk_err_set(err, RK_UNSAFE, "preflight: apiserver on node %s is not ready", node->name);
	return RK_OK;
}

/* Reads every node's config; they must be byte-identical. The canary's bytes go to base. */
static int check_configs(rot_ctx *ctx, rk_transport *t, rk_buf *base, char hash[72], rk_err *err)
{
	for (size_t i = 0; i < ctx->plan->nnodes; i++) {
		const rk_plan_node *node = &ctx->plan->nodes[i];
		char *data = NULL, node_hash[72];
		size_t len = 0;
		int rc = rk_transport_read_config(t, node, &data, &len, err);
		if (rc != RK_OK)
			return rc == RK_BADINPUT ? rc : rk_err_wrap(err, RK_UNSAFE, "preflight");
		rk_config_hash(data, len, node_hash);
		if (i == 0) {
			memcpy(hash, node_hash, 72);
			rc = rk_buf_append(base, data, len) == 0 ? RK_OK
			                                         : rk_err_set(err, RK_FAIL, "out of memory");
		} else if (strcmp(hash, node_hash) != 0) {
			rc = rk_err_set(err, RK_UNSAFE,
			                "preflight: the config on node %s (%s) differs from node %s (%s): "
			                "every node must "
			                "run the same config before a rotation",
			                node->name, node_hash, ctx->plan->nodes[0].name, hash);
		}
		OPENSSL_cleanse(data, len);
		free(data);
		if (rc != RK_OK)
			return rc;
	}
	return RK_OK;
}

static int check_running(rot_ctx *ctx, const char *hash, rk_err *err)
{
	for (size_t i = 0; i < ctx->plan->nnodes; i++) {
		const rk_plan_node *node = &ctx->plan->nodes[i];
		char seen[128];
		int rc = rot_node_config_hash(ctx, node, seen, sizeof seen, err);
		if (rc != RK_OK)
			return rk_err_wrap(err, RK_UNSAFE, "preflight");
		const char *a = strrchr(seen, ':'), *b = strrchr(hash, ':');
		if (!seen[0])
			rk_warn("preflight.hash-unknown", "node %s does not report which config it runs",
			        node->name);
		else if (strcmp(a ? a + 1 : seen, b ? b + 1 : hash) != 0)
			return rk_err_set(
			    err, RK_UNSAFE,
			    "preflight: the apiserver on node %s runs config %s, not the file on disk (%s): "
			    "restart it first",
			    node->name, seen, hash);
	}
	return RK_OK;
}

/* May the client list, get and update every stored resource the plan's rules cover (wildcards resolved by
 * discovery, as the rewrite will)? */
static int check_rewrite_access(rot_ctx *ctx, const rk_buf *base, rk_err *err)
{
	rk_encconfig *cfg = NULL;
	rot_scope scope;
	char **names = NULL;
	size_t n = 0;
	memset(&scope, 0, sizeof scope);
	int rc = rot_base_scope((const char *)base->data, base->len, ctx->plan, &cfg, &scope, err);
	if (rc == RK_OK)
		rc = rot_scope_names(&scope, cfg, ctx->kube, &names, &n, err);
	if (rc == RK_OK)
		rc = rk_rewrite_check_access(ctx->kube, (const char *const *)names, n, NULL, 0, err);
	rot_names_free(&names, &n);
	rot_scope_free(&scope);
	rk_encconfig_free(cfg);
	return rc;
}

/* The budget trend's probes (a Lease in kube-system created, patched and deleted; a list of kube-system
 * secrets): denied would read as failed probes, an apiserver over budget; say which grant is missing. */
static int check_probe_access(rot_ctx *ctx, rk_err *err)
{
	static const struct {
		const char *verb, *group, *resource;
	} needs[] = {{"create", "coordination.k8s.io", "leases"},
	             {"patch", "coordination.k8s.io", "leases"},
	             {"delete", "coordination.k8s.io", "leases"},
	             {"list", "", "secrets"}};
	if (ctx->plan->preflight_window_ms <= 0)
		return RK_OK;
	for (size_t i = 0; i < sizeof needs / sizeof needs[0]; i++) {
		int allowed = 0;
		char reason[512];
		if (rk_kube_can_i(ctx->kube, needs[i].verb, needs[i].group, needs[i].resource, "kube-system",
		                  &allowed, reason, sizeof reason, err) != RK_OK)
			return err->code;
		if (allowed < 0)
			return RK_OK; /* the apiserver cannot say: rk_rewrite_check_access logged it */
		if (!allowed)
			return rk_err_set(
			    err, RK_UNSAFE,
			    "permission denied before any write: the budget trend's probes may not %s "
			    "%s%s%s in namespace kube-system%s%s; grant it "
			    "(examples/k8s/rbac-rotate.yaml) or set budget.preflightWindow: 0s",
			    needs[i].verb, needs[i].resource, needs[i].group[0] ? "." : "", needs[i].group,
			    reason[0] ? ": " : "", reason);
	}
	return RK_OK;
}

/* The budget trend over budget.preflightWindow: for a rotation, over budget stops it before anything
 * changed; for `plan` (report not NULL) the figures are kept for the report. */
static int check_trend(rot_ctx *ctx, rot_trend *report, rk_err *err)
{
	rot_trend local;
	memset(&local, 0, sizeof local);
	rot_trend *trend = report ? report : &local;
	long window = ctx->plan->preflight_window_ms;
	memset(trend, 0, sizeof *trend);
	if (window <= 0)
		return RK_OK;
	rk_info("preflight.trend", "measuring every apiserver for %gs against the budget",
	        (double)window / 1000);
	int rc = rot_trend_measure(ctx, NULL, window, trend, err);
	for (size_t i = 0; rc == RK_OK && i < trend->n; i++) {
		rk_buf line = RK_BUF_INIT;
		rot_trend_node_describe(&trend->nodes[i], &line);
		rk_info("preflight.trend", "%s", rk_buf_cstr(&line));
		rk_buf_free(&line);
	}
	if (rc == RK_OK && !report && rot_trend_breached(trend)) {
		rk_buf why = RK_BUF_INIT;
		rot_trend_describe_breaches(trend, &why);
		rc = rk_err_set(err, RK_STOPPED,
		                "preflight: the control plane is over budget over the last %gs, nothing was "
		                "changed: %s",
		                (double)window / 1000, rk_buf_cstr(&why));
		rk_buf_free(&why);
	}
	if (!report)
		rot_trend_free(trend);
	return rc;
}

int rot_preflight(rot_ctx *ctx, rk_buf *base, rot_trend *report, rk_err *err)
{
	if (!ctx->opts->ignore_window && !rk_plan_in_window(ctx->plan, time(NULL), NULL))
		return rk_err_set(err, RK_STOPPED,
		                  "outside every maintenance window of the plan: refused (use "
		                  "--ignore-window to override; it is recorded in the audit log)");
	rk_transport *t = NULL;
	int rc = rot_transport_open(ctx, &t, err);
	for (size_t i = 0; rc == RK_OK && i < ctx->plan->nnodes; i++)
		rc = check_ready(ctx, &ctx->plan->nodes[i], err);
	char hash[72] = "";
	if (rc == RK_OK)
		rc = check_configs(ctx, t, base, hash, err);
	if (rc == RK_OK) /* the rewrite's permissions, before any node is changed */
		rc = check_rewrite_access(ctx, base, err);
	if (rc == RK_OK)
		rc = check_probe_access(ctx, err);
	if (rc == RK_OK)
		rc = check_running(ctx, hash, err);
	rk_transport_free(t);
	if (rc == RK_OK)
		rc = check_trend(ctx, report, err);
	if (rc == RK_OK)
		rk_info("preflight.passed", "%zu apiservers ready, all running config %s%s",
		        ctx->plan->nnodes, hash, ctx->plan->preflight_window_ms > 0 ? ", within budget" : "");
	return rc;
}

/* One rule's head: its entries, write key and provider, whether the plan selects it. */
static int preview_rule_head(const rk_encconfig *cfg, size_t i, int selected, rk_rotation_preview_rule *v)
{
	const rk_rule *rule = &cfg->rules[i];
	const char *write = rk_rule_write_key(rule);
	v->index = i;
	v->selected = selected;
	snprintf(v->write_key, sizeof v->write_key, "%s", write ? write : "");
	snprintf(v->provider, sizeof v->provider, "%s",
	         rule->nproviders ? rk_provider_name(rule->providers[0].type) : "");
	if (rule->nresources && !(v->entries = calloc(rule->nresources, sizeof *v->entries)))
		return -1;
	for (; v->nentries < rule->nresources; v->nentries++)
		if (!(v->entries[v->nentries] = strdup(rule->resources[v->nentries])))
			return -1;
	return 0;
}

/* A stored resource of a selected rule, counted now. */
static int preview_add_resource(rot_ctx *ctx, const rk_kube_resource *r, rk_rotation_preview_rule *v,
                                rk_rotation_preview *preview)
{
	rk_rotation_preview_resource *grown = realloc(v->resources, (v->nresources + 1) * sizeof *grown);
	if (!grown)
		return -1;
	v->resources = grown;
	rk_rotation_preview_resource *one = &grown[v->nresources++];
	rk_kube_resource_name(r, one->name, sizeof one->name);
	snprintf(one->version, sizeof one->version, "%s", r->version);
	one->objects = rk_kube_count(ctx->kube, r, NULL);
	preview->unknown |= one->objects < 0;
	v->objects += one->objects > 0 ? one->objects : 0;
	return 0;
}

int rot_preview_rules(rot_ctx *ctx, const rk_encconfig *cfg, const rot_scope *scope,
                      rk_rotation_preview *preview, rk_err *err)
{
	rot_resources res;
	rk_err discovery;
	int have = rot_scope_resources(scope, cfg, ctx->kube, &res, &discovery) == RK_OK;
	if (!have) {
		snprintf(preview->discovery_error, sizeof preview->discovery_error, "%s", discovery.msg);
		preview->unknown = 1;
	}
	if (cfg->nrules && !(preview->rules = calloc(cfg->nrules, sizeof *preview->rules))) {
		if (have)
			rot_resources_free(&res);
		return rk_err_set(err, RK_FAIL, "out of memory");
	}
	int oom = 0;
	for (size_t i = 0; !oom && i < cfg->nrules; i++) {
		rk_rotation_preview_rule *v = &preview->rules[preview->nrules++];
		oom = preview_rule_head(cfg, i, scope->selected[i], v) != 0;
		for (size_t r = 0; !oom && have && r < res.n; r++)
			if (res.rule[r] == (int)i)
				oom = preview_add_resource(ctx, &res.items[r], v, preview) != 0;
		preview->total += v->objects;
	}
	if (have)
		rot_resources_free(&res);
	if (oom)
		return rk_err_set(err, RK_FAIL, "out of memory");
	double qps = ctx->plan->rewrite.qps;
	preview->estimate_s = qps > 0 ? (double)preview->total / qps : -1;
	return RK_OK;
}

int rot_trend_preview(const rot_trend *trend, long window_ms, rk_rotation_preview *preview, rk_err *err)
{
	preview->trend_window_ms = trend->n ? trend->window_ms : window_ms;
	preview->trend_limits = trend->limits;
	if (!trend->n)
		return RK_OK;
	preview->trend = calloc(trend->n, sizeof *preview->trend);
	if (!preview->trend)
		return rk_err_set(err, RK_FAIL, "out of memory");
	for (size_t i = 0; i < trend->n; i++) {
		const rot_trend_node *t = &trend->nodes[i];
		rk_rotation_trend_node *v = &preview->trend[i];
		v->node = t->node->name;
		v->scrapes = t->scrapes;
		v->server = t->server;
		v->server_verdict = t->server_verdict;
		v->probes = t->probes;
		v->failed = t->failed;
		v->client_p99_ms = t->client_p99_ms;
		v->client_verdict = t->client_verdict;
		v->breached = t->server_verdict.breached | t->client_verdict.breached;
	}
	preview->ntrend = trend->n;
	return RK_OK;
}
