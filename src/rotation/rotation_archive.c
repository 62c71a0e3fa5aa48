/* rotation_archive.c: the archive stage, between verify and prune: every key the prune removes from
 * the nodes' config is first kept in the key archive (STATE/archive, see keyarchive.h) and recorded in
 * history ("archived", with its own provider and fingerprint), so backups taken before the prune stay
 * readable. Idempotent: a resumed run finds the entries already there. */
#include <stdio.h>
#include <string.h>

#include "rekey/keyarchive.h"
#include "rekey/log.h"
#include "rotation_setup_internal.h"

static int local_provider(rk_provider_type t)
{
	return t == RK_PROV_AESCBC || t == RK_PROV_AESGCM || t == RK_PROV_SECRETBOX;
}

/* 1 when cfg holds a key of that provider, name and secret anywhere. */
static int holds_key(const rk_encconfig *cfg, rk_provider_type type, const rk_key *key)
{
	for (size_t r = 0; r < cfg->nrules; r++)
		for (size_t p = 0; p < cfg->rules[r].nproviders; p++) {
			const rk_provider *prov = &cfg->rules[r].providers[p];
			for (size_t k = 0; prov->type == type && k < prov->nkeys; k++)
				if (!strcmp(prov->keys[k].name, key->name) &&
				    !strcmp(prov->keys[k].secret, key->secret))
					return 1;
		}
	return 0;
}

static int archive_one(rot_ctx *ctx, const char *archive, rk_provider_type type, const rk_key *key,
                       rk_err *err)
{
	char path[4096], fp[17];
	int rc = rk_archive_put(archive, ctx->plan->cluster, type, key, path, sizeof path, err);
	if (rc == RK_OK && rk_key_fingerprint(key, fp) == 0)
		rc = rk_store_key_event_add(ctx->store, ctx->plan->cluster, key->name, rk_provider_name(type),
		                            fp, "archived", path, err);
	if (rc == RK_OK)
		rk_info("key.archived",
		        "%s key %s (fingerprint %s) archived to %s (0600) before it is pruned",
		        rk_provider_name(type), key->name, fp, path);
	return rc;
}

/* Archives every local key of `before` that `after` no longer holds (each once). */
static int archive_removed(rot_ctx *ctx, const char *archive, const rk_encconfig *before,
                           const rk_encconfig *after, rk_err *err)
{
	int rc = RK_OK;
	for (size_t r = 0; rc == RK_OK && r < before->nrules; r++)
		for (size_t p = 0; rc == RK_OK && p < before->rules[r].nproviders; p++) {
			const rk_provider *prov = &before->rules[r].providers[p];
			if (prov->type == RK_PROV_KMS)
				rk_info("key.kms",
				        "kms provider %s: its key lives in the KMS, nothing to archive",
				        prov->kms.name ? prov->kms.name : "");
			for (size_t k = 0; rc == RK_OK && local_provider(prov->type) && k < prov->nkeys; k++)
				if (!holds_key(after, prov->type, &prov->keys[k]))
					rc = archive_one(ctx, archive, prov->type, &prov->keys[k], err);
		}
	return rc;
}

int rot_archive_pruned_keys(rot_ctx *ctx, rk_err *err)
{
	char archive[4200];
	rk_encconfig *before = NULL, *after = NULL;
	const rk_buf *write = &ctx->cfgs.bytes[ROT_CFG_WRITE], *pruned = &ctx->cfgs.bytes[ROT_CFG_PRUNED];
	int rc = rk_archive_dir(ctx->state_dir, archive, sizeof archive, err);
	if (rc == RK_OK)
		rc = rk_encconfig_load_buf((const char *)write->data, write->len, "write config", &before,
		                           err);
	if (rc == RK_OK)
		rc = rk_encconfig_load_buf((const char *)pruned->data, pruned->len, "pruned config", &after,
		                           err);
	if (rc == RK_OK)
		rc = archive_removed(ctx, archive, before, after, err);
	rk_encconfig_free(before);
	rk_encconfig_free(after);
	return rc;
}
