/* test_encconfig.c: loading and validating EncryptionConfigurations: every malformed input and every
 * apiserver validation rule rejected with its message and line, valid configs accepted, KMS rules,
 * warnings, Go durations, lookup order. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "encconfig_fixtures.h"
#include "rekey/buf.h"
#include "rekey/duration.h"
#include "rekey/encconfig.h"
#include "testutil.h"

typedef struct bad_case {
	const char *name;
	const char *yaml;
	int validate; /* 0: loading must fail; 1: loading succeeds, validation must fail */
	int reload;
	const char *message; /* substring of the error */
	int line;            /* expected line, 0 = no position */
} bad_case;

static const bad_case bad_cases[] = {
    /* ---- loading (strict decoding) ---- */
    {"empty file", "", 0, 0, "the file is empty", 1},
    {"only comments", "# nothing here\n\n", 0, 0, "no YAML document", 1},
    {"tab indentation", HDR "\t- resources: [secrets]\n", 0, 0, "invalid YAML", 4},
    {"unclosed flow list", HDR "  - resources: [secrets\n", 0, 0, "invalid YAML", 0},
    {"apiVersion v1beta1", "apiVersion: apiserver.config.k8s.io/v1beta1\nkind: EncryptionConfiguration\n", 0,
     0, "apiVersion \"apiserver.config.k8s.io/v1beta1\" is not supported", 1},
    {"legacy EncryptionConfig", "kind: EncryptionConfig\napiVersion: v1\nresources: []\n", 0, 0,
     "apiVersion \"v1\" is not supported", 2},
    {"missing apiVersion", "kind: EncryptionConfiguration\nresources: []\n", 0, 0, "apiVersion is missing",
     1},
    {"wrong kind", "apiVersion: apiserver.config.k8s.io/v1\nkind: AdmissionConfiguration\n", 0, 0,
     "kind \"AdmissionConfiguration\" is not supported", 2},
    {"missing kind", "apiVersion: apiserver.config.k8s.io/v1\nresources: []\n", 0, 0, "kind is missing", 1},
    {"top-level list", "- a\n- b\n", 0, 0, "got a list", 1},
    {"unknown top field",
     "apiVersion: apiserver.config.k8s.io/v1\nkind: EncryptionConfiguration\nmetadata: {}\n", 0, 0,
     "unknown field \"metadata\"", 3},
    {"typo in key field",
     HDR RULE("secrets") "      - aescbc:\n          keys:\n            - name: k\n"
                         "              secrte: " K32 "\n",
     0, 0, "unknown field \"resources[0].providers[0].aescbc.keys[0].secrte\"", 10},
    {"unknown provider", HDR RULE("secrets") "      - aesctr:\n          keys: []\n", 0, 0,
     "unknown field \"resources[0].providers[0].aesctr\"", 7},
    {"duplicate field",
     HDR RULE("secrets") "      - aescbc:\n          keys:\n            - name: a\n"
                         "              name: b\n              secret: " K32 "\n",
     0, 0, "duplicate field \"name\"", 10},
    {"duplicate top field", AESCBC_CONFIG "kind: EncryptionConfiguration\n", 0, 0,
     "duplicate field \"kind\" (first at line 2)", 12},
    {"number as key name", HDR RULE("secrets") PROV("aescbc", "123", K32), 0, 0,
     "keys[0].name: expected a string, got a number", 9},
    {"octal as key name", HDR RULE("secrets") PROV("aescbc", "0o17", K32), 0, 0, "got a number (quote it)",
     9},
    {"yes as secret", HDR RULE("secrets") PROV("aescbc", "k", "yes"), 0, 0,
     "expected a string, got a boolean", 10},
    {"resources not a list", HDR "  - resources: secrets\n", 0, 0, "resources[0].resources: expected a list",
     4},
    {"provider not a mapping", HDR RULE("secrets") "      - aescbc\n", 0, 0,
     "expected a provider (a mapping), got a string", 7},
    {"identity with a field", HDR RULE("secrets") "      - identity: {keys: []}\n", 0, 0,
     "unknown field \"resources[0].providers[0].identity.keys\"", 7},
    {"second document", AESCBC_CONFIG "---\n" AESCBC_CONFIG, 0, 0, "a second YAML document", 13},
    {"bad kms timeout",
     HDR RULE("secrets") KMS("v2", "k", "unix:///kms.sock") "          timeout: 3 seconds\n", 0, 0,
     "invalid duration \"3 seconds\"", 11},
    {"kms cachesize not a number",
     HDR RULE("secrets") KMS("v1", "k", "unix:///k") "          cachesize: lots\n", 0, 0,
     "cachesize: expected an integer", 11},
    {"kms cachesize out of int32",
     HDR RULE("secrets") KMS("v1", "k", "unix:///k") "          cachesize: 4294967296\n", 0, 0,
     "not a decimal 32-bit integer", 11},
    /* ---- validation: structure ---- */
    {"no rules", "apiVersion: apiserver.config.k8s.io/v1\nkind: EncryptionConfiguration\nresources: []\n", 1,
     0, "resources: Required value: at least one resources is required", 3},
    {"resources absent", "apiVersion: apiserver.config.k8s.io/v1\nkind: EncryptionConfiguration\n", 1, 0,
     "at least one resources is required", 0},
    {"rule without resources", HDR "  - resources: []\n    providers:\n" IDENTITY, 1, 0,
     "resources[0].resources: Required value: at least one resources[0].resources is required", 4},
    {"rule without providers", HDR "  - resources:\n      - secrets\n    providers: []\n", 1, 0,
     "at least one resources[0].providers is required", 6},
    {"empty provider element", HDR RULE("secrets") "      - {}\n", 1, 0,
     "provider does not contain any of the expected providers: KMS, AESGCM, AESCBC, Secretbox, Identity", 7},
    {"null identity", HDR RULE("secrets") "      - identity:\n", 1, 0, "does not contain any of the expected",
     7},
    {"two providers in one element",
     HDR RULE("secrets") "      - identity: {}\n        aescbc:\n          keys: []\n", 1, 0,
     "more than one provider specified in a single element", 7},
    /* ---- validation: keys ---- */
    {"no keys", HDR RULE("secrets") "      - aescbc:\n          keys: []\n", 1, 0,
     "resources[0].providers[0].aescbc.keys: Required value: at least one keys is required", 8},
    {"key without name",
     HDR RULE("secrets") "      - aesgcm:\n          keys:\n            - secret: " K32 "\n", 1, 0,
     "resources[0].providers[0].aesgcm.keys[0].name: Required value: name is a mandatory field for a key", 9},
    {"key without secret", HDR RULE("secrets") "      - aescbc:\n          keys:\n            - name: k\n", 1,
     0, "secret is a mandatory field for a key", 9},
    {"bad base64", HDR RULE("secrets") PROV("aescbc", "k", "not*base64!"), 1, 0,
     "resources[0].providers[0].aescbc.keys[0].secret: Invalid value: \"REDACTED\": secrets must be base64 "
     "encoded",
     10},
    {"unpadded base64", HDR RULE("secrets") PROV("aescbc", "k", "MDEyMzQ1Njc4OWFiY2RlZg"), 1, 0,
     "secrets must be base64 encoded", 10},
    {"aescbc 20 bytes", HDR RULE("secrets") PROV("aescbc", "k", K20), 1, 0,
     "secret is not of the expected length, got 20, expected one of [16 24 32]", 10},
    {"secretbox 16 bytes", HDR RULE("secrets") PROV("secretbox", "k", K16), 1, 0,
     "resources[0].providers[0].secretbox.keys[0].secret: Invalid value: \"REDACTED\": secret is not of the "
     "expected length, got 16, expected one of [32]",
     10},
    {"second key bad",
     HDR RULE("secrets") PROV("aescbc", "k", K32) "            - name: k2\n              secret: " K20 "\n",
     1, 0, "aescbc.keys[1].secret", 12},
    /* ---- validation: kms ---- */
    {"kms without name",
     HDR RULE("secrets") "      - kms:\n          apiVersion: v2\n          endpoint: unix:///k\n", 1, 0,
     "kms.name: Required value: name is a mandatory field for a provider", 8},
    {"kms v2 name with colon", HDR RULE("secrets") KMS("v2", "\"a:b\"", "unix:///k"), 1, 0,
     "invalid KMS provider name a:b, must not contain ':'", 9},
    {"kms v2 duplicate names", HDR RULE("secrets") KMS("v2", "k", "unix:///a") KMS("v2", "k", "unix:///b"), 1,
     0,
     "resources[0].providers[1].kms.name: Invalid value: \"k\": duplicate KMS provider name k, names must be "
     "unique",
     13},
    {"kms v1 duplicate names with reload",
     HDR RULE("secrets") KMS("v1", "k", "unix:///a") KMS("v1", "k", "unix:///b"), 1, 1,
     "duplicate KMS provider name k", 13},
    {"kms zero timeout", HDR RULE("secrets") KMS("v2", "k", "unix:///a") "          timeout: 0s\n", 1, 0,
     "timeout should be a positive value", 11},
    {"kms negative timeout", HDR RULE("secrets") KMS("v2", "k", "unix:///a") "          timeout: -1s\n", 1, 0,
     "timeout should be a positive value", 11},
    {"kms without endpoint",
     HDR RULE("secrets") "      - kms:\n          apiVersion: v2\n          name: k\n", 1, 0,
     "endpoint is a mandatory field for a kms", 8},
    {"kms https endpoint", HDR RULE("secrets") KMS("v2", "k", "https://kms.example:443"), 1, 0,
     "unsupported scheme \"https\" for KMS provider, only unix is supported", 10},
    {"kms path endpoint", HDR RULE("secrets") KMS("v2", "k", "/var/run/kms.sock"), 1, 0,
     "unsupported scheme \"\" for KMS provider", 10},
    {"kms endpoint missing scheme", HDR RULE("secrets") KMS("v2", "k", "\"://x\""), 1, 0,
     "invalid endpoint for kms provider, error: missing protocol scheme", 10},
    {"kms v2 cachesize", HDR RULE("secrets") KMS("v2", "k", "unix:///a") "          cachesize: 100\n", 1, 0,
     "cachesize: Invalid value: 100: cachesize is not supported in v2", 11},
    {"kms v1 cachesize zero", HDR RULE("secrets") KMS("v1", "k", "unix:///a") "          cachesize: 0\n", 1,
     0, "cachesize should be a positive value, or negative to disable", 11},
    {"kms apiVersion v3", HDR RULE("secrets") KMS("v3", "k", "unix:///a"), 1, 0,
     "unsupported apiVersion v3 for KMS provider, only v1 and v2 are supported", 8},
    /* ---- validation: resource names ---- */
    {"capital letters", HDR RULE("Secrets") IDENTITY, 1, 0,
     "resources[0].resources[0]: Invalid value: \"Secrets\": resource name should not contain capital "
     "letters",
     5},
    {"bare star", HDR RULE("\"*\"") IDENTITY, 1, 0,
     "use '*.' to encrypt all the resources from core API group", 5},
    {"non-REST resource", HDR RULE("serviceipallocations") IDENTITY, 1, 0,
     "resources which do not have REST API/s cannot be encrypted", 5},
    {"apiserveripinfo", HDR RULE("apiserveripinfo") IDENTITY, 1, 0, "do not have REST API/s", 5},
    {"events.k8s.io group", HDR RULE("\"*.events.k8s.io\"") IDENTITY, 1, 0,
     "objects are stored using the 'events' API group in etcd", 5},
    {"extensions group", HDR RULE("deployments.extensions") IDENTITY, 1, 0,
     "'extensions' group has been removed and cannot be used for encryption", 5},
    {"resource across groups", HDR RULE("secrets.*") IDENTITY, 1, 0,
     "encrypting the same resource across groups is not supported", 5},
    {"duplicate resource", HDR "  - resources:\n      - secrets\n      - secrets\n    providers:\n" IDENTITY,
     1, 0,
     "Invalid value: []string{\"secrets\", \"secrets\"}: the same resource cannot be specified multiple "
     "times",
     5},
    {"secrets with *.", HDR "  - resources:\n      - secrets\n      - \"*.\"\n    providers:\n" IDENTITY, 1,
     0, "using overlapping resources such as 'secrets' and '*.' in the same resource list is not allowed", 5},
    {"*.* with configmaps",
     HDR "  - resources:\n      - \"*.*\"\n      - configmaps\n    providers:\n" IDENTITY, 1, 0,
     "using overlapping resources", 5},
    /* ---- masking across rules ---- */
    {"masked by *.apps", HDR RULE("\"*.apps\"") IDENTITY RULE("deployments.apps") IDENTITY, 1, 0,
     "resources[1].resources[0]: resource \"deployments.apps\" is masked by earlier rule \"*.apps\"", 9},
    {"masked by *.*", HDR RULE("\"*.*\"") IDENTITY RULE("secrets") IDENTITY, 1, 0,
     "resource \"secrets\" is masked by earlier rule \"*.*\"", 9},
    {"*. masked by *.", HDR RULE("\"*.\"") IDENTITY RULE("\"*.\"") IDENTITY, 1, 0,
     "resource \"*.\" is masked by earlier rule \"*.\"", 9},
};

START_TEST(bad_input_rejected)
{
	const bad_case *c = &bad_cases[_i];
	rk_encconfig *cfg = NULL;
	rk_err err = {0};
	rk_err_clear(&err);
	int rc = rk_encconfig_load_buf(c->yaml, strlen(c->yaml), "t.yaml", &cfg, &err);
	if (c->validate) {
		ck_assert_msg(rc == RK_OK, "%s: load failed: %s", c->name, err.msg);
		rc = rk_encconfig_validate(cfg, c->reload, &err);
	}
	rk_encconfig_free(cfg);
	ck_assert_msg(rc == RK_BADINPUT, "%s: accepted (rc %d)", c->name, rc);
	ck_assert_msg(strstr(err.msg, c->message), "%s: message \"%s\" lacks \"%s\"", c->name, err.msg,
	              c->message);
	char where[32];
	snprintf(where, sizeof where, "t.yaml:%d:", c->line);
	if (c->line)
		ck_assert_msg(!strncmp(err.msg, where, strlen(where)), "%s: \"%s\" is not at line %d",
		              c->name, err.msg, c->line);
	ck_assert_msg(!strchr(err.msg, '\n'), "%s: message is not one line", c->name);
}
END_TEST

static const char *const good_configs[] = {
    AESCBC_CONFIG,
    HDR RULE("secrets") PROV("aesgcm", "g16", K16) PROV("aesgcm", "g24", K24) PROV("secretbox", "sb", K32)
        IDENTITY,
    HDR RULE("secrets")
        KMS("v2", "kms-a", "unix:///run/kms.sock") "          timeout: 1m30s\n" PROV("aescbc", "old", K32),
    HDR RULE("secrets")
        KMS("v1", "\"a:b\"", "unix:///a") "          cachesize: -1\n" KMS("v1", "\"a:b\"", "unix:///b"),
    HDR RULE("\"*.apps\"") PROV("aescbc", "apps", K32) RULE("\"*.*\"") IDENTITY,
    HDR "  - resources:\n      - secrets\n      - configmaps\n      - pandas.awesome.bears.example\n    "
        "providers:\n" IDENTITY,
    HDR RULE("\"*.\"") PROV("aescbc", "core", K32) RULE("deployments.apps") IDENTITY,
    "{\"apiVersion\": \"apiserver.config.k8s.io/v1\", \"kind\": \"EncryptionConfiguration\", \"resources\": "
    "[{\"resources\": [\"secrets\"], \"providers\": [{\"identity\": {}}]}]}",
    "# comment\napiVersion: apiserver.config.k8s.io/v1 # trailing\nkind: "
    "EncryptionConfiguration\nresources:\n"
    "- resources: [secrets]\n  providers:\n  - aescbc: {keys: [{name: k, secret: \"" K32 "\"}]}\n",
};

START_TEST(valid_config_accepted)
{
	const char *yaml = good_configs[_i];
	rk_encconfig *cfg = NULL;
	rk_err err = {0};
	ck_assert_msg(rk_encconfig_load_buf(yaml, strlen(yaml), "good.yaml", &cfg, &err) == RK_OK, "%s",
	              err.msg);
	ck_assert_msg(rk_encconfig_validate(cfg, 0, &err) == RK_OK, "config %d: %s", _i, err.msg);
	ck_assert_uint_ge(cfg->nrules, 1);
	rk_encconfig_free(cfg);
}
END_TEST

static rk_encconfig *load_ok(const char *yaml)
{
	rk_encconfig *cfg = NULL;
	rk_err err = {0};
	ck_assert_msg(rk_encconfig_load_buf(yaml, strlen(yaml), "t.yaml", &cfg, &err) == RK_OK, "%s",
	              err.msg);
	return cfg;
}

START_TEST(model_holds_what_the_file_says)
{
	rk_encconfig *cfg = load_ok(HDR RULE("secrets") KMS(
	    "v2", "kms-a", "unix:///run/kms.sock") "          timeout: 10s\n" PROV("aescbc", "old", K32)
	                                IDENTITY);
	ck_assert_uint_eq(cfg->nrules, 1);
	const rk_rule *r = &cfg->rules[0];
	ck_assert_str_eq(r->resources[0], "secrets");
	ck_assert_uint_eq(r->nproviders, 3);
	ck_assert_int_eq(r->providers[0].type, RK_PROV_KMS);
	ck_assert_str_eq(r->providers[0].kms.name, "kms-a");
	ck_assert_str_eq(r->providers[0].kms.api_version, "v2");
	ck_assert_str_eq(r->providers[0].kms.timeout, "10s");
	ck_assert_int_eq(r->providers[0].kms.has_cachesize, 0);
	ck_assert_int_eq(r->providers[1].type, RK_PROV_AESCBC);
	ck_assert_str_eq(r->providers[1].keys[0].secret, K32);
	ck_assert_int_eq(r->providers[1].line, 12);
	ck_assert_int_eq(r->providers[2].type, RK_PROV_IDENTITY);
	ck_assert_str_eq(rk_rule_write_key(r), "kms-a");
	rk_encconfig_free(cfg);
}
END_TEST

START_TEST(kms_v1_names_may_repeat_without_reload)
{
	rk_encconfig *cfg =
	    load_ok(HDR RULE("secrets") KMS("v1", "k", "unix:///a") KMS("v1", "k", "unix:///b"));
	rk_err err = {0};
	ck_assert_int_eq(rk_encconfig_validate(cfg, 0, &err), RK_OK);
	ck_assert_int_eq(rk_encconfig_validate(cfg, 1, &err), RK_BADINPUT);
	rk_encconfig_free(cfg);
}
END_TEST

START_TEST(warnings_name_kms_v1_and_repeated_resources)
{
	rk_encconfig *cfg = load_ok(HDR RULE("secrets") KMS("v1", "k", "unix:///a") RULE("secrets") IDENTITY);
	char *warnings = NULL;
	rk_encconfig_warnings(cfg, &warnings);
	ck_assert_ptr_nonnull(strstr(warnings, "resources[0].providers[0].kms: KMS v1 is deprecated"));
	ck_assert_ptr_nonnull(strstr(warnings, "--feature-gates=KMSv1=true"));
	ck_assert_ptr_nonnull(
	    strstr(warnings, "resources[1].resources[0]: \"secrets\" is also in resources[0]"));
	free(warnings);
	rk_encconfig_free(cfg);
	cfg = load_ok(AESCBC_CONFIG);
	rk_encconfig_warnings(cfg, &warnings);
	ck_assert_str_eq(warnings, "");
	free(warnings);
	rk_encconfig_free(cfg);
}
END_TEST

START_TEST(go_durations_parse_like_go)
{
	long long ns;
	ck_assert_int_eq(rk_go_duration_parse("3s", &ns), 0);
	ck_assert_int_eq(ns, 3000000000LL);
	ck_assert_int_eq(rk_go_duration_parse("1m30s", &ns), 0);
	ck_assert_int_eq(ns, 90000000000LL);
	ck_assert_int_eq(rk_go_duration_parse("1.5h", &ns), 0);
	ck_assert_int_eq(ns, 5400000000000LL);
	ck_assert_int_eq(rk_go_duration_parse("500ms", &ns), 0);
	ck_assert_int_eq(ns, 500000000LL);
	ck_assert_int_eq(rk_go_duration_parse("-2us", &ns), 0);
	ck_assert_int_eq(ns, -2000LL);
	ck_assert_int_eq(rk_go_duration_parse("0", &ns), 0);
	ck_assert_int_eq(ns, 0);
	const char *bad[] = {"", "3", "s", "3 s", "3sec", "1d", "-", ".s", "99999999999h"};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		ck_assert_msg(rk_go_duration_parse(bad[i], &ns) != 0, "accepted \"%s\"", bad[i]);
}
END_TEST

START_TEST(lookup_follows_apiserver_order)
{
	rk_encconfig *cfg = load_ok(HDR RULE("secrets") PROV("aescbc", "exact", K32) RULE("\"*.apps\"")
	                                PROV("aescbc", "apps", K32) RULE("\"*.\"") PROV("aescbc", "core", K32)
	                                    RULE("\"*.*\"") PROV("aescbc", "any", K32));
	ck_assert_str_eq(rk_rule_write_key(rk_encconfig_lookup(cfg, "", "secrets")), "exact");
	ck_assert_str_eq(rk_rule_write_key(rk_encconfig_lookup(cfg, "apps", "deployments")), "apps");
	ck_assert_str_eq(rk_rule_write_key(rk_encconfig_lookup(cfg, "", "configmaps")), "core");
	ck_assert_str_eq(rk_rule_write_key(rk_encconfig_lookup(cfg, "batch", "jobs")), "any");
	rk_encconfig_free(cfg);
	cfg = load_ok(AESCBC_CONFIG);
	ck_assert_ptr_null(rk_encconfig_lookup(cfg, "", "configmaps"));
	ck_assert_ptr_nonnull(rk_encconfig_lookup(cfg, NULL, "secrets"));
	rk_encconfig_free(cfg);
}
END_TEST

START_TEST(split_resource_parts)
{
	char *res, *group;
	ck_assert_int_eq(rk_split_resource("deployments.apps", &res, &group), 0);
	ck_assert_str_eq(res, "deployments");
	ck_assert_str_eq(group, "apps");
	free(res);
	free(group);
	ck_assert_int_eq(rk_split_resource("secrets", &res, &group), 0);
	ck_assert_str_eq(res, "secrets");
	ck_assert_str_eq(group, "");
	free(res);
	free(group);
	ck_assert_int_eq(rk_split_resource("pandas.awesome.bears.example", &res, &group), 0);
	ck_assert_str_eq(group, "awesome.bears.example");
	free(res);
	free(group);
}
END_TEST

/* The apiserver's pairwise validateResourceOverlap, as a reference for the validator's sorted scan. */
static void reference_overlap(const char *const *list, size_t n, int *dup, int *overlap)
{
	*dup = *overlap = 0;
	for (size_t i = 0; i < n; i++)
		for (size_t j = 0; j < n; j++) {
			char *r1, *g1, *r2, *g2;
			if (i == j)
				continue;
			rk_split_resource(list[i], &r1, &g1);
			rk_split_resource(list[j], &r2, &g2);
			int same = !strcmp(r1, r2) && !strcmp(g1, g2);
			if (same && !*dup)
				*dup = 1;
			else if (!*overlap && ((!strcmp(r1, "*") && !strcmp(g1, "*")) ||
			                       (!strcmp(g1, g2) && (!strcmp(r1, "*") || !strcmp(r2, "*")))))
				*overlap = 1;
			free(r1), free(g1), free(r2), free(g2);
		}
}

START_TEST(overlap_matches_the_apiserver_on_every_small_list)
{
	static const char *const alphabet[] = {"secrets", "configmaps", "*.",
	                                       "*.*",     "*.apps",     "deployments.apps"};
	for (size_t n = 2; n <= 3; n++)
		for (size_t code = 0; code < (n == 2 ? 36u : 216u); code++) {
			const char *list[3];
			char yaml[1024] = HDR "  - resources:\n";
			for (size_t i = 0, c = code; i < n; i++, c /= 6) {
				list[i] = alphabet[c % 6];
				snprintf(yaml + strlen(yaml), sizeof yaml - strlen(yaml), "      - \"%s\"\n",
				         list[i]);
			}
			strcat(yaml, "    providers:\n" IDENTITY);
			int dup, overlap;
			reference_overlap(list, n, &dup, &overlap);
			rk_encconfig *cfg = NULL;
			rk_err err = {0};
			ck_assert_int_eq(rk_encconfig_load_buf(yaml, strlen(yaml), "t.yaml", &cfg, &err),
			                 RK_OK);
			int rc = rk_encconfig_validate(cfg, 0, &err);
			rk_encconfig_free(cfg);
			const char *want = dup       ? "cannot be specified multiple times"
			                   : overlap ? "overlapping"
			                             : NULL;
			if (want)
				ck_assert_msg(rc == RK_BADINPUT && strstr(err.msg, want), "%s: got \"%s\"",
				              yaml, err.msg);
			else
				ck_assert_msg(rc == RK_OK || !strstr(err.msg, "resources[0].resources:"),
				              "%s: got \"%s\"", yaml, err.msg);
		}
}
END_TEST

/* A few kilobytes of aliases must not expand into millions of keys. */
START_TEST(alias_bomb_is_refused)
{
	char yaml[16384] = HDR "  - resources: [secrets]\n    providers:\n      - &p\n        aescbc:\n"
	                       "          keys: [&k {name: k, secret: \"" K32 "\"}";
	for (int i = 0; i < 300; i++)
		strcat(yaml, ", *k");
	strcat(yaml, "]\n");
	for (int i = 0; i < 300; i++)
		strcat(yaml, "      - *p\n");
	rk_encconfig *cfg = NULL;
	rk_err err = {0};
	ck_assert_int_eq(rk_encconfig_load_buf(yaml, strlen(yaml), "t.yaml", &cfg, &err), RK_BADINPUT);
	ck_assert_ptr_nonnull(strstr(err.msg, "excessive aliasing"));
	ck_assert_ptr_null(cfg);
}
END_TEST

START_TEST(file_errors_name_the_file)
{
	rk_encconfig *cfg;
	rk_err err = {0};
	ck_assert_int_eq(rk_encconfig_load_file("/nonexistent/enc.yaml", &cfg, &err), RK_BADINPUT);
	ck_assert_ptr_nonnull(strstr(err.msg, "/nonexistent/enc.yaml: No such file"));
	ck_assert_ptr_null(cfg);
}
END_TEST

/* A 16 MiB secret: validation says it has the wrong length (once a stack array sized by the secret
 * crashed here), and a file that large is refused before it is parsed. */
START_TEST(huge_secret_is_a_clear_error)
{
	size_t n = 16u << 20;
	rk_buf yaml = RK_BUF_INIT;
	rk_buf_append_str(&yaml, HDR "  - resources: [secrets]\n    providers:\n      - aescbc:\n"
	                             "          keys:\n            - name: k\n              secret: \"");
	ck_assert_int_eq(rk_buf_reserve(&yaml, n + 64), 0);
	memset(yaml.data + yaml.len, 'A', n);
	yaml.len += n;
	rk_buf_append_str(&yaml, "\"\n");
	rk_encconfig *cfg = NULL;
	rk_err err = {0};
	ck_assert_int_eq(rk_encconfig_load_buf((const char *)yaml.data, yaml.len, "t.yaml", &cfg, &err),
	                 RK_OK);
	ck_assert_int_eq(rk_encconfig_validate(cfg, 0, &err), RK_BADINPUT);
	ck_assert_ptr_nonnull(strstr(err.msg, "secret is not of the expected length, got 12582912"));
	rk_encconfig_free(cfg);
	char *dir = tu_mkdtemp(), *path = tu_path(dir, "huge.yaml");
	ck_assert_int_eq(tu_write_file(path, (const char *)yaml.data, yaml.len), 0);
	ck_assert_int_eq(rk_encconfig_load_file(path, &cfg, &err), RK_BADINPUT);
	ck_assert_ptr_nonnull(strstr(err.msg, "huge.yaml: larger than 4 MiB"));
	ck_assert_ptr_null(cfg);
	rk_buf_free(&yaml);
	tu_rmtree(dir);
	free(path);
	free(dir);
}
END_TEST

Suite *encconfig_suite(void)
{
	Suite *s = suite_create("encconfig");
	TCase *tc = tcase_create("load-validate");
	tcase_add_loop_test(tc, bad_input_rejected, 0, (int)(sizeof bad_cases / sizeof bad_cases[0]));
	tcase_add_loop_test(tc, valid_config_accepted, 0,
	                    (int)(sizeof good_configs / sizeof good_configs[0]));
	tcase_add_test(tc, model_holds_what_the_file_says);
	tcase_add_test(tc, kms_v1_names_may_repeat_without_reload);
	tcase_add_test(tc, warnings_name_kms_v1_and_repeated_resources);
	tcase_add_test(tc, go_durations_parse_like_go);
	tcase_add_test(tc, lookup_follows_apiserver_order);
	tcase_add_test(tc, split_resource_parts);
	tcase_add_test(tc, overlap_matches_the_apiserver_on_every_small_list);
	tcase_add_test(tc, alias_bomb_is_refused);
	tcase_add_test(tc, file_errors_name_the_file);
	tcase_add_test(tc, huge_secret_is_a_clear_error);
	suite_add_tcase(s, tc);
	return s;
}
