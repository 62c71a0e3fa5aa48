/* child.h: child processes run with a deadline (exec hooks, exec credential plugins). The child runs
 * in its own process group; when the deadline passes the whole group gets SIGTERM, then SIGKILL
 * RK_CHILD_GRACE_MS later, and the child is reaped. Waiting retries EINTR only: ECHILD (someone else
 * reaped the child, e.g. SIGCHLD ignored) ends the wait with an error instead of spinning. */
#ifndef REKEY_CHILD_H
#define REKEY_CHILD_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "rekey/buf.h"

#define RK_CHILD_GRACE_MS 2000

enum { RK_CHILD_OK = 0, RK_CHILD_TIMEOUT = -1, RK_CHILD_TOO_BIG = -2, RK_CHILD_LOST = -3 };

typedef struct rk_child {
	pid_t pid;
	int pidfd;           /* pidfd_open(pid), -1 when unavailable (then the wait polls) */
	int64_t deadline_ns; /* CLOCK_MONOTONIC; INT64_MAX = none */
	int own_group;
	int reaped;
} rk_child;

/* In the child right after fork(): its own process group (so the group can be killed as one). */
void rk_child_own_group(void);

/* In the parent after fork(): starts the clock (timeout_ms from now; <= 0: no deadline). own_group: the
 * child called rk_child_own_group (a timeout then kills the group, else the child alone). */
void rk_child_start(rk_child *c, pid_t pid, long timeout_ms, int own_group);

/* Reads fd until EOF into out (more than max bytes: RK_CHILD_TOO_BIG) before the deadline
 * (RK_CHILD_TIMEOUT). RK_CHILD_LOST on a read error. */
int rk_child_read(rk_child *c, int fd, rk_buf *out, size_t max);

/* Waits for the child to exit before the deadline and reaps it (*status as from waitpid). On
 * RK_CHILD_TIMEOUT its process group was killed and it was reaped; RK_CHILD_LOST (errno kept) when
 * it cannot be waited for (ECHILD). */
int rk_child_wait(rk_child *c, int *status);

/* Kills the child's process group now (SIGTERM, grace, SIGKILL) and reaps it. Safe to call twice. */
void rk_child_kill(rk_child *c);

#endif
