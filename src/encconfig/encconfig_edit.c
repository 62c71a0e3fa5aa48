/* encconfig_edit.c: the edits a rotation makes to an EncryptionConfiguration: add a read key (second
 * position, creating the provider when migrating), promote a key to write key, prune a key, put
 * identity first (decrypt) or last (break-glass read fallback), prune all but identity. Each edit works
 * on a copy, validates the result like the apiserver, and only then replaces the config: on any error
 * the config is unchanged. */
#include <stdlib.h>
#include <string.h>

#include "encconfig_internal.h"

/* ---- array helpers ---- */

static int insert_provider(rk_rule *rule, size_t at, const rk_provider *p)
{
	rk_provider *grown = realloc(rule->providers, (rule->nproviders + 1) * sizeof *grown);
	if (!grown)
		return -1;
	rule->providers = grown;
	memmove(&grown[at + 1], &grown[at], (rule->nproviders - at) * sizeof *grown);
	grown[at] = *p;
	rule->nproviders++;
	return 0;
}

static void remove_provider(rk_rule *rule, size_t at)
{
	rk_provider_clear(&rule->providers[at]);
	memmove(&rule->providers[at], &rule->providers[at + 1],
	        (rule->nproviders - at - 1) * sizeof(rk_provider));
	rule->nproviders--;
}

static void move_provider_first(rk_rule *rule, size_t at)
{
	rk_provider p = rule->providers[at];
	memmove(&rule->providers[1], &rule->providers[0], at * sizeof p);
	rule->providers[0] = p;
}

static int insert_key(rk_provider *p, size_t at, const rk_key *key)
{
	rk_key *grown = realloc(p->keys, (p->nkeys + 1) * sizeof *grown);
	if (!grown)
		return -1;
	p->keys = grown;
	memmove(&grown[at + 1], &grown[at], (p->nkeys - at) * sizeof *grown);
	if (rk_key_copy(&grown[at], key) != 0) {
		memmove(&grown[at], &grown[at + 1], (p->nkeys - at) * sizeof *grown);
		return -1;
	}
	p->nkeys++;
	return 0;
}

static void remove_key(rk_provider *p, size_t at)
{
	rk_key_clear(&p->keys[at]);
	memmove(&p->keys[at], &p->keys[at + 1], (p->nkeys - at - 1) * sizeof(rk_key));
	p->nkeys--;
}

/* ---- finding things ---- */

static int find_provider_type(const rk_rule *rule, rk_provider_type type)
{
	for (size_t i = 0; i < rule->nproviders; i++)
		if (rule->providers[i].type == type && rule->providers[i].ntypes == 1)
			return (int)i;
	return -1;
}

/* Provider index and key index (-1 for a kms provider or identity) of `name` in a rule; -1 if absent. */
static int find_name(const rk_rule *rule, const char *name, int *key_index)
{
	for (size_t i = 0; i < rule->nproviders; i++) {
		const rk_provider *p = &rule->providers[i];
		*key_index = -1;
		if (p->type == RK_PROV_KMS && p->kms.name && !strcmp(p->kms.name, name))
			return (int)i;
		if (p->type == RK_PROV_IDENTITY && !strcmp(name, "identity"))
			return (int)i;
		for (size_t k = 0; k < p->nkeys; k++)
			if (p->keys[k].name && !strcmp(p->keys[k].name, name)) {
				*key_index = (int)k;
				return (int)i;
			}
	}
	return -1;
}

static int in_scope(const char *const *scope, size_t n, const char *entry)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(scope[i], entry))
			return 1;
	return 0;
}

/* Marks the rules an edit touches (see encconfig.h for the scope rules). */
static int select_rules(const rk_encconfig *cfg, const char *const *scope, size_t n, unsigned char *sel,
                        rk_err *err)
{
	for (size_t i = 0; i < cfg->nrules; i++)
		sel[i] = scope == NULL;
	if (!scope)
		return RK_OK;
	long missing = rk_mark_listing_rules(cfg, scope, n, sel);
	if (missing >= 0)
		return rk_err_set(err, RK_BADINPUT, "%s: no rule lists resource \"%s\"", cfg->path,
		                  scope[missing]);
	for (size_t i = 0; i < cfg->nrules; i++)
		for (size_t j = 0; sel[i] && j < cfg->rules[i].nresources; j++)
			if (!in_scope(scope, n, cfg->rules[i].resources[j]))
				return rk_err_set(
				    err, RK_BADINPUT,
				    "%s: resources[%zu] also covers \"%s\": add it to the resources in "
				    "scope or split the rule",
				    cfg->path, i, cfg->rules[i].resources[j]);
	return RK_OK;
}

/* With no explicit scope, a named-key edit acts on the rules holding the name; with one, every selected
 * rule must hold it. */
static int select_holding(const rk_encconfig *cfg, const char *const *scope, size_t n, const char *name,
                          unsigned char *sel, rk_err *err)
{
	int rc = select_rules(cfg, scope, n, sel, err), any = 0, k;
	for (size_t i = 0; rc == RK_OK && i < cfg->nrules; i++) {
		int holds = find_name(&cfg->rules[i], name, &k) >= 0;
		if (sel[i] && !holds && scope)
			return rk_err_set(err, RK_BADINPUT, "%s: resources[%zu] has no key \"%s\"", cfg->path,
			                  i, name);
		sel[i] = sel[i] && holds;
		any |= sel[i];
	}
	if (rc == RK_OK && !any)
		rc = rk_err_set(err, RK_BADINPUT, "%s: no key or kms provider named \"%s\"", cfg->path, name);
	return rc;
}

/* ---- transactions ---- */

typedef int (*rule_edit_fn)(const rk_encconfig *cfg, rk_rule *rule, size_t index, const void *arg,
                            rk_err *err);

/* Runs edit on a copy of every selected rule, validates, then swaps the result into cfg. */
static int apply(rk_encconfig *cfg, const unsigned char *sel, rule_edit_fn edit, const void *arg, rk_err *err)
{
	rk_encconfig *work = rk_encconfig_clone(cfg);
	if (!work)
		return rk_err_set(err, RK_FAIL, "out of memory");
	int rc = RK_OK;
	for (size_t i = 0; rc == RK_OK && i < work->nrules; i++)
		if (sel[i])
			rc = edit(cfg, &work->rules[i], i, arg, err);
	if (rc == RK_OK && (rc = rk_encconfig_validate(work, 0, err)) != RK_OK)
		rk_err_prefix(err, "the edited config would be invalid");
	if (rc == RK_OK) {
		rk_rule *rules = cfg->rules;
		size_t nrules = cfg->nrules;
		cfg->rules = work->rules;
		cfg->nrules = work->nrules;
		work->rules = rules;
		work->nrules = nrules;
		rk_encconfig_clear_positions(cfg);
	}
	rk_encconfig_free(work);
	return rc;
}

static int run_edit(rk_encconfig *cfg, const char *const *scope, size_t n, const char *holding,
                    rule_edit_fn edit, const void *arg, rk_err *err)
{
	unsigned char *sel = calloc(cfg->nrules + 1, 1);
	if (!sel)
		return rk_err_set(err, RK_FAIL, "out of memory");
	int rc = holding ? select_holding(cfg, scope, n, holding, sel, err)
	                 : select_rules(cfg, scope, n, sel, err);
	if (rc == RK_OK)
		rc = apply(cfg, sel, edit, arg, err);
	free(sel);
	return rc;
}

static int refuse_used_name(const rk_encconfig *cfg, const char *name, rk_err *err)
{
	if (!name || !*name || !strcmp(name, "identity"))
		return rk_err_set(err, RK_BADINPUT, "a key needs a name (and \"identity\" is reserved)");
	if (rk_encconfig_has_key_name(cfg, name))
		return rk_err_set(err, RK_BADINPUT,
		                  "%s: key name \"%s\" is already used: key names are never reused",
		                  cfg->path, name);
	return RK_OK;
}

/* ---- add a read key ---- */

typedef struct add_key_arg {
	rk_provider_type type;
	const rk_key *key;
} add_key_arg;

static int edit_add_key(const rk_encconfig *cfg, rk_rule *rule, size_t index, const void *arg, rk_err *err)
{
	(void)cfg;
	(void)index;
	const add_key_arg *a = arg;
	int at = find_provider_type(rule, a->type);
	if (at >= 0) {
		rk_provider *p = &rule->providers[at];
		return insert_key(p, p->nkeys ? 1 : 0, a->key) == 0
		           ? RK_OK
		           : rk_err_set(err, RK_FAIL, "out of memory");
	}
	rk_provider p = {.type = a->type, .ntypes = 1};
	if (!(p.keys = calloc(1, sizeof *p.keys)) || rk_key_copy(&p.keys[0], a->key) != 0) {
		free(p.keys);
		return rk_err_set(err, RK_FAIL, "out of memory");
	}
	p.nkeys = 1;
	if (insert_provider(rule, rule->nproviders ? 1 : 0, &p) != 0) {
		rk_provider_clear(&p);
		return rk_err_set(err, RK_FAIL, "out of memory");
	}
	return RK_OK;
}

int rk_encconfig_add_key(rk_encconfig *cfg, const char *const *resources, size_t nresources,
                         rk_provider_type type, const rk_key *key, rk_err *err)
{
	if (type != RK_PROV_AESCBC && type != RK_PROV_AESGCM && type != RK_PROV_SECRETBOX)
		return rk_err_set(err, RK_BADINPUT,
		                  "a key can be added to aescbc, aesgcm or secretbox, not %s",
		                  rk_provider_name(type));
	int rc = refuse_used_name(cfg, key->name, err);
	if (rc != RK_OK)
		return rc;
	add_key_arg arg = {type, key};
	return run_edit(cfg, resources, nresources, NULL, edit_add_key, &arg, err);
}

static int edit_add_kms(const rk_encconfig *cfg, rk_rule *rule, size_t index, const void *arg, rk_err *err)
{
	(void)cfg;
	(void)index;
	rk_provider p = {.type = RK_PROV_KMS, .ntypes = 1};
	if (rk_kms_copy(&p.kms, arg) != 0 || insert_provider(rule, rule->nproviders ? 1 : 0, &p) != 0) {
		rk_provider_clear(&p);
		return rk_err_set(err, RK_FAIL, "out of memory");
	}
	return RK_OK;
}

int rk_encconfig_add_kms(rk_encconfig *cfg, const char *const *resources, size_t nresources,
                         const rk_kms *kms, rk_err *err)
{
	int rc = refuse_used_name(cfg, kms->name, err);
	if (rc != RK_OK)
		return rc;
	return run_edit(cfg, resources, nresources, NULL, edit_add_kms, kms, err);
}

/* ---- promote and prune ---- */

static int edit_promote(const rk_encconfig *cfg, rk_rule *rule, size_t index, const void *arg, rk_err *err)
{
	(void)cfg;
	(void)index;
	(void)err;
	int k, at = find_name(rule, arg, &k);
	rk_provider *p = &rule->providers[at];
	if (k > 0) {
		rk_key key = p->keys[k];
		memmove(&p->keys[1], &p->keys[0], (size_t)k * sizeof key);
		p->keys[0] = key;
	}
	move_provider_first(rule, (size_t)at);
	return RK_OK;
}

int rk_encconfig_promote(rk_encconfig *cfg, const char *const *resources, size_t nresources, const char *name,
                         rk_err *err)
{
	if (name && !strcmp(name, "identity"))
		return rk_encconfig_identity_first(cfg, resources, nresources, err);
	return run_edit(cfg, resources, nresources, name, edit_promote, name, err);
}

static int edit_prune(const rk_encconfig *cfg, rk_rule *rule, size_t index, const void *arg, rk_err *err)
{
	(void)cfg;
	const char *name = arg;
	const char *write = rk_rule_write_key(rule);
	if (write && !strcmp(write, name))
		return rk_err_set(
		    err, RK_UNSAFE,
		    "\"%s\" is the write key of resources[%zu]: promote another key before pruning it", name,
		    index);
	int k, at = find_name(rule, name, &k);
	if (k >= 0)
		remove_key(&rule->providers[at], (size_t)k);
	if (k < 0 || rule->providers[at].nkeys == 0)
		remove_provider(rule, (size_t)at);
	return RK_OK;
}

int rk_encconfig_prune(rk_encconfig *cfg, const char *const *resources, size_t nresources, const char *name,
                       rk_err *err)
{
	return run_edit(cfg, resources, nresources, name, edit_prune, name, err);
}

/* ---- identity (decrypt) ---- */

static int edit_identity_first(const rk_encconfig *cfg, rk_rule *rule, size_t index, const void *arg,
                               rk_err *err)
{
	(void)cfg;
	(void)index;
	(void)arg;
	int at = find_provider_type(rule, RK_PROV_IDENTITY);
	if (at >= 0) {
		move_provider_first(rule, (size_t)at);
		return RK_OK;
	}
	rk_provider p = {.type = RK_PROV_IDENTITY, .ntypes = 1};
	return insert_provider(rule, 0, &p) == 0 ? RK_OK : rk_err_set(err, RK_FAIL, "out of memory");
}

int rk_encconfig_identity_first(rk_encconfig *cfg, const char *const *resources, size_t nresources,
                                rk_err *err)
{
	return run_edit(cfg, resources, nresources, NULL, edit_identity_first, NULL, err);
}

/* identity as the last provider (read only: it serves objects stored in plaintext); kept where present. */
static int edit_identity_last(const rk_encconfig *cfg, rk_rule *rule, size_t index, const void *arg,
                              rk_err *err)
{
	(void)cfg;
	(void)index;
	(void)arg;
	if (find_provider_type(rule, RK_PROV_IDENTITY) >= 0)
		return RK_OK;
	rk_provider p = {.type = RK_PROV_IDENTITY, .ntypes = 1};
	return insert_provider(rule, rule->nproviders, &p) == 0 ? RK_OK
	                                                        : rk_err_set(err, RK_FAIL, "out of memory");
}

int rk_encconfig_identity_last(rk_encconfig *cfg, const char *const *resources, size_t nresources,
                               rk_err *err)
{
	return run_edit(cfg, resources, nresources, NULL, edit_identity_last, NULL, err);
}

static int edit_only_identity(const rk_encconfig *cfg, rk_rule *rule, size_t index, const void *arg,
                              rk_err *err)
{
	(void)cfg;
	(void)arg;
	if (rule->nproviders == 0 || rule->providers[0].type != RK_PROV_IDENTITY)
		return rk_err_set(
		    err, RK_UNSAFE,
		    "resources[%zu] does not write with identity: put identity first and rewrite every "
		    "object before dropping the other providers",
		    index);
	while (rule->nproviders > 1)
		remove_provider(rule, rule->nproviders - 1);
	return RK_OK;
}

int rk_encconfig_prune_all_but_identity(rk_encconfig *cfg, const char *const *resources, size_t nresources,
                                        rk_err *err)
{
	return run_edit(cfg, resources, nresources, NULL, edit_only_identity, NULL, err);
}
