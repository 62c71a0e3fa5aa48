/* execcred.c: runs exec credential plugins the way client-go does: ExecCredential request in
 * KUBERNETES_EXEC_INFO, plugin env added to ours, stdout parsed as an ExecCredential (see execcred.h). */
#include "rekey/execcred.h"

#include "rekey/child.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <openssl/crypto.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "rekey/base64.h"

extern char **environ;

#define EXEC_OUTPUT_MAX (1u << 20)

static int plugin_err(const rk_kube_config *cfg, rk_err *err, const char *what)
{
	return rk_err_set(err, RK_BADINPUT, "exec plugin \"%s\" (user \"%s\" in %s): %s", cfg->exec->command,
	                  cfg->user_name ? cfg->user_name : "", cfg->source ? cfg->source : "?", what);
}

/* ---- time ---- */

/* Takes exactly n digits at *p as a number in [lo, hi]; stops at the first non-digit (never past
 * the terminating NUL). */
static int take_number(const char **p, int n, int lo, int hi, int *out)
{
	int value = 0;
	for (int i = 0; i < n; i++) {
		unsigned char c = (unsigned char)(*p)[i];
		if (!isdigit(c))
			return -1;
		value = value * 10 + (c - '0');
	}
	if (value < lo || value > hi)
		return -1;
	*p += n;
	*out = value;
	return 0;
}

static int take_char(const char **p, char want)
{
	if (toupper((unsigned char)**p) != want)
		return -1;
	(*p)++;
	return 0;
}

static int days_in_month(int year, int month)
{
	static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	int leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
	return days[month - 1] + (month == 2 && leap);
}

/* full-date "T" partial-time without the fraction: YYYY-MM-DDThh:mm:ss. */
static const char *take_date_time(const char **p, struct tm *tm)
{
	int year, month, day;
	if (take_number(p, 4, 0, 9999, &year) || take_char(p, '-') || take_number(p, 2, 1, 12, &month) ||
	    take_char(p, '-') || take_number(p, 2, 1, days_in_month(year, month), &day))
		return "the date is not YYYY-MM-DD";
	if (take_char(p, 'T') || take_number(p, 2, 0, 23, &tm->tm_hour) || take_char(p, ':') ||
	    take_number(p, 2, 0, 59, &tm->tm_min) || take_char(p, ':') ||
	    take_number(p, 2, 0, 59, &tm->tm_sec))
		return "the time is not Thh:mm:ss";
	tm->tm_year = year - 1900;
	tm->tm_mon = month - 1;
	tm->tm_mday = day;
	return NULL;
}

/* time-offset: "Z" or +hh:mm / -hh:mm, in seconds east of UTC. */
static const char *take_offset(const char **p, long *offset)
{
	if (take_char(p, 'Z') == 0) {
		*offset = 0;
		return NULL;
	}
	char sign = **p;
	int hh, mm;
	if (sign != '+' && sign != '-')
		return "the offset is not Z, +hh:mm or -hh:mm";
	(*p)++;
	if (take_number(p, 2, 0, 23, &hh) || take_char(p, ':') || take_number(p, 2, 0, 59, &mm))
		return "the offset is not Z, +hh:mm or -hh:mm";
	*offset = (hh * 3600L + mm * 60L) * (sign == '-' ? -1 : 1);
	return NULL;
}

const char *rk_parse_rfc3339(const char *text, time_t *out)
{
	struct tm tm = {0};
	const char *p = text;
	const char *why = take_date_time(&p, &tm);
	if (why)
		return why;
	if (*p == '.') {
		p++;
		if (!isdigit((unsigned char)*p))
			return "the fraction after '.' has no digits";
		while (isdigit((unsigned char)*p))
			p++;
	}
	long offset;
	if ((why = take_offset(&p, &offset)) != NULL)
		return why;
	if (*p)
		return "text follows the offset";
	*out = timegm(&tm) - offset;
	return NULL;
}

/* ---- request ---- */

static json_t *cluster_info(const rk_kube_config *cfg)
{
	json_t *c = json_pack("{s:s, s:b}", "server", cfg->server, "insecure-skip-tls-verify", cfg->insecure);
	if (cfg->tls_server_name)
		json_object_set_new(c, "tls-server-name", json_string(cfg->tls_server_name));
	if (cfg->proxy_url)
		json_object_set_new(c, "proxy-url", json_string(cfg->proxy_url));
	rk_buf ca = RK_BUF_INIT;
	if (cfg->ca_pem.len && rk_b64_encode(cfg->ca_pem.data, cfg->ca_pem.len, RK_B64_STD, &ca) == 0)
		json_object_set_new(c, "certificate-authority-data", json_string(rk_buf_cstr(&ca)));
	rk_buf_free(&ca);
	return c;
}

static char *exec_info(const rk_kube_config *cfg, int interactive)
{
	json_t *spec = json_pack("{s:b}", "interactive", interactive);
	if (cfg->exec->provide_cluster_info)
		json_object_set_new(spec, "cluster", cluster_info(cfg));
	json_t *req = json_pack("{s:s, s:s, s:o}", "apiVersion", cfg->exec->api_version, "kind",
	                        "ExecCredential", "spec", spec);
	char *text = json_dumps(req, JSON_COMPACT);
	json_decref(req);
	return text;
}

/* Length of the name of a "NAME=value" entry. */
static size_t env_name_len(const char *entry)
{
	const char *eq = strchr(entry, '=');
	return eq ? (size_t)(eq - entry) : strlen(entry);
}

static int same_env_name(const char *a, const char *b)
{
	size_t n = env_name_len(a);
	return n == env_name_len(b) && !strncmp(a, b, n);
}

static int named_in(const char *entry, char *const *list, size_t from)
{
	for (size_t i = from; list && list[i]; i++)
		if (same_env_name(entry, list[i]))
			return 1;
	return 0;
}

/* The plugin's environment as client-go builds it: os.Environ(), then the kubeconfig's env entries,
 * then KUBERNETES_EXEC_INFO, where Go's os/exec keeps the LAST value of a name. getenv(3) finds the
 * first, so every entry a later one overrides is left out here instead. */
static char **plugin_env(const rk_kube_config *cfg, const char *info)
{
	static const char info_name[] = "KUBERNETES_EXEC_INFO=";
	char *const *added = cfg->exec->env;
	size_t n_env = 0, n_add = 0;
	while (environ[n_env])
		n_env++;
	while (added && added[n_add])
		n_add++;
	char **env = calloc(n_env + n_add + 2, sizeof *env);
	size_t len = strlen(info_name) + strlen(info) + 1;
	char *var = env ? malloc(len) : NULL;
	if (!var) {
		free(env);
		return NULL;
	}
	snprintf(var, len, "%s%s", info_name, info);
	size_t n = 0;
	for (size_t i = 0; i < n_env; i++)
		if (!same_env_name(environ[i], var) && !named_in(environ[i], added, 0))
			env[n++] = environ[i];
	for (size_t i = 0; i < n_add; i++)
		if (!same_env_name(added[i], var) && !named_in(added[i], added, i + 1))
			env[n++] = added[i];
	env[n++] = var;
	return env;
}

/* ---- running the plugin ---- */

static void child_exec(const rk_kube_config *cfg, char **env, int out_fd, int interactive)
{
	if (!interactive) /* an interactive plugin keeps the terminal's process group */
		rk_child_own_group();
	dup2(out_fd, STDOUT_FILENO);
	if (!interactive) {
		int null_fd = open("/dev/null", O_RDONLY);
		if (null_fd >= 0)
			dup2(null_fd, STDIN_FILENO);
	}
	size_t nargs = 0;
	while (cfg->exec->args && cfg->exec->args[nargs])
		nargs++;
	char **argv = calloc(nargs + 2, sizeof *argv);
	if (!argv)
		_exit(127);
	argv[0] = cfg->exec->command;
	for (size_t i = 0; i < nargs; i++)
		argv[i + 1] = cfg->exec->args[i];
	execvpe(cfg->exec->command, argv, env);
	fprintf(stderr, "rekeyctl: cannot run exec plugin %s: %s\n", cfg->exec->command, strerror(errno));
	_exit(127);
}

/* Runs the plugin and reads its output before the deadline (non-interactive runs). */
static int spawn_and_read(const rk_kube_config *cfg, int interactive, rk_buf *out, int *status, rk_err *err)
{
	char *info = exec_info(cfg, interactive);
	char **env = info ? plugin_env(cfg, info) : NULL;
	int fds[2] = {-1, -1};
	if (!env || pipe2(fds, O_CLOEXEC) != 0) {
		free(info);
		free(env);
		return rk_err_set(err, RK_FAIL, "exec plugin: cannot start: %s", strerror(errno));
	}
	pid_t pid = fork();
	if (pid == 0) {
		close(fds[0]);
		child_exec(cfg, env, fds[1], interactive);
	}
	int saved = errno;
	close(fds[1]);
	rk_child child;
	int rc = RK_CHILD_OK;
	long timeout_ms = interactive ? 0 : cfg->exec->timeout_ms;
	if (pid > 0) {
		rk_child_start(&child, pid, timeout_ms, !interactive);
		rc = rk_child_read(&child, fds[0], out, EXEC_OUTPUT_MAX);
		if (rc != RK_CHILD_OK)
			rk_child_kill(&child);
		else
			rc = rk_child_wait(&child, status);
	}
	close(fds[0]);
	size_t last = 0;
	while (env[last])
		last++;
	free(env[last - 1]); /* the KUBERNETES_EXEC_INFO variable, allocated by plugin_env */
	free(env);
	free(info);
	if (pid < 0)
		return rk_err_set(err, RK_FAIL, "exec plugin: fork: %s", strerror(saved));
	char what[160];
	if (rc == RK_CHILD_TIMEOUT) {
		snprintf(what, sizeof what, "did not answer within %.1fs: its process group was killed",
		         (double)timeout_ms / 1000.0);
		return plugin_err(cfg, err, what);
	}
	if (rc == RK_CHILD_TOO_BIG)
		return plugin_err(cfg, err, "output larger than 1 MiB");
	if (rc == RK_CHILD_LOST) {
		snprintf(what, sizeof what, "cannot be waited for (%s): its outcome is unknown",
		         strerror(errno));
		return plugin_err(cfg, err, what);
	}
	return RK_OK;
}

/* ---- parsing the ExecCredential ---- */

static int take_pem(json_t *status, const char *field, rk_buf *out)
{
	const char *s = json_string_value(json_object_get(status, field));
	if (!s || !*s)
		return 0;
	return rk_buf_append_str(out, s) == 0;
}

static int parse_status(const rk_kube_config *cfg, json_t *status, rk_exec_cred *out, rk_err *err)
{
	const char *token = json_string_value(json_object_get(status, "token"));
	if (token && *token)
		out->token = strdup(token);
	rk_buf_set_secret(&out->key_pem);
	int has_cert = take_pem(status, "clientCertificateData", &out->cert_pem);
	int has_key = take_pem(status, "clientKeyData", &out->key_pem);
	if (has_cert != has_key)
		return plugin_err(cfg, err, "status has only one of clientCertificateData and clientKeyData");
	if (!out->token && !has_cert)
		return plugin_err(cfg, err, "status has neither a token nor a client certificate");
	json_t *exp = json_object_get(status, "expirationTimestamp");
	if (exp && !json_is_null(exp)) {
		const char *why = json_is_string(exp) ? rk_parse_rfc3339(json_string_value(exp), &out->expiry)
		                                      : "it is not a string";
		if (why) {
			char what[200];
			snprintf(what, sizeof what, "status.expirationTimestamp is not an RFC 3339 time: %s",
			         why);
			return plugin_err(cfg, err, what);
		}
	}
	return RK_OK;
}

int rk_exec_cred_parse(const rk_kube_config *cfg, const char *text, size_t len, rk_exec_cred *out,
                       rk_err *err)
{
	json_error_t jerr;
	json_t *root = json_loadb(text, len, 0, &jerr);
	if (!root || !json_is_object(root)) {
		json_decref(root);
		char what[300];
		snprintf(what, sizeof what, "output is not an ExecCredential JSON object (line %d: %s)",
		         jerr.line, root ? "not an object" : jerr.text);
		return plugin_err(cfg, err, what);
	}
	const char *api = json_string_value(json_object_get(root, "apiVersion"));
	const char *kind = json_string_value(json_object_get(root, "kind"));
	json_t *status = json_object_get(root, "status");
	int rc = RK_OK;
	char what[400];
	if (!api || strcmp(api, cfg->exec->api_version) != 0) {
		snprintf(what, sizeof what, "output apiVersion \"%s\" does not match the configured \"%s\"",
		         api ? api : "", cfg->exec->api_version);
		rc = plugin_err(cfg, err, what);
	} else if (!kind || strcmp(kind, "ExecCredential") != 0) {
		rc = plugin_err(cfg, err, "output kind is not ExecCredential");
	} else if (!json_is_object(status)) {
		rc = plugin_err(cfg, err, "output has no status");
	} else {
		rc = parse_status(cfg, status, out, err);
	}
	json_decref(root);
	return rc;
}

static int interactive_allowed(const rk_kube_config *cfg, int *interactive, rk_err *err)
{
	int tty = isatty(STDIN_FILENO);
	*interactive = cfg->exec->interactive_mode != RK_EXEC_NEVER && tty;
	if (cfg->exec->interactive_mode == RK_EXEC_ALWAYS && !tty)
		return plugin_err(cfg, err, "interactiveMode is Always but standard input is not a terminal");
	return RK_OK;
}

static int describe_exit(const rk_kube_config *cfg, int status, rk_err *err)
{
	char what[600];
	if (WIFEXITED(status) && WEXITSTATUS(status) == 127 && cfg->exec->install_hint)
		snprintf(what, sizeof what, "could not be run (exit 127): %s", cfg->exec->install_hint);
	else if (WIFEXITED(status))
		snprintf(what, sizeof what, "exited with status %d", WEXITSTATUS(status));
	else
		snprintf(what, sizeof what, "killed by signal %d", WTERMSIG(status));
	return plugin_err(cfg, err, what);
}

int rk_exec_run(const rk_kube_config *cfg, rk_exec_cred *out, rk_err *err)
{
	rk_exec_cred_clear(out);
	int interactive, status = 0;
	if (interactive_allowed(cfg, &interactive, err) != RK_OK)
		return err->code;
	rk_buf text = RK_BUF_SECRET;
	int rc = spawn_and_read(cfg, interactive, &text, &status, err);
	if (rc == RK_OK && !(WIFEXITED(status) && WEXITSTATUS(status) == 0))
		rc = describe_exit(cfg, status, err);
	if (rc == RK_OK)
		rc = rk_exec_cred_parse(cfg, rk_buf_cstr(&text), text.len, out, err);
	rk_buf_wipe_free(&text);
	if (rc != RK_OK)
		rk_exec_cred_clear(out);
	return rc;
}

int rk_exec_cred_valid(const rk_exec_cred *cred, time_t now)
{
	if (!cred->token && !cred->cert_pem.len)
		return 0;
	return cred->expiry == 0 || now < cred->expiry;
}

void rk_exec_cred_clear(rk_exec_cred *cred)
{
	if (cred->token)
		OPENSSL_cleanse(cred->token, strlen(cred->token));
	free(cred->token);
	cred->token = NULL;
	rk_buf_free(&cred->cert_pem);
	rk_buf_wipe_free(&cred->key_pem);
	cred->expiry = 0;
}
