/* rotation_configs.c: derives every config a rotation writes (read key staged, new key promoted, old
 * key pruned; for break glass the emergency key staged and promoted, nothing pruned) from the base
 * config and the new key, deterministically (canonical emit). */
#include <openssl/crypto.h>
#include <stdlib.h>
#include <string.h>

#include "rotation_internal.h"

int rot_scope_write_key(const rk_encconfig *cfg, const rk_plan *plan, char *out, size_t cap, rk_err *err)
{
	out[0] = '\0';
	for (size_t i = 0; i < plan->nresources; i++) {
		char *resource = NULL, *group = NULL;
		if (rk_split_resource(plan->resources[i], &resource, &group) != 0)
			return rk_err_set(err, RK_FAIL, "out of memory");
		const rk_rule *rule = rk_encconfig_lookup(cfg, group, resource);
		free(resource);
		free(group);
		if (!rule)
			return rk_err_set(
			    err, RK_BADINPUT,
			    "%s: no rule covers resource \"%s\": add one (identity first) before rotating",
			    cfg->path, plan->resources[i]);
		const char *key = rk_rule_write_key(rule);
		if (out[0] && strcmp(out, key) != 0)
			return rk_err_set(
			    err, RK_BADINPUT,
			    "%s: resources in scope are written with different keys (%s, %s): rotate them "
			    "in separate plans",
			    cfg->path, out, key);
		snprintf(out, cap, "%s", key);
	}
	return RK_OK;
}

typedef int (*edit_fn)(rk_encconfig *cfg, const rk_plan *plan, const void *arg, rk_err *err);

static int edit_add_key(rk_encconfig *cfg, const rk_plan *plan, const void *arg, rk_err *err)
{
	return rk_encconfig_add_key(cfg, (const char *const *)plan->resources, plan->nresources,
	                            plan->provider, (const rk_key *)arg, err);
}

static int edit_add_kms(rk_encconfig *cfg, const rk_plan *plan, const void *arg, rk_err *err)
{
	return rk_encconfig_add_kms(cfg, (const char *const *)plan->resources, plan->nresources,
	                            (const rk_kms *)arg, err);
}

static int edit_promote(rk_encconfig *cfg, const rk_plan *plan, const void *arg, rk_err *err)
{
	return rk_encconfig_promote(cfg, (const char *const *)plan->resources, plan->nresources,
	                            (const char *)arg, err);
}

static int edit_prune(rk_encconfig *cfg, const rk_plan *plan, const void *arg, rk_err *err)
{
	return rk_encconfig_prune(cfg, (const char *const *)plan->resources, plan->nresources,
	                          (const char *)arg, err);
}

static int edit_identity_first(rk_encconfig *cfg, const rk_plan *plan, const void *arg, rk_err *err)
{
	(void)arg;
	return rk_encconfig_identity_first(cfg, (const char *const *)plan->resources, plan->nresources, err);
}

static int edit_only_identity(rk_encconfig *cfg, const rk_plan *plan, const void *arg, rk_err *err)
{
	(void)arg;
	return rk_encconfig_prune_all_but_identity(cfg, (const char *const *)plan->resources,
	                                           plan->nresources, err);
}

struct edit_step {
	edit_fn fn;
	const void *arg;
};

/* Loads `from`, applies the steps in order, emits canonical YAML into out. */
static int apply_edits(const rk_buf *from, const struct edit_step *steps, size_t nsteps, const rk_plan *plan,
                       rk_buf *out, rk_err *err)
{
	rk_encconfig *cfg = NULL;
	int rc = rk_encconfig_load_buf((const char *)from->data, from->len, "staged config", &cfg, err);
	for (size_t i = 0; rc == RK_OK && i < nsteps; i++)
		rc = steps[i].fn(cfg, plan, steps[i].arg, err);
	size_t len = 0;
	char *text = rc == RK_OK ? rk_encconfig_emit(cfg, &len) : NULL;
	if (rc == RK_OK && !text)
		rc = rk_err_set(err, RK_FAIL, "cannot emit the staged config");
	if (rc == RK_OK && rk_buf_append(out, text, len) != 0)
		rc = rk_err_set(err, RK_FAIL, "out of memory");
	if (text) {
		OPENSSL_cleanse(text, len);
		free(text);
	}
	rk_encconfig_free(cfg);
	return rc;
}

struct edit_plan {
	const struct edit_step *steps[3]; /* read, write, pruned: each derived from the one before */
	size_t nsteps[3];
};

static int derive_all(rot_configs *c, const rk_plan *plan, const struct edit_plan *ep, rk_err *err)
{
	int rc = RK_OK;
	for (int i = 0; rc == RK_OK && i < 3; i++)
		rc = apply_edits(&c->bytes[ROT_CFG_BASE + i], ep->steps[i], ep->nsteps[i], plan,
		                 &c->bytes[ROT_CFG_READ + i], err);
	return rc;
}

static int derive_rotation(rot_configs *c, const rk_plan *plan, const rk_key *new_key, rk_err *err)
{
	struct edit_step read_steps[] = {{edit_add_key, new_key}};
	struct edit_step write_steps[] = {{edit_promote, c->new_key}};
	struct edit_step prune_steps[] = {{edit_prune, c->old_key}};
	struct edit_plan ep = {{read_steps, write_steps, prune_steps}, {1, 1, 1}};
	return derive_all(c, plan, &ep, err);
}

static int edit_add_break_glass_key(rk_encconfig *cfg, const rk_plan *plan, const void *arg, rk_err *err)
{
	return rk_encconfig_add_key(cfg, (const char *const *)plan->resources, plan->nresources,
	                            RK_PROV_AESCBC, (const rk_key *)arg, err);
}

static int edit_identity_last(rk_encconfig *cfg, const rk_plan *plan, const void *arg, rk_err *err)
{
	(void)arg;
	const rk_plan_break_glass *bg = &plan->break_glass;
	return bg->nidentity_read ? rk_encconfig_identity_last(cfg, (const char *const *)bg->identity_read,
	                                                       bg->nidentity_read, err)
	                          : RK_OK;
}

/* 1 when every identityRead resource of the plan's breakGlass has identity as a read (not first)
 * provider in cfg: the degradation break-glass added, dropped again on the way back to kms. */
static int holds_identity_read(const rk_encconfig *cfg, const rk_plan *plan)
{
	const rk_plan_break_glass *bg = &plan->break_glass;
	int all = bg->nidentity_read > 0;
	for (size_t i = 0; all && i < bg->nidentity_read; i++) {
		char *resource = NULL, *group = NULL;
		if (rk_split_resource(bg->identity_read[i], &resource, &group) != 0)
			return 0;
		const rk_rule *rule = rk_encconfig_lookup(cfg, group, resource);
		int found = 0;
		for (size_t p = 1; rule && p < rule->nproviders; p++)
			found |= rule->providers[p].type == RK_PROV_IDENTITY;
		all &= found;
		free(resource);
		free(group);
	}
	return all;
}

static int edit_drop_identity_read(rk_encconfig *cfg, const rk_plan *plan, const void *arg, rk_err *err)
{
	(void)arg;
	const rk_plan_break_glass *bg = &plan->break_glass;
	return holds_identity_read(cfg, plan)
	           ? rk_encconfig_prune(cfg, (const char *const *)bg->identity_read, bg->nidentity_read,
	                                "identity", err)
	           : RK_OK;
}

/* To a kms v2 provider (from a local key or another kms provider): the same three steps. The way back
 * from break glass starts from a config that still lists the kms provider for reads: nothing to add;
 * the prune also drops the identity read fallback the plan's breakGlass added. */
static int derive_kms(rot_configs *c, const rk_plan *plan, rk_err *err)
{
	rk_encconfig *base = NULL;
	int rc = rk_encconfig_load_buf((const char *)c->bytes[ROT_CFG_BASE].data, c->bytes[ROT_CFG_BASE].len,
	                               "base config", &base, err);
	int listed = rc == RK_OK && rk_encconfig_has_key_name(base, plan->kms.provider.name);
	rk_encconfig_free(base);
	if (rc != RK_OK)
		return rc;
	struct edit_step read_steps[] = {{edit_add_kms, &plan->kms.provider}};
	struct edit_step write_steps[] = {{edit_promote, c->new_key}};
	struct edit_step prune_steps[] = {{edit_prune, c->old_key}, {edit_drop_identity_read, NULL}};
	struct edit_plan ep = {{read_steps, write_steps, prune_steps}, {listed ? 0 : 1, 1, 2}};
	return derive_all(c, plan, &ep, err);
}

/* Break glass: the emergency aescbc key read everywhere (identity last where the plan allows), then
 * first; nothing is pruned: the kms provider stays to read what it still can. */
static int derive_break_glass(rot_configs *c, const rk_plan *plan, const rk_key *key, rk_err *err)
{
	struct edit_step read_steps[] = {{edit_add_break_glass_key, key}, {edit_identity_last, NULL}};
	struct edit_step write_steps[] = {{edit_promote, c->new_key}};
	struct edit_plan ep = {{read_steps, write_steps, NULL}, {2, 1, 0}};
	return derive_all(c, plan, &ep, err);
}

static int derive_decrypt(rot_configs *c, const rk_plan *plan, rk_err *err)
{
	struct edit_step read_steps[] = {{edit_identity_first, NULL}, {edit_promote, c->old_key}};
	struct edit_step write_steps[] = {{edit_identity_first, NULL}};
	struct edit_step prune_steps[] = {{edit_only_identity, NULL}};
	struct edit_plan ep = {{read_steps, write_steps, prune_steps}, {2, 1, 1}};
	return derive_all(c, plan, &ep, err);
}

static int load_base(rot_configs *c, const char *base, size_t len, const rk_plan *plan, rk_err *err)
{
	rk_encconfig *cfg = NULL;
	int rc = rk_encconfig_load_buf(base, len, "base config", &cfg, err);
	if (rc == RK_OK)
		rc = rk_encconfig_validate(cfg, plan->reload == RK_RELOAD_AUTOMATIC, err);
	if (rc == RK_OK)
		rc = rot_scope_write_key(cfg, plan, c->old_key, sizeof c->old_key, err);
	rk_encconfig_free(cfg);
	if (rc == RK_OK && rk_buf_append(&c->bytes[ROT_CFG_BASE], base, len) != 0)
		rc = rk_err_set(err, RK_FAIL, "out of memory");
	return rc;
}

int rot_configs_derive(const char *base, size_t len, const rk_plan *plan, const rk_key *new_key,
                       int break_glass, rot_configs *out, rk_err *err)
{
	memset(out, 0, sizeof *out);
	for (int i = 0; i < ROT_CFG_COUNT; i++)
		rk_buf_set_secret(&out->bytes[i]);
	int rc = load_base(out, base, len, plan, err);
	if (rc != RK_OK)
		return rc;
	int to_kms = plan->provider == RK_PROV_KMS && !break_glass;
	snprintf(out->new_key, sizeof out->new_key, "%s",
	         to_kms    ? plan->kms.provider.name
	         : new_key ? new_key->name
	                   : "identity");
	if (!strcmp(out->old_key, out->new_key))
		return rk_err_set(
		    err, RK_BADINPUT, "the resources in scope are already written with %s: nothing to do%s",
		    out->new_key,
		    break_glass ? " (the break-glass config is in force; `rotate` goes back to kms)"
		    : to_kms    ? " (a KEK rotation says kms.kek: true)"
		                : "");
	if (break_glass)
		rc = derive_break_glass(out, plan, new_key, err);
	else if (to_kms)
		rc = derive_kms(out, plan, err);
	else
		rc = new_key ? derive_rotation(out, plan, new_key, err) : derive_decrypt(out, plan, err);
	for (int i = 0; rc == RK_OK && i < ROT_CFG_COUNT; i++)
		rk_config_hash(out->bytes[i].data, out->bytes[i].len, out->hash[i]);
	return rc;
}

void rot_configs_free(rot_configs *c)
{
	for (int i = 0; i < ROT_CFG_COUNT; i++)
		rk_buf_wipe_free(&c->bytes[i]);
}
