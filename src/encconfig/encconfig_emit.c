/* encconfig_emit.c: canonical YAML for an EncryptionConfiguration: fixed field order, two-space
 * indentation as in the Kubernetes docs, plain scalars where they load back as the same string and
 * double quotes otherwise. emit(load(emit(x))) is byte-identical to emit(x). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "encconfig_internal.h"
#include "rekey/buf.h"

static int plain_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       strchr("_-./:+=@", c);
}

static int can_be_plain(const char *s)
{
	size_t len = strlen(s);
	if (len == 0 || s[len - 1] == ':' || s[0] == '-' || s[0] == ':' || s[0] == '+' || s[0] == '=' ||
	    s[0] == '@')
		return 0;
	for (const char *p = s; *p; p++)
		if (!plain_char(*p))
			return 0;
	return rk_yaml_plain_is_string(s);
}

static void emit_scalar(rk_buf *b, const char *s)
{
	if (can_be_plain(s)) {
		rk_buf_append_str(b, s);
		return;
	}
	rk_buf_append_str(b, "\"");
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p == '"' || *p == '\\')
			rk_buf_printf(b, "\\%c", *p);
		else if (*p < 0x20 || *p == 0x7f)
			rk_buf_printf(b, "\\x%02x", *p);
		else
			rk_buf_append(b, p, 1);
	}
	rk_buf_append_str(b, "\"");
}

/* "<indent><name>: <scalar>\n" */
static void emit_field(rk_buf *b, int indent, const char *name, const char *value)
{
	rk_buf_printf(b, "%*s%s: ", indent, "", name);
	emit_scalar(b, value);
	rk_buf_append_str(b, "\n");
}

static void emit_secret(rk_buf *b, int indent, const rk_key *key, int redact)
{
	char fp[17];
	char text[64];
	if (!redact) {
		emit_field(b, indent, "secret", key->secret);
		return;
	}
	if (rk_key_fingerprint(key, fp) == 0)
		snprintf(text, sizeof text, "REDACTED fingerprint %s", fp);
	else
		snprintf(text, sizeof text, "REDACTED (not valid base64)");
	emit_field(b, indent, "secret", text);
}

/* One "- name: ..\n  secret: ..\n" list item; absent fields stay absent so reloading gives the same. */
static void emit_key(rk_buf *b, const rk_key *key, int redact)
{
	rk_buf_append_str(b, "            - ");
	if (!key->name && !key->secret) {
		rk_buf_append_str(b, "{}\n");
		return;
	}
	if (key->name)
		emit_field(b, 0, "name", key->name);
	if (key->secret)
		emit_secret(b, key->name ? 14 : 0, key, redact);
}

static void emit_keys(rk_buf *b, const rk_provider *p, int redact)
{
	if (p->nkeys == 0) {
		rk_buf_append_str(b, "          keys: []\n");
		return;
	}
	rk_buf_append_str(b, "          keys:\n");
	for (size_t i = 0; i < p->nkeys; i++)
		emit_key(b, &p->keys[i], redact);
}

static void emit_kms(rk_buf *b, const rk_kms *kms)
{
	size_t before = b->len;
	if (kms->api_version)
		emit_field(b, 10, "apiVersion", kms->api_version);
	if (kms->name)
		emit_field(b, 10, "name", kms->name);
	if (kms->endpoint)
		emit_field(b, 10, "endpoint", kms->endpoint);
	if (kms->has_cachesize)
		rk_buf_printf(b, "          cachesize: %ld\n", kms->cachesize);
	if (kms->timeout)
		emit_field(b, 10, "timeout", kms->timeout);
	if (b->len == before) { /* no fields: an empty mapping on the "kms:" line */
		b->len--;
		rk_buf_append_str(b, " {}\n");
	}
}

static void emit_provider(rk_buf *b, const rk_provider *p, int redact)
{
	if (p->ntypes == 0 || p->type == RK_PROV_NONE) {
		rk_buf_append_str(b, "      - {}\n");
		return;
	}
	if (p->type == RK_PROV_IDENTITY) {
		rk_buf_append_str(b, "      - identity: {}\n");
		return;
	}
	rk_buf_printf(b, "      - %s:\n", rk_provider_name(p->type));
	if (p->type == RK_PROV_KMS)
		emit_kms(b, &p->kms);
	else
		emit_keys(b, p, redact);
}

static void emit_rule(rk_buf *b, const rk_rule *rule, int redact)
{
	if (rule->nresources == 0)
		rk_buf_append_str(b, "  - resources: []\n");
	else
		rk_buf_append_str(b, "  - resources:\n");
	for (size_t i = 0; i < rule->nresources; i++) {
		rk_buf_append_str(b, "      - ");
		emit_scalar(b, rule->resources[i]);
		rk_buf_append_str(b, "\n");
	}
	rk_buf_append_str(b, rule->nproviders ? "    providers:\n" : "    providers: []\n");
	for (size_t i = 0; i < rule->nproviders; i++)
		emit_provider(b, &rule->providers[i], redact);
}

void rk_emit_rule(rk_buf *b, const rk_rule *rule)
{
	emit_rule(b, rule, 0);
}

static size_t len_or_0(const char *s)
{
	return s ? strlen(s) : 0;
}

/* An upper bound of the output size: reserved once so no realloc leaves a copy of a secret behind. */
static size_t size_bound(const rk_encconfig *cfg)
{
	size_t n = 256;
	for (size_t i = 0; i < cfg->nrules; i++) {
		const rk_rule *rule = &cfg->rules[i];
		n += 64;
		for (size_t j = 0; j < rule->nresources; j++)
			n += 16 + 4 * strlen(rule->resources[j]);
		for (size_t j = 0; j < rule->nproviders; j++) {
			const rk_provider *p = &rule->providers[j];
			n += 256 + 4 * (len_or_0(p->kms.api_version) + len_or_0(p->kms.name) +
			                len_or_0(p->kms.endpoint) + len_or_0(p->kms.timeout));
			for (size_t k = 0; k < p->nkeys; k++)
				n += 96 + 4 * (len_or_0(p->keys[k].name) + len_or_0(p->keys[k].secret));
		}
	}
	return n;
}

static char *emit(const rk_encconfig *cfg, size_t *len, int redact)
{
	rk_buf b = RK_BUF_SECRET; /* holds every secret of the config; sized up front, wiped if it grows */
	if (rk_buf_reserve(&b, size_bound(cfg)) != 0)
		return NULL;
	rk_buf_append_str(&b, "apiVersion: " RK_API_VERSION "\nkind: " RK_KIND "\n");
	rk_buf_append_str(&b, cfg->nrules ? "resources:\n" : "resources: []\n");
	for (size_t i = 0; i < cfg->nrules; i++)
		emit_rule(&b, &cfg->rules[i], redact);
	if (len)
		*len = b.len;
	return rk_buf_steal(&b);
}

char *rk_encconfig_emit(const rk_encconfig *cfg, size_t *len)
{
	return emit(cfg, len, 0);
}

char *rk_encconfig_emit_redacted(const rk_encconfig *cfg, size_t *len)
{
	return emit(cfg, len, 1);
}
