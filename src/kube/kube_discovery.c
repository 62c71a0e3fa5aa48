/* kube_discovery.c: maps a resource name ("secrets", "deployments.apps", "deployments.v1.apps") to its
 * group, version and scope with the discovery documents (/api/v1, /apis, /apis/<group>/<version>), and
 * builds collection and object paths (see include/rekey/kube.h). */
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rekey/kube.h"

static void copy_str(char *dst, size_t cap, const char *src)
{
	snprintf(dst, cap, "%s", src ? src : "");
}

/* Looks for resource in an APIResourceList document. */
static int find_in_list(json_t *list, const char *resource, rk_kube_resource *out)
{
	size_t i;
	json_t *r;
	json_array_foreach(json_object_get(list, "resources"), i, r)
	{
		const char *name = json_string_value(json_object_get(r, "name"));
		if (!name || strcmp(name, resource) != 0)
			continue;
		copy_str(out->resource, sizeof out->resource, name);
		copy_str(out->kind, sizeof out->kind, json_string_value(json_object_get(r, "kind")));
		out->namespaced = json_is_true(json_object_get(r, "namespaced"));
		return 1;
	}
	return 0;
}

static int search_version(rk_kube *k, const char *group, const char *version, const char *resource,
                          rk_kube_resource *out, rk_err *err)
{
	char path[512];
	if (*group)
		snprintf(path, sizeof path, "/apis/%s/%s", group, version);
	else
		snprintf(path, sizeof path, "/api/%s", version);
	json_t *list;
	long status = 0;
	if (rk_kube_get(k, path, &list, &status, err) != RK_OK) {
		if (status == 404)
			return rk_err_set(err, RK_BADINPUT,
			                  "resource \"%s\": API group version %s%s%s is not served", resource,
			                  group, *group ? "/" : "", version);
		return err->code;
	}
	int found = find_in_list(list, resource, out);
	json_decref(list);
	if (!found)
		return rk_err_set(err, RK_BADINPUT, "resource \"%s\" not found by discovery (GET %s)",
		                  resource, path);
	copy_str(out->group, sizeof out->group, group);
	copy_str(out->version, sizeof out->version, version);
	return RK_OK;
}

static int preferred_version(rk_kube *k, const char *group, char *version, size_t cap, rk_err *err)
{
	json_t *groups;
	if (rk_kube_get(k, "/apis", &groups, NULL, err) != RK_OK)
		return err->code;
	size_t i;
	json_t *g;
	int found = 0;
	json_array_foreach(json_object_get(groups, "groups"), i, g)
	{
		const char *name = json_string_value(json_object_get(g, "name"));
		if (!name || strcmp(name, group) != 0)
			continue;
		json_t *pref = json_object_get(g, "preferredVersion");
		if (!pref)
			pref = json_array_get(json_object_get(g, "versions"), 0);
		copy_str(version, cap, json_string_value(json_object_get(pref, "version")));
		found = *version != '\0';
		break;
	}
	json_decref(groups);
	if (!found)
		return rk_err_set(err, RK_BADINPUT, "API group \"%s\" not found by discovery (GET /apis)",
		                  group);
	return RK_OK;
}

int rk_kube_discover(rk_kube *k, const char *name, rk_kube_resource *out, rk_err *err)
{
	memset(out, 0, sizeof *out);
	char resource[128], version[64] = "", group[128] = "";
	const char *dot = strchr(name, '.');
	copy_str(resource, sizeof resource, name);
	if (dot) {
		resource[dot - name] = '\0';
		const char *rest = dot + 1, *dot2 = strchr(rest, '.');
		/* "deployments.v1.apps": a version when the middle part looks like v<digit>... */
		if (dot2 && rest[0] == 'v' && rest[1] >= '0' && rest[1] <= '9') {
			snprintf(version, sizeof version, "%.*s", (int)(dot2 - rest), rest);
			copy_str(group, sizeof group, dot2 + 1);
		} else {
			copy_str(group, sizeof group, rest);
		}
	}
	if (!*resource || strchr(resource, '/'))
		return rk_err_set(err, RK_BADINPUT, "\"%s\" is not a resource name", name);
	if (!*group && !*version)
		copy_str(version, sizeof version, "v1");
	if (*group && !*version && preferred_version(k, group, version, sizeof version, err) != RK_OK)
		return err->code;
	return search_version(k, group, version, resource, out, err);
}

static int append_escaped(rk_buf *out, const char *s)
{
	char *e = curl_easy_escape(NULL, s, 0);
	if (!e)
		return -1;
	int rc = rk_buf_append_str(out, e);
	curl_free(e);
	return rc;
}

int rk_kube_resource_path(const rk_kube_resource *r, const char *ns, const char *name, rk_buf *out)
{
	int rc = *r->group ? rk_buf_printf(out, "/apis/%s/%s", r->group, r->version)
	                   : rk_buf_printf(out, "/api/%s", r->version);
	if (rc == 0 && r->namespaced && ns && *ns)
		rc = rk_buf_append_str(out, "/namespaces/") || append_escaped(out, ns);
	if (rc == 0)
		rc = rk_buf_printf(out, "/%s", r->resource);
	if (rc == 0 && name && *name)
		rc = rk_buf_append_str(out, "/") || append_escaped(out, name);
	return rc ? -1 : 0;
}
