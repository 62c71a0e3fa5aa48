/* promtext.c: the Prometheus text format 0.0.4 parser: lines are gathered across chunks, each line is
 * decoded into a scratch buffer (names and unescaped label values, NUL-terminated) and handed to the
 * callbacks. Histogram helpers live in promhist.c. See include/rekey/promtext.h. */
#include "rekey/promtext.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rekey/buf.h"

struct rk_prom_parser {
	char *source;
	rk_prom_sample_cb on_sample;
	rk_prom_meta_cb on_meta;
	void *ud;
	rk_buf line;    /* the line being gathered */
	rk_buf scratch; /* decoded tokens of the current line */
	int lineno;
	int failed;
	rk_prom_label labels[RK_PROM_LABELS_MAX];
};

/* Position in the line being parsed, and where decoded tokens go. */
struct cursor {
	const char *s;
	size_t len, pos;
	char *out; /* next free byte of the scratch buffer (sized so it cannot overflow) */
	rk_prom_parser *p;
	rk_err *err;
};

static int fail(struct cursor *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(struct cursor *c, const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	c->p->failed = 1;
	return rk_err_set(c->err, RK_BADINPUT, "%s:%d:%zu: %s", c->p->source, c->p->lineno, c->pos + 1, msg);
}

static int at_end(const struct cursor *c)
{
	return c->pos >= c->len;
}
static char peek(const struct cursor *c)
{
	return at_end(c) ? '\0' : c->s[c->pos];
}
static int is_blank(char ch)
{
	return ch == ' ' || ch == '\t';
}

static size_t skip_blanks(struct cursor *c)
{
	size_t start = c->pos;
	while (is_blank(peek(c)))
		c->pos++;
	return c->pos - start;
}

static int is_name_char(char ch, int first, int metric)
{
	if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || ch == '_' || (metric && ch == ':'))
		return 1;
	return !first && ch >= '0' && ch <= '9';
}

/* Copies a metric name (metric = 1: [a-zA-Z_:][a-zA-Z0-9_:]*) or label name into the scratch buffer. */
static const char *read_name(struct cursor *c, int metric)
{
	char *start = c->out;
	if (!is_name_char(peek(c), 1, metric))
		return NULL;
	while (is_name_char(peek(c), 0, metric))
		*c->out++ = c->s[c->pos++];
	*c->out++ = '\0';
	return start;
}

/* Copies a run of non-blank characters (a value, timestamp or TYPE word) into the scratch buffer. */
static const char *read_token(struct cursor *c)
{
	char *start = c->out;
	while (!at_end(c) && !is_blank(peek(c)))
		*c->out++ = c->s[c->pos++];
	*c->out++ = '\0';
	return start;
}

static int expect(struct cursor *c, char ch, const char *what)
{
	if (peek(c) != ch)
		return fail(c, "expected %s", what);
	c->pos++;
	return RK_OK;
}

/* A quoted label value with the escapes \\, \" and \n. */
static const char *read_label_value(struct cursor *c)
{
	char *start = c->out;
	if (expect(c, '"', "'\"' to open the label value") != RK_OK)
		return NULL;
	for (;;) {
		if (at_end(c)) {
			fail(c, "unterminated label value");
			return NULL;
		}
		char ch = c->s[c->pos++];
		if (ch == '"')
			break;
		if (ch == '\\') {
			char esc = peek(c);
			if (esc != '\\' && esc != '"' && esc != 'n') {
				fail(c, "invalid escape sequence '\\%c' in label value", esc ? esc : ' ');
				return NULL;
			}
			c->pos++;
			ch = esc == 'n' ? '\n' : esc;
		}
		*c->out++ = ch;
	}
	*c->out++ = '\0';
	return start;
}

static int check_duplicate_label(struct cursor *c, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(c->p->labels[i].name, name))
			return RK_BADINPUT;
	return RK_OK;
}

static int read_one_label(struct cursor *c, size_t n)
{
	if (n >= RK_PROM_LABELS_MAX)
		return fail(c, "more than %d labels", RK_PROM_LABELS_MAX);
	size_t name_pos = c->pos;
	const char *name = read_name(c, 0);
	if (!name)
		return fail(c, "expected a label name");
	if (check_duplicate_label(c, n, name) != RK_OK) {
		c->pos = name_pos;
		return fail(c, "duplicate label \"%s\"", name);
	}
	skip_blanks(c);
	if (expect(c, '=', "'=' after the label name") != RK_OK)
		return RK_BADINPUT;
	skip_blanks(c);
	const char *value = read_label_value(c);
	if (!value)
		return RK_BADINPUT;
	c->p->labels[n].name = name;
	c->p->labels[n].value = value;
	return RK_OK;
}

/* {name="value",...} with an optional trailing comma; *n = how many. */
static int read_labels(struct cursor *c, size_t *n)
{
	*n = 0;
	c->pos++; /* '{' */
	for (;;) {
		skip_blanks(c);
		if (peek(c) == '}')
			break;
		if (read_one_label(c, *n) != RK_OK)
			return RK_BADINPUT;
		(*n)++;
		skip_blanks(c);
		if (peek(c) == ',') {
			c->pos++;
			continue;
		}
		if (peek(c) != '}')
			return fail(c, "expected ',' or '}' after a label");
	}
	c->pos++; /* '}' */
	return RK_OK;
}

/* A Go-style float: decimal, exponent, hex, +Inf/-Inf/NaN in any case. 0 when the whole token parsed. */
static int parse_value(const char *token, double *value)
{
	char *end;
	*value = strtod(token, &end);
	return *token && !*end ? 0 : -1;
}

static int parse_timestamp(const char *token, int64_t *ts)
{
	char *end;
	errno = 0;
	long long v = strtoll(token, &end, 10);
	if (!*token || *end || errno == ERANGE)
		return -1;
	*ts = v;
	return 0;
}

/* Value and optional timestamp after the name and labels; had_blank: blanks were already skipped. */
static int read_value_and_timestamp(struct cursor *c, rk_prom_sample *sample, int had_blank)
{
	if ((!skip_blanks(c) && !had_blank) || at_end(c))
		return fail(c, at_end(c) ? "missing sample value" : "expected a blank before the value");
	size_t value_pos = c->pos;
	const char *token = read_token(c);
	if (parse_value(token, &sample->value) != 0) {
		c->pos = value_pos;
		return fail(c, "invalid sample value \"%s\"", token);
	}
	skip_blanks(c);
	if (at_end(c))
		return RK_OK;
	size_t ts_pos = c->pos;
	sample->has_timestamp = 1;
	token = read_token(c);
	if (parse_timestamp(token, &sample->timestamp_ms) != 0) {
		c->pos = ts_pos;
		return fail(c, "invalid timestamp \"%s\"", token);
	}
	skip_blanks(c);
	if (!at_end(c))
		return fail(c, "unexpected text after the timestamp");
	return RK_OK;
}

static int parse_sample(struct cursor *c)
{
	rk_prom_sample sample;
	memset(&sample, 0, sizeof sample);
	sample.line = c->p->lineno;
	sample.name = read_name(c, 1);
	if (!sample.name)
		return fail(c, "expected a metric name");
	int had_blank = skip_blanks(c) > 0;
	if (peek(c) == '{') {
		if (read_labels(c, &sample.nlabels) != RK_OK)
			return RK_BADINPUT;
		had_blank = 0;
	}
	sample.labels = c->p->labels;
	if (read_value_and_timestamp(c, &sample, had_blank) != RK_OK)
		return RK_BADINPUT;
	return c->p->on_sample ? c->p->on_sample(&sample, c->p->ud) : 0;
}

/* HELP text: the rest of the line with \\ and \n unescaped. */
static const char *read_help_text(struct cursor *c)
{
	char *start = c->out;
	while (!at_end(c)) {
		char ch = c->s[c->pos++];
		if (ch == '\\' && (peek(c) == '\\' || peek(c) == 'n'))
			ch = c->s[c->pos++] == 'n' ? '\n' : '\\';
		*c->out++ = ch;
	}
	*c->out++ = '\0';
	return start;
}

static int check_type_word(struct cursor *c, const char *word)
{
	static const char *const types[] = {"counter", "gauge", "histogram", "summary", "untyped"};
	for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
		if (!strcmp(word, types[i]))
			return RK_OK;
	return fail(c, "unknown metric type \"%s\"", word);
}

/* "# HELP name text", "# TYPE name type"; any other comment is ignored. */
static int parse_comment(struct cursor *c)
{
	c->pos++; /* '#' */
	skip_blanks(c);
	const char *word = read_token(c);
	int help = !strcmp(word, "HELP"), type = !strcmp(word, "TYPE");
	if (!help && !type)
		return RK_OK;
	skip_blanks(c);
	const char *metric = read_name(c, 1);
	if (!metric)
		return fail(c, "expected a metric name after # %s", word);
	if (!at_end(c) && !skip_blanks(c))
		return fail(c, "expected a blank after the metric name");
	const char *text = help ? read_help_text(c) : read_token(c);
	if (type) {
		if (check_type_word(c, text) != RK_OK)
			return RK_BADINPUT;
		skip_blanks(c);
		if (!at_end(c))
			return fail(c, "unexpected text after the metric type");
	}
	return c->p->on_meta ? c->p->on_meta(help ? "HELP" : "TYPE", metric, text, c->p->lineno, c->p->ud)
	                     : 0;
}

static int parse_line(rk_prom_parser *p, const char *s, size_t len, rk_err *err)
{
	p->lineno++;
	if (memchr(s, '\0', len)) {
		p->failed = 1;
		return rk_err_set(err, RK_BADINPUT, "%s:%d: NUL byte in the line", p->source, p->lineno);
	}
	rk_buf_reset(&p->scratch);
	if (rk_buf_reserve(&p->scratch, 2 * len + 8) != 0)
		return rk_err_set(err, RK_FAIL, "out of memory");
	struct cursor c = {s, len, 0, (char *)p->scratch.data, p, err};
	skip_blanks(&c);
	if (at_end(&c))
		return RK_OK;
	return peek(&c) == '#' ? parse_comment(&c) : parse_sample(&c);
}

rk_prom_parser *rk_prom_parser_new(const char *source, rk_prom_sample_cb on_sample, rk_prom_meta_cb on_meta,
                                   void *ud)
{
	rk_prom_parser *p = calloc(1, sizeof *p);
	if (!p)
		return NULL;
	p->source = strdup(source ? source : "<metrics>");
	if (!p->source) {
		free(p);
		return NULL;
	}
	p->on_sample = on_sample;
	p->on_meta = on_meta;
	p->ud = ud;
	return p;
}

void rk_prom_parser_free(rk_prom_parser *p)
{
	if (!p)
		return;
	rk_buf_free(&p->line);
	rk_buf_free(&p->scratch);
	free(p->source);
	free(p);
}

/* Parses the gathered line and starts a new one. */
static int flush_line(rk_prom_parser *p, rk_err *err)
{
	int rc = parse_line(p, (const char *)rk_buf_cstr(&p->line), p->line.len, err);
	rk_buf_reset(&p->line);
	return rc;
}

static int gather(rk_prom_parser *p, const char *data, size_t len, rk_err *err)
{
	if (p->line.len + len > RK_PROM_LINE_MAX) {
		p->failed = 1;
		return rk_err_set(err, RK_BADINPUT, "%s:%d: line longer than %d bytes", p->source,
		                  p->lineno + 1, RK_PROM_LINE_MAX);
	}
	if (rk_buf_append(&p->line, data, len) != 0)
		return rk_err_set(err, RK_FAIL, "out of memory");
	return RK_OK;
}

int rk_prom_parser_feed(rk_prom_parser *p, const char *data, size_t len, rk_err *err)
{
	if (p->failed)
		return rk_err_set(err, RK_BADINPUT, "%s: the parser already failed", p->source);
	while (len > 0) {
		const char *nl = memchr(data, '\n', len);
		size_t n = nl ? (size_t)(nl - data) : len;
		int rc = gather(p, data, n, err);
		if (rc == RK_OK && nl)
			rc = flush_line(p, err);
		if (rc != RK_OK)
			return rc;
		data += nl ? n + 1 : n;
		len -= nl ? n + 1 : n;
	}
	return RK_OK;
}

int rk_prom_parser_finish(rk_prom_parser *p, rk_err *err)
{
	if (p->failed)
		return rk_err_set(err, RK_BADINPUT, "%s: the parser already failed", p->source);
	return p->line.len ? flush_line(p, err) : RK_OK;
}

int rk_prom_parse(const char *source, const char *text, size_t len, rk_prom_sample_cb on_sample,
                  rk_prom_meta_cb on_meta, void *ud, rk_err *err)
{
	rk_prom_parser *p = rk_prom_parser_new(source, on_sample, on_meta, ud);
	if (!p)
		return rk_err_set(err, RK_FAIL, "out of memory");
	int rc = rk_prom_parser_feed(p, text, len, err);
	if (rc == RK_OK)
		rc = rk_prom_parser_finish(p, err);
	rk_prom_parser_free(p);
	return rc;
}

/* ---- lookups ---- */

const char *rk_prom_label_value(const rk_prom_sample *sample, const char *name)
{
	for (size_t i = 0; i < sample->nlabels; i++)
		if (!strcmp(sample->labels[i].name, name))
			return sample->labels[i].value;
	return NULL;
}

int rk_prom_labels_match(const rk_prom_sample *sample, const rk_prom_label *matchers, size_t nmatchers)
{
	for (size_t i = 0; i < nmatchers; i++) {
		const char *v = rk_prom_label_value(sample, matchers[i].name);
		if (strcmp(v ? v : "", matchers[i].value) != 0)
			return 0;
	}
	return 1;
}

struct find_state {
	const char *name;
	const rk_prom_label *matchers;
	size_t nmatchers;
	double sum;
	int matched;
};

static int find_cb(const rk_prom_sample *sample, void *ud)
{
	struct find_state *f = ud;
	if (!strcmp(sample->name, f->name) && rk_prom_labels_match(sample, f->matchers, f->nmatchers)) {
		f->sum += sample->value;
		f->matched++;
	}
	return 0;
}

int rk_prom_find(const char *text, size_t len, const char *name, const rk_prom_label *matchers,
                 size_t nmatchers, double *value, int *matched, rk_err *err)
{
	struct find_state f = {name, matchers, nmatchers, 0, 0};
	int rc = rk_prom_parse(NULL, text, len, find_cb, NULL, &f, err);
	*value = f.sum;
	*matched = f.matched;
	return rc;
}

void rk_prom_label_escape(rk_buf *b, const char *s)
{
	for (; *s; s++) {
		if (*s == '\\' || *s == '"')
			rk_buf_append(b, "\\", 1);
		if (*s == '\n')
			rk_buf_append_str(b, "\\n");
		else
			rk_buf_append(b, s, 1);
	}
}
