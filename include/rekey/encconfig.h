/* encconfig.h: the EncryptionConfiguration engine: load (strict, libyaml), validate like
 * kube-apiserver, edit (add read key, promote, prune, decrypt), emit canonical YAML, hash. */
#ifndef REKEY_ENCCONFIG_H
#define REKEY_ENCCONFIG_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "rekey/err.h"

typedef enum rk_provider_type {
	RK_PROV_NONE = 0, /* element named no provider (invalid) */
	RK_PROV_AESGCM,
	RK_PROV_AESCBC,
	RK_PROV_SECRETBOX,
	RK_PROV_IDENTITY,
	RK_PROV_KMS
} rk_provider_type;

typedef struct rk_key {
	char *name;
	char *secret; /* standard base64 as written in the file: key material, wiped on free */
	int line, col;
} rk_key;

typedef struct rk_kms {
	char *api_version; /* "v1" or "v2"; NULL when absent (defaults to v1) */
	char *name;
	char *endpoint;
	long cachesize;
	int has_cachesize;
	char *timeout; /* Go duration as written ("3s"); NULL when absent */
} rk_kms;

typedef struct rk_provider {
	rk_provider_type type;
	int ntypes; /* how many provider keys the element named (validation: exactly 1) */
	rk_key *keys;
	size_t nkeys;
	rk_kms kms;
	int line, col;
} rk_provider;

typedef struct rk_rule {
	char **resources; /* "secrets", "*.", "*.*", "deployments.apps", "*.apps" */
	size_t nresources;
	rk_provider *providers;
	size_t nproviders;
	int line, col;
} rk_rule;

/* Where a field was found in the file, by its apiserver field path ("resources[0].providers[1].aescbc"). */
typedef struct rk_pos {
	char *path;
	int line, col; /* 1-based */
} rk_pos;

/* Where a rule sits in the text it was loaded from: the whole lines from its "- " to its last value
 * (rk_encconfig_emit_over replaces only these bytes when the rule changed). */
typedef struct rk_rule_span {
	size_t start, end; /* byte offsets: start of the rule's first line, past the end of its last one */
	int dash_col;      /* column of the rule's "-"; -1 = it cannot be replaced alone (flow style, a line
	                      shared with something else) */
} rk_rule_span;

typedef struct rk_encconfig {
	char *path; /* file it came from, for messages ("<input>" for buffers) */
	rk_rule *rules;
	size_t nrules;
	rk_pos *positions; /* filled by the loader; cleared by edits (indices move) */
	size_t npositions;
	rk_rule_span *spans; /* filled by the loader, one per rule (NULL when the list of rules is not in
	                        block style); edits keep it: they never add or remove a rule */
} rk_encconfig;

/* Loading is strict: bad YAML, wrong apiVersion/kind, unknown or duplicate fields and wrong types are
 * errors "path:line:col: message" with code RK_BADINPUT. Loading does not run validation. */
int rk_encconfig_load_file(const char *path, rk_encconfig **out, rk_err *err);
int rk_encconfig_load_buf(const char *data, size_t len, const char *name, rk_encconfig **out, rk_err *err);
void rk_encconfig_free(rk_encconfig *cfg); /* wipes secrets */
/* Deep copy (NULL when out of memory). */
rk_encconfig *rk_encconfig_clone(const rk_encconfig *cfg);
/* 1 when both hold the same rules, providers, keys and kms settings (positions and path ignored). */
int rk_encconfig_equal(const rk_encconfig *a, const rk_encconfig *b);

/* Every rule of the apiserver's validation (docs/facts.md); first problem found -> RK_BADINPUT with
 * "path:line:col: field.path: message". `automatic_reload` enables the kms name-uniqueness rule. */
int rk_encconfig_validate(const rk_encconfig *cfg, int automatic_reload, rk_err *err);

/* Warnings that do not stop kube-apiserver from loading the config but need attention (KMS v1 needs
 * --feature-gates=KMSv1=true since 1.29; a resource listed in two rules): one per line into out. */
void rk_encconfig_warnings(const rk_encconfig *cfg, char **out);

/* The rule that applies to group/resource ("" = core group), as the apiserver looks it up: exact, then
 * "*.group", then "*.*". NULL = not encrypted (identity). A resource listed in several rules: the
 * apiserver appends the later rules' providers after the first rule's (they only ever read); the first
 * rule is returned, and its first provider is the one that writes (rk_encconfig_warnings flags this). */
const rk_rule *rk_encconfig_lookup(const rk_encconfig *cfg, const char *group, const char *resource);

/* Index in cfg->rules of the rule rk_encconfig_lookup returns; -1 = none (identity). */
int rk_encconfig_lookup_index(const rk_encconfig *cfg, const char *group, const char *resource);

/* ---- selecting rules (a rotation plan's `resources`) ----
 * A selector is a resource entry as a rule lists it: "secrets", "deployments.apps", "*.apps",
 * "*.example.com", "*." (every core-group resource) or "*.*" (every resource). */

/* NULL when `entry` is a resource entry the apiserver accepts in a config, else why not (its wording:
 * capital letters, bare "*", "resource.*", resources without a REST API, groups events.k8s.io and
 * extensions). */
const char *rk_resource_entry_problem(const char *entry);
/* 1 when the entry (as a rule lists it) covers group/resource ("" = core group): "r" and "r.g" exactly,
 * "*." every core resource, "*.g" every resource of g, "*.*" everything. */
int rk_entry_covers(const char *entry, const char *group, const char *resource);
/* Marks in sel (cfg->nrules bytes) the rules that list one of the selectors verbatim. RK_BADINPUT when a
 * selector is listed by no rule (naming the rule that covers it through a wildcard, if one does), or when a
 * selected rule lists a resource that an unselected rule lists too (the apiserver reads that resource
 * through both rules, so their keys must change together). */
int rk_encconfig_select_rules(const rk_encconfig *cfg, const char *const *selectors, size_t n,
                              unsigned char *sel, rk_err *err);
/* Index of the first rule listing `entry` verbatim; -1 when none does. */
int rk_encconfig_listing_rule(const rk_encconfig *cfg, const char *entry);

/* Parses "secrets" or "deployments.apps" into resource and group parts (malloc'd). */
int rk_split_resource(const char *gr, char **resource, char **group);

const char *rk_provider_name(rk_provider_type t);         /* "aescbc", ... */
rk_provider_type rk_provider_from_name(const char *name); /* RK_PROV_NONE when unknown */

/* Key bytes decoded from base64 into out (up to cap bytes); returns length or -1. Caller wipes. */
int rk_key_decode(const rk_key *key, uint8_t *out, size_t cap);

/* Fingerprint of a key: hex of the first 8 bytes of sha256(key bytes): 16 chars + NUL. */
int rk_key_fingerprint(const rk_key *key, char out[17]);

/* Canonical YAML (malloc'd, NUL-terminated; holds secrets: wipe with OPENSSL_cleanse before free).
 * Deterministic: load(emit(x)) == x and emit is stable. NULL when out of memory. An element naming
 * several providers (invalid) is emitted with its first only. */
char *rk_encconfig_emit(const rk_encconfig *cfg, size_t *len);
/* The same YAML with every secret replaced by "REDACTED fingerprint <hex>" (not loadable): for --dry-run. */
char *rk_encconfig_emit_redacted(const rk_encconfig *cfg, size_t *len);
/* `edited` written over the text `base` was loaded from (base->spans): the rules that differ from base's
 * are replaced by their canonical YAML at the same indentation, everything else (the other rules,
 * comments, formatting) is kept byte for byte. Falls back to rk_encconfig_emit(edited) when that cannot be
 * done exactly: rules in flow style or sharing lines, a different number of rules, or a result that would
 * not load back as `edited`. Deterministic; malloc'd, holds secrets (wipe before free); NULL when out of
 * memory. */
char *rk_encconfig_emit_over(const rk_encconfig *edited, const rk_encconfig *base, const char *text,
                             size_t text_len, size_t *len);

/* "sha256:<hex>" of exact bytes, as kube-apiserver's last_config_info hash. out >= 72 bytes. */
void rk_config_hash(const void *data, size_t len, char out[72]);

/* ---- edits (all validate the result; all refuse to reuse a key name anywhere in the file) ----
 * Scope: `resources` lists resource entries as written in the file ("secrets", "*.apps"); NULL = every
 * rule. A rule is edited when one of its entries is in scope; every one of its entries must then be in
 * scope (RK_BADINPUT otherwise: an edit must not silently change another resource's encryption), and
 * every scoped entry must be in some rule. On any error the config is unchanged. Promote, prune and the
 * identity edits with a NULL scope act on the rules that hold the named key. */

/* Adds `key` as READ key (second position) to the provider of type `type` in every rule matching
 * `resources` (NULL = every rule). Where the rule has no provider of that type (migration:
 * identity -> aescbc, aescbc -> aesgcm, ...), the provider is created in second position so the
 * current write provider stays first. The key struct is copied. */
int rk_encconfig_add_key(rk_encconfig *cfg, const char *const *resources, size_t nresources,
                         rk_provider_type type, const rk_key *key, rk_err *err);
/* Adds a kms provider in second position (aescbc -> kms migration). */
int rk_encconfig_add_kms(rk_encconfig *cfg, const char *const *resources, size_t nresources,
                         const rk_kms *kms, rk_err *err);
/* Makes the named key (or kms provider name) the write key: first key of its provider and its
 * provider first in each matching rule. */
int rk_encconfig_promote(rk_encconfig *cfg, const char *const *resources, size_t nresources, const char *name,
                         rk_err *err);
/* Removes the named key (or kms provider); refuses to remove a write key; drops a provider left with
 * no keys. */
int rk_encconfig_prune(rk_encconfig *cfg, const char *const *resources, size_t nresources, const char *name,
                       rk_err *err);
/* Decrypt: puts identity first (creating it) in each matching rule; other providers stay to read. */
int rk_encconfig_identity_first(rk_encconfig *cfg, const char *const *resources, size_t nresources,
                                rk_err *err);
/* Break glass: identity as the last provider of each matching rule (a read fallback for objects stored
 * in plaintext; the write provider stays first); rules already holding identity are left as they are. */
int rk_encconfig_identity_last(rk_encconfig *cfg, const char *const *resources, size_t nresources,
                               rk_err *err);
/* Removes every provider except identity from the matching rules (after a decrypt rewrite). */
int rk_encconfig_prune_all_but_identity(rk_encconfig *cfg, const char *const *resources, size_t nresources,
                                        rk_err *err);

/* The write (first) key name of a rule: the first provider's first key name, the kms name, or
 * "identity". */
const char *rk_rule_write_key(const rk_rule *rule);
/* 1 when a key (or kms provider) of that name exists anywhere in the config. */
int rk_encconfig_has_key_name(const rk_encconfig *cfg, const char *name);

/* A new key: `<provider>-<UTC yyyymmddThhmmssZ>` name (suffixed -2, -3... when taken in cfg) and
 * RAND_bytes secret of `bytes` length (32 for secretbox). Fill key; free with rk_key_clear. */
int rk_key_generate(const rk_encconfig *cfg, rk_provider_type type, size_t bytes, rk_key *key, rk_err *err);
void rk_key_clear(rk_key *key); /* wipes and frees */
/* The creation time rk_key_generate put in a key's name (`<anything>-yyyymmddThhmmssZ`, optionally
 * followed by -N) into *when; -1 when the name carries none. */
int rk_key_name_time(const char *name, time_t *when);

/* ---- whole files (what `rekeyctl config` runs) ---- */

/* Reads path, hashes its exact bytes ("sha256:<hex>"), loads and validates it. */
int rk_encconfig_open(const char *path, int automatic_reload, rk_encconfig **cfg, char hash[72], rk_err *err);
/* `rekeyctl config hash`: the hash of path's exact bytes (read, hashed, wiped). */
int rk_config_hash_file(const char *path, char hash[72], rk_err *err);

typedef enum rk_edit_op {
	RK_EDIT_ADD_KEY = 1, /* type + key */
	RK_EDIT_ADD_KMS,     /* kms */
	RK_EDIT_PROMOTE,     /* name ("identity" = identity first) */
	RK_EDIT_PRUNE,       /* name */
	RK_EDIT_IDENTITY_FIRST,
	RK_EDIT_ONLY_IDENTITY
} rk_edit_op;

typedef struct rk_edit_request {
	rk_edit_op op;
	const char *const *resources; /* scope; NULL = every rule (see the edits above) */
	size_t nresources;
	rk_provider_type type;
	const rk_key *key;    /* RK_EDIT_ADD_KEY; NULL = the key described by the three fields below */
	const char *key_file; /* its bytes from this 0600 key file (rk_key_read_file); NULL = generated */
	size_t key_bytes;     /* generated: 16, 24 or 32 (0 = 32) */
	const char *key_name; /* NULL = <provider>-<UTC time>, not yet used in the file */
	const rk_kms *kms;
	const char *name;
	int dry_run; /* compute the result, write nothing */
} rk_edit_request;

typedef struct rk_edit_result {
	char old_hash[72], new_hash[72];
	int changed;              /* the new bytes differ from the file's */
	char *preview;            /* dry run: the would-be YAML with secrets redacted (malloc'd) */
	char key_name[256];       /* RK_EDIT_ADD_KEY: the key added */
	char key_fingerprint[17]; /* and its fingerprint (rk_key_fingerprint) */
} rk_edit_result;

/* Loads and validates path, applies the edit, and (unless dry_run) replaces the file atomically, mode 0600,
 * the previous bytes kept in path.bak (0600). Only the edited rules are rewritten (canonical YAML at their
 * own indentation); the other rules, comments and formatting stay as they were (rk_encconfig_emit_over).
 * The file is untouched on any error and when nothing changed. */
int rk_encconfig_edit_file(const char *path, const rk_edit_request *req, rk_edit_result *res, rk_err *err);
void rk_edit_result_free(rk_edit_result *res);

#endif
