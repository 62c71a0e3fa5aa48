/* args.c: how every command reads its arguments (getopt_long) and strict parsing of command-line numbers
 * and durations (Go syntax, the same as plans: rekey/duration.h), with one-line errors. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "args_internal.h"
#include "rekey/duration.h"
#include "rekey/err.h"

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

int args_long(const char *cmd, const char *flag, const char *text, long min, long max, long *out)
{
	char *end = NULL;
	if (!text || !*text)
		return bad(cmd, flag, text, "a value is required");
	errno = 0;
	long v = strtol(text, &end, 10);
	if (*end)
		return bad(cmd, flag, text, "not an integer");
	if (errno == ERANGE || v < min || v > max) {
		char why[96];
		snprintf(why, sizeof why, "must be within %ld..%ld", min, max);
		return bad(cmd, flag, text, why);
	}
	*out = v;
	return 0;
}

int args_int(const char *cmd, const char *flag, const char *text, int min, int max, int *out)
{
	long v = 0;
	if (args_long(cmd, flag, text, min, max, &v) != 0)
		return -1;
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

int args_choice(const char *cmd, const char *flag, const char *text, const char *const *words, size_t n,
                int *out)
{
	char why[256] = "must be ";
	for (size_t i = 0; i < n; i++) {
		if (text && !strcmp(text, words[i])) {
			*out = (int)i;
			return 0;
		}
		size_t used = strlen(why);
		snprintf(why + used, sizeof why - used, "%s%s",
		         i == 0      ? ""
		         : i + 1 < n ? ", "
		                     : " or ",
		         words[i]);
	}
	return bad(cmd, flag, text, why);
}

int args_output(const char *cmd, const char *text, const char *extra, int *json)
{
	const char *words[] = {"json", "table", extra};
	int which = 0;
	if (args_choice(cmd, "-o", text, words, extra ? 3 : 2, &which) != 0)
		return -1;
	*json = which == 0;
	return 0;
}

/* The flag as typed, for messages. */
static void flag_name(char **argv, const struct option *longopts, int opt, char *out, size_t cap)
{
	if (opt == '?' || opt == ':') {
		snprintf(out, cap, "%s", argv[optind - 1]);
		return;
	}
	for (const struct option *o = longopts; o && o->name; o++)
		if (o->val == opt && !o->flag) {
			snprintf(out, cap, "--%s", o->name);
			return;
		}
	snprintf(out, cap, "-%c", opt);
}

int args_parse(const char *cmd, int argc, char **argv, const char *shortopts, const struct option *longopts,
               args_take_fn take, void *ud)
{
	char opts[64];
	snprintf(opts, sizeof opts, ":%s", shortopts); /* ':' first: a missing value comes back as ':' */
	optind = 0; /* 0: GNU getopt starts over (several commands per test) */
	opterr = 0;
	for (int opt; (opt = getopt_long(argc, argv, opts, longopts, NULL)) != -1;) {
		char flag[128];
		flag_name(argv, longopts, opt, flag, sizeof flag);
		if (opt == '?' || opt == ':') {
			fprintf(stderr,
			        "rekeyctl %s: %s: unknown flag or missing value (--help lists them)\n", cmd,
			        flag);
			return RK_BADINPUT;
		}
		int rc = take(ud, opt, flag, optarg);
		if (rc != 0)
			return rc > 0 ? 1 : RK_BADINPUT;
	}
	return 0;
}

int args_parse_flags_only(const char *cmd, int argc, char **argv, const char *shortopts,
                          const struct option *longopts, args_take_fn take, void *ud)
{
	int rc = args_parse(cmd, argc, argv, shortopts, longopts, take, ud);
	if (rc == 0 && optind < argc) {
		fprintf(stderr, "rekeyctl %s: unexpected argument \"%s\"\n", cmd, argv[optind]);
		return RK_BADINPUT;
	}
	return rc;
}

void args_catch_signals(void (*handler)(int))
{
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = handler;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
}

int args_take_kubeconfig(int opt, const char *value, rk_kubeconfig_opts *kc)
{
	if (opt == ARGS_KUBECONFIG)
		kc->kubeconfig = value;
	else if (opt == ARGS_CONTEXT)
		kc->context = value;
	else if (opt == ARGS_INSECURE)
		kc->insecure_skip_tls_verify = 1;
	return opt == ARGS_KUBECONFIG || opt == ARGS_CONTEXT || opt == ARGS_INSECURE;
}
