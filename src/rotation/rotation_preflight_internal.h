/* rotation_preflight_internal.h (private): read-only checks before a rotation, and the plan report
 * (rotation_preflight.c). */
#ifndef REKEY_ROTATION_PREFLIGHT_INTERNAL_H
#define REKEY_ROTATION_PREFLIGHT_INTERNAL_H

#include "rotation_internal.h"

/* Window, every apiserver ready, identical configs (copied into base), each running it. */
int rot_preflight(rot_ctx *ctx, rk_buf *base, rk_err *err);
/* `rekeyctl plan`: the plan, the stages, and per rule of the base config whether the plan rotates it, the
 * stored resources it covers with their object counts, and the rewrite estimate. */
int rot_describe(rot_ctx *ctx, const char *base_hash, const rk_encconfig *cfg, const rot_scope *scope,
                 rk_buf *out, rk_err *err);

#endif
