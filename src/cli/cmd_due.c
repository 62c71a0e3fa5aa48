/* cmd_due.c: `rekeyctl due -f PLAN|FLEET [--max-age DUR]`: which clusters' write keys are older than the
 * policy (include/rekey/fleet.h, rk_due_check); exit 0 when none is due, 1 when some are. */
#include <stdio.h>
#include <string.h>

#include "args_internal.h"
#include "commands_internal.h"
#include "fleet_output_internal.h"
#include "rekey/duration.h"
#include "rekey/fleet.h"

static const char usage_text[] =
    "usage: rekeyctl due -f PLAN|FLEET [--max-age DUR] [--state DIR] [-o json|table]\n"
    "Which clusters' write keys are older than the policy: --max-age (a Go duration, e.g. 2160h), else\n"
    "the fleet's maxKeyAge, else 2160h (90 days). A key's age comes from the state db (when a rotation\n"
    "finished there), else from the creation time in its name as read from the canary's config. A\n"
    "cluster whose age is unknown, or with an unfinished rotation, is due.\n"
    "exit codes: 0 none due, 1 some due, 2 bad input\n";

struct due_args {
	rk_due_opts opts;
	int json;
};

static const struct option long_options[] = {
    {"file", required_argument, NULL, 'f'},    {"state", required_argument, NULL, 's'},
    {"max-age", required_argument, NULL, 'a'}, {"output", required_argument, NULL, 'o'},
    {"help", no_argument, NULL, 'h'},          {NULL, 0, NULL, 0}};

static int take(void *ud, int opt, const char *flag, const char *v)
{
	struct due_args *a = ud;
	long long ns = 0;
	switch (opt) {
	case 'f':
		a->opts.path = v;
		return 0;
	case 's':
		a->opts.state_dir = v;
		return 0;
	case 'a':
		if (rk_go_duration_parse(v, &ns) != 0 || ns <= 0) {
			fprintf(stderr, "rekeyctl due: %s \"%s\": must be a positive duration (e.g. 2160h)\n",
			        flag, v);
			return -1;
		}
		a->opts.max_age_ms = (long)((ns + 999999) / 1000000); /* at least 1 ms */
		return 0;
	case 'o':
		return args_output("due", v, NULL, &a->json);
	case 'h':
		fputs(usage_text, stdout);
		return 1;
	}
	return -1;
}

int cmd_due(int argc, char **argv)
{
	struct due_args a;
	memset(&a, 0, sizeof a);
	int rc = args_parse_flags_only("due", argc, argv, "f:o:h", long_options, take, &a);
	if (rc != 0)
		return rc == 1 ? RK_OK : rc;
	if (!a.opts.path) {
		fprintf(stderr, "rekeyctl due: a plan or fleet plan is required (-f PLAN|FLEET)\n");
		return RK_BADINPUT;
	}
	rk_due_report report;
	rk_err err;
	rc = rk_due_check(&a.opts, &report, &err);
	if (rc != RK_OK) {
		fprintf(stderr, "rekeyctl due: %s\n", err.msg);
		return rc;
	}
	out_due_report(&report, a.json);
	rc = report.ndue ? RK_FAIL : RK_OK;
	rk_due_report_free(&report);
	return rc;
}
