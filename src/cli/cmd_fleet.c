/* cmd_fleet.c: `rekeyctl fleet rotate|resume|status -f FLEET`: waves of cluster rotations
 * (include/rekey/fleet.h); the fleet's progress is logged, the result printed as `fleet status`. */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "args_internal.h"
#include "commands_internal.h"
#include "fleet_output_internal.h"
#include "rekey/fleet.h"

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig)
{
	(void)sig;
	stop_requested = 1;
}

static const char usage_text[] =
    "usage: rekeyctl fleet rotate|resume -f FLEET [--state DIR] [--ignore-window] "
    "[--insecure-skip-tls-verify]\n"
    "                      [--metrics-dir DIR] [-o json|table]\n"
    "       rekeyctl fleet status (-f FLEET | --fleet NAME | --run ID) [--state DIR] [-o json|table]\n"
    "  rotate  the canary cluster first, then each wave (FleetPlan: waves, parallelism, soak, stop rules);\n"
    "          each cluster is rotated by `rekeyctl rotate|resume -f PLAN` of its own, logged to\n"
    "          STATE/fleet/NAME-RUN/CLUSTER.log\n"
    "  resume  continue the fleet's unfinished run: clusters not done are resumed (or started)\n"
    "  status  every cluster of the fleet's newest run: wave, state, rotation run, stage\n"
    "exit codes: 0 every cluster rotated, 1/4 the first failing cluster's code, 2 bad input, 3 stopped "
    "(resumable)\n";

struct fleet_args {
	const char *sub, *fleet_name;
	rk_fleet_opts opts;
	int run_id, json;
};

static const struct option long_options[] = {{"file", required_argument, NULL, 'f'},
                                             {"state", required_argument, NULL, 's'},
                                             {"fleet", required_argument, NULL, 'n'},
                                             {"run", required_argument, NULL, 'r'},
                                             {"metrics-dir", required_argument, NULL, 'm'},
                                             {"ignore-window", no_argument, NULL, 'w'},
                                             {"insecure-skip-tls-verify", no_argument, NULL, 'k'},
                                             {"output", required_argument, NULL, 'o'},
                                             {"help", no_argument, NULL, 'h'},
                                             {NULL, 0, NULL, 0}};

static int take(void *ud, int opt, const char *flag, const char *v)
{
	struct fleet_args *a = ud;
	switch (opt) {
	case 'f':
		a->opts.fleet_path = v;
		return 0;
	case 's':
		a->opts.state_dir = v;
		return 0;
	case 'n':
		a->fleet_name = v;
		return 0;
	case 'r':
		return args_int("fleet", flag, v, 1, 2147483647, &a->run_id);
	case 'm':
		a->opts.metrics_dir = v;
		return 0;
	case 'w':
		a->opts.ignore_window = 1;
		return 0;
	case 'k':
		a->opts.insecure_skip_tls_verify = 1;
		return 0;
	case 'o':
		return args_output("fleet", v, NULL, &a->json);
	case 'h':
		fputs(usage_text, stdout);
		return 1;
	}
	return -1;
}

static int show_status(const struct fleet_args *a, int64_t run_id, int quiet_missing)
{
	rk_fleet_status st;
	rk_err err;
	int rc = rk_fleet_status_read(a->opts.state_dir, run_id ? NULL : a->opts.fleet_path, a->fleet_name,
	                              run_id, &st, &err);
	if (rc != RK_OK) {
		if (!quiet_missing)
			fprintf(stderr, "rekeyctl fleet %s: %s\n", a->sub, err.msg);
		return rc;
	}
	out_fleet_status(&st, a->json);
	rk_fleet_status_free(&st);
	return RK_OK;
}

static int run_fleet(struct fleet_args *a, int resume)
{
	if (!a->opts.fleet_path) {
		fprintf(stderr, "rekeyctl fleet %s: a fleet plan is required (-f FLEET)\n", a->sub);
		return RK_BADINPUT;
	}
	args_catch_signals(on_signal);
	a->opts.stop = &stop_requested;
	rk_err err;
	rk_err_clear(&err);
	int64_t run_id = 0;
	int rc = rk_fleet_rotate(&a->opts, resume, &run_id, &err);
	if (run_id)
		show_status(a, run_id, 1);
	if (rc != RK_OK)
		fprintf(stderr, "rekeyctl fleet %s: %s\n", a->sub, err.msg);
	return rc;
}

int cmd_fleet(int argc, char **argv)
{
	struct fleet_args a;
	memset(&a, 0, sizeof a);
	if (argc < 2 || argv[1][0] == '-') {
		int help = argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"));
		fputs(usage_text, help ? stdout : stderr);
		return help ? RK_OK : RK_BADINPUT;
	}
	a.sub = argv[1];
	if (strcmp(a.sub, "rotate") && strcmp(a.sub, "resume") && strcmp(a.sub, "status")) {
		fprintf(stderr, "rekeyctl fleet: unknown subcommand \"%s\" (rotate, resume, status)\n",
		        a.sub);
		return RK_BADINPUT;
	}
	int rc = args_parse_flags_only("fleet", argc - 1, argv + 1, "f:o:h", long_options, take, &a);
	if (rc != 0)
		return rc == 1 ? RK_OK : rc;
	if (!strcmp(a.sub, "status")) {
		if (!a.opts.fleet_path && !a.fleet_name && !a.run_id) {
			fprintf(stderr,
			        "rekeyctl fleet status: -f FLEET, --fleet NAME or --run ID is required\n");
			return RK_BADINPUT;
		}
		return show_status(&a, a.run_id, 0);
	}
	return run_fleet(&a, !strcmp(a.sub, "resume"));
}
