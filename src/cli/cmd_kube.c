/* cmd_kube.c: `rekeyctl kube`, a debugging window on the API client: one request (get, raw), a paged
 * list, discovery, readyz, or N requests in flight at once (repeat). Statistics go to stderr with -v. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "args_internal.h"
#include "commands_internal.h"
#include "rekey/kube.h"
#include "rekey/kubeconfig.h"
#include "rekey/log.h"

struct kube_args {
	rk_kubeconfig_opts kc;
	rk_kube_opts http;
	const char *endpoint;
	const char *body_file;
	const char *run_cmd; /* a program run (no shell, no arguments) after page `run_after` of a list or
	                        `run_after` answers of repeat (tests compact etcd or rotate a token there) */
	int run_after;
	int limit;
	int parallel; /* repeat: requests in flight */
	int repeat_n; /* repeat: how many requests */
	int verbose;
	const char *pos[5];
	int npos;
};

static const char usage_text[] =
    "usage: rekeyctl kube [FLAGS] config | get PATH | list PATH | raw METHOD PATH [-f FILE] | resource NAME "
    "|\n"
    "                     readyz [CHECK] | metrics | repeat N PATH | lease NAMESPACE NAME HOLDER\n"
    "flags: --kubeconfig FILE --context NAME --insecure-skip-tls-verify --endpoint URL (one apiserver)\n"
    "       --limit N (list page size, default 500) --attempts N --retry-budget-ms MS --timeout-ms MS\n"
    "       --http1 -v (statistics on stderr) --debug (log every retry) --parallel N (repeat: in flight)\n"
    "       --run PROGRAM --run-after-page N (tests: run PROGRAM, without a shell, after page N of a list\n"
    "       or N answers of repeat)\n";

static int usage_error(const char *why)
{
	fprintf(stderr, "rekeyctl kube: %s\n%s", why, usage_text);
	return RK_BADINPUT;
}

enum {
	OPT_ENDPOINT = 256,
	OPT_LIMIT,
	OPT_ATTEMPTS,
	OPT_RETRY_BUDGET,
	OPT_TIMEOUT,
	OPT_RUN_AFTER,
	OPT_PARALLEL,
	OPT_RUN,
	OPT_HTTP1,
	OPT_DEBUG
};

static const struct option long_options[] = {ARGS_KUBECONFIG_OPTIONS,
                                             {"endpoint", required_argument, NULL, OPT_ENDPOINT},
                                             {"limit", required_argument, NULL, OPT_LIMIT},
                                             {"attempts", required_argument, NULL, OPT_ATTEMPTS},
                                             {"retry-budget-ms", required_argument, NULL, OPT_RETRY_BUDGET},
                                             {"timeout-ms", required_argument, NULL, OPT_TIMEOUT},
                                             {"run-after-page", required_argument, NULL, OPT_RUN_AFTER},
                                             {"parallel", required_argument, NULL, OPT_PARALLEL},
                                             {"run", required_argument, NULL, OPT_RUN},
                                             {"http1", no_argument, NULL, OPT_HTTP1},
                                             {"debug", no_argument, NULL, OPT_DEBUG},
                                             {"help", no_argument, NULL, 'h'},
                                             {NULL, 0, NULL, 0}};

static int take(void *ud, int opt, const char *flag, const char *v)
{
	struct kube_args *a = ud;
	const char *c = "kube";
	if (args_take_kubeconfig(opt, v, &a->kc))
		return 0;
	switch (opt) {
	case OPT_ENDPOINT:
		a->endpoint = v;
		return 0;
	case 'f':
		a->body_file = v;
		return 0;
	case OPT_RUN:
		a->run_cmd = v;
		return 0;
	case OPT_LIMIT:
		return args_int(c, flag, v, 1, 100000, &a->limit);
	case OPT_ATTEMPTS:
		return args_int(c, flag, v, 1, 100, &a->http.max_attempts);
	case OPT_RETRY_BUDGET:
		return args_long(c, flag, v, 1, 3600000, &a->http.retry_budget_ms);
	case OPT_TIMEOUT:
		return args_long(c, flag, v, 1, 3600000, &a->http.request_timeout_ms);
	case OPT_RUN_AFTER:
		return args_int(c, flag, v, 1, 1000000, &a->run_after);
	case OPT_PARALLEL: /* as many connections per apiserver as requests in flight */
		if (args_int(c, flag, v, 1, 10000, &a->parallel) != 0)
			return -1;
		a->http.max_host_connections = a->parallel < 1024 ? a->parallel : 1024;
		return 0;
	case OPT_HTTP1:
		a->http.http1_only = 1;
		return 0;
	case 'v':
		a->verbose = 1;
		return 0;
	case OPT_DEBUG:
		rk_log_set_level(RK_LOG_DEBUG);
		return 0;
	case 'h':
		fputs(usage_text, stdout);
		return 1;
	}
	return -1;
}

/* Flags anywhere (getopt_long permutes), then the subcommand and its operands. */
static int parse_args(int argc, char **argv, struct kube_args *a)
{
	int rc = args_parse("kube", argc, argv, "f:vh", long_options, take, a);
	if (rc != 0)
		return rc;
	for (int i = optind; i < argc; i++) {
		if (a->npos == 5)
			return usage_error("too many arguments");
		a->pos[a->npos++] = argv[i];
	}
	if (!a->npos)
		return usage_error("missing subcommand");
	if (!strcmp(a->pos[0], "repeat") && a->npos == 3 &&
	    args_int("kube", "repeat", a->pos[1], 1, 1000000, &a->repeat_n) != 0)
		return RK_BADINPUT;
	return RK_OK;
}

/* --run: the program itself, no shell and no arguments; its exit status. */
static int run_program(const char *path)
{
	fflush(stdout);
	fflush(stderr);
	pid_t pid = fork();
	if (pid == 0) {
		char *const argv[] = {(char *)path, NULL};
		execv(path, argv);
		_exit(127);
	}
	int status = 0;
	while (pid > 0 && waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	int ok = pid > 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0;
	if (!ok)
		fprintf(stderr, "rekeyctl kube: --run %s failed\n", path);
	return ok ? 0 : -1;
}

static void print_resp_stats(const struct kube_args *a, const rk_kube_resp *r)
{
	if (a->verbose)
		fprintf(stderr,
		        "status=%ld http_version=%d attempts=%d latency_ms=%.1f total_ms=%.1f url=%s\n",
		        r->http_status, r->http_version, r->attempts, r->latency_s * 1000, r->total_s * 1000,
		        r->url ? r->url : "");
}

static char *read_body(const char *path, size_t *len)
{
	FILE *fp = strcmp(path, "-") ? fopen(path, "rb") : stdin;
	if (!fp)
		return NULL;
	rk_buf b = RK_BUF_INIT;
	char chunk[8192];
	size_t n;
	while ((n = fread(chunk, 1, sizeof chunk, fp)) > 0)
		rk_buf_append(&b, chunk, n);
	if (fp != stdin)
		fclose(fp);
	*len = b.len;
	return rk_buf_steal(&b);
}

static int do_request(rk_kube *k, const struct kube_args *a, const char *method, const char *path)
{
	size_t len = 0;
	char *body = NULL;
	if (a->body_file && !(body = read_body(a->body_file, &len))) {
		fprintf(stderr, "rekeyctl kube: %s: cannot read\n", a->body_file);
		return RK_BADINPUT;
	}
	rk_kube_req req = {
	    .method = method, .path = path, .endpoint = a->endpoint, .body = body, .body_len = len};
	rk_kube_resp resp;
	int rc = rk_kube_request(k, &req, &resp);
	free(body);
	print_resp_stats(a, &resp);
	if (rc == RK_OK)
		fwrite(resp.body.data, 1, resp.body.len, stdout);
	else
		fprintf(stderr, "rekeyctl: %s\n", resp.err.msg);
	rk_kube_resp_free(&resp);
	return rc;
}

static long peak_rss_kb(void)
{
	FILE *fp = fopen("/proc/self/status", "r");
	char line[256];
	long kb = -1;
	while (fp && fgets(line, sizeof line, fp))
		if (!strncmp(line, "VmHWM:", 6))
			kb = strtol(line + 6, NULL, 10); /* "VmHWM:   1234 kB" from the kernel */
	if (fp)
		fclose(fp);
	return kb;
}

static void print_item_name(json_t *item)
{
	json_t *meta = json_object_get(item, "metadata");
	const char *ns = json_string_value(json_object_get(meta, "namespace"));
	const char *name = json_string_value(json_object_get(meta, "name"));
	printf("%s%s%s\n", ns ? ns : "", ns ? "/" : "", name ? name : "?");
}

static int do_list(rk_kube *k, const struct kube_args *a, const char *path)
{
	rk_kube_list *l;
	rk_err err;
	rk_err_clear(&err);
	size_t n = 0, pages_seen = 0;
	int rc = rk_kube_list_open(k, path, a->limit > 0 ? a->limit : 500, NULL, &l, &err);
	json_t *item = NULL;
	while (rc == RK_OK && (rc = rk_kube_list_next(l, &item, &err)) == RK_OK && item) {
		print_item_name(item);
		n++;
		if (a->run_cmd && rk_kube_list_pages(l) != pages_seen &&
		    (int)rk_kube_list_pages(l) == a->run_after)
			run_program(a->run_cmd);
		pages_seen = rk_kube_list_pages(l);
	}
	if (rc != RK_OK)
		fprintf(stderr, "rekeyctl: %s\n", err.msg);
	if (a->verbose)
		fprintf(stderr, "listed=%zu pages=%zu inconsistent=%d vmhwm_kb=%ld\n", n,
		        l ? rk_kube_list_pages(l) : 0, l ? rk_kube_list_inconsistent(l) : 0, peak_rss_kb());
	rk_kube_list_close(l);
	return rc;
}

static int do_resource(rk_kube *k, const char *name)
{
	rk_kube_resource r;
	rk_err err;
	rk_err_clear(&err);
	if (rk_kube_discover(k, name, &r, &err) != RK_OK) {
		fprintf(stderr, "rekeyctl: %s\n", err.msg);
		return err.code;
	}
	rk_buf path = RK_BUF_INIT;
	rk_kube_resource_path(&r, r.namespaced ? "NAMESPACE" : NULL, NULL, &path);
	printf("group=%s version=%s resource=%s kind=%s namespaced=%d path=%s\n", r.group, r.version,
	       r.resource, r.kind, r.namespaced, rk_buf_cstr(&path));
	rk_buf_free(&path);
	return RK_OK;
}

static int do_readyz(rk_kube *k, const struct kube_args *a, const char *check)
{
	rk_buf text = RK_BUF_INIT;
	rk_err err;
	rk_err_clear(&err);
	int ready = 0;
	int rc = rk_kube_readyz(k, a->endpoint, check, &text, &ready, &err);
	if (rc != RK_OK)
		fprintf(stderr, "rekeyctl: %s\n", err.msg);
	else
		fwrite(text.data, 1, text.len, stdout);
	rk_buf_free(&text);
	return rc != RK_OK ? rc : ready ? RK_OK : RK_FAIL;
}

struct repeat_state {
	rk_kube *k;
	const struct kube_args *a;
	rk_kube_req req;
	int total, submitted, ok, failed;
	char first_error[RK_ERR_MSG_MAX];
};

static void repeat_done(void *user, rk_kube_resp *resp);

static void repeat_submit(struct repeat_state *st)
{
	rk_err err;
	rk_err_clear(&err);
	st->submitted++;
	if (rk_kube_submit(st->k, &st->req, repeat_done, st, &err) != RK_OK && !st->failed++)
		snprintf(st->first_error, sizeof st->first_error, "%s", err.msg);
}

/* One request finished: count it, run the --run hook after --run-after-page completions, and keep
 * --parallel requests in flight by submitting the next one from the callback. */
static void repeat_done(void *user, rk_kube_resp *resp)
{
	struct repeat_state *st = user;
	if (resp->err.code == RK_OK)
		st->ok++;
	else if (!st->failed++)
		snprintf(st->first_error, sizeof st->first_error, "%s", resp->err.msg);
	if (st->a->run_cmd && st->ok + st->failed == st->a->run_after)
		run_program(st->a->run_cmd);
	if (st->submitted < st->total)
		repeat_submit(st);
}

static int do_repeat(rk_kube *k, const struct kube_args *a, int n, const char *path)
{
	struct repeat_state st = {.k = k, .a = a, .total = n};
	st.req = (rk_kube_req){.method = "GET", .path = path, .endpoint = a->endpoint};
	int parallel = a->parallel > 0 && a->parallel < n ? a->parallel : n;
	for (int i = 0; i < parallel; i++)
		repeat_submit(&st);
	rk_kube_run_until_idle(k);
	rk_kube_stats s;
	rk_kube_get_stats(k, &s);
	printf("requests=%lu ok=%d failed=%d connections=%lu http2=%lu retries=%lu exec_runs=%lu\n",
	       s.requests, st.ok, st.failed, s.connections, s.http2, s.retries, s.exec_runs);
	if (st.failed)
		fprintf(stderr, "rekeyctl: %s\n", st.first_error);
	return st.failed ? RK_FAIL : RK_OK;
}

static const char *lease_rv(json_t *lease)
{
	const char *rv =
	    json_string_value(json_object_get(json_object_get(lease, "metadata"), "resourceVersion"));
	return rv ? rv : "?";
}

/* lease NS NAME HOLDER: creates the Lease, or renews it (PUT with the resourceVersion just read). */
static int do_lease(rk_kube *k, const char *ns, const char *name, const char *holder)
{
	json_t *lease = NULL, *after = NULL;
	rk_err err;
	rk_err_clear(&err);
	long status = 0;
	int rc = rk_kube_lease_get(k, ns, name, &lease, &err);
	if (rc == RK_OK && !lease) {
		rc = rk_kube_lease_create(k, ns, name, holder, 15, &after, &status, &err);
		if (rc == RK_OK)
			printf("created rv=%s\n", lease_rv(after));
	} else if (rc == RK_OK) {
		char before[64];
		snprintf(before, sizeof before, "%s", lease_rv(lease));
		rc = rk_kube_lease_renew(k, lease, holder, &after, &status, &err);
		if (rc == RK_OK)
			printf("renewed rv=%s->%s\n", before, lease_rv(after));
	}
	if (rc != RK_OK)
		fprintf(stderr, "rekeyctl: %s\n", err.msg);
	json_decref(lease);
	json_decref(after);
	return rc;
}

/* metrics: the raw Prometheus text of the cluster or of --endpoint. */
static int do_metrics(rk_kube *k, const struct kube_args *a)
{
	rk_buf text = RK_BUF_INIT;
	rk_err err;
	rk_err_clear(&err);
	int rc = rk_kube_get_text(k, a->endpoint, "/metrics", &text, &err);
	if (rc == RK_OK)
		fwrite(text.data, 1, text.len, stdout);
	else
		fprintf(stderr, "rekeyctl: %s\n", err.msg);
	rk_buf_free(&text);
	return rc;
}

static const char *auth_kind(const rk_kube_config *c)
{
	if (c->exec)
		return "exec";
	if (c->token_file)
		return "tokenFile";
	if (c->token)
		return "token";
	if (c->client_cert_pem.len)
		return "client-certificate";
	return "none";
}

/* config: the resolved context, without contacting the server (compared with kubectl in tests). */
static int do_config(rk_kube *k)
{
	const rk_kube_config *c = rk_kube_get_config(k);
	printf("context=%s\ncluster=%s\nuser=%s\nnamespace=%s\nserver=%s\ntls-server-name=%s\nca=%s\n"
	       "auth=%s\nsource=%s\n",
	       c->context_name ? c->context_name : "", c->cluster_name ? c->cluster_name : "",
	       c->user_name ? c->user_name : "", c->namespace_name, c->server,
	       c->tls_server_name ? c->tls_server_name : "", c->ca_origin ? c->ca_origin : "", auth_kind(c),
	       c->source);
	return RK_OK;
}

static int dispatch(rk_kube *k, const struct kube_args *a)
{
	const char *cmd = a->pos[0];
	if (!strcmp(cmd, "get") && a->npos == 2)
		return do_request(k, a, "GET", a->pos[1]);
	if (!strcmp(cmd, "raw") && a->npos == 3)
		return do_request(k, a, a->pos[1], a->pos[2]);
	if (!strcmp(cmd, "list") && a->npos == 2)
		return do_list(k, a, a->pos[1]);
	if (!strcmp(cmd, "resource") && a->npos == 2)
		return do_resource(k, a->pos[1]);
	if (!strcmp(cmd, "readyz") && a->npos <= 2)
		return do_readyz(k, a, a->npos == 2 ? a->pos[1] : NULL);
	if (!strcmp(cmd, "metrics") && a->npos == 1)
		return do_metrics(k, a);
	if (!strcmp(cmd, "config") && a->npos == 1)
		return do_config(k);
	if (!strcmp(cmd, "lease") && a->npos == 4)
		return do_lease(k, a->pos[1], a->pos[2], a->pos[3]);
	if (!strcmp(cmd, "repeat") && a->npos == 3)
		return do_repeat(k, a, a->repeat_n, a->pos[2]);
	return usage_error("unknown subcommand or wrong number of arguments");
}

int cmd_kube(int argc, char **argv)
{
	struct kube_args a = {0};
	int rc = parse_args(argc, argv, &a);
	if (rc != RK_OK)
		return rc == 1 ? RK_OK : RK_BADINPUT;
	rk_kube *k;
	rk_err err;
	rk_err_clear(&err);
	if (rk_kube_open(&a.kc, &a.http, &k, &err) != RK_OK) {
		fprintf(stderr, "rekeyctl: %s\n", err.msg);
		return err.code;
	}
	rc = dispatch(k, &a);
	rk_kube_free(k);
	return rc;
}
