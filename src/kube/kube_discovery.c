/* kube_discovery.c: maps a resource name ("secrets", "deployments.apps", "deployments.v1.apps") to its
 * group, version and scope with the discovery documents (/api/v1, /apis, /apis/<group>/<version>), and
 * builds collection and object paths (see include/rekey/kube.h). */
#include <ctype.h>
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rekey/kube.h"

/* Copies src into a field of cap bytes; -1 (nothing copied) when it does not fit. */
static int copy_field(char *dst, size_t cap, const char *src, size_t len)
{
	if (len >= cap)
		return -1;
	memcpy(dst, src, len);
	dst[len] = '\0';
	return 0;
}

static int copy_str(char *dst, size_t cap, const char *src)
{
	return copy_field(dst, cap, src ? src : "", src ? strlen(src) : 0);
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
		if (copy_str(out->kind, sizeof out->kind, json_string_value(json_object_get(r, "kind"))) != 0)
			return -1;
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
	if (found < 0)
		return rk_err_set(err, RK_FAIL,
		                  "resource \"%s\": discovery (GET %s) gave a kind longer than %d characters",
		                  resource, path, RK_KUBE_NAME_MAX);
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
		found = copy_str(version, cap, json_string_value(json_object_get(pref, "version"))) != 0
		            ? -1
		            : *version != '\0';
		break;
	}
	json_decref(groups);
	if (found < 0)
		return rk_err_set(
		    err, RK_FAIL,
		    "API group \"%s\": discovery (GET /apis) gave a version longer than %d characters", group,
		    RK_KUBE_VERSION_MAX);
	if (!found)
		return rk_err_set(err, RK_BADINPUT, "API group \"%s\" not found by discovery (GET /apis)",
		                  group);
	return RK_OK;
}

/* Resource names are lowercase letters, digits, '-' and '.': nothing that would change the path. */
static int name_chars_ok(const char *name)
{
	for (const char *p = name; *p; p++)
		if (!(islower((unsigned char)*p) || isdigit((unsigned char)*p) || *p == '-' || *p == '.'))
			return 0;
	return 1;
}

/* Splits "resource[.version].group" into out's fields; the caller checked the name's length. */
static int split_name(const char *name, rk_kube_resource *out, rk_err *err)
{
	const char *dot = strchr(name, '.'), *group = "", *version = "";
	size_t version_len = 0;
	if (dot) {
		const char *rest = dot + 1, *dot2 = strchr(rest, '.');
		/* "deployments.v1.apps": a version when the middle part looks like v<digit>... */
		if (dot2 && rest[0] == 'v' && isdigit((unsigned char)rest[1])) {
			version = rest;
			version_len = (size_t)(dot2 - rest);
			group = dot2 + 1;
		} else {
			group = rest;
		}
	}
	size_t resource_len = dot ? (size_t)(dot - name) : strlen(name);
	if (resource_len == 0 || (dot && !*group) || !name_chars_ok(name))
		return rk_err_set(err, RK_BADINPUT, "\"%s\" is not a resource name", name);
	if (copy_field(out->version, sizeof out->version, version, version_len) != 0)
		return rk_err_set(err, RK_BADINPUT,
		                  "resource \"%s\": the version is longer than %d characters", name,
		                  RK_KUBE_VERSION_MAX);
	copy_field(out->resource, sizeof out->resource, name, resource_len);
	copy_str(out->group, sizeof out->group, group);
	return RK_OK;
}

int rk_kube_discover(rk_kube *k, const char *name, rk_kube_resource *out, rk_err *err)
{
	memset(out, 0, sizeof *out);
	size_t len = strnlen(name, RK_KUBE_NAME_MAX + 1);
	if (len > RK_KUBE_NAME_MAX)
		return rk_err_set(err, RK_BADINPUT, "resource \"%.40s...\" is longer than %d characters",
		                  name, RK_KUBE_NAME_MAX);
	rk_kube_resource want;
	if (split_name(name, &want, err) != RK_OK)
		return err->code;
	if (!*want.group && !*want.version)
		copy_str(want.version, sizeof want.version, "v1");
	if (*want.group && !*want.version &&
	    preferred_version(k, want.group, want.version, sizeof want.version, err) != RK_OK)
		return err->code;
	return search_version(k, want.group, want.version, want.resource, out, err);
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
