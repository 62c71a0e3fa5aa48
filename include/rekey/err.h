/* err.h: error values carried through librekey: an exit-code class plus a one-line message. */
#ifndef REKEY_ERR_H
#define REKEY_ERR_H

#include <stddef.h>

/* Exit codes shared by the CLI and the library (docs/design.md). */
enum rk_code {
	RK_OK = 0,       /* done */
	RK_FAIL = 1,     /* failed (runtime error, or verify found a mismatch) */
	RK_BADINPUT = 2, /* bad usage or bad input: nothing was changed */
	RK_STOPPED = 3,  /* stopped safely and resumable (budget, window, gate) */
	RK_UNSAFE = 4    /* refused as unsafe */
};

#define RK_ERR_MSG_MAX 1024

typedef struct rk_err {
	int code;                 /* one of enum rk_code; RK_OK when no error */
	char msg[RK_ERR_MSG_MAX]; /* one line, no trailing newline */
	/* > 0: the cause was a server still answering 429 (throttling) when the retries ran out after this
	 * many tries (set by the kube client; the code stays RK_FAIL, callers that changed nothing yet may
	 * turn it into RK_STOPPED). 0 otherwise. rk_err_set and rk_err_clear reset it; rk_err_prefix
	 * and rk_err_wrap keep it. */
	int throttled_tries;
} rk_err;

/* Clears err (code RK_OK, empty message). Safe with NULL. */
void rk_err_clear(rk_err *err);

/* Sets err to code and a printf-style message; returns code so callers can `return rk_err_set(...)`.
 * Newlines in the formatted message are replaced by spaces to keep it one line. Safe with NULL. */
int rk_err_set(rk_err *err, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Prefixes an existing message with "prefix: " (e.g. a file name). Keeps the code. */
void rk_err_prefix(rk_err *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The same, and sets the code: `return rk_err_wrap(err, RK_STOPPED, "probe: node %s", name);`. */
int rk_err_wrap(rk_err *err, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#endif
