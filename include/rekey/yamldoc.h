/* yamldoc.h: strict reading of small YAML documents (plans, kubeconfigs) with file:line:col errors:
 * mappings checked for unknown and duplicate fields, typed scalar getters. Built on libyaml's
 * document API. */
#ifndef REKEY_YAMLDOC_H
#define REKEY_YAMLDOC_H

#include <stddef.h>
#include <yaml.h>

#include "rekey/err.h"

typedef struct rk_yaml {
	yaml_document_t doc;
	char *path; /* for messages */
	int loaded;
} rk_yaml;

/* Parses exactly one document from data; an empty input or several documents are errors. */
int rk_yaml_load(rk_yaml *y, const char *path, const char *data, size_t len, rk_err *err);
void rk_yaml_free(rk_yaml *y);

yaml_node_t *rk_yaml_root(rk_yaml *y);
yaml_node_t *rk_yaml_at(rk_yaml *y, int id);

/* Sets err to RK_BADINPUT "path:line:col: message" at node n (line/col 1-based). Returns RK_BADINPUT. */
int rk_yaml_fail(rk_yaml *y, const yaml_node_t *n, rk_err *err, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* n must be a mapping whose keys are plain scalars, each listed in `allowed` (NULL-terminated),
 * none twice. `what` names the object in messages ("plan", "controlPlane.nodes[1]"). */
int rk_yaml_check_map(rk_yaml *y, const yaml_node_t *n, const char *what, const char *const *allowed,
                      rk_err *err);
/* Value node of key in mapping n, NULL when absent. */
yaml_node_t *rk_yaml_get(rk_yaml *y, const yaml_node_t *n, const char *key);

/* Typed reads of field `key` of mapping n. Absent: returns RK_OK leaving *out unchanged, unless
 * required (then "what: missing required field \"key\""). Wrong type: error at the value. */
int rk_yaml_str(rk_yaml *y, const yaml_node_t *n, const char *what, const char *key, int required, char **out,
                rk_err *err);
/* A local file or directory path: like rk_yaml_str, then a leading "~/" expanded from $HOME
 * (rk_expand_home); HOME unset is an error at the value. */
int rk_yaml_path(rk_yaml *y, const yaml_node_t *n, const char *what, const char *key, int required,
                 char **out, rk_err *err);
int rk_yaml_long(rk_yaml *y, const yaml_node_t *n, const char *what, const char *key, long min, long max,
                 long *out, rk_err *err);
int rk_yaml_double(rk_yaml *y, const yaml_node_t *n, const char *what, const char *key, double min,
                   double max, double *out, rk_err *err);
/* A Go-style duration ("500ms", "30s", "1m30s") read into milliseconds. */
int rk_yaml_duration_ms(rk_yaml *y, const yaml_node_t *n, const char *what, const char *key, long *out_ms,
                        rk_err *err);
/* A sequence of scalars (malloc'd array of malloc'd strings). */
int rk_yaml_str_list(rk_yaml *y, const yaml_node_t *n, const char *what, const char *key, int required,
                     char ***out, size_t *count, rk_err *err);
void rk_str_list_free(char **list, size_t count);

/* Scalars and parser buffers may hold key material or credentials: wipe them before libyaml frees
 * them (yaml_document_delete, yaml_parser_delete). */
void rk_yaml_wipe_document(yaml_document_t *doc);
void rk_yaml_wipe_parser(yaml_parser_t *parser);

#endif
