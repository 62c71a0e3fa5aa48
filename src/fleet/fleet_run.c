/* fleet_run.c: `rekeyctl fleet rotate|resume`: the canary cluster's wave first, then each wave, up to
 * `parallelism` clusters at once, a soak between waves; a cluster that fails beyond the stop rule stops
 * the fleet (running clusters are asked to stop at a safe point, no new one starts). Every cluster's
 * state in the fleet is recorded in the state db as it changes, so `fleet resume` after anything
 * (a failure, a signal, kill -9 of the fleet) goes on from there. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "fleet_internal.h"
#include "rekey/encconfig.h"
#include "rekey/fsutil.h"
#include "rekey/log.h"

#define WAIT_SLICE_MS 200

static int stop_requested(fleet_ctx *ctx)
{
	if (ctx->opts->stop && *ctx->opts->stop && !ctx->signalled) {
		ctx->signalled = 1;
		rk_warn("fleet.signal", "stop requested: running clusters stop at their next safe point");
	}
	return ctx->signalled;
}

static int run_unfinished(const rk_run *run)
{
	return strcmp(run->state, "done") != 0 && strcmp(run->state, "aborted") != 0;
}

/* The cluster's newest rotation run: *unfinished set when it is neither done nor aborted. */
static int latest_rotation(fleet_ctx *ctx, size_t idx, rk_run *run, int *found, int *unfinished, rk_err *err)
{
	int rc = rk_store_run_latest(ctx->store, ctx->plan->clusters[idx].name, "rotate", run, found, err);
	*unfinished = rc == RK_OK && *found && run_unfinished(run);
	return rc;
}

static int fleet_hash(const char *path, char out[72], rk_err *err)
{
	char *data = NULL;
	size_t len = 0;
	int rc = rk_read_file(path, &data, &len, err);
	if (rc == RK_OK)
		rk_config_hash(data, len, out);
	free(data);
	return rc;
}

/* A new fleet run refuses to start while a cluster has an unfinished rotation of its own. */
static int refuse_unfinished_clusters(fleet_ctx *ctx, rk_err *err)
{
	for (size_t i = 0; i < ctx->plan->nclusters; i++) {
		rk_run run;
		int found = 0, unfinished = 0;
		int rc = latest_rotation(ctx, i, &run, &found, &unfinished, err);
		if (rc != RK_OK)
			return rc;
		if (unfinished)
			return rk_err_set(
			    err, RK_UNSAFE,
			    "cluster %s has an unfinished rotation (run %lld, %s): resume or abort "
			    "it (`rekeyctl resume|abort -f %s`) before a fleet rotation",
			    ctx->plan->clusters[i].name, (long long)run.id, run.state,
			    ctx->plan->clusters[i].plan_path);
	}
	return RK_OK;
}

static int create_run(fleet_ctx *ctx, const char *hash, rk_err *err)
{
	int found = 0;
	int rc = rk_store_fleet_run_get(ctx->store, ctx->plan->name, 0, &ctx->run, &found, err);
	if (rc == RK_OK && found && strcmp(ctx->run.state, "done") && strcmp(ctx->run.state, "aborted"))
		return rk_err_set(err, RK_UNSAFE,
		                  "fleet %s has an unfinished run %lld (%s): `rekeyctl fleet resume -f %s`",
		                  ctx->plan->name, (long long)ctx->run.id, ctx->run.state, ctx->plan->path);
	if (rc == RK_OK)
		rc = refuse_unfinished_clusters(ctx, err);
	rk_fleet_member *members = calloc(ctx->plan->nclusters, sizeof *members);
	if (rc == RK_OK && !members)
		rc = rk_err_set(err, RK_FAIL, "out of memory");
	for (size_t i = 0; rc == RK_OK && i < ctx->plan->nclusters; i++) {
		snprintf(members[i].cluster, sizeof members[i].cluster, "%s", ctx->plan->clusters[i].name);
		snprintf(members[i].plan_path, sizeof members[i].plan_path, "%s",
		         ctx->plan->clusters[i].plan_path);
		members[i].wave = ctx->plan->clusters[i].wave;
		members[i].position = (int)i;
	}
	int64_t id = 0;
	if (rc == RK_OK)
		rc = rk_store_fleet_run_create(ctx->store, ctx->plan->name, hash, members,
		                               ctx->plan->nclusters, &id, err);
	free(members);
	if (rc == RK_OK)
		rc = rk_store_fleet_run_get(ctx->store, NULL, id, &ctx->run, &found, err);
	return rc;
}

static int resume_run(fleet_ctx *ctx, const char *hash, rk_err *err)
{
	int found = 0;
	int rc = rk_store_fleet_run_get(ctx->store, ctx->plan->name, 0, &ctx->run, &found, err);
	if (rc == RK_OK && (!found || !strcmp(ctx->run.state, "done") || !strcmp(ctx->run.state, "aborted")))
		return rk_err_set(err, RK_BADINPUT, "fleet %s has no unfinished run to resume",
		                  ctx->plan->name);
	if (rc == RK_OK && strcmp(hash, ctx->run.plan_hash) != 0)
		return rk_err_set(
		    err, RK_BADINPUT,
		    "%s changed since fleet run %lld started (%s, now %s): resume with the same "
		    "fleet plan",
		    ctx->plan->path, (long long)ctx->run.id, ctx->run.plan_hash, hash);
	if (rc == RK_OK)
		rc = rk_store_fleet_run_set_state(ctx->store, ctx->run.id, "running", -1, NULL, err);
	return rc;
}

static int load_member(const rk_fleet_member *m, void *ud)
{
	fleet_ctx *ctx = ud;
	for (size_t i = 0; i < ctx->plan->nclusters; i++)
		if (!strcmp(ctx->plan->clusters[i].name, m->cluster)) {
			snprintf(ctx->members[i].state, sizeof ctx->members[i].state, "%s", m->state);
			ctx->members[i].run_id = m->run_id;
		}
	return 0;
}

static int member_set(fleet_ctx *ctx, size_t idx, const char *state, int64_t run_id, int code,
                      const char *detail, rk_err *err)
{
	snprintf(ctx->members[idx].state, sizeof ctx->members[idx].state, "%s", state);
	if (run_id)
		ctx->members[idx].run_id = run_id;
	return rk_store_fleet_member_set(ctx->store, ctx->run.id, ctx->plan->clusters[idx].name, state,
	                                 run_id, code, detail, err);
}

static int start_cluster(fleet_ctx *ctx, size_t idx, fleet_proc *p, rk_err *err)
{
	rk_run run;
	int found = 0, unfinished = 0;
	int rc = latest_rotation(ctx, idx, &run, &found, &unfinished, err);
	if (rc != RK_OK)
		return rc;
	p->known_run = found ? run.id : 0;
	rc = fleet_proc_start(ctx, idx, unfinished, p, err);
	if (rc == RK_OK)
		rc = member_set(ctx, idx, "running", unfinished ? run.id : 0, -1, NULL, err);
	if (rc == RK_OK)
		rk_info("fleet.cluster.start", "wave %d: %s cluster %s (pid %d, log %s/%s.log)",
		        ctx->plan->clusters[idx].wave, unfinished ? "resuming" : "rotating",
		        ctx->plan->clusters[idx].name, (int)p->pid, ctx->log_dir,
		        ctx->plan->clusters[idx].name);
	return rc;
}

static int exit_code_of(int status)
{
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	return WIFSIGNALED(status) ? 128 + WTERMSIG(status) : RK_FAIL;
}

static void stop_running(fleet_ctx *ctx, fleet_proc *procs, size_t n)
{
	ctx->stopping = 1;
	for (size_t i = 0; i < n; i++)
		fleet_proc_stop(&procs[i]);
}

/* A cluster's process exited: record how, and decide whether the fleet stops. */
static int finish_cluster(fleet_ctx *ctx, fleet_proc *p, int status, fleet_proc *procs, size_t n, rk_err *err)
{
	size_t idx = p->idx;
	int code = exit_code_of(status);
	rk_run run;
	int found = 0, unfinished = 0;
	int64_t run_id = 0;
	int rc = latest_rotation(ctx, idx, &run, &found, &unfinished, err);
	if (rc == RK_OK && found && (p->resumed || run.id > p->known_run))
		run_id = run.id;
	char detail[RK_STORE_DETAIL_MAX];
	fleet_log_tail(ctx, idx, detail, sizeof detail);
	const char *state = code == RK_OK ? "done" : code == RK_STOPPED ? "stopped" : "failed";
	if (rc == RK_OK)
		rc = member_set(ctx, idx, state, run_id, code, detail, err);
	const char *name = ctx->plan->clusters[idx].name;
	if (code == RK_OK) {
		rk_info("fleet.cluster.done", "cluster %s rotated (run %lld)", name, (long long)run_id);
		return rc;
	}
	rk_warn("fleet.cluster.end", "cluster %s %s (exit %d): %s", name, state, code, detail);
	if (p->signalled)
		return rc; /* stopped because the fleet asked */
	ctx->failures++;
	if (!ctx->first_failure) {
		ctx->first_failure = code;
		snprintf(ctx->first_failed, sizeof ctx->first_failed, "%s", name);
	}
	if (ctx->failures > (size_t)ctx->plan->max_failures && !ctx->stopping) {
		rk_warn("fleet.stop",
		        "%zu failed cluster(s), stop.maxFailures is %ld: no new cluster starts, "
		        "running ones stop at a safe point",
		        ctx->failures, ctx->plan->max_failures);
		stop_running(ctx, procs, n);
	}
	return rc;
}

static size_t running_count(const fleet_proc *procs, size_t n)
{
	size_t k = 0;
	for (size_t i = 0; i < n; i++)
		k += procs[i].pid != 0;
	return k;
}

/* Starts the wave's clusters that are not done, at most `parallelism` at once, until all have ended or
 * the fleet stops. */
static int run_wave(fleet_ctx *ctx, int wave, rk_err *err)
{
	size_t n = (size_t)ctx->plan->parallelism, next = 0;
	fleet_proc procs[RK_FLEET_MAX_PARALLEL];
	memset(procs, 0, sizeof procs);
	int rc = RK_OK;
	for (;;) {
		if (stop_requested(ctx) && !ctx->stopping)
			stop_running(ctx, procs, n);
		for (size_t s = 0; rc == RK_OK && !ctx->stopping && s < n; s++) {
			while (next < ctx->plan->nclusters && (ctx->plan->clusters[next].wave != wave ||
			                                       !strcmp(ctx->members[next].state, "done")))
				next++;
			if (procs[s].pid || next >= ctx->plan->nclusters)
				continue;
			rc = start_cluster(ctx, next++, &procs[s], err);
		}
		if (rc != RK_OK)
			stop_running(ctx, procs, n);
		if (running_count(procs, n) == 0)
			break;
		size_t i = 0;
		int status = 0;
		if (fleet_proc_wait_any(procs, n, WAIT_SLICE_MS, &i, &status)) {
			rk_err e2;
			int r2 = finish_cluster(ctx, &procs[i], status, procs, n, rc == RK_OK ? err : &e2);
			rc = rc == RK_OK ? r2 : rc;
		}
	}
	return rc;
}

/* The end of the wave before `wave`: its newest finish time (0 when none). */
static int wave_end_cb(const rk_fleet_member *m, void *ud)
{
	double *end = ud;
	double t = rk_store_time_parse(m->finished_at);
	if (m->wave == (int)end[1] && t > end[0])
		end[0] = t;
	return 0;
}

/* Waits until the previous wave ended soak ago (also across a resume), or the fleet is stopped. */
static int soak_before(fleet_ctx *ctx, int wave, rk_err *err)
{
	if (ctx->plan->soak_ms <= 0 || wave == 0)
		return RK_OK;
	double end[2] = {0, wave - 1};
	int rc = rk_store_fleet_members(ctx->store, ctx->run.id, wave_end_cb, end, err);
	if (rc != RK_OK)
		return rc;
	double until = end[0] + (double)ctx->plan->soak_ms / 1000.0;
	struct timespec now;
	clock_gettime(CLOCK_REALTIME, &now);
	if (until > (double)now.tv_sec)
		rk_info("fleet.soak", "wave %d done; soaking %.0f s before wave %d", wave - 1,
		        until - (double)now.tv_sec, wave);
	while (!stop_requested(ctx)) {
		clock_gettime(CLOCK_REALTIME, &now);
		double left = until - ((double)now.tv_sec + now.tv_nsec / 1e9);
		if (left <= 0)
			break;
		/* the soak itself is the point of this wait; the slice only bounds the reaction to a signal
		 */
		double slice = left < WAIT_SLICE_MS / 1000.0 ? left : WAIT_SLICE_MS / 1000.0;
		struct timespec ts = {(time_t)slice, (long)((slice - (double)(time_t)slice) * 1e9)};
		nanosleep(&ts, NULL);
	}
	return RK_OK;
}

static int wave_done(const fleet_ctx *ctx, int wave)
{
	for (size_t i = 0; i < ctx->plan->nclusters; i++)
		if (ctx->plan->clusters[i].wave == wave && strcmp(ctx->members[i].state, "done") != 0)
			return 0;
	return 1;
}

static int walk_waves(fleet_ctx *ctx, rk_err *err)
{
	int rc = RK_OK;
	for (int wave = 0; rc == RK_OK && wave < ctx->plan->nwaves; wave++) {
		if (wave_done(ctx, wave))
			continue;
		rc = soak_before(ctx, wave, err);
		if (rc == RK_OK && stop_requested(ctx))
			break;
		if (rc == RK_OK) {
			rk_info("fleet.wave", "wave %d of %d starts", wave, ctx->plan->nwaves - 1);
			rc = run_wave(ctx, wave, err);
		}
		if (ctx->stopping || ctx->signalled)
			break;
	}
	return rc;
}

/* The fleet's result: RK_OK when every cluster is done, else why it stopped. */
static int fleet_result(fleet_ctx *ctx, int rc, rk_err *err)
{
	if (rc != RK_OK)
		return rc;
	size_t left = 0;
	for (size_t i = 0; i < ctx->plan->nclusters; i++)
		left += strcmp(ctx->members[i].state, "done") != 0;
	if (left == 0)
		return RK_OK;
	if (ctx->signalled)
		return rk_err_set(
		    err, RK_STOPPED,
		    "fleet %s stopped by a signal with %zu cluster(s) not rotated: `rekeyctl fleet "
		    "resume -f %s` continues",
		    ctx->plan->name, left, ctx->plan->path);
	int code = ctx->first_failure == RK_FAIL || ctx->first_failure == RK_UNSAFE ? ctx->first_failure
	                                                                            : RK_STOPPED;
	return rk_err_set(
	    err, code,
	    "fleet %s stopped: cluster %s exited %d (see `rekeyctl fleet status`, its log in %s); "
	    "%zu cluster(s) not rotated; after the repair `rekeyctl fleet resume -f %s` continues",
	    ctx->plan->name, ctx->first_failed, ctx->first_failure, ctx->log_dir, left, ctx->plan->path);
}

static int self_exe(const rk_fleet_opts *opts, char *out, size_t cap, rk_err *err)
{
	if (opts->exe) {
		snprintf(out, cap, "%s", opts->exe);
		return RK_OK;
	}
	ssize_t n = readlink("/proc/self/exe", out, cap - 1);
	if (n <= 0)
		return rk_err_set(err, RK_FAIL, "cannot find the rekeyctl binary (/proc/self/exe): %s",
		                  strerror(errno));
	out[n] = 0;
	return RK_OK;
}

static int open_fleet(fleet_ctx *ctx, const rk_fleet_opts *opts, rk_err *err)
{
	memset(ctx, 0, sizeof *ctx);
	ctx->opts = opts;
	if (!opts->fleet_path)
		return rk_err_set(err, RK_BADINPUT, "a fleet plan is required (-f FLEET)");
	int rc = rk_fleet_plan_load_file(opts->fleet_path, &ctx->plan, err);
	if (rc == RK_OK && !(ctx->members = calloc(ctx->plan->nclusters, sizeof *ctx->members)))
		rc = rk_err_set(err, RK_FAIL, "out of memory");
	if (rc == RK_OK)
		rc = self_exe(opts, ctx->exe, sizeof ctx->exe, err);
	if (rc == RK_OK)
		rc = rk_store_state_dir(opts->state_dir, ctx->state_dir, sizeof ctx->state_dir, err);
	if (rc == RK_OK)
		rc = rk_store_open(ctx->state_dir, &ctx->store, err);
	return rc;
}

static void close_fleet(fleet_ctx *ctx)
{
	rk_store_close(ctx->store);
	rk_fleet_plan_free(ctx->plan);
	free(ctx->members);
}

int rk_fleet_rotate(const rk_fleet_opts *opts, int resume, int64_t *fleet_run, rk_err *err)
{
	fleet_ctx ctx;
	char hash[72];
	*fleet_run = 0;
	int rc = open_fleet(&ctx, opts, err);
	if (rc == RK_OK)
		rc = fleet_hash(opts->fleet_path, hash, err);
	if (rc == RK_OK)
		rc = resume ? resume_run(&ctx, hash, err) : create_run(&ctx, hash, err);
	int have_run = rc == RK_OK;
	if (have_run) {
		*fleet_run = ctx.run.id;
		rc = rk_store_fleet_members(ctx.store, ctx.run.id, load_member, &ctx, err);
		snprintf(ctx.log_dir, sizeof ctx.log_dir, "%s/fleet/%s-%lld", ctx.state_dir, ctx.plan->name,
		         (long long)ctx.run.id);
	}
	if (rc == RK_OK)
		rc = rk_mkdir_p(ctx.log_dir, 0700, err);
	if (rc == RK_OK)
		rk_store_audit_add(ctx.store, NULL, 0, resume ? "fleet-resume" : "fleet-rotate", "started",
		                   opts->fleet_path, err);
	if (rc == RK_OK)
		rc = walk_waves(&ctx, err);
	rc = have_run ? fleet_result(&ctx, rc, err) : rc;
	if (have_run) {
		rk_err ignored;
		const char *state = rc == RK_OK ? "done" : rc == RK_STOPPED ? "stopped" : "failed";
		rk_store_fleet_run_set_state(ctx.store, ctx.run.id, state, rc, rc == RK_OK ? NULL : err->msg,
		                             &ignored);
		rk_store_audit_add(ctx.store, NULL, 0, resume ? "fleet-resume" : "fleet-rotate", state,
		                   rc == RK_OK ? ctx.plan->name : err->msg, &ignored);
	}
	close_fleet(&ctx);
	return rc;
}
