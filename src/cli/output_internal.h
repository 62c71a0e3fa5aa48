/* output_internal.h (private to the CLI): how rekeyctl shows a rewrite: a progress bar (count, rate, ETA,
 * budget state) redrawn on a terminal, JSON lines otherwise; the final summary and `status` as a table or
 * JSON. */
#ifndef REKEY_CLI_OUTPUT_INTERNAL_H
#define REKEY_CLI_OUTPUT_INTERNAL_H

#include <jansson.h>
#include <stdio.h>

#include "rekey/rewrite.h"
#include "rekey/rotation.h"

typedef struct out_progress {
	FILE *f;
	int tty;       /* redraw one line; else JSON lines */
	double last_s; /* elapsed time of the last JSON line */
	int drawn;     /* a bar is on screen (needs a newline before other output) */
} out_progress;

void out_progress_init(out_progress *o, FILE *f);
/* rk_rewrite_hooks.progress: ud is the out_progress. */
void out_progress_cb(const rk_rewrite_progress *p, void *ud);
/* The bar line (no newline) into buf. */
void out_progress_line(const rk_rewrite_progress *p, char *buf, size_t cap);

/* Final summary of a run on stdout: table, or one JSON object. */
void out_rewrite_result(const rk_rewrite_result *r, int rc, const char *message, int json);
/* `rekeyctl status` of a rewrite run. */
void out_rewrite_status(FILE *out, const rk_rewrite_status *st, int json);
json_t *rewrite_status_json(const rk_rewrite_status *st);
/* The budget decisions by the signal that drove each: [{"decision","signal","count"}]. */
json_t *rewrite_signals_json(const rk_rewrite_status *st);
/* "  signals   slowdown by server-p99 x2, pause by 5xx x1" (nothing when no breach drove one). */
void out_rewrite_signals(FILE *out, const rk_rewrite_status *st);
/* j as one compact line on out (and j freed). */
void print_json_line(FILE *out, json_t *j);
/* "120/300 objects  40.0/s  ETA 0:05  (rewritten ..., failed ...)" of a run's rewrite into buf. */
void out_rewrite_progress_line(const rk_rewrite_status *st, char *buf, size_t cap);
/* `rekeyctl status` of any run: a rotation's stages, node gates and rewrite (status_output.c), a rewrite's
 * progress. JSON is one line. */
void out_rotation_status(FILE *out, const rk_rotation_status *st, int json);
json_t *rotation_status_json(const rk_rotation_status *st);
/* `rekeyctl plan`'s preview (rotation_output.c). */
void out_rotation_preview(const rk_rotation_preview *v, int json);
/* -o json of rotate|resume|abort|rollback: {command, exit_code, error, run: the run's status or null}. */
void out_rotation_result(const char *cmd, int rc, const char *message, const rk_rotation_status *st);

#endif
