/* selector.c: the labelSelector of a list, equality-based as kube-apiserver parses it (terms separated
 * by commas: `k=v`, `k==v`, `k!=v`, `k` (exists), `!k` (does not exist)), applied to the items of a
 * list page. Set-based terms (`in`, `notin`) are refused with 400 rather than ignored. As the real
 * apiserver does for a filtered list, the page carries no remainingItemCount. */
#include <ctype.h>
#include <string.h>

#include "apiserver.h"

typedef struct term {
	char key[256], value[256];
	enum { T_EQ, T_NE, T_EXISTS, T_ABSENT } op;
} term;

static void trim_copy(char *out, size_t cap, const char *s, size_t n)
{
	while (n && isspace((unsigned char)*s))
		s++, n--;
	while (n && isspace((unsigned char)s[n - 1]))
		n--;
	snprintf(out, cap, "%.*s", (int)n, s);
}

/* One term of text[0..n); 0 on success. */
static int parse_term(const char *text, size_t n, term *t)
{
	char buf[600];
	trim_copy(buf, sizeof buf, text, n);
	if (!buf[0] || strchr(buf, '(') || strstr(buf, " in ") || strstr(buf, " notin "))
		return -1;
	char *ne = strstr(buf, "!="), *eq = strchr(buf, '=');
	if (ne) {
		t->op = T_NE;
		trim_copy(t->key, sizeof t->key, buf, (size_t)(ne - buf));
		trim_copy(t->value, sizeof t->value, ne + 2, strlen(ne + 2));
	} else if (eq) {
		t->op = T_EQ;
		trim_copy(t->key, sizeof t->key, buf, (size_t)(eq - buf));
		const char *v = eq[1] == '=' ? eq + 2 : eq + 1;
		trim_copy(t->value, sizeof t->value, v, strlen(v));
	} else if (buf[0] == '!') {
		t->op = T_ABSENT;
		trim_copy(t->key, sizeof t->key, buf + 1, strlen(buf + 1));
	} else {
		t->op = T_EXISTS;
		trim_copy(t->key, sizeof t->key, buf, strlen(buf));
	}
	return t->key[0] && !strpbrk(t->key, " =!") && !strpbrk(t->value, " =!") ? 0 : -1;
}

static int matches(json_t *item, const term *terms, size_t n)
{
	json_t *labels = json_object_get(json_object_get(item, "metadata"), "labels");
	for (size_t i = 0; i < n; i++) {
		const char *v = json_string_value(json_object_get(labels, terms[i].key));
		int ok = terms[i].op == T_EQ       ? v && !strcmp(v, terms[i].value)
		         : terms[i].op == T_NE     ? !v || strcmp(v, terms[i].value)
		         : terms[i].op == T_EXISTS ? v != NULL
		                                   : v == NULL;
		if (!ok)
			return 0;
	}
	return 1;
}

int sbx_selector_filter(json_t *list, const char *selector, sbx_apierr *e)
{
	term terms[16];
	size_t n = 0;
	for (const char *p = selector; *p;) {
		size_t len = strcspn(p, ",");
		if (n == sizeof terms / sizeof terms[0] || parse_term(p, len, &terms[n++]))
			return sbx_apierr_set(e, 400, "BadRequest", NULL, "",
			                      "unable to parse requirement: the sandbox apiserver supports "
			                      "equality-based label selectors only: \"%s\"",
			                      selector),
			       -1;
		p += len + (p[len] == ',');
	}
	json_t *items = json_object_get(list, "items");
	for (size_t i = json_array_size(items); i-- > 0;)
		if (!matches(json_array_get(items, i), terms, n))
			json_array_remove(items, i);
	json_object_del(json_object_get(list, "metadata"), "remainingItemCount");
	return 0;
}
