/* cmd_status.c: `rekeyctl status`: the newest run of a cluster (a rotation: its stage, node gates and
 * rewrite; or a rewrite) read from the state db, so another terminal can watch a running one
 * (rk_rotation_status_read): a table or one JSON line, once, or with --watch every --interval until the
 * run is no longer running: redrawn in place on a terminal, one JSON line per refresh otherwise. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "args_internal.h"
#include "commands_internal.h"
#include "output_internal.h"
#include "rekey/rotation.h"

static const char usage_text[] =
    "usage: rekeyctl status (--cluster NAME | -f PLAN | --run ID) [--state DIR] [-o json|table]\n"
    "                       [--watch [--interval DUR]]\n"
    "The newest run of the cluster (a rotation or a rewrite) from the state db: a rotation's stage, its\n"
    "nodes' gates (read, promote, prune), the rewrite's progress, rate, ETA and budget decisions with\n"
    "the signal that drove each (client-latency, client-errors, server-p99, 5xx, 429, inflight).\n"
    "--watch refreshes every --interval (default 2s) while the run is running: redrawn on a terminal,\n"
    "one JSON line per refresh when stdout is not a terminal.\n";

static volatile sig_atomic_t stop_flag;
static void on_signal(int sig)
{
	(void)sig;
	stop_flag = 1;
}

struct status_args {
	const char *cluster, *state_dir, *plan;
	int run_id, json, watch;
	long interval_ms;
};

static const struct option long_options[] = {{"cluster", required_argument, NULL, 'c'},
                                             {"file", required_argument, NULL, 'f'},
                                             {"state", required_argument, NULL, 's'},
                                             {"run", required_argument, NULL, 'r'},
                                             {"output", required_argument, NULL, 'o'},
                                             {"watch", no_argument, NULL, 'w'},
                                             {"interval", required_argument, NULL, 'i'},
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
	case 'f':
		a->plan = v;
		return 0;
	case 's':
		a->state_dir = v;
		return 0;
	case 'r':
		return args_int("status", flag, v, 1, 2147483647, &a->run_id);
	case 'i':
		if (args_duration_ms("status", flag, v, &a->interval_ms) != 0)
			return -1;
		if (a->interval_ms < 100) {
			fprintf(stderr, "rekeyctl status: %s \"%s\": at least 100ms\n", flag, v);
			return -1;
		}
		return 0;
	case 'o':
		return args_output("status", v, NULL, &a->json);
	}
	return -1;
}

/* Draws text over the previous picture: cursor home, each line ended by erase-to-end-of-line, then
 * erase below. Nothing is cleared as a whole, so a terminal (tmux, xterm) keeps no old pictures in its
 * scrollback. */
static void redraw(const char *text)
{
	fputs("\033[H", stdout);
	for (const char *line = text; *line;) {
		const char *nl = strchr(line, '\n');
		size_t n = nl ? (size_t)(nl - line) : strlen(line);
		fwrite(line, 1, n, stdout);
		fputs("\033[K\n", stdout);
		line += n + (nl != NULL);
	}
	fputs("\033[J", stdout);
}

/* The footer of a redrawn picture: the time and what --watch does next. */
static void watch_footer(FILE *out, long interval_ms, int running)
{
	char now[16];
	time_t t = time(NULL);
	strftime(now, sizeof now, "%H:%M:%S", localtime(&t));
	fprintf(out, "\n%s  every %.1fs%s\n", now, (double)interval_ms / 1000.0,
	        running ? "  (Ctrl-C to stop watching)" : "  (the run is not running: done watching)");
}

/* One refresh: printed, or (redraw) drawn over the previous picture. */
static int show_once(const struct status_args *a, int json, int redraw_it, int *running)
{
	rk_rotation_status st;
	rk_err err;
	*running = 0;
	if (rk_rotation_status_read(a->state_dir, a->cluster, a->plan, a->run_id, &st, &err) != RK_OK) {
		fprintf(stderr, "rekeyctl status: %s\n", err.msg);
		return err.code;
	}
	*running = !strcmp(st.rewrite.run.state, "running");
	char *text = NULL;
	size_t len = 0;
	FILE *mem = redraw_it ? open_memstream(&text, &len) : NULL;
	out_rotation_status(mem ? mem : stdout, &st, json);
	if (mem) {
		watch_footer(mem, a->interval_ms, *running);
		fclose(mem);
		redraw(text);
		free(text);
	}
	rk_rotation_status_free(&st);
	fflush(stdout);
	return RK_OK;
}

int cmd_status(int argc, char **argv)
{
	struct status_args a;
	memset(&a, 0, sizeof a);
	a.interval_ms = 2000;
	int rc = args_parse_flags_only("status", argc, argv, "f:wo:h", long_options, take, &a);
	if (rc != 0)
		return rc == 1 ? RK_OK : rc;
	if (!a.cluster && !a.run_id && !a.plan) {
		fprintf(stderr, "rekeyctl status: --cluster NAME, -f PLAN or --run ID is required\n");
		return RK_BADINPUT;
	}
	args_catch_signals(on_signal);
	int tty = isatty(STDOUT_FILENO);
	/* --watch: redrawn on a terminal (table, or JSON with -o json), JSON lines otherwise */
	int json = a.json || (a.watch && !tty), in_place = a.watch && tty;
	int running = 0;
	rc = show_once(&a, json, in_place, &running);
	while (rc == RK_OK && a.watch && running && !stop_flag) {
		struct timespec ts = {a.interval_ms / 1000, a.interval_ms % 1000 * 1000000L};
		nanosleep(&ts, NULL); /* the refresh period of --watch, not a wait for a condition */
		if (!stop_flag)
			rc = show_once(&a, json, in_place, &running);
	}
	return rc;
}
