/* encconfig_file.c: whole-file operations on an EncryptionConfiguration: open (read, hash, load,
 * validate) and edit (load, edit, write the edited rules over the file's text, atomic replace keeping a
 * .bak). Every buffer that
 * held the file's bytes is wiped before it is freed. */
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "encconfig_internal.h"
#include "rekey/fsutil.h"
#include "rekey/keyfile.h"

static void wipe_free(char *data, size_t len)
{
	if (data)
		OPENSSL_cleanse(data, len);
	free(data);
}

/* Loads and validates bytes already read; the hash is of those exact bytes. */
static int open_bytes(const char *path, const char *data, size_t len, rk_encconfig **cfg, char hash[72],
                      rk_err *err)
{
	rk_config_hash(data, len, hash);
	int rc = rk_encconfig_load_buf(data, len, path, cfg, err);
	if (rc == RK_OK && (rc = rk_encconfig_validate(*cfg, 0, err)) != RK_OK) {
		rk_encconfig_free(*cfg);
		*cfg = NULL;
	}
	return rc;
}

int rk_encconfig_open(const char *path, int automatic_reload, rk_encconfig **cfg, char hash[72], rk_err *err)
{
	char *data;
	size_t len;
	*cfg = NULL;
	int rc = rk_read_file(path, &data, &len, err);
	if (rc != RK_OK)
		return rc;
	rc = open_bytes(path, data, len, cfg, hash, err);
	wipe_free(data, len);
	if (rc == RK_OK && automatic_reload && (rc = rk_encconfig_validate(*cfg, 1, err)) != RK_OK) {
		rk_encconfig_free(*cfg);
		*cfg = NULL;
	}
	return rc;
}

/* The key an add-key request describes: from its key file, or generated; named key_name or
 * <provider>-<UTC time> not yet used in cfg. */
static int obtain_key(const rk_encconfig *cfg, const rk_edit_request *req, rk_key *key, rk_err *err)
{
	int rc = rk_key_generate(cfg, req->type, req->key_bytes, key, err);
	if (rc == RK_OK && req->key_file)
		rc = rk_key_read_file(req->key_file, key, err);
	if (rc == RK_OK && req->key_name) {
		free(key->name);
		if (!(key->name = strdup(req->key_name)))
			rc = rk_err_set(err, RK_FAIL, "out of memory");
	}
	if (rc != RK_OK)
		rk_key_clear(key);
	return rc;
}

static int add_key(rk_encconfig *cfg, const rk_edit_request *req, rk_edit_result *res, rk_err *err)
{
	rk_key made;
	memset(&made, 0, sizeof made);
	const rk_key *key = req->key;
	if (!key && obtain_key(cfg, req, &made, err) != RK_OK)
		return err->code;
	key = key ? key : &made;
	int rc = rk_encconfig_add_key(cfg, req->resources, req->nresources, req->type, key, err);
	if (rc == RK_OK) {
		snprintf(res->key_name, sizeof res->key_name, "%s", key->name);
		if (rk_key_fingerprint(key, res->key_fingerprint) != 0)
			res->key_fingerprint[0] = '\0';
	}
	rk_key_clear(&made);
	return rc;
}

int rk_config_hash_file(const char *path, char hash[72], rk_err *err)
{
	char *data;
	size_t len;
	int rc = rk_read_file(path, &data, &len, err);
	if (rc != RK_OK)
		return rc;
	rk_config_hash(data, len, hash);
	wipe_free(data, len);
	return RK_OK;
}

static int apply_edit(rk_encconfig *cfg, const rk_edit_request *req, rk_edit_result *res, rk_err *err)
{
	switch (req->op) {
	case RK_EDIT_ADD_KEY:
		return add_key(cfg, req, res, err);
	case RK_EDIT_ADD_KMS:
		return rk_encconfig_add_kms(cfg, req->resources, req->nresources, req->kms, err);
	case RK_EDIT_PROMOTE:
		return rk_encconfig_promote(cfg, req->resources, req->nresources, req->name, err);
	case RK_EDIT_PRUNE:
		return rk_encconfig_prune(cfg, req->resources, req->nresources, req->name, err);
	case RK_EDIT_IDENTITY_FIRST:
		return rk_encconfig_identity_first(cfg, req->resources, req->nresources, err);
	case RK_EDIT_ONLY_IDENTITY:
		return rk_encconfig_prune_all_but_identity(cfg, req->resources, req->nresources, err);
	}
	return rk_err_set(err, RK_BADINPUT, "unknown edit");
}

/* Writes the edited config over the file's text (rk_encconfig_emit_over: only the edited rules change),
 * or the redacted preview for a dry run. */
static int write_result(const char *path, const rk_encconfig *cfg, const rk_encconfig *before,
                        const char *old, size_t old_len, const rk_edit_request *req, rk_edit_result *res,
                        rk_err *err)
{
	size_t len;
	char *yaml = rk_encconfig_emit_over(cfg, before, old, old_len, &len);
	if (!yaml)
		return rk_err_set(err, RK_FAIL, "out of memory");
	rk_config_hash(yaml, len, res->new_hash);
	res->changed = len != old_len || memcmp(yaml, old, len) != 0;
	int rc = RK_OK;
	if (req->dry_run) {
		if (!(res->preview = rk_encconfig_emit_redacted(cfg, NULL)))
			rc = rk_err_set(err, RK_FAIL, "out of memory");
	} else if (res->changed) {
		rc = rk_write_file_replacing(path, old, old_len, yaml, len, 1, err);
	}
	wipe_free(yaml, len);
	return rc;
}

int rk_encconfig_edit_file(const char *path, const rk_edit_request *req, rk_edit_result *res, rk_err *err)
{
	char *data;
	size_t len;
	rk_encconfig *cfg = NULL, *before = NULL;
	memset(res, 0, sizeof *res);
	int rc = rk_read_file(path, &data, &len, err);
	if (rc != RK_OK)
		return rc;
	rc = open_bytes(path, data, len, &cfg, res->old_hash, err);
	if (rc == RK_OK && !(before = rk_encconfig_clone(cfg)))
		rc = rk_err_set(err, RK_FAIL, "out of memory");
	if (rc == RK_OK)
		rc = apply_edit(cfg, req, res, err);
	if (rc == RK_OK)
		rc = write_result(path, cfg, before, data, len, req, res, err);
	wipe_free(data, len);
	rk_encconfig_free(before);
	rk_encconfig_free(cfg);
	if (rc != RK_OK)
		rk_edit_result_free(res);
	return rc;
}

void rk_edit_result_free(rk_edit_result *res)
{
	free(res->preview);
	res->preview = NULL;
}
