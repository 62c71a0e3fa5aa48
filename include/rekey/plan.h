/* plan.h: the rotation plan (YAML, apiVersion rekeyctl/v1, kind RotationPlan): what to rotate, where
 * the control-plane nodes and their configs are, how configs reach them, and the rewrite, budget and
 * maintenance-window settings. Loaded strictly with file:line:col errors. */
#ifndef REKEY_PLAN_H
#define REKEY_PLAN_H

#include <stddef.h>
#include <time.h>

#include "rekey/encconfig.h"
#include "rekey/err.h"
#include "rekey/rewrite_settings.h"
#include "rekey/tz.h"

typedef enum rk_access { RK_ACCESS_LOCAL = 0, RK_ACCESS_SSH, RK_ACCESS_EXEC } rk_access;
typedef enum rk_reload { RK_RELOAD_RESTART = 0, RK_RELOAD_AUTOMATIC } rk_reload;

typedef struct rk_plan_node {
	char *name;
	char *host;
	char *apiserver;     /* direct URL of this node's apiserver */
	char *config_path;   /* the node's own configPath, else controlPlane.configPath (always set) */
	char *manifest_path; /* the node's own manifestPath, else controlPlane.manifestPath (NULL: none) */
} rk_plan_node;

typedef struct rk_plan_ssh {
	char *user;
	char *identity_file;
	char *known_hosts;
	long port;
	int trust_on_first_use;
} rk_plan_ssh;

/* Exec hooks run as `sh -c COMMAND` in their own process group with RK_NODE, RK_HOST and
 * RK_CONFIG_PATH (the node's configPath); a hook still running after timeout_ms is killed (the whole
 * group) and fails. */
#define RK_PLAN_HOOK_TIMEOUT_MS 120000L
typedef struct rk_plan_exec {
	char *read;      /* copies the node's config into RK_CONFIG_FILE (an empty 0600 file); required */
	char *write;     /* installs RK_CONFIG_FILE (a 0600 file holding the new config) on the node */
	char *restart;   /* makes the node's apiserver load it; gets RK_CONFIG_HASH */
	char *ready;     /* command run with RK_NODE; exit 0 = ready */
	long timeout_ms; /* controlPlane.exec.timeout, default RK_PLAN_HOOK_TIMEOUT_MS */
} rk_plan_exec;

typedef struct rk_plan_window {
	unsigned days_mask;     /* bit 0 = Sunday ... bit 6 = Saturday; 0x7f = every day */
	int start_min, end_min; /* minutes after local midnight; end <= start spans midnight */
	char *timezone;         /* IANA name, e.g. Europe/Berlin */
	rk_tz *tz;              /* that zone, loaded (no TZ swapping: any thread may ask) */
} rk_plan_window;

typedef struct rk_plan_etcd {
	char *url, *cacert, *cert, *key;
} rk_plan_etcd;

/* Where a value was written in the plan file (1-based). */
typedef struct rk_plan_pos {
	int line, col;
} rk_plan_pos;

/* The `kms` section (provider: kms). The provider the configs get is `provider` (apiVersion v2 only:
 * v1 needs a feature gate since 1.29 and is refused). kek = 1: a KEK rotation: the config keeps this
 * provider (already the write provider of the resources in scope); the rotation waits until every
 * apiserver reports the plugin's current key_id, rewrites, and verifies that etcd holds nothing under
 * another keyID. */
#define RK_PLAN_KMS_WAIT_MS 300000L
typedef struct rk_plan_kms {
	rk_kms provider;        /* name, endpoint (unix://), timeout, api_version "v2"; name NULL = none */
	int kek;                /* kms.kek: true */
	char *key_id;           /* kms.keyID: the key_id to wait for; NULL = the plugin's Status */
	long pickup_timeout_ms; /* kms.pickupTimeout: KEK: every apiserver on the new key_id (5m) */
	long outage_timeout_ms; /* kms.outageTimeout: an unhealthy KMS pauses the rewrite this long (5m) */
} rk_plan_kms;

/* The `breakGlass` section: the pre-agreed emergency config `rekeyctl break-glass` writes while the KMS
 * is down (docs/kms.md, "Break glass"): a local aescbc key, from a 0600 key file checked at load, goes
 * first as the write provider; the plan's kms provider stays as a read provider; identity may be added
 * last (read only) for the resources named in identity_read, never secrets unless force. */
typedef struct rk_plan_break_glass {
	int present;          /* the plan has the section */
	char *key_file;       /* absolute path of the emergency key (base64, 16, 24 or 32 bytes, 0600) */
	char *key_name;       /* its name in the configs (default breakglass-<fingerprint>) */
	char fingerprint[17]; /* rk_key_fingerprint of that key, as the loader read it */
	char **identity_read; /* resources (in plan.resources) that get identity as last provider */
	size_t nidentity_read;
	int force; /* identity_read may name secrets */
} rk_plan_break_glass;

typedef struct rk_plan {
	char *path;
	char *cluster;
	char *kubeconfig, *context;
	/* The rules to rotate, each named by an entry it lists in the config: "secrets", "deployments.apps",
	 * "*.apps", "*." (core group), "*.*"; default [secrets]. A selected rule is rotated as a whole. */
	char **resources;
	size_t nresources;
	rk_plan_pos *resource_pos; /* where each entry was written; NULL for the default */
	rk_provider_type provider; /* target: aescbc, aesgcm, secretbox, identity (decrypt), kms */
	char *key_backup_dir;
	char *config_path, *manifest_path;
	rk_access access;
	rk_reload reload;
	char *canary;
	rk_plan_node *nodes;
	size_t nnodes;
	rk_plan_ssh ssh;
	rk_plan_exec exec;
	long ready_timeout_ms;
	long preflight_window_ms; /* budget.preflightWindow: the trend window before a rotation; 0 = none */
	rk_rewrite_settings
	    rewrite; /* the `rewrite` and `budget` sections (rotation defaults where absent) */
	rk_plan_window *windows;
	size_t nwindows;
	rk_plan_etcd etcd;
	rk_plan_kms kms; /* provider: kms only */
	rk_plan_break_glass break_glass;
} rk_plan;

/* The unix socket path of the plan's kms endpoint ("unix:///run/kms.sock" -> "/run/kms.sock"), NULL
 * when the plan has no kms section or the endpoint is not an absolute unix path. */
const char *rk_plan_kms_socket(const rk_plan *plan);

/* Loads and validates a plan; RK_BADINPUT "path:line:col: message" on any problem. */
int rk_plan_load_file(const char *path, rk_plan **out, rk_err *err);
int rk_plan_load_buf(const char *data, size_t len, const char *name, rk_plan **out, rk_err *err);
void rk_plan_free(rk_plan *plan);

const rk_plan_node *rk_plan_find_node(const rk_plan *plan, const char *name);
/* The nodes' apiserver URLs, each once, in plan order (what a rotation's rewrite spreads over): a
 * malloc'ed array of at most plan->nnodes pointers into the plan, count in *n; NULL when out of memory. */
const char **rk_plan_apiservers(const rk_plan *plan, size_t *n);
/* node->config_path and node->manifest_path (the loader resolves a node's paths). */
const char *rk_plan_node_config_path(const rk_plan *plan, const rk_plan_node *node);
const char *rk_plan_node_manifest_path(const rk_plan *plan, const rk_plan_node *node);

/* 1 when `when` falls inside a maintenance window (always 1 when the plan has none). When it does,
 * *window_end (if not NULL) receives the end of that window. */
int rk_plan_in_window(const rk_plan *plan, time_t when, time_t *window_end);

#endif
