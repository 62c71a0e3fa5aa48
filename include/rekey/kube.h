/* kube.h: the Kubernetes API client. One rk_kube holds a libcurl multi handle: many requests in flight
 * on few connections (HTTP/2 streams when the server offers h2 by ALPN, HTTP/1.1 keep-alive otherwise),
 * the credentials of one kubeconfig context (client certificate, bearer token, token file re-read when
 * it changes, exec plugin cached until it expires and re-run on 401), and the retry policy:
 * 429 (Retry-After honoured), 500/502/503/504, timeouts and connection errors are retried with
 * exponential backoff and jitter, bounded in attempts and total time; 400/401/403/404/409/422 and
 * certificate errors are returned at once with the server's message.
 *
 * Asynchronous use (the rewrite engine keeps N writes in flight from one thread):
 *     rk_kube_submit(k, &req, done, user, &err);   ... as many as wanted ...
 *     while (rk_kube_pending(k)) rk_kube_poll(k, 100);   // callbacks run inside poll
 * Blocking use: rk_kube_request() and the wrappers below. They drive the same engine, so callbacks of
 * other requests in flight may run while a blocking call waits. Not thread-safe: one thread per rk_kube. */
#ifndef REKEY_KUBE_H
#define REKEY_KUBE_H

#include <jansson.h>
#include <stddef.h>

#include "rekey/buf.h"
#include "rekey/err.h"
#include "rekey/kubeconfig.h"

typedef struct rk_kube rk_kube;

typedef struct rk_kube_opts {
	long connect_timeout_ms;   /* default 5000 */
	long request_timeout_ms;   /* per attempt, default 30000 */
	int max_attempts;          /* default 6 (1 = no retries) */
	long retry_budget_ms;      /* all attempts of one request, default 60000 */
	long backoff_base_ms;      /* first retry delay (before jitter), default 200 */
	long backoff_max_ms;       /* cap of one delay, default 8000 */
	long max_host_connections; /* connections per apiserver (HTTP/1.1), default 8; a caller keeping N
	                            * requests in flight sets N. Over HTTP/2 one connection per apiserver
	                            * carries max(100, this) streams. */
	int http1_only;            /* never negotiate HTTP/2 */
} rk_kube_opts;

typedef struct rk_kube_req {
	const char *method;   /* "GET", "PUT", "POST", "DELETE", "PATCH" */
	const char *path;     /* "/api/v1/namespaces/ns/secrets?limit=500" (already escaped) */
	const char *endpoint; /* NULL: the cluster server; else one apiserver, "https://127.0.0.1:6444" */
	const void *body;     /* copied at submit */
	size_t body_len;
	const char *content_type; /* default "application/json" when there is a body */
	const char *accept;       /* default "application/json" */
	int no_retry;             /* one attempt only (probes that must see the first answer) */
	/* Picks the apiserver of each attempt, retries included (NULL: `endpoint` for every attempt): returns
	 * an endpoint URL, or NULL for the cluster server. The string must live until the attempt's
	 * observer call. attempt counts from 1. */
	const char *(*pick)(void *pick_user, int attempt);
	void *pick_user;
} rk_kube_req;

typedef struct rk_kube_resp {
	long http_status;      /* 0 when no HTTP response arrived (connection error, timeout) */
	rk_buf body;           /* raw body of the last attempt */
	json_t *json;          /* body parsed when it is JSON, else NULL */
	char *reason;          /* Status reason ("NotFound", "Expired", ...) or NULL */
	char *message;         /* Status message or the first line of a non-JSON error body, or NULL */
	char *status_continue; /* Status metadata.continue (410 Expired with an inconsistent token) */
	long retry_after_s;    /* Retry-After header or details.retryAfterSeconds, -1 when absent */
	int attempts;          /* attempts made */
	int http_version;      /* 1 or 2 (last attempt), 0 when unknown */
	double latency_s;      /* last attempt, request sent to response complete */
	double total_s;        /* submit to completion, retries and waits included */
	char *url;             /* the URL requested (the endpoint, even with tls-server-name) */
	rk_err err;            /* RK_OK for 2xx; else one line "METHOD URL: ..." */
} rk_kube_resp;

/* Called once per submitted request, from inside rk_kube_poll (or a blocking call). resp belongs to the
 * engine and is freed when the callback returns (take resp->json with json_incref to keep it). The
 * callback may submit new requests. */
typedef void (*rk_kube_done_fn)(void *user, rk_kube_resp *resp);

/* Called after every attempt (retries included), e.g. to feed a latency/error budget. endpoint is what
 * the request's pick returned for the attempt (the same pointer), else the request's endpoint (NULL = the
 * cluster server). */
typedef void (*rk_kube_observe_fn)(void *user, const char *method, const char *endpoint, long http_status,
                                   double latency_s);

/* Asked after an attempt the client would retry (429, 5xx, a connection error; attempt->attempts counts
 * the attempts made, this one included): returning 1 makes that answer final, for a caller that knows
 * retrying cannot help (the rewrite, once apiservers answered that their KMS failed). */
typedef int (*rk_kube_final_fn)(void *user, const rk_kube_resp *attempt);

typedef struct rk_kube_stats {
	unsigned long requests;    /* submitted */
	unsigned long attempts;    /* HTTP attempts, retries included */
	unsigned long retries;     /* attempts after the first */
	unsigned long connections; /* new TCP connections opened */
	unsigned long exec_runs;   /* exec credential plugin runs */
	unsigned long http2;       /* attempts answered over HTTP/2 */
} rk_kube_stats;

/* Creates a client for cfg (which must outlive it). opts NULL = defaults. */
int rk_kube_new(const rk_kube_config *cfg, const rk_kube_opts *opts, rk_kube **out, rk_err *err);
/* Loads the kubeconfig (rk_kubeconfig_load) and creates a client that owns it (rk_kube_free frees both). */
int rk_kube_open(const rk_kubeconfig_opts *kubeconfig, const rk_kube_opts *opts, rk_kube **out, rk_err *err);
/* Frees the client; requests still pending are dropped without their callbacks (close lists first: a
 * list waits for its page in flight). Safe with NULL. */
void rk_kube_free(rk_kube *k);
const rk_kube_config *rk_kube_get_config(const rk_kube *k);
void rk_kube_set_observer(rk_kube *k, rk_kube_observe_fn fn, void *user);
void rk_kube_set_final(rk_kube *k, rk_kube_final_fn fn, void *user);
void rk_kube_get_stats(const rk_kube *k, rk_kube_stats *out);

/* Queues a request. Fails (and does not call done) only on bad arguments, out of memory, or when the
 * credentials cannot be obtained (exec plugin failure, unreadable token file): RK_BADINPUT then. */
int rk_kube_submit(rk_kube *k, const rk_kube_req *req, rk_kube_done_fn done, void *user, rk_err *err);
/* Runs transfers and due retries, waiting at most timeout_ms for something to happen; runs callbacks.
 * Returns the number of requests still pending. */
size_t rk_kube_poll(rk_kube *k, long timeout_ms);
/* Makes a rk_kube_poll that is waiting return at once (e.g. after a signal set a stop flag). */
void rk_kube_wakeup(rk_kube *k);
/* Polls until nothing is pending. */
void rk_kube_run_until_idle(rk_kube *k);
size_t rk_kube_pending(const rk_kube *k);

/* Blocking request: fills resp (free it with rk_kube_resp_free); returns resp->err.code. */
int rk_kube_request(rk_kube *k, const rk_kube_req *req, rk_kube_resp *resp);
void rk_kube_resp_free(rk_kube_resp *resp);

/* ---- blocking wrappers (kube_ops.c) ---- */

/* method + JSON body (may be NULL) -> parsed JSON answer in *out (may be NULL when not wanted).
 * *http_status (may be NULL) gets the status even on errors, so callers can tell 404/409 apart. */
int rk_kube_call_json(rk_kube *k, const char *method, const char *endpoint, const char *path, json_t *body,
                      json_t **out, long *http_status, rk_err *err);
int rk_kube_get(rk_kube *k, const char *path, json_t **out, long *http_status, rk_err *err);
int rk_kube_create(rk_kube *k, const char *collection_path, json_t *obj, json_t **out, long *http_status,
                   rk_err *err);
int rk_kube_replace(rk_kube *k, const char *object_path, json_t *obj, json_t **out, long *http_status,
                    rk_err *err);
int rk_kube_delete(rk_kube *k, const char *object_path, long *http_status, rk_err *err);

/* Raw text from an endpoint (NULL = cluster): /metrics, /version, ... 2xx only. */
int rk_kube_get_text(rk_kube *k, const char *endpoint, const char *path, rk_buf *out, rk_err *err);
/* /readyz?verbose (check NULL) or /readyz/<check>?verbose on endpoint. *ready = 1 on 200, 0 on any other
 * HTTP answer (the text says why); an error only when no HTTP answer came. Never retried. */
int rk_kube_readyz(rk_kube *k, const char *endpoint, const char *check, rk_buf *text, int *ready,
                   rk_err *err);
/* /readyz?verbose&exclude=A&exclude=B for exclude "A,B" (the apiserver skips those checks; NULL or ""
 * = every check runs), as rk_kube_readyz. */
int rk_kube_readyz_excluding(rk_kube *k, const char *endpoint, const char *exclude, rk_buf *text, int *ready,
                             rk_err *err);

/* Leases (coordination.k8s.io/v1). get: *out NULL and RK_OK when it does not exist. create: 409 when
 * someone holds it (see *http_status). renew: PUT of `lease` (as read, carrying its resourceVersion)
 * with renewTime = now and holderIdentity = holder; 409 when it changed since it was read. */
int rk_kube_lease_get(rk_kube *k, const char *ns, const char *name, json_t **out, rk_err *err);
int rk_kube_lease_create(rk_kube *k, const char *ns, const char *name, const char *holder, int duration_s,
                         json_t **out, long *http_status, rk_err *err);
int rk_kube_lease_renew(rk_kube *k, json_t *lease, const char *holder, json_t **out, long *http_status,
                        rk_err *err);
/* `kubectl auth can-i`: a SelfSubjectAccessReview (authorization.k8s.io/v1) of verb on group/resource in
 * ns ("" = every namespace, or cluster scope). *allowed 1 or 0, or -1 when the apiserver cannot say (no
 * such API: 404; creating the review forbidden: 403), with the reason (or the review's reason) in
 * reason. An error only when no answer came. */
int rk_kube_can_i(rk_kube *k, const char *verb, const char *group, const char *resource, const char *ns,
                  int *allowed, char *reason, size_t cap, rk_err *err);

/* Current time as a Kubernetes MicroTime ("2026-01-02T03:04:05.123456Z"). */
void rk_kube_microtime(char out[32]);

/* ---- discovery (kube_discovery.c) ---- */

/* The longest resource name rekeyctl takes ("resource[.version].group"): the state db's name limit.
 * A version is a DNS label (at most 63 characters). */
#define RK_KUBE_NAME_MAX 255
#define RK_KUBE_VERSION_MAX 63

typedef struct rk_kube_resource {
	char group[RK_KUBE_NAME_MAX + 1];      /* "" for the core group */
	char version[RK_KUBE_VERSION_MAX + 1]; /* "v1" */
	char resource[RK_KUBE_NAME_MAX + 1];   /* plural, "secrets" */
	char kind[RK_KUBE_NAME_MAX + 1];       /* "Secret" */
	int namespaced;
} rk_kube_resource;

/* Maps "secrets", "deployments.apps" or "deployments.v1.apps" to its group/version via /api/v1 and
 * /apis (+ /apis/<group>/<version>). RK_BADINPUT when discovery does not know it, or the name is
 * longer than RK_KUBE_NAME_MAX, its version longer than RK_KUBE_VERSION_MAX, or it holds anything
 * but lowercase letters, digits, '-' and '.'; RK_FAIL when discovery answers a kind or version too
 * long for the fields. */
int rk_kube_discover(rk_kube *k, const char *name, rk_kube_resource *out, rk_err *err);
/* The resources whose objects the apiserver stores, found by discovery (rk_kube_stored_resources). */
typedef struct rk_kube_resources {
	rk_kube_resource *items;
	size_t n;
} rk_kube_resources;

/* Every stored resource of the cluster: each group of /api and /apis and every version it serves
 * (preferred first), each resource once, at the first version serving it (a custom resource at the
 * storage version of its CRD, spec.versions[].storage, when that version is served). Skipped: subresources
 * ("pods/status"), resources whose discovery verbs lack list or update (tokenreviews,
 * subjectaccessreviews, selfsubjectrulesreviews, bindings, componentstatuses: nothing is stored), group
 * versions an aggregated APIService serves (spec.service set: stored by another server), and resources
 * stored as another group's (events.k8s.io events are core events in etcd; the extensions group). Lists
 * apiservices and customresourcedefinitions: refused (403), RK_UNSAFE naming the grant. */
int rk_kube_stored_resources(rk_kube *k, rk_kube_resources *out, rk_err *err);
void rk_kube_resources_free(rk_kube_resources *r);
/* "secrets", "deployments.apps": the name a checkpoint, a config entry and verify use. */
void rk_kube_resource_name(const rk_kube_resource *r, char *out, size_t cap);
/* "secrets", "widgets.v1.example.com": the name rk_kube_discover resolves to exactly r (its version). */
void rk_kube_resource_spec(const rk_kube_resource *r, char *out, size_t cap);

/* Objects of a resource (in namespace ns, NULL = all): one item and the list's remainingItemCount, else
 * counted by paging through. -1 when the list fails. */
long long rk_kube_count(rk_kube *k, const rk_kube_resource *r, const char *ns);

/* Path of the collection (name NULL) or of one object; ns NULL or "" = all namespaces / cluster scope.
 * Names are URL-escaped. Returns 0, -1 when out of memory. */
int rk_kube_resource_path(const rk_kube_resource *r, const char *ns, const char *name, rk_buf *out);

/* ---- paging (kube_list.c) ---- */

typedef struct rk_kube_list rk_kube_list;

/* Streams a list: pages of `limit` items (limit/continue): the current page in memory, and the next one,
 * whose GET is sent as soon as a page becomes current. path is a
 * collection path, with or without a query (labelSelector=...). start_continue resumes a saved list.
 * When a continue token has expired (410) and the Status carries an inconsistent continue token, the
 * list goes on from it (rk_kube_list_inconsistent() turns 1, a warning is logged); without one the
 * 410 is returned as an error. The list never restarts from the beginning by itself. */
int rk_kube_list_open(rk_kube *k, const char *path, int limit, const char *start_continue, rk_kube_list **out,
                      rk_err *err);
/* Next object in *item (borrowed until the next call), or NULL at the end; polls the client while the
 * next page is on its way. */
int rk_kube_list_next(rk_kube_list *l, json_t **item, rk_err *err);
/* The same without waiting: *ready 1 with *item set, or with *item NULL at the end; *ready 0 while the
 * next page is still on its way (poll the client, call again). */
int rk_kube_list_next_nowait(rk_kube_list *l, json_t **item, int *ready, rk_err *err);
/* Token that fetched the current page (NULL for the first page): a checkpoint saves it, and a resumed
 * list opens from it again (the rewrite skips what it already did on that page). */
const char *rk_kube_list_page_token(const rk_kube_list *l);
int rk_kube_list_inconsistent(const rk_kube_list *l);
size_t rk_kube_list_pages(const rk_kube_list *l);
void rk_kube_list_close(rk_kube_list *l);

#endif
