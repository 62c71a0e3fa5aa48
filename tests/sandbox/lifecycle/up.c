/* up.c: `rekey-sandbox up`: starts etcd, generates the PKI, writes every node's enc.yaml and
 * static-pod manifest, D/kubeconfig and D/plan.yaml, seeds objects, starts the kubelet emulation (which
 * starts the apiservers) and returns when every apiserver answers /readyz. With --real, etcd is the
 * built v3.6 (behind the delaying proxy) and every manifest runs the real kube-apiserver. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sandbox.h"

typedef struct up_opts {
	const char *dir, *reload, *provider;
	int real, kms;
	const char *kube_apiserver, *etcd, *kmsplugin; /* --real: the binaries (build/realcp/bin/...) */
	long apiservers, reload_period, timeout, kms_plugins;
	double backoff_max;
	lc_seed_opts seed;
} up_opts;

static const char usage_text[] =
    "usage: rekey-sandbox up --dir D [--apiservers N] [--secrets N] [--secret-bytes B] [--namespaces K]\n"
    "       [--configmaps N] [--reload restart|automatic] [--reload-period S]\n"
    "       [--provider aescbc|aesgcm|secretbox|identity] [--backoff-max S] [--timeout S]\n"
    "       [--real [--kube-apiserver PATH] [--etcd PATH]\n"
    "               [--kms [--kmsplugin PATH] [--kms-plugins 1|2]]]\n";

static int one_of(const char *flag, const char *v, const char *const *allowed, rk_err *err)
{
	for (size_t i = 0; allowed[i]; i++)
		if (!strcmp(v, allowed[i]))
			return RK_OK;
	return rk_err_set(err, RK_BADINPUT, "%s: unknown value \"%s\"", flag, v);
}

static int parse_up(int argc, char **argv, up_opts *o, rk_err *err)
{
	static const char *const reloads[] = {"restart", "automatic", NULL};
	static const char *const providers[] = {"aescbc", "aesgcm", "secretbox", "identity", NULL};
	*o = (up_opts){.reload = "restart",
	               .provider = "aescbc",
	               .apiservers = 3,
	               .reload_period = 5,
	               .timeout = 60,
	               .backoff_max = 5,
	               .seed = {.namespaces = 4, .bytes = 1024}};
	int rc = RK_OK;
	long timeout = 0, period = 0;
	for (int i = 1; rc == RK_OK && i < argc; i++) {
		const char *f = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (!strcmp(f, "--real") || !strcmp(f, "--kms")) {
			*(!strcmp(f, "--real") ? &o->real : &o->kms) = 1;
			continue;
		}
		if (!v || strncmp(f, "--", 2))
			return rk_err_set(err, RK_BADINPUT, "unexpected argument \"%s\"", f);
		i++;
		if (!strcmp(f, "--dir"))
			o->dir = v;
		else if (!strcmp(f, "--apiservers"))
			rc = lc_parse_long(f, v, 1, LC_MAX_NODES, &o->apiservers, err);
		else if (!strcmp(f, "--secrets"))
			rc = lc_parse_long(f, v, 0, 10000000, &o->seed.secrets, err);
		else if (!strcmp(f, "--configmaps"))
			rc = lc_parse_long(f, v, 0, 10000000, &o->seed.configmaps, err);
		else if (!strcmp(f, "--secret-bytes"))
			rc = lc_parse_long(f, v, 1, 1 << 20, &o->seed.bytes, err);
		else if (!strcmp(f, "--namespaces"))
			rc = lc_parse_long(f, v, 1, 100000, &o->seed.namespaces, err);
		else if (!strcmp(f, "--reload-period"))
			rc = lc_parse_long(f, v, 1, 3600, &period, err);
		else if (!strcmp(f, "--timeout"))
			rc = lc_parse_long(f, v, 1, 3600, &timeout, err);
		else if (!strcmp(f, "--kube-apiserver"))
			o->kube_apiserver = v;
		else if (!strcmp(f, "--etcd"))
			o->etcd = v;
		else if (!strcmp(f, "--kmsplugin"))
			o->kmsplugin = v;
		else if (!strcmp(f, "--kms-plugins"))
			rc = lc_parse_long(f, v, 1, LC_MAX_KMS_PLUGINS, &o->kms_plugins, err);
		else if (!strcmp(f, "--backoff-max"))
			rc = lc_parse_double(f, v, 0.1, 300, &o->backoff_max, err);
		else if (!strcmp(f, "--reload"))
			rc = one_of(f, o->reload = v, reloads, err);
		else if (!strcmp(f, "--provider"))
			rc = one_of(f, o->provider = v, providers, err);
		else
			return rk_err_set(err, RK_BADINPUT, "unknown flag \"%s\"", f);
	}
	if (rc == RK_OK && !o->dir)
		rc = rk_err_set(err, RK_BADINPUT, "--dir is required");
	if (rc == RK_OK && !o->real && (o->kube_apiserver || o->etcd))
		rc = rk_err_set(err, RK_BADINPUT, "--kube-apiserver and --etcd need --real");
	if (rc == RK_OK && !o->real && o->kms) /* the sandbox's own apiserver does not speak KMS */
		rc = rk_err_set(err, RK_BADINPUT, "--kms needs --real (the sandbox apiserver has no KMS)");
	if (rc == RK_OK && !o->kms && (o->kmsplugin || o->kms_plugins))
		rc = rk_err_set(err, RK_BADINPUT, "%s needs --kms",
		                o->kmsplugin ? "--kmsplugin" : "--kms-plugins");
	if (!o->kms_plugins)
		o->kms_plugins = 1;
	o->timeout = timeout ? timeout : o->real ? 180 : 60;   /* real apiservers start in seconds each */
	o->reload_period = period ? period : o->real ? 60 : 5; /* real: upstream's minute unless asked */
	return rc;
}

/* --real: the binary given, else build/realcp/bin/NAME (`make realcp`), as an absolute path; it must
 * be executable. */
static int real_binary(const char *given, const char *name, char out[4096], rk_err *err)
{
	char *fallback = lc_path("build/realcp/bin/%s", name);
	const char *path = given ? given : fallback;
	int rc = RK_OK;
	if (access(path, X_OK))
		rc = rk_err_set(err, RK_BADINPUT, "%s: %s (%s)", path, strerror(errno),
		                given ? "check the path" : "run `make realcp`, or pass the path");
	else if (!realpath(path, out))
		rc = rk_err_set(err, RK_BADINPUT, "%s: %s", path, strerror(errno));
	free(fallback);
	return rc;
}

/* D must be absent or an empty directory: `up` never reuses or overwrites another sandbox. */
static int check_dir_empty(const char *dir, rk_err *err)
{
	DIR *d = opendir(dir);
	if (!d)
		return errno == ENOENT ? RK_OK : rk_err_set(err, RK_BADINPUT, "%s: %s", dir, strerror(errno));
	struct dirent *e;
	int entries = 0;
	while ((e = readdir(d)))
		entries += strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
	closedir(d);
	return entries
	           ? rk_err_set(
	                 err, RK_BADINPUT,
	                 "%s is not empty (run `rekey-sandbox down` and remove it, or pick another --dir)",
	                 dir)
	           : RK_OK;
}

static int pick_ports(lc_info *info, rk_err *err)
{
	for (size_t i = 0; i < info->nnodes; i++) {
		lc_node *n = &info->nodes[i];
		int port = 0;
		for (int tries = 0; tries < 20 && !port; tries++) {
			port = lc_free_port();
			for (size_t j = 0; j < i && port > 0; j++)
				if (info->nodes[j].port == port)
					port = 0;
		}
		if (port <= 0)
			return rk_err_set(err, RK_FAIL, "no free loopback port");
		snprintf(n->name, sizeof n->name, "cp-%d", (int)(i + 1) % 100);
		n->port = port;
		snprintf(n->url, sizeof n->url, "https://127.0.0.1:%d", port);
	}
	return RK_OK;
}

static int start_kubelet(const lc_info *info, rk_err *err)
{
	char *log = lc_path("%s/kubelet.log", info->dir);
	char *argv[] = {(char *)lc_self_exe(), "kubelet", "--dir", (char *)info->dir, NULL};
	pid_t pid = lc_spawn_daemon(argv, log);
	free(log);
	if (pid <= 0)
		return rk_err_set(err, RK_FAIL, "cannot start the kubelet emulation");
	char *pidfile = lc_path("%s/kubelet.pid", info->dir);
	double deadline = lc_now() + 10;
	while (lc_read_pid(pidfile) != pid && lc_now() < deadline && lc_pid_alive(pid, NULL))
		lc_sleep_ms(20);
	int ok = lc_read_pid(pidfile) == pid;
	free(pidfile);
	return ok ? RK_OK
	          : rk_err_set(err, RK_FAIL, "the kubelet emulation did not start (see %s/kubelet.log)",
	                       info->dir);
}

/* 1 when the kubelet has marked the node's mirror pod Ready. */
static int mirror_ready(const lc_info *info, const char *node)
{
	json_t *pod = lc_mirror_pod(info, node);
	json_t *cond = json_array_get(json_object_get(json_object_get(pod, "status"), "conditions"), 0);
	const char *status = json_string_value(json_object_get(cond, "status"));
	int ready = status && !strcmp(status, "True");
	json_decref(pod);
	return ready;
}

/* Every apiserver answers /readyz and its mirror pod is Ready. */
static int wait_ready(const lc_info *info, long timeout, rk_err *err)
{
	double deadline = lc_now() + (double)timeout;
	for (size_t i = 0; i < info->nnodes; i++) {
		const lc_node *n = &info->nodes[i];
		while (lc_https_get(info->dir, n->url, "/readyz", 2.0, NULL) != 200 ||
		       !mirror_ready(info, n->name)) {
			if (lc_now() > deadline)
				return rk_err_set(
				    err, RK_FAIL,
				    "apiserver %s (%s) not ready after %lds (see %s/nodes/%s/apiserver.log)",
				    n->name, n->url, timeout, info->dir, n->name);
			lc_sleep_ms(100);
		}
	}
	return RK_OK;
}

static int seed_step(const lc_info *info, const lc_seed_opts *seed, rk_err *err)
{
	double t0 = lc_now();
	int rc = lc_seed(info, seed, err);
	double secs = lc_now() - t0;
	if (rc == RK_OK)
		printf("seeded %ld secrets and %ld configmaps (%ld bytes each) in %ld namespaces in %.2f s\n",
		       seed->secrets, seed->configmaps, seed->bytes, seed->namespaces, secs);
	return rc;
}

/* etcd (the built v3.6 with --real) and, with --real, the delaying proxy the apiservers use. */
static int start_etcd(const up_opts *o, lc_info *info, rk_err *err)
{
	char etcd[4096];
	if (!o->real)
		return lc_etcd_start(info->dir, NULL, info->etcd_url, err);
	int rc = real_binary(o->etcd, "etcd", etcd, err);
	if (!rc)
		rc = lc_etcd_start(info->dir, etcd, info->etcd_url, err);
	if (!rc)
		rc = lc_etcd_proxy_start(info->dir, info->etcd_url, info->etcd_proxy_url, err);
	return rc;
}

static int up(const up_opts *o, lc_info *info, rk_err *err)
{
	int rc = lc_abs_dir(o->dir, info->dir, err);
	info->real = o->real;
	if (!rc && o->real) /* checked first: a missing binary changes nothing */
		rc = real_binary(o->kube_apiserver, "kube-apiserver", info->kube_apiserver, err);
	char etcd[4096], kmsplugin[4096];
	if (!rc && o->real)
		rc = real_binary(o->etcd, "etcd", etcd, err);
	if (!rc && o->kms)
		rc = real_binary(o->kmsplugin, "kmsplugin", kmsplugin, err);
	const char *last_socket = o->kms_plugins > 1 ? "kms2/kms.sock" : "kms/kms.sock";
	if (!rc && o->kms && strlen(info->dir) + 2 + strlen(last_socket) > sizeof info->kms_socket)
		rc = rk_err_set(err, RK_BADINPUT, "%s: too long for a unix socket path under it (%s)",
		                info->dir, last_socket);
	if (!rc)
		rc = check_dir_empty(info->dir, err);
	if (!rc)
		rc = lc_mkdirs(info->dir, err);
	if (rc)
		return rc;
	info->nnodes = (size_t)o->apiservers;
	info->reload_period = (int)o->reload_period;
	info->backoff_max = o->backoff_max;
	snprintf(info->reload, sizeof info->reload, "%s", o->reload);
	snprintf(info->provider, sizeof info->provider, "%s", o->provider);
	rc = pick_ports(info, err);
	if (!rc)
		rc = start_etcd(o, info, err);
	if (!rc && o->kms)
		rc = lc_kms_start(info, kmsplugin, (int)o->kms_plugins, err);
	if (!rc)
		rc = lc_pki_generate(info->dir, err);
	if (!rc)
		rc = lc_info_save(info, err);
	if (!rc)
		rc = lc_write_node_files(info, err);
	if (!rc)
		rc = lc_write_kubeconfig(info, err);
	if (!rc)
		rc = lc_write_plan(info, err);
	if (!rc)
		rc = seed_step(info, &o->seed, err);
	if (!rc)
		rc = start_kubelet(info, err);
	if (!rc)
		rc = wait_ready(info, o->timeout, err);
	return rc;
}

int sbx_up_main(int argc, char **argv)
{
	up_opts o;
	rk_err err;
	rk_err_clear(&err);
	if (argc == 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
		fputs(usage_text, stdout);
		return RK_OK;
	}
	if (parse_up(argc, argv, &o, &err)) {
		fprintf(stderr, "rekey-sandbox up: %s\n", err.msg);
		return RK_BADINPUT;
	}
	lc_info info;
	memset(&info, 0, sizeof info);
	int rc = up(&o, &info, &err);
	if (rc) {
		fprintf(stderr, "rekey-sandbox up: %s\n", err.msg);
		if (rc != RK_BADINPUT && info.dir[0])
			lc_down_dir(info.dir, 1);
		return rc;
	}
	printf("sandbox up in %s: etcd %s, %zu %sapiservers", info.dir, info.etcd_url, info.nnodes,
	       info.real ? "real kube-" : "");
	for (size_t i = 0; i < info.nnodes; i++)
		printf(" %s=%s", info.nodes[i].name, info.nodes[i].url);
	printf("\nkubeconfig %s/kubeconfig, plan %s/plan.yaml\n", info.dir, info.dir);
	return RK_OK;
}
