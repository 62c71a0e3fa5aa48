/* rotation_preflight_internal.h (private): read-only checks before a rotation, and the plan report
 * (rotation_preflight.c). */
#ifndef REKEY_ROTATION_PREFLIGHT_INTERNAL_H
#define REKEY_ROTATION_PREFLIGHT_INTERNAL_H

#include "rotation_internal.h"
#include "rotation_trend_internal.h"

/* Window, every apiserver ready, identical configs (copied into base), the rewrite's permissions on every
 * stored resource the plan's rules cover, each node running the config, then the budget trend over
 * budget.preflightWindow. report NULL (a rotation): over budget is RK_STOPPED; else (`plan`) the trend is
 * kept in *report (free with rot_trend_free) and over budget is not an error. */
int rot_preflight(rot_ctx *ctx, rk_buf *base, rot_trend *report, rk_err *err);
/* `rekeyctl plan`: per rule of the base config whether the plan selects it, its entries and write key,
 * and for a selected rule the stored resources it covers (by discovery) with their object counts; the
 * total and the rewrite estimate (a discovery that fails is kept in preview->discovery_error, not an
 * error). */
int rot_preview_rules(rot_ctx *ctx, const rk_encconfig *cfg, const rot_scope *scope,
                      rk_rotation_preview *preview, rk_err *err);
/* The budget trend's figures into preview (its node names point into ctx's plan, which the preview keeps). */
int rot_trend_preview(const rot_trend *trend, long window_ms, rk_rotation_preview *preview, rk_err *err);

#endif
