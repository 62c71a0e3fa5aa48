/* kubeconfig.h: finds and reads the cluster connection settings exactly as kubectl does: --kubeconfig,
 * else the files in KUBECONFIG merged (the first file to name an entry wins, the first non-empty
 * current-context wins), else ~/.kube/config, else the in-cluster service account. The result is one
 * resolved context: server, TLS material (already read from files or decoded from -data fields) and
 * one way to authenticate. Errors name the file and the entry and carry RK_BADINPUT. */
#ifndef REKEY_KUBECONFIG_H
#define REKEY_KUBECONFIG_H

#include <stddef.h>

#include "rekey/buf.h"
#include "rekey/err.h"

typedef struct rk_kubeconfig_opts {
	const char *kubeconfig;       /* --kubeconfig FILE, or NULL */
	const char *context;          /* --context NAME, or NULL for current-context */
	int insecure_skip_tls_verify; /* the explicit --insecure-skip-tls-verify flag */
	const char *incluster_root;   /* NULL: /var/run/secrets/kubernetes.io/serviceaccount (tests) */
} rk_kubeconfig_opts;

enum rk_exec_interactive { RK_EXEC_NEVER = 0, RK_EXEC_IF_AVAILABLE = 1, RK_EXEC_ALWAYS = 2 };

/* users[].user.exec: a client-go credential plugin. */
typedef struct rk_exec_config {
	char *command;      /* resolved against the kubeconfig's directory when it holds a '/' */
	char **args;        /* NULL-terminated */
	char **env;         /* NULL-terminated "NAME=value" pairs added to the plugin's environment */
	char *api_version;  /* client.authentication.k8s.io/v1 or /v1beta1 */
	char *install_hint; /* printed when the command cannot be started */
	int provide_cluster_info;
	int interactive_mode; /* enum rk_exec_interactive */
	long timeout_ms;      /* a non-interactive run is killed (its process group) after this long */
} rk_exec_config;

/* How long a non-interactive exec plugin may run (client-go has no limit; a hung plugin must not hang
 * a rotation holding the cluster lock). An interactive run (a person at the terminal) has none. */
#define RK_EXEC_PLUGIN_TIMEOUT_MS 60000L

typedef struct rk_kube_config {
	char *source;       /* the file the context came from, or "in-cluster" */
	char *context_name; /* NULL when in-cluster */
	char *cluster_name;
	char *user_name;
	char *namespace_name;   /* context namespace, "default" when unset */
	char *server;           /* https://host:port[/prefix], no trailing slash */
	char *tls_server_name;  /* name to verify the server certificate against, or NULL */
	char *proxy_url;        /* or NULL */
	int insecure;           /* skip TLS verification (only with the explicit flag) */
	rk_buf ca_pem;          /* CA bundle bytes; empty: system trust store */
	char *ca_origin;        /* where ca_pem came from, for errors */
	rk_buf client_cert_pem; /* client certificate (PEM); empty when none */
	rk_buf client_key_pem;  /* client key (PEM); wiped on free */
	char *token;            /* static bearer token; wiped on free */
	char *token_file;       /* bearer token file, re-read when it changes */
	rk_exec_config *exec;   /* credential plugin, or NULL */
} rk_kube_config;

/* Loads the configuration selected by opts (see above). On error *out is NULL and err says which file
 * and entry is wrong; RK_BADINPUT for every problem in the inputs. */
int rk_kubeconfig_load(const rk_kubeconfig_opts *opts, rk_kube_config **out, rk_err *err);

/* Loads the in-cluster configuration from root (the service account directory) and the
 * KUBERNETES_SERVICE_HOST/PORT environment. */
int rk_kubeconfig_incluster(const char *root, rk_kube_config **out, rk_err *err);

/* Frees the configuration, wiping keys and tokens. Safe with NULL. */
void rk_kube_config_free(rk_kube_config *cfg);

#endif
