/* args.c: strict parsing of command-line numbers and durations (Go syntax, the same as plans:
 * rekey/duration.h), with one-line errors. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "args_internal.h"
#include "rekey/duration.h"

static int bad(const char *cmd, const char *flag, const char *text, const char *why)
{
	fprintf(stderr, "rekeyctl %s: %s \"%s\": %s\n", cmd, flag, text ? text : "", why);
	return -1;
}

int args_double(const char *cmd, const char *flag, const char *text, double min, double max, double *out)
{
	char *end = NULL;
	if (!text || !*text)
		return bad(cmd, flag, text, "a value is required");
	errno = 0;
	double v = strtod(text, &end);
	if (errno || *end || !isfinite(v))
		return bad(cmd, flag, text, "not a number");
	if (v < min || v > max) {
		char why[96];
		snprintf(why, sizeof why, "must be within %g..%g", min, max);
		return bad(cmd, flag, text, why);
	}
	*out = v;
	return 0;
}

int args_int(const char *cmd, const char *flag, const char *text, int min, int max, int *out)
{
	char *end = NULL;
	if (!text || !*text)
		return bad(cmd, flag, text, "a value is required");
	errno = 0;
	long v = strtol(text, &end, 10);
	if (errno || *end)
		return bad(cmd, flag, text, "not an integer");
	if (v < min || v > max) {
		char why[96];
		snprintf(why, sizeof why, "must be within %d..%d", min, max);
		return bad(cmd, flag, text, why);
	}
	*out = (int)v;
	return 0;
}

int args_duration_ms(const char *cmd, const char *flag, const char *text, long *out)
{
	if (!text || !*text)
		return bad(cmd, flag, text, "a value is required");
	long ms = rk_parse_duration_ms(text);
	if (ms < 0)
		return bad(
		    cmd, flag, text,
		    "not a duration: each number needs a unit (ns, us, ms, s, m, h), e.g. 500ms or 1m30s");
	if (ms > 7 * 24 * 3600000L)
		return bad(cmd, flag, text, "longer than a week");
	*out = ms;
	return 0;
}
