/* encconfig_splice.c: writes an edited config over the text its original was loaded from, replacing only
 * the rules that changed (at their own indentation) and keeping every other byte: the untouched rules,
 * comments and formatting. When that cannot be done exactly it falls back to the canonical YAML
 * (encconfig_emit.c); the result always loads back as the edited config. */
#include <stdlib.h>
#include <string.h>

#include "encconfig_internal.h"

/* The canonical YAML of rule, every line moved so its "-" lands at column dash_col. */
static int append_rule_at(rk_buf *out, const rk_rule *rule, int dash_col)
{
	rk_buf text = RK_BUF_SECRET;
	rk_emit_rule(&text, rule);
	int shift = dash_col - 2, rc = 0;
	const char *p = (const char *)text.data, *end = p + text.len;
	while (rc == 0 && p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t n = nl ? (size_t)(nl - p) + 1 : (size_t)(end - p);
		size_t skip = 0;
		while (shift < 0 && skip < (size_t)-shift && skip < n && p[skip] == ' ')
			skip++;
		for (int i = 0; rc == 0 && i < shift; i++)
			rc = rk_buf_append(out, " ", 1);
		if (rc == 0)
			rc = rk_buf_append(out, p + skip, n - skip);
		p += n;
	}
	rk_buf_wipe_free(&text);
	return rc;
}

/* 1 when every changed rule can be replaced alone and the spans are in order inside the text. */
static int splicable(const rk_encconfig *edited, const rk_encconfig *base, size_t text_len)
{
	if (!base->spans || base->nrules != edited->nrules)
		return 0;
	size_t prev = 0;
	for (size_t i = 0; i < base->nrules; i++) {
		const rk_rule_span *s = &base->spans[i];
		int changed = !rk_rule_equal(&base->rules[i], &edited->rules[i]);
		if (changed && (s->dash_col < 0 || s->start < prev || s->end > text_len || s->start > s->end))
			return 0;
		if (changed)
			prev = s->end;
	}
	return 1;
}

static int splice(const rk_encconfig *edited, const rk_encconfig *base, const char *text, size_t text_len,
                  rk_buf *out)
{
	size_t copied = 0;
	int rc = 0;
	for (size_t i = 0; rc == 0 && i < base->nrules; i++) {
		if (rk_rule_equal(&base->rules[i], &edited->rules[i]))
			continue;
		const rk_rule_span *s = &base->spans[i];
		rc = rk_buf_append(out, text + copied, s->start - copied);
		if (rc == 0)
			rc = append_rule_at(out, &edited->rules[i], s->dash_col);
		copied = s->end;
	}
	if (rc == 0)
		rc = rk_buf_append(out, text + copied, text_len - copied);
	return rc;
}

/* 1 when text loads back as exactly `want`. */
static int loads_as(const rk_buf *text, const rk_encconfig *want)
{
	rk_encconfig *again = NULL;
	rk_err err;
	int same = rk_encconfig_load_buf((const char *)text->data, text->len, "spliced config", &again,
	                                 &err) == RK_OK &&
	           rk_encconfig_equal(again, want);
	rk_encconfig_free(again);
	return same;
}

char *rk_encconfig_emit_over(const rk_encconfig *edited, const rk_encconfig *base, const char *text,
                             size_t text_len, size_t *len)
{
	if (!text || !splicable(edited, base, text_len))
		return rk_encconfig_emit(edited, len);
	rk_buf out = RK_BUF_SECRET;
	if (splice(edited, base, text, text_len, &out) != 0) {
		rk_buf_wipe_free(&out);
		return NULL;
	}
	if (!loads_as(&out, edited)) {
		rk_buf_wipe_free(&out);
		return rk_encconfig_emit(edited, len);
	}
	if (len)
		*len = out.len;
	return rk_buf_steal(&out); /* NUL-terminated, like rk_encconfig_emit */
}
