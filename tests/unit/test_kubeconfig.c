/* test_kubeconfig.c: kubeconfig loading as kubectl does it (explicit file, KUBECONFIG merge order,
 * contexts, relative paths, in-cluster), credential plugins run as real subprocesses, and the one-line
 * RK_BADINPUT errors for malformed inputs. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "rekey/child.h"
#include "rekey/clock.h"
#include "rekey/execcred.h"
#include "rekey/kubeconfig.h"
#include "testutil.h"

static char *dir;

static void setup(void)
{
	dir = tu_mkdtemp();
	ck_assert_ptr_nonnull(dir);
	unsetenv("KUBECONFIG");
	unsetenv("KUBERNETES_SERVICE_HOST");
	unsetenv("KUBERNETES_SERVICE_PORT");
	setenv("HOME", dir, 1);
}

static void teardown(void)
{
	tu_rmtree(dir);
	free(dir);
}

static char *put(const char *name, const char *text)
{
	char *p = tu_path(dir, name);
	ck_assert_int_eq(tu_write_file(p, text, strlen(text)), 0);
	return p;
}

static char *put_script(const char *name, const char *text)
{
	char *p = put(name, text);
	ck_assert_int_eq(chmod(p, 0700), 0);
	return p;
}

/* A self-signed certificate and key (PEM) made by the real openssl tool: tls.crt, tls.key in dir. */
static void make_cert(void)
{
	char cmd[1024];
	snprintf(
	    cmd, sizeof cmd,
	    "cd '%s' && openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=test "
	    "-days 1 -keyout tls.key -out tls.crt >/dev/null 2>&1",
	    dir);
	ck_assert_int_eq(system(cmd), 0);
}

static char *b64_file(const char *name)
{
	char cmd[1024];
	snprintf(cmd, sizeof cmd, "base64 -w0 '%s/%s' > '%s/%s.b64'", dir, name, dir, name);
	ck_assert_int_eq(system(cmd), 0);
	char *b64path = NULL;
	ck_assert_int_ge(asprintf(&b64path, "%s/%s.b64", dir, name), 0);
	size_t len;
	char *text = tu_read_file(b64path, &len);
	free(b64path);
	ck_assert_ptr_nonnull(text);
	return text;
}

/* Released buffer blocks: wiped secret ones, and any that still hold a private key. */
struct key_releases {
	size_t wiped_secret, holding_key;
};

static void observe_key_release(const uint8_t *block, size_t cap, int secret, void *ud)
{
	struct key_releases *seen = ud;
	size_t zero = 0;
	for (size_t i = 0; i < cap; i++)
		zero += block[i] == 0;
	seen->wiped_secret += secret && zero == cap;
	seen->holding_key += memmem(block, cap, "PRIVATE KEY", 11) != NULL;
}

static int load(const char *kubeconfig, const char *context, rk_kube_config **cfg, rk_err *err)
{
	rk_kubeconfig_opts opts = {.kubeconfig = kubeconfig, .context = context};
	rk_err_clear(err);
	return rk_kubeconfig_load(&opts, cfg, err);
}

static const char *base_config = "apiVersion: v1\n"
                                 "kind: Config\n"
                                 "current-context: dev\n"
                                 "clusters:\n"
                                 "- name: c1\n"
                                 "  cluster:\n"
                                 "    server: https://127.0.0.1:6443/\n"
                                 "    certificate-authority: tls.crt\n"
                                 "    tls-server-name: kubernetes\n"
                                 "- name: c2\n"
                                 "  cluster: {server: \"https://127.0.0.2:7443\"}\n"
                                 "users:\n"
                                 "- name: tok\n"
                                 "  user: {token: abc123}\n"
                                 "- name: certuser\n"
                                 "  user: {client-certificate: tls.crt, client-key: tls.key}\n"
                                 "contexts:\n"
                                 "- name: dev\n"
                                 "  context: {cluster: c1, user: tok, namespace: team}\n"
                                 "- name: prod\n"
                                 "  context: {cluster: c2, user: certuser}\n";

START_TEST(explicit_file_current_context)
{
	make_cert();
	char *path = put("config", base_config);
	rk_kube_config *cfg;
	rk_err err;
	ck_assert_int_eq(load(path, NULL, &cfg, &err), RK_OK);
	ck_assert_str_eq(cfg->context_name, "dev");
	ck_assert_str_eq(cfg->server, "https://127.0.0.1:6443");
	ck_assert_str_eq(cfg->tls_server_name, "kubernetes");
	ck_assert_str_eq(cfg->namespace_name, "team");
	ck_assert_str_eq(cfg->token, "abc123");
	ck_assert_ptr_nonnull(strstr((char *)cfg->ca_pem.data, "BEGIN CERTIFICATE"));
	ck_assert_str_eq(cfg->source, path);
	rk_kube_config_free(cfg);

	ck_assert_int_eq(load(path, "prod", &cfg, &err), RK_OK);
	ck_assert_str_eq(cfg->server, "https://127.0.0.2:7443");
	ck_assert_str_eq(cfg->namespace_name, "default");
	ck_assert_uint_eq(cfg->ca_pem.len, 0);
	ck_assert_ptr_nonnull(strstr((char *)cfg->client_key_pem.data, "PRIVATE KEY"));
	ck_assert_ptr_null(cfg->token);
	rk_kube_config_free(cfg);
	free(path);
}
END_TEST

START_TEST(context_not_found_names_file)
{
	make_cert();
	char *path = put("config", base_config);
	rk_kube_config *cfg = NULL;
	rk_err err;
	ck_assert_int_eq(load(path, "staging", &cfg, &err), RK_BADINPUT);
	ck_assert_ptr_null(cfg);
	char want[600];
	snprintf(want, sizeof want, "context \"staging\" not found in %s", path);
	ck_assert_str_eq(err.msg, want);
	free(path);
}
END_TEST

START_TEST(kubeconfig_env_merges_first_wins)
{
	char *a = put("a.yaml", "current-context: ''\n"
	                        "users:\n- name: shared\n  user: {token: from-a}\n");
	char *b = put("b.yaml", "current-context: ctx-b\n"
	                        "users:\n- name: shared\n  user: {token: from-b}\n"
	                        "contexts:\n- name: ctx-b\n  context: {cluster: cb, user: shared}\n"
	                        "- name: ctx-c\n  context: {cluster: cc, user: shared}\n");
	char *c = put("c.yaml", "current-context: ctx-c\n"
	                        "clusters:\n- name: cb\n  cluster: {server: 'https://127.0.0.3:1'}\n"
	                        "- name: cc\n  cluster: {server: 'https://127.0.0.4:1'}\n"
	                        "contexts:\n- name: ctx-b\n  context: {cluster: cc, user: nobody}\n");
	char env[2048];
	snprintf(env, sizeof env, "%s::%s/missing.yaml:%s:%s:%s", a, dir, b, c, a);
	setenv("KUBECONFIG", env, 1);
	rk_kube_config *cfg;
	rk_err err;
	ck_assert_int_eq(load(NULL, NULL, &cfg, &err), RK_OK);
	ck_assert_str_eq(cfg->context_name, "ctx-b"); /* first non-empty current-context */
	ck_assert_str_eq(cfg->source, b);             /* ctx-b from b, not c */
	ck_assert_str_eq(cfg->server, "https://127.0.0.3:1");
	ck_assert_str_eq(cfg->token, "from-a"); /* user "shared": the first file wins */
	rk_kube_config_free(cfg);
	ck_assert_int_eq(load(NULL, "nope", &cfg, &err), RK_BADINPUT);
	ck_assert_ptr_nonnull(strstr(err.msg, b));
	ck_assert_ptr_nonnull(strstr(err.msg, c));
	free(a);
	free(b);
	free(c);
}
END_TEST

START_TEST(home_config_is_the_default)
{
	char *kdir = tu_path(dir, ".kube");
	ck_assert_int_eq(mkdir(kdir, 0700), 0);
	char *path = put(".kube/config", "current-context: x\n"
	                                 "clusters:\n- name: c\n  cluster: {server: 'https://127.0.0.9:1'}\n"
	                                 "contexts:\n- name: x\n  context: {cluster: c}\n");
	rk_kube_config *cfg;
	rk_err err;
	ck_assert_int_eq(load(NULL, NULL, &cfg, &err), RK_OK);
	ck_assert_str_eq(cfg->server, "https://127.0.0.9:1");
	ck_assert_str_eq(cfg->user_name, "");
	rk_kube_config_free(cfg);
	free(path);
	free(kdir);
}
END_TEST

START_TEST(no_config_anywhere)
{
	rk_kube_config *cfg;
	rk_err err;
	ck_assert_int_eq(load(NULL, NULL, &cfg, &err), RK_BADINPUT);
	ck_assert_ptr_nonnull(strstr(err.msg, "no kubeconfig found"));
	char *missing = tu_path(dir, "missing");
	ck_assert_int_eq(load(missing, NULL, &cfg, &err), RK_BADINPUT);
	ck_assert_ptr_nonnull(strstr(err.msg, "No such file"));
	free(missing);
}
END_TEST

START_TEST(bad_yaml_has_position)
{
	char *path = put("config", "clusters:\n- name: c\n  cluster: {server: [\n");
	rk_kube_config *cfg;
	rk_err err;
	ck_assert_int_eq(load(path, NULL, &cfg, &err), RK_BADINPUT);
	char want[600];
	snprintf(want, sizeof want, "%s:4:1: invalid YAML", path);
	ck_assert_msg(strncmp(err.msg, want, strlen(want)) == 0, "got %s", err.msg);
	ck_assert_ptr_null(strchr(err.msg, '\n'));
	free(path);
	path = put("config2", "- just\n- a list\n");
	ck_assert_int_eq(load(path, NULL, &cfg, &err), RK_BADINPUT);
	ck_assert_ptr_nonnull(strstr(err.msg, ":1:1: a kubeconfig must be a mapping"));
	free(path);
}
END_TEST

START_TEST(missing_cluster_and_user)
{
	char *path = put("config", "current-context: x\n"
	                           "contexts:\n- name: x\n  context: {cluster: gone, user: u}\n");
	rk_kube_config *cfg;
	rk_err err;
	ck_assert_int_eq(load(path, NULL, &cfg, &err), RK_BADINPUT);
	char want[600];
	snprintf(want, sizeof want, "cluster \"gone\" (context \"x\") not found in %s", path);
	ck_assert_str_eq(err.msg, want);
	free(path);
	path = put("config2", "current-context: x\n"
	                      "clusters:\n- name: gone\n  cluster: {server: 'https://127.0.0.1:1'}\n"
	                      "contexts:\n- name: x\n  context: {cluster: gone, user: u}\n");
	ck_assert_int_eq(load(path, NULL, &cfg, &err), RK_BADINPUT);
	ck_assert_ptr_nonnull(strstr(err.msg, "user \"u\" (context \"x\") not found in"));
	free(path);
	path = put("config3", "current-context: x\n"
	                      "clusters:\n- name: c\n  cluster: {certificate-authority-data: ''}\n"
	                      "contexts:\n- name: x\n  context: {cluster: c}\n");
	ck_assert_int_eq(load(path, NULL, &cfg, &err), RK_BADINPUT);
	ck_assert_ptr_nonnull(strstr(err.msg, "cluster \"c\" has no server"));
	free(path);
}
END_TEST

START_TEST(unreadable_cert_file)
{
	char *path =
	    put("config", "current-context: x\n"
	                  "clusters:\n- name: c\n  cluster: {server: 'https://127.0.0.1:1'}\n"
	                  "users:\n- name: u\n  user: {client-certificate: nope.crt, client-key: nope.key}\n"
	                  "contexts:\n- name: x\n  context: {cluster: c, user: u}\n");
	rk_kube_config *cfg;
	rk_err err;
	ck_assert_int_eq(load(path, NULL, &cfg, &err), RK_BADINPUT);
	char want[800];
	snprintf(want, sizeof want,
	         "%s: user \"u\": cannot read client-certificate: %s/nope.crt: No such file", path, dir);
	ck_assert_msg(strncmp(err.msg, want, strlen(want)) == 0, "got %s", err.msg);
	free(path);
}
END_TEST

START_TEST(bad_base64_and_bad_pem)
{
	char *path = put("config", "current-context: x\n"
	                           "clusters:\n- name: c\n  cluster:\n    server: 'https://127.0.0.1:1'\n"
	                           "    certificate-authority-data: 'not*base64'\n"
	                           "contexts:\n- name: x\n  context: {cluster: c}\n");
	rk_kube_config *cfg;
	rk_err err;
	ck_assert_int_eq(load(path, NULL, &cfg, &err), RK_BADINPUT);
	char want[800];
	snprintf(want, sizeof want, "%s:6:33: cluster \"c\": certificate-authority-data is not valid base64",
	         path);
	ck_assert_str_eq(err.msg, want);
	free(path);
	path = put("config2", "current-context: x\n"
	                      "clusters:\n- name: c\n  cluster:\n    server: 'https://127.0.0.1:1'\n"
	                      "    certificate-authority-data: aGVsbG8=\n"
	                      "contexts:\n- name: x\n  context: {cluster: c}\n");
	ck_assert_int_eq(load(path, NULL, &cfg, &err), RK_BADINPUT);
	ck_assert_ptr_nonnull(strstr(err.msg, "holds no PEM certificate"));
	free(path);
}
END_TEST

START_TEST(data_fields_and_relative_paths)
{
	make_cert();
	char *crt = b64_file("tls.crt"), *key = b64_file("tls.key");
	char *sub = tu_path(dir, "sub");
	ck_assert_int_eq(mkdir(sub, 0700), 0);
	free(sub);
	char *tok = put("sub/token.txt", "file-token\n");
	char text[16384];
	snprintf(text, sizeof text,
	         "current-context: x\n"
	         "clusters:\n- name: c\n  cluster: {server: 'https://127.0.0.1:1', "
	         "certificate-authority-data: %s}\n"
	         "users:\n- name: u\n  user: {client-certificate-data: %s, client-key-data: %s, tokenFile: "
	         "token.txt}\n"
	         "contexts:\n- name: x\n  context: {cluster: c, user: u}\n",
	         crt, crt, key);
	char *path = put("sub/config", text);
	rk_kube_config *cfg;
	rk_err err;
	ck_assert_int_eq(load(path, NULL, &cfg, &err), RK_OK);
	ck_assert_str_eq(cfg->token_file, tok);
	ck_assert_ptr_nonnull(strstr((char *)cfg->client_cert_pem.data, "BEGIN CERTIFICATE"));
	ck_assert_ptr_nonnull(strstr((char *)cfg->client_key_pem.data, "PRIVATE KEY"));
	ck_assert_uint_eq(cfg->ca_pem.len, cfg->client_cert_pem.len);
	/* the key is a secret buffer: it grew without realloc, and freeing the config wipes it */
	ck_assert_int_eq(cfg->client_key_pem.secret, 1);
	struct key_releases seen = {0, 0};
	rk_buf_observe_releases(observe_key_release, &seen);
	rk_kube_config_free(cfg);
	rk_buf_observe_releases(NULL, NULL);
	ck_assert_uint_eq(seen.wiped_secret, 1);
	ck_assert_uint_eq(seen.holding_key, 0);
	free(crt);
	free(key);
	free(tok);
	free(path);
}
END_TEST

START_TEST(legacy_auth_refused)
{
	char *path = put("config", "current-context: x\n"
	                           "clusters:\n- name: c\n  cluster: {server: 'https://127.0.0.1:1'}\n"
	                           "users:\n- name: g\n  user:\n    auth-provider: {name: gcp}\n"
	                           "- name: b\n  user: {username: admin, password: secret}\n"
	                           "contexts:\n- name: x\n  context: {cluster: c, user: g}\n"
	                           "- name: y\n  context: {cluster: c, user: b}\n");
	rk_kube_config *cfg;
	rk_err err;
	ck_assert_int_eq(load(path, "x", &cfg, &err), RK_BADINPUT);
	ck_assert_ptr_nonnull(strstr(err.msg, "user \"g\" uses auth-provider \"gcp\""));
	ck_assert_ptr_nonnull(strstr(err.msg, path));
	ck_assert_int_eq(load(path, "y", &cfg, &err), RK_BADINPUT);
	ck_assert_ptr_nonnull(strstr(err.msg, "basic auth"));
	ck_assert_ptr_null(strstr(err.msg, "secret"));
	free(path);
}
END_TEST

START_TEST(insecure_needs_the_flag)
{
	char *path = put("config", "current-context: x\n"
	                           "clusters:\n- name: c\n  cluster: {server: 'https://127.0.0.1:1', "
	                           "insecure-skip-tls-verify: true}\n"
	                           "contexts:\n- name: x\n  context: {cluster: c}\n");
	rk_kube_config *cfg;
	rk_err err;
	ck_assert_int_eq(load(path, NULL, &cfg, &err), RK_OK);
	ck_assert_int_eq(cfg->insecure, 0);
	rk_kube_config_free(cfg);
	rk_kubeconfig_opts opts = {.kubeconfig = path, .insecure_skip_tls_verify = 1};
	ck_assert_int_eq(rk_kubeconfig_load(&opts, &cfg, &err), RK_OK);
	ck_assert_int_eq(cfg->insecure, 1);
	rk_kube_config_free(cfg);
	free(path);
}
END_TEST

START_TEST(duplicate_names_rejected)
{
	char *path = put("config", "current-context: x\n"
	                           "clusters:\n- name: c\n  cluster: {server: 'https://127.0.0.1:1'}\n"
	                           "- name: c\n  cluster: {server: 'https://127.0.0.1:2'}\n"
	                           "contexts:\n- name: x\n  context: {cluster: c}\n");
	rk_kube_config *cfg;
	rk_err err;
	ck_assert_int_eq(load(path, NULL, &cfg, &err), RK_BADINPUT);
	ck_assert_ptr_nonnull(strstr(err.msg, ":5:3: duplicate name \"c\" in clusters"));
	free(path);
}
END_TEST

START_TEST(incluster_config)
{
	make_cert();
	char *sa = tu_path(dir, "sa");
	ck_assert_int_eq(mkdir(sa, 0700), 0);
	char cmd[1024];
	snprintf(cmd, sizeof cmd,
	         "cp '%s/tls.crt' '%s/ca.crt' && printf tok > '%s/token' && printf ns1 > '%s/namespace'", dir,
	         sa, sa, sa);
	ck_assert_int_eq(system(cmd), 0);
	setenv("KUBERNETES_SERVICE_HOST", "127.0.0.1", 1);
	setenv("KUBERNETES_SERVICE_PORT", "6443", 1);
	rk_kubeconfig_opts opts = {.incluster_root = sa};
	rk_kube_config *cfg;
	rk_err err;
	ck_assert_int_eq(rk_kubeconfig_load(&opts, &cfg, &err), RK_OK); /* no kubeconfig: falls back */
	ck_assert_str_eq(cfg->server, "https://127.0.0.1:6443");
	ck_assert_str_eq(cfg->namespace_name, "ns1");
	ck_assert_ptr_nonnull(strstr(cfg->token_file, "/sa/token"));
	ck_assert_uint_gt(cfg->ca_pem.len, 0);
	rk_kube_config_free(cfg);
	snprintf(cmd, sizeof cmd, "rm '%s/token'", sa);
	ck_assert_int_eq(system(cmd), 0);
	ck_assert_int_eq(rk_kubeconfig_load(&opts, &cfg, &err), RK_BADINPUT);
	ck_assert_ptr_nonnull(strstr(err.msg, "in-cluster: "));
	free(sa);
}
END_TEST

/* ---- exec plugins ---- */

static const char *exec_user =
    "current-context: x\n"
    "clusters:\n- name: c\n  cluster: {server: 'https://127.0.0.1:1'}\n"
    "users:\n- name: u\n  user:\n    exec:\n      apiVersion: client.authentication.k8s.io/%s\n"
    "      command: ./plugin.sh\n      args: [one, two]\n"
    "      env: [%s{name: PLUGIN_MODE, value: '%s'}]\n"
    "      interactiveMode: Never\n      provideClusterInfo: true\n"
    "contexts:\n- name: x\n  context: {cluster: c, user: u}\n";

static const char *plugin_script =
    "#!/bin/sh\n"
    "echo run >> \"$(dirname \"$0\")/calls\"\n"
    "printf '%s' \"$KUBERNETES_EXEC_INFO\" > \"$(dirname \"$0\")/info\"\n"
    "echo \"$1 $2\" > \"$(dirname \"$0\")/args\"\n"
    "case \"$PLUGIN_MODE\" in\n"
    "token) echo '{\"apiVersion\":\"client.authentication.k8s.io/v1\",\"kind\":\"ExecCredential\","
    "\"status\":{\"token\":\"plugin-token\",\"expirationTimestamp\":\"2099-01-02T03:04:05Z\"}}' ;;\n"
    "garbage) echo 'this is not json' ;;\n"
    "shortoffset) echo '{\"apiVersion\":\"client.authentication.k8s.io/v1\",\"kind\":\"ExecCredential\","
    "\"status\":{\"token\":\"t\",\"expirationTimestamp\":\"2099-01-02T03:04:05+1:2\"}}' ;;\n"
    "fail) echo 'denied' >&2; exit 3 ;;\n"
    "hang) sleep 30 & echo $! > \"$(dirname \"$0\")/grandchild\"; wait ;;\n"
    "oldapi) echo '{\"apiVersion\":\"client.authentication.k8s.io/v1beta1\",\"kind\":\"ExecCredential\","
    "\"status\":{\"token\":\"t\"}}' ;;\n"
    "esac\n";

/* Runs the test plugin; env_before: kubeconfig env entries before PLUGIN_MODE (YAML, "" = none);
 * timeout_ms: the plugin's deadline (0 = the default). */
static int run_plugin_with(const char *version, const char *env_before, const char *mode, long timeout_ms,
                           rk_exec_cred *cred, rk_err *err)
{
	char text[4096];
	snprintf(text, sizeof text, exec_user, version, env_before, mode);
	char *path = put("config", text);
	free(put_script("plugin.sh", plugin_script));
	rk_kube_config *cfg;
	int rc = load(path, NULL, &cfg, err);
	free(path);
	if (rc != RK_OK)
		return rc;
	ck_assert_ptr_nonnull(cfg->exec);
	ck_assert_int_eq(cfg->exec->timeout_ms, RK_EXEC_PLUGIN_TIMEOUT_MS);
	if (timeout_ms)
		cfg->exec->timeout_ms = timeout_ms;
	rc = rk_exec_run(cfg, cred, err);
	rk_kube_config_free(cfg);
	return rc;
}

static int run_plugin(const char *version, const char *mode, rk_exec_cred *cred, rk_err *err)
{
	return run_plugin_with(version, "", mode, 0, cred, err);
}

START_TEST(exec_plugin_token)
{
	rk_exec_cred cred = {0};
	rk_err err;
	ck_assert_int_eq(run_plugin("v1", "token", &cred, &err), RK_OK);
	ck_assert_str_eq(cred.token, "plugin-token");
	ck_assert_int_eq(cred.expiry, 4071006245);
	ck_assert(rk_exec_cred_valid(&cred, time(NULL)));
	ck_assert(!rk_exec_cred_valid(&cred, 4071006245));
	char *info_path = tu_path(dir, "info"), *args_path = tu_path(dir, "args");
	char *info = tu_read_file(info_path, NULL), *args = tu_read_file(args_path, NULL);
	ck_assert_ptr_nonnull(strstr(info, "\"interactive\":false"));
	ck_assert_ptr_nonnull(strstr(info, "\"server\":\"https://127.0.0.1:1\""));
	ck_assert_ptr_nonnull(strstr(info, "\"apiVersion\":\"client.authentication.k8s.io/v1\""));
	ck_assert_str_eq(args, "one two\n");
	rk_exec_cred_clear(&cred);
	free(info);
	free(args);
	free(info_path);
	free(args_path);
}
END_TEST

START_TEST(exec_plugin_garbage)
{
	rk_exec_cred cred = {0};
	rk_err err;
	ck_assert_int_eq(run_plugin("v1", "garbage", &cred, &err), RK_BADINPUT);
	ck_assert_ptr_nonnull(strstr(err.msg, "exec plugin \""));
	ck_assert_ptr_nonnull(strstr(err.msg, "(user \"u\" in "));
	ck_assert_ptr_nonnull(strstr(err.msg, "output is not an ExecCredential JSON object"));
	ck_assert_ptr_null(strchr(err.msg, '\n'));
	ck_assert_ptr_null(cred.token);
}
END_TEST

START_TEST(exec_plugin_fails)
{
	rk_exec_cred cred = {0};
	rk_err err;
	ck_assert_int_eq(run_plugin("v1", "fail", &cred, &err), RK_BADINPUT);
	ck_assert_ptr_nonnull(strstr(err.msg, "exited with status 3"));
	ck_assert_int_eq(run_plugin("v1", "oldapi", &cred, &err), RK_BADINPUT);
	ck_assert_ptr_nonnull(
	    strstr(err.msg, "does not match the configured \"client.authentication.k8s.io/v1\""));
}
END_TEST

/* client-go appends the kubeconfig's env after os.Environ() and Go keeps the last value of a name:
 * the kubeconfig wins over the inherited environment, a later entry over an earlier one, and
 * KUBERNETES_EXEC_INFO is always rekeyctl's own. */
START_TEST(exec_plugin_env_overrides_inherited)
{
	rk_exec_cred cred = {0};
	rk_err err;
	setenv("PLUGIN_MODE", "garbage", 1);
	setenv("KUBERNETES_EXEC_INFO", "inherited", 1);
	ck_assert_msg(run_plugin("v1", "token", &cred, &err) == RK_OK, "%s", err.msg);
	ck_assert_str_eq(cred.token, "plugin-token");
	rk_exec_cred_clear(&cred);
	ck_assert_msg(run_plugin_with("v1",
	                              "{name: PLUGIN_MODE, value: fail}, "
	                              "{name: KUBERNETES_EXEC_INFO, value: from-kubeconfig}, ",
	                              "token", 0, &cred, &err) == RK_OK,
	              "%s", err.msg);
	ck_assert_str_eq(cred.token, "plugin-token");
	char *info_path = tu_path(dir, "info"), *info = tu_read_file(info_path, NULL);
	ck_assert_ptr_nonnull(strstr(info, "\"kind\":\"ExecCredential\""));
	rk_exec_cred_clear(&cred);
	free(info);
	free(info_path);
	unsetenv("PLUGIN_MODE");
	unsetenv("KUBERNETES_EXEC_INFO");
}
END_TEST

START_TEST(exec_plugin_past_its_timeout_is_killed)
{
	rk_exec_cred cred = {0};
	rk_err err;
	int64_t start = rk_monotonic_ns();
	ck_assert_int_eq(run_plugin_with("v1", "", "hang", 500, &cred, &err), RK_BADINPUT);
	int64_t took_ms = (rk_monotonic_ns() - start) / RK_NS_PER_MS;
	ck_assert_msg(took_ms >= 500 && took_ms < 500 + RK_CHILD_GRACE_MS + 1000, "took %lld ms",
	              (long long)took_ms);
	ck_assert_msg(strstr(err.msg, "did not answer within 0.5s: its process group was killed"), "%s",
	              err.msg);
	ck_assert_ptr_null(cred.token);
	char *p = tu_path(dir, "grandchild"), *text = tu_read_file(p, NULL);
	ck_assert_ptr_nonnull(text);
	pid_t grandchild = (pid_t)atoi(text);
	for (int i = 0; i < 200 && tu_process_running(grandchild);
	     i++) /* SIGKILL sent; let the kernel deliver it */
		usleep(5000);
	ck_assert_msg(grandchild > 0 && !tu_process_running(grandchild), "grandchild %d still runs",
	              (int)grandchild);
	free(text);
	free(p);
}
END_TEST

START_TEST(exec_config_errors)
{
	rk_exec_cred cred = {0};
	rk_err err;
	ck_assert_int_eq(run_plugin("v1alpha1", "token", &cred, &err), RK_BADINPUT);
	ck_assert_ptr_nonnull(strstr(err.msg, "exec apiVersion \"client.authentication.k8s.io/v1alpha1\""));
	char *path = put(
	    "config", "current-context: x\n"
	              "clusters:\n- name: c\n  cluster: {server: 'https://127.0.0.1:1'}\n"
	              "users:\n- name: u\n  user:\n    exec: {apiVersion: client.authentication.k8s.io/v1, "
	              "command: x}\n"
	              "contexts:\n- name: x\n  context: {cluster: c, user: u}\n");
	rk_kube_config *cfg;
	ck_assert_int_eq(load(path, NULL, &cfg, &err), RK_BADINPUT);
	ck_assert_ptr_nonnull(strstr(err.msg, "interactiveMode must be set"));
	free(path);
}
END_TEST

START_TEST(exec_interactive_always_needs_a_terminal)
{
	if (isatty(STDIN_FILENO))
		return; /* only meaningful when stdin is not a terminal (CI, make check) */
	char *path = put(
	    "config", "current-context: x\n"
	              "clusters:\n- name: c\n  cluster: {server: 'https://127.0.0.1:1'}\n"
	              "users:\n- name: u\n  user:\n    exec: {apiVersion: client.authentication.k8s.io/v1, "
	              "command: /bin/true, interactiveMode: Always}\n"
	              "contexts:\n- name: x\n  context: {cluster: c, user: u}\n");
	rk_kube_config *cfg;
	rk_err err;
	ck_assert_int_eq(load(path, NULL, &cfg, &err), RK_OK);
	rk_exec_cred cred = {0};
	ck_assert_int_eq(rk_exec_run(cfg, &cred, &err), RK_BADINPUT);
	ck_assert_ptr_nonnull(
	    strstr(err.msg, "interactiveMode is Always but standard input is not a terminal"));
	rk_kube_config_free(cfg);
	free(path);
}
END_TEST

/* A short offset ("+1:2") used to be read 2 bytes past the end of the string (ASan caught it here). */
START_TEST(exec_plugin_short_offset_refused)
{
	rk_exec_cred cred = {0};
	rk_err err;
	ck_assert_int_eq(run_plugin("v1", "shortoffset", &cred, &err), RK_BADINPUT);
	ck_assert_ptr_nonnull(strstr(err.msg,
	                             "status.expirationTimestamp is not an RFC 3339 time: the offset "
	                             "is not Z, +hh:mm or -hh:mm"));
	ck_assert_ptr_null(cred.token);
}
END_TEST

/* Each text is parsed from its own heap copy, so ASan sees any read past its end. */
static const char *parse_copy(const char *text, time_t *t)
{
	char *copy = strdup(text);
	const char *why = rk_parse_rfc3339(copy, t);
	free(copy);
	return why;
}

START_TEST(rfc3339_times)
{
	static const struct {
		const char *text;
		time_t want;
	} good[] = {
	    {"1970-01-01T00:01:00Z", 60},
	    {"1970-01-01T00:01:00z", 60},
	    {"1970-01-01t00:01:00Z", 60},
	    {"1970-01-01T01:00:00.123+01:00", 0},
	    {"1970-01-01T00:00:00.5-00:30", 1800},
	    {"1970-01-01T00:00:00.000000000001Z", 0},
	    {"2024-02-29T23:59:59+23:59", 1709251199 - 86340},
	    {"2099-01-02T03:04:05Z", 4071006245},
	};
	for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
		time_t t = -1;
		ck_assert_msg(parse_copy(good[i].text, &t) == NULL, "%s refused", good[i].text);
		ck_assert_int_eq(t, good[i].want);
	}
	static const char *const bad[] = {
	    "",
	    "1970",
	    "1970-01-01",
	    "1970-01-01 01:00:00Z",
	    "1970-01-01T01:00:00",
	    "1970-01-01T01:00:00Zjunk",
	    "1970-01-01T00:00:00+1:2",
	    "1970-01-01T00:00:00+01:2",
	    "1970-01-01T00:00:00+1",
	    "1970-01-01T00:00:00+",
	    "1970-01-01T00:00:00+01",
	    "1970-01-01T00:00:00+0100",
	    "1970-01-01T00:00:00+24:00",
	    "1970-01-01T00:00:00+01:60",
	    "1970-01-01T00:00:00+01:00:00",
	    "1970-01-01T00:00:00.Z",
	    "1970-01-01T00:00:00,5Z",
	    "1970-1-01T00:00:00Z",
	    "1970-01-01T0:00:00Z",
	    "1970-13-01T00:00:00Z",
	    "1970-02-29T00:00:00Z",
	    "1900-02-29T00:00:00Z",
	    "1970-01-01T24:00:00Z",
	    "1970-01-01T00:60:00Z",
	    "1970-01-01T00:00:60Z",
	    " 1970-01-01T00:00:00Z",
	    "+1970-01-01T00:00:00Z",
	    "1970-01-01T00:00:00 Z",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		time_t t = 7;
		ck_assert_msg(parse_copy(bad[i], &t) != NULL, "\"%s\" accepted", bad[i]);
		ck_assert_int_eq(t, 7);
	}
	time_t t;
	ck_assert_str_eq(parse_copy("1970-01-01T00:00:00+1:2", &t), "the offset is not Z, +hh:mm or -hh:mm");
	ck_assert_str_eq(parse_copy("1970-01-01T00:00:00.Z", &t), "the fraction after '.' has no digits");
	ck_assert_str_eq(parse_copy("1970-01-32T00:00:00Z", &t), "the date is not YYYY-MM-DD");
}
END_TEST

Suite *kubeconfig_suite(void)
{
	Suite *s = suite_create("kubeconfig");
	TCase *tc = tcase_create("load");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, explicit_file_current_context);
	tcase_add_test(tc, context_not_found_names_file);
	tcase_add_test(tc, kubeconfig_env_merges_first_wins);
	tcase_add_test(tc, home_config_is_the_default);
	tcase_add_test(tc, no_config_anywhere);
	tcase_add_test(tc, bad_yaml_has_position);
	tcase_add_test(tc, missing_cluster_and_user);
	tcase_add_test(tc, unreadable_cert_file);
	tcase_add_test(tc, bad_base64_and_bad_pem);
	tcase_add_test(tc, data_fields_and_relative_paths);
	tcase_add_test(tc, legacy_auth_refused);
	tcase_add_test(tc, insecure_needs_the_flag);
	tcase_add_test(tc, duplicate_names_rejected);
	tcase_add_test(tc, incluster_config);
	tcase_add_test(tc, exec_plugin_token);
	tcase_add_test(tc, exec_plugin_garbage);
	tcase_add_test(tc, exec_plugin_fails);
	tcase_add_test(tc, exec_config_errors);
	tcase_add_test(tc, exec_plugin_env_overrides_inherited);
	tcase_add_test(tc, exec_plugin_past_its_timeout_is_killed);
	tcase_add_test(tc, exec_interactive_always_needs_a_terminal);
	tcase_add_test(tc, exec_plugin_short_offset_refused);
	tcase_add_test(tc, rfc3339_times);
	suite_add_tcase(s, tc);
	return s;
}
