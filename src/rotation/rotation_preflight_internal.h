/* rotation_preflight_internal.h (private): read-only checks before a rotation, and the plan report
 * (rotation_preflight.c). */
#ifndef REKEY_ROTATION_PREFLIGHT_INTERNAL_H
#define REKEY_ROTATION_PREFLIGHT_INTERNAL_H

#include "rotation_internal.h"
#include "rotation_trend_internal.h"

/* Window, every apiserver ready, the rewrite's permissions, identical configs (copied into base), each
 * running it, then the budget trend over budget.preflightWindow. report NULL (a rotation): over budget is
 * RK_STOPPED; else (`plan`) the trend is kept in *report (free with rot_trend_free) and over budget is not
 * an error. */
int rot_preflight(rot_ctx *ctx, rk_buf *base, rot_trend *report, rk_err *err);
/* `rekeyctl plan`'s object counts (per resource, by paging through each) and the rewrite estimate into
 * preview (whose plan is ctx's). */
int rot_count_objects(rot_ctx *ctx, rk_rotation_preview *preview, rk_err *err);
/* The budget trend's figures into preview (its node names point into ctx's plan, which the preview keeps). */
int rot_trend_preview(const rot_trend *trend, long window_ms, rk_rotation_preview *preview, rk_err *err);

#endif
