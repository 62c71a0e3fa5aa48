/* test_encconfig_select.c: rules selected by a plan's entries (listed, covered by a wildcard, split
 * across rules), what an entry covers and the lookup order, and writing an edited config over the
 * original text: unchanged rules, comments and formatting kept byte for byte, the changed rule at its
 * own indentation, and the canonical fallback (flow style, aliases). */
#include <check.h>
#include <openssl/crypto.h>
#include <stdlib.h>
#include <string.h>

#include "encconfig_fixtures.h"
#include "rekey/encconfig.h"

static rk_encconfig *load(const char *yaml)
{
	rk_encconfig *cfg = NULL;
	rk_err err = {0};
	ck_assert_msg(rk_encconfig_load_buf(yaml, strlen(yaml), "t.yaml", &cfg, &err) == RK_OK, "%s",
	              err.msg);
	ck_assert_msg(rk_encconfig_validate(cfg, 0, &err) == RK_OK, "%s", err.msg);
	return cfg;
}

/* three rules: configmaps+secrets (0), *.apps (1), *.* (2) */
static const char *const three_rules = HDR RULE("configmaps\n      - secrets") PROV("aescbc", "a", K32)
    RULE("\"*.apps\"") PROV("aesgcm", "b", K16) RULE("\"*.*\"") PROV("secretbox", "c", K32);

START_TEST(selection_by_listed_entries)
{
	rk_encconfig *cfg = load(three_rules);
	unsigned char sel[3];
	rk_err err;
	const char *by_secret[] = {"secrets"}, *wild[] = {"*.apps", "*.*"};
	ck_assert_int_eq(rk_encconfig_select_rules(cfg, by_secret, 1, sel, &err), RK_OK);
	ck_assert(sel[0] && !sel[1] && !sel[2]); /* the whole rule: configmaps too */
	ck_assert_int_eq(rk_encconfig_select_rules(cfg, wild, 2, sel, &err), RK_OK);
	ck_assert(!sel[0] && sel[1] && sel[2]);
	/* a resource no rule lists: the error names the rule that covers it */
	const char *deploy[] = {"deployments.apps"}, *pods[] = {"pods"}, *core[] = {"*."};
	ck_assert_int_eq(rk_encconfig_select_rules(cfg, deploy, 1, sel, &err), RK_BADINPUT);
	ck_assert_msg(strstr(err.msg,
	                     "no rule lists \"deployments.apps\"; resources[1] (\"*.apps\") covers it: name "
	                     "\"*.apps\""),
	              "%s", err.msg);
	ck_assert_int_eq(rk_encconfig_select_rules(cfg, pods, 1, sel, &err), RK_BADINPUT);
	ck_assert_msg(strstr(err.msg, "resources[2] (\"*.*\") covers it"), "%s", err.msg);
	ck_assert_int_eq(rk_encconfig_select_rules(cfg, core, 1, sel, &err), RK_BADINPUT);
	ck_assert_msg(strstr(err.msg, "no rule lists \"*.\""), "%s", err.msg);
	rk_encconfig_free(cfg);
}
END_TEST

START_TEST(selection_never_splits_a_resource)
{
	/* secrets in two rules: the apiserver reads secrets through both, so both change or neither */
	rk_encconfig *cfg = load(HDR RULE("secrets") PROV("aescbc", "a", K32)
	                             RULE("configmaps\n      - secrets") PROV("aesgcm", "b", K16));
	unsigned char sel[2];
	rk_err err;
	const char *cm[] = {"configmaps"}, *both[] = {"configmaps", "secrets"};
	ck_assert_int_eq(rk_encconfig_select_rules(cfg, cm, 1, sel, &err), RK_BADINPUT);
	ck_assert_msg(strstr(err.msg, "resources[1] lists \"secrets\", which resources[0] lists too"), "%s",
	              err.msg);
	ck_assert_int_eq(rk_encconfig_select_rules(cfg, both, 2, sel, &err), RK_OK);
	ck_assert(sel[0] && sel[1]);
	rk_encconfig_free(cfg);
}
END_TEST

START_TEST(entries_cover_and_lookup_order)
{
	ck_assert(rk_entry_covers("*.*", "", "secrets"));
	ck_assert(rk_entry_covers("*.*", "example.com", "widgets"));
	ck_assert(rk_entry_covers("*.", "", "configmaps"));
	ck_assert(!rk_entry_covers("*.", "apps", "deployments"));
	ck_assert(rk_entry_covers("*.apps", "apps", "deployments"));
	ck_assert(!rk_entry_covers("*.apps", "", "deployments"));
	ck_assert(rk_entry_covers("deployments.apps", "apps", "deployments"));
	ck_assert(!rk_entry_covers("deployments.apps", "apps", "replicasets"));
	ck_assert(rk_entry_covers("secrets", "", "secrets"));
	ck_assert(!rk_entry_covers("secrets", "example.com", "secrets"));
	rk_encconfig *cfg = load(three_rules);
	ck_assert_int_eq(rk_encconfig_lookup_index(cfg, "", "secrets"), 0);
	ck_assert_int_eq(rk_encconfig_lookup_index(cfg, "apps", "deployments"), 1);
	ck_assert_int_eq(rk_encconfig_lookup_index(cfg, "", "pods"), 2); /* *.* takes what is left */
	ck_assert_int_eq(rk_encconfig_lookup_index(cfg, "example.com", "widgets"), 2);
	rk_encconfig_free(cfg);
	cfg = load(AESCBC_CONFIG);
	ck_assert_int_eq(rk_encconfig_lookup_index(cfg, "", "configmaps"), -1);
	rk_encconfig_free(cfg);
}
END_TEST

/* Promotes a new key in rule `rule` of text, writes it over text; returns the result (caller frees). */
static char *edit_over(const char *text, const char *entry, size_t *len)
{
	rk_encconfig *cfg = load(text), *before = rk_encconfig_clone(cfg);
	rk_key key = {.name = "new", .secret = K32B};
	const char *scope[] = {entry};
	rk_err err;
	ck_assert_msg(rk_encconfig_add_key(cfg, scope, 1, RK_PROV_AESCBC, &key, &err) == RK_OK, "%s",
	              err.msg);
	ck_assert_int_eq(rk_encconfig_promote(cfg, scope, 1, "new", &err), RK_OK);
	char *out = rk_encconfig_emit_over(cfg, before, text, strlen(text), len);
	ck_assert_ptr_nonnull(out);
	rk_encconfig *again = NULL;
	ck_assert_msg(rk_encconfig_load_buf(out, *len, "over", &again, &err) == RK_OK, "%s\n%s", err.msg,
	              out);
	ck_assert(rk_encconfig_equal(again, cfg));
	rk_encconfig_free(again);
	rk_encconfig_free(before);
	rk_encconfig_free(cfg);
	return out;
}

static const char *const commented =
    "# managed by hand\n"
    "apiVersion: apiserver.config.k8s.io/v1\n"
    "kind: EncryptionConfiguration\n"
    "resources:\n"
    "# secrets stay under KMS-like care (a UTF-8 comment: \xc3\xbc\xe2\x80\x94: libyaml counts characters)\n"
    "- resources: [secrets]   # the secrets rule\n"
    "  providers:\n"
    "  - aescbc: {keys: [{name: s1, secret: \"" K32 "\"}]}\n"
    "  - identity: {}\n"
    "# configmaps\n"
    "- resources:\n"
    "  - configmaps\n"
    "  providers:\n"
    "  - aescbc:\n"
    "      keys:\n"
    "      - name: c1   # first key\n"
    "        secret: " K16 "\n"
    "  - identity: {}  # trailing\n"
    "# end\n";

START_TEST(emit_over_keeps_other_rules_byte_for_byte)
{
	size_t len = 0;
	char *out = edit_over(commented, "configmaps", &len);
	/* everything up to the configmaps rule, including its own comment line, is the original */
	const char *rule1 = strstr(commented, "- resources:\n  - configmaps");
	size_t head = (size_t)(rule1 - commented);
	ck_assert_msg(len > head && !memcmp(out, commented, head), "%s", out);
	/* the edited rule at the original indentation (dash at column 0), then the tail comment */
	ck_assert_msg(strstr(out,
	                     "\n- resources:\n    - configmaps\n  providers:\n    - aescbc:\n        keys:\n"
	                     "          - name: new\n"),
	              "%s", out);
	ck_assert_msg(len > 6 && !strcmp(out + len - 6, "# end\n"), "%s", out);
	ck_assert_ptr_null(strstr(out, "# first key")); /* comments inside an edited rule go with it */
	OPENSSL_cleanse(out, len);
	free(out);
	/* editing the first rule keeps the second one's bytes */
	out = edit_over(commented, "secrets", &len);
	const char *tail = strstr(commented, "# configmaps\n");
	ck_assert_msg(strstr(out, tail) && !strncmp(out, "# managed by hand\n", 18), "%s", out);
	OPENSSL_cleanse(out, len);
	free(out);
}
END_TEST

START_TEST(emit_over_falls_back_to_canonical)
{
	/* flow style: no rule can be replaced alone, the canonical YAML comes back */
	const char *flow =
	    "apiVersion: apiserver.config.k8s.io/v1\nkind: EncryptionConfiguration\n"
	    "resources: [{resources: [secrets], providers: [{identity: {}}]}, {resources: [configmaps], "
	    "providers: [{identity: {}}]}]\n";
	size_t len = 0;
	char *out = edit_over(flow, "configmaps", &len);
	ck_assert_msg(
	    !strncmp(out,
	             "apiVersion: apiserver.config.k8s.io/v1\nkind: EncryptionConfiguration\nresources:\n"
	             "  - resources:\n      - secrets\n",
	             88),
	    "%s", out);
	OPENSSL_cleanse(out, len);
	free(out);
	/* an alias into the edited rule: splicing would break it; the result still loads as the edit */
	const char *alias = HDR "  - resources:\n      - &r configmaps\n    providers:\n" IDENTITY
	                        "  - resources:\n      - secrets\n    providers:\n" IDENTITY;
	out = edit_over(alias, "configmaps", &len);
	OPENSSL_cleanse(out, len);
	free(out);
	/* nothing changed: the text itself */
	rk_encconfig *cfg = load(commented);
	out = rk_encconfig_emit_over(cfg, cfg, commented, strlen(commented), &len);
	ck_assert_str_eq(out, commented);
	OPENSSL_cleanse(out, len);
	free(out);
	rk_encconfig_free(cfg);
}
END_TEST

Suite *encconfig_select_suite(void)
{
	Suite *s = suite_create("encconfig-select");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, selection_by_listed_entries);
	tcase_add_test(tc, selection_never_splits_a_resource);
	tcase_add_test(tc, entries_cover_and_lookup_order);
	tcase_add_test(tc, emit_over_keeps_other_rules_byte_for_byte);
	tcase_add_test(tc, emit_over_falls_back_to_canonical);
	suite_add_tcase(s, tc);
	return s;
}
