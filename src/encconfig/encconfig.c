/* encconfig.c: the EncryptionConfiguration model: freeing (secrets wiped), deep copies, equality,
 * the apiserver's lookup order, key names, key generation and the config hash. Loading, validation,
 * edits and emitting live in encconfig_{load,validate,edit,emit}.c. */
#include "rekey/encconfig.h"

#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "encconfig_internal.h"
#include "rekey/base64.h"

/* ---- freeing ---- */

void rk_key_clear(rk_key *key)
{
	if (!key)
		return;
	if (key->secret) {
		OPENSSL_cleanse(key->secret, strlen(key->secret));
		free(key->secret);
	}
	free(key->name);
	memset(key, 0, sizeof *key);
}

static void kms_clear(rk_kms *kms)
{
	free(kms->api_version);
	free(kms->name);
	free(kms->endpoint);
	free(kms->timeout);
	memset(kms, 0, sizeof *kms);
}

void rk_provider_clear(rk_provider *p)
{
	for (size_t i = 0; i < p->nkeys; i++)
		rk_key_clear(&p->keys[i]);
	free(p->keys);
	kms_clear(&p->kms);
	memset(p, 0, sizeof *p);
}

void rk_rule_clear(rk_rule *rule)
{
	for (size_t i = 0; i < rule->nresources; i++)
		free(rule->resources[i]);
	free(rule->resources);
	for (size_t i = 0; i < rule->nproviders; i++)
		rk_provider_clear(&rule->providers[i]);
	free(rule->providers);
	memset(rule, 0, sizeof *rule);
}

void rk_encconfig_clear_positions(rk_encconfig *cfg)
{
	for (size_t i = 0; i < cfg->npositions; i++)
		free(cfg->positions[i].path);
	free(cfg->positions);
	cfg->positions = NULL;
	cfg->npositions = 0;
}

void rk_encconfig_free(rk_encconfig *cfg)
{
	if (!cfg)
		return;
	for (size_t i = 0; i < cfg->nrules; i++)
		rk_rule_clear(&cfg->rules[i]);
	free(cfg->rules);
	rk_encconfig_clear_positions(cfg);
	free(cfg->spans);
	free(cfg->path);
	free(cfg);
}

/* ---- copies ---- */

/* strdup that keeps NULL as NULL; sets *failed when out of memory. */
static char *dup_opt(const char *s, int *failed)
{
	if (!s)
		return NULL;
	char *copy = strdup(s);
	if (!copy)
		*failed = 1;
	return copy;
}

int rk_key_copy(rk_key *dst, const rk_key *src)
{
	int failed = 0;
	*dst = *src;
	dst->name = dup_opt(src->name, &failed);
	dst->secret = dup_opt(src->secret, &failed);
	if (failed)
		rk_key_clear(dst);
	return failed ? -1 : 0;
}

int rk_kms_copy(rk_kms *dst, const rk_kms *src)
{
	int failed = 0;
	*dst = *src;
	dst->api_version = dup_opt(src->api_version, &failed);
	dst->name = dup_opt(src->name, &failed);
	dst->endpoint = dup_opt(src->endpoint, &failed);
	dst->timeout = dup_opt(src->timeout, &failed);
	if (failed)
		kms_clear(dst);
	return failed ? -1 : 0;
}

int rk_provider_copy(rk_provider *dst, const rk_provider *src)
{
	*dst = *src;
	dst->keys = NULL;
	dst->nkeys = 0;
	if (rk_kms_copy(&dst->kms, &src->kms) != 0)
		return -1;
	if (src->nkeys && !(dst->keys = calloc(src->nkeys, sizeof *dst->keys))) {
		rk_provider_clear(dst);
		return -1;
	}
	for (; dst->nkeys < src->nkeys; dst->nkeys++) {
		if (rk_key_copy(&dst->keys[dst->nkeys], &src->keys[dst->nkeys]) != 0) {
			rk_provider_clear(dst);
			return -1;
		}
	}
	return 0;
}

static int rule_copy(rk_rule *dst, const rk_rule *src)
{
	memset(dst, 0, sizeof *dst);
	dst->line = src->line;
	dst->col = src->col;
	if (src->nresources && !(dst->resources = calloc(src->nresources, sizeof *dst->resources)))
		return -1;
	for (; dst->nresources < src->nresources; dst->nresources++)
		if (!(dst->resources[dst->nresources] = strdup(src->resources[dst->nresources])))
			goto fail;
	if (src->nproviders && !(dst->providers = calloc(src->nproviders, sizeof *dst->providers)))
		goto fail;
	for (; dst->nproviders < src->nproviders; dst->nproviders++)
		if (rk_provider_copy(&dst->providers[dst->nproviders], &src->providers[dst->nproviders]) != 0)
			goto fail;
	return 0;
fail:
	rk_rule_clear(dst);
	return -1;
}

rk_encconfig *rk_encconfig_clone(const rk_encconfig *cfg)
{
	rk_encconfig *copy = calloc(1, sizeof *copy);
	if (!copy)
		return NULL;
	if (cfg->path && !(copy->path = strdup(cfg->path)))
		goto fail;
	if (cfg->nrules && !(copy->rules = calloc(cfg->nrules, sizeof *copy->rules)))
		goto fail;
	for (; copy->nrules < cfg->nrules; copy->nrules++)
		if (rule_copy(&copy->rules[copy->nrules], &cfg->rules[copy->nrules]) != 0)
			goto fail;
	if (cfg->spans && cfg->nrules) {
		if (!(copy->spans = malloc(cfg->nrules * sizeof *copy->spans)))
			goto fail;
		memcpy(copy->spans, cfg->spans, cfg->nrules * sizeof *copy->spans);
	}
	return copy;
fail:
	rk_encconfig_free(copy);
	return NULL;
}

/* ---- equality ---- */

static int str_eq(const char *a, const char *b)
{
	if (!a || !b)
		return a == b;
	return strcmp(a, b) == 0;
}

static int provider_equal(const rk_provider *a, const rk_provider *b)
{
	if (a->type != b->type || a->ntypes != b->ntypes || a->nkeys != b->nkeys)
		return 0;
	for (size_t i = 0; i < a->nkeys; i++)
		if (!str_eq(a->keys[i].name, b->keys[i].name) ||
		    !str_eq(a->keys[i].secret, b->keys[i].secret))
			return 0;
	const rk_kms *x = &a->kms, *y = &b->kms;
	return str_eq(x->api_version, y->api_version) && str_eq(x->name, y->name) &&
	       str_eq(x->endpoint, y->endpoint) && str_eq(x->timeout, y->timeout) &&
	       x->has_cachesize == y->has_cachesize && (!x->has_cachesize || x->cachesize == y->cachesize);
}

int rk_rule_equal(const rk_rule *a, const rk_rule *b)
{
	if (a->nresources != b->nresources || a->nproviders != b->nproviders)
		return 0;
	for (size_t i = 0; i < a->nresources; i++)
		if (strcmp(a->resources[i], b->resources[i]) != 0)
			return 0;
	for (size_t i = 0; i < a->nproviders; i++)
		if (!provider_equal(&a->providers[i], &b->providers[i]))
			return 0;
	return 1;
}

int rk_encconfig_equal(const rk_encconfig *a, const rk_encconfig *b)
{
	if (a->nrules != b->nrules)
		return 0;
	for (size_t i = 0; i < a->nrules; i++)
		if (!rk_rule_equal(&a->rules[i], &b->rules[i]))
			return 0;
	return 1;
}

/* ---- resources and lookup ---- */

void rk_parse_group_resource(const char *gr, const char **res, size_t *res_len, const char **group)
{
	const char *dot = strchr(gr, '.');
	*res = gr;
	*res_len = dot ? (size_t)(dot - gr) : strlen(gr);
	*group = dot ? dot + 1 : "";
}

int rk_split_resource(const char *gr, char **resource, char **group)
{
	const char *res, *grp;
	size_t res_len;
	rk_parse_group_resource(gr, &res, &res_len, &grp);
	*resource = strndup(res, res_len);
	*group = strdup(grp);
	if (!*resource || !*group) {
		free(*resource);
		free(*group);
		*resource = *group = NULL;
		return -1;
	}
	return 0;
}

/* 1 when the entry `entry` names exactly resource `resource` in `group`. */
static int entry_is(const char *entry, const char *group, const char *resource)
{
	const char *res, *grp;
	size_t res_len;
	rk_parse_group_resource(entry, &res, &res_len, &grp);
	return strlen(resource) == res_len && !strncmp(res, resource, res_len) && !strcmp(grp, group);
}

static int find_rule(const rk_encconfig *cfg, const char *group, const char *resource)
{
	for (size_t i = 0; i < cfg->nrules; i++)
		for (size_t j = 0; j < cfg->rules[i].nresources; j++)
			if (entry_is(cfg->rules[i].resources[j], group, resource))
				return (int)i;
	return -1;
}

int rk_encconfig_lookup_index(const rk_encconfig *cfg, const char *group, const char *resource)
{
	int at = find_rule(cfg, group ? group : "", resource);
	if (at < 0)
		at = find_rule(cfg, group ? group : "", "*");
	if (at < 0)
		at = find_rule(cfg, "*", "*");
	return at;
}

const rk_rule *rk_encconfig_lookup(const rk_encconfig *cfg, const char *group, const char *resource)
{
	int at = rk_encconfig_lookup_index(cfg, group, resource);
	return at < 0 ? NULL : &cfg->rules[at];
}

int rk_entry_covers(const char *entry, const char *group, const char *resource)
{
	const char *res, *grp;
	size_t res_len;
	rk_parse_group_resource(entry, &res, &res_len, &grp);
	if (!strcmp(grp, "*"))
		return res_len == 1 && res[0] == '*';
	if (strcmp(grp, group ? group : "") != 0)
		return 0;
	return (res_len == 1 && res[0] == '*') || entry_is(entry, group ? group : "", resource);
}

/* ---- key names ---- */

const char *rk_rule_write_key(const rk_rule *rule)
{
	if (!rule || rule->nproviders == 0)
		return NULL;
	const rk_provider *p = &rule->providers[0];
	if (p->type == RK_PROV_IDENTITY)
		return "identity";
	if (p->type == RK_PROV_KMS)
		return p->kms.name;
	return p->nkeys ? p->keys[0].name : NULL;
}

int rk_encconfig_has_key_name(const rk_encconfig *cfg, const char *name)
{
	for (size_t i = 0; i < cfg->nrules; i++) {
		const rk_rule *rule = &cfg->rules[i];
		for (size_t j = 0; j < rule->nproviders; j++) {
			const rk_provider *p = &rule->providers[j];
			if (p->type == RK_PROV_KMS && str_eq(p->kms.name, name))
				return 1;
			for (size_t k = 0; k < p->nkeys; k++)
				if (str_eq(p->keys[k].name, name))
					return 1;
		}
	}
	return 0;
}

/* ---- hash ---- */

void rk_config_hash(const void *data, size_t len, char out[72])
{
	uint8_t digest[SHA256_DIGEST_LENGTH];
	SHA256(data, len, digest);
	memcpy(out, "sha256:", 7);
	for (int i = 0; i < SHA256_DIGEST_LENGTH; i++)
		snprintf(out + 7 + 2 * i, 3, "%02x", digest[i]);
}

/* ---- key generation ---- */

static int key_size_ok(rk_provider_type type, size_t bytes)
{
	if (type == RK_PROV_SECRETBOX)
		return bytes == 32;
	if (type == RK_PROV_AESCBC || type == RK_PROV_AESGCM)
		return bytes == 16 || bytes == 24 || bytes == 32;
	return 0;
}

/* `<provider>-<UTC yyyymmddThhmmssZ>`, then -2, -3, ... until unused in cfg. */
static char *fresh_key_name(const rk_encconfig *cfg, rk_provider_type type)
{
	char stamp[32], name[96];
	time_t now = time(NULL);
	struct tm tm;
	gmtime_r(&now, &tm);
	strftime(stamp, sizeof stamp, "%Y%m%dT%H%M%SZ", &tm);
	snprintf(name, sizeof name, "%s-%s", rk_provider_name(type), stamp);
	for (int n = 2; cfg && rk_encconfig_has_key_name(cfg, name); n++)
		snprintf(name, sizeof name, "%s-%s-%d", rk_provider_name(type), stamp, n);
	return strdup(name);
}

/* "yyyymmddThhmmssZ" at p (exactly 16 characters) into *when. */
static int parse_stamp(const char *p, time_t *when)
{
	struct tm tm;
	memset(&tm, 0, sizeof tm);
	char rest[4] = "";
	if (strlen(p) < 16 || p[8] != 'T' || p[15] != 'Z' || strspn(p, "0123456789") != 8 ||
	    strspn(p + 9, "0123456789") != 6)
		return -1;
	if (sscanf(p, "%4d%2d%2dT%2d%2d%2d%1[Z]", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour,
	           &tm.tm_min, &tm.tm_sec, rest) != 7 ||
	    tm.tm_mon < 1 || tm.tm_mon > 12 || tm.tm_mday < 1 || tm.tm_mday > 31 || tm.tm_hour > 23 ||
	    tm.tm_min > 59 || tm.tm_sec > 60)
		return -1;
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	*when = timegm(&tm);
	return 0;
}

int rk_key_name_time(const char *name, time_t *when)
{
	/* the stamp follows the last '-' that is followed by a stamp: `aescbc-20260102T030405Z-2` */
	for (const char *p = name ? strchr(name, '-') : NULL; p; p = strchr(p + 1, '-')) {
		const char *end = p + 17;
		if (strlen(p + 1) >= 16 &&
		    (*end == 0 ||
		     (*end == '-' && end[1] && strspn(end + 1, "0123456789") == strlen(end + 1))) &&
		    parse_stamp(p + 1, when) == 0)
			return 0;
	}
	return -1;
}

int rk_key_generate(const rk_encconfig *cfg, rk_provider_type type, size_t bytes, rk_key *key, rk_err *err)
{
	memset(key, 0, sizeof *key);
	if (bytes == 0)
		bytes = 32;
	if (!key_size_ok(type, bytes))
		return rk_err_set(err, RK_BADINPUT,
		                  "a %s key cannot be %zu bytes (aescbc/aesgcm: 16, 24 or 32; "
		                  "secretbox: 32)",
		                  rk_provider_name(type), bytes);
	uint8_t raw[32];
	if (RAND_bytes(raw, (int)bytes) != 1)
		return rk_err_set(err, RK_FAIL, "RAND_bytes failed: no random key generated");
	rk_buf text = RK_BUF_INIT; /* reserved once by the encoder: no partial copy is left behind */
	if (rk_b64_encode(raw, bytes, RK_B64_STD, &text) == 0)
		key->secret = rk_buf_steal(&text);
	OPENSSL_cleanse(raw, sizeof raw);
	key->name = fresh_key_name(cfg, type);
	if (!key->secret || !key->name) {
		rk_key_clear(key);
		return rk_err_set(err, RK_FAIL, "out of memory");
	}
	return RK_OK;
}
