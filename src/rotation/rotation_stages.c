/* rotation_stages.c: the steps of a rotation on one node (write config, pick up, gate), each recorded as
 * intent before it acts and done after, with failpoints (rekey/failpoint.h) for the kill -9 tests between
 * every record and action. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "rekey/failpoint.h"
#include "rekey/log.h"
#include "rekey/transport.h"
#include "rotation_internal.h"
#include "rotation_steps_internal.h"

int rot_may_act(rot_ctx *ctx, int restarts, rk_err *err)
{
	if (ctx->opts->stop && *ctx->opts->stop)
		return rk_err_set(err, RK_STOPPED,
		                  "stopped by a signal at a safe point: rekeyctl resume continues");
	if (ctx->lease_lost)
		return rk_err_set(err, RK_STOPPED, "the cluster lock was lost: stopped at a safe point");
	if (restarts && !ctx->opts->ignore_window && !rk_plan_in_window(ctx->plan, time(NULL), NULL))
		return rk_err_set(
		    err, RK_STOPPED,
		    "outside every maintenance window of the plan: no apiserver is restarted; resume in "
		    "the next window (or --ignore-window)");
	return RK_OK;
}

int rot_stage_is_done(rot_ctx *ctx, const char *stage, const char *node, int *done, rk_err *err)
{
	rk_stage_status status = RK_STAGE_NONE;
	int rc = rk_store_stage_status(ctx->store, ctx->run_id, stage, node, &status, err);
	*done = status == RK_STAGE_DONE;
	return rc;
}

int rot_node_step(rot_ctx *ctx, rk_transport *transport, const char *stage, const rk_plan_node *node, int cfg,
                  rk_err *err)
{
	int done = 0;
	int rc = rot_stage_is_done(ctx, stage, node->name, &done, err);
	if (rc != RK_OK || done)
		return rc;
	if ((rc = rot_may_act(ctx, 1, err)) != RK_OK)
		return rc;
	const char *hash = ctx->cfgs.hash[cfg];
	if ((rc = rk_store_stage_intent(ctx->store, ctx->run_id, stage, node->name, hash, err)) != RK_OK)
		return rc;
	rot_metrics_write(ctx, 1);
	RK_FAILPOINT(stage, node->name, "intent");
	rk_info("node.write", "%s: writing config %s to node %s", stage, hash, node->name);
	rc = rk_transport_write_config(transport, node, (const char *)ctx->cfgs.bytes[cfg].data,
	                               ctx->cfgs.bytes[cfg].len, err);
	if (rc == RK_OK) {
		RK_FAILPOINT(stage, node->name, "written");
		rc = rk_transport_pickup(transport, node, hash, err);
	}
	if (rc == RK_OK)
		rc = rot_gate_node(ctx, node, hash, err);
	if (rc != RK_OK) {
		rk_err keep = *err;
		rk_store_stage_failed(ctx->store, ctx->run_id, stage, node->name, keep.msg, err);
		*err = keep;
		rot_metrics_write(ctx, 1);
		return rc == RK_FAIL ? RK_STOPPED : rc;
	}
	rc = rk_store_stage_done(ctx->store, ctx->run_id, stage, node->name, hash, err);
	rot_metrics_write(ctx, 1);
	RK_FAILPOINT(stage, node->name, "done");
	return rc;
}

int rot_rollout(rot_ctx *ctx, rk_transport *transport, const char *stage, int cfg, int skip_canary,
                rk_err *err)
{
	const rk_plan_node *canary = rk_plan_find_node(ctx->plan, ctx->plan->canary);
	int rc = skip_canary ? RK_OK : rot_node_step(ctx, transport, stage, canary, cfg, err);
	for (size_t i = 0; rc == RK_OK && i < ctx->plan->nnodes; i++)
		if (&ctx->plan->nodes[i] != canary)
			rc = rot_node_step(ctx, transport, stage, &ctx->plan->nodes[i], cfg, err);
	return rc;
}

/* Records a cluster-wide stage around fn (skipped when already done). */
int rot_cluster_step(rot_ctx *ctx, const char *stage, int (*fn)(rot_ctx *, rk_err *), rk_err *err)
{
	int done = 0;
	int rc = rot_stage_is_done(ctx, stage, NULL, &done, err);
	if (rc != RK_OK || done)
		return rc;
	if ((rc = rot_may_act(ctx, 0, err)) != RK_OK)
		return rc;
	if ((rc = rk_store_stage_intent(ctx->store, ctx->run_id, stage, NULL, NULL, err)) != RK_OK)
		return rc;
	rot_metrics_write(ctx, 1);
	RK_FAILPOINT(stage, NULL, "intent");
	rc = fn ? fn(ctx, err) : RK_OK;
	if (rc == RK_OK)
		RK_FAILPOINT(stage, NULL, "ran");
	if (rc != RK_OK) {
		rk_err keep = *err;
		rk_store_stage_failed(ctx->store, ctx->run_id, stage, NULL, keep.msg, err);
		*err = keep;
		rot_metrics_write(ctx, 1);
		return rc;
	}
	rc = rk_store_stage_done(ctx->store, ctx->run_id, stage, NULL, NULL, err);
	rot_metrics_write(ctx, 1);
	RK_FAILPOINT(stage, NULL, "done");
	return rc;
}
