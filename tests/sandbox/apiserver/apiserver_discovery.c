/* apiserver_discovery.c: the served resources and the legacy discovery documents real kubectl and
 * rekeyctl read before they act: /api, /api/v1, /apis, and /apis/<group>[/<version>] for the built-in
 * groups (coordination.k8s.io, apiextensions.k8s.io) and for every group a CRD defines (its served
 * versions, highest priority first, as kube-apiserver orders them). */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "apiserver.h"

const sbx_resource sbx_resources[SBX_NRES] = {
    {SBX_SECRETS, "secrets", "secret", "Secret", "", "v1", 1, 1, NULL, NULL, NULL},
    {SBX_CONFIGMAPS, "configmaps", "configmap", "ConfigMap", "", "v1", 1, 1, "cm", NULL, NULL},
    {SBX_NAMESPACES, "namespaces", "namespace", "Namespace", "", "v1", 0, 1, "ns", NULL, NULL},
    {SBX_PODS, "pods", "pod", "Pod", "", "v1", 1, 1, "po", NULL, NULL},
    {SBX_LEASES, "leases", "lease", "Lease", "coordination.k8s.io", "coordination.k8s.io/v1", 1, 1, NULL,
     NULL, NULL},
    {SBX_CRDS, "customresourcedefinitions", "customresourcedefinition", "CustomResourceDefinition",
     "apiextensions.k8s.io", "apiextensions.k8s.io/v1", 0, 1, "crd",
     "apiextensions.k8s.io/customresourcedefinitions", NULL},
};

const sbx_resource *sbx_resource_find(const char *group, const char *name)
{
	for (int i = 0; i < SBX_NRES; i++)
		if (!strcmp(sbx_resources[i].group, group) && !strcmp(sbx_resources[i].name, name))
			return &sbx_resources[i];
	return NULL;
}

static json_t *resource_entry(const sbx_resource *r)
{
	json_t *verbs = json_pack("[s,s,s,s,s,s]", "create", "delete", "get", "list", "patch", "update");
	json_t *e = json_pack("{s:s,s:s,s:b,s:s,s:o}", "name", r->name, "singularName", r->singular,
	                      "namespaced", r->namespaced, "kind", r->kind, "verbs", verbs);
	if (r->short_name)
		json_object_set_new(e, "shortNames", json_pack("[s]", r->short_name));
	return e;
}

static json_t *resource_list(const char *gv, json_t *resources)
{
	return json_pack("{s:s,s:s,s:s,s:o}", "kind", "APIResourceList", "apiVersion", "v1", "groupVersion",
	                 gv, "resources", resources);
}

static json_t *builtin_list(const char *group, const char *gv)
{
	json_t *list = json_array();
	for (int i = 0; i < SBX_NRES; i++)
		if (!strcmp(sbx_resources[i].group, group))
			json_array_append_new(list, resource_entry(&sbx_resources[i]));
	return resource_list(gv, list);
}

/* kube-apiserver's version priority: GA before beta before alpha, higher numbers first ("v2" > "v1" >
 * "v1beta2" > "v1beta1" > "v1alpha1"), anything else last, alphabetically. */
static int version_rank(const char *v, long *major, long *minor)
{
	char *end = NULL;
	*major = *minor = 0;
	if (v[0] != 'v' || !isdigit((unsigned char)v[1]))
		return 0;
	*major = strtol(v + 1, &end, 10);
	if (!*end)
		return 3;
	int kind = !strncmp(end, "beta", 4) ? 2 : !strncmp(end, "alpha", 5) ? 1 : 0;
	if (kind)
		*minor = strtol(end + (kind == 2 ? 4 : 5), NULL, 10);
	return kind;
}

static int version_cmp(const void *a, const void *b)
{
	const char *x = json_string_value(*(json_t *const *)a), *y = json_string_value(*(json_t *const *)b);
	long xm, xn, ym, yn;
	int xk = version_rank(x, &xm, &xn), yk = version_rank(y, &ym, &yn);
	if (xk != yk)
		return yk - xk;
	if (xm != ym)
		return ym > xm ? 1 : -1;
	if (xn != yn)
		return yn > xn ? 1 : -1;
	return strcmp(x, y);
}

/* The APIGroup of one group from its versions (strings, any order). */
static json_t *group_doc(const char *name, json_t *versions)
{
	size_t n = json_array_size(versions);
	json_t **sorted = calloc(n + 1, sizeof *sorted);
	for (size_t i = 0; sorted && i < n; i++)
		sorted[i] = json_array_get(versions, i);
	if (sorted)
		qsort(sorted, n, sizeof *sorted, version_cmp);
	json_t *list = json_array();
	for (size_t i = 0; sorted && i < n; i++) {
		char gv[400];
		snprintf(gv, sizeof gv, "%s/%s", name, json_string_value(sorted[i]));
		json_array_append_new(list, json_pack("{s:s,s:s}", "groupVersion", gv, "version",
		                                      json_string_value(sorted[i])));
	}
	json_t *pref = json_deep_copy(json_array_get(list, 0));
	free(sorted);
	return json_pack("{s:s,s:o,s:o}", "name", name, "versions", list, "preferredVersion",
	                 pref ? pref : json_object());
}

/* Every group a served CRD defines: {group: [versions...]}. */
static json_t *crd_groups(sbx_server *srv)
{
	json_t *crds = sbx_custom_crds(srv), *groups = json_object(), *crd, *v;
	size_t i, j;
	json_array_foreach(crds, i, crd)
	{
		json_t *spec = json_object_get(crd, "spec");
		const char *g = json_string_value(json_object_get(spec, "group"));
		if (!g)
			continue;
		json_t *versions = json_object_get(groups, g);
		if (!versions)
			json_object_set_new(groups, g, versions = json_array());
		json_array_foreach(json_object_get(spec, "versions"), j, v)
		{
			json_t *name = json_object_get(v, "name");
			if (json_is_string(name) && json_is_true(json_object_get(v, "served")))
				json_array_append(versions, name);
		}
	}
	json_decref(crds);
	return groups;
}

static json_t *all_groups(sbx_server *srv)
{
	json_t *list = json_array(), *custom = crd_groups(srv), *versions;
	const char *builtin[] = {"coordination.k8s.io", "apiextensions.k8s.io"};
	json_t *v1 = json_pack("[s]", "v1");
	for (size_t i = 0; i < 2; i++)
		json_array_append_new(list, group_doc(builtin[i], v1)); /* group_doc copies the versions */
	json_decref(v1);
	const char *g;
	json_object_foreach(custom, g, versions)
	{
		if (json_array_size(versions))
			json_array_append_new(list, group_doc(g, versions));
	}
	json_decref(custom);
	return list;
}

/* The resources of the CRDs of group that serve version. */
static json_t *custom_list(sbx_server *srv, const char *group, const char *version)
{
	json_t *crds = sbx_custom_crds(srv), *list = json_array(), *crd;
	size_t i;
	json_array_foreach(crds, i, crd)
	{
		json_t *spec = json_object_get(crd, "spec");
		const char *g = json_string_value(json_object_get(spec, "group"));
		const char *plural =
		    json_string_value(json_object_get(json_object_get(spec, "names"), "plural"));
		sbx_custom c;
		sbx_apierr e;
		if (g && plural && !strcmp(g, group) &&
		    sbx_custom_find(srv, group, version, plural, &c, &e) == 1)
			json_array_append_new(list, resource_entry(&c.res));
	}
	json_decref(crds);
	char gv[400];
	snprintf(gv, sizeof gv, "%s/%s", group, version);
	return resource_list(gv, list);
}

static int path_is(const char *path, const char *want)
{
	size_t n = strlen(want);
	return !strncmp(path, want, n) && (!path[n] || !strcmp(path + n, "/"));
}

/* /apis/<group> and /apis/<group>/<version> */
static json_t *group_path(sbx_server *srv, const char *rest)
{
	char group[256] = "", version[64] = "";
	const char *slash = strchr(rest, '/');
	snprintf(group, sizeof group, "%.*s", (int)(slash ? (size_t)(slash - rest) : strlen(rest)), rest);
	if (slash && slash[1])
		snprintf(version, sizeof version, "%.*s", (int)strcspn(slash + 1, "/"), slash + 1);
	if (version[0] && strchr(slash + 1, '/') && strchr(slash + 1, '/')[1])
		return NULL; /* deeper than a group version: a resource path */
	json_t *groups = all_groups(srv), *g, *found = NULL;
	size_t i;
	json_array_foreach(groups, i, g)
	{
		if (!strcmp(json_string_value(json_object_get(g, "name")), group))
			found = g;
	}
	json_t *out = NULL;
	if (found && !version[0]) {
		out = json_deep_copy(found);
		json_object_set_new(out, "kind", json_string("APIGroup"));
		json_object_set_new(out, "apiVersion", json_string("v1"));
	} else if (found && !strcmp(group, "coordination.k8s.io") && !strcmp(version, "v1")) {
		out = builtin_list(group, "coordination.k8s.io/v1");
	} else if (found && !strcmp(group, "apiextensions.k8s.io") && !strcmp(version, "v1")) {
		out = builtin_list(group, "apiextensions.k8s.io/v1");
	} else if (found && version[0]) {
		out = custom_list(srv, group, version);
		if (!json_array_size(json_object_get(out, "resources"))) {
			json_decref(out);
			out = NULL;
		}
	}
	json_decref(groups);
	return out;
}

json_t *sbx_discovery(sbx_server *srv, const char *path)
{
	if (path_is(path, "/api"))
		return json_pack("{s:s,s:[s],s:[{s:s,s:s}]}", "kind", "APIVersions", "versions", "v1",
		                 "serverAddressByClientCIDRs", "clientCIDR", "0.0.0.0/0", "serverAddress",
		                 "127.0.0.1");
	if (path_is(path, "/apis"))
		return json_pack("{s:s,s:s,s:o}", "kind", "APIGroupList", "apiVersion", "v1", "groups",
		                 all_groups(srv));
	if (path_is(path, "/api/v1"))
		return builtin_list("", "v1");
	if (!strncmp(path, "/apis/", 6) && path[6])
		return group_path(srv, path + 6);
	return NULL;
}
