/* plan.c: loads and validates the rotation plan (rekeyctl/v1 RotationPlan) with file:line:col errors,
 * and answers maintenance-window questions (in each window's zone, rekey/tz.h: no TZ swapping). */
#include "rekey/plan.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "plan_internal.h"
#include "rekey/duration.h"
#include "rekey/fsutil.h"
#include "rekey/yamldoc.h"

static const char *const top_fields[] = {
    "apiVersion",   "kind",    "cluster", "kubeconfig", "context", "resources", "provider",   "keyBackupDir",
    "controlPlane", "rewrite", "budget",  "window",     "etcd",    "kms",       "breakGlass", NULL};
static const char *const cp_fields[] = {"configPath", "manifestPath", "access", "reload",       "canary",
                                        "nodes",      "ssh",          "exec",   "readyTimeout", NULL};
static const char *const node_fields[] = {"name", "host", "apiserver", "configPath", "manifestPath", NULL};
static const char *const ssh_fields[] = {"user", "identityFile",    "knownHosts",
                                         "port", "trustOnFirstUse", NULL};
static const char *const exec_fields[] = {"read", "write", "restart", "ready", "timeout", NULL};
static const char *const rewrite_fields[] = {"qps",       "burst",      "concurrency", "pageSize",
                                             "batchSize", "batchPause", NULL};
static const char *const budget_fields[] = {
    "writeP99",       "errorRatio",  "window",          "soak",           "onBreach",
    "throttledRatio", "minRequests", "preflightWindow", "scrapeInterval", NULL};
static const char *const window_fields[] = {"days", "start", "end", "timezone", NULL};
static const char *const etcd_fields[] = {"url", "cacert", "cert", "key", NULL};
static const char *const kms_fields[] = {"apiVersion", "name",  "endpoint",      "timeout",       "cachesize",
                                         "kek",        "keyID", "pickupTimeout", "outageTimeout", NULL};

/* Core-group resources a plan may name without a group (kube-apiserver's legacy API). */
static const char *const core_resources[] = {"bindings",
                                             "componentstatuses",
                                             "configmaps",
                                             "endpoints",
                                             "events",
                                             "limitranges",
                                             "namespaces",
                                             "nodes",
                                             "persistentvolumeclaims",
                                             "persistentvolumes",
                                             "pods",
                                             "podtemplates",
                                             "replicationcontrollers",
                                             "resourcequotas",
                                             "secrets",
                                             "serviceaccounts",
                                             "services",
                                             NULL};

int plan_str_in(const char *s, const char *const *list)
{
	for (; *list; list++)
		if (!strcmp(s, *list))
			return 1;
	return 0;
}

static int enum_field(rk_yaml *y, yaml_node_t *map, const char *what, const char *key,
                      const char *const *names, int *out, rk_err *err)
{
	char *text = NULL;
	int rc = rk_yaml_str(y, map, what, key, 0, &text, err);
	if (rc == RK_OK && text) {
		int found = -1;
		for (int i = 0; names[i]; i++)
			if (!strcmp(text, names[i]))
				found = i;
		if (found < 0)
			rc = rk_yaml_fail(y, rk_yaml_get(y, map, key), err, "%s.%s: unsupported value \"%s\"",
			                  what, key, text);
		else
			*out = found;
	}
	free(text);
	return rc;
}

int plan_bool_field(rk_yaml *y, yaml_node_t *map, const char *what, const char *key, int *out, rk_err *err)
{
	static const char *const names[] = {"false", "true", NULL};
	return enum_field(y, map, what, key, names, out, err);
}

/* 1 when `name` can name a rule: a resource ("secrets", "deployments.apps") or a wildcard entry ("*.",
 * "*.apps", "*.*"). */
static int known_selector(const char *name)
{
	const char *rest = !strncmp(name, "*.", 2) ? name + 2 : name;
	if (rest != name && (!*rest || !strcmp(rest, "*")))
		return 1; /* "*." and "*.*" */
	if (!*rest)
		return 0;
	for (const char *p = rest; *p; p++)
		if (!(islower((unsigned char)*p) || isdigit((unsigned char)*p) || *p == '.' || *p == '-'))
			return 0;
	return rest != name || strchr(name, '.') || plan_str_in(name, core_resources);
}

static int check_selector(rk_yaml *y, yaml_node_t *item, size_t i, const char *name, rk_err *err)
{
	const char *problem = rk_resource_entry_problem(name);
	if (problem)
		return rk_yaml_fail(y, item, err, "plan.resources[%zu]: \"%s\": %s", i, name, problem);
	if (!known_selector(name))
		return rk_yaml_fail(
		    y, item, err,
		    "plan.resources[%zu]: unknown resource \"%s\" (core resources by name, others "
		    "as resource.group, e.g. deployments.apps; a rule's wildcard entry as written: "
		    "\"*.\", \"*.apps\", \"*.*\")",
		    i, name);
	return RK_OK;
}

static int load_resources(rk_yaml *y, yaml_node_t *root, rk_plan *plan, rk_err *err)
{
	int rc = rk_yaml_str_list(y, root, "plan", "resources", 0, &plan->resources, &plan->nresources, err);
	if (rc != RK_OK)
		return rc;
	if (!plan->resources) {
		plan->resources = calloc(2, sizeof *plan->resources);
		if (!plan->resources || !(plan->resources[0] = strdup("secrets")))
			return rk_err_set(err, RK_FAIL, "out of memory");
		plan->nresources = 1;
		return RK_OK;
	}
	yaml_node_t *list = rk_yaml_get(y, root, "resources");
	if (plan->nresources && !(plan->resource_pos = calloc(plan->nresources, sizeof *plan->resource_pos)))
		return rk_err_set(err, RK_FAIL, "out of memory");
	for (size_t i = 0; i < plan->nresources; i++) {
		yaml_node_t *item = rk_yaml_at(y, list->data.sequence.items.start[i]);
		plan->resource_pos[i] =
		    (rk_plan_pos){(int)item->start_mark.line + 1, (int)item->start_mark.column + 1};
		int rc2 = check_selector(y, item, i, plan->resources[i], err);
		if (rc2 != RK_OK)
			return rc2;
		for (size_t j = 0; j < i; j++)
			if (!strcmp(plan->resources[i], plan->resources[j]))
				return rk_yaml_fail(y, item, err,
				                    "plan.resources[%zu]: duplicate resource \"%s\"", i,
				                    plan->resources[i]);
	}
	return RK_OK;
}

static int load_provider(rk_yaml *y, yaml_node_t *root, rk_plan *plan, rk_err *err)
{
	char *name = NULL;
	int rc = rk_yaml_str(y, root, "plan", "provider", 1, &name, err);
	if (rc == RK_OK) {
		plan->provider = rk_provider_from_name(name);
		if (plan->provider == RK_PROV_NONE)
			rc = rk_yaml_fail(y, rk_yaml_get(y, root, "provider"), err,
			                  "plan.provider: unknown provider \"%s\" (aescbc, aesgcm, "
			                  "secretbox, identity, kms)",
			                  name);
	}
	free(name);
	return rc;
}

static int valid_url(const char *url)
{
	return !strncmp(url, "https://", 8) || !strncmp(url, "http://", 7);
}

static int not_absolute(rk_yaml *y, yaml_node_t *map, const char *what, const char *key, const char *path,
                        rk_err *err)
{
	return rk_yaml_fail(y, rk_yaml_get(y, map, key), err,
	                    "%s.%s: \"%s\" is not an absolute path (plan paths must start with /)", what, key,
	                    path);
}

/* "~" or "~/...": a path under $HOME. */
static int home_relative(const char *path)
{
	return path[0] == '~' && (path[1] == '\0' || path[1] == '/');
}

/* A node path field that must be absolute (SFTP and exec hooks have no working directory to resolve
 * against); "~/..." passes here and is expanded with access local only (expand_local_paths). */
static int abs_path_field(rk_yaml *y, yaml_node_t *map, const char *what, const char *key, int required,
                          char **out, rk_err *err)
{
	int rc = rk_yaml_str(y, map, what, key, required, out, err);
	if (rc == RK_OK && *out && (*out)[0] != '/' && !home_relative(*out))
		rc = not_absolute(y, map, what, key, *out, err);
	return rc;
}

/* A file on this machine a resumed run must find again whatever its working directory: a leading "~/"
 * comes from $HOME, then the path must be absolute. */
int plan_local_path_field(rk_yaml *y, yaml_node_t *map, const char *what, const char *key, int required,
                          char **out, rk_err *err)
{
	int rc = rk_yaml_path(y, map, what, key, required, out, err);
	if (rc == RK_OK && *out && (*out)[0] != '/')
		rc = not_absolute(y, map, what, key, *out, err);
	return rc;
}

static int load_node(rk_yaml *y, yaml_node_t *item, size_t i, rk_plan_node *node, rk_err *err)
{
	char what[64];
	snprintf(what, sizeof what, "controlPlane.nodes[%zu]", i);
	int rc = rk_yaml_check_map(y, item, what, node_fields, err);
	if (rc == RK_OK)
		rc = rk_yaml_str(y, item, what, "name", 1, &node->name, err);
	if (rc == RK_OK)
		rc = rk_yaml_str(y, item, what, "host", 0, &node->host, err);
	if (rc == RK_OK)
		rc = rk_yaml_str(y, item, what, "apiserver", 1, &node->apiserver, err);
	if (rc == RK_OK)
		rc = abs_path_field(y, item, what, "configPath", 0, &node->config_path, err);
	if (rc == RK_OK)
		rc = abs_path_field(y, item, what, "manifestPath", 0, &node->manifest_path, err);
	if (rc == RK_OK && !valid_url(node->apiserver))
		rc = rk_yaml_fail(y, rk_yaml_get(y, item, "apiserver"), err,
		                  "%s.apiserver: \"%s\" is not an http(s) URL", what, node->apiserver);
	return rc;
}

static int load_nodes(rk_yaml *y, yaml_node_t *cp, rk_plan *plan, rk_err *err)
{
	yaml_node_t *list = rk_yaml_get(y, cp, "nodes");
	if (!list)
		return rk_yaml_fail(y, cp, err, "controlPlane: missing required field \"nodes\"");
	if (list->type != YAML_SEQUENCE_NODE ||
	    list->data.sequence.items.top == list->data.sequence.items.start)
		return rk_yaml_fail(y, list, err, "controlPlane.nodes: expected a non-empty list of nodes");
	size_t count = (size_t)(list->data.sequence.items.top - list->data.sequence.items.start);
	plan->nodes = calloc(count, sizeof *plan->nodes);
	if (!plan->nodes)
		return rk_err_set(err, RK_FAIL, "out of memory");
	for (size_t i = 0; i < count; i++) {
		yaml_node_t *item = rk_yaml_at(y, list->data.sequence.items.start[i]);
		plan->nnodes = i + 1;
		int rc = load_node(y, item, i, &plan->nodes[i], err);
		if (rc != RK_OK)
			return rc;
		for (size_t j = 0; j < i; j++)
			if (!strcmp(plan->nodes[i].name, plan->nodes[j].name))
				return rk_yaml_fail(y, item, err,
				                    "controlPlane.nodes[%zu]: duplicate node name \"%s\"", i,
				                    plan->nodes[i].name);
	}
	return RK_OK;
}

static int load_ssh(rk_yaml *y, yaml_node_t *cp, rk_plan *plan, rk_err *err)
{
	yaml_node_t *ssh = rk_yaml_get(y, cp, "ssh");
	plan->ssh.port = 22;
	if (!ssh)
		return plan->access == RK_ACCESS_SSH
		           ? rk_yaml_fail(y, cp, err, "controlPlane: access ssh needs an \"ssh\" section")
		           : RK_OK;
	const char *what = "controlPlane.ssh";
	int rc = rk_yaml_check_map(y, ssh, what, ssh_fields, err);
	if (rc == RK_OK)
		rc = rk_yaml_str(y, ssh, what, "user", 1, &plan->ssh.user, err);
	if (rc == RK_OK)
		rc = plan_local_path_field(y, ssh, what, "identityFile", 0, &plan->ssh.identity_file, err);
	if (rc == RK_OK)
		rc = plan_local_path_field(y, ssh, what, "knownHosts", 0, &plan->ssh.known_hosts, err);
	if (rc == RK_OK)
		rc = rk_yaml_long(y, ssh, what, "port", 1, 65535, &plan->ssh.port, err);
	if (rc == RK_OK)
		rc = plan_bool_field(y, ssh, what, "trustOnFirstUse", &plan->ssh.trust_on_first_use, err);
	return rc;
}

static int load_exec(rk_yaml *y, yaml_node_t *cp, rk_plan *plan, rk_err *err)
{
	yaml_node_t *ex = rk_yaml_get(y, cp, "exec");
	plan->exec.timeout_ms = RK_PLAN_HOOK_TIMEOUT_MS;
	if (!ex)
		return plan->access == RK_ACCESS_EXEC
		           ? rk_yaml_fail(y, cp, err, "controlPlane: access exec needs an \"exec\" section")
		           : RK_OK;
	const char *what = "controlPlane.exec";
	int rc = rk_yaml_check_map(y, ex, what, exec_fields, err);
	if (rc == RK_OK)
		rc = rk_yaml_str(y, ex, what, "read", plan->access == RK_ACCESS_EXEC, &plan->exec.read, err);
	if (rc == RK_OK)
		rc = rk_yaml_str(y, ex, what, "write", 1, &plan->exec.write, err);
	if (rc == RK_OK)
		rc = rk_yaml_str(y, ex, what, "restart", 0, &plan->exec.restart, err);
	if (rc == RK_OK)
		rc = rk_yaml_str(y, ex, what, "ready", 0, &plan->exec.ready, err);
	if (rc == RK_OK)
		rc = rk_yaml_duration_ms(y, ex, what, "timeout", &plan->exec.timeout_ms, err);
	if (rc == RK_OK && plan->exec.timeout_ms < 1000)
		rc = rk_yaml_fail(y, rk_yaml_get(y, ex, "timeout"), err, "%s.timeout: must be at least 1s",
		                  what);
	return rc;
}

/* With access local the node paths are paths on this machine: a leading "~/" comes from $HOME. For ssh
 * and exec they are paths on the node, where this machine's $HOME means nothing: refused. */
static int expand_one(rk_yaml *y, yaml_node_t *cp, rk_access access, const char *field, char **path,
                      rk_err *err)
{
	if (*path && home_relative(*path) && access != RK_ACCESS_LOCAL)
		return rk_yaml_fail(
		    y, cp, err,
		    "controlPlane: %s \"%s\" is not an absolute path (~ is expanded only with "
		    "access local; a path on a node must start with /)",
		    field, *path);
	char *expanded = NULL;
	int ex = *path ? rk_expand_home(*path, &expanded) : 0;
	if (ex == -1)
		return rk_yaml_fail(y, cp, err, "controlPlane: %s \"%s\" starts with ~ but HOME is not set",
		                    field, *path);
	if (ex != 0)
		return rk_err_set(err, RK_FAIL, "out of memory");
	if (expanded) {
		free(*path);
		*path = expanded;
	}
	return RK_OK;
}

static int expand_local_paths(rk_yaml *y, yaml_node_t *cp, rk_plan *plan, rk_err *err)
{
	rk_access a = plan->access;
	int rc = expand_one(y, cp, a, "configPath", &plan->config_path, err);
	if (rc == RK_OK)
		rc = expand_one(y, cp, a, "manifestPath", &plan->manifest_path, err);
	for (size_t i = 0; rc == RK_OK && i < plan->nnodes; i++) {
		rc = expand_one(y, cp, a, "configPath", &plan->nodes[i].config_path, err);
		if (rc == RK_OK)
			rc = expand_one(y, cp, a, "manifestPath", &plan->nodes[i].manifest_path, err);
	}
	return rc;
}

/* A node without its own path takes the shared one (a copy): every node carries its paths. */
static int inherit_path(char **node_path, const char *shared)
{
	if (*node_path || !shared)
		return 0;
	*node_path = strdup(shared);
	return *node_path ? 0 : -1;
}

static int check_paths_and_canary(rk_yaml *y, yaml_node_t *cp, rk_plan *plan, rk_err *err)
{
	for (size_t i = 0; i < plan->nnodes; i++) {
		rk_plan_node *node = &plan->nodes[i];
		if (inherit_path(&node->config_path, plan->config_path) != 0 ||
		    inherit_path(&node->manifest_path, plan->manifest_path) != 0)
			return rk_err_set(err, RK_FAIL, "out of memory");
		if (!node->config_path)
			return rk_yaml_fail(
			    y, cp, err,
			    "controlPlane: no configPath for node \"%s\" (set controlPlane.configPath "
			    "or the node's own)",
			    node->name);
	}
	if (!plan->canary) {
		plan->canary = strdup(plan->nodes[0].name);
		return plan->canary ? RK_OK : rk_err_set(err, RK_FAIL, "out of memory");
	}
	if (!rk_plan_find_node(plan, plan->canary))
		return rk_yaml_fail(y, rk_yaml_get(y, cp, "canary"), err,
		                    "controlPlane.canary: \"%s\" is not one of controlPlane.nodes",
		                    plan->canary);
	return RK_OK;
}

static int load_control_plane(rk_yaml *y, yaml_node_t *root, rk_plan *plan, rk_err *err)
{
	static const char *const access_names[] = {"local", "ssh", "exec", NULL};
	static const char *const reload_names[] = {"restart", "automatic", NULL};
	yaml_node_t *cp = rk_yaml_get(y, root, "controlPlane");
	if (!cp)
		return rk_yaml_fail(y, root, err, "plan: missing required field \"controlPlane\"");
	const char *what = "controlPlane";
	int access = RK_ACCESS_LOCAL, reload = RK_RELOAD_RESTART;
	plan->ready_timeout_ms = 120000;
	int rc = rk_yaml_check_map(y, cp, what, cp_fields, err);
	if (rc == RK_OK)
		rc = abs_path_field(y, cp, what, "configPath", 0, &plan->config_path, err);
	if (rc == RK_OK)
		rc = abs_path_field(y, cp, what, "manifestPath", 0, &plan->manifest_path, err);
	if (rc == RK_OK)
		rc = enum_field(y, cp, what, "access", access_names, &access, err);
	if (rc == RK_OK)
		rc = enum_field(y, cp, what, "reload", reload_names, &reload, err);
	plan->access = (rk_access)access;
	plan->reload = (rk_reload)reload;
	if (rc == RK_OK)
		rc = rk_yaml_str(y, cp, what, "canary", 0, &plan->canary, err);
	if (rc == RK_OK)
		rc = rk_yaml_duration_ms(y, cp, what, "readyTimeout", &plan->ready_timeout_ms, err);
	if (rc == RK_OK)
		rc = load_nodes(y, cp, plan, err);
	if (rc == RK_OK)
		rc = load_ssh(y, cp, plan, err);
	if (rc == RK_OK)
		rc = load_exec(y, cp, plan, err);
	if (rc == RK_OK)
		rc = expand_local_paths(y, cp, plan, err);
	if (rc == RK_OK)
		rc = check_paths_and_canary(y, cp, plan, err);
	return rc;
}

/* A yaml integer within [min, max] into an int. */
static int int_field(rk_yaml *y, yaml_node_t *map, const char *what, const char *key, long min, long max,
                     int *out, rk_err *err)
{
	long value = *out;
	int rc = rk_yaml_long(y, map, what, key, min, max, &value, err);
	*out = (int)value;
	return rc;
}

/* The `rewrite` section over the rotation defaults (rk_rewrite_settings_init_rotation). */
static int load_rewrite(rk_yaml *y, yaml_node_t *root, rk_plan *plan, rk_err *err)
{
	rk_rewrite_settings *rw = &plan->rewrite;
	yaml_node_t *map = rk_yaml_get(y, root, "rewrite");
	if (!map)
		return RK_OK;
	const char *what = "rewrite";
	int rc = rk_yaml_check_map(y, map, what, rewrite_fields, err);
	if (rc == RK_OK)
		rc = rk_yaml_double(y, map, what, "qps", 0, 1e6, &rw->qps, err);
	if (rc == RK_OK)
		rc = int_field(y, map, what, "burst", 1, 1000000, &rw->burst, err);
	if (rc == RK_OK)
		rc = int_field(y, map, what, "concurrency", 1, 1024, &rw->concurrency, err);
	if (rc == RK_OK)
		rc = int_field(y, map, what, "pageSize", 1, 10000, &rw->page_size, err);
	if (rc == RK_OK)
		rc = int_field(y, map, what, "batchSize", 1, 100000, &rw->batch_size, err);
	if (rc == RK_OK)
		rc = rk_yaml_duration_ms(y, map, what, "batchPause", &rw->batch_pause_ms, err);
	return rc;
}

/* The `budget` section, into the same settings. */
static int load_budget(rk_yaml *y, yaml_node_t *root, rk_plan *plan, rk_err *err)
{
	static const char *const breach_names[] = {"slowdown", "pause", "abort", NULL};
	rk_rewrite_settings *b = &plan->rewrite;
	yaml_node_t *map = rk_yaml_get(y, root, "budget");
	if (!map)
		return RK_OK;
	const char *what = "budget";
	int breach = (int)b->on_breach;
	int rc = rk_yaml_check_map(y, map, what, budget_fields, err);
	if (rc == RK_OK)
		rc = rk_yaml_duration_ms(y, map, what, "writeP99", &b->budget_p99_ms, err);
	if (rc == RK_OK)
		rc = rk_yaml_double(y, map, what, "errorRatio", 0, 1, &b->budget_errors, err);
	if (rc == RK_OK)
		rc = rk_yaml_duration_ms(y, map, what, "window", &b->budget_window_ms, err);
	if (rc == RK_OK)
		rc = rk_yaml_duration_ms(y, map, what, "soak", &b->soak_ms, err);
	if (rc == RK_OK)
		rc = enum_field(y, map, what, "onBreach", breach_names, &breach, err);
	b->on_breach = (rk_breach_action)breach;
	if (rc == RK_OK)
		rc = rk_yaml_double(y, map, what, "throttledRatio", 0, 1, &b->budget_throttled, err);
	if (rc == RK_OK)
		rc = int_field(y, map, what, "minRequests", 1, 1000000, &b->budget_min_requests, err);
	if (rc == RK_OK)
		rc = rk_yaml_duration_ms(y, map, what, "preflightWindow", &plan->preflight_window_ms, err);
	if (rc == RK_OK)
		rc = rk_yaml_duration_ms(y, map, what, "scrapeInterval", &b->scrape_ms, err);
	if (rc == RK_OK && b->budget_window_ms < 1000)
		rc =
		    rk_yaml_fail(y, rk_yaml_get(y, map, "window"), err, "budget.window: must be at least 1s");
	if (rc == RK_OK && b->scrape_ms != 0 && (b->scrape_ms < 100 || b->scrape_ms > 600000))
		rc = rk_yaml_fail(y, rk_yaml_get(y, map, "scrapeInterval"), err,
		                  "budget.scrapeInterval: 0s (off) or 100ms..10m");
	if (rc == RK_OK && plan->preflight_window_ms > 3600000)
		rc = rk_yaml_fail(y, rk_yaml_get(y, map, "preflightWindow"), err,
		                  "budget.preflightWindow: at most 1h (0s turns the trend check off)");
	return rc;
}

static int parse_clock(const char *text, int *minutes)
{
	int h, m;
	char extra;
	if (strlen(text) != 5 || sscanf(text, "%2d:%2d%c", &h, &m, &extra) != 2 || h < 0 || h > 23 || m < 0 ||
	    m > 59)
		return -1;
	*minutes = h * 60 + m;
	return 0;
}

static int parse_days(rk_yaml *y, yaml_node_t *map, const char *what, unsigned *mask, rk_err *err)
{
	static const char *const day_names[] = {"sun", "mon", "tue", "wed", "thu", "fri", "sat", NULL};
	char **days = NULL;
	size_t count = 0;
	int rc = rk_yaml_str_list(y, map, what, "days", 0, &days, &count, err);
	*mask = days ? 0 : 0x7f;
	for (size_t i = 0; rc == RK_OK && i < count; i++) {
		int found = -1;
		for (int d = 0; day_names[d]; d++)
			if (!strcmp(days[i], day_names[d]))
				found = d;
		if (found < 0)
			rc = rk_yaml_fail(
			    y, rk_yaml_get(y, map, "days"), err,
			    "%s.days[%zu]: unknown day \"%s\" (sun, mon, tue, wed, thu, fri, sat)", what, i,
			    days[i]);
		else
			*mask |= 1u << found;
	}
	rk_str_list_free(days, count);
	return rc;
}

static int load_window(rk_yaml *y, yaml_node_t *item, const char *what, rk_plan_window *w, rk_err *err)
{
	char *start = NULL, *end = NULL;
	int rc = rk_yaml_check_map(y, item, what, window_fields, err);
	if (rc == RK_OK)
		rc = parse_days(y, item, what, &w->days_mask, err);
	if (rc == RK_OK)
		rc = rk_yaml_str(y, item, what, "start", 1, &start, err);
	if (rc == RK_OK && parse_clock(start, &w->start_min) != 0)
		rc = rk_yaml_fail(y, rk_yaml_get(y, item, "start"), err, "%s.start: \"%s\" is not HH:MM",
		                  what, start);
	if (rc == RK_OK)
		rc = rk_yaml_str(y, item, what, "end", 1, &end, err);
	if (rc == RK_OK && parse_clock(end, &w->end_min) != 0)
		rc = rk_yaml_fail(y, rk_yaml_get(y, item, "end"), err, "%s.end: \"%s\" is not HH:MM", what,
		                  end);
	if (rc == RK_OK)
		rc = rk_yaml_str(y, item, what, "timezone", 1, &w->timezone, err);
	rk_err tz_err;
	if (rc == RK_OK && rk_tz_load(w->timezone, &w->tz, &tz_err) != RK_OK)
		rc = rk_yaml_fail(
		    y, rk_yaml_get(y, item, "timezone"), err,
		    "%s.timezone: unknown time zone \"%s\" (an IANA name such as Europe/Berlin or UTC)", what,
		    w->timezone);
	free(start);
	free(end);
	return rc;
}

static int load_windows(rk_yaml *y, yaml_node_t *root, rk_plan *plan, rk_err *err)
{
	yaml_node_t *list = rk_yaml_get(y, root, "window");
	if (!list)
		return RK_OK;
	if (list->type != YAML_SEQUENCE_NODE)
		return rk_yaml_fail(y, list, err, "plan.window: expected a list of windows");
	size_t count = (size_t)(list->data.sequence.items.top - list->data.sequence.items.start);
	plan->windows = calloc(count + 1, sizeof *plan->windows);
	if (!plan->windows)
		return rk_err_set(err, RK_FAIL, "out of memory");
	for (size_t i = 0; i < count; i++) {
		char what[32];
		snprintf(what, sizeof what, "window[%zu]", i);
		plan->nwindows = i + 1;
		int rc = load_window(y, rk_yaml_at(y, list->data.sequence.items.start[i]), what,
		                     &plan->windows[i], err);
		if (rc != RK_OK)
			return rc;
	}
	return RK_OK;
}

static int load_etcd(rk_yaml *y, yaml_node_t *root, rk_plan *plan, rk_err *err)
{
	yaml_node_t *map = rk_yaml_get(y, root, "etcd");
	if (!map)
		return RK_OK;
	int rc = rk_yaml_check_map(y, map, "etcd", etcd_fields, err);
	if (rc == RK_OK)
		rc = rk_yaml_str(y, map, "etcd", "url", 1, &plan->etcd.url, err);
	if (rc == RK_OK)
		rc = rk_yaml_path(y, map, "etcd", "cacert", 0, &plan->etcd.cacert, err);
	if (rc == RK_OK)
		rc = rk_yaml_path(y, map, "etcd", "cert", 0, &plan->etcd.cert, err);
	if (rc == RK_OK)
		rc = rk_yaml_path(y, map, "etcd", "key", 0, &plan->etcd.key, err);
	if (rc == RK_OK && !valid_url(plan->etcd.url))
		rc = rk_yaml_fail(y, rk_yaml_get(y, map, "url"), err,
		                  "etcd.url: \"%s\" is not an http(s) URL", plan->etcd.url);
	return rc;
}

/* kms.apiVersion: v2 only (the plan writes what the apiserver will load; KMS v1 is off by default). */
static int load_kms_version(rk_yaml *y, yaml_node_t *map, rk_plan_kms *k, rk_err *err)
{
	int rc = rk_yaml_str(y, map, "kms", "apiVersion", 1, &k->provider.api_version, err);
	if (rc == RK_OK && strcmp(k->provider.api_version, "v2") != 0)
		rc =
		    rk_yaml_fail(y, rk_yaml_get(y, map, "apiVersion"), err,
		                 "kms.apiVersion: \"%s\" is not supported (want v2: KMS v1 is deprecated and "
		                 "off by default since Kubernetes 1.29)",
		                 k->provider.api_version);
	if (rc == RK_OK && rk_yaml_get(y, map, "cachesize"))
		rc = rk_yaml_fail(y, rk_yaml_get(y, map, "cachesize"), err,
		                  "kms.cachesize: not supported in v2 (kube-apiserver refuses it)");
	return rc;
}

/* kms.name as kube-apiserver validates a v2 name (required, no ':'), within what a stored prefix
 * carries back (255 bytes). */
static int load_kms_name(rk_yaml *y, yaml_node_t *map, rk_plan_kms *k, rk_err *err)
{
	int rc = rk_yaml_str(y, map, "kms", "name", 1, &k->provider.name, err);
	const char *name = k->provider.name;
	if (rc == RK_OK && (!*name || strchr(name, ':') || strlen(name) > 255 || !strcmp(name, "identity")))
		rc = rk_yaml_fail(y, rk_yaml_get(y, map, "name"), err,
		                  "kms.name: \"%s\" is not a usable KMS provider name (1-255 bytes, no ':', "
		                  "not \"identity\")",
		                  name);
	return rc;
}

/* kms.endpoint: a unix socket (the only scheme kube-apiserver supports); kms.timeout a positive Go
 * duration. */
static int load_kms_endpoint(rk_yaml *y, yaml_node_t *map, rk_plan_kms *k, rk_err *err)
{
	int rc = rk_yaml_str(y, map, "kms", "endpoint", 1, &k->provider.endpoint, err);
	if (rc == RK_OK && (strncmp(k->provider.endpoint, "unix://", 7) != 0 || !k->provider.endpoint[7]))
		rc = rk_yaml_fail(y, rk_yaml_get(y, map, "endpoint"), err,
		                  "kms.endpoint: \"%s\" is not a unix socket URL (unix:///path/to/socket; "
		                  "kube-apiserver supports only unix)",
		                  k->provider.endpoint);
	if (rc == RK_OK)
		rc = rk_yaml_str(y, map, "kms", "timeout", 0, &k->provider.timeout, err);
	long long ns = 0;
	if (rc == RK_OK && k->provider.timeout &&
	    (rk_go_duration_parse(k->provider.timeout, &ns) != 0 || ns <= 0))
		rc = rk_yaml_fail(y, rk_yaml_get(y, map, "timeout"), err,
		                  "kms.timeout: \"%s\" is not a positive duration (e.g. 3s)",
		                  k->provider.timeout);
	return rc;
}

/* kms.kek, kms.keyID (1..1024 bytes, as the apiserver accepts a key_id; KEK rotations only) and the
 * two waits. */
static int load_kms_kek(rk_yaml *y, yaml_node_t *map, rk_plan_kms *k, const char *plan_etcd_url, rk_err *err)
{
	k->pickup_timeout_ms = RK_PLAN_KMS_WAIT_MS;
	k->outage_timeout_ms = RK_PLAN_KMS_WAIT_MS;
	int rc = plan_bool_field(y, map, "kms", "kek", &k->kek, err);
	if (rc == RK_OK)
		rc = rk_yaml_str(y, map, "kms", "keyID", 0, &k->key_id, err);
	if (rc == RK_OK && k->key_id && (!*k->key_id || strlen(k->key_id) > 1024))
		rc = rk_yaml_fail(y, rk_yaml_get(y, map, "keyID"), err,
		                  "kms.keyID: must be 1 to 1024 bytes (%zu given)", strlen(k->key_id));
	if (rc == RK_OK && k->kek && !plan_etcd_url)
		rc = rk_yaml_fail(
		    y, rk_yaml_get(y, map, "kek"), err,
		    "kms.kek: a KEK rotation needs the plan's etcd section (the keyID of every stored "
		    "value is checked there)");
	if (rc == RK_OK && k->key_id && !k->kek)
		rc = rk_yaml_fail(y, rk_yaml_get(y, map, "keyID"), err,
		                  "kms.keyID: only for a KEK rotation (kek: true)");
	const char *waits[] = {"pickupTimeout", "outageTimeout"};
	long *outs[] = {&k->pickup_timeout_ms, &k->outage_timeout_ms};
	for (int i = 0; rc == RK_OK && i < 2; i++) {
		rc = rk_yaml_duration_ms(y, map, "kms", waits[i], outs[i], err);
		if (rc == RK_OK && *outs[i] < 1000)
			rc = rk_yaml_fail(y, rk_yaml_get(y, map, waits[i]), err,
			                  "kms.%s: must be at least 1s", waits[i]);
	}
	return rc;
}

static int load_kms(rk_yaml *y, yaml_node_t *root, rk_plan *plan, rk_err *err)
{
	yaml_node_t *map = rk_yaml_get(y, root, "kms");
	plan->kms.pickup_timeout_ms = RK_PLAN_KMS_WAIT_MS; /* kms -> aescbc pauses on KMS failures too */
	plan->kms.outage_timeout_ms = RK_PLAN_KMS_WAIT_MS;
	if (!map)
		return plan->provider == RK_PROV_KMS
		           ? rk_yaml_fail(y, rk_yaml_get(y, root, "provider"), err,
		                          "plan.provider: kms needs a \"kms\" section (apiVersion: v2, name, "
		                          "endpoint, timeout)")
		           : RK_OK;
	if (plan->provider != RK_PROV_KMS)
		return rk_yaml_fail(y, map, err, "plan.kms: only with provider: kms (the target is %s)",
		                    rk_provider_name(plan->provider));
	rk_plan_kms *k = &plan->kms;
	int rc = rk_yaml_check_map(y, map, "kms", kms_fields, err);
	if (rc == RK_OK)
		rc = load_kms_version(y, map, k, err);
	if (rc == RK_OK)
		rc = load_kms_name(y, map, k, err);
	if (rc == RK_OK)
		rc = load_kms_endpoint(y, map, k, err);
	if (rc == RK_OK)
		rc = load_kms_kek(y, map, k, plan->etcd.url, err);
	return rc;
}

static int check_header(rk_yaml *y, yaml_node_t *root, rk_err *err)
{
	char *api = NULL, *kind = NULL;
	int rc = rk_yaml_check_map(y, root, "plan", top_fields, err);
	if (rc == RK_OK)
		rc = rk_yaml_str(y, root, "plan", "apiVersion", 1, &api, err);
	if (rc == RK_OK && strcmp(api, "rekeyctl/v1") != 0)
		rc = rk_yaml_fail(y, rk_yaml_get(y, root, "apiVersion"), err,
		                  "plan: apiVersion \"%s\" is not supported (want rekeyctl/v1)", api);
	if (rc == RK_OK)
		rc = rk_yaml_str(y, root, "plan", "kind", 1, &kind, err);
	if (rc == RK_OK && strcmp(kind, "RotationPlan") != 0)
		rc = rk_yaml_fail(y, rk_yaml_get(y, root, "kind"), err,
		                  "plan: kind \"%s\" is not RotationPlan", kind);
	free(api);
	free(kind);
	return rc;
}

static int load_identity(rk_yaml *y, yaml_node_t *root, rk_plan *plan, rk_err *err)
{
	int rc = rk_yaml_str(y, root, "plan", "cluster", 1, &plan->cluster, err);
	for (const char *p = plan->cluster; rc == RK_OK && *p; p++)
		if (!isalnum((unsigned char)*p) && !strchr("-_.", *p))
			rc = rk_yaml_fail(
			    y, rk_yaml_get(y, root, "cluster"), err,
			    "plan.cluster: \"%s\" may hold only letters, digits, '-', '_' and '.'",
			    plan->cluster);
	if (rc == RK_OK)
		rc = rk_yaml_path(y, root, "plan", "kubeconfig", 0, &plan->kubeconfig, err);
	if (rc == RK_OK)
		rc = rk_yaml_str(y, root, "plan", "context", 0, &plan->context, err);
	if (rc == RK_OK)
		rc = plan_local_path_field(y, root, "plan", "keyBackupDir", 0, &plan->key_backup_dir, err);
	return rc;
}

static int load_plan(rk_yaml *y, rk_plan *plan, rk_err *err)
{
	yaml_node_t *root = rk_yaml_root(y);
	int rc = check_header(y, root, err);
	if (rc == RK_OK)
		rc = load_identity(y, root, plan, err);
	if (rc == RK_OK)
		rc = load_resources(y, root, plan, err);
	if (rc == RK_OK)
		rc = load_provider(y, root, plan, err);
	if (rc == RK_OK)
		rc = load_control_plane(y, root, plan, err);
	rk_rewrite_settings_init_rotation(&plan->rewrite);
	plan->preflight_window_ms = 60000;
	if (rc == RK_OK)
		rc = load_rewrite(y, root, plan, err);
	if (rc == RK_OK)
		rc = load_budget(y, root, plan, err);
	if (rc == RK_OK)
		rc = load_windows(y, root, plan, err);
	if (rc == RK_OK)
		rc = load_etcd(y, root, plan, err);
	if (rc == RK_OK)
		rc = load_kms(y, root, plan, err);
	if (rc == RK_OK)
		rc = plan_load_break_glass(y, root, plan, err);
	return rc;
}

int rk_plan_load_buf(const char *data, size_t len, const char *name, rk_plan **out, rk_err *err)
{
	*out = NULL;
	rk_yaml y;
	int rc = rk_yaml_load(&y, name, data, len, err);
	rk_plan *plan = calloc(1, sizeof *plan);
	if (rc == RK_OK && !plan)
		rc = rk_err_set(err, RK_FAIL, "out of memory");
	if (rc == RK_OK && !(plan->path = strdup(y.path)))
		rc = rk_err_set(err, RK_FAIL, "out of memory");
	if (rc == RK_OK)
		rc = load_plan(&y, plan, err);
	rk_yaml_free(&y);
	if (rc != RK_OK) {
		rk_plan_free(plan);
		return rc;
	}
	*out = plan;
	return RK_OK;
}

int rk_plan_load_file(const char *path, rk_plan **out, rk_err *err)
{
	char *data = NULL;
	size_t len = 0;
	*out = NULL;
	int rc = rk_read_file(path, &data, &len, err);
	if (rc == RK_OK)
		rc = rk_plan_load_buf(data, len, path, out, err);
	free(data);
	return rc;
}

static void free_node(rk_plan_node *node)
{
	free(node->name);
	free(node->host);
	free(node->apiserver);
	free(node->config_path);
	free(node->manifest_path);
}

void rk_plan_free(rk_plan *plan)
{
	if (!plan)
		return;
	for (size_t i = 0; i < plan->nnodes; i++)
		free_node(&plan->nodes[i]);
	for (size_t i = 0; i < plan->nwindows; i++) {
		free(plan->windows[i].timezone);
		rk_tz_free(plan->windows[i].tz);
	}
	rk_str_list_free(plan->resources, plan->nresources);
	free(plan->resource_pos);
	rk_str_list_free(plan->break_glass.identity_read, plan->break_glass.nidentity_read);
	char *strings[] = {plan->path,
	                   plan->cluster,
	                   plan->kubeconfig,
	                   plan->context,
	                   plan->key_backup_dir,
	                   plan->config_path,
	                   plan->manifest_path,
	                   plan->canary,
	                   plan->ssh.user,
	                   plan->ssh.identity_file,
	                   plan->ssh.known_hosts,
	                   plan->exec.read,
	                   plan->exec.write,
	                   plan->exec.restart,
	                   plan->exec.ready,
	                   plan->etcd.url,
	                   plan->etcd.cacert,
	                   plan->etcd.cert,
	                   plan->etcd.key,
	                   plan->kms.provider.api_version,
	                   plan->kms.provider.name,
	                   plan->kms.provider.endpoint,
	                   plan->kms.provider.timeout,
	                   plan->kms.key_id,
	                   plan->break_glass.key_file,
	                   plan->break_glass.key_name};
	for (size_t i = 0; i < sizeof strings / sizeof strings[0]; i++)
		free(strings[i]);
	free(plan->nodes);
	free(plan->windows);
	free(plan);
}

const char **rk_plan_apiservers(const rk_plan *plan, size_t *n)
{
	const char **urls = calloc(plan->nnodes + 1, sizeof *urls);
	*n = 0;
	for (size_t i = 0; urls && i < plan->nnodes; i++) {
		size_t j = 0;
		while (j < *n && strcmp(urls[j], plan->nodes[i].apiserver) != 0)
			j++;
		if (j == *n)
			urls[(*n)++] = plan->nodes[i].apiserver;
	}
	return urls;
}

const rk_plan_node *rk_plan_find_node(const rk_plan *plan, const char *name)
{
	for (size_t i = 0; name && i < plan->nnodes; i++)
		if (!strcmp(plan->nodes[i].name, name))
			return &plan->nodes[i];
	return NULL;
}

const char *rk_plan_kms_socket(const rk_plan *plan)
{
	const char *ep = plan->kms.provider.endpoint;
	return ep && !strncmp(ep, "unix:///", 8) ? ep + 7 : NULL;
}

const char *rk_plan_node_config_path(const rk_plan *plan, const rk_plan_node *node)
{
	(void)plan;
	return node->config_path;
}

const char *rk_plan_node_manifest_path(const rk_plan *plan, const rk_plan_node *node)
{
	(void)plan;
	return node->manifest_path;
}

/* Minutes left in window w at `when`, or -1 when outside it. */
static long window_minutes_left(const rk_plan_window *w, time_t when)
{
	struct tm tm;
	if (rk_tz_localtime(w->tz, when, &tm) != 0)
		return -1;
	int now = tm.tm_hour * 60 + tm.tm_min;
	int today = tm.tm_wday, yesterday = (tm.tm_wday + 6) % 7;
	if (w->start_min < w->end_min)
		return (w->days_mask >> today & 1) && now >= w->start_min && now < w->end_min
		           ? w->end_min - now
		           : -1;
	if ((w->days_mask >> today & 1) && now >= w->start_min)
		return 24 * 60 - now + w->end_min;
	if ((w->days_mask >> yesterday & 1) && now < w->end_min)
		return w->end_min - now;
	return -1;
}

int rk_plan_in_window(const rk_plan *plan, time_t when, time_t *window_end)
{
	if (plan->nwindows == 0) {
		if (window_end)
			*window_end = (time_t)-1;
		return 1;
	}
	for (size_t i = 0; i < plan->nwindows; i++) {
		long left = window_minutes_left(&plan->windows[i], when);
		if (left >= 0) {
			if (window_end)
				*window_end = when - when % 60 + left * 60;
			return 1;
		}
	}
	return 0;
}
