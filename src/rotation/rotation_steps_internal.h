/* rotation_steps_internal.h (private): recorded, idempotent steps of a rotation (rotation_stages.c). */
#ifndef REKEY_ROTATION_STEPS_INTERNAL_H
#define REKEY_ROTATION_STEPS_INTERNAL_H

#include "rekey/transport.h"
#include "rotation_internal.h"

/* RK_STOPPED when a signal arrived, the lock was lost, or (restarts) outside the maintenance window. */
int rot_may_act(rot_ctx *ctx, int restarts, rk_err *err);
int rot_stage_is_done(rot_ctx *ctx, const char *stage, const char *node, int *done, rk_err *err);
/* Writes config `cfg` to node, makes its apiserver pick it up, gates; recorded as (stage, node). */
int rot_node_step(rot_ctx *ctx, rk_transport *transport, const char *stage, const rk_plan_node *node, int cfg,
                  rk_err *err);
/* rot_node_step on the canary, then on every other node in plan order. */
int rot_rollout(rot_ctx *ctx, rk_transport *transport, const char *stage, int cfg, int skip_canary,
                rk_err *err);
/* A cluster-wide recorded step. */
int rot_cluster_step(rot_ctx *ctx, const char *stage, int (*fn)(rot_ctx *, rk_err *), rk_err *err);

#endif
