/* cmd_rotate.c: `rekeyctl plan|rotate|resume|abort|rollback -f PLAN`: thin wrappers over the rotation
 * orchestrator (include/rekey/rotation.h). */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "commands_internal.h"
#include "rekey/log.h"
#include "rekey/rotation.h"

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig)
{
	(void)sig;
	stop_requested = 1;
}

static void usage(FILE *out, const char *cmd)
{
	fprintf(
	    out,
	    "usage: rekeyctl %s -f PLAN [--state DIR] [--ignore-window] [--insecure-skip-tls-verify]\n"
	    "  plan      preflight (read-only) and the stages a rotation would run, with a rewrite estimate\n"
	    "  rotate    run the rotation: stage key, roll out (canary first, gated), promote, rewrite, "
	    "verify, prune\n"
	    "  resume    continue the unfinished rotation of the plan's cluster exactly where it stopped\n"
	    "  abort     end the unfinished rotation, leaving every node's config as it is (a safe state)\n"
	    "  rollback  before promotion remove the new key; after it make the old key write again\n"
	    "exit codes: 0 done, 1 failed, 2 bad input, 3 stopped safely (resumable), 4 refused as unsafe\n",
	    cmd);
}

static int parse(int argc, char **argv, rk_rotation_opts *opts)
{
	static const struct option longopts[] = {
	    {"file", required_argument, NULL, 'f'},    {"state", required_argument, NULL, 's'},
	    {"ignore-window", no_argument, NULL, 'w'}, {"insecure-skip-tls-verify", no_argument, NULL, 'k'},
	    {"help", no_argument, NULL, 'h'},          {NULL, 0, NULL, 0}};
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "f:h", longopts, NULL)) != -1) {
		switch (c) {
		case 'f':
			opts->plan_path = optarg;
			break;
		case 's':
			opts->state_dir = optarg;
			break;
		case 'w':
			opts->ignore_window = 1;
			break;
		case 'k':
			opts->insecure_skip_tls_verify = 1;
			break;
		case 'h':
			usage(stdout, argv[0]);
			return -1;
		default:
			usage(stderr, argv[0]);
			return RK_BADINPUT;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "rekeyctl %s: unexpected argument \"%s\"\n", argv[0], argv[optind]);
		return RK_BADINPUT;
	}
	if (!opts->plan_path) {
		fprintf(stderr, "rekeyctl %s: a plan is required (-f PLAN)\n", argv[0]);
		return RK_BADINPUT;
	}
	return RK_OK;
}

static int report(const char *cmd, int rc, const rk_err *err)
{
	if (rc != RK_OK)
		fprintf(stderr, "rekeyctl %s: %s\n", cmd, err->msg);
	return rc;
}

int cmd_rotate(int argc, char **argv)
{
	rk_rotation_opts opts;
	memset(&opts, 0, sizeof opts);
	int rc = parse(argc, argv, &opts);
	if (rc != RK_OK)
		return rc < 0 ? RK_OK : rc;
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	opts.stop = &stop_requested;
	opts.progress_bar = isatty(STDERR_FILENO);
	opts.fail_after_stage = getenv("REKEY_TEST_CRASH_AT");
	rk_err err;
	rk_err_clear(&err);
	const char *cmd = argv[0];
	if (!strcmp(cmd, "plan")) {
		rk_buf out = RK_BUF_INIT;
		rc = rk_rotation_plan(&opts, &out, &err);
		if (rc == RK_OK)
			fputs(rk_buf_cstr(&out), stdout);
		rk_buf_free(&out);
	} else if (!strcmp(cmd, "abort")) {
		rc = rk_rotation_abort(&opts, &err);
	} else if (!strcmp(cmd, "rollback")) {
		rc = rk_rotation_rollback(&opts, &err);
	} else {
		rc = rk_rotation_run(&opts, !strcmp(cmd, "resume"), &err);
		if (rc == RK_OK)
			printf(
			    "rotation done: every object is under the new key and the old key is pruned\n");
	}
	return report(cmd, rc, &err);
}
