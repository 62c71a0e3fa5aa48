/* etcdproc.c: starts the sandbox's etcd (/usr/bin/etcd, $REKEY_ETCD, or the binary `up --real` names) on
 * free loopback ports with its
 * data in D/etcd, as a detached daemon (D/etcd.pid, D/etcd.url, log D/etcd.log), and waits until its
 * JSON gateway answers. */
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sandbox.h"

static const char *default_binary(void)
{
	const char *env = getenv("REKEY_ETCD");
	return env && *env ? env : "/usr/bin/etcd";
}

/* One attempt on fresh ports; RK_OK when healthy within the deadline. */
static int etcd_try(const char *dir, const char *binary, char url[128], pid_t *pid_out, rk_err *err)
{
	int cport = lc_free_port(), pport = lc_free_port();
	if (cport < 0 || pport < 0 || cport == pport)
		return rk_err_set(err, RK_FAIL, "no free loopback port for etcd");
	snprintf(url, 128, "http://127.0.0.1:%d", cport);
	char *peer = lc_path("http://127.0.0.1:%d", pport);
	char *a_data = lc_path("--data-dir=%s/etcd", dir);
	char *a_lc = lc_path("--listen-client-urls=%s", url);
	char *a_ac = lc_path("--advertise-client-urls=%s", url);
	char *a_lp = lc_path("--listen-peer-urls=%s", peer);
	char *a_ap = lc_path("--initial-advertise-peer-urls=%s", peer);
	char *a_ic = lc_path("--initial-cluster=sandbox=%s", peer);
	char *argv[] = {(char *)binary,
	                "--name=sandbox",
	                a_data,
	                a_lc,
	                a_ac,
	                a_lp,
	                a_ap,
	                a_ic,
	                "--max-txn-ops=1024",
	                "--max-request-bytes=8388608",
	                "--quota-backend-bytes=4294967296",
	                "--logger=zap",
	                "--log-outputs=stderr",
	                NULL};
	char *log = lc_path("%s/etcd.log", dir);
	pid_t pid = lc_spawn_daemon(argv, log);
	free(log);
	free(peer), free(a_data), free(a_lc), free(a_ac), free(a_lp), free(a_ap), free(a_ic);
	if (pid <= 0)
		return rk_err_set(err, RK_FAIL, "cannot start %s", binary);
	*pid_out = pid;
	double deadline = lc_now() + 30;
	int rc = RK_FAIL;
	while (lc_now() < deadline) {
		if (lc_etcd_healthy(url)) {
			rc = RK_OK;
			break;
		}
		if (!lc_pid_alive(pid, NULL)) /* our own child: no command-line check (it may be mid-exec) */
			break;
		lc_sleep_ms(50);
	}
	if (rc != RK_OK)
		rk_err_set(err, RK_FAIL, "etcd did not become healthy at %s (see %s/etcd.log)", url, dir);
	return rc;
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st, (void)flag, (void)ftw;
	return remove(path);
}

static void remove_tree(const char *path)
{
	nftw(path, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

int lc_etcd_start(const char *dir, const char *binary, char url[128], rk_err *err)
{
	if (!binary)
		binary = default_binary();
	char *data = lc_path("%s/etcd", dir);
	int rc = lc_mkdirs(data, err);
	for (int attempt = 0; rc == RK_OK && attempt < 3; attempt++) {
		pid_t pid = 0;
		rc = etcd_try(dir, binary, url, &pid, err);
		char *pidfile = lc_path("%s/etcd.pid", dir);
		char pidtext[32];
		snprintf(pidtext, sizeof pidtext, "%ld\n", (long)pid);
		if (pid > 0)
			lc_write_text(pidfile, pidtext, 0600, NULL);
		free(pidfile);
		if (rc == RK_OK)
			break;
		lc_stop_pid(pid, NULL, 5); /* e.g. lost a port race: try fresh ports and a fresh data dir */
		remove_tree(data);
		lc_mkdirs(data, err);
		if (attempt < 2)
			rc = RK_OK;
	}
	free(data);
	if (rc == RK_OK) {
		char *urlfile = lc_path("%s/etcd.url", dir);
		char *text = lc_path("%s\n", url);
		rc = lc_write_text(urlfile, text, 0600, err);
		free(urlfile);
		free(text);
	}
	return rc;
}
