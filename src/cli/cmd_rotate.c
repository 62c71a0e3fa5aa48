/* cmd_rotate.c: `rekeyctl plan|rotate|resume|abort|rollback|break-glass -f PLAN`: thin wrappers over the
 * rotation orchestrator (include/rekey/rotation.h); the rewrite's progress is drawn here (output.c), the
 * break-glass banner printed on stderr. */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "args_internal.h"
#include "commands_internal.h"
#include "output_internal.h"
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
	int bg = !strcmp(cmd, "break-glass");
	fprintf(
	    out,
	    "usage: rekeyctl %s -f PLAN%s [--state DIR] [--ignore-window] [--insecure-skip-tls-verify] "
	    "[-o json|table]\n"
	    "       [--metrics-file F]  (rotate, resume: a Prometheus textfile of the run, rewritten at "
	    "every stage)\n"
	    "  plan      preflight (read-only) and the stages a rotation would run, with a rewrite estimate\n"
	    "  rotate    run the rotation: stage key, roll out (canary first, gated), promote, rewrite, "
	    "verify, prune\n"
	    "  resume    continue the unfinished rotation of the plan's cluster exactly where it stopped\n"
	    "  abort     end the unfinished rotation, leaving every node's config as it is (a safe state)\n"
	    "  rollback  before promotion remove the new key; after it make the old key write again\n"
	    "  break-glass  KMS down: write the plan's breakGlass config (its local key first, the kms "
	    "provider kept\n            for reads) through the same canary and gates; audited with "
	    "--reason; back with `rotate`\n"
	    "-o json: plan prints its preview as one object; the others {command, exit_code, error, run}\n"
	    "(run: the rotation's stages, node gates and rewrite, as `rekeyctl status -o json`)\n"
	    "exit codes: 0 done, 1 failed, 2 bad input, 3 stopped safely (resumable), 4 refused as unsafe\n",
	    cmd, bg ? " --reason TEXT" : "");
}

static const struct option long_options[] = {{"file", required_argument, NULL, 'f'},
                                             {"state", required_argument, NULL, 's'},
                                             {"ignore-window", no_argument, NULL, 'w'},
                                             {"insecure-skip-tls-verify", no_argument, NULL, 'k'},
                                             {"output", required_argument, NULL, 'o'},
                                             {"metrics-file", required_argument, NULL, 'm'},
                                             {"reason", required_argument, NULL, 'r'},
                                             {"help", no_argument, NULL, 'h'},
                                             {NULL, 0, NULL, 0}};

struct rotate_args {
	const char *cmd;
	rk_rotation_opts opts;
	int json;
};

static int take(void *ud, int opt, const char *flag, const char *v)
{
	struct rotate_args *a = ud;
	switch (opt) {
	case 'f':
		a->opts.plan_path = v;
		return 0;
	case 's':
		a->opts.state_dir = v;
		return 0;
	case 'w':
		a->opts.ignore_window = 1;
		return 0;
	case 'k':
		a->opts.insecure_skip_tls_verify = 1;
		return 0;
	case 'o':
		return args_output(a->cmd, v, NULL, &a->json);
	case 'm':
		a->opts.metrics_file = v;
		return 0;
	case 'r':
		if (strcmp(a->cmd, "break-glass") != 0) {
			fprintf(stderr, "rekeyctl %s: --reason is only for break-glass\n", a->cmd);
			return -1;
		}
		a->opts.reason = v;
		return 0;
	case 'h':
		usage(stdout, a->cmd);
		return 1;
	}
	(void)flag;
	return -1;
}

static void print_banner(const char *text, void *ud)
{
	(void)ud;
	fputs(text, stderr);
	fflush(stderr);
}

/* The result: an error line on stderr; with -o json, {command, exit_code, error, run} on stdout. */
static int report(const struct rotate_args *a, int rc, const rk_err *err)
{
	if (rc != RK_OK)
		fprintf(stderr, "rekeyctl %s: %s\n", a->cmd, err->msg);
	if (!a->json)
		return rc;
	rk_rotation_status st;
	rk_err ignored;
	int have =
	    rk_rotation_status_read(a->opts.state_dir, NULL, a->opts.plan_path, 0, &st, &ignored) == RK_OK;
	out_rotation_result(a->cmd, rc, rc == RK_OK ? "" : err->msg, have ? &st : NULL);
	if (have)
		rk_rotation_status_free(&st);
	return rc;
}

static int preview(struct rotate_args *a, rk_err *err)
{
	rk_rotation_preview v;
	int rc = rk_rotation_plan(&a->opts, &v, err);
	if (rc == RK_OK)
		out_rotation_preview(&v, a->json);
	rk_rotation_preview_free(&v);
	if (rc != RK_OK)
		fprintf(stderr, "rekeyctl plan: %s\n", err->msg);
	return rc;
}

int cmd_rotate(int argc, char **argv)
{
	struct rotate_args a;
	memset(&a, 0, sizeof a);
	a.cmd = argv[0];
	int rc = args_parse_flags_only(a.cmd, argc, argv, "f:o:h", long_options, take, &a);
	if (rc != 0)
		return rc == 1 ? RK_OK : rc;
	if (!a.opts.plan_path) {
		fprintf(stderr, "rekeyctl %s: a plan is required (-f PLAN)\n", a.cmd);
		return RK_BADINPUT;
	}
	args_catch_signals(on_signal);
	out_progress prog;
	out_progress_init(&prog, stderr);
	a.opts.stop = &stop_requested;
	a.opts.progress = out_progress_cb;
	a.opts.progress_ud = &prog;
	rk_err err;
	rk_err_clear(&err);
	const char *cmd = a.cmd;
	if (!strcmp(cmd, "plan"))
		return preview(&a, &err);
	if (!strcmp(cmd, "abort")) {
		rc = rk_rotation_abort(&a.opts, &err);
	} else if (!strcmp(cmd, "rollback")) {
		rc = rk_rotation_rollback(&a.opts, &err);
	} else if (!strcmp(cmd, "break-glass")) {
		a.opts.banner = print_banner;
		rc = rk_rotation_break_glass(&a.opts, &err);
		if (rc == RK_OK && !a.json)
			printf("break glass done: new writes go under the emergency key; once the KMS is "
			       "healthy, `rekeyctl rotate -f %s` goes back to it\n",
			       a.opts.plan_path);
	} else {
		rc = rk_rotation_run(&a.opts, !strcmp(cmd, "resume"), &err);
		if (prog.drawn)
			fputc('\n', stderr);
		if (rc == RK_OK && !a.json)
			printf(
			    "rotation done: every object is under the new key and the old key is pruned\n");
	}
	return report(&a, rc, &err);
}
