/* yamldoc.c: strict reading of small YAML documents with file:line:col errors (see yamldoc.h). */
#include "rekey/yamldoc.h"

#include <errno.h>
#include <math.h>
#include <openssl/crypto.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rekey/duration.h"
#include "rekey/fsutil.h"

void rk_yaml_wipe_document(yaml_document_t *doc)
{
	for (yaml_node_t *n = doc->nodes.start; n && n < doc->nodes.top; n++)
		if (n->type == YAML_SCALAR_NODE && n->data.scalar.value)
			OPENSSL_cleanse(n->data.scalar.value, n->data.scalar.length);
}

void rk_yaml_wipe_parser(yaml_parser_t *parser)
{
	if (parser->buffer.start)
		OPENSSL_cleanse(parser->buffer.start, (size_t)(parser->buffer.end - parser->buffer.start));
	if (parser->raw_buffer.start)
		OPENSSL_cleanse(parser->raw_buffer.start,
		                (size_t)(parser->raw_buffer.end - parser->raw_buffer.start));
}

static int parse_error(const char *path, const yaml_parser_t *parser, rk_err *err)
{
	const yaml_mark_t *mark = parser->problem ? &parser->problem_mark : &parser->context_mark;
	return rk_err_set(err, RK_BADINPUT, "%s:%zu:%zu: invalid YAML: %s%s%s", path, mark->line + 1,
	                  mark->column + 1, parser->problem ? parser->problem : "parse error",
	                  parser->context ? " " : "", parser->context ? parser->context : "");
}

static int load_second_document(yaml_parser_t *parser, const char *path, rk_err *err)
{
	yaml_document_t extra;
	if (!yaml_parser_load(parser, &extra))
		return parse_error(path, parser, err);
	int more = yaml_document_get_root_node(&extra) != NULL;
	yaml_document_delete(&extra);
	if (more)
		return rk_err_set(err, RK_BADINPUT, "%s:%zu:1: expected one YAML document, found several",
		                  path, parser->mark.line + 1);
	return RK_OK;
}

int rk_yaml_load(rk_yaml *y, const char *path, const char *data, size_t len, rk_err *err)
{
	memset(y, 0, sizeof *y);
	y->path = strdup(path ? path : "<input>");
	if (!y->path)
		return rk_err_set(err, RK_FAIL, "out of memory");
	yaml_parser_t parser;
	if (!yaml_parser_initialize(&parser))
		return rk_err_set(err, RK_FAIL, "out of memory");
	yaml_parser_set_input_string(&parser, (const unsigned char *)data, len);
	int rc = RK_OK;
	if (!yaml_parser_load(&parser, &y->doc)) {
		rc = parse_error(y->path, &parser, err);
	} else {
		y->loaded = 1;
		if (!yaml_document_get_root_node(&y->doc))
			rc = rk_err_set(err, RK_BADINPUT, "%s:1:1: empty document", y->path);
		else
			rc = load_second_document(&parser, y->path, err);
	}
	yaml_parser_delete(&parser);
	return rc;
}

void rk_yaml_free(rk_yaml *y)
{
	if (y->loaded)
		yaml_document_delete(&y->doc);
	free(y->path);
	memset(y, 0, sizeof *y);
}

yaml_node_t *rk_yaml_root(rk_yaml *y)
{
	return yaml_document_get_root_node(&y->doc);
}
yaml_node_t *rk_yaml_at(rk_yaml *y, int id)
{
	return yaml_document_get_node(&y->doc, id);
}

int rk_yaml_fail(rk_yaml *y, const yaml_node_t *n, rk_err *err, const char *fmt, ...)
{
	char msg[RK_ERR_MSG_MAX];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	size_t line = n ? n->start_mark.line + 1 : 1, col = n ? n->start_mark.column + 1 : 1;
	return rk_err_set(err, RK_BADINPUT, "%s:%zu:%zu: %s", y->path, line, col, msg);
}

static const char *scalar_text(const yaml_node_t *n)
{
	return n && n->type == YAML_SCALAR_NODE ? (const char *)n->data.scalar.value : NULL;
}

static int in_list(const char *key, const char *const *allowed)
{
	for (; *allowed; allowed++)
		if (!strcmp(key, *allowed))
			return 1;
	return 0;
}

int rk_yaml_check_map(rk_yaml *y, const yaml_node_t *n, const char *what, const char *const *allowed,
                      rk_err *err)
{
	if (!n || n->type != YAML_MAPPING_NODE)
		return rk_yaml_fail(y, n, err, "%s: expected a mapping", what);
	for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++) {
		yaml_node_t *key = rk_yaml_at(y, p->key);
		const char *name = scalar_text(key);
		if (!name)
			return rk_yaml_fail(y, key, err, "%s: field names must be plain strings", what);
		if (!in_list(name, allowed))
			return rk_yaml_fail(y, key, err, "%s: unknown field \"%s\"", what, name);
		for (yaml_node_pair_t *q = n->data.mapping.pairs.start; q < p; q++)
			if (!strcmp(name, scalar_text(rk_yaml_at(y, q->key))))
				return rk_yaml_fail(y, key, err, "%s: duplicate field \"%s\"", what, name);
	}
	return RK_OK;
}

yaml_node_t *rk_yaml_get(rk_yaml *y, const yaml_node_t *n, const char *key)
{
	if (!n || n->type != YAML_MAPPING_NODE)
		return NULL;
	for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++) {
		const char *name = scalar_text(rk_yaml_at(y, p->key));
		if (name && !strcmp(name, key))
			return rk_yaml_at(y, p->value);
	}
	return NULL;
}

/* The scalar at field key, or NULL; errors when present but not a scalar or missing but required. */
static int field_scalar(rk_yaml *y, const yaml_node_t *n, const char *what, const char *key, int required,
                        yaml_node_t **value, rk_err *err)
{
	*value = rk_yaml_get(y, n, key);
	if (!*value)
		return required ? rk_yaml_fail(y, n, err, "%s: missing required field \"%s\"", what, key)
		                : RK_OK;
	if ((*value)->type != YAML_SCALAR_NODE)
		return rk_yaml_fail(y, *value, err, "%s.%s: expected a string", what, key);
	return RK_OK;
}

int rk_yaml_str(rk_yaml *y, const yaml_node_t *n, const char *what, const char *key, int required, char **out,
                rk_err *err)
{
	yaml_node_t *v;
	int rc = field_scalar(y, n, what, key, required, &v, err);
	if (rc != RK_OK || !v)
		return rc;
	if (required && !*scalar_text(v))
		return rk_yaml_fail(y, v, err, "%s.%s: must not be empty", what, key);
	char *copy = strdup(scalar_text(v));
	if (!copy)
		return rk_err_set(err, RK_FAIL, "out of memory");
	free(*out);
	*out = copy;
	return RK_OK;
}

int rk_yaml_path(rk_yaml *y, const yaml_node_t *n, const char *what, const char *key, int required,
                 char **out, rk_err *err)
{
	char *text = NULL, *expanded = NULL;
	int rc = rk_yaml_str(y, n, what, key, required, &text, err);
	if (rc != RK_OK || !text)
		return rc;
	int ex = rk_expand_home(text, &expanded);
	if (ex == -1)
		rc = rk_yaml_fail(y, rk_yaml_get(y, n, key), err,
		                  "%s.%s: \"%s\" starts with ~ but HOME is not set", what, key, text);
	else if (ex != 0)
		rc = rk_err_set(err, RK_FAIL, "out of memory");
	free(text);
	if (rc != RK_OK)
		return rc;
	free(*out);
	*out = expanded;
	return RK_OK;
}

int rk_yaml_long(rk_yaml *y, const yaml_node_t *n, const char *what, const char *key, long min, long max,
                 long *out, rk_err *err)
{
	yaml_node_t *v;
	int rc = field_scalar(y, n, what, key, 0, &v, err);
	if (rc != RK_OK || !v)
		return rc;
	char *end = NULL;
	errno = 0;
	long value = strtol(scalar_text(v), &end, 10);
	if (errno || end == scalar_text(v) || *end)
		return rk_yaml_fail(y, v, err, "%s.%s: expected an integer, got \"%s\"", what, key,
		                    scalar_text(v));
	if (value < min || value > max)
		return rk_yaml_fail(y, v, err, "%s.%s: %ld is out of range [%ld, %ld]", what, key, value, min,
		                    max);
	*out = value;
	return RK_OK;
}

int rk_yaml_double(rk_yaml *y, const yaml_node_t *n, const char *what, const char *key, double min,
                   double max, double *out, rk_err *err)
{
	yaml_node_t *v;
	int rc = field_scalar(y, n, what, key, 0, &v, err);
	if (rc != RK_OK || !v)
		return rc;
	char *end = NULL;
	double value = strtod(scalar_text(v), &end);
	if (end == scalar_text(v) || *end || isnan(value))
		return rk_yaml_fail(y, v, err, "%s.%s: expected a number, got \"%s\"", what, key,
		                    scalar_text(v));
	if (value < min || value > max)
		return rk_yaml_fail(y, v, err, "%s.%s: %g is out of range [%g, %g]", what, key, value, min,
		                    max);
	*out = value;
	return RK_OK;
}

int rk_yaml_duration_ms(rk_yaml *y, const yaml_node_t *n, const char *what, const char *key, long *out_ms,
                        rk_err *err)
{
	yaml_node_t *v;
	int rc = field_scalar(y, n, what, key, 0, &v, err);
	if (rc != RK_OK || !v)
		return rc;
	long ms = rk_parse_duration_ms(scalar_text(v));
	if (ms < 0)
		return rk_yaml_fail(y, v, err, "%s.%s: invalid duration \"%s\" (use e.g. 500ms, 30s, 5m)",
		                    what, key, scalar_text(v));
	*out_ms = ms;
	return RK_OK;
}

void rk_str_list_free(char **list, size_t count)
{
	for (size_t i = 0; list && i < count; i++)
		free(list[i]);
	free(list);
}

int rk_yaml_str_list(rk_yaml *y, const yaml_node_t *n, const char *what, const char *key, int required,
                     char ***out, size_t *count, rk_err *err)
{
	yaml_node_t *v = rk_yaml_get(y, n, key);
	if (!v)
		return required ? rk_yaml_fail(y, n, err, "%s: missing required field \"%s\"", what, key)
		                : RK_OK;
	if (v->type != YAML_SEQUENCE_NODE)
		return rk_yaml_fail(y, v, err, "%s.%s: expected a list", what, key);
	size_t n_items = (size_t)(v->data.sequence.items.top - v->data.sequence.items.start);
	if (required && n_items == 0)
		return rk_yaml_fail(y, v, err, "%s.%s: must not be empty", what, key);
	char **list = calloc(n_items + 1, sizeof *list);
	if (!list)
		return rk_err_set(err, RK_FAIL, "out of memory");
	for (size_t i = 0; i < n_items; i++) {
		yaml_node_t *item = rk_yaml_at(y, v->data.sequence.items.start[i]);
		if (!scalar_text(item) || !(list[i] = strdup(scalar_text(item)))) {
			rk_str_list_free(list, i);
			return rk_yaml_fail(y, item, err, "%s.%s[%zu]: expected a string", what, key, i);
		}
	}
	rk_str_list_free(*out, *count);
	*out = list;
	*count = n_items;
	return RK_OK;
}
