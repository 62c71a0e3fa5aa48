/* rotation_preflight_internal.h (private): read-only checks before a rotation, and the plan report
 * (rotation_preflight.c). */
#ifndef REKEY_ROTATION_PREFLIGHT_INTERNAL_H
#define REKEY_ROTATION_PREFLIGHT_INTERNAL_H

#include "rotation_internal.h"
#include "rotation_trend_internal.h"

/* Window, every apiserver ready, identical configs (copied into base), each running it, then the budget
 * trend over budget.preflightWindow. report NULL (a rotation): over budget is RK_STOPPED; else (`plan`)
 * the trend is kept in *report (free with rot_trend_free) and over budget is not an error. */
int rot_preflight(rot_ctx *ctx, rk_buf *base, rot_trend *report, rk_err *err);
/* `rekeyctl plan`: the plan, the stages, the budget trend, and per rule of the base config whether the plan
 * rotates it, the stored resources it covers with their object counts, and the rewrite estimate. */
int rot_describe(rot_ctx *ctx, const char *base_hash, const rk_encconfig *cfg, const rot_scope *scope,
                 const rot_trend *trend, rk_buf *out, rk_err *err);

#endif
