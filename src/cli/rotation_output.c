/* rotation_output.c: `rekeyctl plan` (the preview: cluster, stages, gates, the budget trend, per rule of
 * the config the stored resources it covers with their object counts, the rewrite estimate) and the
 * result of `rotate|resume|abort|rollback`, as text or JSON (docs/output.md). */
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "config_output_internal.h"
#include "output_internal.h"
#include "rekey/encconfig.h"

static const char *access_name(rk_access a)
{
	return a == RK_ACCESS_LOCAL ? "local" : a == RK_ACCESS_SSH ? "ssh" : "exec";
}

static const char *reload_name(rk_reload r)
{
	return r == RK_RELOAD_AUTOMATIC ? "automatic" : "restart";
}

static void preview_gates_text(const rk_plan *p)
{
	printf("reload: %s, access: %s, gates: ready within %lds, soak %lds, p99 <= %ld ms, errors <= %.3f\n",
	       reload_name(p->reload), access_name(p->access), p->ready_timeout_ms / 1000,
	       p->rewrite.soak_ms / 1000, p->rewrite.budget_p99_ms, p->rewrite.budget_errors);
}

/* A KEK rotation changes no config: its own stages. */
static void preview_kek_stages_text(const rk_plan *p)
{
	printf("stages (KEK rotation of kms provider %s: no config changes):\n  1. preflight\n"
	       "  2. kek-target: the key_id to reach: %s\n  3. kek-pickup: every apiserver reports it and "
	       "writes under it (within %lds)\n  4. rewrite every object\n  5. verify: every stored value "
	       "under keyID of the target\n  6. done\n",
	       p->kms.provider.name, p->kms.key_id ? p->kms.key_id : "the plugin's Status",
	       p->kms.pickup_timeout_ms / 1000);
}

static void preview_stages_text(const rk_plan *p)
{
	if (p->provider == RK_PROV_KMS && p->kms.kek) {
		preview_kek_stages_text(p);
		return;
	}
	if (p->provider == RK_PROV_KMS)
		printf("stages:\n  1. preflight\n  2. stage-key: add kms v2 provider %s (%s) as read "
		       "provider (no key is generated: the KMS holds it)\n",
		       p->kms.provider.name, p->kms.provider.endpoint);
	else
		printf("stages:\n  1. preflight\n  2. stage-key: generate a %s key, back it up (0600), add "
		       "it as read key\n",
		       rk_provider_name(p->provider));
	printf("  3. read: roll the read key out: %s (canary)", p->canary);
	for (size_t i = 0; i < p->nnodes; i++)
		if (strcmp(p->nodes[i].name, p->canary))
			printf(", %s", p->nodes[i].name);
	printf("\n  4. promote: new key first on %s, probe through every other apiserver, then the "
	       "others\n  5. rewrite every object\n  6. verify (orphans, failures%s)\n  7. prune the old "
	       "key: %s first, then the others\n  8. done\n",
	       p->canary, p->etcd.url ? ", stored prefixes in etcd" : "", p->canary);
	preview_gates_text(p);
}

/* The preflight's budget trend: the limits, then each apiserver "ok" or "OVER BUDGET (signals)". */
static void preview_trend_text(const rk_rotation_preview *v)
{
	if (!v->ntrend) {
		printf("budget trend: off (budget.preflightWindow: 0s)\n");
		return;
	}
	const rk_verdict_limits *l = &v->trend_limits;
	printf("budget trend over %gs (p99 <= %.0f ms, 5xx <= %.2f%%, 429 <= %.2f%%, judged on >= %.0f "
	       "requests):\n",
	       (double)v->trend_window_ms / 1000, l->p99_ms, 100 * l->error_ratio, 100 * l->throttled_ratio,
	       l->min_requests);
	unsigned breached = 0;
	for (size_t i = 0; i < v->ntrend; i++) {
		const rk_rotation_trend_node *t = &v->trend[i];
		char signals[128];
		rk_verdict_signals(t->breached, signals, sizeof signals);
		printf(t->breached ? "  OVER BUDGET (%s) " : "  ok%s ", signals);
		printf("%s: apiserver %s; client %s\n", t->node, t->server_verdict.text,
		       t->client_verdict.text);
		breached |= t->breached;
	}
	if (breached)
		printf("rotate would refuse now: over budget (exit 3)\n");
}

/* A rule's head: "  * resources[0] ["*.*"]: writes with K (aescbc)", ", untouched" when not selected. */
static void preview_rule_head_text(const rk_rotation_preview_rule *r)
{
	printf("  %s resources[%zu] [", r->selected ? "*" : " ", r->index);
	for (size_t j = 0; j < r->nentries; j++)
		printf("%s\"%s\"", j ? ", " : "", r->entries[j]);
	printf("]: writes with %s (%s)%s\n", r->write_key[0] ? r->write_key : "nothing",
	       r->provider[0] ? r->provider : "-", r->selected ? "" : ", untouched");
}

/* Per rule of the config: selected or not, a selected one's stored resources with their counts; then the
 * rewrite estimate ("at least" when a count is unknown). */
static void preview_rules_text(const rk_rotation_preview *v)
{
	if (v->discovery_error[0])
		printf("resources: discovery failed (%s)\n", v->discovery_error);
	printf("rules (* = rotated by this plan):\n");
	for (size_t i = 0; i < v->nrules; i++) {
		const rk_rotation_preview_rule *r = &v->rules[i];
		preview_rule_head_text(r);
		for (size_t k = 0; k < r->nresources; k++)
			printf("      %s (%s): %s%lld objects\n", r->resources[k].name,
			       r->resources[k].version, r->resources[k].objects < 0 ? "unknown, " : "",
			       r->resources[k].objects < 0 ? 0 : r->resources[k].objects);
		if (r->selected && !v->discovery_error[0])
			printf("      %zu resources, %lld objects\n", r->nresources, r->objects);
	}
	const char *at_least = v->unknown ? "at least " : "";
	if (v->estimate_s >= 0)
		printf("rewrite estimate: %s%lld objects at %.0f/s = %.0f s\n", at_least, v->total,
		       v->plan->rewrite.qps, v->estimate_s);
	else
		printf("rewrite estimate: %s%lld objects, unthrottled\n", at_least, v->total);
}

static void preview_text(const rk_rotation_preview *v)
{
	const rk_plan *p = v->plan;
	printf("cluster: %s\nresources: ", p->cluster);
	for (size_t i = 0; i < p->nresources; i++)
		printf("%s%s", i ? ", " : "", p->resources[i]);
	printf("\nconfig: %s on every node (%zu)\nwrite key now: %s -> target provider %s\n", v->config_hash,
	       p->nnodes, v->write_key, rk_provider_name(p->provider));
	printf("maintenance window: %s\n", v->window_open ? "open now" : "closed now (rotate would refuse)");
	preview_stages_text(p);
	preview_trend_text(v);
	preview_rules_text(v);
}

static json_t *number_or_null(double x)
{
	return isnan(x) ? json_null() : json_real(x);
}

static json_t *signals_array(unsigned breached)
{
	json_t *a = json_array();
	for (int s = 0; a && s < RK_SIGNAL_COUNT; s++)
		if (breached & (1u << s))
			json_array_append_new(a, json_string(rk_signal_name((rk_signal)s)));
	return a;
}

static json_t *trend_node_json(const rk_rotation_trend_node *t)
{
	const rk_prom_figures *f = &t->server;
	json_t *server =
	    json_pack("{sIsosososososososbss}", "scrapes", (json_int_t)t->scrapes, "writes",
	              number_or_null(f->writes), "write_p99_ms", number_or_null(f->write_p99_ms),
	              "write_5xx_ratio", number_or_null(f->write_5xx_ratio), "write_429_ratio",
	              number_or_null(f->write_429_ratio), "reads", number_or_null(f->reads), "read_p99_ms",
	              number_or_null(f->read_p99_ms), "read_5xx_ratio", number_or_null(f->read_5xx_ratio),
	              "judged_on_reads", t->server_verdict.on_reads, "verdict", t->server_verdict.text);
	json_t *client =
	    json_pack("{sIsIsoss}", "probes", (json_int_t)t->probes, "failed", (json_int_t)t->failed,
	              "p99_ms", number_or_null(t->client_p99_ms), "verdict", t->client_verdict.text);
	return json_pack("{sssbsososo}", "node", t->node, "over_budget", t->breached != 0, "signals",
	                 signals_array(t->breached), "server", server, "client", client);
}

/* null when budget.preflightWindow is 0s. */
static json_t *trend_json(const rk_rotation_preview *v)
{
	if (!v->ntrend)
		return json_null();
	const rk_verdict_limits *l = &v->trend_limits;
	json_t *nodes = json_array();
	int over = 0;
	for (size_t i = 0; i < v->ntrend; i++) {
		json_array_append_new(nodes, trend_node_json(&v->trend[i]));
		over |= v->trend[i].breached != 0;
	}
	return json_pack("{sIs{sfsfsfsf}sbso}", "window_ms", (json_int_t)v->trend_window_ms, "limits",
	                 "p99_ms", l->p99_ms, "error_ratio", l->error_ratio, "throttled_ratio",
	                 l->throttled_ratio, "min_requests", l->min_requests, "over_budget", over, "nodes",
	                 nodes);
}

/* The target kms v2 provider (null unless provider: kms); kek: a KEK rotation, key_id its target (null:
 * the plugin's Status). */
static json_t *kms_json(const rk_plan *p)
{
	if (p->provider != RK_PROV_KMS)
		return json_null();
	return json_pack("{sssssbsosI}", "name", p->kms.provider.name, "endpoint", p->kms.provider.endpoint,
	                 "kek", p->kms.kek, "key_id",
	                 p->kms.key_id ? json_string(p->kms.key_id) : json_null(), "pickup_timeout_ms",
	                 (json_int_t)p->kms.pickup_timeout_ms);
}

static json_t *count_or_null(long long n)
{
	return n < 0 ? json_null() : json_integer((json_int_t)n);
}

/* One rule: its entries, write key and provider (null when none), selected, and a selected rule's stored
 * resources ({name, version, objects}) with their known counts' sum. */
static json_t *rule_json(const rk_rotation_preview_rule *r)
{
	json_t *entries = json_array(), *resources = json_array();
	for (size_t j = 0; j < r->nentries; j++)
		json_array_append_new(entries, json_string(r->entries[j]));
	for (size_t k = 0; k < r->nresources; k++)
		json_array_append_new(resources, json_pack("{ssssso}", "name", r->resources[k].name,
		                                           "version", r->resources[k].version, "objects",
		                                           count_or_null(r->resources[k].objects)));
	return json_pack("{sIsosososbsosI}", "index", (json_int_t)r->index, "resources", entries, "write_key",
	                 r->write_key[0] ? json_string(r->write_key) : json_null(), "provider",
	                 r->provider[0] ? json_string(r->provider) : json_null(), "selected", r->selected,
	                 "stored", resources, "objects", (json_int_t)r->objects);
}

/* Every rule; objects: resource name -> count (null when unknown) over the selected rules. */
static json_t *rules_json(const rk_rotation_preview *v, json_t *objects)
{
	json_t *rules = json_array();
	for (size_t i = 0; i < v->nrules; i++) {
		const rk_rotation_preview_rule *r = &v->rules[i];
		json_array_append_new(rules, rule_json(r));
		for (size_t k = 0; k < r->nresources; k++)
			json_object_set_new(objects, r->resources[k].name,
			                    count_or_null(r->resources[k].objects));
	}
	return rules;
}

static json_t *preview_json(const rk_rotation_preview *v)
{
	const rk_plan *p = v->plan;
	json_t *nodes = json_array(), *objects = json_object(), *resources = json_array();
	for (size_t i = 0; i < p->nnodes; i++)
		json_array_append_new(nodes, json_pack("{sssssb}", "name", p->nodes[i].name, "apiserver",
		                                       p->nodes[i].apiserver, "canary",
		                                       !strcmp(p->nodes[i].name, p->canary)));
	for (size_t i = 0; i < p->nresources; i++)
		json_array_append_new(resources, json_string(p->resources[i]));
	json_t *rules = rules_json(v, objects);
	json_t *stages =
	    p->provider == RK_PROV_KMS && p->kms.kek
	        ? json_pack("[ssssss]", "preflight", "kek-target", "kek-pickup", "rewrite", "verify", "done")
	        : json_pack("[sssssssss]", "preflight", "stage-key", "read", "promote", "rewrite", "verify",
	                    "archive", "prune", "done");
	json_t *j = json_pack(
	    "{sssosssssssbsosssssssos{sIsIsIsf}sososIso}", "cluster", p->cluster, "resources", resources,
	    "config_hash", v->config_hash, "write_key", v->write_key, "provider",
	    rk_provider_name(p->provider), "window_open", v->window_open, "nodes", nodes, "canary", p->canary,
	    "reload", reload_name(p->reload), "access", access_name(p->access), "stages", stages, "gates",
	    "ready_timeout_ms", (json_int_t)p->ready_timeout_ms, "soak_ms", (json_int_t)p->rewrite.soak_ms,
	    "budget_p99_ms", (json_int_t)p->rewrite.budget_p99_ms, "budget_errors", p->rewrite.budget_errors,
	    "objects", objects, "qps", p->rewrite.qps > 0 ? json_real(p->rewrite.qps) : json_null(), "total",
	    (json_int_t)v->total, "estimate_s", v->estimate_s >= 0 ? json_real(v->estimate_s) : json_null());
	if (j) {
		json_object_set_new(j, "rules", rules);
		json_object_set_new(j, "total_is_lower_bound", json_boolean(v->unknown));
		json_object_set_new(j, "discovery_error",
		                    v->discovery_error[0] ? json_string(v->discovery_error) : json_null());
		json_object_set_new(j, "budget_trend", trend_json(v));
		json_object_set_new(j, "kms", kms_json(p));
	} else {
		json_decref(rules);
	}
	return j;
}

void out_rotation_preview(const rk_rotation_preview *v, int json)
{
	if (json)
		print_json(stdout, preview_json(v));
	else
		preview_text(v);
}

void out_rotation_result(const char *cmd, int rc, const char *message, const rk_rotation_status *st)
{
	json_t *run = st ? rotation_status_json(st) : json_null();
	print_json(stdout, json_pack("{sssisoso}", "command", cmd, "exit_code", rc, "error",
	                             rc == 0 ? json_null() : json_string(message), "run", run));
}
