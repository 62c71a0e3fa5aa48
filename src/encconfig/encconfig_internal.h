/* encconfig_internal.h (private): helpers shared by the encconfig_*.c files (not part of librekey's API). */
#ifndef REKEY_ENCCONFIG_INTERNAL_H
#define REKEY_ENCCONFIG_INTERNAL_H

#include "rekey/buf.h"
#include "rekey/encconfig.h"

#define RK_API_VERSION "apiserver.config.k8s.io/v1"
#define RK_KIND "EncryptionConfiguration"

void rk_provider_clear(rk_provider *p);
void rk_rule_clear(rk_rule *rule);
void rk_encconfig_clear_positions(rk_encconfig *cfg);
int rk_key_copy(rk_key *dst, const rk_key *src);
int rk_kms_copy(rk_kms *dst, const rk_kms *src);
int rk_provider_copy(rk_provider *dst, const rk_provider *src);
/* 1 when the rule lists `entry` verbatim ("secrets", "*.apps"). */
int rk_rule_lists(const rk_rule *rule, const char *entry);
/* Sets sel[i] for every rule listing one of the n entries (others untouched); returns the index of the
 * first entry no rule lists, -1 when every one is listed. */
long rk_mark_listing_rules(const rk_encconfig *cfg, const char *const *entries, size_t n, unsigned char *sel);
/* 1 when both rules list the same entries and providers (keys, kms settings) in the same order. */
int rk_rule_equal(const rk_rule *a, const rk_rule *b);
/* The canonical YAML of one rule, its "-" at column 2 (encconfig_emit.c). */
void rk_emit_rule(rk_buf *b, const rk_rule *rule);

/* schema.ParseGroupResource: "deployments.apps" -> resource "deployments" (not NUL-terminated: res_len),
 * group "apps"; no dot -> group "". */
void rk_parse_group_resource(const char *gr, const char **res, size_t *res_len, const char **group);

/* 1 when `text` written as a plain YAML scalar would load as a string (not null, bool or number). */
int rk_yaml_plain_is_string(const char *text);

#endif
