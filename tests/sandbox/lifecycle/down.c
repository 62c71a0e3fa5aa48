/* down.c: `rekey-sandbox down --dir D`: stops the kubelet emulation (which stops its apiservers),
 * then any apiserver or etcd still running, each by the pid in its pid file (checked against its
 * command line), waiting until each is gone. Idempotent. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sandbox.h"

/* Stops the process in pidfile when it is alive and belongs to this sandbox; -1 when it survived. */
static int stop_one(const char *pidfile, const char *marker, const char *what, int quiet)
{
	pid_t pid = lc_read_pid(pidfile);
	if (!lc_pid_alive(pid, marker))
		return 0;
	int rc = lc_stop_pid(pid, marker, 30);
	if (!quiet)
		printf("%s %s (pid %ld)\n", rc ? "could not stop" : "stopped", what, (long)pid);
	return rc;
}

static int stop_apiservers(const char *dir, int quiet)
{
	char *nodes = lc_path("%s/nodes", dir);
	DIR *d = opendir(nodes);
	int rc = 0;
	struct dirent *e;
	while (d && (e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		char *pidfile = lc_path("%s/%s/apiserver.pid", nodes, e->d_name);
		char *what = lc_path("apiserver %s", e->d_name);
		rc |= stop_one(pidfile, dir, what, quiet);
		free(pidfile);
		free(what);
	}
	if (d)
		closedir(d);
	free(nodes);
	return rc;
}

int lc_down_dir(const char *dir, int quiet)
{
	char *kubelet = lc_path("%s/kubelet.pid", dir);
	char *etcd = lc_path("%s/etcd.pid", dir);
	char *etcd_marker = lc_path("%s/etcd", dir);
	int rc = stop_one(kubelet, dir, "kubelet", quiet);
	rc |= stop_apiservers(dir, quiet);
	char *proxy = lc_path("%s/etcd-proxy.pid", dir);
	rc |= stop_one(proxy, dir, "etcd proxy", quiet);
	free(proxy);
	for (int n = 1; n <= LC_MAX_KMS_PLUGINS; n++) {
		char *kms = lc_kms_path(dir, n, ".pid");
		rc |= stop_one(kms, dir, "kms plugin", quiet);
		free(kms);
	}
	rc |= stop_one(etcd, etcd_marker, "etcd", quiet);
	free(kubelet);
	free(etcd);
	free(etcd_marker);
	return rc ? RK_FAIL : RK_OK;
}

int sbx_down_main(int argc, char **argv)
{
	const char *dir = NULL;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--dir") && i + 1 < argc) {
			dir = argv[++i];
		} else {
			fprintf(stderr,
			        "rekey-sandbox down: unexpected argument \"%s\" (usage: down --dir D)\n",
			        argv[i]);
			return RK_BADINPUT;
		}
	}
	char absdir[4096];
	rk_err err;
	if (lc_abs_dir(dir, absdir, &err)) {
		fprintf(stderr, "rekey-sandbox down: %s\n", err.msg);
		return RK_BADINPUT;
	}
	char *marker = lc_path("%s/etcd.pid", absdir);
	struct stat st;
	int is_sandbox = stat(marker, &st) == 0;
	free(marker);
	if (!is_sandbox) {
		fprintf(stderr, "rekey-sandbox down: %s is not a sandbox (no etcd.pid)\n", absdir);
		return RK_BADINPUT;
	}
	int rc = lc_down_dir(absdir, 0);
	printf(rc ? "some processes of %s are still running\n" : "sandbox %s is down\n", absdir);
	return rc;
}
