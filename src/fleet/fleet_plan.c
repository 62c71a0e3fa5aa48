/* fleet_plan.c: loads and validates a FleetPlan (rekeyctl/v1) with file:line:col errors, loads every
 * cluster's RotationPlan, and assigns the waves (see rekey/fleet.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fleet_internal.h"
#include "rekey/fsutil.h"
#include "rekey/plan.h"
#include "rekey/yamldoc.h"

static const char *const top_fields[] = {"apiVersion",  "kind", "name", "clusters",  "canary", "waves",
                                         "parallelism", "soak", "stop", "maxKeyAge", NULL};
static const char *const cluster_fields[] = {"plan", NULL};
static const char *const wave_fields[] = {"count", "percent", NULL};
static const char *const stop_fields[] = {"maxFailures", NULL};

static int check_header(rk_yaml *y, yaml_node_t *root, rk_err *err)
{
	char *api = NULL, *kind = NULL;
	int rc = rk_yaml_check_map(y, root, "fleet", top_fields, err);
	if (rc == RK_OK)
		rc = rk_yaml_str(y, root, "fleet", "apiVersion", 1, &api, err);
	if (rc == RK_OK && strcmp(api, "rekeyctl/v1") != 0)
		rc = rk_yaml_fail(y, rk_yaml_get(y, root, "apiVersion"), err,
		                  "fleet: apiVersion \"%s\" is not supported (want rekeyctl/v1)", api);
	if (rc == RK_OK)
		rc = rk_yaml_str(y, root, "fleet", "kind", 1, &kind, err);
	if (rc == RK_OK && strcmp(kind, "FleetPlan") != 0)
		rc = rk_yaml_fail(y, rk_yaml_get(y, root, "kind"), err, "fleet: kind \"%s\" is not FleetPlan",
		                  kind);
	free(api);
	free(kind);
	return rc;
}

/* A relative plan path is taken from the fleet file's directory. */
static char *resolve_plan_path(const char *fleet_path, const char *plan)
{
	const char *slash = strrchr(fleet_path, '/');
	if (plan[0] == '/' || !slash)
		return strdup(plan);
	size_t dir = (size_t)(slash - fleet_path) + 1, n = strlen(plan);
	char *out = malloc(dir + n + 1);
	if (out) {
		memcpy(out, fleet_path, dir);
		memcpy(out + dir, plan, n + 1);
	}
	return out;
}

static int load_cluster(rk_yaml *y, yaml_node_t *item, size_t i, rk_fleet_plan *fp, rk_err *err)
{
	char what[64], *plan_text = NULL;
	snprintf(what, sizeof what, "fleet.clusters[%zu]", i);
	rk_fleet_cluster *c = &fp->clusters[i];
	int rc = rk_yaml_check_map(y, item, what, cluster_fields, err);
	if (rc == RK_OK)
		rc = rk_yaml_str(y, item, what, "plan", 1, &plan_text, err);
	if (rc == RK_OK && !(c->plan_path = resolve_plan_path(fp->path, plan_text)))
		rc = rk_err_set(err, RK_FAIL, "out of memory");
	free(plan_text);
	rk_plan *plan = NULL;
	rk_err inner;
	if (rc == RK_OK && rk_plan_load_file(c->plan_path, &plan, &inner) != RK_OK)
		rc = rk_yaml_fail(y, rk_yaml_get(y, item, "plan"), err, "%s.plan: %s", what, inner.msg);
	if (rc == RK_OK && !(c->name = strdup(plan->cluster)))
		rc = rk_err_set(err, RK_FAIL, "out of memory");
	rk_plan_free(plan);
	for (size_t j = 0; rc == RK_OK && j < i; j++)
		if (!strcmp(fp->clusters[j].name, c->name))
			rc = rk_yaml_fail(y, item, err,
			                  "%s: cluster \"%s\" is also clusters[%zu] (every cluster once)",
			                  what, c->name, j);
	return rc;
}

static int load_clusters(rk_yaml *y, yaml_node_t *root, rk_fleet_plan *fp, rk_err *err)
{
	yaml_node_t *list = rk_yaml_get(y, root, "clusters");
	if (!list)
		return rk_yaml_fail(y, root, err, "fleet: missing required field \"clusters\"");
	size_t count = list->type == YAML_SEQUENCE_NODE
	                   ? (size_t)(list->data.sequence.items.top - list->data.sequence.items.start)
	                   : 0;
	if (count == 0)
		return rk_yaml_fail(y, list, err,
		                    "fleet.clusters: expected a non-empty list of {plan: PATH}");
	if (count > RK_FLEET_MAX_CLUSTERS)
		return rk_yaml_fail(y, list, err, "fleet.clusters: at most %d clusters",
		                    RK_FLEET_MAX_CLUSTERS);
	if (!(fp->clusters = calloc(count, sizeof *fp->clusters)))
		return rk_err_set(err, RK_FAIL, "out of memory");
	for (size_t i = 0; i < count; i++) {
		fp->nclusters = i + 1;
		int rc = load_cluster(y, rk_yaml_at(y, list->data.sequence.items.start[i]), i, fp, err);
		if (rc != RK_OK)
			return rc;
	}
	return RK_OK;
}

static int canary_index(const rk_fleet_plan *fp)
{
	for (size_t i = 0; i < fp->nclusters; i++)
		if (!strcmp(fp->clusters[i].name, fp->canary))
			return (int)i;
	return -1;
}

/* One wave's size: count, or percent of the non-canary clusters rounded up. */
static int wave_size(rk_yaml *y, yaml_node_t *item, size_t i, size_t others, size_t *size, rk_err *err)
{
	char what[64];
	long count = 0, percent = 0;
	snprintf(what, sizeof what, "fleet.waves[%zu]", i);
	int rc = rk_yaml_check_map(y, item, what, wave_fields, err);
	if (rc == RK_OK)
		rc = rk_yaml_long(y, item, what, "count", 1, RK_FLEET_MAX_CLUSTERS, &count, err);
	if (rc == RK_OK)
		rc = rk_yaml_long(y, item, what, "percent", 1, 100, &percent, err);
	if (rc == RK_OK && (count > 0) == (percent > 0))
		return rk_yaml_fail(y, item, err, "%s: give exactly one of count or percent", what);
	if (rc == RK_OK)
		*size = count > 0 ? (size_t)count : ((size_t)percent * others + 99) / 100;
	return rc;
}

static int assign_waves(rk_yaml *y, yaml_node_t *root, rk_fleet_plan *fp, rk_err *err)
{
	int canary = canary_index(fp);
	if (canary < 0)
		return rk_yaml_fail(y, rk_yaml_get(y, root, "canary"), err,
		                    "fleet.canary: \"%s\" is not the cluster of any plan in fleet.clusters",
		                    fp->canary);
	yaml_node_t *list = rk_yaml_get(y, root, "waves");
	if (list && list->type != YAML_SEQUENCE_NODE)
		return rk_yaml_fail(y, list, err,
		                    "fleet.waves: expected a list of {count: N} or {percent: P}");
	size_t nlisted = list ? (size_t)(list->data.sequence.items.top - list->data.sequence.items.start) : 0;
	size_t *sizes = calloc(nlisted + 1, sizeof *sizes);
	if (!sizes)
		return rk_err_set(err, RK_FAIL, "out of memory");
	for (size_t i = 0; i < nlisted; i++) {
		int rc = wave_size(y, rk_yaml_at(y, list->data.sequence.items.start[i]), i, fp->nclusters - 1,
		                   &sizes[i], err);
		if (rc != RK_OK) {
			free(sizes);
			return rc;
		}
	}
	/* the listed waves in turn, then one last wave for whatever is left */
	size_t listed = 0, left = nlisted ? sizes[0] : (size_t)-1;
	int wave = 1;
	for (size_t i = 0; i < fp->nclusters; i++) {
		if ((int)i == canary)
			continue;
		while (left == 0) {
			listed++;
			wave++;
			left = listed < nlisted ? sizes[listed] : (size_t)-1;
		}
		fp->clusters[i].wave = wave;
		left--;
	}
	free(sizes);
	fp->clusters[canary].wave = 0;
	fp->nwaves = fp->nclusters > 1 ? wave + 1 : 1;
	return RK_OK;
}

static int load_settings(rk_yaml *y, yaml_node_t *root, rk_fleet_plan *fp, rk_err *err)
{
	fp->parallelism = 1;
	fp->max_key_age_ms = RK_FLEET_DEFAULT_MAX_KEY_AGE_MS;
	int rc =
	    rk_yaml_long(y, root, "fleet", "parallelism", 1, RK_FLEET_MAX_PARALLEL, &fp->parallelism, err);
	if (rc == RK_OK)
		rc = rk_yaml_duration_ms(y, root, "fleet", "soak", &fp->soak_ms, err);
	if (rc == RK_OK)
		rc = rk_yaml_duration_ms(y, root, "fleet", "maxKeyAge", &fp->max_key_age_ms, err);
	if (rc == RK_OK && fp->max_key_age_ms <= 0)
		rc = rk_yaml_fail(y, rk_yaml_get(y, root, "maxKeyAge"), err,
		                  "fleet.maxKeyAge: must be more than 0");
	yaml_node_t *stop = rk_yaml_get(y, root, "stop");
	if (rc == RK_OK && stop)
		rc = rk_yaml_check_map(y, stop, "fleet.stop", stop_fields, err);
	if (rc == RK_OK && stop)
		rc = rk_yaml_long(y, stop, "fleet.stop", "maxFailures", 0, RK_FLEET_MAX_CLUSTERS,
		                  &fp->max_failures, err);
	return rc;
}

static int load_fleet(rk_yaml *y, rk_fleet_plan *fp, rk_err *err)
{
	yaml_node_t *root = rk_yaml_root(y);
	int rc = check_header(y, root, err);
	if (rc == RK_OK)
		rc = rk_yaml_str(y, root, "fleet", "name", 1, &fp->name, err);
	if (rc == RK_OK && (!*fp->name || strlen(fp->name) >= RK_STORE_NAME_MAX))
		rc = rk_yaml_fail(y, rk_yaml_get(y, root, "name"), err,
		                  "fleet.name: must be 1 to %d characters", RK_STORE_NAME_MAX - 1);
	if (rc == RK_OK)
		rc = load_settings(y, root, fp, err);
	if (rc == RK_OK)
		rc = rk_yaml_str(y, root, "fleet", "canary", 1, &fp->canary, err);
	if (rc == RK_OK)
		rc = load_clusters(y, root, fp, err);
	if (rc == RK_OK)
		rc = assign_waves(y, root, fp, err);
	return rc;
}

int rk_fleet_plan_load_buf(const char *data, size_t len, const char *path, rk_fleet_plan **out, rk_err *err)
{
	rk_yaml y;
	*out = NULL;
	int rc = rk_yaml_load(&y, path, data, len, err);
	rk_fleet_plan *fp = calloc(1, sizeof *fp);
	if (rc == RK_OK && (!fp || !(fp->path = strdup(path))))
		rc = rk_err_set(err, RK_FAIL, "out of memory");
	if (rc == RK_OK)
		rc = load_fleet(&y, fp, err);
	rk_yaml_free(&y);
	if (rc != RK_OK) {
		rk_fleet_plan_free(fp);
		return rc;
	}
	*out = fp;
	return RK_OK;
}

int rk_fleet_plan_load_file(const char *path, rk_fleet_plan **out, rk_err *err)
{
	char *data = NULL;
	size_t len = 0;
	*out = NULL;
	int rc = rk_read_file(path, &data, &len, err);
	if (rc == RK_OK)
		rc = rk_fleet_plan_load_buf(data, len, path, out, err);
	free(data);
	return rc;
}

void rk_fleet_plan_free(rk_fleet_plan *fp)
{
	if (!fp)
		return;
	for (size_t i = 0; i < fp->nclusters; i++) {
		free(fp->clusters[i].plan_path);
		free(fp->clusters[i].name);
	}
	free(fp->clusters);
	free(fp->path);
	free(fp->name);
	free(fp->canary);
	free(fp);
}

int rk_fleet_file_kind(const char *path, char *out, size_t cap, rk_err *err)
{
	char *data = NULL, *kind = NULL;
	size_t len = 0;
	rk_yaml y;
	memset(&y, 0, sizeof y);
	int rc = rk_read_file(path, &data, &len, err);
	if (rc == RK_OK)
		rc = rk_yaml_load(&y, path, data, len, err); /* y is freed below even when this fails */
	free(data);
	yaml_node_t *root = rc == RK_OK ? rk_yaml_root(&y) : NULL;
	if (rc == RK_OK && (!root || root->type != YAML_MAPPING_NODE))
		rc = rk_yaml_fail(&y, root, err, "expected a mapping with apiVersion and kind");
	if (rc == RK_OK)
		rc = rk_yaml_str(&y, root, "file", "kind", 1, &kind, err);
	if (rc == RK_OK)
		snprintf(out, cap, "%s", kind);
	free(kind);
	rk_yaml_free(&y);
	return rc;
}
