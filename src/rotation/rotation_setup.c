/* rotation_setup.c: opening and closing a rotation: plan, state store, API client, the base config
 * (saved 0600 in the state dir) and the new key (backed up 0600 before any node sees it). */
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "rekey/fsutil.h"
#include "rekey/keyfile.h"
#include "rekey/log.h"
#include "rekey/transport.h"
#include "rotation_setup_internal.h"

int rot_ctx_open(rot_ctx *ctx, const rk_rotation_opts *opts, rk_err *err)
{
	memset(ctx, 0, sizeof *ctx);
	ctx->opts = opts;
	if (!opts->plan_path)
		return rk_err_set(err, RK_BADINPUT, "a plan is required (-f PLAN)");
	int rc = rk_plan_load_file(opts->plan_path, &ctx->plan, err);
	if (rc == RK_OK)
		rc = rk_store_state_dir(opts->state_dir, ctx->state_dir, sizeof ctx->state_dir, err);
	if (rc == RK_OK)
		rc = rk_store_open(ctx->state_dir, &ctx->store, err);
	if (rc != RK_OK)
		return rc;
	rk_kubeconfig_opts kopts = {.kubeconfig = ctx->plan->kubeconfig,
	                            .context = ctx->plan->context,
	                            .insecure_skip_tls_verify = opts->insecure_skip_tls_verify};
	rc = rk_kubeconfig_load(&kopts, &ctx->kcfg, err);
	if (rc == RK_OK)
		rc = rk_kube_new(ctx->kcfg, NULL, &ctx->kube, err);
	return rc;
}

void rot_ctx_close(rot_ctx *ctx)
{
	rot_configs_free(&ctx->cfgs);
	rk_kube_free(ctx->kube);
	rk_kube_config_free(ctx->kcfg);
	rk_store_close(ctx->store);
	rk_plan_free(ctx->plan);
	memset(ctx, 0, sizeof *ctx);
}

void rot_run_dir(const rot_ctx *ctx, char *out, size_t cap)
{
	snprintf(out, cap, "%s/runs/%s-%lld", ctx->state_dir, ctx->plan->cluster, (long long)ctx->run_id);
}

static void key_backup_path(const rot_ctx *ctx, const char *key_name, char *out, size_t cap)
{
	if (ctx->plan->key_backup_dir)
		snprintf(out, cap, "%s/%s.key", ctx->plan->key_backup_dir, key_name);
	else
		snprintf(out, cap, "%s/keys/%s/%s.key", ctx->state_dir, ctx->plan->cluster, key_name);
}

int rot_save_base(rot_ctx *ctx, const char *data, size_t len, rk_err *err)
{
	char dir[4200], path[4300];
	rot_run_dir(ctx, dir, sizeof dir);
	snprintf(path, sizeof path, "%s/base.yaml", dir);
	int rc = rk_mkdir_p(dir, 0700, err);
	return rc == RK_OK ? rk_write_file_atomic(path, data, len, 0, err) : rc;
}

int rot_load_base(rot_ctx *ctx, char **data, size_t *len, rk_err *err)
{
	char dir[4200], path[4300];
	rot_run_dir(ctx, dir, sizeof dir);
	snprintf(path, sizeof path, "%s/base.yaml", dir);
	return rk_read_file(path, data, len, err);
}

/* Generates the key (name fixed by the run) and writes its 0600 backup, or reads an existing backup. */
static int generate_and_back_up(rot_ctx *ctx, const char *base, size_t base_len, const char *name,
                                const char *path, rk_key *key, rk_err *err)
{
	rk_encconfig *cfg = NULL;
	int rc = rk_encconfig_load_buf(base, base_len, "base config", &cfg, err);
	if (rc == RK_OK)
		rc = rk_key_generate(cfg, ctx->plan->provider, 32, key, err);
	rk_encconfig_free(cfg);
	if (rc != RK_OK)
		return rc;
	free(key->name);
	key->name = strdup(name);
	char dir[4300];
	snprintf(dir, sizeof dir, "%.*s", (int)(strrchr(path, '/') - path), path);
	rc = rk_mkdir_p(dir, 0700, err);
	if (rc == RK_OK)
		rc = rk_key_write_file(path, key, err);
	return rc;
}

/* provider: the key's own provider (an aescbc key pruned in an aescbc -> aesgcm migration is aescbc). */
static void record_key_event(rot_ctx *ctx, const rk_key *key, rk_provider_type provider, const char *event,
                             const char *path)
{
	char fp[17];
	rk_err err;
	if (rk_key_fingerprint(key, fp) == 0)
		rk_store_key_event_add(ctx->store, ctx->plan->cluster, key->name, rk_provider_name(provider),
		                       fp, event, path, &err);
}

int rot_stage_key(rot_ctx *ctx, const char *name, const char *base, size_t base_len, rk_key *key, rk_err *err)
{
	char path[4400];
	key_backup_path(ctx, name, path, sizeof path);
	memset(key, 0, sizeof *key);
	if (access(path, F_OK) == 0) {
		int rc = rk_key_read_file(path, key, err);
		if (rc == RK_OK && !(key->name = strdup(name)))
			rc = rk_err_set(err, RK_FAIL, "out of memory");
		return rc;
	}
	int rc = generate_and_back_up(ctx, base, base_len, name, path, key, err);
	if (rc == RK_OK) {
		record_key_event(ctx, key, ctx->plan->provider, "generated", NULL);
		record_key_event(ctx, key, ctx->plan->provider, "backed-up", path);
		rk_info("key.staged", "new key %s generated and backed up to %s (0600)", name, path);
	}
	return rc;
}

void rot_key_event(rot_ctx *ctx, const char *key_name, const char *event)
{
	rk_encconfig *cfg = NULL;
	rk_err err;
	for (int i = ROT_CFG_READ; i >= ROT_CFG_BASE; i--) {
		if (rk_encconfig_load_buf((const char *)ctx->cfgs.bytes[i].data, ctx->cfgs.bytes[i].len,
		                          "config", &cfg, &err) != RK_OK)
			continue;
		for (size_t r = 0; r < cfg->nrules; r++)
			for (size_t p = 0; p < cfg->rules[r].nproviders; p++)
				for (size_t k = 0; k < cfg->rules[r].providers[p].nkeys; k++)
					if (!strcmp(cfg->rules[r].providers[p].keys[k].name, key_name)) {
						record_key_event(ctx, &cfg->rules[r].providers[p].keys[k],
						                 cfg->rules[r].providers[p].type, event,
						                 NULL);
						rk_encconfig_free(cfg);
						return;
					}
		rk_encconfig_free(cfg);
	}
}
