/* rotation_configs.c: derives every config a rotation writes (read key staged, new key promoted, old
 * keys pruned; for break glass the emergency key staged and promoted, nothing pruned) from the base
 * config and the new key, deterministically. Only the rules the plan selects are edited, each as a
 * whole; the config is written over the previous one's text (rk_encconfig_emit_over), so the other
 * rules, comments and formatting stay byte for byte. */
#include <openssl/crypto.h>
#include <stdlib.h>
#include <string.h>

#include "rekey/yamldoc.h"
#include "rotation_internal.h"

typedef int (*edit_fn)(rk_encconfig *cfg, const rot_scope *scope, const void *arg, rk_err *err);

static const char *const *all_entries(const rot_scope *s)
{
	return (const char *const *)s->entries;
}

static int edit_add_key(rk_encconfig *cfg, const rot_scope *s, const void *arg, rk_err *err)
{
	const rk_plan *plan = ((const void *const *)arg)[0];
	const rk_key *key = ((const void *const *)arg)[1];
	return rk_encconfig_add_key(cfg, all_entries(s), s->nentries, plan->provider, key, err);
}

static int edit_add_kms(rk_encconfig *cfg, const rot_scope *s, const void *arg, rk_err *err)
{
	return rk_encconfig_add_kms(cfg, all_entries(s), s->nentries, (const rk_kms *)arg, err);
}

static int edit_promote(rk_encconfig *cfg, const rot_scope *s, const void *arg, rk_err *err)
{
	return rk_encconfig_promote(cfg, all_entries(s), s->nentries, (const char *)arg, err);
}

typedef int (*named_edit_fn)(rk_encconfig *cfg, const char *const *scope, size_t n, const char *name,
                             rk_err *err);

/* fn(old key) on the rules each old write key wrote. */
static int each_old_key(rk_encconfig *cfg, const rot_scope *s, named_edit_fn fn, rk_err *err)
{
	int rc = RK_OK;
	for (size_t i = 0; rc == RK_OK && i < s->nold; i++)
		rc = fn(cfg, (const char *const *)s->old[i].entries, s->old[i].nentries, s->old[i].name, err);
	return rc;
}

/* Each selected rule drops its own old write key. */
static int edit_prune_old(rk_encconfig *cfg, const rot_scope *s, const void *arg, rk_err *err)
{
	(void)arg;
	return each_old_key(cfg, s, rk_encconfig_prune, err);
}

/* Decrypt, read step: each selected rule keeps writing with its old key, identity readable. */
static int edit_promote_old(rk_encconfig *cfg, const rot_scope *s, const void *arg, rk_err *err)
{
	(void)arg;
	return each_old_key(cfg, s, rk_encconfig_promote, err);
}

static int edit_identity_first(rk_encconfig *cfg, const rot_scope *s, const void *arg, rk_err *err)
{
	(void)arg;
	return rk_encconfig_identity_first(cfg, all_entries(s), s->nentries, err);
}

static int edit_only_identity(rk_encconfig *cfg, const rot_scope *s, const void *arg, rk_err *err)
{
	(void)arg;
	return rk_encconfig_prune_all_but_identity(cfg, all_entries(s), s->nentries, err);
}

struct edit_step {
	edit_fn fn;
	const void *arg;
};

/* Loads `from`, applies the steps in order, writes the result over from's text into out. */
static int apply_edits(const rk_buf *from, const struct edit_step *steps, size_t nsteps,
                       const rot_scope *scope, rk_buf *out, rk_err *err)
{
	rk_encconfig *cfg = NULL, *before = NULL;
	int rc = rk_encconfig_load_buf((const char *)from->data, from->len, "staged config", &cfg, err);
	if (rc == RK_OK && !(before = rk_encconfig_clone(cfg)))
		rc = rk_err_set(err, RK_FAIL, "out of memory");
	for (size_t i = 0; rc == RK_OK && i < nsteps; i++)
		rc = steps[i].fn(cfg, scope, steps[i].arg, err);
	size_t len = 0;
	char *text = rc == RK_OK
	                 ? rk_encconfig_emit_over(cfg, before, (const char *)from->data, from->len, &len)
	                 : NULL;
	if (rc == RK_OK && !text)
		rc = rk_err_set(err, RK_FAIL, "cannot emit the staged config");
	if (rc == RK_OK && rk_buf_append(out, text, len) != 0)
		rc = rk_err_set(err, RK_FAIL, "out of memory");
	if (text) {
		OPENSSL_cleanse(text, len);
		free(text);
	}
	rk_encconfig_free(before);
	rk_encconfig_free(cfg);
	return rc;
}

struct edit_plan {
	const struct edit_step *steps[3]; /* read, write, pruned: each derived from the one before */
	size_t nsteps[3];
};

static int derive_all(rot_configs *c, const struct edit_plan *ep, rk_err *err)
{
	int rc = RK_OK;
	for (int i = 0; rc == RK_OK && i < 3; i++)
		rc = apply_edits(&c->bytes[ROT_CFG_BASE + i], ep->steps[i], ep->nsteps[i], &c->scope,
		                 &c->bytes[ROT_CFG_READ + i], err);
	return rc;
}

static int derive_rotation(rot_configs *c, const rk_plan *plan, const rk_key *new_key, rk_err *err)
{
	const void *add_arg[2] = {plan, new_key};
	struct edit_step read_steps[] = {{edit_add_key, add_arg}};
	struct edit_step write_steps[] = {{edit_promote, c->new_key}};
	struct edit_step prune_steps[] = {{edit_prune_old, NULL}};
	struct edit_plan ep = {{read_steps, write_steps, prune_steps}, {1, 1, 1}};
	return derive_all(c, &ep, err);
}

static int edit_add_break_glass_key(rk_encconfig *cfg, const rot_scope *s, const void *arg, rk_err *err)
{
	return rk_encconfig_add_key(cfg, all_entries(s), s->nentries, RK_PROV_AESCBC, (const rk_key *)arg,
	                            err);
}

/* The entries of the rules that list one of breakGlass.identityRead (each a plan selector): an edit acts
 * on a rule as a whole. *n = 0 when identityRead is empty. */
static int identity_read_entries(const rk_encconfig *cfg, const rk_plan_break_glass *bg, char ***out,
                                 size_t *n, rk_err *err)
{
	*out = NULL;
	*n = 0;
	if (!bg->nidentity_read)
		return RK_OK;
	unsigned char *sel = calloc(cfg->nrules + 1, 1);
	size_t total = 0;
	int rc = sel ? rk_encconfig_select_rules(cfg, (const char *const *)bg->identity_read,
	                                         bg->nidentity_read, sel, err)
	             : rk_err_set(err, RK_FAIL, "out of memory");
	for (size_t i = 0; rc == RK_OK && i < cfg->nrules; i++)
		total += sel[i] ? cfg->rules[i].nresources : 0;
	if (rc == RK_OK && !(*out = calloc(total + 1, sizeof **out)))
		rc = rk_err_set(err, RK_FAIL, "out of memory");
	for (size_t i = 0; rc == RK_OK && i < cfg->nrules; i++)
		for (size_t j = 0; sel[i] && rc == RK_OK && j < cfg->rules[i].nresources; j++)
			if (!((*out)[(*n)++] = strdup(cfg->rules[i].resources[j])))
				rc = rk_err_set(err, RK_FAIL, "out of memory");
	free(sel);
	return rc;
}

/* 1 when every rule identityRead names has identity as a read (not first) provider in cfg: the
 * degradation break-glass added, dropped again on the way back to kms. */
static int holds_identity_read(const rk_encconfig *cfg, const rk_plan_break_glass *bg)
{
	int all = bg->nidentity_read > 0;
	for (size_t i = 0; all && i < bg->nidentity_read; i++) {
		int at = rk_encconfig_listing_rule(cfg, bg->identity_read[i]);
		const rk_rule *rule = at < 0 ? NULL : &cfg->rules[at];
		int found = 0;
		for (size_t p = 1; rule && p < rule->nproviders; p++)
			found |= rule->providers[p].type == RK_PROV_IDENTITY;
		all &= found;
	}
	return all;
}

typedef int (*entries_edit_fn)(rk_encconfig *cfg, const char *const *entries, size_t n, rk_err *err);

static int prune_identity(rk_encconfig *cfg, const char *const *entries, size_t n, rk_err *err)
{
	return rk_encconfig_prune(cfg, entries, n, "identity", err);
}

/* fn on the rules of breakGlass.identityRead (arg: the plan); nothing when it names none. */
static int on_identity_read(rk_encconfig *cfg, const rk_plan_break_glass *bg, entries_edit_fn fn, rk_err *err)
{
	char **entries = NULL;
	size_t n = 0;
	int rc = identity_read_entries(cfg, bg, &entries, &n, err);
	if (rc == RK_OK && n)
		rc = fn(cfg, (const char *const *)entries, n, err);
	rk_str_list_free(entries, n);
	return rc;
}

static int edit_identity_last(rk_encconfig *cfg, const rot_scope *s, const void *arg, rk_err *err)
{
	(void)s;
	return on_identity_read(cfg, &((const rk_plan *)arg)->break_glass, rk_encconfig_identity_last, err);
}

static int edit_drop_identity_read(rk_encconfig *cfg, const rot_scope *s, const void *arg, rk_err *err)
{
	(void)s;
	const rk_plan_break_glass *bg = &((const rk_plan *)arg)->break_glass;
	return holds_identity_read(cfg, bg) ? on_identity_read(cfg, bg, prune_identity, err) : RK_OK;
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
	struct edit_step prune_steps[] = {{edit_prune_old, NULL}, {edit_drop_identity_read, plan}};
	struct edit_plan ep = {{read_steps, write_steps, prune_steps}, {listed ? 0 : 1, 1, 2}};
	return derive_all(c, &ep, err);
}

/* Break glass: the emergency aescbc key read everywhere (identity last where the plan allows), then
 * first; nothing is pruned: the kms provider stays to read what it still can. */
static int derive_break_glass(rot_configs *c, const rk_plan *plan, const rk_key *key, rk_err *err)
{
	struct edit_step read_steps[] = {{edit_add_break_glass_key, key}, {edit_identity_last, plan}};
	struct edit_step write_steps[] = {{edit_promote, c->new_key}};
	struct edit_plan ep = {{read_steps, write_steps, NULL}, {2, 1, 0}};
	return derive_all(c, &ep, err);
}

static int derive_decrypt(rot_configs *c, rk_err *err)
{
	struct edit_step read_steps[] = {{edit_identity_first, NULL}, {edit_promote_old, NULL}};
	struct edit_step write_steps[] = {{edit_identity_first, NULL}};
	struct edit_step prune_steps[] = {{edit_only_identity, NULL}};
	struct edit_plan ep = {{read_steps, write_steps, prune_steps}, {2, 1, 1}};
	return derive_all(c, &ep, err);
}

int rot_base_scope(const char *base, size_t len, const rk_plan *plan, rk_encconfig **cfg, rot_scope *scope,
                   rk_err *err)
{
	*cfg = NULL;
	int rc = rk_encconfig_load_buf(base, len, "the nodes' config", cfg, err);
	if (rc == RK_OK)
		rc = rk_encconfig_validate(*cfg, plan->reload == RK_RELOAD_AUTOMATIC, err);
	if (rc == RK_OK)
		rc = rot_scope_build(*cfg, plan, scope, err);
	if (rc != RK_OK) {
		rk_encconfig_free(*cfg);
		*cfg = NULL;
	}
	return rc;
}

int rot_scope_check_not_done(const rot_scope *s, const char *new_key, int break_glass, int to_kms,
                             rk_err *err)
{
	for (size_t i = 0; i < s->nold; i++)
		if (!strcmp(s->old[i].name, new_key))
			return rk_err_set(
			    err, RK_BADINPUT,
			    "the rule of \"%s\" is already written with %s: nothing to do%s",
			    s->old[i].entries[0], new_key,
			    break_glass ? " (the break-glass config is in force; `rotate` goes back to kms)"
			    : to_kms    ? " (a KEK rotation says kms.kek: true)"
			                : " (leave it out of the plan)");
	return RK_OK;
}

int rot_configs_derive(const char *base, size_t len, const rk_plan *plan, const rk_key *new_key,
                       int break_glass, rot_configs *out, rk_err *err)
{
	memset(out, 0, sizeof *out);
	for (int i = 0; i < ROT_CFG_COUNT; i++)
		rk_buf_set_secret(&out->bytes[i]);
	rk_encconfig *cfg = NULL;
	int rc = rot_base_scope(base, len, plan, &cfg, &out->scope, err);
	rk_encconfig_free(cfg);
	if (rc != RK_OK)
		return rc;
	if (rk_buf_append(&out->bytes[ROT_CFG_BASE], base, len) != 0)
		return rk_err_set(err, RK_FAIL, "out of memory");
	int to_kms = plan->provider == RK_PROV_KMS && !break_glass;
	rot_scope_old_names(&out->scope, out->old_key, sizeof out->old_key);
	snprintf(out->new_key, sizeof out->new_key, "%s",
	         to_kms    ? plan->kms.provider.name
	         : new_key ? new_key->name
	                   : "identity");
	if ((rc = rot_scope_check_not_done(&out->scope, out->new_key, break_glass, to_kms, err)) != RK_OK)
		return rc;
	if (break_glass)
		rc = derive_break_glass(out, plan, new_key, err);
	else if (to_kms)
		rc = derive_kms(out, plan, err);
	else
		rc = new_key ? derive_rotation(out, plan, new_key, err) : derive_decrypt(out, err);
	for (int i = 0; rc == RK_OK && i < ROT_CFG_COUNT; i++)
		rk_config_hash(out->bytes[i].data, out->bytes[i].len, out->hash[i]);
	return rc;
}

void rot_configs_free(rot_configs *c)
{
	for (int i = 0; i < ROT_CFG_COUNT; i++)
		rk_buf_wipe_free(&c->bytes[i]);
	rot_scope_free(&c->scope);
}
