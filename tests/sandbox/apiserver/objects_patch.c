/* objects_patch.c: the PATCH formats of the sandbox apiserver applied to a stored object: JSON merge patch
 * (RFC 7386), strategic merge patch for the simple cases kubectl apply sends for secrets and configmaps
 * (map merges; $-directives dropped; no list merge keys), and JSON patch (RFC 6902: add, remove,
 * replace, move, copy, test). Malformed patch documents are 400 BadRequest, operations that cannot
 * apply are 422, as kube-apiserver answers. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "apiserver.h"

static json_t *merge_patch(json_t *target, json_t *patch, int strategic)
{
	if (!json_is_object(patch))
		return json_deep_copy(patch);
	json_t *res = json_is_object(target) ? json_deep_copy(target) : json_object();
	const char *k;
	json_t *v;
	json_object_foreach(patch, k, v)
	{
		if (strategic && k[0] == '$')
			continue;
		if (json_is_null(v))
			json_object_del(res, k);
		else
			json_object_set_new(res, k, merge_patch(json_object_get(res, k), v, strategic));
	}
	return res;
}

/* ---- JSON pointer (RFC 6901) ---- */

/* Splits "/a/b~1c" into its unescaped tokens (malloc'd array of malloc'd strings); -1 when malformed. */
static int pointer_split(const char *ptr, char ***tokens, size_t *n)
{
	*tokens = NULL;
	*n = 0;
	if (!*ptr)
		return 0;
	if (*ptr != '/')
		return -1;
	size_t cap = 1;
	for (const char *p = ptr; *p; p++)
		cap += *p == '/';
	char **t = calloc(cap, sizeof *t);
	if (!t)
		return -1;
	for (const char *p = ptr; *p == '/';) {
		p++;
		size_t len = strcspn(p, "/");
		char *tok = malloc(len + 1), *o = tok;
		for (size_t i = 0; tok && i < len; i++) {
			if (p[i] == '~' && (p[i + 1] == '0' || p[i + 1] == '1') && i + 1 < len) {
				*o++ = p[i + 1] == '0' ? '~' : '/';
				i++;
			} else
				*o++ = p[i];
		}
		if (tok)
			*o = 0;
		t[(*n)++] = tok;
		p += len;
	}
	*tokens = t;
	return 0;
}

static void tokens_free(char **t, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(t[i]);
	free(t);
}

/* Array index token: digits only (or "-" = past the end when allow_end). */
static int array_index(json_t *arr, const char *tok, int allow_end, size_t *idx)
{
	size_t size = json_array_size(arr);
	if (allow_end && !strcmp(tok, "-")) {
		*idx = size;
		return 0;
	}
	if (!*tok || (tok[0] == '0' && tok[1]))
		return -1;
	for (const char *p = tok; *p; p++)
		if (!isdigit((unsigned char)*p))
			return -1;
	*idx = strtoul(tok, NULL, 10);
	return *idx < size + (allow_end ? 1 : 0) ? 0 : -1;
}

/* The container holding the last token of the pointer (borrowed), or NULL. */
static json_t *parent_of(json_t *doc, char **t, size_t n)
{
	json_t *cur = doc;
	for (size_t i = 0; cur && i + 1 < n; i++) {
		size_t idx;
		if (json_is_object(cur))
			cur = json_object_get(cur, t[i]);
		else if (json_is_array(cur) && array_index(cur, t[i], 0, &idx) == 0)
			cur = json_array_get(cur, idx);
		else
			cur = NULL;
	}
	return cur;
}

static json_t *pointer_get(json_t *doc, char **t, size_t n)
{
	if (n == 0)
		return doc;
	json_t *parent = parent_of(doc, t, n);
	size_t idx;
	if (json_is_object(parent))
		return json_object_get(parent, t[n - 1]);
	if (json_is_array(parent) && array_index(parent, t[n - 1], 0, &idx) == 0)
		return json_array_get(parent, idx);
	return NULL;
}

/* add: steals value. Returns 0 or -1. (The root cannot be replaced: objects stay objects.) */
static int pointer_add(json_t *doc, char **t, size_t n, json_t *value)
{
	json_t *parent = n ? parent_of(doc, t, n) : NULL;
	size_t idx;
	int rc = -1;
	if (json_is_object(parent))
		rc = json_object_set_new(parent, t[n - 1], value);
	else if (json_is_array(parent) && array_index(parent, t[n - 1], 1, &idx) == 0)
		return json_array_insert_new(parent, idx, value);
	else
		json_decref(value);
	return rc;
}

static int pointer_remove(json_t *doc, char **t, size_t n)
{
	json_t *parent = n ? parent_of(doc, t, n) : NULL;
	size_t idx;
	if (json_is_object(parent))
		return json_object_del(parent, t[n - 1]);
	if (json_is_array(parent) && array_index(parent, t[n - 1], 0, &idx) == 0)
		return json_array_remove(parent, idx);
	return -1;
}

/* ---- JSON patch ---- */

static int json_patch_op(json_t *doc, json_t *op, sbx_apierr *e)
{
	const char *name = json_string_value(json_object_get(op, "op"));
	const char *path = json_string_value(json_object_get(op, "path"));
	const char *from = json_string_value(json_object_get(op, "from"));
	json_t *value = json_object_get(op, "value");
	int needs_value = name && (!strcmp(name, "add") || !strcmp(name, "replace") || !strcmp(name, "test"));
	int needs_from = name && (!strcmp(name, "move") || !strcmp(name, "copy"));
	char **pt = NULL, **ft = NULL;
	size_t pn = 0, fn = 0;
	if (!name || !path || (needs_value && !value) || (needs_from && !from) ||
	    pointer_split(path, &pt, &pn) < 0 || (needs_from && pointer_split(from, &ft, &fn) < 0)) {
		tokens_free(pt, pn);
		sbx_apierr_set(e, 400, "BadRequest", NULL, "", "%s",
		               "invalid JSON patch operation: bad or missing op, path, value or from");
		return -1;
	}
	int rc = -1;
	json_t *moved = needs_from ? pointer_get(doc, ft, fn) : NULL;
	if (!strcmp(name, "add"))
		rc = pointer_add(doc, pt, pn, json_deep_copy(value));
	else if (!strcmp(name, "remove"))
		rc = pointer_remove(doc, pt, pn);
	else if (!strcmp(name, "replace"))
		rc = pn && pointer_get(doc, pt, pn) && pointer_remove(doc, pt, pn) == 0
		         ? pointer_add(doc, pt, pn, json_deep_copy(value))
		         : -1;
	else if (!strcmp(name, "test"))
		rc = json_equal(pointer_get(doc, pt, pn), value) ? 0 : -1;
	else if (moved && !strcmp(name, "copy"))
		rc = pointer_add(doc, pt, pn, json_deep_copy(moved));
	else if (moved && !strcmp(name, "move")) {
		json_t *keep = json_deep_copy(moved);
		rc = pointer_remove(doc, ft, fn) || pointer_add(doc, pt, pn, keep);
	}
	if (rc != 0)
		sbx_apierr_set(e, 422, "Invalid", NULL, "",
		               "the JSON patch operation %s at %s cannot be applied", name, path);
	tokens_free(pt, pn);
	tokens_free(ft, fn);
	return rc == 0 ? 0 : -1;
}

json_t *sbx_apply_patch(json_t *cur, json_t *patch, sbx_patch_type type, sbx_apierr *e)
{
	if (type != SBX_PATCH_JSON) {
		if (!json_is_object(patch)) {
			sbx_apierr_set(e, 400, "BadRequest", NULL, "", "the patch is not a JSON object");
			return NULL;
		}
		return merge_patch(cur, patch, type == SBX_PATCH_STRATEGIC);
	}
	if (!json_is_array(patch)) {
		sbx_apierr_set(e, 400, "BadRequest", NULL, "", "a JSON patch must be an array of operations");
		return NULL;
	}
	json_t *doc = json_deep_copy(cur);
	size_t i;
	json_t *op;
	json_array_foreach(patch, i, op)
	{
		if (!json_is_object(op) || json_patch_op(doc, op, e) < 0) {
			if (!json_is_object(op))
				sbx_apierr_set(e, 400, "BadRequest", NULL, "",
				               "JSON patch operation %zu is not an object", i);
			json_decref(doc);
			return NULL;
		}
	}
	return doc;
}
