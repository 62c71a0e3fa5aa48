/* kube_ops.c: blocking helpers on top of the request engine: JSON get/create/replace/delete, raw text
 * (/metrics), /readyz checks and coordination.k8s.io/v1 Leases (see include/rekey/kube.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#include "rekey/kube.h"

int rk_kube_call_json(rk_kube *k, const char *method, const char *endpoint, const char *path, json_t *body,
                      json_t **out, long *http_status, rk_err *err)
{
	if (out)
		*out = NULL;
	char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
	if (body && !text)
		return rk_err_set(err, RK_FAIL, "out of memory");
	rk_kube_req req = {.method = method,
	                   .path = path,
	                   .endpoint = endpoint,
	                   .body = text,
	                   .body_len = text ? strlen(text) : 0};
	rk_kube_resp resp;
	int rc = rk_kube_request(k, &req, &resp);
	free(text);
	if (http_status)
		*http_status = resp.http_status;
	if (rc != RK_OK) {
		if (err)
			*err = resp.err;
	} else if (out) {
		*out = resp.json;
		resp.json = NULL;
		if (!*out)
			rc = rk_err_set(err, RK_FAIL, "%s %s: the answer is not JSON", method, path);
	}
	rk_kube_resp_free(&resp);
	return rc;
}

int rk_kube_get(rk_kube *k, const char *path, json_t **out, long *http_status, rk_err *err)
{
	return rk_kube_call_json(k, "GET", NULL, path, NULL, out, http_status, err);
}

int rk_kube_create(rk_kube *k, const char *collection_path, json_t *obj, json_t **out, long *http_status,
                   rk_err *err)
{
	return rk_kube_call_json(k, "POST", NULL, collection_path, obj, out, http_status, err);
}

int rk_kube_replace(rk_kube *k, const char *object_path, json_t *obj, json_t **out, long *http_status,
                    rk_err *err)
{
	return rk_kube_call_json(k, "PUT", NULL, object_path, obj, out, http_status, err);
}

int rk_kube_delete(rk_kube *k, const char *object_path, long *http_status, rk_err *err)
{
	return rk_kube_call_json(k, "DELETE", NULL, object_path, NULL, NULL, http_status, err);
}

int rk_kube_get_text(rk_kube *k, const char *endpoint, const char *path, rk_buf *out, rk_err *err)
{
	rk_kube_req req = {.method = "GET", .path = path, .endpoint = endpoint, .accept = "text/plain, */*"};
	rk_kube_resp resp;
	int rc = rk_kube_request(k, &req, &resp);
	if (rc != RK_OK)
		*err = resp.err;
	else if (rk_buf_append(out, resp.body.data, resp.body.len) != 0)
		rc = rk_err_set(err, RK_FAIL, "out of memory");
	rk_kube_resp_free(&resp);
	return rc;
}

static int readyz_get(rk_kube *k, const char *endpoint, const char *path, rk_buf *text, int *ready,
                      rk_err *err)
{
	rk_kube_req req = {
	    .method = "GET", .path = path, .endpoint = endpoint, .accept = "text/plain, */*", .no_retry = 1};
	rk_kube_resp resp;
	rk_kube_request(k, &req, &resp);
	*ready = resp.http_status == 200;
	int rc = RK_OK;
	if (resp.http_status == 0) {
		*err = resp.err;
		rc = err->code;
	} else if (text && rk_buf_append(text, resp.body.data, resp.body.len) != 0) {
		rc = rk_err_set(err, RK_FAIL, "out of memory");
	}
	rk_kube_resp_free(&resp);
	return rc;
}

int rk_kube_readyz(rk_kube *k, const char *endpoint, const char *check, rk_buf *text, int *ready, rk_err *err)
{
	char path[256];
	if (check && *check)
		snprintf(path, sizeof path, "/readyz/%s?verbose", check);
	else
		snprintf(path, sizeof path, "/readyz?verbose");
	return readyz_get(k, endpoint, path, text, ready, err);
}

int rk_kube_readyz_excluding(rk_kube *k, const char *endpoint, const char *exclude, rk_buf *text, int *ready,
                             rk_err *err)
{
	rk_buf path = RK_BUF_INIT;
	rk_buf_append_str(&path, "/readyz?verbose");
	for (const char *p = exclude; p && *p;) {
		size_t n = strcspn(p, ",");
		if (n)
			rk_buf_printf(&path, "&exclude=%.*s", (int)n, p);
		p += n + (p[n] == ',');
	}
	int rc = readyz_get(k, endpoint, rk_buf_cstr(&path), text, ready, err);
	rk_buf_free(&path);
	return rc;
}

/* ---- leases ---- */

void rk_kube_microtime(char out[32])
{
	struct timeval tv;
	gettimeofday(&tv, NULL);
	struct tm tm;
	gmtime_r(&tv.tv_sec, &tm);
	char base[24];
	strftime(base, sizeof base, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(out, 32, "%s.%06ldZ", base, (long)tv.tv_usec);
}

static void lease_path(char *out, size_t cap, const char *ns, const char *name)
{
	snprintf(out, cap, "/apis/coordination.k8s.io/v1/namespaces/%s/leases%s%s", ns, name ? "/" : "",
	         name ? name : "");
}

int rk_kube_lease_get(rk_kube *k, const char *ns, const char *name, json_t **out, rk_err *err)
{
	char path[512];
	lease_path(path, sizeof path, ns, name);
	long status = 0;
	rk_err local;
	rk_err_clear(&local);
	int rc = rk_kube_get(k, path, out, &status, &local);
	if (rc != RK_OK && status == 404)
		return RK_OK;
	if (rc != RK_OK && err)
		*err = local;
	return rc;
}

int rk_kube_lease_create(rk_kube *k, const char *ns, const char *name, const char *holder, int duration_s,
                         json_t **out, long *http_status, rk_err *err)
{
	char path[512], now[32];
	lease_path(path, sizeof path, ns, NULL);
	rk_kube_microtime(now);
	json_t *lease = json_pack("{s:s, s:s, s:{s:s, s:s}, s:{s:s, s:i, s:s, s:s, s:i}}", "apiVersion",
	                          "coordination.k8s.io/v1", "kind", "Lease", "metadata", "name", name,
	                          "namespace", ns, "spec", "holderIdentity", holder, "leaseDurationSeconds",
	                          duration_s, "acquireTime", now, "renewTime", now, "leaseTransitions", 0);
	if (!lease)
		return rk_err_set(err, RK_FAIL, "out of memory");
	int rc = rk_kube_create(k, path, lease, out, http_status, err);
	json_decref(lease);
	return rc;
}

int rk_kube_lease_renew(rk_kube *k, json_t *lease, const char *holder, json_t **out, long *http_status,
                        rk_err *err)
{
	json_t *meta = json_object_get(lease, "metadata");
	const char *ns = json_string_value(json_object_get(meta, "namespace"));
	const char *name = json_string_value(json_object_get(meta, "name"));
	if (!ns || !name || !json_object_get(meta, "resourceVersion"))
		return rk_err_set(err, RK_BADINPUT,
		                  "lease renew: the lease has no namespace, name or resourceVersion");
	json_t *spec = json_object_get(lease, "spec");
	if (!json_is_object(spec)) {
		spec = json_object();
		json_object_set_new(lease, "spec", spec);
	}
	char now[32], path[512];
	rk_kube_microtime(now);
	json_object_set_new(spec, "renewTime", json_string(now));
	json_object_set_new(spec, "holderIdentity", json_string(holder));
	lease_path(path, sizeof path, ns, name);
	return rk_kube_replace(k, path, lease, out, http_status, err);
}

int rk_kube_can_i(rk_kube *k, const char *verb, const char *group, const char *resource, const char *ns,
                  int *allowed, char *reason, size_t cap, rk_err *err)
{
	json_t *review =
	    json_pack("{s:s, s:s, s:{s:{s:s, s:s, s:s, s:s}}}", "apiVersion", "authorization.k8s.io/v1",
	              "kind", "SelfSubjectAccessReview", "spec", "resourceAttributes", "verb", verb, "group",
	              group, "resource", resource, "namespace", ns ? ns : "");
	if (!review)
		return rk_err_set(err, RK_FAIL, "out of memory");
	json_t *out = NULL;
	long status = 0;
	rk_err local;
	rk_err_clear(&local);
	*allowed = -1;
	snprintf(reason, cap, "%s", "");
	int rc = rk_kube_create(k, "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews", review, &out,
	                        &status, &local);
	json_decref(review);
	if (rc != RK_OK && (status == 404 || status == 403)) {
		snprintf(reason, cap, "%s", local.msg);
		return RK_OK;
	}
	if (rc != RK_OK) {
		*err = local;
		return rc;
	}
	json_t *st = json_object_get(out, "status");
	json_t *yes = json_object_get(st, "allowed"), *why = json_object_get(st, "reason");
	*allowed = json_is_true(yes);
	if (json_is_string(why))
		snprintf(reason, cap, "%s", json_string_value(why));
	json_decref(out);
	return RK_OK;
}
