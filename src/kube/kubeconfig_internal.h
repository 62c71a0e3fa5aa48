/* kubeconfig_internal.h (private): one kubeconfig file held as a libyaml document, with typed field
 * readers whose errors carry "file:line:col". Used only by kubeconfig.c. */
#ifndef REKEY_KUBECONFIG_INTERNAL_H
#define REKEY_KUBECONFIG_INTERNAL_H

#include <yaml.h>

#include "rekey/err.h"

typedef struct kc_file {
	char *path; /* as given */
	char *dir;  /* directory for relative paths */
	yaml_document_t doc;
	yaml_node_t *root; /* top-level mapping, NULL for an empty file */
} kc_file;

/* Parses path into f. A missing file returns RK_FAIL with errno ENOENT kept in *missing = 1. */
int kc_file_load(kc_file *f, const char *path, int *missing, rk_err *err);
void kc_file_free(kc_file *f);

/* The value of key in mapping map, or NULL. */
yaml_node_t *kc_get(kc_file *f, yaml_node_t *map, const char *key);

/* A scalar field (NULL and "" when absent or null); a non-scalar is RK_BADINPUT at its position. */
int kc_get_str(kc_file *f, yaml_node_t *map, const char *key, const char **out, rk_err *err);
/* A boolean field (false when absent); "true"/"false" and YAML 1.1 spellings accepted. */
int kc_get_bool(kc_file *f, yaml_node_t *map, const char *key, int *out, rk_err *err);

/* Finds the element of the top-level list `list` (clusters/users/contexts) whose name is `name`, and
 * returns its inner mapping `inner` (cluster/user/context) in *out (NULL when not present). Duplicate
 * names and malformed elements are RK_BADINPUT. */
int kc_find_named(kc_file *f, const char *list, const char *inner, const char *name, yaml_node_t **out,
                  rk_err *err);

/* Sets err to "path:line:col: " + message for node. Returns RK_BADINPUT. */
int kc_node_err(kc_file *f, yaml_node_t *node, rk_err *err, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#endif
