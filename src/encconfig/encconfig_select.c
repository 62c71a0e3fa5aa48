/* encconfig_select.c: which rules a rotation plan selects. A plan names rules by one of their entries
 * as written ("secrets", "*.apps", "*.*"); a selector no rule lists is refused, naming the rule whose
 * wildcard covers it, and so is a selection that would split a resource two rules list (the apiserver
 * reads it through both rules' providers). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "encconfig_internal.h"

int rk_rule_lists(const rk_rule *rule, const char *entry)
{
	for (size_t i = 0; i < rule->nresources; i++)
		if (!strcmp(rule->resources[i], entry))
			return 1;
	return 0;
}

long rk_mark_listing_rules(const rk_encconfig *cfg, const char *const *entries, size_t n, unsigned char *sel)
{
	for (size_t s = 0; s < n; s++) {
		int found = 0;
		for (size_t i = 0; i < cfg->nrules; i++)
			if (rk_rule_lists(&cfg->rules[i], entries[s]))
				found = sel[i] = 1;
		if (!found)
			return (long)s;
	}
	return -1;
}

int rk_encconfig_listing_rule(const rk_encconfig *cfg, const char *entry)
{
	for (size_t i = 0; i < cfg->nrules; i++)
		if (rk_rule_lists(&cfg->rules[i], entry))
			return (int)i;
	return -1;
}

/* The rule that covers a selector no rule lists (exact resources only: a wildcard selector names a rule,
 * it is not looked up). -1 when none. */
static int covering_rule(const rk_encconfig *cfg, const char *selector)
{
	if (strchr(selector, '*'))
		return -1;
	char *resource = NULL, *group = NULL;
	if (rk_split_resource(selector, &resource, &group) != 0)
		return -1;
	int at = rk_encconfig_lookup_index(cfg, group, resource);
	free(resource);
	free(group);
	return at;
}

static int unlisted(const rk_encconfig *cfg, const char *selector, rk_err *err)
{
	int at = covering_rule(cfg, selector);
	if (at < 0)
		return rk_err_set(err, RK_BADINPUT,
		                  "%s: no rule lists \"%s\" (a plan names rules by an entry they list)",
		                  cfg->path, selector);
	const rk_rule *rule = &cfg->rules[at];
	return rk_err_set(err, RK_BADINPUT,
	                  "%s: no rule lists \"%s\"; resources[%d] (\"%s\"%s) covers it: name \"%s\" to "
	                  "rotate that rule (every resource it covers)",
	                  cfg->path, selector, at, rule->resources[0], rule->nresources > 1 ? ", ..." : "",
	                  rule->resources[0]);
}

/* A selected rule must not list a resource an unselected rule lists too. */
static int check_split(const rk_encconfig *cfg, const unsigned char *sel, rk_err *err)
{
	for (size_t i = 0; i < cfg->nrules; i++)
		for (size_t j = 0; sel[i] && j < cfg->rules[i].nresources; j++)
			for (size_t k = 0; k < cfg->nrules; k++)
				if (!sel[k] && rk_rule_lists(&cfg->rules[k], cfg->rules[i].resources[j]))
					return rk_err_set(err, RK_BADINPUT,
					                  "%s: resources[%zu] lists \"%s\", which "
					                  "resources[%zu] lists too (the "
					                  "apiserver reads it through both rules): select "
					                  "both rules or neither",
					                  cfg->path, i, cfg->rules[i].resources[j], k);
	return RK_OK;
}

int rk_encconfig_select_rules(const rk_encconfig *cfg, const char *const *selectors, size_t n,
                              unsigned char *sel, rk_err *err)
{
	memset(sel, 0, cfg->nrules);
	long missing = rk_mark_listing_rules(cfg, selectors, n, sel);
	return missing >= 0 ? unlisted(cfg, selectors[missing], err) : check_split(cfg, sel, err);
}
