/* encconfig_load.c: strict loading of an EncryptionConfiguration with libyaml's document API, decoding
 * the way kube-apiserver does (sigs.k8s.io/yaml, strict): apiserver.config.k8s.io/v1 only (the config
 * decoder registers no other version), kind EncryptionConfiguration, unknown or duplicate fields and
 * wrong types are errors, a plain scalar is typed by the YAML 1.1 rules (yes/no/on/off, numbers, null),
 * a null value counts as absent. Every error is "path:line:col: message". */
#include <openssl/crypto.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "encconfig_internal.h"
#include "rekey/duration.h"
#include "rekey/fsutil.h"
#include "rekey/yamldoc.h"

#define PATH_MAX_LEN 256
/* Aliases can make a few kilobytes expand into billions of nodes ("billion laughs"); no real
 * EncryptionConfiguration comes near this many. */
#define MAX_VISITS 20000

typedef struct loader {
	yaml_document_t *doc;
	const char *text; /* the loaded bytes (rule spans) */
	size_t text_len;
	const char *name;
	rk_encconfig *cfg;
	rk_err *err;
	size_t visits;  /* nodes loaded so far, aliases counted each time */
	size_t pos_cap; /* allocated entries of cfg->positions */
} loader;

typedef int (*field_fn)(loader *ld, yaml_node_t *value, const char *path, void *target);
typedef struct field {
	const char *name;
	field_fn load;
} field;

static int fail_at(loader *ld, const yaml_node_t *node, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int fail_at(loader *ld, const yaml_node_t *node, const char *fmt, ...)
{
	char msg[RK_ERR_MSG_MAX];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	return rk_err_set(ld->err, RK_BADINPUT, "%s:%zu:%zu: %s", ld->name, node->start_mark.line + 1,
	                  node->start_mark.column + 1, msg);
}

static int record_pos(loader *ld, const char *path, const yaml_node_t *node)
{
	rk_encconfig *cfg = ld->cfg;
	if (++ld->visits > MAX_VISITS)
		return fail_at(ld, node, "%s: excessive aliasing: the document expands to more than %d nodes",
		               path, MAX_VISITS);
	if (cfg->npositions == ld->pos_cap) {
		size_t cap = ld->pos_cap ? ld->pos_cap * 2 : 64;
		rk_pos *grown = realloc(cfg->positions, cap * sizeof *grown);
		if (!grown)
			return rk_err_set(ld->err, RK_FAIL, "out of memory");
		cfg->positions = grown;
		ld->pos_cap = cap;
	}
	rk_pos *pos = &cfg->positions[cfg->npositions];
	if (!(pos->path = strdup(path)))
		return rk_err_set(ld->err, RK_FAIL, "out of memory");
	pos->line = (int)node->start_mark.line + 1;
	pos->col = (int)node->start_mark.column + 1;
	cfg->npositions++;
	return RK_OK;
}

/* ---- scalar typing (YAML 1.1 as go-yaml v2 resolves plain scalars) ---- */

enum scalar_kind { SK_STRING, SK_NULL, SK_BOOL, SK_INT, SK_FLOAT };

static int in_list(const char *s, const char *const *list)
{
	for (; *list; list++)
		if (!strcmp(s, *list))
			return 1;
	return 0;
}

static int all_of(const char *s, const char *set)
{
	if (!*s)
		return 0;
	for (; *s; s++)
		if (!strchr(set, *s))
			return 0;
	return 1;
}

/* go-yaml v2 drops '_' and tries strconv.ParseInt(s, 0, 64): decimal, 0x, 0o, 0b and leading-0 octal. */
static int looks_int(const char *s)
{
	if (*s == '-' || *s == '+')
		s++;
	if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X'))
		return all_of(s + 2, "0123456789abcdefABCDEF_");
	if (s[0] == '0' && (s[1] == 'b' || s[1] == 'B'))
		return all_of(s + 2, "01_");
	if (s[0] == '0' && (s[1] == 'o' || s[1] == 'O'))
		return all_of(s + 2, "01234567_");
	return *s >= '0' && *s <= '9' && all_of(s, "0123456789_");
}

static int looks_float(const char *s)
{
	static const char *const special[] = {".inf", ".Inf", ".INF", ".nan", ".NaN", ".NAN", NULL};
	if (*s == '-' || *s == '+')
		s++;
	if (in_list(s, special))
		return 1;
	int digits = 0;
	for (; (*s >= '0' && *s <= '9') || *s == '_'; s++)
		digits++;
	if (*s == '.')
		for (s++; *s >= '0' && *s <= '9'; s++)
			digits++;
	if (!digits)
		return 0;
	if (*s == 'e' || *s == 'E') {
		s++;
		if (*s == '-' || *s == '+')
			s++;
		if (!(*s >= '0' && *s <= '9'))
			return 0;
		while (*s >= '0' && *s <= '9')
			s++;
	}
	return *s == '\0';
}

static enum scalar_kind scalar_kind(const yaml_node_t *node)
{
	static const char *const nulls[] = {"", "~", "null", "Null", "NULL", NULL};
	static const char *const bools[] = {"y",  "Y",  "yes",  "Yes",  "YES",  "n",     "N",     "no",
	                                    "No", "NO", "true", "True", "TRUE", "false", "False", "FALSE",
	                                    "on", "On", "ON",   "off",  "Off",  "OFF",   NULL};
	if (node->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
		return SK_STRING;
	const char *s = (const char *)node->data.scalar.value;
	if (in_list(s, nulls))
		return SK_NULL;
	if (in_list(s, bools))
		return SK_BOOL;
	if (looks_int(s))
		return SK_INT;
	if (looks_float(s))
		return SK_FLOAT;
	return SK_STRING;
}

int rk_yaml_plain_is_string(const char *text)
{
	yaml_node_t node;
	memset(&node, 0, sizeof node);
	node.type = YAML_SCALAR_NODE;
	node.data.scalar.value = (yaml_char_t *)text;
	node.data.scalar.length = strlen(text);
	node.data.scalar.style = YAML_PLAIN_SCALAR_STYLE;
	return scalar_kind(&node) == SK_STRING;
}

static int is_null(const yaml_node_t *node)
{
	return node->type == YAML_SCALAR_NODE && scalar_kind(node) == SK_NULL;
}

static const char *node_type_name(const yaml_node_t *node)
{
	static const char *const kinds[] = {"a string", "null", "a boolean", "a number", "a number"};
	if (node->type == YAML_MAPPING_NODE)
		return "a mapping";
	if (node->type == YAML_SEQUENCE_NODE)
		return "a list";
	return kinds[scalar_kind(node)];
}

/* ---- typed values ---- */

static int load_string(loader *ld, yaml_node_t *node, const char *path, void *target)
{
	char **out = target;
	if (node->type != YAML_SCALAR_NODE || scalar_kind(node) != SK_STRING)
		return fail_at(ld, node, "%s: expected a string, got %s%s", path, node_type_name(node),
		               node->type == YAML_SCALAR_NODE ? " (quote it)" : "");
	if (strlen((const char *)node->data.scalar.value) != node->data.scalar.length)
		return fail_at(ld, node, "%s: the string contains a NUL character", path);
	free(*out);
	if (!(*out = strdup((const char *)node->data.scalar.value)))
		return rk_err_set(ld->err, RK_FAIL, "out of memory");
	return RK_OK;
}

static int load_int32(loader *ld, yaml_node_t *node, const char *path, long *out)
{
	const char *s = (const char *)node->data.scalar.value;
	if (node->type != YAML_SCALAR_NODE || scalar_kind(node) != SK_INT)
		return fail_at(ld, node, "%s: expected an integer, got %s", path, node_type_name(node));
	char *end;
	long long v = strtoll(s, &end, 10);
	if (*end || v < -2147483648LL || v > 2147483647LL)
		return fail_at(ld, node, "%s: \"%s\" is not a decimal 32-bit integer", path, s);
	*out = (long)v;
	return RK_OK;
}

static yaml_node_t *node_of(loader *ld, int index)
{
	return yaml_document_get_node(ld->doc, index);
}

static size_t seq_len(const yaml_node_t *node)
{
	return (size_t)(node->data.sequence.items.top - node->data.sequence.items.start);
}

/* ---- mappings: duplicate and unknown fields ---- */

static int check_duplicates(loader *ld, yaml_node_t *map, const char *path)
{
	yaml_node_pair_t *start = map->data.mapping.pairs.start, *top = map->data.mapping.pairs.top;
	for (yaml_node_pair_t *a = start; a < top; a++) {
		yaml_node_t *ka = node_of(ld, a->key);
		if (ka->type != YAML_SCALAR_NODE)
			return fail_at(ld, ka, "%s: field names must be strings, got %s", path,
			               node_type_name(ka));
		for (yaml_node_pair_t *b = start; b < a; b++) {
			yaml_node_t *kb = node_of(ld, b->key);
			if (!strcmp((char *)ka->data.scalar.value, (char *)kb->data.scalar.value))
				return fail_at(ld, ka, "%s: duplicate field \"%s\" (first at line %zu)", path,
				               (char *)ka->data.scalar.value, kb->start_mark.line + 1);
		}
	}
	return RK_OK;
}

static const field *find_field(const field *fields, const char *name)
{
	for (; fields->name; fields++)
		if (!strcmp(fields->name, name))
			return fields;
	return NULL;
}

static void join_path(char *out, const char *path, const char *name)
{
	snprintf(out, PATH_MAX_LEN, "%s%s%s", path, *path ? "." : "", name);
}

static int load_mapping(loader *ld, yaml_node_t *map, const char *path, const char *what, const field *fields,
                        void *target)
{
	if (map->type != YAML_MAPPING_NODE)
		return fail_at(ld, map, "%s: expected %s (a mapping), got %s", *path ? path : "document",
		               what, node_type_name(map));
	int rc = check_duplicates(ld, map, path);
	for (yaml_node_pair_t *p = map->data.mapping.pairs.start;
	     rc == RK_OK && p < map->data.mapping.pairs.top; p++) {
		yaml_node_t *key = node_of(ld, p->key), *value = node_of(ld, p->value);
		const char *name = (const char *)key->data.scalar.value;
		char child[PATH_MAX_LEN];
		join_path(child, path, name);
		const field *f = find_field(fields, name);
		if (!f)
			return fail_at(ld, key, "unknown field \"%s\" in %s", child, what);
		if (is_null(value))
			continue;
		rc = record_pos(ld, child, value);
		if (rc == RK_OK)
			rc = f->load(ld, value, child, target);
	}
	return rc;
}

/* Calls load_item for each element of a list, into a calloc'd array of n elements of size `size`. */
typedef int (*item_fn)(loader *ld, yaml_node_t *item, const char *path, void *slot);

static int load_list(loader *ld, yaml_node_t *seq, const char *path, size_t size, item_fn load_item,
                     void **items, size_t *n)
{
	if (seq->type != YAML_SEQUENCE_NODE)
		return fail_at(ld, seq, "%s: expected a list, got %s", path, node_type_name(seq));
	size_t count = seq_len(seq);
	if (count && !(*items = calloc(count, size)))
		return rk_err_set(ld->err, RK_FAIL, "out of memory");
	for (size_t i = 0; i < count; i++) {
		yaml_node_t *item = node_of(ld, seq->data.sequence.items.start[i]);
		char child[PATH_MAX_LEN];
		snprintf(child, sizeof child, "%s[%zu]", path, i);
		*n = i + 1;
		int rc = record_pos(ld, child, item);
		if (rc == RK_OK)
			rc = load_item(ld, item, child, (char *)*items + i * size);
		if (rc != RK_OK)
			return rc;
	}
	return RK_OK;
}

/* ---- keys, kms, providers ---- */

static int key_name(loader *ld, yaml_node_t *v, const char *path, void *t)
{
	return load_string(ld, v, path, &((rk_key *)t)->name);
}

static int key_secret(loader *ld, yaml_node_t *v, const char *path, void *t)
{
	return load_string(ld, v, path, &((rk_key *)t)->secret);
}

static int load_key(loader *ld, yaml_node_t *item, const char *path, void *slot)
{
	static const field fields[] = {{"name", key_name}, {"secret", key_secret}, {NULL, NULL}};
	rk_key *key = slot;
	key->line = (int)item->start_mark.line + 1;
	key->col = (int)item->start_mark.column + 1;
	return load_mapping(ld, item, path, "a key", fields, key);
}

static int keys_list(loader *ld, yaml_node_t *v, const char *path, void *t)
{
	rk_provider *p = t;
	return load_list(ld, v, path, sizeof(rk_key), load_key, (void **)&p->keys, &p->nkeys);
}

static int kms_api_version(loader *ld, yaml_node_t *v, const char *path, void *t)
{
	return load_string(ld, v, path, &((rk_kms *)t)->api_version);
}

static int kms_name(loader *ld, yaml_node_t *v, const char *path, void *t)
{
	return load_string(ld, v, path, &((rk_kms *)t)->name);
}

static int kms_endpoint(loader *ld, yaml_node_t *v, const char *path, void *t)
{
	return load_string(ld, v, path, &((rk_kms *)t)->endpoint);
}

static int kms_cachesize(loader *ld, yaml_node_t *v, const char *path, void *t)
{
	rk_kms *kms = t;
	kms->has_cachesize = 1;
	return load_int32(ld, v, path, &kms->cachesize);
}

static int kms_timeout(loader *ld, yaml_node_t *v, const char *path, void *t)
{
	rk_kms *kms = t;
	long long ns;
	int rc = load_string(ld, v, path, &kms->timeout);
	if (rc == RK_OK && rk_go_duration_parse(kms->timeout, &ns) != 0)
		return fail_at(ld, v, "%s: invalid duration \"%s\" (examples: 3s, 500ms, 1m30s)", path,
		               kms->timeout);
	return rc;
}

/* The body of one provider type; a second type in the same element is checked, then dropped. */
static int provider_body(loader *ld, yaml_node_t *v, const char *path, rk_provider *p, rk_provider_type type)
{
	static const field aes_fields[] = {{"keys", keys_list}, {NULL, NULL}};
	static const field identity_fields[] = {{NULL, NULL}};
	static const field kms_fields[] = {{"apiVersion", kms_api_version}, {"name", kms_name},
	                                   {"endpoint", kms_endpoint},      {"cachesize", kms_cachesize},
	                                   {"timeout", kms_timeout},        {NULL, NULL}};
	rk_provider extra = {0};
	rk_provider *into = p->ntypes++ ? &extra : p;
	into->type = type;
	int rc;
	if (type == RK_PROV_IDENTITY)
		rc = load_mapping(ld, v, path, "the identity provider", identity_fields, into);
	else if (type == RK_PROV_KMS)
		rc = load_mapping(ld, v, path, "the kms provider", kms_fields, &into->kms);
	else
		rc = load_mapping(ld, v, path, "a key provider", aes_fields, into);
	rk_provider_clear(&extra);
	return rc;
}

static int prov_aesgcm(loader *ld, yaml_node_t *v, const char *path, void *t)
{
	return provider_body(ld, v, path, t, RK_PROV_AESGCM);
}
static int prov_aescbc(loader *ld, yaml_node_t *v, const char *path, void *t)
{
	return provider_body(ld, v, path, t, RK_PROV_AESCBC);
}
static int prov_secretbox(loader *ld, yaml_node_t *v, const char *path, void *t)
{
	return provider_body(ld, v, path, t, RK_PROV_SECRETBOX);
}
static int prov_identity(loader *ld, yaml_node_t *v, const char *path, void *t)
{
	return provider_body(ld, v, path, t, RK_PROV_IDENTITY);
}
static int prov_kms(loader *ld, yaml_node_t *v, const char *path, void *t)
{
	return provider_body(ld, v, path, t, RK_PROV_KMS);
}

static int load_provider(loader *ld, yaml_node_t *item, const char *path, void *slot)
{
	static const field fields[] = {
	    {"aesgcm", prov_aesgcm},     {"aescbc", prov_aescbc}, {"secretbox", prov_secretbox},
	    {"identity", prov_identity}, {"kms", prov_kms},       {NULL, NULL}};
	rk_provider *p = slot;
	p->line = (int)item->start_mark.line + 1;
	p->col = (int)item->start_mark.column + 1;
	return load_mapping(ld, item, path, "a provider", fields, p);
}

/* ---- rules and the document ---- */

static int load_resource_name(loader *ld, yaml_node_t *item, const char *path, void *slot)
{
	return load_string(ld, item, path, slot);
}

static int rule_resources(loader *ld, yaml_node_t *v, const char *path, void *t)
{
	rk_rule *rule = t;
	return load_list(ld, v, path, sizeof(char *), load_resource_name, (void **)&rule->resources,
	                 &rule->nresources);
}

static int rule_providers(loader *ld, yaml_node_t *v, const char *path, void *t)
{
	rk_rule *rule = t;
	return load_list(ld, v, path, sizeof(rk_provider), load_provider, (void **)&rule->providers,
	                 &rule->nproviders);
}

static int load_rule(loader *ld, yaml_node_t *item, const char *path, void *slot)
{
	static const field fields[] = {
	    {"resources", rule_resources}, {"providers", rule_providers}, {NULL, NULL}};
	rk_rule *rule = slot;
	rule->line = (int)item->start_mark.line + 1;
	rule->col = (int)item->start_mark.column + 1;
	return load_mapping(ld, item, path, "a resources entry", fields, rule);
}

typedef struct top_fields {
	char *api_version, *kind;
	yaml_node_t *api_version_node, *kind_node;
} top_fields;

static int top_api_version(loader *ld, yaml_node_t *v, const char *path, void *t)
{
	top_fields *top = t;
	top->api_version_node = v;
	return load_string(ld, v, path, &top->api_version);
}

static int top_kind(loader *ld, yaml_node_t *v, const char *path, void *t)
{
	top_fields *top = t;
	top->kind_node = v;
	return load_string(ld, v, path, &top->kind);
}

/* ---- rule spans (rk_rule_span: the bytes rk_encconfig_emit_over may replace) ---- */

/* Where the last value under node ends (block collections have no end of their own); SIZE_MAX when a
 * value sits before `from` (an alias to an anchor elsewhere). */
static size_t content_end(loader *ld, yaml_node_t *node, size_t from, int depth)
{
	if (node->start_mark.index < from || depth > 64)
		return SIZE_MAX;
	size_t end = node->end_mark.index;
	if (node->type == YAML_SEQUENCE_NODE && node->data.sequence.style == YAML_BLOCK_SEQUENCE_STYLE) {
		end = node->start_mark.index;
		for (yaml_node_item_t *i = node->data.sequence.items.start; i < node->data.sequence.items.top;
		     i++) {
			size_t e = content_end(ld, node_of(ld, *i), from, depth + 1);
			end = e == SIZE_MAX || e > end ? e : end;
		}
	} else if (node->type == YAML_MAPPING_NODE && node->data.mapping.style == YAML_BLOCK_MAPPING_STYLE) {
		end = node->start_mark.index;
		for (yaml_node_pair_t *p = node->data.mapping.pairs.start; p < node->data.mapping.pairs.top;
		     p++) {
			size_t k = content_end(ld, node_of(ld, p->key), from, depth + 1);
			size_t v = content_end(ld, node_of(ld, p->value), from, depth + 1);
			end = k == SIZE_MAX || k > end ? k : end;
			end = v == SIZE_MAX || v > end ? v : end;
		}
	}
	return end;
}

/* libyaml's marks count characters; the byte offset of character `index` of the UTF-8 text. */
static size_t byte_offset(const loader *ld, size_t index)
{
	size_t chars = 0;
	for (size_t i = 0; i < ld->text_len; i++)
		if (((unsigned char)ld->text[i] & 0xC0) != 0x80 && chars++ == index)
			return i;
	return chars == index ? ld->text_len : SIZE_MAX;
}

/* The span of one rule: its first line must hold only its "- " before it, its last line only spaces or
 * a comment after it. */
static rk_rule_span rule_span(loader *ld, yaml_node_t *rule)
{
	rk_rule_span span = {0, 0, -1};
	const char *t = ld->text;
	size_t start = byte_offset(ld, rule->start_mark.index), line = start;
	if (rule->type != YAML_MAPPING_NODE || rule->data.mapping.style != YAML_BLOCK_MAPPING_STYLE ||
	    start > ld->text_len)
		return span;
	while (line > 0 && t[line - 1] != '\n')
		line--;
	size_t i = line;
	while (i < start && t[i] == ' ')
		i++;
	if (i >= start || t[i] != '-' || i + 1 >= start)
		return span;
	int dash = (int)(i - line);
	for (i++; i < start; i++)
		if (t[i] != ' ')
			return span;
	size_t end = content_end(ld, rule, rule->start_mark.index, 0);
	if (end == SIZE_MAX || (end = byte_offset(ld, end)) > ld->text_len)
		return span;
	while (end < ld->text_len && t[end] == ' ')
		end++;
	if (end < ld->text_len && t[end] == '#')
		while (end < ld->text_len && t[end] != '\n')
			end++;
	if (end < ld->text_len && t[end] != '\n')
		return span;
	span.start = line;
	span.end = end < ld->text_len ? end + 1 : end;
	span.dash_col = dash;
	return span;
}

static int top_resources(loader *ld, yaml_node_t *v, const char *path, void *t)
{
	(void)t;
	rk_encconfig *cfg = ld->cfg;
	int rc = load_list(ld, v, path, sizeof(rk_rule), load_rule, (void **)&cfg->rules, &cfg->nrules);
	if (rc != RK_OK || v->data.sequence.style != YAML_BLOCK_SEQUENCE_STYLE || !cfg->nrules)
		return rc;
	if (!(cfg->spans = calloc(cfg->nrules, sizeof *cfg->spans)))
		return rk_err_set(ld->err, RK_FAIL, "out of memory");
	for (size_t i = 0; i < cfg->nrules; i++)
		cfg->spans[i] = rule_span(ld, node_of(ld, v->data.sequence.items.start[i]));
	return RK_OK;
}

static int check_type_meta(loader *ld, yaml_node_t *root, const top_fields *top)
{
	if (!top->api_version)
		return fail_at(ld, root, "apiVersion is missing (want apiVersion: " RK_API_VERSION ")");
	if (strcmp(top->api_version, RK_API_VERSION) != 0)
		return fail_at(
		    ld, top->api_version_node,
		    "apiVersion \"%s\" is not supported: kube-apiserver decodes only " RK_API_VERSION
		    " for " RK_KIND,
		    top->api_version);
	if (!top->kind)
		return fail_at(ld, root, "kind is missing (want kind: " RK_KIND ")");
	if (strcmp(top->kind, RK_KIND) != 0)
		return fail_at(ld, top->kind_node, "kind \"%s\" is not supported: want " RK_KIND, top->kind);
	return RK_OK;
}

static int load_root(loader *ld, yaml_node_t *root)
{
	static const field fields[] = {
	    {"apiVersion", top_api_version}, {"kind", top_kind}, {"resources", top_resources}, {NULL, NULL}};
	top_fields top = {0};
	int rc = load_mapping(ld, root, "", "an " RK_KIND, fields, &top);
	if (rc == RK_OK)
		rc = check_type_meta(ld, root, &top);
	free(top.api_version);
	free(top.kind);
	return rc;
}

/* ---- libyaml plumbing ---- */

static int parser_error(const yaml_parser_t *parser, const char *name, rk_err *err)
{
	const yaml_mark_t *mark = parser->context ? &parser->context_mark : &parser->problem_mark;
	if (parser->problem)
		mark = &parser->problem_mark;
	return rk_err_set(err, RK_BADINPUT, "%s:%zu:%zu: invalid YAML: %s%s%s", name, mark->line + 1,
	                  mark->column + 1, parser->problem ? parser->problem : "unknown error",
	                  parser->context ? " " : "", parser->context ? parser->context : "");
}

/* Refuses a second document: the apiserver would ignore it, and an edit would drop it. */
static int check_single_document(yaml_parser_t *parser, const char *name, rk_err *err)
{
	yaml_document_t next;
	if (!yaml_parser_load(parser, &next))
		return parser_error(parser, name, err);
	yaml_node_t *root = yaml_document_get_root_node(&next);
	int rc = RK_OK;
	if (root)
		rc = rk_err_set(err, RK_BADINPUT,
		                "%s:%zu:%zu: a second YAML document: the file must hold one "
		                "EncryptionConfiguration",
		                name, root->start_mark.line + 1, root->start_mark.column + 1);
	rk_yaml_wipe_document(&next);
	yaml_document_delete(&next);
	return rc;
}

static int load_document(yaml_parser_t *parser, yaml_document_t *doc, const char *text, size_t len,
                         rk_encconfig *cfg, rk_err *err)
{
	yaml_node_t *root = yaml_document_get_root_node(doc);
	if (!root)
		return rk_err_set(err, RK_BADINPUT, "%s:1:1: no YAML document (only comments or blank lines)",
		                  cfg->path);
	loader ld = {doc, text, len, cfg->path, cfg, err, 0, 0};
	int rc = load_root(&ld, root);
	if (rc == RK_OK)
		rc = check_single_document(parser, cfg->path, err);
	return rc;
}

int rk_encconfig_load_buf(const char *data, size_t len, const char *name, rk_encconfig **out, rk_err *err)
{
	*out = NULL;
	if (!name)
		name = "<input>";
	if (len == 0)
		return rk_err_set(err, RK_BADINPUT, "%s:1:1: the file is empty", name);
	rk_encconfig *cfg = calloc(1, sizeof *cfg);
	if (!cfg || !(cfg->path = strdup(name))) {
		free(cfg);
		return rk_err_set(err, RK_FAIL, "out of memory");
	}
	yaml_parser_t parser;
	yaml_document_t doc;
	yaml_parser_initialize(&parser);
	yaml_parser_set_input_string(&parser, (const unsigned char *)data, len);
	int rc;
	if (!yaml_parser_load(&parser, &doc)) {
		rc = parser_error(&parser, name, err);
	} else {
		rc = load_document(&parser, &doc, data, len, cfg, err);
		rk_yaml_wipe_document(&doc);
		yaml_document_delete(&doc);
	}
	rk_yaml_wipe_parser(&parser);
	yaml_parser_delete(&parser);
	if (rc != RK_OK) {
		rk_encconfig_free(cfg);
		return rc;
	}
	*out = cfg;
	return RK_OK;
}

int rk_encconfig_load_file(const char *path, rk_encconfig **out, rk_err *err)
{
	char *data = NULL;
	size_t len = 0;
	*out = NULL;
	int rc = rk_read_file(path, &data, &len, err);
	if (rc != RK_OK)
		return rc;
	rc = rk_encconfig_load_buf(data, len, path, out, err);
	OPENSSL_cleanse(data, len);
	free(data);
	return rc;
}
