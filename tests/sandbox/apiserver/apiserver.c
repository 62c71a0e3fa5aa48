/* apiserver.c: `rekey-sandbox apiserver`: argument parsing, the encryption config (loaded at start; in
 * automatic mode re-read every --reload-period seconds and swapped when its hash changes and it
 * validates), the identity lease, pid/url files, and the run loop until SIGTERM/SIGINT. */
#include <errno.h>
#include <openssl/crypto.h>
#include <openssl/sha.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "apiserver.h"
#include "apiserver_util.h"
#include "faults.h"
#include "http.h"
#include "metrics.h"
#include "rekey/log.h"
#include "sandbox.h"

#define LEASE_RENEW_SECONDS 5
#define LEASE_DURATION_SECONDS 3600

/* ---- config ---- */

static void config_free(sbx_config *c)
{
	if (!c)
		return;
	for (size_t i = 0; c->rule_chains && c->cfg && i < c->cfg->nrules; i++)
		rk_chain_free(c->rule_chains[i]);
	free(c->rule_chains);
	rk_chain_free(c->identity);
	rk_encconfig_free(c->cfg);
	free(c);
}

rk_chain *sbx_config_chain(const sbx_config *cfg, const sbx_resource *res)
{
	int at = rk_encconfig_lookup_index(cfg->cfg, res->group, res->name);
	return at < 0 ? cfg->identity : cfg->rule_chains[at];
}

/* Loads, validates and builds one chain per rule from the bytes of the config file. */
static int config_build(const char *path, const char *data, size_t len, int auto_reload, sbx_config **out,
                        rk_err *err)
{
	sbx_config *c = calloc(1, sizeof *c);
	if (!c)
		return rk_err_set(err, RK_FAIL, "out of memory");
	c->refs = 1;
	rk_config_hash(data, len, c->hash);
	int rc = rk_encconfig_load_buf(data, len, path, &c->cfg, err);
	if (rc == RK_OK)
		rc = rk_encconfig_validate(c->cfg, auto_reload, err);
	if (rc == RK_OK && !(c->rule_chains = calloc(c->cfg->nrules + 1, sizeof *c->rule_chains)))
		rc = rk_err_set(err, RK_FAIL, "out of memory");
	for (size_t i = 0; rc == RK_OK && i < c->cfg->nrules; i++)
		rc = rk_chain_new(&c->cfg->rules[i], &c->rule_chains[i], err);
	if (rc == RK_OK)
		rc = rk_chain_new(NULL, &c->identity, err);
	if (rc != RK_OK) {
		config_free(c);
		return rc;
	}
	*out = c;
	return RK_OK;
}

sbx_config *sbx_config_acquire(sbx_server *srv)
{
	pthread_mutex_lock(&srv->lock);
	sbx_config *c = srv->cfg;
	c->refs++;
	pthread_mutex_unlock(&srv->lock);
	return c;
}

void sbx_config_release(sbx_server *srv, sbx_config *cfg)
{
	if (!cfg)
		return;
	pthread_mutex_lock(&srv->lock);
	int last = --cfg->refs == 0;
	pthread_mutex_unlock(&srv->lock);
	if (last)
		config_free(cfg);
}

static int config_load_file(sbx_server *srv, sbx_config **out, rk_err *err)
{
	size_t len = 0;
	char *data = sbx_read_file(srv->config_path, &len);
	if (!data)
		return rk_err_set(err, RK_BADINPUT, "%s: %s", srv->config_path, strerror(errno));
	int rc = config_build(srv->config_path, data, len, srv->auto_reload, out, err);
	OPENSSL_cleanse(data, len);
	free(data);
	return rc;
}

/* One automatic-reload check: reload when the file's hash differs from the loaded one. */
static void reload_once(sbx_server *srv)
{
	size_t len = 0;
	char *data = sbx_read_file(srv->config_path, &len);
	char hash[72];
	if (!data) {
		rk_warn("config.reload", "%s: %s", srv->config_path, strerror(errno));
		sbx_metrics_reload(0);
		return;
	}
	rk_config_hash(data, len, hash);
	pthread_mutex_lock(&srv->lock);
	int same = !strcmp(hash, srv->cfg->hash);
	pthread_mutex_unlock(&srv->lock);
	sbx_config *fresh = NULL;
	rk_err err;
	rk_err_clear(&err);
	if (!same && config_build(srv->config_path, data, len, 1, &fresh, &err) != RK_OK) {
		rk_error("config.reload.failed", "%s", err.msg);
		sbx_metrics_reload(0);
	} else if (!same) {
		pthread_mutex_lock(&srv->lock);
		sbx_config *old = srv->cfg;
		srv->cfg = fresh;
		pthread_mutex_unlock(&srv->lock);
		sbx_config_release(srv, old);
		sbx_metrics_reload(1);
		sbx_metrics_config_hash(hash);
		rk_info("config.reloaded", "%s loaded, hash %s", srv->config_path, hash);
	}
	OPENSSL_cleanse(data, len);
	free(data);
}

/* Sleeps up to `seconds` unless the server is stopping; returns 1 when stopping. */
static int wait_or_stop(sbx_server *srv, int seconds)
{
	struct timespec until;
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += seconds;
	pthread_mutex_lock(&srv->lock);
	while (!srv->stopping && pthread_cond_timedwait(&srv->wake, &srv->lock, &until) != ETIMEDOUT) {
	}
	int stopping = srv->stopping;
	pthread_mutex_unlock(&srv->lock);
	return stopping;
}

static void *reload_thread(void *arg)
{
	sbx_server *srv = arg;
	while (!wait_or_stop(srv, srv->reload_period))
		reload_once(srv);
	sbx_etcd_thread_done();
	return NULL;
}

/* ---- identity lease ---- */

/* APIServerID as kube-apiserver computes it: "apiserver-" + lower(base32 without padding of the first
 * 16 bytes of sha256(uint16-length-prefixed hostname || uint16-length-prefixed "kube-apiserver")).
 * The sandbox node name stands for the host name. */
static void compute_id(sbx_server *srv)
{
	uint8_t data[600];
	size_t n = 0, hl = strlen(srv->node);
	if (hl > 500)
		hl = 500;
	data[n++] = (uint8_t)(hl >> 8);
	data[n++] = (uint8_t)hl;
	memcpy(data + n, srv->node, hl);
	n += hl;
	data[n++] = 0;
	data[n++] = 14;
	memcpy(data + n, "kube-apiserver", 14);
	n += 14;
	uint8_t h[SHA256_DIGEST_LENGTH];
	SHA256(data, n, h);
	static const char b32[] = "abcdefghijklmnopqrstuvwxyz234567";
	char out[40];
	size_t o = 0;
	uint32_t acc = 0;
	int bits = 0;
	for (int i = 0; i < 16; i++) {
		acc = (acc << 8) | h[i];
		bits += 8;
		while (bits >= 5) {
			out[o++] = b32[(acc >> (bits - 5)) & 31];
			bits -= 5;
		}
	}
	if (bits > 0)
		out[o++] = b32[(acc << (5 - bits)) & 31];
	out[o] = 0;
	snprintf(srv->id, sizeof srv->id, "apiserver-%s", out);
	rk_config_hash(srv->id, strlen(srv->id), srv->id_hash);
}

static void renew_lease(sbx_server *srv)
{
	char now[40];
	sbx_now_rfc3339(now, 1);
	json_t *lease = json_pack(
	    "{s:s,s:s,s:{s:s,s:s,s:{s:s,s:s}},s:{s:s,s:i,s:s}}", "apiVersion", "coordination.k8s.io/v1",
	    "kind", "Lease", "metadata", "name", srv->id, "namespace", "kube-system", "labels",
	    "apiserver.kubernetes.io/identity", "kube-apiserver", "kubernetes.io/hostname", srv->node, "spec",
	    "holderIdentity", srv->id, "leaseDurationSeconds", LEASE_DURATION_SECONDS, "renewTime", now);
	json_t *out = NULL;
	int created = 0;
	sbx_apierr e;
	memset(&e, 0, sizeof e);
	if (sbx_store_update(srv, &sbx_resources[SBX_LEASES], "kube-system", srv->id, lease, &out, &created,
	                     &e) < 0)
		rk_warn("lease.renew", "identity lease %s: %s", srv->id, e.message);
	free(e.continue_token);
	json_decref(out);
	json_decref(lease);
}

static void *lease_thread(void *arg)
{
	sbx_server *srv = arg;
	do
		renew_lease(srv);
	while (!wait_or_stop(srv, LEASE_RENEW_SECONDS));
	sbx_etcd_thread_done();
	return NULL;
}

/* ---- start-up ---- */

static int usage_error(const char *msg, const char *arg)
{
	fprintf(stderr, "rekey-sandbox apiserver: %s%s\n", msg, arg ? arg : "");
	return RK_BADINPUT;
}

/* Flags take "--name value" or "--name=value". Returns the value of flag `name` at argv[*i] or NULL. */
static const char *flag_value(int argc, char **argv, int *i, const char *name)
{
	size_t n = strlen(name);
	if (strncmp(argv[*i], name, n))
		return NULL;
	if (argv[*i][n] == '=')
		return argv[*i] + n + 1;
	if (argv[*i][n] == 0 && *i + 1 < argc)
		return argv[++*i];
	return NULL;
}

/* A decimal flag value; `bad` (which the range checks below refuse) when it is not one. */
static int int_flag(const char *v, int bad)
{
	char *end = NULL;
	errno = 0;
	long n = strtol(v, &end, 10);
	return !*v || *end || errno || n < -1 || n > 1000000 ? bad : (int)n;
}

static int parse_args(int argc, char **argv, sbx_server *srv)
{
	srv->reload_period = 5;
	srv->port = -1;
	for (int i = 1; i < argc; i++) {
		const char *v;
		if ((v = flag_value(argc, argv, &i, "--dir")))
			srv->dir = v;
		else if ((v = flag_value(argc, argv, &i, "--node")))
			srv->node = v;
		else if ((v = flag_value(argc, argv, &i, "--port")))
			srv->port = int_flag(v, -1);
		else if ((v = flag_value(argc, argv, &i, "--etcd")))
			srv->etcd_url = v;
		else if ((v = flag_value(argc, argv, &i, "--encryption-provider-config")))
			srv->config_path = v;
		else if ((v = flag_value(argc, argv, &i, "--reload-period")))
			srv->reload_period = int_flag(v, 0);
		else if (!strcmp(argv[i], "--encryption-provider-config-automatic-reload") ||
		         !strcmp(argv[i], "--encryption-provider-config-automatic-reload=true"))
			srv->auto_reload = 1;
		else if (!strcmp(argv[i], "--encryption-provider-config-automatic-reload=false"))
			srv->auto_reload = 0;
		else
			return usage_error("unknown or incomplete flag ", argv[i]);
	}
	if (!srv->dir || !srv->node || !srv->etcd_url || !srv->config_path)
		return usage_error("--dir, --node, --etcd and --encryption-provider-config are required",
		                   NULL);
	if (srv->port < 0 || srv->port > 65535)
		return usage_error("--port must be 0..65535 (0 = any free port)", NULL);
	if (srv->reload_period < 1)
		return usage_error("--reload-period must be at least 1 second", NULL);
	if (strchr(srv->node, '/') || !*srv->node)
		return usage_error("bad --node name ", srv->node);
	return RK_OK;
}

static void node_path(const sbx_server *srv, const char *file, char *out, size_t cap)
{
	snprintf(out, cap, "%s/nodes/%s/%s", srv->dir, srv->node, file);
}

static int write_node_files(sbx_server *srv)
{
	char dir[4096], path[4096], text[128];
	snprintf(dir, sizeof dir, "%s/nodes", srv->dir);
	mkdir(dir, 0755);
	snprintf(dir, sizeof dir, "%s/nodes/%s", srv->dir, srv->node);
	mkdir(dir, 0755);
	node_path(srv, "apiserver.port", path, sizeof path);
	snprintf(text, sizeof text, "%d\n", srv->port);
	int rc = sbx_write_file(path, text, strlen(text));
	node_path(srv, "apiserver.url", path, sizeof path);
	snprintf(text, sizeof text, "https://127.0.0.1:%d\n", srv->port);
	rc |= sbx_write_file(path, text, strlen(text));
	node_path(srv, "apiserver.pid", path, sizeof path);
	snprintf(text, sizeof text, "%ld\n", (long)getpid());
	rc |= sbx_write_file(path, text, strlen(text));
	return rc;
}

static void bootstrap_namespaces(sbx_server *srv)
{
	static const char *const names[] = {"default", "kube-system", "kube-public", "kube-node-lease"};
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
		json_t *ns = json_pack("{s:{s:s}}", "metadata", "name", names[i]);
		sbx_apierr e;
		memset(&e, 0, sizeof e);
		if (sbx_store_ensure(srv, &sbx_resources[SBX_NAMESPACES], NULL, ns, &e) < 0)
			rk_warn("bootstrap.namespace", "%s: %s", names[i], e.message);
		free(e.continue_token);
		json_decref(ns);
	}
}

static int start(sbx_server *srv, sigset_t *sigs)
{
	rk_err err;
	rk_err_clear(&err);
	node_path(srv, "faults.json", srv->faults_path, sizeof srv->faults_path);
	sbx_faults_init(srv->faults_path);
	sbx_faults f;
	sbx_faults_get(&f);
	if (f.fail_start) {
		rk_error("apiserver.failstart", "%s: failStart is set: refusing to start", srv->faults_path);
		return RK_FAIL;
	}
	if (config_load_file(srv, &srv->cfg, &err) != RK_OK) {
		fprintf(stderr, "rekey-sandbox apiserver: %s\n", err.msg);
		return RK_FAIL;
	}
	compute_id(srv);
	sbx_metrics_init(srv->id_hash);
	sbx_metrics_config_hash(srv->cfg->hash);
	if (sbx_etcd_start(srv->etcd_url, &err) != RK_OK) {
		fprintf(stderr, "rekey-sandbox apiserver: %s\n", err.msg);
		return RK_BADINPUT;
	}
	if (sbx_store_ping(srv) < 0) {
		fprintf(stderr, "rekey-sandbox apiserver: etcd at %s is not reachable\n", srv->etcd_url);
		return RK_FAIL;
	}
	bootstrap_namespaces(srv);
	pthread_sigmask(SIG_BLOCK, sigs, NULL);
	if (sbx_http_start(srv, &err) != RK_OK) {
		fprintf(stderr, "rekey-sandbox apiserver: %s\n", err.msg);
		return RK_FAIL;
	}
	if (write_node_files(srv) != 0) {
		fprintf(stderr, "rekey-sandbox apiserver: cannot write %s/nodes/%s/apiserver.*: %s\n",
		        srv->dir, srv->node, strerror(errno));
		return RK_FAIL;
	}
	rk_info("apiserver.ready",
	        "node %s id %s listening on https://127.0.0.1:%d, config hash %s (%s reload)", srv->node,
	        srv->id, srv->port, srv->cfg->hash, srv->auto_reload ? "automatic" : "restart");
	return RK_OK;
}

static void stop_threads(sbx_server *srv, pthread_t *threads, int n)
{
	pthread_mutex_lock(&srv->lock);
	srv->stopping = 1;
	pthread_cond_broadcast(&srv->wake);
	pthread_mutex_unlock(&srv->lock);
	for (int i = 0; i < n; i++)
		pthread_join(threads[i], NULL);
}

static void cleanup(sbx_server *srv)
{
	sbx_http_stop(srv);
	char path[4096];
	node_path(srv, "apiserver.pid", path, sizeof path);
	char *pid = sbx_read_file(path, NULL);
	if (pid && strtol(pid, NULL, 10) == (long)getpid())
		unlink(path);
	free(pid);
	if (srv->cfg)
		sbx_config_release(srv, srv->cfg);
	sbx_etcd_thread_done();
	sbx_metrics_free();
}

int sandbox_apiserver_main(int argc, char **argv)
{
	sbx_server srv;
	memset(&srv, 0, sizeof srv);
	int rc = parse_args(argc, argv, &srv);
	if (rc != RK_OK)
		return rc;
	pthread_mutex_init(&srv.lock, NULL);
	pthread_cond_init(&srv.wake, NULL);
	signal(SIGPIPE, SIG_IGN);
	sigset_t sigs;
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	rc = start(&srv, &sigs);
	pthread_t threads[2];
	int nthreads = 0;
	if (rc == RK_OK) {
		pthread_create(&threads[nthreads++], NULL, lease_thread, &srv);
		if (srv.auto_reload)
			pthread_create(&threads[nthreads++], NULL, reload_thread, &srv);
		int sig = 0;
		sigwait(&sigs, &sig);
		rk_info("apiserver.stopping", "signal %d: shutting down", sig);
		stop_threads(&srv, threads, nthreads);
	}
	cleanup(&srv);
	pthread_cond_destroy(&srv.wake);
	pthread_mutex_destroy(&srv.lock);
	return rc;
}
