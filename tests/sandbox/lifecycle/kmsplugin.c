/* kmsplugin.c: the KMS v2 test plugin of `up --real --kms` (tests/realcp/kmsplugin): started as a
 * daemon serving D/kms/kms.sock with its KEKs in D/kms/state.json (0600, the plugin's own format), so
 * a plan's kms provider can name it and tests can rotate, slow down or stop it with its own CLI. */
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

int lc_kms_start(lc_info *info, const char *binary, rk_err *err)
{
	char *dir = lc_path("%s/kms", info->dir);
	char *state = lc_path("%s/state.json", dir);
	char *log = lc_path("%s/kms.log", dir);
	snprintf(info->kms_socket, sizeof info->kms_socket, "%s/kms.sock", dir);
	info->kms = 1;
	int rc = lc_mkdirs(dir, err);
	char *argv[] = {(char *)binary, "serve", "--socket", info->kms_socket, "--state", state, NULL};
	pid_t pid = rc ? -1 : lc_spawn_daemon(argv, log);
	if (!rc && pid <= 0)
		rc = rk_err_set(err, RK_FAIL, "cannot start %s", binary);
	if (!rc) {
		char *pidfile = lc_path("%s/kms.pid", info->dir), text[32];
		snprintf(text, sizeof text, "%ld\n", (long)pid);
		rc = lc_write_text(pidfile, text, 0600, err);
		free(pidfile);
	}
	double deadline = lc_now() + 20;
	while (!rc && !socket_accepts(info->kms_socket) && lc_now() < deadline && lc_pid_alive(pid, NULL))
		lc_sleep_ms(50);
	if (!rc && !socket_accepts(info->kms_socket))
		rc = rk_err_set(err, RK_FAIL, "the kms plugin does not listen on %s (see %s)",
		                info->kms_socket, log);
	free(dir);
	free(state);
	free(log);
	return rc;
}
