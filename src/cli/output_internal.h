/* output_internal.h (private to the CLI): how rekeyctl shows a rewrite: a progress bar (count, rate, ETA,
 * budget state) redrawn on a terminal, JSON lines otherwise; the final summary and `status` as a table or
 * JSON. */
#ifndef REKEY_CLI_OUTPUT_INTERNAL_H
#define REKEY_CLI_OUTPUT_INTERNAL_H

#include <stdio.h>

#include "rekey/rewrite.h"

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
/* `rekeyctl status`. */
void out_rewrite_status(const rk_rewrite_status *st, int json);

#endif
