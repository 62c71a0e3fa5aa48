/* rotation_preflight_internal.h (private): read-only checks before a rotation, and the plan report
 * (rotation_preflight.c). */
#ifndef REKEY_ROTATION_PREFLIGHT_INTERNAL_H
#define REKEY_ROTATION_PREFLIGHT_INTERNAL_H

#include "rotation_internal.h"

/* Window, every apiserver ready, identical configs (copied into base), each running it. */
int rot_preflight(rot_ctx *ctx, rk_buf *base, rk_err *err);
/* `rekeyctl plan`'s object counts (per resource, by paging through each) and the rewrite estimate into
 * preview (whose plan is ctx's). */
int rot_count_objects(rot_ctx *ctx, rk_rotation_preview *preview, rk_err *err);

#endif
