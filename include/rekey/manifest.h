/* manifest.h: edits a static-pod manifest (kube-apiserver.yaml) so the kubelet restarts the pod: sets
 * one annotation under metadata.annotations, leaving everything else as it was decoded. */
#ifndef REKEY_MANIFEST_H
#define REKEY_MANIFEST_H

#include <stddef.h>

#include "rekey/err.h"

#define RK_MANIFEST_HASH_ANNOTATION "rekeyctl.io/config-hash"

/* Returns in *out (malloc'd) the manifest with annotation name=value set (added or replaced). The
 * document is re-emitted by libyaml: comments are dropped, the decoded pod is otherwise unchanged.
 * RK_BADINPUT "name:line:col: ..." when the manifest is not a YAML mapping with a metadata mapping. */
int rk_manifest_set_annotation(const char *manifest, size_t len, const char *name, const char *annotation,
                               const char *value, char **out, size_t *out_len, rk_err *err);

/* Reads annotation `annotation` of the manifest into *value (malloc'd; NULL when absent). */
int rk_manifest_get_annotation(const char *manifest, size_t len, const char *name, const char *annotation,
                               char **value, rk_err *err);

#endif
