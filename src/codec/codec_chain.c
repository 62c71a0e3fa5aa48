/* codec_chain.c: the apiserver's transformer chain for one EncryptionConfiguration rule, as built in
 * server/options/encryptionconfig/config.go and value/transformer.go: write with the first provider
 * and its first key; read with every provider whose prefix matches, in order, where a matching
 * provider that fails does not stop the search (errors are collected), identity (empty prefix)
 * refuses data starting "k8s:enc:" without recording an error, and any read through a provider or
 * key that is not the first one is stale. Keys are decoded once and wiped on free. */
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rekey/codec.h"

#define MAX_KEY_BYTES 32

struct chain_key {
	char *name;
	uint8_t secret[MAX_KEY_BYTES];
	size_t secret_len;
};

struct chain_provider {
	rk_provider_type type;
	char *prefix; /* "k8s:enc:aescbc:v1:", "k8s:enc:kms:v2:<name>:", "" for identity */
	struct chain_key *keys;
	size_t nkeys;
	char *kms_name;
};

struct rk_chain {
	struct chain_provider *providers;
	size_t nproviders;
};

/* Errors of one read, joined as Go's errors.NewAggregate prints them. */
struct read_errors {
	rk_buf text;
	int count;
};

static void add_error(struct read_errors *errs, const char *pname, const char *key, const char *msg)
{
	if (errs->count++)
		rk_buf_append_str(&errs->text, ", ");
	if (key)
		rk_buf_printf(&errs->text, "%s key \"%s\": ", pname, key);
	rk_buf_append_str(&errs->text, msg);
}

static void free_provider(struct chain_provider *p)
{
	for (size_t k = 0; k < p->nkeys; k++) {
		OPENSSL_cleanse(p->keys[k].secret, sizeof p->keys[k].secret);
		free(p->keys[k].name);
	}
	free(p->keys);
	free(p->prefix);
	free(p->kms_name);
}

void rk_chain_free(rk_chain *chain)
{
	if (!chain)
		return;
	for (size_t i = 0; i < chain->nproviders; i++)
		free_provider(&chain->providers[i]);
	free(chain->providers);
	free(chain);
}

static int key_size_ok(rk_provider_type type, size_t n)
{
	if (type == RK_PROV_SECRETBOX)
		return n == 32;
	return n == 16 || n == 24 || n == 32;
}

static int load_key(rk_provider_type type, const rk_key *src, struct chain_key *dst, rk_err *err)
{
	const char *pname = rk_provider_name(type);
	if (!src->name || !*src->name)
		return rk_err_set(err, RK_BADINPUT, "%s: key with invalid name provided", pname);
	dst->name = strdup(src->name);
	if (!dst->name)
		return rk_err_set(err, RK_FAIL, "out of memory");
	uint8_t raw[64];
	int n = rk_key_decode(src, raw, sizeof raw);
	if (n < 0) {
		OPENSSL_cleanse(raw, sizeof raw);
		return rk_err_set(err, RK_BADINPUT, "%s key \"%s\": secrets must be base64 encoded", pname,
		                  src->name);
	}
	if (!key_size_ok(type, (size_t)n)) {
		OPENSSL_cleanse(raw, sizeof raw);
		return rk_err_set(err, RK_BADINPUT, "%s key \"%s\": key is %d bytes, want %s", pname,
		                  src->name, n, type == RK_PROV_SECRETBOX ? "32" : "16, 24 or 32");
	}
	memcpy(dst->secret, raw, (size_t)n);
	dst->secret_len = (size_t)n;
	OPENSSL_cleanse(raw, sizeof raw);
	return RK_OK;
}

static int load_local_provider(const rk_provider *src, struct chain_provider *dst, rk_err *err)
{
	if (src->nkeys == 0)
		return rk_err_set(err, RK_BADINPUT, "%s provider has no valid keys",
		                  rk_provider_name(src->type));
	dst->keys = calloc(src->nkeys, sizeof *dst->keys);
	if (!dst->keys || asprintf(&dst->prefix, "k8s:enc:%s:v1:", rk_provider_name(src->type)) < 0) {
		dst->prefix = NULL;
		return rk_err_set(err, RK_FAIL, "out of memory");
	}
	for (size_t k = 0; k < src->nkeys; k++) {
		int rc = load_key(src->type, &src->keys[k], &dst->keys[k], err);
		dst->nkeys = k + 1;
		if (rc != RK_OK)
			return rc;
	}
	return RK_OK;
}

static int load_kms_provider(const rk_provider *src, struct chain_provider *dst, rk_err *err)
{
	const char *name = src->kms.name;
	if (!name || !*name)
		return rk_err_set(err, RK_BADINPUT, "kms provider without a name");
	const char *version = src->kms.api_version && *src->kms.api_version ? src->kms.api_version : "v1";
	dst->kms_name = strdup(name);
	if (!dst->kms_name || asprintf(&dst->prefix, "k8s:enc:kms:%s:%s:", version, name) < 0) {
		dst->prefix = NULL;
		return rk_err_set(err, RK_FAIL, "out of memory");
	}
	return RK_OK;
}

static int load_provider(const rk_provider *src, struct chain_provider *dst, rk_err *err)
{
	dst->type = src->type;
	switch (src->type) {
	case RK_PROV_AESCBC:
	case RK_PROV_AESGCM:
	case RK_PROV_SECRETBOX:
		return load_local_provider(src, dst, err);
	case RK_PROV_KMS:
		return load_kms_provider(src, dst, err);
	case RK_PROV_IDENTITY:
		dst->prefix = strdup("");
		return dst->prefix ? RK_OK : rk_err_set(err, RK_FAIL, "out of memory");
	default:
		return rk_err_set(
		    err, RK_BADINPUT,
		    "provider does not contain any of the expected providers: KMS, AESGCM, AESCBC, "
		    "Secretbox, Identity");
	}
}

int rk_chain_new(const rk_rule *rule, rk_chain **out, rk_err *err)
{
	static const rk_provider identity_only = {.type = RK_PROV_IDENTITY, .ntypes = 1};
	const rk_provider *providers = rule ? rule->providers : &identity_only;
	size_t n = rule ? rule->nproviders : 1;
	*out = NULL;
	if (n == 0)
		return rk_err_set(err, RK_BADINPUT, "rule has no providers");
	rk_chain *chain = calloc(1, sizeof *chain);
	if (chain)
		chain->providers = calloc(n, sizeof *chain->providers);
	if (!chain || !chain->providers) {
		free(chain);
		return rk_err_set(err, RK_FAIL, "out of memory");
	}
	for (size_t i = 0; i < n; i++) {
		chain->nproviders = i + 1;
		int rc = load_provider(&providers[i], &chain->providers[i], err);
		if (rc != RK_OK) {
			rk_chain_free(chain);
			return rc;
		}
	}
	*out = chain;
	return RK_OK;
}

static int kms_unsupported(const struct chain_provider *p, rk_err *err)
{
	return rk_err_set(err, RK_FAIL, "kms provider \"%s\": kms not supported by this build yet",
	                  p->kms_name);
}

int rk_chain_write(rk_chain *chain, const char *etcd_key, const uint8_t *plain, size_t len, rk_buf *out,
                   rk_err *err)
{
	const struct chain_provider *p = &chain->providers[0];
	if (p->type == RK_PROV_KMS)
		return kms_unsupported(p, err);
	if (p->type == RK_PROV_IDENTITY)
		return rk_buf_append(out, plain, len) == 0 ? RK_OK
		                                           : rk_err_set(err, RK_FAIL, "out of memory");
	const struct chain_key *key = &p->keys[0];
	size_t mark = out->len;
	if (rk_buf_printf(out, "%s%s:", p->prefix, key->name) != 0)
		return rk_err_set(err, RK_FAIL, "out of memory");
	int rc = rk_codec_encrypt(p->type, key->secret, key->secret_len, etcd_key, plain, len, out, err);
	if (rc != RK_OK) {
		out->len = mark;
		rk_err_prefix(err, "%s: %s key \"%s\"", etcd_key ? etcd_key : "", rk_provider_name(p->type),
		              key->name);
	}
	return rc;
}

/* "aescbc: invalid padding" -> "invalid padding": the chain names the provider itself. */
static const char *strip_provider(const char *msg, const char *pname)
{
	size_t n = strlen(pname);
	if (!strncmp(msg, pname, n) && msg[n] == ':' && msg[n + 1] == ' ')
		return msg + n + 2;
	return msg;
}

/* Tries every key of a local provider whose "<name>:" prefixes the rest; 1 = read, 0 = not read. */
static int read_local(const struct chain_provider *p, const char *etcd_key, const uint8_t *rest, size_t len,
                      rk_buf *out, size_t *key_index, struct read_errors *errs)
{
	const char *pname = rk_provider_name(p->type);
	int matched = 0;
	for (size_t k = 0; k < p->nkeys; k++) {
		size_t n = strlen(p->keys[k].name);
		if (len <= n || memcmp(rest, p->keys[k].name, n) != 0 || rest[n] != ':')
			continue;
		matched = 1;
		rk_err e;
		rk_err_clear(&e);
		size_t mark = out->len;
		if (rk_codec_decrypt(p->type, p->keys[k].secret, p->keys[k].secret_len, etcd_key,
		                     rest + n + 1, len - n - 1, out, &e) == RK_OK) {
			*key_index = k;
			return 1;
		}
		out->len = mark;
		add_error(errs, pname, p->keys[k].name, strip_provider(e.msg, pname));
	}
	if (!matched)
		add_error(errs, pname, NULL,
		          p->type == RK_PROV_SECRETBOX
		              ? "no matching key was found for the provided Secretbox transformer"
		              : "no matching key was found for the provided AES transformer");
	return 0;
}

/* Why nothing matched, naming the key the value carries. */
static int no_match_error(const char *etcd_key, const uint8_t *stored, size_t len, rk_err *err)
{
	rk_value_info info;
	rk_codec_classify(stored, len, &info);
	const char *what = rk_value_kind_name(info.kind);
	if (info.name[0])
		return rk_err_set(
		    err, RK_FAIL,
		    "%s: no matching prefix found (value is %s key \"%s\", not in this configuration)",
		    etcd_key, what, info.name);
	return rk_err_set(err, RK_FAIL, "%s: no matching prefix found (value is %s)", etcd_key, what);
}

int rk_chain_read(rk_chain *chain, const char *etcd_key, const uint8_t *stored, size_t len, rk_buf *out,
                  int *stale, rk_err *err)
{
	struct read_errors errs = {RK_BUF_INIT, 0};
	const char *key_label = etcd_key ? etcd_key : "";
	*stale = 0;
	for (size_t i = 0; i < chain->nproviders; i++) {
		const struct chain_provider *p = &chain->providers[i];
		size_t plen = strlen(p->prefix);
		if (len < plen || memcmp(stored, p->prefix, plen) != 0)
			continue;
		if (p->type == RK_PROV_IDENTITY) {
			if (len >= 8 && !memcmp(stored, "k8s:enc:", 8))
				continue; /* "identity transformer tried to read encrypted data": not recorded
				           */
			if (rk_buf_append(out, stored, len) != 0)
				break;
			*stale = i != 0;
			rk_buf_free(&errs.text);
			return RK_OK;
		}
		if (p->type == RK_PROV_KMS) {
			rk_err e;
			kms_unsupported(p, &e);
			add_error(&errs, "kms", NULL, e.msg);
			continue;
		}
		size_t key_index = 0;
		if (read_local(p, etcd_key, stored + plen, len - plen, out, &key_index, &errs)) {
			*stale = i != 0 || key_index != 0;
			rk_buf_free(&errs.text);
			return RK_OK;
		}
	}
	int rc;
	if (errs.count == 1)
		rc = rk_err_set(err, RK_FAIL, "%s: %s", key_label, rk_buf_cstr(&errs.text));
	else if (errs.count > 1)
		rc = rk_err_set(err, RK_FAIL, "%s: [%s]", key_label, rk_buf_cstr(&errs.text));
	else
		rc = no_match_error(key_label, stored, len, err);
	rk_buf_free(&errs.text);
	return rc;
}

int rk_chain_kms_known(const rk_chain *chain, const uint8_t *stored, size_t len)
{
	for (size_t i = 0; i < chain->nproviders; i++) {
		const struct chain_provider *p = &chain->providers[i];
		size_t plen = strlen(p->prefix);
		if (p->type == RK_PROV_KMS && len >= plen && memcmp(stored, p->prefix, plen) == 0)
			return 1;
	}
	return 0;
}
