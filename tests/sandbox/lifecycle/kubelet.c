/* kubelet.c: `rekey-sandbox kubelet --dir D`, the kubelet emulation. For every node it watches the
 * static-pod manifest D/nodes/<node>/etc/kubernetes/manifests/kube-apiserver.yaml (every 200 ms), runs
 * the apiserver the decoded pod describes as a child process, restarts it when the decoded pod changes
 * (comments and whitespace do not count), restarts it with CrashLoop-like backoff when it exits, probes
 * its /readyz, and keeps the mirror pod kube-system/kube-apiserver-<node> in etcd up to date.
 * A command naming `kube-apiserver` runs the sandbox's apiserver (rekey-sandbox apiserver); a command
 * naming an absolute path runs that program as it is (the real kube-apiserver of `up --real`), in a
 * UTS namespace of its own whose host name is the node name, because kube-apiserver derives its
 * identity (Lease, apiserver_id_hash) from the host name. */
#include <errno.h>
#include <openssl/evp.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "sandbox.h"

#define POLL_MS 200
#define BACKOFF_START 0.5
#define STABLE_SECONDS 10.0
#define FAILURE_THRESHOLD 3

typedef struct pod_state {
	const lc_node *node;
	char *root;           /* the node's file-system root, D/nodes/<node> (malloc'd) */
	char hash[33];        /* kubernetes.io/config.hash of the pod being run; "" = no pod */
	json_t *pod;          /* decoded manifest of that pod */
	char uid[37];         /* mirror pod uid (new per pod hash) */
	char pod_start[32];   /* status.startTime */
	char ctr_start[32];   /* container startedAt */
	char ready_since[32]; /* lastTransitionTime of Ready */
	char reason[64];      /* waiting reason when not running */
	pid_t pid;            /* running apiserver, 0 = none */
	double started, next_start, backoff, next_probe;
	int restarts, ready, failures, last_exit, manifest_error_logged, mirror_dirty;
	char seen[128]; /* last line written to manifest.seen */
} pod_state;

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig)
{
	(void)sig;
	stop_requested = 1;
}

static void klog(const pod_state *ps, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void klog(const pod_state *ps, const char *fmt, ...)
{
	char stamp[32];
	lc_rfc3339(stamp);
	fprintf(stderr, "%s kubelet %s: ", stamp, ps ? ps->node->name : "-");
	va_list ap;
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	fflush(stderr);
}

/* config.hash: md5 of the node, the source file and the decoded pod (as the kubelet hashes the pod). */
static void pod_hash(const char *node, const char *path, const char *canonical, char out[33])
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int n = 0;
	EVP_DigestInit_ex(ctx, EVP_md5(), NULL);
	EVP_DigestUpdate(ctx, "host:", 5);
	EVP_DigestUpdate(ctx, node, strlen(node));
	EVP_DigestUpdate(ctx, "file:", 5);
	EVP_DigestUpdate(ctx, path, strlen(path));
	EVP_DigestUpdate(ctx, canonical, strlen(canonical));
	EVP_DigestFinal_ex(ctx, md, &n);
	EVP_MD_CTX_free(ctx);
	for (unsigned i = 0; i < 16; i++)
		snprintf(out + 2 * i, 3, "%02x", md[i]);
}

static char *manifest_path(const pod_state *ps)
{
	return lc_path("%s/etc/kubernetes/manifests/kube-apiserver.yaml", ps->root);
}

/* ---- the apiserver command line from the pod ---- */

typedef struct apiserver_flags {
	char config[8192], etcd[256], port[16];
	int automatic;
} apiserver_flags;

/* A hostPath as the container sees it: paths inside the node root are used as they are, others are
 * taken relative to the node root. */
static void node_path(const pod_state *ps, const char *path, char out[8192])
{
	size_t rl = strlen(ps->root);
	if (!strncmp(path, ps->root, rl) && (path[rl] == '/' || !path[rl]))
		snprintf(out, 8192, "%s", path);
	else
		snprintf(out, 8192, "%s%s%s", ps->root, path[0] == '/' ? "" : "/", path);
}

static void apply_flag(const pod_state *ps, apiserver_flags *f, const char *name, const char *value)
{
	if (!strcmp(name, "--encryption-provider-config"))
		node_path(ps, value, f->config);
	else if (!strcmp(name, "--secure-port"))
		snprintf(f->port, sizeof f->port, "%s", value);
	else if (!strcmp(name, "--etcd-servers"))
		snprintf(f->etcd, sizeof f->etcd, "%.*s", (int)strcspn(value, ","), value);
	else if (!strcmp(name, "--encryption-provider-config-automatic-reload"))
		f->automatic = !strcmp(value, "true") || !*value;
}

static void collect_flags(const pod_state *ps, json_t *list, apiserver_flags *f)
{
	for (size_t i = 0; i < json_array_size(list); i++) {
		const char *arg = json_string_value(json_array_get(list, i));
		if (!arg || strncmp(arg, "--", 2))
			continue;
		char name[256];
		const char *eq = strchr(arg, '=');
		snprintf(name, sizeof name, "%.*s", (int)(eq ? (size_t)(eq - arg) : strlen(arg)), arg);
		const char *value = eq ? eq + 1 : "";
		const char *next = json_string_value(json_array_get(list, i + 1));
		if (!eq && next && strncmp(next, "--", 2) &&
		    strcmp(name, "--encryption-provider-config-automatic-reload")) {
			value = next;
			i++;
		}
		apply_flag(ps, f, name, value);
	}
}

static int pod_flags(pod_state *ps, apiserver_flags *f)
{
	memset(f, 0, sizeof *f);
	json_t *ctr = json_array_get(json_object_get(json_object_get(ps->pod, "spec"), "containers"), 0);
	collect_flags(ps, json_object_get(ctr, "command"), f);
	collect_flags(ps, json_object_get(ctr, "args"), f);
	if (!f->config[0] || !f->etcd[0] || !f->port[0]) {
		klog(ps,
		     "pod has no --encryption-provider-config, --secure-port or --etcd-servers: not started");
		return -1;
	}
	return 0;
}

/* ---- running the apiserver ---- */

static void remove_runtime_files(const pod_state *ps, const char *dir)
{
	char *pid = lc_path("%s/nodes/%s/apiserver.pid", dir, ps->node->name);
	char *url = lc_path("%s/nodes/%s/apiserver.url", dir, ps->node->name);
	unlink(pid);
	unlink(url);
	free(pid);
	free(url);
}

static void child_enter_node(const pod_state *ps, const char *root);
static void child_set_env(const pod_state *ps);

/* Forks the apiserver with stdout/stderr appended to the node's apiserver.log; a real one (`real`) runs
 * in the node's UTS namespace with the container's env. */
static pid_t fork_apiserver(pod_state *ps, const lc_info *info, char **argv, int real)
{
	char *log = lc_path("%s/nodes/%s/apiserver.log", info->dir, ps->node->name);
	char *root = lc_path("%s/nodes/%s", info->dir, ps->node->name);
	pid_t pid = fork();
	if (pid == 0) {
		signal(SIGTERM, SIG_DFL);
		signal(SIGINT, SIG_DFL);
		FILE *out = freopen(log, "a", stdout);
		if (out)
			dup2(fileno(stdout), 2);
		if (real) {
			child_enter_node(ps, root);
			child_set_env(ps);
		}
		execv(argv[0], argv);
		_exit(127);
	}
	free(log);
	free(root);
	return pid;
}

static pid_t spawn_apiserver(pod_state *ps, const lc_info *info, const apiserver_flags *f)
{
	char period[16];
	snprintf(period, sizeof period, "%d", info->reload_period > 0 ? info->reload_period : 5);
	char *argv[20];
	int n = 0;
	argv[n++] = (char *)lc_self_exe();
	argv[n++] = "apiserver";
	argv[n++] = "--dir", argv[n++] = (char *)info->dir;
	argv[n++] = "--node", argv[n++] = (char *)ps->node->name;
	argv[n++] = "--port", argv[n++] = (char *)f->port;
	argv[n++] = "--etcd", argv[n++] = (char *)f->etcd;
	argv[n++] = "--encryption-provider-config", argv[n++] = (char *)f->config;
	if (f->automatic) {
		argv[n++] = "--encryption-provider-config-automatic-reload";
		argv[n++] = "--reload-period", argv[n++] = period;
	}
	argv[n] = NULL;
	return fork_apiserver(ps, info, argv, 0);
}

/* ---- running a real kube-apiserver (the manifest's command as it is) ---- */

/* command + args of the pod's first container as a NULL-terminated argv (strings borrowed from the
 * pod); NULL when the command does not start with an absolute path. */
static char **pod_argv(const pod_state *ps)
{
	json_t *ctr = json_array_get(json_object_get(json_object_get(ps->pod, "spec"), "containers"), 0);
	json_t *cmd = json_object_get(ctr, "command"), *args = json_object_get(ctr, "args");
	const char *first = json_string_value(json_array_get(cmd, 0));
	if (!first || first[0] != '/')
		return NULL;
	size_t n = json_array_size(cmd) + json_array_size(args), k = 0;
	char **argv = calloc(n + 1, sizeof *argv);
	for (size_t i = 0; argv && i < json_array_size(cmd); i++)
		argv[k++] = (char *)json_string_value(json_array_get(cmd, i));
	for (size_t i = 0; argv && i < json_array_size(args); i++)
		argv[k++] = (char *)json_string_value(json_array_get(args, i));
	for (size_t i = 0; argv && i < k; i++)
		if (!argv[i]) { /* a non-string element: not runnable */
			free(argv);
			return NULL;
		}
	return argv;
}

/* `fault --fail-start` on a real node: the kubelet hands the apiserver an EncryptionConfiguration that
 * kube-apiserver refuses (an aescbc key of 15 bytes), so it exits at start like a bad config would
 * make it; the path of that file, written 0600 beside the node's files. */
static char *refused_config(const pod_state *ps)
{
	char *path = lc_path("%s/refused-enc.yaml", ps->root);
	rk_err err;
	lc_write_text(path,
	              "apiVersion: apiserver.config.k8s.io/v1\nkind: EncryptionConfiguration\n"
	              "resources:\n  - resources: [secrets]\n    providers:\n"
	              "      - aescbc: {keys: [{name: refused, secret: MDEyMzQ1Njc4OWFiY2Rl}]}\n",
	              0600, &err);
	return path;
}

static int fail_start_requested(const pod_state *ps)
{
	char *path = lc_path("%s/faults.json", ps->root);
	json_t *faults = json_load_file(path, 0, NULL);
	free(path);
	int yes = json_is_true(json_object_get(faults, "failStart"));
	json_decref(faults);
	return yes;
}

/* The container's env (name/value pairs) set in the child before exec. */
static void child_set_env(const pod_state *ps)
{
	json_t *ctr = json_array_get(json_object_get(json_object_get(ps->pod, "spec"), "containers"), 0);
	json_t *env = json_object_get(ctr, "env"), *e;
	size_t i;
	json_array_foreach(env, i, e)
	{
		const char *name = json_string_value(json_object_get(e, "name"));
		const char *value = json_string_value(json_object_get(e, "value"));
		if (name)
			setenv(name, value ? value : "", 1);
	}
}

/* The node's UTS namespace (its host name) and working directory (its root: a path under
 * /proc/self/cwd then names a file of this node, e.g. each node's own KMS plugin socket behind one
 * shared EncryptionConfiguration). */
static void child_enter_node(const pod_state *ps, const char *root)
{
	if (chdir(root) != 0)
		fprintf(stderr, "kubelet: chdir %s: %s\n", root, strerror(errno));
	if (unshare(CLONE_NEWUTS) || sethostname(ps->node->name, strlen(ps->node->name)))
		fprintf(stderr,
		        "kubelet: no UTS namespace for %s (%s): the apiservers share this host's "
		        "name and so one apiserver identity\n",
		        ps->node->name, strerror(errno));
}

static pid_t spawn_real(pod_state *ps, const lc_info *info, char **argv)
{
	char *refused = fail_start_requested(ps) ? refused_config(ps) : NULL;
	char *flag = refused ? lc_path("--encryption-provider-config=%s", refused) : NULL;
	for (size_t i = 0; flag && argv[i]; i++)
		if (!strncmp(argv[i], "--encryption-provider-config=", 29))
			argv[i] = flag;
	pid_t pid = fork_apiserver(ps, info, argv, 1);
	if (pid > 0) { /* the real apiserver writes no pid file: the kubelet does */
		char *pidfile = lc_path("%s/nodes/%s/apiserver.pid", info->dir, ps->node->name);
		char *text = lc_path("%ld\n", (long)pid);
		rk_err err;
		lc_write_text(pidfile, text, 0600, &err);
		free(pidfile), free(text);
	}
	if (refused)
		klog(ps, "fail-start: the apiserver gets %s, which kube-apiserver refuses", refused);
	free(flag), free(refused);
	return pid;
}

static void start_pod(pod_state *ps, const lc_info *info)
{
	apiserver_flags flags;
	remove_runtime_files(ps, info->dir);
	char **real_argv = pod_argv(ps);
	pid_t pid = pod_flags(ps, &flags) ? -1
	            : real_argv           ? spawn_real(ps, info, real_argv)
	                                  : spawn_apiserver(ps, info, &flags);
	free(real_argv);
	if (pid <= 0) {
		snprintf(ps->reason, sizeof ps->reason, "CreateContainerConfigError");
		ps->next_start = lc_now() + ps->backoff;
		ps->backoff = ps->backoff * 2 > info->backoff_max ? info->backoff_max : ps->backoff * 2;
		ps->mirror_dirty = 1;
		return;
	}
	ps->pid = pid;
	ps->started = lc_now();
	ps->next_probe = 0;
	ps->reason[0] = '\0';
	lc_rfc3339(ps->ctr_start);
	ps->mirror_dirty = 1;
	klog(ps, "started apiserver pid %ld (pod %s)", (long)pid, ps->hash);
}

static void stop_pod(pod_state *ps)
{
	if (ps->pid > 0) {
		klog(ps, "stopping apiserver pid %ld", (long)ps->pid);
		/* a multi-threaded process shows as a zombie before its last thread has exited, when
		 * waitpid(WNOHANG) cannot reap it yet: wait for it (it is gone or going after SIGKILL) */
		if (lc_stop_pid(ps->pid, NULL, 10) == 0)
			waitpid(ps->pid, NULL, 0);
	}
	ps->pid = 0;
	ps->ready = 0;
	ps->mirror_dirty = 1;
}

/* Notices an apiserver that exited on its own and schedules its restart with backoff. */
static void reap(pod_state *ps, const lc_info *info)
{
	int status = 0;
	if (ps->pid <= 0 || waitpid(ps->pid, &status, WNOHANG) != ps->pid)
		return;
	ps->last_exit = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
	klog(ps, "apiserver pid %ld exited (%d); restart in %.1fs", (long)ps->pid, ps->last_exit,
	     ps->backoff);
	ps->pid = 0;
	ps->ready = 0;
	ps->restarts++;
	snprintf(ps->reason, sizeof ps->reason, "CrashLoopBackOff");
	ps->next_start = lc_now() + ps->backoff;
	ps->backoff = ps->backoff * 2 > info->backoff_max ? info->backoff_max : ps->backoff * 2;
	ps->mirror_dirty = 1;
}

/* Readiness like a kubelet probe: Ready after one success, NotReady after FAILURE_THRESHOLD failures in
 * a row (a loaded machine can miss one probe); an exited apiserver is NotReady at once (reap). */
static void probe(pod_state *ps, const lc_info *info)
{
	double now = lc_now();
	if (ps->pid <= 0 || now < ps->next_probe)
		return;
	char *pidfile = lc_path("%s/nodes/%s/apiserver.pid", info->dir, ps->node->name);
	int ok = lc_read_pid(pidfile) == ps->pid &&
	         lc_https_get(info->dir, ps->node->url, "/readyz", 2.0, NULL) == 200;
	free(pidfile);
	ps->failures = ok ? 0 : ps->failures + 1;
	int ready = ok || (ps->ready && ps->failures < FAILURE_THRESHOLD);
	ps->next_probe = now + (ok ? 1.0 : 0.2);
	if (ok && now - ps->started > STABLE_SECONDS)
		ps->backoff = BACKOFF_START;
	if (ready != ps->ready) {
		ps->ready = ready;
		lc_rfc3339(ps->ready_since);
		ps->mirror_dirty = 1;
	}
}

/* ---- the mirror pod ---- */

static json_t *container_status(const pod_state *ps)
{
	json_t *state = ps->pid > 0 ? json_pack("{s:{s:s}}", "running", "startedAt", ps->ctr_start)
	                            : json_pack("{s:{s:s}}", "waiting", "reason",
	                                        ps->reason[0] ? ps->reason : "ContainerCreating");
	json_t *cs = json_pack("{s:s, s:o, s:b, s:i, s:s, s:b}", "name", "kube-apiserver", "state", state,
	                       "ready", ps->ready, "restartCount", ps->restarts, "image",
	                       "registry.k8s.io/kube-apiserver:v1.32.0", "started", ps->pid > 0);
	if (ps->restarts > 0)
		json_object_set_new(cs, "lastState",
		                    json_pack("{s:{s:i}}", "terminated", "exitCode", ps->last_exit));
	return cs;
}

static json_t *mirror_pod(const pod_state *ps)
{
	json_t *meta = json_object_get(ps->pod, "metadata");
	json_t *annotations = json_deep_copy(json_object_get(meta, "annotations"));
	if (!json_is_object(annotations)) {
		json_decref(annotations);
		annotations = json_object();
	}
	char seen[32];
	lc_rfc3339(seen);
	json_object_set_new(annotations, "kubernetes.io/config.hash", json_string(ps->hash));
	json_object_set_new(annotations, "kubernetes.io/config.mirror", json_string(ps->hash));
	json_object_set_new(annotations, "kubernetes.io/config.seen", json_string(seen));
	json_object_set_new(annotations, "kubernetes.io/config.source", json_string("file"));
	char *name = lc_path("kube-apiserver-%s", ps->node->name);
	json_t *labels = json_deep_copy(json_object_get(meta, "labels"));
	json_t *spec = json_deep_copy(json_object_get(ps->pod, "spec"));
	if (!json_is_object(spec)) {
		json_decref(spec);
		spec = json_object();
	}
	json_object_set_new(spec, "nodeName", json_string(ps->node->name));
	json_t *cond =
	    json_pack("{s:s, s:s, s:n, s:s}", "type", "Ready", "status", ps->ready ? "True" : "False",
	              "lastProbeTime", "lastTransitionTime", ps->ready_since);
	json_t *status =
	    json_pack("{s:s, s:[o], s:s, s:s, s:s, s:[o]}", "phase", ps->pid > 0 ? "Running" : "Pending",
	              "conditions", cond, "hostIP", "127.0.0.1", "podIP", "127.0.0.1", "startTime",
	              ps->pod_start, "containerStatuses", container_status(ps));
	json_t *out =
	    json_pack("{s:s, s:s, s:{s:s, s:s, s:s, s:s, s:o, s:o}, s:o, s:o}", "kind", "Pod", "apiVersion",
	              "v1", "metadata", "name", name, "namespace", "kube-system", "uid", ps->uid,
	              "creationTimestamp", ps->pod_start, "labels", labels ? labels : json_object(),
	              "annotations", annotations, "spec", spec, "status", status);
	free(name);
	return out;
}

/* The mirror pod as the node's apiserver stores it: through the pods rule of the config its manifest
 * names (the node's enc.yaml when it names none); as plaintext JSON when that config does not load. */
static void seal_mirror(const pod_state *ps, const char *key, const char *text, rk_buf *out)
{
	apiserver_flags f;
	memset(&f, 0, sizeof f);
	json_t *ctr = json_array_get(json_object_get(json_object_get(ps->pod, "spec"), "containers"), 0);
	collect_flags(ps, json_object_get(ctr, "command"), &f);
	collect_flags(ps, json_object_get(ctr, "args"), &f);
	if (!f.config[0])
		snprintf(f.config, sizeof f.config, "%s" LC_ENC_REL, ps->root);
	rk_err err;
	if (lc_seal_value(f.config, "", "pods", key, text, strlen(text), out, &err) != RK_OK) {
		rk_buf_reset(out);
		rk_buf_append_str(out, text);
	}
}

static void write_mirror(pod_state *ps, const lc_info *info)
{
	if (!ps->mirror_dirty)
		return;
	char *key = lc_path("/registry/pods/kube-system/kube-apiserver-%s", ps->node->name);
	rk_err err;
	int rc;
	if (!ps->hash[0]) {
		rc = lc_etcd_delete(info->etcd_url, key, &err);
	} else {
		json_t *mirror = mirror_pod(ps);
		char *text = json_dumps(mirror, JSON_COMPACT | JSON_SORT_KEYS);
		rk_buf stored = RK_BUF_INIT;
		seal_mirror(ps, key, text, &stored);
		rc = lc_etcd_put(info->etcd_url, key, stored.data, stored.len, &err);
		rk_buf_free(&stored);
		free(text);
		json_decref(mirror);
	}
	if (rc == RK_OK)
		ps->mirror_dirty = 0;
	else
		klog(ps, "mirror pod not written: %s", err.msg);
	free(key);
}

/* ---- the sync loop ---- */

static void new_pod(pod_state *ps, json_t *pod, const char *hash)
{
	json_decref(ps->pod);
	ps->pod = json_incref(pod);
	snprintf(ps->hash, sizeof ps->hash, "%s", hash);
	lc_uuid(ps->uid);
	lc_rfc3339(ps->pod_start);
	snprintf(ps->ready_since, sizeof ps->ready_since, "%s", ps->pod_start);
	ps->restarts = 0;
	ps->backoff = BACKOFF_START;
	ps->next_start = 0;
	ps->mirror_dirty = 1;
}

/* D/nodes/<node>/manifest.seen: "<sha256 of the manifest bytes last processed> <pod hash> ok|invalid",
 * so tests can wait until the kubelet has looked at an edit (and then check what it did). */
static void note_seen(pod_state *ps, const char *raw)
{
	char *line = lc_path("%s %s %s\n", raw[0] ? raw : "-", ps->hash[0] ? ps->hash : "-",
	                     ps->manifest_error_logged ? "invalid" : "ok");
	if (strcmp(line, ps->seen)) {
		char *path = lc_path("%s/manifest.seen", ps->root);
		rk_err err;
		if (lc_write_text(path, line, 0600, &err) == RK_OK)
			snprintf(ps->seen, sizeof ps->seen, "%s", line);
		free(path);
	}
	free(line);
}

static void sync_manifest(pod_state *ps)
{
	char *path = manifest_path(ps);
	json_t *pod = NULL;
	char *canonical = NULL;
	char raw[72] = "";
	rk_err err;
	if (access(path, F_OK) && errno == ENOENT) {
		if (ps->hash[0]) {
			klog(ps, "manifest removed: stopping the static pod");
			stop_pod(ps);
			ps->hash[0] = '\0';
		}
	} else if (lc_manifest_load(path, &pod, &canonical, raw, &err)) {
		if (!ps->manifest_error_logged)
			klog(ps, "ignoring manifest: %s", err.msg);
		ps->manifest_error_logged = 1;
	} else {
		ps->manifest_error_logged = 0;
		char hash[33];
		pod_hash(ps->node->name, path, canonical, hash);
		if (strcmp(hash, ps->hash)) {
			if (ps->hash[0])
				klog(ps, "manifest changed (pod %s -> %s): restarting", ps->hash, hash);
			stop_pod(ps);
			new_pod(ps, pod, hash);
		}
	}
	note_seen(ps, raw);
	json_decref(pod);
	free(canonical);
	free(path);
}

static void sync_node(pod_state *ps, const lc_info *info)
{
	reap(ps, info);
	sync_manifest(ps);
	if (ps->hash[0] && ps->pid <= 0 && lc_now() >= ps->next_start)
		start_pod(ps, info);
	probe(ps, info);
	write_mirror(ps, info);
}

static int kubelet_run(const lc_info *info)
{
	pod_state pods[LC_MAX_NODES];
	memset(pods, 0, sizeof pods);
	for (size_t i = 0; i < info->nnodes; i++) {
		pods[i].node = &info->nodes[i];
		pods[i].root = lc_path("%s/nodes/%s", info->dir, info->nodes[i].name);
	}
	klog(NULL, "watching %zu nodes in %s", info->nnodes, info->dir);
	char *pidfile = lc_path("%s/kubelet.pid", info->dir);
	while (!stop_requested) {
		for (size_t i = 0; i < info->nnodes && !stop_requested; i++)
			sync_node(&pods[i], info);
		lc_sleep_ms(POLL_MS);
		if (lc_read_pid(pidfile) != getpid()) { /* sandbox removed, or another kubelet took it over */
			klog(NULL, "%s no longer names this kubelet: stopping", pidfile);
			break;
		}
	}
	free(pidfile);
	klog(NULL, "stopping");
	for (size_t i = 0; i < info->nnodes; i++) {
		stop_pod(&pods[i]);
		write_mirror(&pods[i], info);
		json_decref(pods[i].pod);
		free(pods[i].root);
	}
	return RK_OK;
}

int sbx_kubelet_main(int argc, char **argv)
{
	const char *dir = NULL;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--dir") && i + 1 < argc) {
			dir = argv[++i];
		} else {
			fprintf(stderr,
			        "rekey-sandbox kubelet: unknown argument \"%s\" (usage: kubelet --dir D)\n",
			        argv[i]);
			return RK_BADINPUT;
		}
	}
	lc_info info;
	rk_err err;
	char absdir[4096];
	if (lc_abs_dir(dir, absdir, &err) || lc_info_load(absdir, &info, &err)) {
		fprintf(stderr, "rekey-sandbox kubelet: %s\n", err.msg);
		return RK_BADINPUT;
	}
	if (info.backoff_max <= 0)
		info.backoff_max = 5;
	struct sigaction sa = {.sa_handler = on_signal};
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	char *pidfile = lc_path("%s/kubelet.pid", info.dir);
	pid_t other = lc_read_pid(pidfile);
	if (other > 0 && other != getpid() && lc_pid_alive(other, info.dir)) {
		fprintf(stderr, "rekey-sandbox kubelet: a kubelet (pid %ld) already runs %s\n", (long)other,
		        info.dir);
		free(pidfile);
		return RK_FAIL;
	}
	char *pidtext = lc_path("%ld\n", (long)getpid());
	int rc = lc_write_text(pidfile, pidtext, 0600, &err);
	free(pidtext);
	if (rc == RK_OK)
		rc = kubelet_run(&info);
	else
		fprintf(stderr, "rekey-sandbox kubelet: %s\n", err.msg);
	if (lc_read_pid(pidfile) == getpid())
		unlink(pidfile);
	free(pidfile);
	return rc;
}
