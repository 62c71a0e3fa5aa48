/* plan_breakglass.c: the plan's `breakGlass` section (rk_plan_break_glass): the emergency config
 * `rekeyctl break-glass` writes while the KMS is down, checked when the plan is loaded so that a broken
 * emergency config is found before the emergency: the key file (absolute, a regular 0600 file holding
 * an aescbc key), its name, and the resources that may fall back to identity for reads. */
#include <ctype.h>
#include <openssl/crypto.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "plan_internal.h"
#include "rekey/keyfile.h"

static const char *const break_glass_fields[] = {"keyFile", "keyName", "identityRead", "force", NULL};

/* Reads the key once: 0600, strict base64 of an aescbc key (16, 24 or 32 bytes); keeps its fingerprint
 * only (the plan never holds key material). */
static int check_key_file(rk_yaml *y, yaml_node_t *map, rk_plan_break_glass *bg, rk_err *err)
{
	rk_key key;
	memset(&key, 0, sizeof key);
	rk_err why;
	rk_err_clear(&why);
	uint8_t raw[64];
	int rc = rk_key_read_file(bg->key_file, &key, &why);
	int n = rc == RK_OK ? rk_key_decode(&key, raw, sizeof raw) : -1;
	OPENSSL_cleanse(raw, sizeof raw);
	if (rc != RK_OK)
		rc = rk_yaml_fail(y, rk_yaml_get(y, map, "keyFile"), err, "breakGlass.keyFile: %s", why.msg);
	else if (n != 16 && n != 24 && n != 32)
		rc = rk_yaml_fail(
		    y, rk_yaml_get(y, map, "keyFile"), err,
		    "breakGlass.keyFile: %s holds a %d-byte key; aescbc needs 16, 24 or 32 bytes "
		    "(`rekeyctl keygen --provider aescbc` writes one)",
		    bg->key_file, n);
	else if (rk_key_fingerprint(&key, bg->fingerprint) != 0)
		rc = rk_err_set(err, RK_FAIL, "cannot fingerprint %s", bg->key_file);
	rk_key_clear(&key);
	return rc;
}

static int valid_key_name(const char *name)
{
	size_t len = strlen(name);
	if (len == 0 || len > 64 || !strcmp(name, "identity"))
		return 0;
	for (const char *p = name; *p; p++)
		if (!isalnum((unsigned char)*p) && !strchr("-_.", *p))
			return 0;
	return 1;
}

static int load_key_name(rk_yaml *y, yaml_node_t *map, rk_plan_break_glass *bg, rk_err *err)
{
	int rc = rk_yaml_str(y, map, "breakGlass", "keyName", 0, &bg->key_name, err);
	if (rc == RK_OK && bg->key_name && !valid_key_name(bg->key_name))
		return rk_yaml_fail(y, rk_yaml_get(y, map, "keyName"), err,
		                    "breakGlass.keyName: \"%s\" is not a usable key name (1-64 letters, "
		                    "digits, '-', '_', '.'; not \"identity\")",
		                    bg->key_name);
	if (rc == RK_OK && !bg->key_name) {
		char name[64];
		snprintf(name, sizeof name, "breakglass-%s", bg->fingerprint);
		if (!(bg->key_name = strdup(name)))
			rc = rk_err_set(err, RK_FAIL, "out of memory");
	}
	return rc;
}

/* identityRead: resources in scope; secrets only with force (identity in the read list lets anyone who
 * can write etcd plant a plaintext object the apiserver serves as genuine). */
static int load_identity_read(rk_yaml *y, yaml_node_t *map, const rk_plan *plan, rk_plan_break_glass *bg,
                              rk_err *err)
{
	int rc = rk_yaml_str_list(y, map, "breakGlass", "identityRead", 0, &bg->identity_read,
	                          &bg->nidentity_read, err);
	yaml_node_t *list = rk_yaml_get(y, map, "identityRead");
	for (size_t i = 0; rc == RK_OK && i < bg->nidentity_read; i++) {
		const char *r = bg->identity_read[i];
		const char *const *scope = (const char *const *)plan->resources;
		int in_scope = 0;
		for (size_t j = 0; j < plan->nresources; j++)
			in_scope |= !strcmp(scope[j], r);
		yaml_node_t *item = rk_yaml_at(y, list->data.sequence.items.start[i]);
		if (!in_scope)
			rc = rk_yaml_fail(y, item, err,
			                  "breakGlass.identityRead[%zu]: \"%s\" is not one of plan.resources",
			                  i, r);
		else if (!strcmp(r, "secrets") && !bg->force)
			rc = rk_yaml_fail(
			    y, item, err,
			    "breakGlass.identityRead[%zu]: secrets never fall back to identity unless "
			    "breakGlass.force: true (identity lets anyone who can write etcd plant a "
			    "plaintext secret)",
			    i);
	}
	return rc;
}

int plan_load_break_glass(rk_yaml *y, yaml_node_t *root, rk_plan *plan, rk_err *err)
{
	yaml_node_t *map = rk_yaml_get(y, root, "breakGlass");
	if (!map)
		return RK_OK;
	rk_plan_break_glass *bg = &plan->break_glass;
	bg->present = 1;
	int rc = rk_yaml_check_map(y, map, "breakGlass", break_glass_fields, err);
	if (rc == RK_OK && plan->provider != RK_PROV_KMS)
		rc = rk_yaml_fail(y, map, err,
		                  "breakGlass: only in a plan with provider: kms (the emergency config "
		                  "keeps that kms provider for reads; `rotate` with the plan is the way "
		                  "back)");
	if (rc == RK_OK && plan->reload != RK_RELOAD_RESTART)
		rc = rk_yaml_fail(y, map, err,
		                  "breakGlass: needs controlPlane.reload: restart (an apiserver with "
		                  "automatic reload does not load a config whose kms plugin is down)");
	if (rc == RK_OK)
		rc = plan_local_path_field(y, map, "breakGlass", "keyFile", 1, &bg->key_file, err);
	if (rc == RK_OK)
		rc = check_key_file(y, map, bg, err);
	if (rc == RK_OK)
		rc = load_key_name(y, map, bg, err);
	if (rc == RK_OK)
		rc = plan_bool_field(y, map, "breakGlass", "force", &bg->force, err);
	if (rc == RK_OK)
		rc = load_identity_read(y, map, plan, bg, err);
	return rc;
}
