/* config_output.c: text and JSON renderings of an EncryptionConfiguration for `rekeyctl config`:
 * rules, providers, key names and fingerprints, never secrets. */
#include "config_output_internal.h"

#include <string.h>

static const char *fingerprint_or(const rk_key *key, char fp[17])
{
	return rk_key_fingerprint(key, fp) == 0 ? fp : "(invalid)";
}

static void print_provider_text(FILE *out, const rk_provider *p, size_t index, int first)
{
	char fp[17];
	const char *type = rk_provider_name(p->type);
	if (p->type == RK_PROV_IDENTITY) {
		fprintf(out, "  providers[%zu] identity%s\n", index, first ? "  (write)" : "");
		return;
	}
	if (p->type == RK_PROV_KMS) {
		const rk_kms *k = &p->kms;
		fprintf(out, "  providers[%zu] kms %s  apiVersion %s  endpoint %s  timeout %s%s\n", index,
		        k->name ? k->name : "", k->api_version ? k->api_version : "v1",
		        k->endpoint ? k->endpoint : "", k->timeout ? k->timeout : "3s",
		        first ? "  (write)" : "");
		return;
	}
	for (size_t i = 0; i < p->nkeys; i++)
		fprintf(out, "  providers[%zu] %-9s key %-32s fingerprint %s%s\n", index, type,
		        p->keys[i].name ? p->keys[i].name : "", fingerprint_or(&p->keys[i], fp),
		        first && i == 0 ? "  (write)" : "");
}

void config_print_text(FILE *out, const char *path, const char *hash, const rk_encconfig *cfg)
{
	fprintf(out, "file: %s\nhash: %s\n", path, hash);
	for (size_t i = 0; i < cfg->nrules; i++) {
		const rk_rule *rule = &cfg->rules[i];
		fprintf(out, "resources[%zu]:", i);
		for (size_t j = 0; j < rule->nresources; j++)
			fprintf(out, "%s%s", j ? ", " : " ", rule->resources[j]);
		fprintf(out, "   write key: %s\n", rk_rule_write_key(rule) ? rk_rule_write_key(rule) : "-");
		for (size_t j = 0; j < rule->nproviders; j++)
			print_provider_text(out, &rule->providers[j], j, j == 0);
	}
}

static json_t *kms_to_json(const rk_kms *k)
{
	json_t *o =
	    json_pack("{s:s, s:s?, s:s?, s:s}", "name", k->name ? k->name : "", "apiVersion", k->api_version,
	              "endpoint", k->endpoint, "timeout", k->timeout ? k->timeout : "3s");
	if (k->has_cachesize)
		json_object_set_new(o, "cachesize", json_integer(k->cachesize));
	return o;
}

static json_t *provider_to_json(const rk_provider *p)
{
	json_t *o = json_pack("{s:s}", "type", rk_provider_name(p->type));
	if (p->type == RK_PROV_KMS) {
		json_object_set_new(o, "kms", kms_to_json(&p->kms));
		return o;
	}
	if (p->type == RK_PROV_IDENTITY)
		return o;
	json_t *keys = json_array();
	for (size_t i = 0; i < p->nkeys; i++) {
		char fp[17];
		json_array_append_new(keys,
		                      json_pack("{s:s, s:s}", "name", p->keys[i].name ? p->keys[i].name : "",
		                                "fingerprint", fingerprint_or(&p->keys[i], fp)));
	}
	json_object_set_new(o, "keys", keys);
	return o;
}

static json_t *rule_to_json(const rk_rule *rule)
{
	json_t *resources = json_array(), *providers = json_array();
	for (size_t j = 0; j < rule->nresources; j++)
		json_array_append_new(resources, json_string(rule->resources[j]));
	for (size_t j = 0; j < rule->nproviders; j++)
		json_array_append_new(providers, provider_to_json(&rule->providers[j]));
	const char *write = rk_rule_write_key(rule);
	return json_pack("{s:o, s:s?, s:o}", "resources", resources, "writeKey", write, "providers",
	                 providers);
}

json_t *config_to_json(const char *path, const char *hash, const rk_encconfig *cfg)
{
	json_t *rules = json_array();
	for (size_t i = 0; i < cfg->nrules; i++)
		json_array_append_new(rules, rule_to_json(&cfg->rules[i]));
	return json_pack("{s:s, s:s, s:o}", "file", path, "hash", hash, "rules", rules);
}

void print_json(FILE *out, json_t *doc)
{
	if (!doc)
		return;
	json_dumpf(doc, out, JSON_INDENT(2));
	fputc('\n', out);
	json_decref(doc);
}

void print_warnings(const char *path, const char *warnings)
{
	const char *line = warnings;
	while (line && *line) {
		const char *end = strchr(line, '\n');
		int len = end ? (int)(end - line) : (int)strlen(line);
		fprintf(stderr, "warning: %s: %.*s\n", path, len, line);
		line = end ? end + 1 : NULL;
	}
}

json_t *warnings_to_json(const char *warnings)
{
	json_t *list = json_array();
	const char *line = warnings;
	while (line && *line) {
		const char *end = strchr(line, '\n');
		size_t len = end ? (size_t)(end - line) : strlen(line);
		json_array_append_new(list, json_stringn(line, len));
		line = end ? end + 1 : NULL;
	}
	return list;
}
