/* kmsplugin.c: the KMS v2 test plugins of `up --real --kms [--kms-plugins N]` (tests/realcp/kmsplugin):
 * each started as a daemon serving D/kms/kms.sock (the second D/kms2/kms.sock, ...) with its KEKs in
 * the state.json beside it (0600, the plugin's own format), so a plan's kms provider can name it (a
 * migration from one plugin to another names the second) and tests can rotate, slow down or stop
 * each with its own CLI. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "sandbox.h"

/* 1 when something accepts connections on the unix socket at path. */
static int socket_accepts(const char *path)
{
	struct sockaddr_un addr;
	memset(&addr, 0, sizeof addr);
	addr.sun_family = AF_UNIX;
	snprintf(addr.sun_path, sizeof addr.sun_path, "%s", path);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return 0;
	int ok = connect(fd, (struct sockaddr *)&addr, sizeof addr) == 0;
	close(fd);
	return ok;
}

/* The directory (D/kms, D/kms2, ...) or pid file (D/kms.pid, D/kms2.pid, ...) of plugin n (1-based). */
char *lc_kms_path(const char *dir, int n, const char *suffix)
{
	return n == 1 ? lc_path("%s/kms%s", dir, suffix) : lc_path("%s/kms%d%s", dir, n, suffix);
}

/* Starts plugin n and waits until its socket accepts connections (20 s at most). */
static int start_one(const lc_info *info, const char *binary, int n, rk_err *err)
{
	char *dir = lc_kms_path(info->dir, n, "");
	char *socket = lc_path("%s/kms.sock", dir), *state = lc_path("%s/state.json", dir);
	char *log = lc_path("%s/kms.log", dir);
	int rc = lc_mkdirs(dir, err);
	char *argv[] = {(char *)binary, "serve", "--socket", socket, "--state", state, NULL};
	pid_t pid = rc ? -1 : lc_spawn_daemon(argv, log);
	if (!rc && pid <= 0)
		rc = rk_err_set(err, RK_FAIL, "cannot start %s", binary);
	if (!rc) {
		char *pidfile = lc_kms_path(info->dir, n, ".pid"), text[32];
		snprintf(text, sizeof text, "%ld\n", (long)pid);
		rc = lc_write_text(pidfile, text, 0600, err);
		free(pidfile);
	}
	double deadline = lc_now() + 20;
	while (!rc && !socket_accepts(socket) && lc_now() < deadline && lc_pid_alive(pid, NULL))
		lc_sleep_ms(50);
	if (!rc && !socket_accepts(socket))
		rc = rk_err_set(err, RK_FAIL, "the kms plugin does not listen on %s (see %s)", socket, log);
	free(dir);
	free(socket);
	free(state);
	free(log);
	return rc;
}

int lc_kms_start(lc_info *info, const char *binary, int count, rk_err *err)
{
	char *first = lc_path("%s/kms/kms.sock", info->dir); /* up checked that it fits */
	snprintf(info->kms_socket, sizeof info->kms_socket, "%s", first);
	free(first);
	info->kms = count;
	int rc = RK_OK;
	for (int n = 1; rc == RK_OK && n <= count; n++)
		rc = start_one(info, binary, n, err);
	return rc;
}
