/* rotation_scope.c: what a rotation changes. The plan's `resources` select rules of the base config by an
 * entry they list ("secrets", "*.apps", "*.*"); the scope holds those rules, every entry they list (the
 * edits' scope: a selected rule is edited as a whole), and the distinct write keys they had (each rule
 * drops its own at the prune). The stored resources the selected rules cover come from discovery: each
 * resource goes to the rule the apiserver looks it up with (exact, "*.group", "*.*"). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rotation_internal.h"

static int push_str(char ***list, size_t *n, const char *s)
{
	for (size_t i = 0; i < *n; i++)
		if (!strcmp((*list)[i], s))
			return 0;
	char **grown = realloc(*list, (*n + 1) * sizeof *grown);
	if (!grown)
		return -1;
	*list = grown;
	if (!(grown[*n] = strdup(s)))
		return -1;
	(*n)++;
	return 0;
}

static void free_strs(char **list, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(list[i]);
	free(list);
}

static rot_old_key *old_key_for(rot_scope *s, const char *name)
{
	for (size_t i = 0; i < s->nold; i++)
		if (!strcmp(s->old[i].name, name))
			return &s->old[i];
	rot_old_key *grown = realloc(s->old, (s->nold + 1) * sizeof *grown);
	if (!grown)
		return NULL;
	s->old = grown;
	rot_old_key *k = &grown[s->nold];
	memset(k, 0, sizeof *k);
	if (!(k->name = strdup(name)))
		return NULL;
	s->nold++;
	return k;
}

/* Adds one selected rule: its entries to the scope and to its write key's list. */
static int add_rule(rot_scope *s, const rk_encconfig *cfg, size_t i, rk_err *err)
{
	const rk_rule *rule = &cfg->rules[i];
	const char *write = rk_rule_write_key(rule);
	if (!write)
		return rk_err_set(err, RK_BADINPUT, "%s: resources[%zu] has no write key", cfg->path, i);
	rot_old_key *old = old_key_for(s, write);
	if (!old)
		return rk_err_set(err, RK_FAIL, "out of memory");
	for (size_t j = 0; j < rule->nresources; j++)
		if (push_str(&s->entries, &s->nentries, rule->resources[j]) != 0 ||
		    push_str(&old->entries, &old->nentries, rule->resources[j]) != 0)
			return rk_err_set(err, RK_FAIL, "out of memory");
	return RK_OK;
}

int rot_scope_build(const rk_encconfig *cfg, const rk_plan *plan, rot_scope *out, rk_err *err)
{
	memset(out, 0, sizeof *out);
	out->nrules = cfg->nrules;
	if (!(out->selected = calloc(cfg->nrules + 1, 1)))
		return rk_err_set(err, RK_FAIL, "out of memory");
	int rc = RK_OK;
	for (size_t i = 0; rc == RK_OK && i < plan->nresources; i++) { /* an unlisted one: name its line */
		const char *one = plan->resources[i];
		if (rk_encconfig_listing_rule(cfg, one) < 0)
			rc = rk_encconfig_select_rules(cfg, &one, 1, out->selected, err);
		if (rc != RK_OK && plan->resource_pos)
			rk_err_prefix(err, "%s:%d:%d: plan.resources[%zu]", plan->path,
			              plan->resource_pos[i].line, plan->resource_pos[i].col, i);
		else if (rc != RK_OK)
			rk_err_prefix(err, "%s: plan.resources (default [secrets])", plan->path);
	}
	if (rc == RK_OK)
		rc = rk_encconfig_select_rules(cfg, (const char *const *)plan->resources, plan->nresources,
		                               out->selected, err);
	for (size_t i = 0; rc == RK_OK && i < cfg->nrules; i++)
		if (out->selected[i])
			rc = add_rule(out, cfg, i, err);
	if (rc != RK_OK)
		rot_scope_free(out);
	return rc;
}

void rot_scope_free(rot_scope *s)
{
	for (size_t i = 0; i < s->nold; i++) {
		free(s->old[i].name);
		free_strs(s->old[i].entries, s->old[i].nentries);
	}
	free(s->old);
	free_strs(s->entries, s->nentries);
	free(s->selected);
	memset(s, 0, sizeof *s);
}

void rot_scope_old_names(const rot_scope *s, char *out, size_t cap)
{
	size_t used = 0;
	out[0] = '\0';
	for (size_t i = 0; i < s->nold && used < cap; i++) {
		int n = snprintf(out + used, cap - used, "%s%s", i ? "," : "", s->old[i].name);
		used += n > 0 ? (size_t)n : 0;
	}
}

int rot_scope_resources(const rot_scope *s, const rk_encconfig *cfg, rk_kube *kube, rot_resources *out,
                        rk_err *err)
{
	memset(out, 0, sizeof *out);
	rk_kube_resources all;
	int rc = rk_kube_stored_resources(kube, &all, err);
	if (rc != RK_OK)
		return rk_err_wrap(err, rc, "discovery of the stored resources");
	for (size_t i = 0; rc == RK_OK && i < all.n; i++) {
		int at = rk_encconfig_lookup_index(cfg, all.items[i].group, all.items[i].resource);
		if (at < 0 || !s->selected[at])
			continue;
		rk_kube_resource *grown = realloc(out->items, (out->n + 1) * sizeof *grown);
		int *rules = realloc(out->rule, (out->n + 1) * sizeof *rules);
		if (grown)
			out->items = grown;
		if (rules)
			out->rule = rules;
		if (!grown || !rules) {
			rc = rk_err_set(err, RK_FAIL, "out of memory");
			break;
		}
		out->items[out->n] = all.items[i];
		out->rule[out->n++] = at;
	}
	rk_kube_resources_free(&all);
	if (rc != RK_OK)
		rot_resources_free(out);
	return rc;
}

void rot_resources_free(rot_resources *r)
{
	free(r->items);
	free(r->rule);
	memset(r, 0, sizeof *r);
}

int rot_scope_names(const rot_scope *s, const rk_encconfig *cfg, rk_kube *kube, char ***names, size_t *n,
                    rk_err *err)
{
	rot_resources res;
	*names = NULL;
	*n = 0;
	int rc = rot_scope_resources(s, cfg, kube, &res, err);
	if (rc != RK_OK)
		return rc;
	for (size_t i = 0; rc == RK_OK && i < res.n; i++) {
		char spec[400];
		rk_kube_resource_spec(&res.items[i], spec, sizeof spec);
		if (push_str(names, n, spec) != 0)
			rc = rk_err_set(err, RK_FAIL, "out of memory");
	}
	rot_resources_free(&res);
	if (rc != RK_OK)
		rot_names_free(names, n);
	return rc;
}

void rot_names_free(char ***names, size_t *n)
{
	free_strs(*names, *n);
	*names = NULL;
	*n = 0;
}
