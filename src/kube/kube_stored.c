/* kube_stored.c: the resources a cluster stores, from discovery (/api, /apis and each group version's
 * APIResourceList), the CRDs' storage versions and the aggregated APIServices; and counting the objects
 * of one resource (see include/rekey/kube.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rekey/kube.h"

/* ---- what to skip ---- */

static int has_verb(json_t *res, const char *verb)
{
	size_t i;
	json_t *v;
	json_array_foreach(json_object_get(res, "verbs"), i, v)
	{
		if (json_is_string(v) && !strcmp(json_string_value(v), verb))
			return 1;
	}
	return 0;
}

/* Resources kube-apiserver stores under another group's storage (its cohabiting resources): listing them
 * again would rewrite the same objects twice. */
static int stored_elsewhere(const char *group, const char *resource)
{
	return !strcmp(group, "extensions") ||
	       (!strcmp(group, "events.k8s.io") && !strcmp(resource, "events"));
}

/* A list discovery needs was refused (403): RK_UNSAFE naming the grant; any other failure as it is. */
static int denied(rk_err *err, long status, const char *what)
{
	if (status != 403)
		return err->code;
	return rk_err_wrap(err, RK_UNSAFE,
	                   "permission denied: the client may not list %s, which discovery of the stored "
	                   "resources needs (examples/k8s/rbac-rotate.yaml)",
	                   what);
}

/* "group/version" pairs served by aggregated APIServices (spec.service set), as one string
 * "\ng/v\ng/v\n"; "" when the cluster has none or does not serve apiservices. */
static int aggregated_versions(rk_kube *k, rk_buf *out, rk_err *err)
{
	json_t *list = NULL;
	long status = 0;
	rk_buf_append_str(out, "\n");
	if (rk_kube_get(k, "/apis/apiregistration.k8s.io/v1/apiservices", &list, &status, err) != RK_OK)
		return status == 404 ? (rk_err_clear(err), RK_OK)
		                     : denied(err, status, "apiservices.apiregistration.k8s.io");
	size_t i;
	json_t *item;
	json_array_foreach(json_object_get(list, "items"), i, item)
	{
		json_t *spec = json_object_get(item, "spec");
		const char *g = json_string_value(json_object_get(spec, "group"));
		const char *v = json_string_value(json_object_get(spec, "version"));
		if (g && v && json_is_object(json_object_get(spec, "service")))
			rk_buf_printf(out, "%s/%s\n", g, v);
	}
	json_decref(list);
	return RK_OK;
}

static int is_aggregated(const rk_buf *aggregated, const char *group, const char *version)
{
	char gv[256];
	snprintf(gv, sizeof gv, "\n%s/%s\n", group, version);
	return strstr(rk_buf_cstr(aggregated), gv) != NULL;
}

/* ---- the list being built ---- */

static rk_kube_resource *find(rk_kube_resources *r, const char *group, const char *resource)
{
	for (size_t i = 0; i < r->n; i++)
		if (!strcmp(r->items[i].group, group) && !strcmp(r->items[i].resource, resource))
			return &r->items[i];
	return NULL;
}

static int add(rk_kube_resources *r, const rk_kube_resource *res)
{
	rk_kube_resource *grown = realloc(r->items, (r->n + 1) * sizeof *grown);
	if (!grown)
		return -1;
	r->items = grown;
	r->items[r->n++] = *res;
	return 0;
}

/* Adds the stored resources of one group version (those not already found at an earlier version). */
static int add_version(rk_kube *k, rk_kube_resources *out, const char *group, const char *version,
                       rk_err *err)
{
	char path[512];
	if (*group)
		snprintf(path, sizeof path, "/apis/%s/%s", group, version);
	else
		snprintf(path, sizeof path, "/api/%s", version);
	json_t *list = NULL;
	if (rk_kube_get(k, path, &list, NULL, err) != RK_OK)
		return err->code;
	size_t i;
	json_t *res;
	int rc = RK_OK;
	json_array_foreach(json_object_get(list, "resources"), i, res)
	{
		const char *name = json_string_value(json_object_get(res, "name"));
		if (!name || strchr(name, '/') || !has_verb(res, "list") || !has_verb(res, "update") ||
		    stored_elsewhere(group, name) || find(out, group, name))
			continue;
		rk_kube_resource r;
		memset(&r, 0, sizeof r);
		snprintf(r.group, sizeof r.group, "%s", group);
		snprintf(r.version, sizeof r.version, "%s", version);
		snprintf(r.resource, sizeof r.resource, "%s", name);
		snprintf(r.kind, sizeof r.kind, "%s", json_string_value(json_object_get(res, "kind")));
		r.namespaced = json_is_true(json_object_get(res, "namespaced"));
		if (add(out, &r) != 0) {
			rc = rk_err_set(err, RK_FAIL, "out of memory");
			break;
		}
	}
	json_decref(list);
	return rc;
}

/* Every version of one APIGroup, preferred first. */
static int add_group(rk_kube *k, rk_kube_resources *out, json_t *g, const rk_buf *aggregated, rk_err *err)
{
	const char *name = json_string_value(json_object_get(g, "name"));
	const char *pref =
	    json_string_value(json_object_get(json_object_get(g, "preferredVersion"), "version"));
	if (!name || !*name)
		return RK_OK;
	int rc = RK_OK;
	if (pref && !is_aggregated(aggregated, name, pref))
		rc = add_version(k, out, name, pref, err);
	size_t i;
	json_t *v;
	json_array_foreach(json_object_get(g, "versions"), i, v)
	{
		const char *ver = json_string_value(json_object_get(v, "version"));
		if (rc != RK_OK)
			break;
		if (ver && (!pref || strcmp(ver, pref)) && !is_aggregated(aggregated, name, ver))
			rc = add_version(k, out, name, ver, err);
	}
	return rc;
}

/* A custom resource goes to its CRD's storage version when that version is served. Refused (403): an error
 * (the custom resources would go to their preferred version instead). */
static int apply_storage_versions(rk_kube *k, rk_kube_resources *out, rk_err *err)
{
	json_t *list = NULL;
	long status = 0;
	if (rk_kube_get(k, "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", &list, &status, err) !=
	    RK_OK) {
		if (status == 403)
			return denied(err, status, "customresourcedefinitions.apiextensions.k8s.io");
		rk_err_clear(err);
		return RK_OK; /* no CRDs served: nothing to adjust */
	}
	size_t i, j;
	json_t *crd, *v;
	json_array_foreach(json_object_get(list, "items"), i, crd)
	{
		json_t *spec = json_object_get(crd, "spec");
		const char *group = json_string_value(json_object_get(spec, "group"));
		const char *plural =
		    json_string_value(json_object_get(json_object_get(spec, "names"), "plural"));
		rk_kube_resource *r = group && plural ? find(out, group, plural) : NULL;
		json_array_foreach(json_object_get(spec, "versions"), j, v)
		{
			const char *name = json_string_value(json_object_get(v, "name"));
			if (r && name && json_is_true(json_object_get(v, "storage")) &&
			    json_is_true(json_object_get(v, "served")))
				snprintf(r->version, sizeof r->version, "%s", name);
		}
	}
	json_decref(list);
	return RK_OK;
}

int rk_kube_stored_resources(rk_kube *k, rk_kube_resources *out, rk_err *err)
{
	memset(out, 0, sizeof *out);
	rk_buf aggregated = RK_BUF_INIT;
	json_t *groups = NULL;
	int rc = aggregated_versions(k, &aggregated, err);
	if (rc == RK_OK)
		rc = add_version(k, out, "", "v1", err);
	if (rc == RK_OK)
		rc = rk_kube_get(k, "/apis", &groups, NULL, err);
	size_t i;
	json_t *g;
	json_array_foreach(json_object_get(groups, "groups"), i, g)
	{
		if (rc != RK_OK)
			break;
		rc = add_group(k, out, g, &aggregated, err);
	}
	json_decref(groups);
	rk_buf_free(&aggregated);
	if (rc == RK_OK)
		rc = apply_storage_versions(k, out, err);
	if (rc != RK_OK)
		rk_kube_resources_free(out);
	return rc;
}

void rk_kube_resources_free(rk_kube_resources *r)
{
	free(r->items);
	r->items = NULL;
	r->n = 0;
}

void rk_kube_resource_name(const rk_kube_resource *r, char *out, size_t cap)
{
	snprintf(out, cap, "%s%s%s", r->resource, *r->group ? "." : "", r->group);
}

void rk_kube_resource_spec(const rk_kube_resource *r, char *out, size_t cap)
{
	if (*r->group)
		snprintf(out, cap, "%s.%s.%s", r->resource, r->version, r->group);
	else
		snprintf(out, cap, "%s", r->resource);
}

/* ---- counting ---- */

static long long count_by_paging(rk_kube *k, const char *path)
{
	rk_kube_list *list = NULL;
	rk_err err;
	if (rk_kube_list_open(k, path, 500, NULL, &list, &err) != RK_OK)
		return -1;
	json_t *item = NULL;
	long long n = 0;
	int rc;
	while ((rc = rk_kube_list_next(list, &item, &err)) == RK_OK && item)
		n++;
	rk_kube_list_close(list);
	return rc == RK_OK ? n : -1;
}

long long rk_kube_count(rk_kube *k, const rk_kube_resource *r, const char *ns)
{
	rk_buf path = RK_BUF_INIT, one = RK_BUF_INIT;
	json_t *list = NULL;
	long long n = -1;
	rk_err err;
	if (rk_kube_resource_path(r, ns, NULL, &path) != 0 ||
	    rk_buf_printf(&one, "%s?limit=1", rk_buf_cstr(&path)))
		goto done;
	if (rk_kube_get(k, rk_buf_cstr(&one), &list, NULL, &err) != RK_OK)
		goto done;
	json_t *meta = json_object_get(list, "metadata");
	json_t *rem = json_object_get(meta, "remainingItemCount");
	const char *cont = json_string_value(json_object_get(meta, "continue"));
	size_t items = json_array_size(json_object_get(list, "items"));
	if (json_is_integer(rem))
		n = (long long)items + json_integer_value(rem);
	else if (!cont || !*cont)
		n = (long long)items;
	else
		n = count_by_paging(k, rk_buf_cstr(&path));
done:
	json_decref(list);
	rk_buf_free(&path);
	rk_buf_free(&one);
	return n;
}
