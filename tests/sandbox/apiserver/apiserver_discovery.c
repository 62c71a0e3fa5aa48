/* apiserver_discovery.c: the served resources and the legacy discovery documents (/api, /apis,
 * /api/v1, /apis/coordination.k8s.io[/v1]) real kubectl reads before it acts. */
#include <string.h>

#include "apiserver.h"

const sbx_resource sbx_resources[SBX_NRES] = {
    {SBX_SECRETS, "secrets", "secret", "Secret", "", "v1", 1, 1, NULL},
    {SBX_CONFIGMAPS, "configmaps", "configmap", "ConfigMap", "", "v1", 1, 1, "cm"},
    {SBX_NAMESPACES, "namespaces", "namespace", "Namespace", "", "v1", 0, 1, "ns"},
    {SBX_PODS, "pods", "pod", "Pod", "", "v1", 1, 0, "po"},
    {SBX_LEASES, "leases", "lease", "Lease", "coordination.k8s.io", "coordination.k8s.io/v1", 1, 1, NULL},
};

const sbx_resource *sbx_resource_find(const char *group, const char *name)
{
	for (int i = 0; i < SBX_NRES; i++)
		if (!strcmp(sbx_resources[i].group, group) && !strcmp(sbx_resources[i].name, name))
			return &sbx_resources[i];
	return NULL;
}

static json_t *resource_list(const char *group)
{
	json_t *list = json_array();
	for (int i = 0; i < SBX_NRES; i++) {
		const sbx_resource *r = &sbx_resources[i];
		if (strcmp(r->group, group))
			continue;
		json_t *verbs = r->writable ? json_pack("[s,s,s,s,s,s]", "create", "delete", "get", "list",
		                                        "patch", "update")
		                            : json_pack("[s,s]", "get", "list");
		json_t *e = json_pack("{s:s,s:s,s:b,s:s,s:o}", "name", r->name, "singularName", r->singular,
		                      "namespaced", r->namespaced, "kind", r->kind, "verbs", verbs);
		if (r->short_name)
			json_object_set_new(e, "shortNames", json_pack("[s]", r->short_name));
		json_array_append_new(list, e);
	}
	return json_pack("{s:s,s:s,s:s,s:o}", "kind", "APIResourceList", "apiVersion", "v1", "groupVersion",
	                 *group ? "coordination.k8s.io/v1" : "v1", "resources", list);
}

static json_t *coordination_group(void)
{
	return json_pack("{s:s,s:[{s:s,s:s}],s:{s:s,s:s}}", "name", "coordination.k8s.io", "versions",
	                 "groupVersion", "coordination.k8s.io/v1", "version", "v1", "preferredVersion",
	                 "groupVersion", "coordination.k8s.io/v1", "version", "v1");
}

json_t *sbx_discovery(const char *path)
{
	if (!strcmp(path, "/api") || !strcmp(path, "/api/"))
		return json_pack("{s:s,s:[s],s:[{s:s,s:s}]}", "kind", "APIVersions", "versions", "v1",
		                 "serverAddressByClientCIDRs", "clientCIDR", "0.0.0.0/0", "serverAddress",
		                 "127.0.0.1");
	if (!strcmp(path, "/apis") || !strcmp(path, "/apis/"))
		return json_pack("{s:s,s:s,s:[o]}", "kind", "APIGroupList", "apiVersion", "v1", "groups",
		                 coordination_group());
	if (!strcmp(path, "/api/v1") || !strcmp(path, "/api/v1/"))
		return resource_list("");
	if (!strcmp(path, "/apis/coordination.k8s.io") || !strcmp(path, "/apis/coordination.k8s.io/")) {
		json_t *g = coordination_group();
		json_object_set_new(g, "kind", json_string("APIGroup"));
		json_object_set_new(g, "apiVersion", json_string("v1"));
		return g;
	}
	if (!strcmp(path, "/apis/coordination.k8s.io/v1") || !strcmp(path, "/apis/coordination.k8s.io/v1/"))
		return resource_list("coordination.k8s.io");
	return NULL;
}
