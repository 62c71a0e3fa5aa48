/* err.c: one-line error messages with an exit-code class (see include/rekey/err.h). */
#include "rekey/err.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

void rk_err_clear(rk_err *err)
{
	if (!err)
		return;
	err->code = RK_OK;
	err->msg[0] = '\0';
	err->throttled_tries = 0;
}

static void flatten_newlines(char *s)
{
	for (; *s; s++)
		if (*s == '\n' || *s == '\r')
			*s = ' ';
}

int rk_err_set(rk_err *err, int code, const char *fmt, ...)
{
	if (!err)
		return code;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof err->msg, fmt, ap);
	va_end(ap);
	flatten_newlines(err->msg);
	err->code = code;
	err->throttled_tries = 0;
	return code;
}

static void prefix_message(rk_err *err, const char *fmt, va_list ap)
{
	char prefix[RK_ERR_MSG_MAX];
	char old[RK_ERR_MSG_MAX];
	vsnprintf(prefix, sizeof prefix, fmt, ap);
	memcpy(old, err->msg, sizeof old);
	size_t n = strlen(prefix);
	if (n > sizeof err->msg - 3)
		n = sizeof err->msg - 3;
	memcpy(err->msg, prefix, n);
	memcpy(err->msg + n, ": ", 2);
	size_t room = sizeof err->msg - n - 3;
	size_t old_len = strnlen(old, room);
	memcpy(err->msg + n + 2, old, old_len);
	err->msg[n + 2 + old_len] = '\0';
	flatten_newlines(err->msg);
}

void rk_err_prefix(rk_err *err, const char *fmt, ...)
{
	if (!err)
		return;
	va_list ap;
	va_start(ap, fmt);
	prefix_message(err, fmt, ap);
	va_end(ap);
}

int rk_err_wrap(rk_err *err, int code, const char *fmt, ...)
{
	if (!err)
		return code;
	va_list ap;
	va_start(ap, fmt);
	prefix_message(err, fmt, ap);
	va_end(ap);
	err->code = code;
	return code;
}
