/* values.c: stored values as an apiserver running a node's EncryptionConfiguration would write and read
 * them: the kubelet emulation seals the mirror pods it writes straight to etcd with its node's config
 * (a real kubelet writes them through the apiserver, which encrypts them), and the readers of those pods
 * (up, status) open them with whichever node's config reads them. */
#include <openssl/crypto.h>
#include <stdlib.h>
#include <string.h>

#include "rekey/codec.h"
#include "rekey/fsutil.h"
#include "sandbox.h"

/* The chain of the rule that covers group/resource in the config at path. */
static int chain_at(const char *path, const char *group, const char *resource, rk_chain **chain, rk_err *err)
{
	rk_encconfig *cfg = NULL;
	int rc = rk_encconfig_load_file(path, &cfg, err);
	if (rc == RK_OK)
		rc = rk_chain_new(rk_encconfig_lookup(cfg, group, resource), chain, err);
	rk_encconfig_free(cfg);
	return rc;
}

int lc_seal_value(const char *config_path, const char *group, const char *resource, const char *key,
                  const void *plain, size_t len, rk_buf *out, rk_err *err)
{
	rk_chain *chain = NULL;
	int rc = chain_at(config_path, group, resource, &chain, err);
	if (rc == RK_OK)
		rc = rk_chain_write(chain, key, plain, len, out, err);
	rk_chain_free(chain);
	return rc;
}

int lc_open_value(const lc_info *info, const char *group, const char *resource, const char *key,
                  const uint8_t *val, size_t len, rk_buf *plain)
{
	for (size_t i = 0; i < info->nnodes; i++) {
		char *path = lc_path("%s/nodes/%s" LC_ENC_REL, info->dir, info->nodes[i].name);
		rk_chain *chain = NULL;
		rk_err err;
		int stale = 0, rc = chain_at(path, group, resource, &chain, &err);
		free(path);
		rk_buf_reset(plain);
		if (rc == RK_OK)
			rc = rk_chain_read(chain, key, val, len, plain, &stale, &err);
		rk_chain_free(chain);
		if (rc == RK_OK)
			return 0;
	}
	return -1;
}
