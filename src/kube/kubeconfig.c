/* kubeconfig.c: kubectl's loading rules (explicit file, KUBECONFIG merge, ~/.kube/config, in-cluster)
 * and resolution of one context into server, TLS material and credentials (see kubeconfig.h). */
#include "rekey/kubeconfig.h"

#include <openssl/crypto.h>
#include <openssl/pem.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "kubeconfig_internal.h"
#include "rekey/base64.h"
#include "rekey/fsutil.h"
#include "rekey/log.h"

#define KC_MAX_FILES 32

typedef struct kc_set {
	kc_file files[KC_MAX_FILES];
	size_t n;
	char names[512]; /* the files, joined with ':' for messages */
} kc_set;

/* ---- small helpers ---- */

static char *join_path(const char *dir, const char *path)
{
	if (!path || !*path)
		return NULL;
	if (path[0] == '/')
		return strdup(path);
	size_t n = strlen(dir) + strlen(path) + 2;
	char *p = malloc(n);
	if (p)
		snprintf(p, n, "%s/%s", dir, path);
	return p;
}

static char *dup_or_null(const char *s)
{
	return s && *s ? strdup(s) : NULL;
}

/* Appends the file's bytes to out (at most RK_INPUT_MAX); the read copy is wiped (keys, tokens). */
static int read_into(const char *path, rk_buf *out, rk_err *err)
{
	char *data = NULL;
	size_t len = 0;
	int rc = rk_read_file(path, &data, &len, err);
	if (rc == RK_OK && rk_buf_append(out, data, len) != 0)
		rc = rk_err_set(err, RK_FAIL, "out of memory");
	if (data)
		OPENSSL_cleanse(data, len);
	free(data);
	return rc;
}

/* ---- PEM checks: a clear error at load time instead of a TLS failure later ---- */

static int pem_count_certs(const rk_buf *pem)
{
	BIO *bio = BIO_new_mem_buf(pem->data, (int)pem->len);
	int n = 0;
	X509 *x;
	while (bio && (x = PEM_read_bio_X509(bio, NULL, NULL, NULL)) != NULL) {
		X509_free(x);
		n++;
	}
	BIO_free(bio);
	return n;
}

static int pem_has_key(const rk_buf *pem)
{
	BIO *bio = BIO_new_mem_buf(pem->data, (int)pem->len);
	EVP_PKEY *key = bio ? PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL) : NULL;
	int ok = key != NULL;
	EVP_PKEY_free(key);
	BIO_free(bio);
	return ok;
}

/* Reads field `file_key` (a path, relative to f's directory) or `data_key` (base64; wins as in
 * client-go) into out. what names the entry for errors. */
static int load_pem_field(kc_file *f, yaml_node_t *map, const char *file_key, const char *data_key,
                          const char *what, rk_buf *out, char **origin, rk_err *err)
{
	const char *path, *data;
	if (kc_get_str(f, map, file_key, &path, err) || kc_get_str(f, map, data_key, &data, err))
		return err->code;
	if (*data) {
		if (rk_b64_decode(data, strlen(data), RK_B64_NEWLINES | RK_B64_STRICT, out) != 0)
			return kc_node_err(f, kc_get(f, map, data_key), err, "%s: %s is not valid base64",
			                   what, data_key);
		if (origin)
			*origin = strdup(data_key);
		return RK_OK;
	}
	if (!*path)
		return RK_OK;
	char *full = join_path(f->dir, path);
	if (!full)
		return rk_err_set(err, RK_FAIL, "out of memory");
	if (read_into(full, out, err) != RK_OK) {
		rk_err_prefix(err, "%s: %s: cannot read %s", f->path, what, file_key);
		free(full);
		return err->code;
	}
	if (origin)
		*origin = full;
	else
		free(full);
	return RK_OK;
}

/* ---- file set: which files, in which order ---- */

static int set_add(kc_set *set, const char *path, int must_exist, rk_err *err)
{
	for (size_t i = 0; i < set->n; i++)
		if (!strcmp(set->files[i].path, path))
			return RK_OK; /* KUBECONFIG entries are de-duplicated */
	if (set->n == KC_MAX_FILES)
		return rk_err_set(err, RK_BADINPUT, "KUBECONFIG names more than %d files", KC_MAX_FILES);
	int missing;
	kc_file *f = &set->files[set->n];
	if (kc_file_load(f, path, &missing, err) != RK_OK) {
		kc_file_free(f);
		if (missing && !must_exist) {
			rk_err_clear(err);
			return RK_OK; /* kubectl skips missing files from KUBECONFIG */
		}
		return err->code;
	}
	size_t used = strlen(set->names);
	snprintf(set->names + used, sizeof set->names - used, "%s%s", used ? ":" : "", path);
	set->n++;
	return RK_OK;
}

static int set_from_env(kc_set *set, const char *list, rk_err *err)
{
	char *copy = strdup(list);
	if (!copy)
		return rk_err_set(err, RK_FAIL, "out of memory");
	int rc = RK_OK;
	char *save = NULL;
	for (char *p = strtok_r(copy, ":", &save); p && rc == RK_OK; p = strtok_r(NULL, ":", &save))
		rc = set_add(set, p, 0, err);
	free(copy);
	return rc;
}

static int set_load(kc_set *set, const rk_kubeconfig_opts *opts, rk_err *err)
{
	if (opts->kubeconfig && *opts->kubeconfig)
		return set_add(set, opts->kubeconfig, 1, err);
	const char *env = getenv("KUBECONFIG");
	if (env && *env)
		return set_from_env(set, env, err);
	const char *home = getenv("HOME");
	if (!home || !*home)
		return RK_OK;
	char path[4096];
	snprintf(path, sizeof path, "%s/.kube/config", home);
	return set_add(set, path, 0, err);
}

static void set_free(kc_set *set)
{
	for (size_t i = 0; i < set->n; i++)
		kc_file_free(&set->files[i]);
}

/* First file (in order) holding an entry `name` in list wins, with all its fields. */
static int set_find(kc_set *set, const char *list, const char *inner, const char *name, kc_file **file,
                    yaml_node_t **node, rk_err *err)
{
	*file = NULL;
	*node = NULL;
	for (size_t i = 0; i < set->n; i++) {
		if (kc_find_named(&set->files[i], list, inner, name, node, err) != RK_OK)
			return err->code;
		if (*node) {
			*file = &set->files[i];
			return RK_OK;
		}
	}
	return RK_OK;
}

static int set_current_context(kc_set *set, const char **name, rk_err *err)
{
	*name = "";
	for (size_t i = 0; i < set->n && !**name; i++)
		if (kc_get_str(&set->files[i], set->files[i].root, "current-context", name, err) != RK_OK)
			return err->code;
	return RK_OK;
}

/* ---- clusters ---- */

static int load_cluster(kc_file *f, yaml_node_t *c, const rk_kubeconfig_opts *opts, rk_kube_config *cfg,
                        rk_err *err)
{
	const char *server, *tls_name, *proxy;
	int insecure;
	if (kc_get_str(f, c, "server", &server, err) || kc_get_str(f, c, "tls-server-name", &tls_name, err) ||
	    kc_get_str(f, c, "proxy-url", &proxy, err) ||
	    kc_get_bool(f, c, "insecure-skip-tls-verify", &insecure, err))
		return err->code;
	if (!*server)
		return kc_node_err(f, c, err, "cluster \"%s\" has no server", cfg->cluster_name);
	if (strncmp(server, "https://", 8) != 0 && strncmp(server, "http://", 7) != 0)
		return kc_node_err(f, kc_get(f, c, "server"), err,
		                   "cluster \"%s\": server \"%s\" is not an http(s) URL", cfg->cluster_name,
		                   server);
	cfg->server = strdup(server);
	size_t len = strlen(cfg->server);
	while (len > 8 && cfg->server[len - 1] == '/')
		cfg->server[--len] = '\0';
	cfg->tls_server_name = dup_or_null(tls_name);
	cfg->proxy_url = dup_or_null(proxy);
	char what[300];
	snprintf(what, sizeof what, "cluster \"%s\"", cfg->cluster_name);
	if (load_pem_field(f, c, "certificate-authority", "certificate-authority-data", what, &cfg->ca_pem,
	                   &cfg->ca_origin, err))
		return err->code;
	if (cfg->ca_pem.len && pem_count_certs(&cfg->ca_pem) == 0)
		return rk_err_set(err, RK_BADINPUT, "%s: %s: %s holds no PEM certificate", f->path, what,
		                  cfg->ca_origin);
	if (insecure && !opts->insecure_skip_tls_verify)
		rk_warn("kubeconfig.insecure_ignored",
		        "%s: %s sets insecure-skip-tls-verify; ignored (pass --insecure-skip-tls-verify to "
		        "honour it)",
		        f->path, what);
	cfg->insecure = opts->insecure_skip_tls_verify;
	if (cfg->insecure)
		rk_warn("kubeconfig.insecure",
		        "TLS verification of %s is disabled (--insecure-skip-tls-verify)", cfg->server);
	return RK_OK;
}

/* ---- users ---- */

static int interactive_mode(kc_file *f, yaml_node_t *e, const char *api_version, int *mode, rk_err *err)
{
	const char *s;
	if (kc_get_str(f, e, "interactiveMode", &s, err) != RK_OK)
		return err->code;
	if (!*s) {
		if (strstr(api_version, "/v1beta1")) {
			*mode = RK_EXEC_IF_AVAILABLE;
			return RK_OK;
		}
		return kc_node_err(f, e, err,
		                   "exec: interactiveMode must be set for %s (Never, IfAvailable or Always)",
		                   api_version);
	}
	if (!strcmp(s, "Never"))
		*mode = RK_EXEC_NEVER;
	else if (!strcmp(s, "IfAvailable"))
		*mode = RK_EXEC_IF_AVAILABLE;
	else if (!strcmp(s, "Always"))
		*mode = RK_EXEC_ALWAYS;
	else
		return kc_node_err(f, kc_get(f, e, "interactiveMode"), err,
		                   "exec: interactiveMode \"%s\" is not Never, IfAvailable or Always", s);
	return RK_OK;
}

static int exec_args(kc_file *f, yaml_node_t *e, rk_exec_config *x, rk_err *err)
{
	yaml_node_t *seq = kc_get(f, e, "args");
	size_t n = seq && seq->type == YAML_SEQUENCE_NODE
	               ? (size_t)(seq->data.sequence.items.top - seq->data.sequence.items.start)
	               : 0;
	if (seq && seq->type != YAML_SEQUENCE_NODE &&
	    !(seq->type == YAML_SCALAR_NODE && !seq->data.scalar.length))
		return kc_node_err(f, seq, err, "exec: args must be a list of strings");
	x->args = calloc(n + 1, sizeof *x->args);
	if (!x->args)
		return rk_err_set(err, RK_FAIL, "out of memory");
	for (size_t i = 0; i < n; i++) {
		yaml_node_t *a = yaml_document_get_node(&f->doc, seq->data.sequence.items.start[i]);
		if (a->type != YAML_SCALAR_NODE)
			return kc_node_err(f, a, err, "exec: args must be a list of strings");
		x->args[i] = strdup((const char *)a->data.scalar.value);
	}
	return RK_OK;
}

static int exec_env(kc_file *f, yaml_node_t *e, rk_exec_config *x, rk_err *err)
{
	yaml_node_t *seq = kc_get(f, e, "env");
	size_t n = seq && seq->type == YAML_SEQUENCE_NODE
	               ? (size_t)(seq->data.sequence.items.top - seq->data.sequence.items.start)
	               : 0;
	if (seq && seq->type != YAML_SEQUENCE_NODE &&
	    !(seq->type == YAML_SCALAR_NODE && !seq->data.scalar.length))
		return kc_node_err(f, seq, err, "exec: env must be a list of {name, value}");
	x->env = calloc(n + 1, sizeof *x->env);
	if (!x->env)
		return rk_err_set(err, RK_FAIL, "out of memory");
	for (size_t i = 0; i < n; i++) {
		yaml_node_t *v = yaml_document_get_node(&f->doc, seq->data.sequence.items.start[i]);
		const char *name, *value;
		if (v->type != YAML_MAPPING_NODE)
			return kc_node_err(f, v, err, "exec: env must be a list of {name, value}");
		if (kc_get_str(f, v, "name", &name, err) || kc_get_str(f, v, "value", &value, err))
			return err->code;
		if (!*name || strchr(name, '='))
			return kc_node_err(f, v, err, "exec: env entry needs a name without '='");
		size_t len = strlen(name) + strlen(value) + 2;
		x->env[i] = malloc(len);
		if (x->env[i])
			snprintf(x->env[i], len, "%s=%s", name, value);
	}
	return RK_OK;
}

static int load_exec(kc_file *f, yaml_node_t *e, rk_kube_config *cfg, rk_err *err)
{
	if (e->type != YAML_MAPPING_NODE)
		return kc_node_err(f, e, err, "user \"%s\": exec must be a mapping", cfg->user_name);
	rk_exec_config *x = calloc(1, sizeof *x);
	if (!x)
		return rk_err_set(err, RK_FAIL, "out of memory");
	x->timeout_ms = RK_EXEC_PLUGIN_TIMEOUT_MS;
	cfg->exec = x;
	const char *command, *api_version, *hint;
	if (kc_get_str(f, e, "command", &command, err) || kc_get_str(f, e, "apiVersion", &api_version, err) ||
	    kc_get_str(f, e, "installHint", &hint, err) ||
	    kc_get_bool(f, e, "provideClusterInfo", &x->provide_cluster_info, err))
		return err->code;
	if (!*command)
		return kc_node_err(f, e, err, "user \"%s\": exec has no command", cfg->user_name);
	if (strcmp(api_version, "client.authentication.k8s.io/v1") != 0 &&
	    strcmp(api_version, "client.authentication.k8s.io/v1beta1") != 0)
		return kc_node_err(
		    f, e, err,
		    "user \"%s\": exec apiVersion \"%s\" is not client.authentication.k8s.io/v1 or /v1beta1",
		    cfg->user_name, api_version);
	x->command = strchr(command, '/') ? join_path(f->dir, command) : strdup(command);
	x->api_version = strdup(api_version);
	x->install_hint = dup_or_null(hint);
	if (interactive_mode(f, e, api_version, &x->interactive_mode, err) || exec_args(f, e, x, err) ||
	    exec_env(f, e, x, err))
		return err->code;
	return RK_OK;
}

static int refuse_legacy_auth(kc_file *f, yaml_node_t *u, const char *user, rk_err *err)
{
	yaml_node_t *ap = kc_get(f, u, "auth-provider");
	if (ap && ap->type == YAML_MAPPING_NODE) {
		const char *name;
		if (kc_get_str(f, ap, "name", &name, err) != RK_OK)
			return err->code;
		return kc_node_err(
		    f, ap, err,
		    "user \"%s\" uses auth-provider \"%s\", which kubectl removed in 1.26; use an exec "
		    "credential plugin instead (e.g. kubelogin, gke-gcloud-auth-plugin)",
		    user, name);
	}
	const char *username, *password;
	if (kc_get_str(f, u, "username", &username, err) || kc_get_str(f, u, "password", &password, err))
		return err->code;
	if (*username || *password)
		return kc_node_err(
		    f, u, err,
		    "user \"%s\" uses basic auth (username/password), which rekeyctl refuses; use a "
		    "client certificate, a token or an exec plugin",
		    user);
	return RK_OK;
}

static int load_client_cert(kc_file *f, yaml_node_t *u, rk_kube_config *cfg, rk_err *err)
{
	char what[300];
	snprintf(what, sizeof what, "user \"%s\"", cfg->user_name);
	rk_buf_set_secret(&cfg->client_key_pem);
	if (load_pem_field(f, u, "client-certificate", "client-certificate-data", what, &cfg->client_cert_pem,
	                   NULL, err) ||
	    load_pem_field(f, u, "client-key", "client-key-data", what, &cfg->client_key_pem, NULL, err))
		return err->code;
	if (!cfg->client_cert_pem.len != !cfg->client_key_pem.len)
		return kc_node_err(f, u, err, "%s: client certificate and client key must be given together",
		                   what);
	if (cfg->client_cert_pem.len && pem_count_certs(&cfg->client_cert_pem) == 0)
		return kc_node_err(f, u, err, "%s: client certificate is not a PEM certificate", what);
	if (cfg->client_key_pem.len && !pem_has_key(&cfg->client_key_pem))
		return kc_node_err(f, u, err, "%s: client key is not a PEM private key", what);
	return RK_OK;
}

static int load_user(kc_file *f, yaml_node_t *u, rk_kube_config *cfg, rk_err *err)
{
	if (refuse_legacy_auth(f, u, cfg->user_name, err) || load_client_cert(f, u, cfg, err))
		return err->code;
	const char *token, *token_file;
	if (kc_get_str(f, u, "token", &token, err) || kc_get_str(f, u, "tokenFile", &token_file, err))
		return err->code;
	cfg->token = dup_or_null(token);
	cfg->token_file = *token_file ? join_path(f->dir, token_file) : NULL;
	if (cfg->token_file) {
		rk_buf probe = RK_BUF_SECRET;
		int rc = read_into(cfg->token_file, &probe, err);
		rk_buf_wipe_free(&probe);
		if (rc != RK_OK) {
			rk_err_prefix(err, "%s: user \"%s\": tokenFile", f->path, cfg->user_name);
			return rc;
		}
	}
	yaml_node_t *e = kc_get(f, u, "exec");
	if (e && !(e->type == YAML_SCALAR_NODE && !e->data.scalar.length)) {
		if (cfg->token || cfg->token_file)
			return kc_node_err(
			    f, e, err, "user \"%s\": more than one authentication method (token and exec)",
			    cfg->user_name);
		return load_exec(f, e, cfg, err);
	}
	return RK_OK;
}

/* ---- contexts ---- */

static int resolve_context(kc_set *set, const rk_kubeconfig_opts *opts, rk_kube_config *cfg, rk_err *err)
{
	const char *name = opts->context && *opts->context ? opts->context : NULL;
	if (!name && set_current_context(set, &name, err) != RK_OK)
		return err->code;
	if (!name || !*name)
		return rk_err_set(err, RK_BADINPUT,
		                  "no context chosen: current-context is not set in %s (use --context)",
		                  set->names);
	kc_file *f;
	yaml_node_t *ctx;
	if (set_find(set, "contexts", "context", name, &f, &ctx, err) != RK_OK)
		return err->code;
	if (!ctx)
		return rk_err_set(err, RK_BADINPUT, "context \"%s\" not found in %s", name, set->names);
	const char *cluster, *user, *ns;
	if (kc_get_str(f, ctx, "cluster", &cluster, err) || kc_get_str(f, ctx, "user", &user, err) ||
	    kc_get_str(f, ctx, "namespace", &ns, err))
		return err->code;
	if (!*cluster)
		return kc_node_err(f, ctx, err, "context \"%s\" names no cluster", name);
	cfg->source = strdup(f->path);
	cfg->context_name = strdup(name);
	cfg->cluster_name = strdup(cluster);
	cfg->user_name = strdup(user);
	cfg->namespace_name = strdup(*ns ? ns : "default");
	return RK_OK;
}

static int resolve_entries(kc_set *set, const rk_kubeconfig_opts *opts, rk_kube_config *cfg, rk_err *err)
{
	if (resolve_context(set, opts, cfg, err) != RK_OK)
		return err->code;
	kc_file *f;
	yaml_node_t *node;
	if (set_find(set, "clusters", "cluster", cfg->cluster_name, &f, &node, err) != RK_OK)
		return err->code;
	if (!node)
		return rk_err_set(err, RK_BADINPUT, "cluster \"%s\" (context \"%s\") not found in %s",
		                  cfg->cluster_name, cfg->context_name, set->names);
	if (load_cluster(f, node, opts, cfg, err) != RK_OK)
		return err->code;
	if (!*cfg->user_name)
		return RK_OK; /* anonymous, as kubectl allows */
	if (set_find(set, "users", "user", cfg->user_name, &f, &node, err) != RK_OK)
		return err->code;
	if (!node)
		return rk_err_set(err, RK_BADINPUT, "user \"%s\" (context \"%s\") not found in %s",
		                  cfg->user_name, cfg->context_name, set->names);
	return load_user(f, node, cfg, err);
}

static int incluster_possible(void)
{
	const char *host = getenv("KUBERNETES_SERVICE_HOST"), *port = getenv("KUBERNETES_SERVICE_PORT");
	return host && *host && port && *port;
}

int rk_kubeconfig_load(const rk_kubeconfig_opts *opts, rk_kube_config **out, rk_err *err)
{
	*out = NULL;
	kc_set *set = calloc(1, sizeof *set);
	if (!set)
		return rk_err_set(err, RK_FAIL, "out of memory");
	int rc = set_load(set, opts, err);
	if (rc == RK_OK && set->n == 0) {
		set_free(set);
		free(set);
		if (incluster_possible())
			return rk_kubeconfig_incluster(opts->incluster_root, out, err);
		return rk_err_set(
		    err, RK_BADINPUT,
		    "no kubeconfig found (KUBECONFIG, ~/.kube/config) and not running in a cluster; "
		    "use --kubeconfig");
	}
	rk_kube_config *cfg = calloc(1, sizeof *cfg);
	if (!cfg)
		rc = rk_err_set(err, RK_FAIL, "out of memory");
	if (rc == RK_OK)
		rc = resolve_entries(set, opts, cfg, err);
	set_free(set);
	free(set);
	if (rc != RK_OK) {
		rk_kube_config_free(cfg);
		return rc;
	}
	*out = cfg;
	return RK_OK;
}

/* ---- in-cluster ---- */

static char *read_trimmed(const char *path)
{
	rk_buf b = RK_BUF_INIT;
	rk_err ignored;
	if (read_into(path, &b, &ignored) != RK_OK) {
		rk_buf_free(&b);
		return NULL;
	}
	while (b.len && (b.data[b.len - 1] == '\n' || b.data[b.len - 1] == ' '))
		b.data[--b.len] = 0;
	return rk_buf_steal(&b);
}

int rk_kubeconfig_incluster(const char *root, rk_kube_config **out, rk_err *err)
{
	*out = NULL;
	if (!root)
		root = "/var/run/secrets/kubernetes.io/serviceaccount";
	const char *host = getenv("KUBERNETES_SERVICE_HOST"), *port = getenv("KUBERNETES_SERVICE_PORT");
	if (!host || !*host || !port || !*port)
		return rk_err_set(
		    err, RK_BADINPUT,
		    "in-cluster: KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT must be set");
	rk_kube_config *cfg = calloc(1, sizeof *cfg);
	if (!cfg)
		return rk_err_set(err, RK_FAIL, "out of memory");
	char path[4096], server[600];
	int v6 = strchr(host, ':') != NULL;
	snprintf(server, sizeof server, "https://%s%s%s:%s", v6 ? "[" : "", host, v6 ? "]" : "", port);
	cfg->source = strdup("in-cluster");
	cfg->server = strdup(server);
	cfg->cluster_name = strdup("in-cluster");
	cfg->user_name = strdup("serviceaccount");
	snprintf(path, sizeof path, "%s/token", root);
	cfg->token_file = strdup(path);
	snprintf(path, sizeof path, "%s/namespace", root);
	cfg->namespace_name = read_trimmed(path);
	if (!cfg->namespace_name)
		cfg->namespace_name = strdup("default");
	snprintf(path, sizeof path, "%s/ca.crt", root);
	cfg->ca_origin = strdup(path);
	rk_buf probe = RK_BUF_SECRET;
	int rc = read_into(cfg->token_file, &probe, err);
	rk_buf_wipe_free(&probe);
	if (rc == RK_OK)
		rc = read_into(path, &cfg->ca_pem, err);
	if (rc == RK_OK && pem_count_certs(&cfg->ca_pem) == 0)
		rc = rk_err_set(err, RK_BADINPUT, "%s holds no PEM certificate", path);
	if (rc != RK_OK) {
		rk_err_prefix(err, "in-cluster");
		rk_kube_config_free(cfg);
		return rc;
	}
	*out = cfg;
	return RK_OK;
}

/* ---- free ---- */

static void free_strv(char **v, int wipe)
{
	for (size_t i = 0; v && v[i]; i++) {
		if (wipe)
			OPENSSL_cleanse(v[i], strlen(v[i]));
		free(v[i]);
	}
	free(v);
}

static void exec_free(rk_exec_config *x)
{
	if (!x)
		return;
	free(x->command);
	free_strv(x->args, 1); /* some plugins take a key or token as an argument */
	free_strv(x->env, 1);
	free(x->api_version);
	free(x->install_hint);
	free(x);
}

void rk_kube_config_free(rk_kube_config *cfg)
{
	if (!cfg)
		return;
	free(cfg->source);
	free(cfg->context_name);
	free(cfg->cluster_name);
	free(cfg->user_name);
	free(cfg->namespace_name);
	free(cfg->server);
	free(cfg->tls_server_name);
	free(cfg->proxy_url);
	rk_buf_free(&cfg->ca_pem);
	free(cfg->ca_origin);
	rk_buf_free(&cfg->client_cert_pem);
	rk_buf_wipe_free(&cfg->client_key_pem);
	if (cfg->token)
		OPENSSL_cleanse(cfg->token, strlen(cfg->token));
	free(cfg->token);
	free(cfg->token_file);
	exec_free(cfg->exec);
	free(cfg);
}
