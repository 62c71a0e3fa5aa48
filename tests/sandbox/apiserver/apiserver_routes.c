/* apiserver_routes.c: maps a request to its answer: version, health, metrics, discovery, and the REST
 * verbs on secrets, configmaps, namespaces, pods, leases, CRDs and custom resources; errors as kind:
 * Status objects. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "apiserver.h"
#include "metrics.h"

void sbx_apierr_set(sbx_apierr *e, int code, const char *reason, const sbx_resource *res, const char *name,
                    const char *fmt, ...)
{
	memset(e, 0, sizeof *e);
	e->code = code;
	e->reason = reason;
	e->res = res;
	snprintf(e->name, sizeof e->name, "%s", name ? name : "");
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(e->message, sizeof e->message, fmt, ap);
	va_end(ap);
}

json_t *sbx_status_json(const sbx_apierr *e)
{
	json_t *meta = json_object();
	if (e->continue_token)
		json_object_set_new(meta, "continue", json_string(e->continue_token));
	json_t *st = json_pack("{s:s,s:s,s:o,s:s,s:s,s:s}", "kind", "Status", "apiVersion", "v1", "metadata",
	                       meta, "status", "Failure", "message", e->message, "reason", e->reason);
	json_t *details = json_object();
	if (*e->name)
		json_object_set_new(details, "name", json_string(e->name));
	if (e->res && *e->res->group)
		json_object_set_new(details, "group", json_string(e->res->group));
	if (e->details_kind || e->res)
		json_object_set_new(details, "kind",
		                    json_string(e->details_kind ? e->details_kind : e->res->name));
	if (e->retry_after > 0)
		json_object_set_new(details, "retryAfterSeconds", json_integer(e->retry_after));
	if (json_object_size(details))
		json_object_set_new(st, "details", details);
	else
		json_decref(details);
	json_object_set_new(st, "code", json_integer(e->code));
	return st;
}

static void reply_error(sbx_req *req, int code, const char *reason, const char *fmt, const char *arg)
{
	sbx_apierr e;
	sbx_apierr_set(&e, code, reason, NULL, "", fmt, arg);
	sbx_reply_error(req, &e);
}

static void not_found_path(sbx_req *req)
{
	reply_error(req, 404, "NotFound", "%s", "the server could not find the requested resource");
}

/* ---- health ---- */

/* kms-providers: every kms endpoint of the current config accepts a connection on its unix socket. */
static int kms_ok(sbx_server *srv)
{
	sbx_config *cfg = sbx_config_acquire(srv);
	int ok = 1;
	for (size_t r = 0; cfg && r < cfg->cfg->nrules && ok; r++)
		for (size_t p = 0; p < cfg->cfg->rules[r].nproviders && ok; p++) {
			const rk_provider *prov = &cfg->cfg->rules[r].providers[p];
			if (prov->type != RK_PROV_KMS || !prov->kms.endpoint)
				continue;
			const char *path = prov->kms.endpoint;
			if (!strncmp(path, "unix://", 7))
				path += 7;
			struct sockaddr_un addr = {.sun_family = AF_UNIX};
			snprintf(addr.sun_path, sizeof addr.sun_path, "%s", path);
			int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
			ok = fd >= 0 && connect(fd, (struct sockaddr *)&addr, sizeof addr) == 0;
			if (fd >= 0)
				close(fd);
		}
	sbx_config_release(srv, cfg);
	return ok;
}

struct check {
	const char *name;
	int readyz_only;
};

static const struct check checks[] = {{"ping", 0},           {"log", 0},           {"etcd", 0},
                                      {"etcd-readiness", 1}, {"kms-providers", 0}, {"informer-sync", 1},
                                      {"shutdown", 1}};

static int run_check(sbx_server *srv, const char *name)
{
	if (!strcmp(name, "etcd") || !strcmp(name, "etcd-readiness"))
		return sbx_store_ping(srv) == 0;
	if (!strcmp(name, "kms-providers"))
		return kms_ok(srv);
	if (!strcmp(name, "shutdown")) {
		pthread_mutex_lock(&srv->lock);
		int stopping = srv->stopping;
		pthread_mutex_unlock(&srv->lock);
		return !stopping;
	}
	return 1;
}

int sbx_health(sbx_req *req)
{
	const char *kinds[] = {"healthz", "livez", "readyz"};
	for (int k = 0; k < 3; k++) {
		size_t n = strlen(kinds[k]);
		if (req->url[0] != '/' || strncmp(req->url + 1, kinds[k], n) ||
		    (req->url[n + 1] && req->url[n + 1] != '/'))
			continue;
		const char *one = req->url[n + 1] == '/' ? req->url + n + 2 : NULL;
		int readyz = k == 2;
		rk_buf text = RK_BUF_INIT;
		int all_ok = 1, found = 0;
		for (size_t i = 0; i < sizeof checks / sizeof checks[0]; i++) {
			if (checks[i].readyz_only && !readyz)
				continue;
			if (one && strcmp(one, checks[i].name))
				continue;
			found = 1;
			int ok = run_check(req->srv, checks[i].name);
			all_ok &= ok;
			rk_buf_printf(&text, ok ? "[+]%s ok\n" : "[-]%s failed: reason withheld\n",
			              checks[i].name);
		}
		if (one && !found) {
			rk_buf_free(&text);
			not_found_path(req);
			return 1;
		}
		rk_buf_printf(&text, "%s check %s\n", kinds[k], all_ok ? "passed" : "failed");
		int verbose = sbx_req_has_query(req, "verbose");
		sbx_reply_text(req, all_ok ? 200 : 500, "text/plain; charset=utf-8",
		               all_ok && !verbose ? "ok" : rk_buf_cstr(&text));
		rk_buf_free(&text);
		return 1;
	}
	return 0;
}

/* ---- resources ---- */

static int content_is(const char *ct, const char *want)
{
	size_t n = strlen(want);
	return ct && !strncasecmp(ct, want, n) && (ct[n] == 0 || ct[n] == ';' || ct[n] == ' ');
}

/* The PATCH format named by the content type; -1 when not one the sandbox applies. */
static int patch_type_of(const char *ct)
{
	if (content_is(ct, "application/merge-patch+json"))
		return SBX_PATCH_MERGE;
	if (content_is(ct, "application/strategic-merge-patch+json"))
		return SBX_PATCH_STRATEGIC;
	if (content_is(ct, "application/json-patch+json"))
		return SBX_PATCH_JSON;
	return -1;
}

/* A protobuf body (kubectl's typed generators post Secrets and ConfigMaps that way). */
static int read_protobuf_body(sbx_req *req, json_t **body)
{
	char why[200];
	int unsupported = 0;
	*body = sbx_pb_decode_object(req->body.data, req->body.len, &unsupported, why, sizeof why);
	if (*body)
		return 0;
	if (unsupported)
		reply_error(req, 415, "UnsupportedMediaType", "%s", why);
	else
		reply_error(req, 400, "BadRequest", "the body of the request could not be decoded: %s", why);
	return -1;
}

/* Parses the JSON body of a write; 0 = ok (*body set), -1 = answered (400/415). For PATCH (patch_type
 * non-NULL) the content type selects the patch format. */
static int read_body(sbx_req *req, int *patch_type, json_t **body)
{
	const char *ct = req->content_type;
	if (!patch_type && ct && content_is(ct, "application/vnd.kubernetes.protobuf"))
		return read_protobuf_body(req, body);
	int ok_type =
	    patch_type ? (*patch_type = patch_type_of(ct)) >= 0 : !ct || content_is(ct, "application/json");
	if (!ok_type) {
		char msg[300];
		snprintf(
		    msg, sizeof msg,
		    "the body of the request was in an unknown format - accepted media types include: %s",
		    patch_type ? "application/json-patch+json, application/merge-patch+json, "
		                 "application/strategic-merge-patch+json"
		               : "application/json");
		reply_error(req, 415, "UnsupportedMediaType", "%s", msg);
		return -1;
	}
	json_error_t jerr;
	*body = json_loadb((const char *)req->body.data, req->body.len, 0, &jerr);
	if (!*body) {
		char msg[300];
		snprintf(msg, sizeof msg,
		         "the body of the request could not be decoded: %s (line %d, column %d)", jerr.text,
		         jerr.line, jerr.column);
		reply_error(req, 400, "BadRequest", "%s", msg);
		return -1;
	}
	return 0;
}

static void set_labels(sbx_req *req, const sbx_resource *res, const char *ns, const char *name)
{
	snprintf(req->resource_label, sizeof req->resource_label, "%s", res->name);
	snprintf(req->group_label, sizeof req->group_label, "%s", res->group);
	req->resource = req->resource_label; /* a custom resource's names live only while it is routed */
	req->group = req->group_label;
	/* kube-apiserver 1.34 counts a create as scope "resource" (endpoints/metrics CleanScope) */
	req->scope = name || !strcmp(req->method, "POST") ? "resource" : ns ? "namespace" : "cluster";
	if (!strcmp(req->method, "GET"))
		req->verb = name ? "GET" : "LIST";
}

static void answer_result(sbx_req *req, int rc, int code, json_t *out, sbx_apierr *e)
{
	if (rc == 0)
		sbx_reply_json(req, code, out);
	else
		sbx_reply_error(req, e);
}

static void handle_write(sbx_req *req, const sbx_resource *res, const char *ns, const char *name)
{
	sbx_server *srv = req->srv;
	sbx_apierr e;
	memset(&e, 0, sizeof e);
	json_t *body = NULL, *out = NULL;
	int rc, code = 200, patch_type = 0, created = 0;
	const char *m = req->method;
	if (!strcmp(m, "DELETE")) {
		rc = sbx_store_delete(srv, res, ns, name, &out, &e);
	} else if (!strcmp(m, "POST") && !name) {
		if (read_body(req, NULL, &body) < 0)
			return;
		rc = sbx_store_create(srv, res, ns, body, &out, &e);
		code = 201;
	} else if (!strcmp(m, "PUT") && name) {
		if (read_body(req, NULL, &body) < 0)
			return;
		rc = sbx_store_update(srv, res, ns, name, body, &out, &created, &e);
		code = created ? 201 : 200;
	} else if (!strcmp(m, "PATCH") && name) {
		if (read_body(req, &patch_type, &body) < 0)
			return;
		rc = sbx_store_patch(srv, res, ns, name, body, (sbx_patch_type)patch_type, &out, &e);
	} else {
		reply_error(req, 405, "MethodNotAllowed",
		            "the server does not allow this method on the requested "
		            "resource%s",
		            "");
		return;
	}
	json_decref(body);
	answer_result(req, rc, code, out, &e);
}

/* Query parameters the sandbox does not implement are refused rather than ignored (ignoring dryRun
 * would write, ignoring a selector would answer too much). */
static int unsupported_query(sbx_req *req)
{
	static const char *const refused[] = {"dryRun", "watch", "fieldSelector", "resourceVersionMatch"};
	for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++)
		if (sbx_req_has_query(req, refused[i])) {
			reply_error(req, 400, "BadRequest",
			            "the sandbox apiserver does not support the %s parameter", refused[i]);
			return 1;
		}
	return 0;
}

static void handle_resource(sbx_req *req, const sbx_resource *res, const char *ns, const char *name)
{
	set_labels(req, res, ns, name);
	if (unsupported_query(req))
		return;
	sbx_apierr e;
	memset(&e, 0, sizeof e);
	json_t *out = NULL;
	if (!strcmp(req->method, "GET")) {
		int rc;
		if (name) {
			rc = sbx_store_get(req->srv, res, ns, name, &out, &e);
		} else {
			const char *lim = sbx_req_query(req, "limit");
			const char *selector = sbx_req_query(req, "labelSelector");
			rc = sbx_store_list(req->srv, res, ns, lim ? strtol(lim, NULL, 10) : 0,
			                    sbx_req_query(req, "continue"), &out, &e);
			if (rc == 0 && selector && *selector && sbx_selector_filter(out, selector, &e) < 0) {
				json_decref(out);
				out = NULL;
				rc = -1;
			}
		}
		answer_result(req, rc, 200, out, &e);
		return;
	}
	if (!res->writable || (!strcmp(req->method, "POST") && name) ||
	    (strcmp(req->method, "POST") && !name)) {
		reply_error(req, 405, "MethodNotAllowed",
		            "the server does not allow this method on the requested "
		            "resource%s",
		            "");
		return;
	}
	handle_write(req, res, ns, name);
}

/* Splits the path after the group-version prefix into at most 5 segments. */
static int split(char *path, char **seg, int max)
{
	int n = 0;
	for (char *save = NULL, *t = strtok_r(path, "/", &save); t; t = strtok_r(NULL, "/", &save)) {
		if (n == max)
			return -1;
		seg[n++] = t;
	}
	return n;
}

/* A resource of group/version: built in, or a custom resource whose CRD serves it (into custom). */
static const sbx_resource *find_resource(sbx_req *req, const char *group, const char *version,
                                         const char *name, sbx_custom *custom)
{
	const sbx_resource *res = sbx_resource_find(group, name);
	if (res || !strchr(group, '.') || !strcmp(group, "coordination.k8s.io") ||
	    !strcmp(group, "apiextensions.k8s.io"))
		return res && !strcmp(version, "v1") ? res : NULL; /* every built-in is served at v1 */
	sbx_apierr e;
	return sbx_custom_find(req->srv, group, version, name, custom, &e) == 1 ? &custom->res : NULL;
}

/* A resource URL split: its group, version and the path under them. */
struct api_path {
	char group[256], version[64];
	const char *rest;
};

/* What a resource path names: the resource (NULL when none; a custom one lives in custom), namespace and
 * name. */
struct target {
	char path[2048]; /* ns and name point into it */
	sbx_custom custom;
	const sbx_resource *res;
	const char *ns, *name;
};

static void resolve(sbx_req *req, const struct api_path *a, struct target *t)
{
	memset(t, 0, sizeof *t);
	snprintf(t->path, sizeof t->path, "%s", a->rest);
	char *seg[5];
	int n = split(t->path, seg, 5);
	const char *group = a->group, *version = a->version;
	t->res = n > 0 && strcmp(seg[0], "namespaces")
	             ? find_resource(req, group, version, seg[0], &t->custom)
	             : NULL;
	if (n > 0 && !strcmp(seg[0], "namespaces") && !*group)
		t->res = sbx_resource_find(group, seg[0]);
	if (n >= 3 && !strcmp(seg[0], "namespaces") && n <= 4) {
		t->res = find_resource(req, group, version, seg[2], &t->custom);
		t->ns = seg[1];
		t->name = n == 4 ? seg[3] : NULL;
		if (t->res && !t->res->namespaced)
			t->res = NULL;
	} else if (t->res && n == 2) {
		t->name = seg[1];
		if (t->res->namespaced)
			t->res = NULL; /* /api/v1/secrets/NAME does not exist */
	} else if (n != 1) {
		t->res = NULL;
	}
}

/* The group, version and rest of a resource URL, 0 when the URL is not under a group version. */
static int api_prefix(const char *u, struct api_path *a)
{
	int used = 0;
	a->group[0] = '\0';
	snprintf(a->version, sizeof a->version, "v1");
	if (!strncmp(u, "/api/v1/", 8)) {
		a->rest = u + 8;
		return 1;
	}
	if (sscanf(u, "/apis/%255[^/]/%63[^/]/%n", a->group, a->version, &used) == 2 && used > 0) {
		a->rest = u + used;
		return 1;
	}
	return 0;
}

void sbx_route_labels(sbx_req *req)
{
	struct api_path a;
	struct target t;
	if (!api_prefix(req->url, &a))
		return;
	resolve(req, &a, &t);
	if (t.res)
		set_labels(req, t.res, t.ns, t.name);
}

static void route_api(sbx_req *req, const struct api_path *a)
{
	struct target t;
	resolve(req, a, &t);
	if (!t.res) {
		not_found_path(req);
		return;
	}
	if (!strcmp(req->method, "POST") && !t.ns && t.res->namespaced) {
		not_found_path(req); /* creating needs a namespace in the path */
		return;
	}
	handle_resource(req, t.res, t.ns, t.name);
}

static void reply_version(sbx_req *req)
{
	json_t *v =
	    json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s}", "major", "1", "minor", "32", "gitVersion",
	              "v1.32.0-rekey-sandbox", "gitCommit", "0000000000000000000000000000000000000000",
	              "gitTreeState", "clean", "buildDate", "2026-01-01T00:00:00Z", "goVersion", "go1.23",
	              "compiler", "gc", "platform", "linux/amd64");
	sbx_reply_json(req, 200, v);
}

void sbx_route(sbx_req *req)
{
	const char *u = req->url;
	int get = !strcmp(req->method, "GET");
	if (get && !strcmp(u, "/version")) {
		reply_version(req);
		return;
	}
	if (get && sbx_health(req))
		return;
	if (get && !strcmp(u, "/metrics")) {
		char *text = sbx_metrics_render();
		sbx_reply_text(req, 200, "text/plain; version=0.0.4; charset=utf-8", text);
		free(text);
		return;
	}
	json_t *disc = get ? sbx_discovery(req->srv, u) : NULL;
	if (disc) {
		sbx_reply_json(req, 200, disc);
		return;
	}
	struct api_path a;
	if (api_prefix(u, &a))
		route_api(req, &a);
	else
		not_found_path(req);
}
