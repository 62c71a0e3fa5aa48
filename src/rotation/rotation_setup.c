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

/* trustOnFirstUse recorded a host key: the fingerprint goes to the audit log. */
static void record_trusted_host(const char *node, const char *host, long port, const char *key_type,
                                const char *fingerprint, const char *known_hosts, void *ud)
{
	rot_ctx *ctx = ud;
	char detail[RK_STORE_DETAIL_MAX];
	rk_err ignored;
	snprintf(detail, sizeof detail, "node %s (%s port %ld): %s %s added to %s", node, host, port,
	         key_type, fingerprint, known_hosts);
	rk_store_audit_add(ctx->store, ctx->plan->cluster, ctx->run_id, "ssh-trust-on-first-use", "trusted",
	                   detail, &ignored);
}

int rot_transport_open(rot_ctx *ctx, rk_transport **out, rk_err *err)
{
	int rc = rk_transport_new(ctx->plan, out, err);
	if (rc == RK_OK)
		rk_transport_set_hostkey_hook(*out, record_trusted_host, ctx);
	return rc;
}

void rot_run_dir(const rot_ctx *ctx, char *out, size_t cap)
{
	snprintf(out, cap, "%s/runs/%s-%lld", ctx->state_dir, ctx->plan->cluster, (long long)ctx->run_id);
}

void rot_key_backup_path(const rot_ctx *ctx, const char *key_name, char *out, size_t cap)
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
	if (rc == RK_OK) /* fsyncs the file and its directory */
		rc = rk_key_write_file(path, key, err);
	if (rc == RK_OK && strrchr(dir, '/') && strrchr(dir, '/') != dir) {
		*strrchr(dir, '/') = '\0'; /* the backup directory may be new: its entry too */
		rc = rk_fsync_dir(dir, err);
	}
	return rc;
}

struct fingerprint_search {
	const char *name;
	char fingerprint[17]; /* of the key generated under that name, "" when none was recorded */
};

static int find_generated(const rk_key_event *ev, void *ud)
{
	struct fingerprint_search *search = ud;
	if (!strcmp(ev->key_name, search->name) && !strcmp(ev->event, "generated"))
		snprintf(search->fingerprint, sizeof search->fingerprint, "%s", ev->fingerprint);
	return 0;
}

/* The backup must hold the key generated under that name (history keeps its fingerprint). */
static int check_backup_is_the_key(rot_ctx *ctx, const char *path, const rk_key *key, rk_err *err)
{
	struct fingerprint_search search = {key->name, ""};
	char fp[17];
	int rc = rk_store_key_event_list(ctx->store, ctx->plan->cluster, find_generated, &search, err);
	if (rc != RK_OK || !search.fingerprint[0] || rk_key_fingerprint(key, fp) != 0)
		return rc;
	if (strcmp(fp, search.fingerprint) != 0)
		return rk_err_set(
		    err, RK_UNSAFE,
		    "%s holds another key (fingerprint %s) than the %s generated as %s (%s, see "
		    "`rekeyctl history`): restore the right backup before going on",
		    path, fp, rk_provider_name(ctx->plan->provider), key->name, search.fingerprint);
	return RK_OK;
}

static int refuse_missing_backup(rot_ctx *ctx, const char *name, const char *path, rk_err *err)
{
	return rk_err_set(err, RK_UNSAFE,
	                  "the backup of key %s (%s) is missing, and stage-key of run %lld is recorded done: "
	                  "nodes may already hold that key, so it is never generated again; restore the "
	                  "file (0600, the base64 secret on one line: from your copy of it, or key %s in the "
	                  "config of a node that has it), then `rekeyctl resume`; or end the run with "
	                  "`rekeyctl abort` (configs stay as they are)",
	                  name, path, (long long)ctx->run_id, name);
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

int rot_stage_key(rot_ctx *ctx, const char *name, const char *base, size_t base_len, int may_generate,
                  rk_key *key, rk_err *err)
{
	char path[4400];
	rot_key_backup_path(ctx, name, path, sizeof path);
	memset(key, 0, sizeof *key);
	if (access(path, F_OK) == 0) {
		int rc = rk_key_read_file(path, key, err);
		if (rc == RK_OK && !(key->name = strdup(name)))
			rc = rk_err_set(err, RK_FAIL, "out of memory");
		if (rc == RK_OK)
			rc = check_backup_is_the_key(ctx, path, key, err);
		return rc;
	}
	if (!may_generate)
		return refuse_missing_backup(ctx, name, path, err);
	int rc = generate_and_back_up(ctx, base, base_len, name, path, key, err);
	if (rc == RK_OK) {
		record_key_event(ctx, key, ctx->plan->provider, "generated", NULL);
		record_key_event(ctx, key, ctx->plan->provider, "backed-up", path);
		rk_info("key.staged", "new key %s generated and backed up to %s (0600)", name, path);
	}
	return rc;
}

/* The provider in cfg holding a key named name, or a kms provider of that name (*key NULL then). */
static const rk_provider *find_named(const rk_encconfig *cfg, const char *name, const rk_key **key)
{
	*key = NULL;
	for (size_t r = 0; r < cfg->nrules; r++)
		for (size_t p = 0; p < cfg->rules[r].nproviders; p++) {
			const rk_provider *prov = &cfg->rules[r].providers[p];
			if (prov->type == RK_PROV_KMS && prov->kms.name && !strcmp(prov->kms.name, name))
				return prov;
			for (size_t k = 0; k < prov->nkeys; k++)
				if (!strcmp(prov->keys[k].name, name)) {
					*key = &prov->keys[k];
					return prov;
				}
		}
	return NULL;
}

void rot_key_event(rot_ctx *ctx, const char *key_name, const char *event)
{
	rk_encconfig *cfg = NULL;
	rk_err err;
	for (int i = ROT_CFG_READ; i >= ROT_CFG_BASE; i--) {
		if (rk_encconfig_load_buf((const char *)ctx->cfgs.bytes[i].data, ctx->cfgs.bytes[i].len,
		                          "config", &cfg, &err) != RK_OK)
			continue;
		const rk_key *key;
		const rk_provider *prov = find_named(cfg, key_name, &key);
		if (prov && key)
			record_key_event(ctx, key, prov->type, event, NULL);
		else if (prov)
			rot_kms_key_event(ctx, key_name, event);
		rk_encconfig_free(cfg);
		if (prov)
			return;
	}
}
