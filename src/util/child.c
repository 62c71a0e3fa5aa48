/* child.c: child processes with a deadline, killed as a process group on expiry (see
 * include/rekey/child.h). Waits sleep in poll(2) on a pidfd (or on the pipe being read), not in a
 * busy loop; without pidfd support they poll the child every 10 ms. */
#include "rekey/child.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "rekey/clock.h"

void rk_child_own_group(void)
{
	setpgid(0, 0);
}

void rk_child_start(rk_child *c, pid_t pid, long timeout_ms, int own_group)
{
	c->pid = pid;
	c->reaped = 0;
	c->own_group = own_group;
	c->deadline_ns = timeout_ms > 0 ? rk_monotonic_ns() + (int64_t)timeout_ms * RK_NS_PER_MS : INT64_MAX;
	if (own_group)
		setpgid(pid, pid); /* also here: the group exists whichever of us runs first */
	c->pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
}

static void signal_child(const rk_child *c, int sig)
{
	if (c->own_group)
		kill(-c->pid, sig);
	kill(c->pid, sig);
}

static int ms_until(int64_t deadline_ns)
{
	int64_t left = deadline_ns - rk_monotonic_ns();
	if (left <= 0)
		return 0;
	int64_t ms = (left + RK_NS_PER_MS - 1) / RK_NS_PER_MS;
	return ms > 60000 ? 60000 : (int)ms;
}

/* 1 when the child has exited (still a zombie: its pid and group id stay reserved), 0 when the
 * deadline passed first, -1 when it cannot be waited for (errno). */
static int wait_exit(rk_child *c, int64_t deadline_ns)
{
	for (;;) {
		siginfo_t info = {0};
		if (waitid(P_PID, (id_t)c->pid, &info, WEXITED | WNOHANG | WNOWAIT) != 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (info.si_pid == c->pid)
			return 1;
		int ms = ms_until(deadline_ns);
		if (ms == 0)
			return 0;
		if (c->pidfd >= 0) {
			struct pollfd p = {c->pidfd, POLLIN, 0};
			poll(&p, 1, ms);
		} else {
			struct timespec ts = {0, 10 * RK_NS_PER_MS};
			nanosleep(&ts, NULL);
		}
	}
}

static int reap(rk_child *c, int *status)
{
	int ignored;
	while (waitpid(c->pid, status ? status : &ignored, 0) < 0)
		if (errno != EINTR)
			return -1;
	c->reaped = 1;
	if (c->pidfd >= 0)
		close(c->pidfd);
	c->pidfd = -1;
	return 0;
}

void rk_child_kill(rk_child *c)
{
	if (c->reaped || c->pid <= 0)
		return;
	signal_child(c, SIGTERM);
	wait_exit(c, rk_monotonic_ns() + (int64_t)RK_CHILD_GRACE_MS * RK_NS_PER_MS);
	/* the leader is a zombie or gone by now: what is left of its group dies too */
	signal_child(c, SIGKILL);
	if (reap(c, NULL) != 0) {
		c->reaped = 1;
		if (c->pidfd >= 0)
			close(c->pidfd);
		c->pidfd = -1;
	}
}

int rk_child_wait(rk_child *c, int *status)
{
	int exited = wait_exit(c, c->deadline_ns);
	if (exited == 0) {
		rk_child_kill(c);
		return RK_CHILD_TIMEOUT;
	}
	if (exited < 0 || reap(c, status) != 0) {
		int saved = errno;
		if (c->pidfd >= 0)
			close(c->pidfd);
		c->pidfd = -1;
		c->reaped = 1;
		errno = saved;
		return RK_CHILD_LOST;
	}
	return RK_CHILD_OK;
}

int rk_child_read(rk_child *c, int fd, rk_buf *out, size_t max)
{
	char chunk[4096];
	int rc = RK_CHILD_OK;
	for (;;) {
		int ms = ms_until(c->deadline_ns);
		struct pollfd p = {fd, POLLIN, 0};
		int ready = ms ? poll(&p, 1, ms) : 0;
		if (ready < 0 && errno == EINTR)
			continue;
		if (ready == 0) {
			rc = RK_CHILD_TIMEOUT;
			break;
		}
		ssize_t n = read(fd, chunk, sizeof chunk);
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n < 0)
			rc = RK_CHILD_LOST;
		if (n <= 0)
			break;
		if (out->len + (size_t)n > max || rk_buf_append(out, chunk, (size_t)n) != 0) {
			rc = RK_CHILD_TOO_BIG;
			break;
		}
	}
	OPENSSL_cleanse(chunk, sizeof chunk);
	return rc;
}
