/* args_internal.h (private to the CLI): strict parsing of command-line values shared by the commands:
 * numbers and ratios within a range, and Go durations ("500ms", "60s", "1m30s": the grammar plans use).
 * Each returns 0, or -1 after printing "rekeyctl CMD: FLAG \"value\": why" to stderr. */
#ifndef REKEY_CLI_ARGS_INTERNAL_H
#define REKEY_CLI_ARGS_INTERNAL_H

int args_int(const char *cmd, const char *flag, const char *text, int min, int max, int *out);
int args_double(const char *cmd, const char *flag, const char *text, double min, double max, double *out);
/* A Go duration (rekey/duration.h) into milliseconds, at most a week; a bare "0" is allowed. */
int args_duration_ms(const char *cmd, const char *flag, const char *text, long *out);

#endif
