/* test_encconfig_edit.c: canonical emit and round trips, the config hash, key generation, and every
 * edit (add read key, migrations, promote, prune, identity first or last, prune all but identity) including
 * the refusals that must leave the config unchanged; whole-file edits with their backup. */
#include <check.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "encconfig_fixtures.h"
#include "rekey/encconfig.h"
#include "rekey/fsutil.h"
#include "testutil.h"

static rk_encconfig *load_ok(const char *yaml)
{
	rk_encconfig *cfg = NULL;
	rk_err err = {0};
	ck_assert_msg(rk_encconfig_load_buf(yaml, strlen(yaml), "t.yaml", &cfg, &err) == RK_OK, "%s",
	              err.msg);
	ck_assert_msg(rk_encconfig_validate(cfg, 0, &err) == RK_OK, "%s", err.msg);
	return cfg;
}

/* Emits, reloads, and checks equality and byte-stable re-emission. */
static void assert_round_trip(const rk_encconfig *cfg)
{
	size_t len1, len2;
	char *yaml1 = rk_encconfig_emit(cfg, &len1);
	rk_encconfig *again = NULL;
	rk_err err = {0};
	ck_assert_msg(rk_encconfig_load_buf(yaml1, len1, "emitted", &again, &err) == RK_OK, "%s\n%s", err.msg,
	              yaml1);
	ck_assert_msg(rk_encconfig_equal(cfg, again), "reloaded config differs:\n%s", yaml1);
	char *yaml2 = rk_encconfig_emit(again, &len2);
	ck_assert_uint_eq(len1, len2);
	ck_assert_str_eq(yaml1, yaml2);
	free(yaml1);
	free(yaml2);
	rk_encconfig_free(again);
}

static const char *const round_trip_configs[] = {
    AESCBC_CONFIG,
    HDR RULE("secrets")
        KMS("v2", "kms-a", "unix:///run/kms.sock") "          timeout: 1m30s\n" PROV("aescbc", "old", K32)
            IDENTITY,
    HDR RULE("\"*.apps\"") PROV("aesgcm", "\"yes\"", K16) RULE("\"*.*\"") PROV("secretbox", "\"123\"", K32),
    HDR RULE("secrets") KMS("v1", "\"a:b\"", "unix:///a") "          cachesize: -1\n" IDENTITY,
    HDR RULE("secrets") PROV("aescbc", "\"key with spaces: and # hash\"", K32)
        PROV("aesgcm", "\"\\\"q\\\\\"", K24),
    HDR
    "  - resources:\n      - \"*.\"\n    providers:\n      - kms:\n          apiVersion: v2\n          name: "
    "\"null\"\n          endpoint: unix:///x\n",
};

START_TEST(round_trip_is_stable)
{
	rk_encconfig *cfg = load_ok(round_trip_configs[_i]);
	assert_round_trip(cfg);
	rk_encconfig_free(cfg);
}
END_TEST

START_TEST(emit_is_canonical_yaml)
{
	rk_encconfig *cfg =
	    load_ok("{apiVersion: apiserver.config.k8s.io/v1, kind: EncryptionConfiguration, resources: "
	            "[{resources: [secrets, '*.apps'], providers: [{identity: {}}]}]}");
	char *yaml = rk_encconfig_emit(cfg, NULL);
	ck_assert_str_eq(
	    yaml,
	    "apiVersion: apiserver.config.k8s.io/v1\nkind: EncryptionConfiguration\nresources:\n"
	    "  - resources:\n      - secrets\n      - \"*.apps\"\n    providers:\n      - identity: {}\n");
	free(yaml);
	rk_encconfig_free(cfg);
}
END_TEST

START_TEST(redacted_emit_has_no_secret)
{
	rk_encconfig *cfg = load_ok(AESCBC_CONFIG);
	char *yaml = rk_encconfig_emit_redacted(cfg, NULL);
	ck_assert_ptr_null(strstr(yaml, K32));
	ck_assert_ptr_nonnull(strstr(yaml, "secret: \"REDACTED fingerprint "));
	free(yaml);
	rk_encconfig_free(cfg);
}
END_TEST

START_TEST(hash_is_sha256_of_exact_bytes)
{
	char hash[72];
	rk_config_hash("abc", 3, hash);
	ck_assert_str_eq(hash, "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	rk_config_hash("abc\n", 4, hash);
	ck_assert_str_ne(hash, "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	ck_assert_uint_eq(strlen(hash), 71);
}
END_TEST

START_TEST(generated_keys_are_fresh_and_named)
{
	rk_encconfig *cfg = load_ok(AESCBC_CONFIG);
	rk_key a, b;
	rk_err err = {0};
	ck_assert_int_eq(rk_key_generate(cfg, RK_PROV_AESCBC, 32, &a, &err), RK_OK);
	ck_assert_int_eq(rk_key_generate(cfg, RK_PROV_SECRETBOX, 0, &b, &err), RK_OK);
	regex_t re;
	ck_assert_int_eq(regcomp(&re, "^aescbc-[0-9]{8}T[0-9]{6}Z$", REG_EXTENDED | REG_NOSUB), 0);
	ck_assert_msg(regexec(&re, a.name, 0, NULL, 0) == 0, "name %s", a.name);
	regfree(&re);
	uint8_t raw[64];
	ck_assert_int_eq(rk_key_decode(&a, raw, sizeof raw), 32);
	ck_assert_int_eq(rk_key_decode(&b, raw, sizeof raw), 32);
	ck_assert_str_ne(a.secret, b.secret);
	rk_key_clear(&b);
	ck_assert_int_eq(rk_key_generate(cfg, RK_PROV_SECRETBOX, 16, &b, &err), RK_BADINPUT);
	ck_assert_int_eq(rk_key_generate(cfg, RK_PROV_AESGCM, 20, &b, &err), RK_BADINPUT);
	rk_key_clear(&a);
	ck_assert_ptr_null(a.secret);
	rk_encconfig_free(cfg);
}
END_TEST

START_TEST(generated_name_gets_a_suffix_when_taken)
{
	rk_encconfig *cfg = load_ok(AESCBC_CONFIG);
	rk_key first, second;
	rk_err err = {0};
	ck_assert_int_eq(rk_key_generate(cfg, RK_PROV_AESCBC, 32, &first, &err), RK_OK);
	ck_assert_int_eq(rk_encconfig_add_key(cfg, NULL, 0, RK_PROV_AESCBC, &first, &err), RK_OK);
	ck_assert_int_eq(rk_key_generate(cfg, RK_PROV_AESCBC, 32, &second, &err), RK_OK);
	ck_assert_str_ne(first.name, second.name);
	ck_assert_int_eq(rk_encconfig_has_key_name(cfg, second.name), 0);
	ck_assert_int_eq(rk_encconfig_add_key(cfg, NULL, 0, RK_PROV_AESCBC, &second, &err), RK_OK);
	rk_key_clear(&first);
	rk_key_clear(&second);
	rk_encconfig_free(cfg);
}
END_TEST

/* ---- edits ---- */

static rk_key key_of(const char *name, const char *secret)
{
	rk_key k = {.name = (char *)name, .secret = (char *)secret};
	return k;
}

/* "aescbc:k1,k2 identity" summary of a rule's providers and key names. */
static char *summary(const rk_rule *rule)
{
	static char out[512];
	out[0] = '\0';
	for (size_t i = 0; i < rule->nproviders; i++) {
		const rk_provider *p = &rule->providers[i];
		strcat(out, i ? " " : "");
		strcat(out, rk_provider_name(p->type));
		if (p->type == RK_PROV_KMS)
			strcat(strcat(out, ":"), p->kms.name);
		for (size_t k = 0; k < p->nkeys; k++)
			strcat(strcat(out, k ? "," : ":"), p->keys[k].name);
	}
	return out;
}

START_TEST(add_key_goes_second)
{
	rk_encconfig *cfg = load_ok(AESCBC_CONFIG);
	rk_key k = key_of("key2", K32B);
	rk_err err = {0};
	ck_assert_int_eq(rk_encconfig_add_key(cfg, NULL, 0, RK_PROV_AESCBC, &k, &err), RK_OK);
	ck_assert_str_eq(summary(&cfg->rules[0]), "aescbc:key1,key2 identity");
	ck_assert_str_eq(rk_rule_write_key(&cfg->rules[0]), "key1");
	ck_assert_str_eq(cfg->rules[0].providers[0].keys[1].secret, K32B);
	ck_assert_uint_eq(cfg->npositions, 0);
	assert_round_trip(cfg);
	rk_encconfig_free(cfg);
}
END_TEST

START_TEST(add_key_migrates_identity_to_aescbc)
{
	rk_encconfig *cfg = load_ok(HDR RULE("secrets") IDENTITY);
	rk_key k = key_of("new", K32);
	rk_err err = {0};
	ck_assert_int_eq(rk_encconfig_add_key(cfg, NULL, 0, RK_PROV_AESCBC, &k, &err), RK_OK);
	ck_assert_str_eq(summary(&cfg->rules[0]), "identity aescbc:new");
	ck_assert_int_eq(rk_encconfig_promote(cfg, NULL, 0, "new", &err), RK_OK);
	ck_assert_str_eq(summary(&cfg->rules[0]), "aescbc:new identity");
	rk_encconfig_free(cfg);
}
END_TEST

START_TEST(add_key_migrates_aescbc_to_aesgcm_and_kms)
{
	rk_encconfig *cfg = load_ok(AESCBC_CONFIG);
	rk_key k = key_of("gcm1", K16);
	rk_kms kms = {.api_version = "v2", .name = "kms1", .endpoint = "unix:///run/kms.sock"};
	rk_err err = {0};
	ck_assert_int_eq(rk_encconfig_add_key(cfg, NULL, 0, RK_PROV_AESGCM, &k, &err), RK_OK);
	ck_assert_str_eq(summary(&cfg->rules[0]), "aescbc:key1 aesgcm:gcm1 identity");
	ck_assert_int_eq(rk_encconfig_add_kms(cfg, NULL, 0, &kms, &err), RK_OK);
	ck_assert_str_eq(summary(&cfg->rules[0]), "aescbc:key1 kms:kms1 aesgcm:gcm1 identity");
	ck_assert_int_eq(rk_encconfig_add_kms(cfg, NULL, 0, &kms, &err), RK_BADINPUT);
	ck_assert_int_eq(rk_encconfig_promote(cfg, NULL, 0, "kms1", &err), RK_OK);
	ck_assert_str_eq(rk_rule_write_key(&cfg->rules[0]), "kms1");
	assert_round_trip(cfg);
	rk_encconfig_free(cfg);
}
END_TEST

/* Every refusal leaves the emitted config byte-identical. */
static void assert_refused(rk_encconfig *cfg, int rc, int want, const char *message, const char *before)
{
	char *after = rk_encconfig_emit(cfg, NULL);
	ck_assert_int_eq(rc, want);
	ck_assert_str_eq(after, before);
	free(after);
	(void)message;
}

START_TEST(add_key_refusals_leave_config_unchanged)
{
	rk_encconfig *cfg =
	    load_ok(HDR "  - resources:\n      - secrets\n      - configmaps\n    providers:\n" PROV(
	        "aescbc", "key1", K32) RULE("leases.coordination.k8s.io") IDENTITY);
	char *before = rk_encconfig_emit(cfg, NULL);
	rk_err err = {0};
	rk_key reused = key_of("key1", K32B), short_key = key_of("short", K20), ok = key_of("ok", K32B);
	const char *partial[] = {"secrets"}, *unknown[] = {"pods"};
	assert_refused(cfg, rk_encconfig_add_key(cfg, NULL, 0, RK_PROV_AESCBC, &reused, &err), RK_BADINPUT,
	               "", before);
	ck_assert_ptr_nonnull(strstr(err.msg, "key name \"key1\" is already used"));
	assert_refused(cfg, rk_encconfig_add_key(cfg, NULL, 0, RK_PROV_AESCBC, &short_key, &err), RK_BADINPUT,
	               "", before);
	ck_assert_ptr_nonnull(strstr(err.msg, "got 20, expected one of [16 24 32]"));
	assert_refused(cfg, rk_encconfig_add_key(cfg, partial, 1, RK_PROV_AESCBC, &ok, &err), RK_BADINPUT, "",
	               before);
	ck_assert_ptr_nonnull(strstr(err.msg, "resources[0] also covers \"configmaps\""));
	assert_refused(cfg, rk_encconfig_add_key(cfg, unknown, 1, RK_PROV_AESCBC, &ok, &err), RK_BADINPUT, "",
	               before);
	ck_assert_ptr_nonnull(strstr(err.msg, "no rule lists resource \"pods\""));
	assert_refused(cfg, rk_encconfig_add_key(cfg, NULL, 0, RK_PROV_IDENTITY, &ok, &err), RK_BADINPUT, "",
	               before);
	free(before);
	rk_encconfig_free(cfg);
}
END_TEST

START_TEST(add_key_scope_selects_rules)
{
	rk_encconfig *cfg = load_ok(HDR RULE("secrets") PROV("aescbc", "s1", K32) RULE("configmaps")
	                                PROV("aescbc", "c1", K32));
	const char *scope[] = {"configmaps"};
	rk_key k = key_of("c2", K32B);
	rk_err err = {0};
	ck_assert_int_eq(rk_encconfig_add_key(cfg, scope, 1, RK_PROV_AESCBC, &k, &err), RK_OK);
	ck_assert_str_eq(summary(&cfg->rules[0]), "aescbc:s1");
	ck_assert_str_eq(summary(&cfg->rules[1]), "aescbc:c1,c2");
	rk_encconfig_free(cfg);
}
END_TEST

START_TEST(promote_makes_write_key)
{
	rk_encconfig *cfg = load_ok(HDR RULE("secrets") PROV("aesgcm", "g1", K32) PROV(
	    "aescbc", "c1", K32) "            - name: c2\n              secret: " K32B "\n" IDENTITY);
	rk_err err = {0};
	ck_assert_int_eq(rk_encconfig_promote(cfg, NULL, 0, "c2", &err), RK_OK);
	ck_assert_str_eq(summary(&cfg->rules[0]), "aescbc:c2,c1 aesgcm:g1 identity");
	ck_assert_int_eq(rk_encconfig_promote(cfg, NULL, 0, "c2", &err), RK_OK); /* idempotent */
	ck_assert_str_eq(summary(&cfg->rules[0]), "aescbc:c2,c1 aesgcm:g1 identity");
	char *before = rk_encconfig_emit(cfg, NULL);
	assert_refused(cfg, rk_encconfig_promote(cfg, NULL, 0, "nope", &err), RK_BADINPUT, "", before);
	ck_assert_ptr_nonnull(strstr(err.msg, "no key or kms provider named \"nope\""));
	free(before);
	rk_encconfig_free(cfg);
}
END_TEST

START_TEST(promote_with_scope_needs_the_key_in_each_rule)
{
	rk_encconfig *cfg = load_ok(HDR RULE("secrets") PROV("aescbc", "s1", K32) RULE("configmaps")
	                                PROV("aescbc", "c1", K32));
	const char *scope[] = {"secrets", "configmaps"};
	rk_err err = {0};
	ck_assert_int_eq(rk_encconfig_promote(cfg, scope, 2, "s1", &err), RK_BADINPUT);
	ck_assert_ptr_nonnull(strstr(err.msg, "resources[1] has no key \"s1\""));
	rk_encconfig_free(cfg);
}
END_TEST

START_TEST(prune_removes_read_key_and_empty_provider)
{
	rk_encconfig *cfg = load_ok(HDR RULE("secrets") PROV("aesgcm", "g1", K32) PROV(
	    "aescbc", "c1", K32) "            - name: c2\n              secret: " K32B "\n" IDENTITY);
	rk_err err = {0};
	ck_assert_int_eq(rk_encconfig_prune(cfg, NULL, 0, "c1", &err), RK_OK);
	ck_assert_str_eq(summary(&cfg->rules[0]), "aesgcm:g1 aescbc:c2 identity");
	ck_assert_int_eq(rk_encconfig_prune(cfg, NULL, 0, "c2", &err), RK_OK);
	ck_assert_str_eq(summary(&cfg->rules[0]), "aesgcm:g1 identity");
	ck_assert_int_eq(rk_encconfig_prune(cfg, NULL, 0, "identity", &err), RK_OK);
	ck_assert_str_eq(summary(&cfg->rules[0]), "aesgcm:g1");
	rk_encconfig_free(cfg);
}
END_TEST

START_TEST(prune_refuses_the_write_key)
{
	rk_encconfig *cfg = load_ok(HDR RULE("secrets") PROV(
	    "aescbc", "c1", K32) "            - name: c2\n              secret: " K32B "\n");
	char *before = rk_encconfig_emit(cfg, NULL);
	rk_err err = {0};
	assert_refused(cfg, rk_encconfig_prune(cfg, NULL, 0, "c1", &err), RK_UNSAFE, "", before);
	ck_assert_ptr_nonnull(strstr(err.msg, "\"c1\" is the write key of resources[0]"));
	free(before);
	rk_encconfig_free(cfg);
}
END_TEST

START_TEST(identity_first_decrypts)
{
	rk_encconfig *cfg = load_ok(HDR RULE("secrets") PROV("aescbc", "c1", K32) IDENTITY RULE("configmaps")
	                                PROV("aescbc", "m1", K32));
	rk_err err = {0};
	ck_assert_int_eq(rk_encconfig_identity_first(cfg, NULL, 0, &err), RK_OK);
	ck_assert_str_eq(summary(&cfg->rules[0]), "identity aescbc:c1");
	ck_assert_str_eq(summary(&cfg->rules[1]), "identity aescbc:m1");
	ck_assert_int_eq(rk_encconfig_promote(cfg, NULL, 0, "c1", &err), RK_OK);
	ck_assert_int_eq(rk_encconfig_promote(cfg, NULL, 0, "identity", &err), RK_OK);
	ck_assert_str_eq(rk_rule_write_key(&cfg->rules[0]), "identity");
	rk_encconfig_free(cfg);
}
END_TEST

START_TEST(prune_all_but_identity_needs_identity_first)
{
	rk_encconfig *cfg = load_ok(HDR RULE("secrets") PROV("aescbc", "c1", K32) IDENTITY);
	char *before = rk_encconfig_emit(cfg, NULL);
	rk_err err = {0};
	assert_refused(cfg, rk_encconfig_prune_all_but_identity(cfg, NULL, 0, &err), RK_UNSAFE, "", before);
	ck_assert_ptr_nonnull(strstr(err.msg, "does not write with identity"));
	ck_assert_int_eq(rk_encconfig_identity_first(cfg, NULL, 0, &err), RK_OK);
	ck_assert_int_eq(rk_encconfig_prune_all_but_identity(cfg, NULL, 0, &err), RK_OK);
	ck_assert_str_eq(summary(&cfg->rules[0]), "identity");
	free(before);
	rk_encconfig_free(cfg);
}
END_TEST

/* Break glass on a kms config: the emergency key read, then first; identity last only where asked; the
 * way back promotes kms and prunes the key and that identity again. */
START_TEST(break_glass_shape_and_way_back)
{
	rk_encconfig *cfg = load_ok(HDR RULE("secrets") KMS("v2", "kms-a", "unix:///s") RULE("configmaps")
	                                KMS("v2", "kms-b", "unix:///s"));
	rk_key key = {"emergency-1", K32, 0, 0};
	const char *cm[] = {"configmaps"};
	rk_err err = {0};
	ck_assert_int_eq(rk_encconfig_add_key(cfg, NULL, 0, RK_PROV_AESCBC, &key, &err), RK_OK);
	ck_assert_int_eq(rk_encconfig_identity_last(cfg, cm, 1, &err), RK_OK);
	ck_assert_int_eq(rk_encconfig_identity_last(cfg, cm, 1, &err), RK_OK); /* idempotent */
	ck_assert_int_eq(rk_encconfig_promote(cfg, NULL, 0, "emergency-1", &err), RK_OK);
	ck_assert_str_eq(summary(&cfg->rules[0]), "aescbc:emergency-1 kms:kms-a");
	ck_assert_str_eq(summary(&cfg->rules[1]), "aescbc:emergency-1 kms:kms-b identity");
	assert_round_trip(cfg);
	ck_assert_int_eq(rk_encconfig_promote(cfg, cm, 1, "kms-b", &err), RK_OK);
	ck_assert_int_eq(rk_encconfig_prune(cfg, cm, 1, "emergency-1", &err), RK_OK);
	ck_assert_int_eq(rk_encconfig_prune(cfg, cm, 1, "identity", &err), RK_OK);
	ck_assert_str_eq(summary(&cfg->rules[1]), "kms:kms-b");
	rk_encconfig_free(cfg);
}
END_TEST

START_TEST(clone_is_deep_and_equal)
{
	rk_encconfig *cfg =
	    load_ok(HDR RULE("secrets") KMS("v2", "k", "unix:///a") PROV("aescbc", "c1", K32));
	rk_encconfig *copy = rk_encconfig_clone(cfg);
	ck_assert(rk_encconfig_equal(cfg, copy));
	ck_assert_ptr_ne(copy->rules[0].providers[1].keys[0].secret,
	                 cfg->rules[0].providers[1].keys[0].secret);
	copy->rules[0].providers[0].kms.endpoint[0] = 'x';
	ck_assert(!rk_encconfig_equal(cfg, copy));
	rk_encconfig_free(copy);
	rk_encconfig_free(cfg);
}
END_TEST

/* ---- whole-file edits ---- */

START_TEST(edit_file_writes_canonical_yaml_and_backup)
{
	char *dir = tu_mkdtemp(), *path = tu_path(dir, "enc.yaml"), *bak = tu_path(dir, "enc.yaml.bak");
	const char *original = AESCBC_CONFIG "# a comment the rewrite drops\n";
	ck_assert_int_eq(tu_write_file(path, original, strlen(original)), 0);
	chmod(path, 0644);
	rk_key k = key_of("key2", K32B);
	rk_edit_request req = {.op = RK_EDIT_ADD_KEY, .type = RK_PROV_AESCBC, .key = &k};
	rk_edit_result res;
	rk_err err = {0};
	ck_assert_msg(rk_encconfig_edit_file(path, &req, &res, &err) == RK_OK, "%s", err.msg);
	char old_hash[72];
	rk_config_hash(original, strlen(original), old_hash);
	ck_assert_str_eq(res.old_hash, old_hash);
	ck_assert(res.changed);
	size_t len;
	char *now = tu_read_file(path, &len), *saved = tu_read_file(bak, NULL), new_hash[72];
	rk_config_hash(now, len, new_hash);
	ck_assert_str_eq(res.new_hash, new_hash);
	ck_assert_str_eq(saved, original);
	ck_assert_ptr_nonnull(strstr(now, "name: key2"));
	struct stat st;
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_int_eq(st.st_mode & 0777, 0600);
	ck_assert_int_eq(stat(bak, &st), 0);
	ck_assert_int_eq(st.st_mode & 0777, 0600);
	free(now);
	free(saved);
	tu_rmtree(dir);
	free(dir);
	free(path);
	free(bak);
}
END_TEST

START_TEST(edit_file_dry_run_and_errors_change_nothing)
{
	char *dir = tu_mkdtemp(), *path = tu_path(dir, "enc.yaml"), *bak = tu_path(dir, "enc.yaml.bak");
	ck_assert_int_eq(tu_write_file(path, AESCBC_CONFIG, strlen(AESCBC_CONFIG)), 0);
	rk_key k = key_of("key2", K32B);
	rk_edit_request req = {.op = RK_EDIT_ADD_KEY, .type = RK_PROV_AESCBC, .key = &k, .dry_run = 1};
	rk_edit_result res;
	rk_err err = {0};
	ck_assert_int_eq(rk_encconfig_edit_file(path, &req, &res, &err), RK_OK);
	ck_assert_ptr_nonnull(strstr(res.preview, "name: key2"));
	ck_assert_ptr_null(strstr(res.preview, K32B));
	rk_edit_result_free(&res);
	req.dry_run = 0;
	req.op = RK_EDIT_PRUNE;
	req.name = "key1";
	ck_assert_int_eq(rk_encconfig_edit_file(path, &req, &res, &err), RK_UNSAFE);
	char *now = tu_read_file(path, NULL);
	ck_assert_str_eq(now, AESCBC_CONFIG);
	struct stat st;
	ck_assert_int_ne(stat(bak, &st), 0);
	free(now);
	tu_rmtree(dir);
	free(dir);
	free(path);
	free(bak);
}
END_TEST

Suite *encconfig_edit_suite(void)
{
	Suite *s = suite_create("encconfig-edit");
	TCase *tc = tcase_create("emit-edit");
	tcase_add_loop_test(tc, round_trip_is_stable, 0,
	                    (int)(sizeof round_trip_configs / sizeof round_trip_configs[0]));
	tcase_add_test(tc, emit_is_canonical_yaml);
	tcase_add_test(tc, redacted_emit_has_no_secret);
	tcase_add_test(tc, hash_is_sha256_of_exact_bytes);
	tcase_add_test(tc, generated_keys_are_fresh_and_named);
	tcase_add_test(tc, generated_name_gets_a_suffix_when_taken);
	tcase_add_test(tc, add_key_goes_second);
	tcase_add_test(tc, add_key_migrates_identity_to_aescbc);
	tcase_add_test(tc, add_key_migrates_aescbc_to_aesgcm_and_kms);
	tcase_add_test(tc, add_key_refusals_leave_config_unchanged);
	tcase_add_test(tc, add_key_scope_selects_rules);
	tcase_add_test(tc, promote_makes_write_key);
	tcase_add_test(tc, promote_with_scope_needs_the_key_in_each_rule);
	tcase_add_test(tc, prune_removes_read_key_and_empty_provider);
	tcase_add_test(tc, prune_refuses_the_write_key);
	tcase_add_test(tc, identity_first_decrypts);
	tcase_add_test(tc, prune_all_but_identity_needs_identity_first);
	tcase_add_test(tc, break_glass_shape_and_way_back);
	tcase_add_test(tc, clone_is_deep_and_equal);
	tcase_add_test(tc, edit_file_writes_canonical_yaml_and_backup);
	tcase_add_test(tc, edit_file_dry_run_and_errors_change_nothing);
	suite_add_tcase(s, tc);
	return s;
}
