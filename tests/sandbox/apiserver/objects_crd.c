/* objects_crd.c: custom resources. A CustomResourceDefinition is an ordinary object of the sandbox
 * (apiextensions.k8s.io/v1, stored under /registry/apiextensions.k8s.io/customresourcedefinitions/ through
 * the rule that covers it); each request for /apis/<group>/<version>/... finds the CRD serving it and
 * describes the resource from it: objects stored as JSON under /registry/<group>/<plural>/ at the CRD's
 * storage version (spec.versions[].storage), converted to the version asked for by changing apiVersion
 * only (the "None" conversion strategy), as kube-apiserver does for CRDs without a conversion webhook. */
#include <stdio.h>
#include <string.h>

#include "apiserver.h"

static const char *str_at(json_t *obj, const char *a, const char *b)
{
	json_t *v = json_object_get(obj, a);
	if (b)
		v = json_object_get(v, b);
	return json_is_string(v) ? json_string_value(v) : NULL;
}

/* The version entry of spec.versions named `name` that is served (NULL when none), and the storage one. */
static json_t *served_version(json_t *spec, const char *name, const char **storage)
{
	json_t *found = NULL, *v;
	size_t i;
	*storage = NULL;
	json_array_foreach(json_object_get(spec, "versions"), i, v)
	{
		const char *vn = str_at(v, "name", NULL);
		if (vn && json_is_true(json_object_get(v, "storage")))
			*storage = vn;
		if (vn && name && !strcmp(vn, name) && json_is_true(json_object_get(v, "served")))
			found = v;
	}
	return found;
}

static void describe(json_t *crd, const char *version, const char *storage, sbx_custom *out)
{
	json_t *spec = json_object_get(crd, "spec");
	const char *group = str_at(spec, "group", NULL);
	memset(out, 0, sizeof *out);
	snprintf(out->name, sizeof out->name, "%s", str_at(spec, "names", "plural"));
	snprintf(out->singular, sizeof out->singular, "%s",
	         str_at(spec, "names", "singular") ? str_at(spec, "names", "singular") : out->name);
	snprintf(out->kind, sizeof out->kind, "%s", str_at(spec, "names", "kind"));
	snprintf(out->group, sizeof out->group, "%s", group);
	snprintf(out->gv, sizeof out->gv, "%s/%s", group, version);
	snprintf(out->stored_gv, sizeof out->stored_gv, "%s/%s", group, storage);
	snprintf(out->prefix, sizeof out->prefix, "%s/%s", group, out->name);
	const char *scope = str_at(spec, "scope", NULL);
	out->res = (sbx_resource){SBX_CUSTOM,
	                          out->name,
	                          out->singular,
	                          out->kind,
	                          out->group,
	                          out->gv,
	                          scope && !strcmp(scope, "Namespaced"),
	                          1,
	                          NULL,
	                          out->prefix,
	                          out->stored_gv};
}

json_t *sbx_custom_crds(sbx_server *srv)
{
	json_t *list = NULL;
	sbx_apierr e;
	if (sbx_store_list(srv, &sbx_resources[SBX_CRDS], NULL, 0, NULL, &list, &e) < 0)
		return NULL;
	json_t *items = json_incref(json_object_get(list, "items"));
	json_decref(list);
	return items;
}

int sbx_custom_find(sbx_server *srv, const char *group, const char *version, const char *plural,
                    sbx_custom *out, sbx_apierr *e)
{
	json_t *list = NULL;
	if (sbx_store_list(srv, &sbx_resources[SBX_CRDS], NULL, 0, NULL, &list, e) < 0)
		return -1;
	int found = 0;
	json_t *crd;
	size_t i;
	json_array_foreach(json_object_get(list, "items"), i, crd)
	{
		json_t *spec = json_object_get(crd, "spec");
		const char *g = str_at(spec, "group", NULL), *p = str_at(spec, "names", "plural"), *storage;
		if (!g || !p || strcmp(g, group) || strcmp(p, plural))
			continue;
		if (served_version(spec, version, &storage) && storage && str_at(spec, "names", "kind")) {
			describe(crd, version, storage, out);
			found = 1;
		}
		break;
	}
	json_decref(list);
	return found;
}

static int invalid(sbx_apierr *e, const char *name, const char *detail)
{
	sbx_apierr_set(e, 422, "Invalid", &sbx_resources[SBX_CRDS], name,
	               "CustomResourceDefinition.apiextensions.k8s.io \"%s\" is invalid: %s", name, detail);
	return -1;
}

/* The checks of a CRD the sandbox relies on, and the status a real apiserver soon reports
 * (NamesAccepted and Established, so `kubectl wait --for condition=established` works on both). */
int sbx_crd_check(json_t *crd, sbx_apierr *e)
{
	json_t *spec = json_object_get(crd, "spec");
	const char *name = str_at(crd, "metadata", "name");
	const char *group = str_at(spec, "group", NULL), *plural = str_at(spec, "names", "plural");
	const char *kind = str_at(spec, "names", "kind"), *scope = str_at(spec, "scope", NULL), *storage;
	char want[400];
	name = name ? name : "";
	if (!group || !strchr(group, '.') || !plural || !kind)
		return invalid(e, name,
		               "spec.group (with a dot), spec.names.plural and spec.names.kind are required");
	snprintf(want, sizeof want, "%s.%s", plural, group);
	if (strcmp(name, want))
		return invalid(e, name,
		               "metadata.name: Invalid value: must be spec.names.plural+\".\"+spec.group");
	if (!scope || (strcmp(scope, "Namespaced") && strcmp(scope, "Cluster")))
		return invalid(e, name, "spec.scope: Unsupported value: want Namespaced or Cluster");
	int storages = 0;
	json_t *v;
	size_t i;
	json_array_foreach(json_object_get(spec, "versions"), i, v)
	{
		storages += json_is_true(json_object_get(v, "storage"));
	}
	served_version(spec, NULL, &storage);
	if (storages != 1 || !storage)
		return invalid(
		    e, name, "spec.versions: Invalid value: must have exactly one version marked as storage");
	if (!json_object_get(crd, "status")) {
		json_t *names = json_deep_copy(json_object_get(spec, "names"));
		json_t *conds = json_pack("[{s:s,s:s,s:s},{s:s,s:s,s:s}]", "type", "NamesAccepted", "status",
		                          "True", "reason", "NoConflicts", "type", "Established", "status",
		                          "True", "reason", "InitialNamesAccepted");
		json_object_set_new(crd, "status",
		                    json_pack("{s:o,s:o,s:[s]}", "acceptedNames", names, "conditions", conds,
		                              "storedVersions", storage));
	}
	return 0;
}
