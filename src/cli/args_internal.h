/* args_internal.h (private to the CLI): how every rekeyctl command reads its arguments: getopt_long (flags
 * and operands in any order, --flag=value or --flag value), and strict values: numbers within a range, Go
 * durations ("500ms", "60s", "1m30s": the grammar plans use), -o json|table. Each value reader returns 0,
 * or -1 after printing "rekeyctl CMD: FLAG \"value\": why" to stderr. */
#ifndef REKEY_CLI_ARGS_INTERNAL_H
#define REKEY_CLI_ARGS_INTERNAL_H

#include <getopt.h>
#include <signal.h>

#include "rekey/kubeconfig.h"

/* Called for each option: opt is its getopt value, flag its name as typed ("--qps", "-o"), value its
 * argument (NULL for flags without one). Returns 0 to go on, -1 after printing why it is bad, 1 to stop
 * (help printed). */
typedef int (*args_take_fn)(void *ud, int opt, const char *flag, const char *value);

/* Runs getopt_long over argv[1..] and calls take for every option; unknown flags and missing values print
 * "rekeyctl CMD: FLAG: unknown flag or missing value". Returns 0 (optind at the first operand), 1 when
 * take stopped, or RK_BADINPUT. */
int args_parse(const char *cmd, int argc, char **argv, const char *shortopts, const struct option *longopts,
               args_take_fn take, void *ud);
/* args_parse, then no operand may be left: "rekeyctl CMD: unexpected argument \"X\"". */
int args_parse_flags_only(const char *cmd, int argc, char **argv, const char *shortopts,
                          const struct option *longopts, args_take_fn take, void *ud);

int args_int(const char *cmd, const char *flag, const char *text, int min, int max, int *out);
int args_long(const char *cmd, const char *flag, const char *text, long min, long max, long *out);
int args_double(const char *cmd, const char *flag, const char *text, double min, double max, double *out);
/* A Go duration (rekey/duration.h) into milliseconds, at most a week; a bare "0" is allowed. */
int args_duration_ms(const char *cmd, const char *flag, const char *text, long *out);
/* One of n words: *out = its index; else "must be A, B or C". */
int args_choice(const char *cmd, const char *flag, const char *text, const char *const *words, size_t n,
                int *out);
/* -o / --output: "json" (*json = 1) or "table" (*json = 0); extra, when not NULL, names one more
 * accepted word (meaning table). */
int args_output(const char *cmd, const char *text, const char *extra, int *json);

/* The kubeconfig flags of every command that talks to a cluster, spelled as kubectl spells them: put
 * ARGS_KUBECONFIG_OPTIONS in the option table and offer each option to args_take_kubeconfig first. */
enum { ARGS_KUBECONFIG = 200, ARGS_CONTEXT, ARGS_INSECURE };
#define ARGS_KUBECONFIG_OPTIONS                                                                              \
	{"kubeconfig", required_argument, NULL, ARGS_KUBECONFIG},                                            \
	    {"context", required_argument, NULL, ARGS_CONTEXT},                                              \
	{                                                                                                    \
		"insecure-skip-tls-verify", no_argument, NULL, ARGS_INSECURE                                 \
	}
/* 1 when opt is one of them (stored in kc), 0 when it is not. */
int args_take_kubeconfig(int opt, const char *value, rk_kubeconfig_opts *kc);

/* SIGINT and SIGTERM call handler (which sets a flag the library polls: stop at a safe point). */
void args_catch_signals(void (*handler)(int));

#endif
