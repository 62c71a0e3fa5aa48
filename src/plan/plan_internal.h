/* plan_internal.h (private): field readers of the plan loader shared by its files (plan.c,
 * plan_breakglass.c); not librekey's API. */
#ifndef REKEY_PLAN_INTERNAL_H
#define REKEY_PLAN_INTERNAL_H

#include "rekey/plan.h"
#include "rekey/yamldoc.h"

/* 1 when s is one of the NULL-terminated list. */
int plan_str_in(const char *s, const char *const *list);
/* An optional true/false field. */
int plan_bool_field(rk_yaml *y, yaml_node_t *map, const char *what, const char *key, int *out, rk_err *err);
/* A path field naming a file on this machine: "~/" expanded from $HOME, then it must be absolute. */
int plan_local_path_field(rk_yaml *y, yaml_node_t *map, const char *what, const char *key, int required,
                          char **out, rk_err *err);
/* The `breakGlass` section (plan_breakglass.c), after provider, controlPlane and kms are loaded. */
int plan_load_break_glass(rk_yaml *y, yaml_node_t *root, rk_plan *plan, rk_err *err);

#endif
