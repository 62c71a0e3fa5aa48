/* fault.c: `rekey-sandbox fault`: writes a node's runtime faults (D/nodes/<node>/faults.json,
 * atomically; the apiserver re-reads it on its next request), clears them, SIGKILLs a node's apiserver
 * (the kubelet emulation restarts it like a crashed container), or sets the latency the etcd proxy of
 * a real sandbox adds (D/etcd-faults.json). On a sandbox started with --real only --kill,
 * --fail-start (the kubelet gives that node's kube-apiserver a config it refuses), --clear and
 * --etcd-latency-ms work: the other faults are implemented by the sandbox's apiserver. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sandbox.h"

typedef struct fault_opts {
	const char *dir, *node, *kill_node, *deny_label;
	const char *error_verb, *error_path; /* errors only for this method / URL prefix */
	int clear, fail_start;
	long latency_ms, jitter_ms, error_code, retry_after, max_inflight;
	long etcd_latency_ms;       /* -1: not given */
	const char *apiserver_flag; /* the first flag only the sandbox's apiserver implements */
	double error_ratio, throttle_ratio;
} fault_opts;

static int parse_value(fault_opts *o, const char *f, const char *v, rk_err *err)
{
	if (!strcmp(f, "--dir"))
		return (o->dir = v), RK_OK;
	if (!strcmp(f, "--node"))
		return (o->node = v), RK_OK;
	if (!strcmp(f, "--kill"))
		return (o->kill_node = v), RK_OK;
	if (!strcmp(f, "--etcd-latency-ms"))
		return lc_parse_long(f, v, 0, 600000, &o->etcd_latency_ms, err);
	if (!o->apiserver_flag)
		o->apiserver_flag = f; /* every flag below is a fault of the sandbox's apiserver */
	if (!strcmp(f, "--deny-label"))
		return *v ? (o->deny_label = v, RK_OK)
		          : rk_err_set(err, RK_BADINPUT, "--deny-label needs a label key");
	if (!strcmp(f, "--latency-ms"))
		return lc_parse_long(f, v, 0, 600000, &o->latency_ms, err);
	if (!strcmp(f, "--jitter-ms"))
		return lc_parse_long(f, v, 0, 600000, &o->jitter_ms, err);
	if (!strcmp(f, "--error-code"))
		return lc_parse_long(f, v, 400, 599, &o->error_code, err);
	if (!strcmp(f, "--retry-after"))
		return lc_parse_long(f, v, 0, 3600, &o->retry_after, err);
	if (!strcmp(f, "--max-inflight"))
		return lc_parse_long(f, v, 0, 100000, &o->max_inflight, err);
	if (!strcmp(f, "--error-verb"))
		return (o->error_verb = v), RK_OK;
	if (!strcmp(f, "--error-path"))
		return *v == '/' ? (o->error_path = v),
		       RK_OK     : rk_err_set(err, RK_BADINPUT, "--error-path \"%s\" must start with /", v);
	if (!strcmp(f, "--error-ratio"))
		return lc_parse_double(f, v, 0, 1, &o->error_ratio, err);
	if (!strcmp(f, "--throttle-ratio"))
		return lc_parse_double(f, v, 0, 1, &o->throttle_ratio, err);
	return rk_err_set(err, RK_BADINPUT, "unknown flag \"%s\"", f);
}

static int parse_fault(int argc, char **argv, fault_opts *o, rk_err *err)
{
	*o = (fault_opts){.error_code = 503, .retry_after = 1, .etcd_latency_ms = -1};
	int setting = 0;
	for (int i = 1; i < argc; i++) {
		const char *f = argv[i];
		if (!strcmp(f, "--clear") || !strcmp(f, "--fail-start")) {
			*(f[2] == 'c' ? &o->clear : &o->fail_start) = 1;
			setting += f[2] == 'f';
			continue;
		}
		if (i + 1 >= argc || strncmp(f, "--", 2))
			return rk_err_set(err, RK_BADINPUT, "unexpected argument \"%s\"", f);
		int rc = parse_value(o, f, argv[++i], err);
		if (rc)
			return rc;
		setting += strcmp(f, "--dir") && strcmp(f, "--node") && strcmp(f, "--kill") &&
		           strcmp(f, "--etcd-latency-ms");
	}
	if (!o->dir)
		return rk_err_set(err, RK_BADINPUT, "--dir is required");
	if (o->etcd_latency_ms >= 0)
		return o->node || o->kill_node || o->clear || setting
		           ? rk_err_set(err, RK_BADINPUT, "--etcd-latency-ms takes no other fault flags")
		           : RK_OK;
	if (o->kill_node && (o->node || o->clear || setting))
		return rk_err_set(err, RK_BADINPUT, "--kill takes no other fault flags");
	if (!o->kill_node && !o->node)
		return rk_err_set(err, RK_BADINPUT, "--node (or --kill NODE) is required");
	if (o->clear && setting)
		return rk_err_set(err, RK_BADINPUT, "--clear takes no other fault flags");
	return RK_OK;
}

static int kill_apiserver(const lc_info *info, const char *node, rk_err *err)
{
	char *pidfile = lc_path("%s/nodes/%s/apiserver.pid", info->dir, node);
	pid_t pid = lc_read_pid(pidfile);
	free(pidfile);
	if (!lc_pid_alive(pid, info->dir))
		return rk_err_set(err, RK_FAIL, "apiserver %s is not running", node);
	kill(pid, SIGKILL);
	printf("killed apiserver %s (pid %ld)\n", node, (long)pid);
	return RK_OK;
}

/* D/etcd-faults.json, read by the etcd proxy on its next chunk. */
static int write_etcd_latency(const lc_info *info, long ms, rk_err *err)
{
	if (!info->real)
		return rk_err_set(err, RK_BADINPUT,
		                  "--etcd-latency-ms needs a sandbox started with --real (its etcd proxy)");
	char *path = lc_path("%s/etcd-faults.json", info->dir);
	char *text = lc_path("{\"latencyMs\":%ld}\n", ms);
	int rc = lc_write_text(path, text, 0600, err);
	if (rc == RK_OK)
		printf("etcd latency: %ld ms added to every etcd response\n", ms);
	free(path), free(text);
	return rc;
}

static int write_faults(const lc_info *info, const fault_opts *o, rk_err *err)
{
	char *path = lc_path("%s/nodes/%s/faults.json", info->dir, o->node);
	int rc;
	if (o->clear) {
		rc = unlink(path) == 0 || access(path, F_OK)
		         ? RK_OK
		         : rk_err_set(err, RK_FAIL, "%s: cannot remove", path);
		if (rc == RK_OK)
			printf("faults cleared on %s\n", o->node);
	} else {
		json_t *f =
		    json_pack("{s:I, s:I, s:f, s:I, s:f, s:I, s:I, s:b}", "latencyMs",
		              (json_int_t)o->latency_ms, "jitterMs", (json_int_t)o->jitter_ms, "errorRatio",
		              o->error_ratio, "errorCode", (json_int_t)o->error_code, "throttleRatio",
		              o->throttle_ratio, "retryAfterSeconds", (json_int_t)o->retry_after,
		              "maxInflight", (json_int_t)o->max_inflight, "failStart", o->fail_start);
		if (o->deny_label) /* updates of objects carrying this label are refused (a policy's 422) */
			json_object_set_new(f, "denyLabel", json_string(o->deny_label));
		if (o->error_verb)
			json_object_set_new(f, "errorVerb", json_string(o->error_verb));
		if (o->error_path)
			json_object_set_new(f, "errorPath", json_string(o->error_path));
		char *text = json_dumps(f, JSON_PRESERVE_ORDER | JSON_COMPACT);
		rc = lc_write_text(path, text, 0600, err);
		if (rc == RK_OK)
			printf("faults on %s: %s\n", o->node, text);
		free(text);
		json_decref(f);
	}
	free(path);
	return rc;
}

int sbx_fault_main(int argc, char **argv)
{
	fault_opts o;
	rk_err err;
	char absdir[4096];
	lc_info info;
	if (parse_fault(argc, argv, &o, &err) || lc_abs_dir(o.dir, absdir, &err) ||
	    lc_info_load(absdir, &info, &err)) {
		fprintf(stderr, "rekey-sandbox fault: %s\n", err.msg);
		return RK_BADINPUT;
	}
	if (o.etcd_latency_ms >= 0) {
		int rc = write_etcd_latency(&info, o.etcd_latency_ms, &err);
		if (rc)
			fprintf(stderr, "rekey-sandbox fault: %s\n", err.msg);
		return rc;
	}
	if (info.real && o.apiserver_flag) {
		fprintf(
		    stderr,
		    "rekey-sandbox fault: %s is a fault of the sandbox's apiserver; this sandbox runs the "
		    "real kube-apiserver (there: --kill, --fail-start, --clear, --etcd-latency-ms)\n",
		    o.apiserver_flag);
		return RK_BADINPUT;
	}
	const char *node = o.kill_node ? o.kill_node : o.node;
	if (!lc_info_node(&info, node)) {
		fprintf(stderr, "rekey-sandbox fault: unknown node \"%s\"\n", node);
		return RK_BADINPUT;
	}
	int rc = o.kill_node ? kill_apiserver(&info, node, &err) : write_faults(&info, &o, &err);
	if (rc)
		fprintf(stderr, "rekey-sandbox fault: %s\n", err.msg);
	return rc;
}
