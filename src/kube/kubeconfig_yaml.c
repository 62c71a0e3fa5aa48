/* kubeconfig_yaml.c: reads one kubeconfig file into a libyaml document and gives typed access to its
 * fields with positions for error messages (see kubeconfig_internal.h). */
#include "kubeconfig_internal.h"

#include <errno.h>
#include <openssl/crypto.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rekey/fsutil.h"
#include "rekey/yamldoc.h"

static char *dir_of(const char *path)
{
	const char *slash = strrchr(path, '/');
	if (!slash)
		return strdup(".");
	if (slash == path)
		return strdup("/");
	return strndup(path, (size_t)(slash - path));
}

int kc_node_err(kc_file *f, yaml_node_t *node, rk_err *err, const char *fmt, ...)
{
	char msg[RK_ERR_MSG_MAX];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	if (node)
		return rk_err_set(err, RK_BADINPUT, "%s:%zu:%zu: %s", f->path, node->start_mark.line + 1,
		                  node->start_mark.column + 1, msg);
	return rk_err_set(err, RK_BADINPUT, "%s: %s", f->path, msg);
}

/* Parses the file's text; the parser's buffers (tokens, keys) are wiped before they are freed. */
static int parse_document(kc_file *f, const char *text, size_t len, rk_err *err)
{
	yaml_parser_t parser;
	yaml_parser_initialize(&parser);
	yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
	int ok = yaml_parser_load(&parser, &f->doc);
	if (!ok) {
		rk_err_set(err, RK_BADINPUT, "%s:%zu:%zu: invalid YAML: %s", f->path,
		           parser.problem_mark.line + 1, parser.problem_mark.column + 1,
		           parser.problem ? parser.problem : "parse error");
		rk_yaml_wipe_parser(&parser);
		yaml_parser_delete(&parser);
		memset(&f->doc, 0, sizeof f->doc);
		return RK_BADINPUT;
	}
	rk_yaml_wipe_parser(&parser);
	yaml_parser_delete(&parser);
	f->root = yaml_document_get_root_node(&f->doc);
	if (f->root && f->root->type == YAML_SCALAR_NODE && f->root->data.scalar.length == 0)
		f->root = NULL; /* an empty file is an empty config, as client-go reads it */
	if (f->root && f->root->type != YAML_MAPPING_NODE)
		return kc_node_err(f, f->root, err,
		                   "a kubeconfig must be a mapping (apiVersion, clusters, ...)");
	return RK_OK;
}

int kc_file_load(kc_file *f, const char *path, int *missing, rk_err *err)
{
	memset(f, 0, sizeof *f);
	*missing = 0;
	f->path = strdup(path);
	f->dir = dir_of(path);
	if (!f->path || !f->dir)
		return rk_err_set(err, RK_FAIL, "out of memory");
	char *text = NULL;
	size_t len = 0;
	if (rk_read_file(path, &text, &len, err) != RK_OK) {
		*missing = access(path, F_OK) != 0 && errno == ENOENT;
		return err->code;
	}
	int rc = parse_document(f, text, len, err);
	OPENSSL_cleanse(text, len);
	free(text);
	return rc;
}

void kc_file_free(kc_file *f)
{
	if (f->path) {
		rk_yaml_wipe_document(&f->doc); /* tokens, client keys, exec env */
		yaml_document_delete(&f->doc);
	}
	free(f->path);
	free(f->dir);
	memset(f, 0, sizeof *f);
}

static int scalar_is(yaml_node_t *n, const char *s)
{
	return n->type == YAML_SCALAR_NODE && n->data.scalar.length == strlen(s) &&
	       !memcmp(n->data.scalar.value, s, n->data.scalar.length);
}

static int scalar_is_null(yaml_node_t *n)
{
	if (n->type != YAML_SCALAR_NODE || n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
		return 0;
	return n->data.scalar.length == 0 || scalar_is(n, "null") || scalar_is(n, "~") ||
	       scalar_is(n, "Null") || scalar_is(n, "NULL");
}

yaml_node_t *kc_get(kc_file *f, yaml_node_t *map, const char *key)
{
	if (!map || map->type != YAML_MAPPING_NODE)
		return NULL;
	for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top; p++) {
		yaml_node_t *k = yaml_document_get_node(&f->doc, p->key);
		if (k && scalar_is(k, key))
			return yaml_document_get_node(&f->doc, p->value);
	}
	return NULL;
}

int kc_get_str(kc_file *f, yaml_node_t *map, const char *key, const char **out, rk_err *err)
{
	*out = "";
	yaml_node_t *v = kc_get(f, map, key);
	if (!v || scalar_is_null(v))
		return RK_OK;
	if (v->type != YAML_SCALAR_NODE)
		return kc_node_err(f, v, err, "%s must be a string", key);
	*out = (const char *)v->data.scalar.value;
	return RK_OK;
}

int kc_get_bool(kc_file *f, yaml_node_t *map, const char *key, int *out, rk_err *err)
{
	static const char *const yes[] = {"true", "True", "TRUE", "yes", "Yes", "YES", "on", "On", "ON"};
	static const char *const no[] = {"false", "False", "FALSE", "no", "No", "NO", "off", "Off", "OFF"};
	*out = 0;
	yaml_node_t *v = kc_get(f, map, key);
	if (!v || scalar_is_null(v))
		return RK_OK;
	for (size_t i = 0; i < sizeof yes / sizeof yes[0]; i++) {
		if (scalar_is(v, yes[i])) {
			*out = 1;
			return RK_OK;
		}
		if (scalar_is(v, no[i]))
			return RK_OK;
	}
	return kc_node_err(f, v, err, "%s must be true or false", key);
}

static int element_name(kc_file *f, yaml_node_t *elem, const char *list, const char **name, rk_err *err)
{
	if (elem->type != YAML_MAPPING_NODE)
		return kc_node_err(f, elem, err, "each element of %s must be a mapping with name", list);
	if (kc_get_str(f, elem, "name", name, err) != RK_OK)
		return err->code;
	if (!**name)
		return kc_node_err(f, elem, err, "an element of %s has no name", list);
	return RK_OK;
}

int kc_find_named(kc_file *f, const char *list, const char *inner, const char *name, yaml_node_t **out,
                  rk_err *err)
{
	*out = NULL;
	yaml_node_t *seq = kc_get(f, f->root, list);
	if (!seq || scalar_is_null(seq))
		return RK_OK;
	if (seq->type != YAML_SEQUENCE_NODE)
		return kc_node_err(f, seq, err, "%s must be a list", list);
	yaml_node_t *found = NULL;
	for (yaml_node_item_t *it = seq->data.sequence.items.start; it < seq->data.sequence.items.top; it++) {
		yaml_node_t *elem = yaml_document_get_node(&f->doc, *it);
		const char *elem_name;
		if (element_name(f, elem, list, &elem_name, err) != RK_OK)
			return err->code;
		if (strcmp(elem_name, name) != 0)
			continue;
		if (found)
			return kc_node_err(f, elem, err, "duplicate name \"%s\" in %s", name, list);
		found = kc_get(f, elem, inner);
		if (!found || scalar_is_null(found))
			return kc_node_err(f, elem, err, "%s \"%s\" has no %s field", inner, name, inner);
		if (found->type != YAML_MAPPING_NODE)
			return kc_node_err(f, found, err, "%s \"%s\": %s must be a mapping", inner, name,
			                   inner);
	}
	*out = found;
	return RK_OK;
}
