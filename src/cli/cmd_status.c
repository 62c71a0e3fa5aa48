/* cmd_status.c: `rekeyctl status`: a rewrite run's progress read from the state db (another terminal
 * can watch a running rewrite): table or JSON, once or every 2 seconds with --watch. */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "args_internal.h"
#include "commands_internal.h"
#include "output_internal.h"
#include "rekey/rewrite.h"
#include "rekey/store.h"

static const char usage_text[] =
    "usage: rekeyctl status [--cluster NAME] [--run ID] [--state DIR] [-o json] [--watch]\n"
    "Shows the newest rewrite run of the cluster (default: the newest of any cluster with --cluster\n"
    "omitted is not guessed: --cluster is required) from the state db.\n";

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

static int parse_args(int argc, char **argv, struct status_args *a)
{
	for (int i = 1; i < argc; i++) {
		const char *f = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (!strcmp(f, "--help") || !strcmp(f, "-h")) {
			fputs(usage_text, stdout);
			return -2;
		} else if (!strcmp(f, "--watch") || !strcmp(f, "-w")) {
			a->watch = 1;
			continue;
		}
		if (!v) {
			fprintf(stderr, "rekeyctl status: %s: unknown flag or missing value\n%s", f,
			        usage_text);
			return RK_BADINPUT;
		}
		if (!strcmp(f, "--cluster"))
			a->cluster = v;
		else if (!strcmp(f, "--state"))
			a->state_dir = v;
		else if (!strcmp(f, "--run")) {
			if (args_int("status", f, v, 1, 2147483647, &a->run_id) != 0)
				return RK_BADINPUT;
		} else if (!strcmp(f, "-o") || !strcmp(f, "--output")) {
			if (strcmp(v, "json") && strcmp(v, "table")) {
				fprintf(stderr, "rekeyctl status: -o \"%s\": must be json or table\n", v);
				return RK_BADINPUT;
			}
			a->json = !strcmp(v, "json");
		} else {
			fprintf(stderr, "rekeyctl status: unknown flag \"%s\"\n%s", f, usage_text);
			return RK_BADINPUT;
		}
		i++;
	}
	if (!a->cluster && !a->run_id) {
		fprintf(stderr, "rekeyctl status: --cluster NAME (or --run ID) is required\n");
		return RK_BADINPUT;
	}
	return 0;
}

static int show_once(rk_store *store, const struct status_args *a, int *running)
{
	rk_rewrite_status st;
	rk_err err;
	int found = 0;
	*running = 0;
	if (rk_rewrite_status_get(store, a->cluster, a->run_id, &st, &found, &err) != RK_OK) {
		fprintf(stderr, "rekeyctl status: %s\n", err.msg);
		return err.code;
	}
	if (!found) {
		fprintf(stderr, "rekeyctl status: no rewrite run %s%s in %s\n",
		        a->cluster ? "for cluster " : "", a->cluster ? a->cluster : "with that id",
		        rk_store_path(store));
		return RK_BADINPUT;
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
	int rc = parse_args(argc, argv, &a);
	if (rc == -2)
		return RK_OK;
	if (rc != 0)
		return rc;
	rk_store *store = NULL;
	rk_err err;
	if (rk_store_open(a.state_dir, &store, &err) != RK_OK) {
		fprintf(stderr, "rekeyctl status: %s\n", err.msg);
		return err.code;
	}
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	int running = 0;
	rc = show_once(store, &a, &running);
	while (rc == RK_OK && a.watch && running && !stop_flag) {
		struct timespec ts = {2, 0};
		nanosleep(&ts, NULL); /* the refresh period of --watch, not a wait for a condition */
		if (!a.json)
			printf("\n");
		rc = show_once(store, &a, &running);
	}
	rk_store_close(store);
	return rc;
}
