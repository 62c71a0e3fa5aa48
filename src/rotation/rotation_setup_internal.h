/* rotation_setup_internal.h (private): opening a rotation's context, its base config and its new key
 * (rotation_setup.c). */
#ifndef REKEY_ROTATION_SETUP_INTERNAL_H
#define REKEY_ROTATION_SETUP_INTERNAL_H

#include "rekey/transport.h"
#include "rotation_internal.h"

int rot_ctx_open(rot_ctx *ctx, const rk_rotation_opts *opts, rk_err *err);
void rot_ctx_close(rot_ctx *ctx);
/* The plan's transport, recording host keys trusted on first use in the audit log. */
int rot_transport_open(rot_ctx *ctx, rk_transport **out, rk_err *err);
/* STATE/runs/<cluster>-<run id> */
void rot_run_dir(const rot_ctx *ctx, char *out, size_t cap);
int rot_save_base(rot_ctx *ctx, const char *data, size_t len, rk_err *err);
int rot_load_base(rot_ctx *ctx, char **data, size_t *len, rk_err *err);
/* The new key: read from its backup when it exists (RK_UNSAFE when it is not the key history says was
 * generated under that name); else, only when may_generate (stage-key not yet recorded done: no node can
 * hold the key), generated and backed up (0600, file and directory fsynced). A missing backup once
 * stage-key is done is RK_UNSAFE saying how to restore it: a named key is never generated twice. */
int rot_stage_key(rot_ctx *ctx, const char *name, const char *base, size_t base_len, int may_generate,
                  rk_key *key, rk_err *err);
/* The archive stage (rotation_archive.c): every local key the pruned config drops is archived (0600,
 * fsynced) and recorded in history as "archived" before any node loses it. */
int rot_archive_pruned_keys(rot_ctx *ctx, rk_err *err);
/* Records a lifecycle event (fingerprint only) for a key named in the run's configs, or for a kms
 * provider of that name (rot_kms_key_event). */
void rot_key_event(rot_ctx *ctx, const char *key_name, const char *event);
/* A kms provider's event: its name and the KMS key_id when known (rotation_kms_events.c). */
void rot_kms_key_event(rot_ctx *ctx, const char *provider_name, const char *event);

#endif
