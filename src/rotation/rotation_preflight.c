/* rotation_preflight.c: the read-only checks before a rotation (every apiserver ready, one config on
 * every node, running it, inside a window) and the `plan` report of the stages it would run. */
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

static void describe_stages(const rot_ctx *ctx, rk_buf *out)
{
	const rk_plan *p = ctx->plan;
	if (p->kms.kek) {
		rk_buf_printf(out,
		              "stages (KEK rotation of kms provider %s: no config changes):\n  1. preflight\n"
		              "  2. kek-target: the key_id to reach: %s\n  3. kek-pickup: every apiserver "
		              "reports it and writes under it (within %lds)\n  4. rewrite every object\n"
		              "  5. verify: every stored value under keyID of the target\n  6. done\n",
		              p->kms.provider.name, p->kms.key_id ? p->kms.key_id : "the plugin's Status",
		              p->kms.pickup_timeout_ms / 1000);
		return;
	}
	if (p->provider == RK_PROV_KMS)
		rk_buf_printf(out,
		              "stages:\n  1. preflight\n  2. stage-key: add kms v2 provider %s (%s) as read "
		              "provider (no key is generated: the KMS holds it)\n",
		              p->kms.provider.name, p->kms.provider.endpoint);
	else
		rk_buf_printf(
		    out,
		    "stages:\n  1. preflight\n  2. stage-key: generate a %s key, back it up (0600), "
		    "add it as read key\n",
		    rk_provider_name(p->provider));
	rk_buf_printf(out, "  3. read: roll the read key out: %s (canary)", p->canary);
	for (size_t i = 0; i < p->nnodes; i++)
		if (strcmp(p->nodes[i].name, p->canary))
			rk_buf_printf(out, ", %s", p->nodes[i].name);
	rk_buf_printf(
	    out,
	    "\n  4. promote: new key first on %s, probe through every other apiserver, then the "
	    "others\n  5. rewrite every object\n  6. verify (orphans, failures%s)\n  7. prune the old "
	    "key: %s first, then the others\n  8. done\n",
	    p->canary, p->etcd.url ? ", stored prefixes in etcd" : "", p->canary);
	rk_buf_printf(out,
	              "reload: %s, access: %s, gates: ready within %lds, soak %lds, p99 <= %ld ms, errors <= "
	              "%.3f\n",
	              p->reload == RK_RELOAD_AUTOMATIC ? "automatic" : "restart",
	              p->access == RK_ACCESS_LOCAL ? "local"
	              : p->access == RK_ACCESS_SSH ? "ssh"
	                                           : "exec",
	              p->ready_timeout_ms / 1000, p->rewrite.soak_ms / 1000, p->rewrite.budget_p99_ms,
	              p->rewrite.budget_errors);
}

static void describe_rule_head(rk_buf *out, const rk_encconfig *cfg, size_t i, int selected)
{
	const rk_rule *rule = &cfg->rules[i];
	const char *write = rk_rule_write_key(rule);
	rk_buf_printf(out, "  %s resources[%zu] [", selected ? "*" : " ", i);
	for (size_t j = 0; j < rule->nresources; j++)
		rk_buf_printf(out, "%s\"%s\"", j ? ", " : "", rule->resources[j]);
	rk_buf_printf(out, "]: writes with %s (%s)%s\n", write ? write : "nothing",
	              rule->nproviders ? rk_provider_name(rule->providers[0].type) : "-",
	              selected ? "" : ", untouched");
}

/* Per rule: selected or not, and for a selected one the stored resources it covers with their object
 * counts; then the rewrite estimate. */
static void describe_rules(rot_ctx *ctx, const rk_encconfig *cfg, const rot_scope *scope, rk_buf *out)
{
	rot_resources res;
	rk_err err;
	int have = rot_scope_resources(scope, cfg, ctx->kube, &res, &err) == RK_OK;
	if (!have)
		rk_buf_printf(out, "resources: discovery failed (%s)\n", err.msg);
	long long total = 0;
	int unknown = !have;
	rk_buf_printf(out, "rules (* = rotated by this plan):\n");
	for (size_t i = 0; i < cfg->nrules; i++) {
		describe_rule_head(out, cfg, i, scope->selected[i]);
		long long sub = 0;
		size_t nres = 0;
		for (size_t r = 0; have && r < res.n; r++) {
			if (res.rule[r] != (int)i)
				continue;
			char name[300];
			rk_kube_resource_name(&res.items[r], name, sizeof name);
			long long n = rk_kube_count(ctx->kube, &res.items[r], NULL);
			rk_buf_printf(out, "      %s (%s): %s%lld objects\n", name, res.items[r].version,
			              n < 0 ? "unknown, " : "", n < 0 ? 0 : n);
			unknown |= n < 0;
			sub += n > 0 ? n : 0;
			nres++;
		}
		if (scope->selected[i] && have)
			rk_buf_printf(out, "      %zu resources, %lld objects\n", nres, sub);
		total += sub;
	}
	double qps = ctx->plan->rewrite.qps;
	if (qps > 0)
		rk_buf_printf(out, "rewrite estimate: %s%lld objects at %.0f/s = %.0f s\n",
		              unknown ? "at least " : "", total, qps, (double)total / qps);
	else
		rk_buf_printf(out, "rewrite estimate: %s%lld objects, unthrottled\n",
		              unknown ? "at least " : "", total);
	if (have)
		rot_resources_free(&res);
}

static void describe_trend(const rot_trend *trend, rk_buf *out)
{
	if (!trend || !trend->n) {
		rk_buf_printf(out, "budget trend: off (budget.preflightWindow: 0s)\n");
		return;
	}
	const rk_verdict_limits *l = &trend->limits;
	rk_buf_printf(
	    out,
	    "budget trend over %gs (p99 <= %.0f ms, 5xx <= %.2f%%, 429 <= %.2f%%, judged on >= %.0f "
	    "requests):\n",
	    (double)trend->window_ms / 1000, l->p99_ms, 100 * l->error_ratio, 100 * l->throttled_ratio,
	    l->min_requests);
	for (size_t i = 0; i < trend->n; i++) {
		const rot_trend_node *t = &trend->nodes[i];
		unsigned breached = t->server_verdict.breached | t->client_verdict.breached;
		char signals[128];
		rk_verdict_signals(breached, signals, sizeof signals);
		rk_buf_printf(out, breached ? "  OVER BUDGET (%s) " : "  ok%s ", signals);
		rot_trend_node_describe(t, out);
		rk_buf_printf(out, "\n");
	}
	if (rot_trend_breached(trend))
		rk_buf_printf(out, "rotate would refuse now: over budget (exit 3)\n");
}

int rot_describe(rot_ctx *ctx, const char *base_hash, const rk_encconfig *cfg, const rot_scope *scope,
                 const rot_trend *trend, rk_buf *out, rk_err *err)
{
	(void)err;
	const rk_plan *p = ctx->plan;
	char old_keys[512];
	rot_scope_old_names(scope, old_keys, sizeof old_keys);
	rk_buf_printf(out, "cluster: %s\nresources: ", p->cluster);
	for (size_t i = 0; i < p->nresources; i++)
		rk_buf_printf(out, "%s%s", i ? ", " : "", p->resources[i]);
	rk_buf_printf(out, "\nconfig: %s on every node (%zu)\nwrite key now: %s -> target provider %s\n",
	              base_hash, p->nnodes, old_keys, rk_provider_name(p->provider));
	time_t end;
	if (rk_plan_in_window(p, time(NULL), &end))
		rk_buf_printf(out, "maintenance window: open now\n");
	else
		rk_buf_printf(out, "maintenance window: closed now (rotate would refuse)\n");
	describe_stages(ctx, out);
	describe_trend(trend, out);
	describe_rules(ctx, cfg, scope, out);
	return RK_OK;
}
