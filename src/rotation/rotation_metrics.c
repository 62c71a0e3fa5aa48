/* rotation_metrics.c: the rotation's Prometheus textfile (`rekeyctl rotate|resume --metrics-file F`, for
 * node_exporter's textfile collector): the run's state and stage, the rewrite's progress, the cluster's
 * last successful rotation, the keys' creation times and the write key's age. Rewritten atomically at
 * every stage record and every 2 s of the rewrite; names in docs/rotation.md. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "rekey/clock.h"
#include "rekey/fsutil.h"
#include "rekey/log.h"
#include "rekey/promtext.h"
#include "rotation_internal.h"

#define METRICS_EVERY_NS (2LL * 1000 * 1000 * 1000)

/* The stages of a rotation and their rekeyctl_rotation_stage_index (0 = before the first). A KEK
 * rotation's own stages take the places of those they stand for: kek-target (the key_id to reach) that of
 * stage-key, kek-pickup (every apiserver writes under it) that of promote. */
static const struct {
	const char *stage;
	int index;
} stage_order[] = {{"preflight", 1}, {"stage-key", 2},  {"kek-target", 2}, {"read", 3},
                   {"promote", 4},   {"kek-pickup", 4}, {"probe", 5},      {"rewrite", 6},
                   {"verify", 7},    {"archive", 8},    {"prune", 9},      {"done", 10}};

static int stage_index(const char *stage)
{
	for (size_t i = 0; i < sizeof stage_order / sizeof stage_order[0]; i++)
		if (!strcmp(stage_order[i].stage, stage))
			return stage_order[i].index;
	return 0;
}

/* When key was created: its `generated` event, else the time in its name; -1 when unknown. */
static double key_created(rot_ctx *ctx, const char *key)
{
	char at[RK_STORE_TIME_MAX] = "";
	rk_err ignored;
	time_t when;
	if (!*key)
		return -1;
	if (rot_key_generated_at(ctx->store, ctx->plan->cluster, key, at, sizeof at, &ignored) == RK_OK &&
	    at[0])
		return rk_store_time_parse(at);
	return rk_key_name_time(key, &when) == 0 ? (double)when : -1;
}

/* The write key now: the new one once every node has been promoted (or the run is done). */
static const char *write_key(const rk_rotation_status *st)
{
	const rk_run *run = &st->rewrite.run;
	if (!strcmp(run->state, "done"))
		return run->new_key;
	for (size_t i = 0; i < st->nstages; i++)
		if (!strcmp(st->stages[i].stage, "rewrite"))
			return run->new_key; /* the rewrite starts once every node writes the new key */
	return run->old_key;
}

void rot_metrics_run(rk_buf *b, const char *c, const rk_rotation_status *st)
{
	const rk_run *run = &st->rewrite.run;
	const rk_stage *cur = st->current >= 0 ? &st->stages[st->current] : NULL;
	rk_buf k = RK_BUF_INIT, n = RK_BUF_INIT;
	rk_prom_label_escape(&k, cur ? cur->stage : "");
	rk_prom_label_escape(&n, cur ? cur->node : "");
	rk_buf_printf(
	    b,
	    "# HELP rekeyctl_rotation_running 1 while the cluster's rotation run is running.\n"
	    "# TYPE rekeyctl_rotation_running gauge\nrekeyctl_rotation_running{cluster=\"%s\",run=\"%" PRId64
	    "\"} %d\n"
	    "# HELP rekeyctl_rotation_state The run's state (running, stopped, failed, done, aborted).\n"
	    "# TYPE rekeyctl_rotation_state gauge\nrekeyctl_rotation_state{cluster=\"%s\",state=\"%s\"} 1\n"
	    "# HELP rekeyctl_rotation_stage The stage the run is at, and its status.\n"
	    "# TYPE rekeyctl_rotation_stage gauge\n"
	    "rekeyctl_rotation_stage{cluster=\"%s\",stage=\"%s\",node=\"%s\",status=\"%s\"} 1\n"
	    "# HELP rekeyctl_rotation_stage_index The stage's position: 1 preflight ... 10 done (KEK: "
	    "kek-target 2, kek-pickup 4).\n"
	    "# TYPE rekeyctl_rotation_stage_index gauge\nrekeyctl_rotation_stage_index{cluster=\"%s\"} %d\n",
	    c, run->id, !strcmp(run->state, "running"), c, run->state, c, rk_buf_cstr(&k), rk_buf_cstr(&n),
	    cur ? rk_stage_status_name(cur->status) : "", c, cur ? stage_index(cur->stage) : 0);
	rk_buf_free(&k);
	rk_buf_free(&n);
	const rk_rewrite_status *r = &st->rewrite;
	double ratio = r->total > 0 ? (double)r->done / (double)r->total : !strcmp(run->state, "done");
	rk_buf_printf(
	    b,
	    "# HELP rekeyctl_rotation_rewrite_objects Objects the run's rewrite has checkpointed, and "
	    "the estimate.\n# TYPE rekeyctl_rotation_rewrite_objects gauge\n"
	    "rekeyctl_rotation_rewrite_objects{cluster=\"%s\",of=\"done\"} %" PRId64 "\n"
	    "rekeyctl_rotation_rewrite_objects{cluster=\"%s\",of=\"total\"} %" PRId64 "\n"
	    "# HELP rekeyctl_rotation_progress_ratio The rewrite's progress, 0 to 1.\n"
	    "# TYPE rekeyctl_rotation_progress_ratio gauge\n"
	    "rekeyctl_rotation_progress_ratio{cluster=\"%s\"} %.4f\n"
	    "# TYPE rekeyctl_rotation_rewrite_rate gauge\nrekeyctl_rotation_rewrite_rate{cluster=\"%s\"} "
	    "%.3f\n",
	    c, r->done, c, r->total, c, ratio > 1 ? 1 : ratio, c, r->rate < 0 ? 0 : r->rate);
}

/* s escaped as a label value in scratch (reset first). */
static const char *esc(rk_buf *scratch, const char *s)
{
	rk_buf_reset(scratch);
	rk_prom_label_escape(scratch, s);
	return rk_buf_cstr(scratch);
}

static void key_metrics(rot_ctx *ctx, rk_buf *b, const char *c, const rk_rotation_status *st, double now)
{
	rk_buf k = RK_BUF_INIT;
	const rk_run *run = &st->rewrite.run;
	const char *keys[2] = {run->old_key, run->new_key}, *roles[2] = {"old", "new"};
	rk_buf_printf(b, "# HELP rekeyctl_rotation_key_created_timestamp_seconds When the run's keys were "
	                 "created (history, else the time in the name).\n"
	                 "# TYPE rekeyctl_rotation_key_created_timestamp_seconds gauge\n");
	for (int i = 0; i < 2; i++) {
		double created = key_created(ctx, keys[i]);
		if (created >= 0)
			rk_buf_printf(
			    b,
			    "rekeyctl_rotation_key_created_timestamp_seconds{cluster=\"%s\",key=\"%s\","
			    "role=\"%s\"} %.3f\n",
			    c, esc(&k, keys[i]), roles[i], created);
	}
	const char *wk = write_key(st);
	double created = key_created(ctx, wk);
	if (created >= 0)
		rk_buf_printf(
		    b,
		    "# HELP rekeyctl_rotation_write_key_age_seconds How old the key that writes now is.\n"
		    "# TYPE rekeyctl_rotation_write_key_age_seconds gauge\n"
		    "rekeyctl_rotation_write_key_age_seconds{cluster=\"%s\",key=\"%s\"} %.3f\n",
		    c, esc(&k, wk), now - created > 0 ? now - created : 0);
	rk_buf_free(&k);
}

static void success_metrics(rot_ctx *ctx, rk_buf *b, const char *c)
{
	rk_run last;
	int found = 0;
	rk_err ignored;
	if (rot_last_done_rotation(ctx->store, ctx->plan->cluster, &last, &found, &ignored) != RK_OK ||
	    !found)
		return;
	rk_buf_printf(
	    b,
	    "# HELP rekeyctl_rotation_last_success_timestamp_seconds When the cluster's newest "
	    "successful rotation finished.\n# TYPE rekeyctl_rotation_last_success_timestamp_seconds "
	    "gauge\nrekeyctl_rotation_last_success_timestamp_seconds{cluster=\"%s\"} %.3f\n",
	    c, rk_store_time_parse(last.finished_at));
}

void rot_metrics_write(rot_ctx *ctx, int force)
{
	if (!ctx->opts->metrics_file || !ctx->run_id)
		return;
	int64_t now_ns = rk_monotonic_ns();
	if (!force && ctx->metrics_written_ns && now_ns - ctx->metrics_written_ns < METRICS_EVERY_NS)
		return;
	ctx->metrics_written_ns = now_ns;
	rk_rotation_status st;
	rk_err err;
	if (rot_status_get(ctx->store, ctx->plan->cluster, ctx->run_id, &st, &err) != RK_OK) {
		rk_warn("rotation.metrics", "%s", err.msg);
		return;
	}
	rk_buf b = RK_BUF_INIT, cl = RK_BUF_INIT;
	rk_prom_label_escape(&cl, ctx->plan->cluster);
	const char *c = rk_buf_cstr(&cl);
	rot_metrics_run(&b, c, &st);
	success_metrics(ctx, &b, c);
	key_metrics(ctx, &b, c, &st, (double)time(NULL));
	rk_buf_printf(&b,
	              "# TYPE rekeyctl_rotation_updated_timestamp_seconds gauge\n"
	              "rekeyctl_rotation_updated_timestamp_seconds{cluster=\"%s\"} %lld\n",
	              c, (long long)time(NULL));
	if (rk_write_file_atomic(ctx->opts->metrics_file, b.data, b.len, 0, &err) != RK_OK)
		rk_warn("rotation.metrics", "%s", err.msg);
	rk_rotation_status_free(&st);
	rk_buf_free(&b);
	rk_buf_free(&cl);
}
