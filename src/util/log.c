/* log.c: structured log lines on stderr (see include/rekey/log.h). */
#include "rekey/log.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

static int log_level = RK_LOG_INFO;
static int log_format = -1; /* -1: decide from isatty on first use */

static const char *level_names[] = {"debug", "info", "warn", "error"};

void rk_log_set_level(int level)
{
	log_level = level;
}

int rk_log_get_format(void)
{
	if (log_format < 0)
		log_format = isatty(STDERR_FILENO) ? RK_LOG_TEXT : RK_LOG_JSON;
	return log_format;
}

static void utc_timestamp(char *out, size_t len)
{
	struct timespec ts;
	struct tm tm;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	size_t n = strftime(out, len, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(out + n, len - n, ".%03ldZ", ts.tv_nsec / 1000000);
}

void rk_log(int level, const char *event, const char *fmt, ...)
{
	if (level < log_level || level < 0 || level > RK_LOG_ERROR)
		return;
	char msg[2048];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	char when[40];
	utc_timestamp(when, sizeof when);
	if (rk_log_get_format() == RK_LOG_TEXT) {
		fprintf(stderr, "%s %-5s %s: %s\n", when, level_names[level], event, msg);
		return;
	}
	json_t *line = json_pack("{s:s,s:s,s:s,s:s}", "time", when, "level", level_names[level], "event",
	                         event, "msg", msg);
	char *text = line ? json_dumps(line, JSON_COMPACT) : NULL;
	if (text)
		fprintf(stderr, "%s\n", text);
	free(text);
	json_decref(line);
}
