/* apiserver.h: shared state and internal interfaces of the sandbox apiserver process
 * (`rekey-sandbox apiserver`): the served resources, the loaded encryption config, a request being
 * answered, and the storage operations behind the REST routes. */
#ifndef REKEY_SBX_APISERVER_H
#define REKEY_SBX_APISERVER_H

#include <jansson.h>
#include <pthread.h>
#include <stdint.h>

#include "etcd.h"
#include "rekey/buf.h"
#include "rekey/codec.h"
#include "rekey/encconfig.h"

typedef enum sbx_res_id {
	SBX_SECRETS,
	SBX_CONFIGMAPS,
	SBX_NAMESPACES,
	SBX_PODS,
	SBX_LEASES,
	SBX_CRDS,
	SBX_NRES,   /* the built-in resources above */
	SBX_CUSTOM, /* a custom resource, described by its CRD (sbx_custom) */
} sbx_res_id;

typedef struct sbx_resource {
	sbx_res_id id;
	const char *name; /* plural */
	const char *singular;
	const char *kind;
	const char *group;         /* "" = core */
	const char *group_version; /* "v1", "coordination.k8s.io/v1": the version served */
	int namespaced;
	int writable;           /* every resource the sandbox serves can be written */
	const char *short_name; /* NULL when none */
	const char *prefix;     /* etcd path element after /registry/ (NULL = name): "example.com/widgets" */
	const char *stored_gv;  /* apiVersion of the stored object (NULL = group_version): a CRD's storage
	                           version, which the object is converted to and from ("None" strategy) */
} sbx_resource;

extern const sbx_resource sbx_resources[SBX_NRES];
const sbx_resource *sbx_resource_find(const char *group, const char *name);

/* A custom resource as its CRD describes it, served at one version (objects_crd.c). */
typedef struct sbx_custom {
	sbx_resource res;
	char name[128], singular[128], kind[128], group[256], gv[320], prefix[400], stored_gv[320];
} sbx_custom;

/* One loaded EncryptionConfiguration with a transformer chain per rule (and an identity chain for the
 * resources no rule covers); shared by reference count. */
typedef struct sbx_config {
	rk_encconfig *cfg;
	rk_chain **rule_chains; /* one per rule of cfg */
	rk_chain *identity;
	char hash[72];
	int refs;
} sbx_config;

/* The chain that stores and reads res: its rule's (exact, "*.group", "*.*") or identity. */
rk_chain *sbx_config_chain(const sbx_config *cfg, const sbx_resource *res);

typedef struct sbx_server {
	const char *dir, *node, *config_path, *etcd_url;
	int port, auto_reload, reload_period;
	pthread_mutex_t lock; /* guards cfg and the stop flag */
	pthread_cond_t wake;
	sbx_config *cfg;
	int stopping;
	char id[64]; /* APIServerID: "apiserver-" + base32(sha256(hostname, "kube-apiserver"))[:16 bytes] */
	char id_hash[72]; /* "sha256:" + hex(sha256(id)) as the metrics label apiserver_id_hash */
	char faults_path[4096];
	struct MHD_Daemon *daemon;
} sbx_server;

/* Config handling (apiserver.c). */
sbx_config *sbx_config_acquire(sbx_server *srv);
void sbx_config_release(sbx_server *srv, sbx_config *cfg);

/* An API error, answered as a kind: Status object. */
typedef struct sbx_apierr {
	int code;           /* HTTP status */
	const char *reason; /* NotFound, AlreadyExists, Conflict, Invalid, BadRequest, Expired, ... */
	char message[1024];
	const sbx_resource *res;  /* details.kind / group (NULL = none) */
	const char *details_kind; /* overrides res (e.g. "namespaces") */
	char name[256];
	char *continue_token; /* metadata.continue (410 Expired), malloc'd */
	int retry_after;      /* details.retryAfterSeconds (429, 503), 0 = none */
} sbx_apierr;

void sbx_apierr_set(sbx_apierr *e, int code, const char *reason, const sbx_resource *res, const char *name,
                    const char *fmt, ...) __attribute__((format(printf, 6, 7)));
json_t *sbx_status_json(const sbx_apierr *e); /* the kind: Status body */
/* Keeps the items of a list matching an equality-based labelSelector (selector.c); -1 with a 400 in e
 * when the selector is not one. */
int sbx_selector_filter(json_t *list, const char *selector, sbx_apierr *e);
/* A protobuf request body ("k8s\0" + runtime.Unknown) of a v1 Secret or ConfigMap as the JSON object
 * (protobuf.c); NULL with the reason in why, *unsupported = 1 when it is another kind. */
json_t *sbx_pb_decode_object(const uint8_t *body, size_t len, int *unsupported, char *why, size_t cap);

/* Storage (objects.c). All return 0 (*out set, *http_code 200 or 201) or -1 (e filled). */
int sbx_store_get(sbx_server *srv, const sbx_resource *res, const char *ns, const char *name, json_t **out,
                  sbx_apierr *e);
int sbx_store_list(sbx_server *srv, const sbx_resource *res, const char *ns, long limit, const char *cont,
                   json_t **out, sbx_apierr *e);
int sbx_store_create(sbx_server *srv, const sbx_resource *res, const char *ns, json_t *body, json_t **out,
                     sbx_apierr *e);
int sbx_store_update(sbx_server *srv, const sbx_resource *res, const char *ns, const char *name, json_t *body,
                     json_t **out, int *created, sbx_apierr *e);
typedef enum sbx_patch_type { SBX_PATCH_MERGE, SBX_PATCH_STRATEGIC, SBX_PATCH_JSON } sbx_patch_type;
int sbx_store_patch(sbx_server *srv, const sbx_resource *res, const char *ns, const char *name, json_t *patch,
                    sbx_patch_type type, json_t **out, sbx_apierr *e);
/* The patched copy of cur (objects_patch.c); NULL with e set (400 malformed patch, 422 cannot apply). */
json_t *sbx_apply_patch(json_t *cur, json_t *patch, sbx_patch_type type, sbx_apierr *e);
int sbx_store_delete(sbx_server *srv, const sbx_resource *res, const char *ns, const char *name, json_t **out,
                     sbx_apierr *e);
/* Creates the object when absent (bootstrap namespaces); 0 when it exists or was created. */
int sbx_store_ensure(sbx_server *srv, const sbx_resource *res, const char *ns, json_t *obj, sbx_apierr *e);
/* Reachability of etcd for /readyz (0 = ok). */
int sbx_store_ping(sbx_server *srv);

/* The etcd key of an object: /registry/<prefix>/[<ns>/]<name>. */
void sbx_object_key(const sbx_resource *res, const char *ns, const char *name, rk_buf *out);

/* Custom resources (objects_crd.c). sbx_custom_find: the CRD serving group/version/plural (1, out filled),
 * none (0), or an error reading CRDs (-1, e filled). sbx_crd_check: the checks and defaults of a CRD
 * being created or replaced (0, or -1 with e: 422). sbx_custom_groups: every served CRD (decoded list
 * items, caller frees), for discovery. */
int sbx_custom_find(sbx_server *srv, const char *group, const char *version, const char *plural,
                    sbx_custom *out, sbx_apierr *e);
int sbx_crd_check(json_t *crd, sbx_apierr *e);
json_t *sbx_custom_crds(sbx_server *srv);
/* A deny-label fault (faults.h) refuses updates of an object carrying that label, before or after the
 * update, as a ValidatingAdmissionPolicy with an objectSelector would: 0 = allowed, -1 = refused (e). */
int sbx_admission_update(const sbx_resource *res, const char *name, json_t *old_obj, json_t *new_obj,
                         sbx_apierr *e);

/* A request being answered (http_server.c fills it, apiserver_routes.c answers it). */
typedef struct sbx_req {
	sbx_server *srv;
	struct MHD_Connection *conn;
	const char *method, *url;
	const char *content_type;
	rk_buf body;
	/* answer */
	int status;
	rk_buf out;
	const char *out_type;
	int retry_after; /* > 0: Retry-After header */
	/* labels for the metrics (resource and group point into the two buffers) */
	const char *verb, *resource, *group, *scope;
	char resource_label[128], group_label[256];
	int mutating;
} sbx_req;

const char *sbx_req_query(sbx_req *req, const char *name);   /* NULL when absent */
int sbx_req_has_query(sbx_req *req, const char *name);       /* 1 when present, even without a value */
void sbx_reply_json(sbx_req *req, int status, json_t *body); /* steals body */
void sbx_reply_text(sbx_req *req, int status, const char *type, const char *text);
void sbx_reply_error(sbx_req *req, sbx_apierr *e); /* frees e->continue_token */
void sbx_route(sbx_req *req);
/* The metric labels (resource, group, scope, GET/LIST) of a resource URL, set before the request is
 * routed, so an answer from the fault injection carries them as kube-apiserver's filters' answers do. */
void sbx_route_labels(sbx_req *req);

/* Discovery documents (apiserver_discovery.c), the CRDs' groups included: NULL when path is not a
 * discovery path. */
json_t *sbx_discovery(sbx_server *srv, const char *path);
/* Health endpoints (apiserver_routes.c). */
int sbx_health(sbx_req *req);

#endif
