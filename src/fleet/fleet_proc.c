/* fleet_proc.c: one rekeyctl process per cluster: started with fork/exec of the rekeyctl binary itself
 * (`rotate` or `resume` with the cluster's plan and the fleet's state dir), its output appended to the
 * cluster's log, its exit status the result. A child gets SIGTERM when the fleet process dies
 * (PR_SET_PDEATHSIG), so a killed fleet leaves no rotation running unattended: each stops at its next
 * safe point. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fleet_internal.h"

static void log_path(const fleet_ctx *ctx, size_t idx, char *out, size_t cap)
{
	snprintf(out, cap, "%s/%s.log", ctx->log_dir, ctx->plan->clusters[idx].name);
}

/* In the child: output to the log, stdin from /dev/null, SIGTERM when the fleet dies, then exec. Never
 * returns. */
static void exec_child(const fleet_ctx *ctx, int log_fd, pid_t parent, char **argv)
{
	int null_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (null_fd < 0 || dup2(null_fd, 0) < 0 || dup2(log_fd, 1) < 0 || dup2(log_fd, 2) < 0)
		_exit(127);
	if (prctl(PR_SET_PDEATHSIG, SIGTERM) != 0 || getppid() != parent)
		_exit(127); /* the fleet is already gone */
	struct sigaction dfl;
	memset(&dfl, 0, sizeof dfl);
	dfl.sa_handler = SIG_DFL;
	sigaction(SIGINT, &dfl, NULL);
	sigaction(SIGTERM, &dfl, NULL);
	execv(ctx->exe, argv);
	dprintf(2, "rekeyctl fleet: cannot run %s: %s\n", ctx->exe, strerror(errno));
	_exit(127);
}

int fleet_proc_start(fleet_ctx *ctx, size_t idx, int resume, fleet_proc *p, rk_err *err)
{
	char path[4700], metrics[4400];
	log_path(ctx, idx, path, sizeof path);
	int log_fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (log_fd < 0)
		return rk_err_set(err, RK_FAIL, "%s: %s", path, strerror(errno));
	char *argv[16];
	int n = 0;
	argv[n++] = ctx->exe;
	argv[n++] = resume ? "resume" : "rotate";
	argv[n++] = "-f";
	argv[n++] = ctx->plan->clusters[idx].plan_path;
	argv[n++] = "--state";
	argv[n++] = ctx->state_dir;
	if (ctx->opts->ignore_window)
		argv[n++] = "--ignore-window";
	if (ctx->opts->insecure_skip_tls_verify)
		argv[n++] = "--insecure-skip-tls-verify";
	if (ctx->opts->metrics_dir) {
		snprintf(metrics, sizeof metrics, "%s/rekeyctl-%s.prom", ctx->opts->metrics_dir,
		         ctx->plan->clusters[idx].name);
		argv[n++] = "--metrics-file";
		argv[n++] = metrics;
	}
	argv[n] = NULL;
	dprintf(log_fd, "---- rekeyctl fleet %s run %lld: %s %s -f %s\n", ctx->plan->name,
	        (long long)ctx->run.id, argv[0], argv[1], argv[3]);
	pid_t parent = getpid();
	pid_t pid = fork();
	if (pid < 0) {
		close(log_fd);
		return rk_err_set(err, RK_FAIL, "fork: %s", strerror(errno));
	}
	if (pid == 0)
		exec_child(ctx, log_fd, parent, argv);
	close(log_fd);
	p->idx = idx;
	p->pid = pid;
	p->signalled = 0;
	p->resumed = resume;
	p->pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	return RK_OK;
}

static int reap(fleet_proc *p, int *status)
{
	pid_t r;
	do
		r = waitpid(p->pid, status, WNOHANG);
	while (r < 0 && errno == EINTR);
	if (r != p->pid)
		return 0;
	if (p->pidfd >= 0)
		close(p->pidfd);
	p->pidfd = -1;
	p->pid = 0;
	return 1;
}

int fleet_proc_wait_any(fleet_proc *procs, size_t n, int timeout_ms, size_t *done_i, int *status)
{
	struct pollfd fds[RK_FLEET_MAX_PARALLEL];
	size_t map[RK_FLEET_MAX_PARALLEL], nfds = 0;
	int polled = 0;
	for (size_t i = 0; i < n; i++) {
		if (!procs[i].pid)
			continue;
		if (reap(&procs[i], status)) { /* already gone */
			*done_i = i;
			return 1;
		}
		if (procs[i].pidfd < 0) {
			polled = 1;
			continue;
		}
		fds[nfds].fd = procs[i].pidfd;
		fds[nfds].events = POLLIN;
		map[nfds++] = i;
	}
	/* Without pidfds the children are checked again after at most 50 ms. */
	int r = poll(fds, nfds, polled && timeout_ms > 50 ? 50 : timeout_ms);
	for (size_t k = 0; r > 0 && k < nfds; k++)
		if (fds[k].revents && reap(&procs[map[k]], status)) {
			*done_i = map[k];
			return 1;
		}
	for (size_t i = 0; polled && i < n; i++)
		if (procs[i].pid && procs[i].pidfd < 0 && reap(&procs[i], status)) {
			*done_i = i;
			return 1;
		}
	return 0;
}

void fleet_proc_stop(fleet_proc *p)
{
	if (p->pid && !p->signalled) {
		kill(p->pid, SIGTERM);
		p->signalled = 1;
	}
}

void fleet_log_tail(const fleet_ctx *ctx, size_t idx, char *out, size_t cap)
{
	char path[4700], buf[4096];
	out[0] = 0;
	log_path(ctx, idx, path, sizeof path);
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return;
	off_t size = lseek(fd, 0, SEEK_END);
	off_t from = size > (off_t)sizeof buf - 1 ? size - (off_t)sizeof buf + 1 : 0;
	ssize_t got = pread(fd, buf, sizeof buf - 1, from);
	close(fd);
	if (got <= 0)
		return;
	buf[got] = 0;
	while (got > 0 && (buf[got - 1] == '\n' || buf[got - 1] == ' '))
		buf[--got] = 0;
	char *line = strrchr(buf, '\n');
	snprintf(out, cap, "%s", line ? line + 1 : buf);
}
