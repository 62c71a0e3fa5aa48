/* podmanifest.c: decodes a static-pod manifest as the kubelet does (YAML -> object), so that the kubelet
 * emulation compares pods, not bytes: comments, indentation and quoting style do not count. */
#include <errno.h>
#include <openssl/evp.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "sandbox.h"

#define MAX_DEPTH 64

static int is_match(const char *re, const char *text)
{
	regex_t rx;
	if (regcomp(&rx, re, REG_EXTENDED | REG_NOSUB))
		return 0;
	int m = regexec(&rx, text, 0, NULL, 0) == 0;
	regfree(&rx);
	return m;
}

/* A plain scalar resolved by the YAML 1.2 core schema: null, bool, int, float, else string. */
static json_t *plain_scalar(const char *v)
{
	if (!*v || !strcmp(v, "~") || !strcmp(v, "null") || !strcmp(v, "Null") || !strcmp(v, "NULL"))
		return json_null();
	if (!strcmp(v, "true") || !strcmp(v, "True") || !strcmp(v, "TRUE"))
		return json_true();
	if (!strcmp(v, "false") || !strcmp(v, "False") || !strcmp(v, "FALSE"))
		return json_false();
	if (is_match("^[-+]?[0-9]+$", v)) {
		errno = 0;
		long long n = strtoll(v, NULL, 10);
		if (!errno)
			return json_integer(n);
	}
	if (is_match("^[-+]?(\\.[0-9]+|[0-9]+(\\.[0-9]*)?)([eE][-+]?[0-9]+)?$", v))
		return json_real(strtod(v, NULL));
	return json_string(v);
}

static json_t *convert(yaml_document_t *doc, yaml_node_t *node, int depth)
{
	if (!node || depth > MAX_DEPTH)
		return NULL;
	if (node->type == YAML_SCALAR_NODE) {
		const char *v = (const char *)node->data.scalar.value;
		return node->data.scalar.style == YAML_PLAIN_SCALAR_STYLE ? plain_scalar(v) : json_string(v);
	}
	if (node->type == YAML_SEQUENCE_NODE) {
		json_t *arr = json_array();
		for (yaml_node_item_t *it = node->data.sequence.items.start;
		     it < node->data.sequence.items.top; it++) {
			json_t *v = convert(doc, yaml_document_get_node(doc, *it), depth + 1);
			if (!v) {
				json_decref(arr);
				return NULL;
			}
			json_array_append_new(arr, v);
		}
		return arr;
	}
	if (node->type != YAML_MAPPING_NODE)
		return NULL;
	json_t *obj = json_object();
	for (yaml_node_pair_t *p = node->data.mapping.pairs.start; p < node->data.mapping.pairs.top; p++) {
		yaml_node_t *k = yaml_document_get_node(doc, p->key);
		json_t *v = convert(doc, yaml_document_get_node(doc, p->value), depth + 1);
		if (!k || k->type != YAML_SCALAR_NODE || !v) {
			json_decref(v);
			json_decref(obj);
			return NULL;
		}
		json_object_set_new(obj, (const char *)k->data.scalar.value, v);
	}
	return obj;
}

static void sha256_text(const char *data, size_t len, char out[72])
{
	unsigned char md[32];
	unsigned int n = 0;
	EVP_Digest(data, len, md, &n, EVP_sha256(), NULL);
	strcpy(out, "sha256:");
	for (unsigned i = 0; i < 32; i++)
		snprintf(out + 7 + 2 * i, 3, "%02x", md[i]);
}

int lc_manifest_load(const char *path, json_t **pod, char **canonical, char raw_hash[72], rk_err *err)
{
	size_t len = 0;
	char *data = lc_read_text(path, &len);
	if (!data)
		return rk_err_set(err, RK_BADINPUT, "%s: %s", path, strerror(errno));
	if (raw_hash)
		sha256_text(data, len, raw_hash);
	yaml_parser_t parser;
	yaml_document_t doc;
	yaml_parser_initialize(&parser);
	yaml_parser_set_input_string(&parser, (const unsigned char *)data, len);
	int rc = RK_OK;
	json_t *root = NULL;
	if (!yaml_parser_load(&parser, &doc)) {
		rc = rk_err_set(err, RK_BADINPUT, "%s:%zu:%zu: %s", path, parser.problem_mark.line + 1,
		                parser.problem_mark.column + 1, parser.problem ? parser.problem : "bad YAML");
	} else {
		root = convert(&doc, yaml_document_get_root_node(&doc), 0);
		if (!json_is_object(root))
			rc = rk_err_set(err, RK_BADINPUT, "%s:1:1: not a YAML mapping (a Pod)", path);
		yaml_document_delete(&doc);
	}
	yaml_parser_delete(&parser);
	free(data);
	if (rc == RK_OK && canonical)
		*canonical = json_dumps(root, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
	if (rc == RK_OK && pod)
		*pod = json_incref(root);
	json_decref(root);
	return rc;
}
