/* encconfig_validate.c: every rule kube-apiserver applies when it loads an EncryptionConfiguration
 * (apis/apiserver/validation/validation_encryption.go, then the masking check of
 * server/options/encryptionconfig/config.go), in the same order, with messages of the same meaning in
 * the apiserver's "field.path: Invalid value: ...: detail" form. The first problem is reported. */
#include <ctype.h>
#include <openssl/crypto.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "encconfig_internal.h"
#include "rekey/buf.h"
#include "rekey/duration.h"

#define FP_MAX 256

typedef struct vctx {
	const rk_encconfig *cfg;
	rk_err *err;
} vctx;

/* Formats a field path into out (FP_MAX bytes; long paths are cut). */
static void mkpath(char *out, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void mkpath(char *out, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(out, FP_MAX, fmt, ap);
	va_end(ap);
}

/* Position of a field path, or of its nearest recorded parent. */
static const rk_pos *pos_of(const rk_encconfig *cfg, const char *path)
{
	char buf[FP_MAX];
	snprintf(buf, sizeof buf, "%s", path);
	for (;;) {
		for (size_t i = 0; i < cfg->npositions; i++)
			if (!strcmp(cfg->positions[i].path, buf))
				return &cfg->positions[i];
		char *cut = strrchr(buf, '.');
		char *bracket = strrchr(buf, '[');
		if (bracket && (!cut || bracket > cut))
			cut = bracket;
		if (!cut)
			return NULL;
		*cut = '\0';
	}
}

static int fail(vctx *v, const char *path, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(vctx *v, const char *path, const char *fmt, ...)
{
	char msg[RK_ERR_MSG_MAX];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	const rk_pos *pos = pos_of(v->cfg, path);
	const char *file = v->cfg->path ? v->cfg->path : "<input>";
	if (!pos)
		return rk_err_set(v->err, RK_BADINPUT, "%s: %s: %s", file, path, msg);
	return rk_err_set(v->err, RK_BADINPUT, "%s:%d:%d: %s: %s", file, pos->line, pos->col, path, msg);
}

/* ---- resources ---- */

typedef struct gr {
	char resource[FP_MAX], group[FP_MAX];
} gr;

static gr parse_gr(const char *entry)
{
	gr out;
	const char *res, *grp;
	size_t res_len;
	rk_parse_group_resource(entry, &res, &res_len, &grp);
	snprintf(out.resource, sizeof out.resource, "%.*s", (int)res_len, res);
	snprintf(out.group, sizeof out.group, "%s", grp);
	return out;
}

static int gr_eq(const gr *a, const gr *b)
{
	return !strcmp(a->resource, b->resource) && !strcmp(a->group, b->group);
}

static int gr_is_any(const gr *a)
{
	return !strcmp(a->resource, "*") && !strcmp(a->group, "*");
}

/* Go's %v of a []string, as the apiserver prints the resources list. */
static void go_string_list(char *out, size_t cap, char *const *items, size_t n)
{
	rk_buf b = RK_BUF_INIT;
	rk_buf_append_str(&b, "[]string{");
	for (size_t i = 0; i < n; i++)
		rk_buf_printf(&b, "%s\"%s\"", i ? ", " : "", items[i]);
	rk_buf_append_str(&b, "}");
	snprintf(out, cap, "%s", rk_buf_cstr(&b));
	rk_buf_free(&b);
}

static int gr_cmp(const void *a, const void *b)
{
	const gr *x = a, *y = b;
	int c = strcmp(x->group, y->group);
	return c ? c : strcmp(x->resource, y->resource);
}

/* validateResourceOverlap's verdicts, computed on the sorted list (O(n log n) instead of its pairwise
 * scan, same result): a duplicate is two equal entries; an overlap is "*.*" next to any other entry, or a
 * "*.group" next to another entry of the same group (an equal one included). */
static void scan_overlap(gr *r, size_t n, int *dup, int *overlap)
{
	*dup = *overlap = 0;
	qsort(r, n, sizeof *r, gr_cmp);
	for (size_t i = 0; i < n; i++) {
		int same_group_next = i + 1 < n && !strcmp(r[i].group, r[i + 1].group);
		int same_group_prev = i > 0 && !strcmp(r[i].group, r[i - 1].group);
		if (i + 1 < n && gr_eq(&r[i], &r[i + 1]))
			*dup = 1;
		if (gr_is_any(&r[i]) || (!strcmp(r[i].resource, "*") && (same_group_next || same_group_prev)))
			*overlap = 1;
	}
}

static int check_overlap(vctx *v, const rk_rule *rule, const char *path)
{
	int dup, overlap;
	if (rule->nresources < 2)
		return RK_OK;
	gr *parsed = calloc(rule->nresources, sizeof *parsed);
	if (!parsed)
		return rk_err_set(v->err, RK_FAIL, "out of memory");
	for (size_t i = 0; i < rule->nresources; i++)
		parsed[i] = parse_gr(rule->resources[i]);
	scan_overlap(parsed, rule->nresources, &dup, &overlap);
	free(parsed);
	char list[RK_ERR_MSG_MAX / 2];
	go_string_list(list, sizeof list, rule->resources, rule->nresources);
	if (dup)
		return fail(v, path,
		            "Invalid value: %s: the same resource cannot be specified multiple times", list);
	if (overlap)
		return fail(
		    v, path,
		    "Invalid value: %s: using overlapping resources such as 'secrets' and '*.' in the same "
		    "resource list is not allowed as they will be masked",
		    list);
	return RK_OK;
}

static int has_capital(const char *s)
{
	for (; *s; s++)
		if (isupper((unsigned char)*s))
			return 1;
	return 0;
}

const char *rk_resource_entry_problem(const char *name)
{
	gr g = parse_gr(name);
	if (has_capital(name))
		return "resource name should not contain capital letters";
	if (!strcmp(name, "*"))
		return "use '*.' to encrypt all the resources from core API group or *.* to encrypt all "
		       "resources";
	if (!strcmp(name, "apiserveripinfo") || !strcmp(name, "serviceipallocations") ||
	    !strcmp(name, "servicenodeportallocations"))
		return "resources which do not have REST API/s cannot be encrypted";
	if (!strcmp(g.group, "events.k8s.io"))
		return "'*.events.k8s.io' objects are stored using the 'events' API group in etcd. Use "
		       "'events' "
		       "instead in the config file";
	if (!strcmp(g.group, "extensions"))
		return "'extensions' group has been removed and cannot be used for encryption";
	if (!strcmp(g.group, "*") && strcmp(g.resource, "*") != 0)
		return "encrypting the same resource across groups is not supported";
	return NULL;
}

static int check_resource_names(vctx *v, const rk_rule *rule, const char *path)
{
	for (size_t j = 0; j < rule->nresources; j++) {
		const char *problem = rk_resource_entry_problem(rule->resources[j]);
		if (!problem)
			continue;
		char child[FP_MAX];
		mkpath(child, "%s[%zu]", path, j);
		return fail(v, child, "Invalid value: \"%s\": %s", rule->resources[j], problem);
	}
	return RK_OK;
}

/* ---- keys ---- */

static int check_key(vctx *v, const rk_key *key, const char *path, const int *sizes, size_t nsizes)
{
	char child[FP_MAX];
	if (!key->name || !*key->name) {
		mkpath(child, "%s.name", path);
		return fail(v, child, "Required value: name is a mandatory field for a key");
	}
	mkpath(child, "%s.secret", path);
	if (!key->secret || !*key->secret)
		return fail(v, child, "Required value: secret is a mandatory field for a key");
	size_t cap = strlen(key->secret) / 4 * 3 + 3;
	uint8_t *raw = malloc(cap);
	if (!raw)
		return rk_err_set(v->err, RK_FAIL, "out of memory");
	int n = rk_key_decode(key, raw, cap);
	OPENSSL_cleanse(raw, cap);
	free(raw);
	if (n < 0)
		return fail(v, child, "Invalid value: \"REDACTED\": secrets must be base64 encoded");
	for (size_t i = 0; i < nsizes; i++)
		if (n == sizes[i])
			return RK_OK;
	return fail(v, child,
	            "Invalid value: \"REDACTED\": secret is not of the expected length, got %d, "
	            "expected one of %s",
	            n, nsizes == 1 ? "[32]" : "[16 24 32]");
}

static int check_keys(vctx *v, const rk_provider *p, const char *path)
{
	static const int aes_sizes[] = {16, 24, 32}, secretbox_sizes[] = {32};
	int is_secretbox = p->type == RK_PROV_SECRETBOX;
	char keys_path[FP_MAX];
	mkpath(keys_path, "%s.%s.keys", path, rk_provider_name(p->type));
	if (p->nkeys == 0)
		return fail(v, keys_path, "Required value: at least one keys is required");
	for (size_t i = 0; i < p->nkeys; i++) {
		char child[FP_MAX];
		mkpath(child, "%s[%zu]", keys_path, i);
		int rc = check_key(v, &p->keys[i], child, is_secretbox ? secretbox_sizes : aes_sizes,
		                   is_secretbox ? 1 : 3);
		if (rc != RK_OK)
			return rc;
	}
	return RK_OK;
}

/* ---- kms ---- */

typedef struct kms_names {
	const char **names;
	size_t n;
} kms_names;

static const char *kms_version(const rk_kms *kms)
{
	return kms->api_version ? kms->api_version : "v1";
}

static int check_kms_name(vctx *v, const rk_kms *kms, const char *path, const kms_names *seen, int reload)
{
	const char *name = kms->name ? kms->name : "";
	int v1 = !strcmp(kms_version(kms), "v1");
	if (!*name)
		return fail(v, path, "Required value: name is a mandatory field for a provider");
	if (!v1 && strchr(name, ':'))
		return fail(v, path,
		            "Invalid value: \"%s\": invalid KMS provider name %s, must not contain ':'", name,
		            name);
	if (reload || !v1)
		for (size_t i = 0; i < seen->n; i++)
			if (!strcmp(seen->names[i], name))
				return fail(v, path,
				            "Invalid value: \"%s\": duplicate KMS provider name %s, names "
				            "must be unique",
				            name, name);
	return RK_OK;
}

/* The scheme as Go's url.Parse sees it (lowercased); -1 with *why set when url.Parse fails. */
static int url_scheme(const char *url, char *scheme, size_t cap, const char **why)
{
	scheme[0] = '\0';
	for (const char *p = url; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f) {
			*why = "net/url: invalid control character in URL";
			return -1;
		}
	size_t i = 0;
	for (; url[i]; i++) {
		char c = url[i];
		if (isalpha((unsigned char)c))
			continue;
		if (i > 0 && (isdigit((unsigned char)c) || c == '+' || c == '-' || c == '.'))
			continue;
		break;
	}
	if (url[i] != ':')
		return 0;
	if (i == 0) {
		*why = "missing protocol scheme";
		return -1;
	}
	for (size_t k = 0; k < i && k + 1 < cap; k++)
		scheme[k] = (char)tolower((unsigned char)url[k]), scheme[k + 1] = '\0';
	return 0;
}

static int check_kms_endpoint(vctx *v, const rk_kms *kms, const char *path)
{
	const char *why = NULL;
	char scheme[64];
	if (!kms->endpoint || !*kms->endpoint)
		return fail(v, path, "Invalid value: \"\": endpoint is a mandatory field for a kms");
	if (url_scheme(kms->endpoint, scheme, sizeof scheme, &why) != 0)
		return fail(v, path, "Invalid value: \"%s\": invalid endpoint for kms provider, error: %s",
		            kms->endpoint, why);
	if (strcmp(scheme, "unix") != 0)
		return fail(v, path,
		            "Invalid value: \"%s\": unsupported scheme \"%s\" for KMS provider, only unix is "
		            "supported",
		            kms->endpoint, scheme);
	return RK_OK;
}

static int check_kms(vctx *v, const rk_kms *kms, const char *path, const kms_names *seen, int reload)
{
	char child[FP_MAX];
	long long ns = 3000000000LL;
	const char *version = kms_version(kms);
	mkpath(child, "%s.name", path);
	int rc = check_kms_name(v, kms, child, seen, reload);
	mkpath(child, "%s.timeout", path);
	if (rc == RK_OK && kms->timeout && (rk_go_duration_parse(kms->timeout, &ns) != 0 || ns <= 0))
		rc =
		    fail(v, child, "Invalid value: \"%s\": timeout should be a positive value", kms->timeout);
	mkpath(child, "%s.endpoint", path);
	if (rc == RK_OK)
		rc = check_kms_endpoint(v, kms, child);
	mkpath(child, "%s.cachesize", path);
	if (rc == RK_OK && strcmp(version, "v1") != 0 && kms->has_cachesize)
		rc = fail(v, child, "Invalid value: %ld: cachesize is not supported in v2", kms->cachesize);
	if (rc == RK_OK && !strcmp(version, "v1") && kms->has_cachesize && kms->cachesize == 0)
		rc = fail(v, child,
		          "Invalid value: 0: cachesize should be a positive value, or negative to disable");
	mkpath(child, "%s.apiVersion", path);
	if (rc == RK_OK && strcmp(version, "v1") != 0 && strcmp(version, "v2") != 0)
		rc = fail(
		    v, child,
		    "Invalid value: \"%s\": unsupported apiVersion %s for KMS provider, only v1 and v2 are "
		    "supported",
		    version, version);
	return rc;
}

/* ---- providers and rules ---- */

static int check_provider(vctx *v, const rk_provider *p, const char *path, kms_names *seen, int reload)
{
	if (p->ntypes == 0)
		return fail(v, path,
		            "Invalid value: provider does not contain any of the expected providers: KMS, "
		            "AESGCM, AESCBC, Secretbox, Identity");
	if (p->ntypes > 1)
		return fail(v, path,
		            "Invalid value: more than one provider specified in a single element, should "
		            "split into different list elements");
	if (p->type == RK_PROV_KMS) {
		char child[FP_MAX];
		mkpath(child, "%s.kms", path);
		int rc = check_kms(v, &p->kms, child, seen, reload);
		seen->names[seen->n++] = p->kms.name ? p->kms.name : "";
		return rc;
	}
	if (p->type == RK_PROV_IDENTITY)
		return RK_OK;
	return check_keys(v, p, path);
}

static int check_rule(vctx *v, const rk_rule *rule, size_t index, kms_names *seen, int reload)
{
	char res_path[FP_MAX], prov_path[FP_MAX];
	mkpath(res_path, "resources[%zu].resources", index);
	mkpath(prov_path, "resources[%zu].providers", index);
	if (rule->nresources == 0)
		return fail(v, res_path, "Required value: at least one %s is required", res_path);
	int rc = check_overlap(v, rule, res_path);
	if (rc == RK_OK)
		rc = check_resource_names(v, rule, res_path);
	if (rc == RK_OK && rule->nproviders == 0)
		rc = fail(v, prov_path, "Required value: at least one %s is required", prov_path);
	for (size_t j = 0; rc == RK_OK && j < rule->nproviders; j++) {
		char child[FP_MAX];
		mkpath(child, "%s[%zu]", prov_path, j);
		rc = check_provider(v, &rule->providers[j], child, seen, reload);
	}
	return rc;
}

/* grYAMLString: "*." for every core resource, "resource.group" otherwise. */
static void gr_yaml(char *out, size_t cap, const gr *g)
{
	if (!*g->group && !strcmp(g->resource, "*"))
		snprintf(out, cap, "*.");
	else
		snprintf(out, cap, "%s%s%s", g->resource, *g->group ? "." : "", g->group);
}

static int masked_by(const gr *seen, size_t n, const gr *g)
{
	for (size_t k = 0; k < n; k++)
		if (gr_eq(&seen[k], g))
			return 1;
	return 0;
}

/* The apiserver's masking check: a resource after a "*.group" or "*.*" entry of an earlier rule (or
 * earlier in the same rule) can never be reached. Only wildcard entries can mask, so only they are kept. */
static int check_masking(vctx *v)
{
	const rk_encconfig *cfg = v->cfg;
	size_t total = 0, nwild = 0;
	for (size_t i = 0; i < cfg->nrules; i++)
		total += cfg->rules[i].nresources;
	gr *wild = calloc(total ? total : 1, sizeof *wild);
	if (!wild)
		return rk_err_set(v->err, RK_FAIL, "out of memory");
	int rc = RK_OK;
	for (size_t i = 0; rc == RK_OK && i < cfg->nrules; i++)
		for (size_t j = 0; rc == RK_OK && j < cfg->rules[i].nresources; j++) {
			gr g = parse_gr(cfg->rules[i].resources[j]), group_any = g, any = {"*", "*"};
			snprintf(group_any.resource, sizeof group_any.resource, "*");
			const gr *mask = masked_by(wild, nwild, &group_any) ? &group_any
			                 : masked_by(wild, nwild, &any)     ? &any
			                                                    : NULL;
			if (mask) {
				char path[FP_MAX], name[FP_MAX * 2 + 2], by[FP_MAX * 2 + 2];
				mkpath(path, "resources[%zu].resources[%zu]", i, j);
				gr_yaml(name, sizeof name, &g);
				gr_yaml(by, sizeof by, mask);
				rc = fail(v, path, "resource \"%s\" is masked by earlier rule \"%s\"", name,
				          by);
			}
			if (!strcmp(g.resource, "*"))
				wild[nwild++] = g;
		}
	free(wild);
	return rc;
}

static size_t count_providers(const rk_encconfig *cfg)
{
	size_t n = 0;
	for (size_t i = 0; i < cfg->nrules; i++)
		n += cfg->rules[i].nproviders;
	return n;
}

int rk_encconfig_validate(const rk_encconfig *cfg, int automatic_reload, rk_err *err)
{
	vctx v = {cfg, err};
	if (cfg->nrules == 0)
		return fail(&v, "resources", "Required value: at least one resources is required");
	kms_names seen = {calloc(count_providers(cfg) + 1, sizeof(char *)), 0};
	if (!seen.names)
		return rk_err_set(err, RK_FAIL, "out of memory");
	int rc = RK_OK;
	for (size_t i = 0; rc == RK_OK && i < cfg->nrules; i++)
		rc = check_rule(&v, &cfg->rules[i], i, &seen, automatic_reload);
	free(seen.names);
	if (rc == RK_OK)
		rc = check_masking(&v);
	return rc;
}

/* ---- warnings ---- */

static void warn_kms_v1(const rk_encconfig *cfg, rk_buf *out)
{
	for (size_t i = 0; i < cfg->nrules; i++)
		for (size_t j = 0; j < cfg->rules[i].nproviders; j++) {
			const rk_provider *p = &cfg->rules[i].providers[j];
			if (p->type == RK_PROV_KMS && !strcmp(kms_version(&p->kms), "v1"))
				rk_buf_printf(
				    out,
				    "resources[%zu].providers[%zu].kms: KMS v1 is deprecated: kube-apiserver "
				    "1.29+ refuses it unless started with --feature-gates=KMSv1=true\n",
				    i, j);
		}
}

static void warn_repeated_resources(const rk_encconfig *cfg, rk_buf *out)
{
	for (size_t i = 0; i < cfg->nrules; i++)
		for (size_t j = 0; j < cfg->rules[i].nresources; j++)
			for (size_t k = 0; k < i; k++)
				for (size_t m = 0; m < cfg->rules[k].nresources; m++)
					if (!strcmp(cfg->rules[k].resources[m], cfg->rules[i].resources[j]))
						rk_buf_printf(
						    out,
						    "resources[%zu].resources[%zu]: \"%s\" is also in "
						    "resources[%zu]: its providers are appended to that "
						    "rule's\n",
						    i, j, cfg->rules[i].resources[j], k);
}

void rk_encconfig_warnings(const rk_encconfig *cfg, char **out)
{
	rk_buf b = RK_BUF_INIT;
	warn_kms_v1(cfg, &b);
	warn_repeated_resources(cfg, &b);
	*out = rk_buf_steal(&b);
}
