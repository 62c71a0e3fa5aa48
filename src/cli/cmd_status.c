/* cmd_status.c: `rekeyctl status`: a rewrite's progress (a `rewrite` run or a rotation's rewrite stage) read
 * from the state db (another terminal can watch a running rewrite; rk_rewrite_status_read): table or JSON,
 * once or every 2 seconds with
 * --watch. */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "args_internal.h"
#include "commands_internal.h"
#include "output_internal.h"
#include "rekey/rewrite.h"

static const char usage_text[] =
    "usage: rekeyctl status [--cluster NAME] [--run ID] [--state DIR] [-o json] [--watch]\n"
    "Shows the newest rewrite of the cluster (a `rewrite` run or a rotation's rewrite; --cluster is\n"
    "required, or --run ID) from the state db: progress, outcomes and the budget decisions with the\n"
    "signal that drove each (client-latency, client-errors, server-p99, 5xx, 429, inflight).\n";

static volatile sig_atomic_t stop_flag;
static void on_signal(int sig)
{
	(void)sig;
	stop_flag = 1;
}

struct status_args {
	const char *cluster, *state_dir;
	int run_id, json, watch;
};

static const struct option long_options[] = {{"cluster", required_argument, NULL, 'c'},
                                             {"state", required_argument, NULL, 's'},
                                             {"run", required_argument, NULL, 'r'},
                                             {"output", required_argument, NULL, 'o'},
                                             {"watch", no_argument, NULL, 'w'},
                                             {"help", no_argument, NULL, 'h'},
                                             {NULL, 0, NULL, 0}};

static int take(void *ud, int opt, const char *flag, const char *v)
{
	struct status_args *a = ud;
	switch (opt) {
	case 'h':
		fputs(usage_text, stdout);
		return 1;
	case 'w':
		a->watch = 1;
		return 0;
	case 'c':
		a->cluster = v;
		return 0;
	case 's':
		a->state_dir = v;
		return 0;
	case 'r':
		return args_int("status", flag, v, 1, 2147483647, &a->run_id);
	case 'o':
		return args_output("status", v, NULL, &a->json);
	}
	return -1;
}

static int show_once(const struct status_args *a, int *running)
{
	rk_rewrite_status st;
	rk_err err;
	*running = 0;
	if (rk_rewrite_status_read(a->state_dir, a->cluster, a->run_id, &st, &err) != RK_OK) {
		fprintf(stderr, "rekeyctl status: %s\n", err.msg);
		return err.code;
	}
	out_rewrite_status(&st, a->json);
	fflush(stdout);
	*running = !strcmp(st.run.state, "running");
	return RK_OK;
}

int cmd_status(int argc, char **argv)
{
	struct status_args a;
	memset(&a, 0, sizeof a);
	int rc = args_parse_flags_only("status", argc, argv, "wo:h", long_options, take, &a);
	if (rc != 0)
		return rc == 1 ? RK_OK : rc;
	if (!a.cluster && !a.run_id) {
		fprintf(stderr, "rekeyctl status: --cluster NAME (or --run ID) is required\n");
		return RK_BADINPUT;
	}
	args_catch_signals(on_signal);
	int running = 0;
	rc = show_once(&a, &running);
	while (rc == RK_OK && a.watch && running && !stop_flag) {
		struct timespec ts = {2, 0};
		nanosleep(&ts, NULL); /* the refresh period of --watch, not a wait for a condition */
		if (!a.json)
			printf("\n");
		rc = show_once(&a, &running);
	}
	return rc;
}
