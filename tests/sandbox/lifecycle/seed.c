/* seed.c: fills a sandbox with namespaces, secrets and configmaps by writing straight to etcd through
 * the gateway (batched txns, several in flight), each value passed through the codec chain of the node
 * configuration (rk_chain_write, AAD = the etcd key), so that etcd holds exactly what the apiserver
 * would have stored for the same object. Also `rekey-sandbox seed`. */
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rekey/base64.h"
#include "rekey/buf.h"
#include "rekey/codec.h"
#include "rekey/encconfig.h"
#include "sandbox.h"

#define PER_TXN 500
#define PARALLEL 4

typedef struct seeder {
	const lc_info *info;
	rk_encconfig *cfg;
	lc_etcd_batch *batch;
	char now[32];
	rk_buf plain, stored, data64;
	uint8_t *random;
	const char *chain_resource[3];
	rk_chain *chains[3];
} seeder;

/* The codec chain of a resource (built once per resource). */
static int seed_chain(seeder *s, const char *resource, rk_chain **chain, rk_err *err)
{
	size_t i = 0;
	for (; i < 3 && s->chain_resource[i]; i++)
		if (!strcmp(s->chain_resource[i], resource)) {
			*chain = s->chains[i];
			return RK_OK;
		}
	if (i == 3)
		return rk_err_set(err, RK_FAIL, "seed: too many resources");
	int rc = rk_chain_new(rk_encconfig_lookup(s->cfg, "", resource), &s->chains[i], err);
	if (rc == RK_OK) {
		s->chain_resource[i] = resource;
		*chain = s->chains[i];
	}
	return rc;
}

/* Encodes one object through the chain of its resource and queues it. */
static int seed_put(seeder *s, const char *resource, const char *key, const rk_buf *plain, rk_err *err)
{
	rk_chain *chain = NULL;
	int rc = seed_chain(s, resource, &chain, err);
	if (rc)
		return rc;
	rk_buf_reset(&s->stored);
	rc = rk_chain_write(chain, key, plain->data, plain->len, &s->stored, err);
	return rc ? rc : lc_etcd_batch_put(s->batch, key, s->stored.data, s->stored.len, err);
}

static int seed_namespace(seeder *s, const char *name, rk_err *err)
{
	char uid[37];
	lc_uuid(uid);
	rk_buf_reset(&s->plain);
	rk_buf_printf(
	    &s->plain,
	    "{\"apiVersion\":\"v1\",\"kind\":\"Namespace\",\"metadata\":{\"creationTimestamp\":\"%s\","
	    "\"name\":\"%s\",\"uid\":\"%s\"},\"status\":{\"phase\":\"Active\"}}",
	    s->now, name, uid);
	char *key = lc_path("/registry/namespaces/%s", name);
	rk_chain *chain = NULL;
	int created = 0;
	int rc = seed_chain(s, "namespaces", &chain, err);
	rk_buf_reset(&s->stored);
	if (rc == RK_OK)
		rc = rk_chain_write(chain, key, s->plain.data, s->plain.len, &s->stored, err);
	if (rc == RK_OK) /* an existing namespace (seed on a running sandbox) keeps its uid */
		rc = lc_etcd_create(s->info->etcd_url, key, s->stored.data, s->stored.len, &created, err);
	free(key);
	return rc;
}

/* B random bytes, base64-encoded into s->data64 (the value of data.data). */
static void random_data64(seeder *s, long bytes)
{
	RAND_bytes(s->random, (int)bytes);
	rk_buf_reset(&s->data64);
	rk_b64_encode(s->random, (size_t)bytes, RK_B64_STD, &s->data64);
}

static int seed_object(seeder *s, const char *resource, const char *ns, long i, long bytes, rk_err *err)
{
	int secret = !strcmp(resource, "secrets");
	char uid[37], name[64];
	lc_uuid(uid);
	snprintf(name, sizeof name, "%s-%06ld", secret ? "secret" : "configmap", i);
	random_data64(s, bytes);
	rk_buf_reset(&s->plain);
	rk_buf_printf(&s->plain,
	              "{\"apiVersion\":\"v1\",\"data\":{\"data\":\"%s\"},\"kind\":\"%s\",\"metadata\":{"
	              "\"creationTimestamp\":\"%s\",\"name\":\"%s\",\"namespace\":\"%s\",\"uid\":\"%s\"}%s}",
	              rk_buf_cstr(&s->data64), secret ? "Secret" : "ConfigMap", s->now, name, ns, uid,
	              secret ? ",\"type\":\"Opaque\"" : "");
	char *key = lc_path("/registry/%s/%s/%s", resource, ns, name);
	int rc = seed_put(s, resource, key, &s->plain, err);
	free(key);
	return rc;
}

static int seed_all(seeder *s, const lc_seed_opts *o, rk_err *err)
{
	static const char *const system_ns[] = {"default", "kube-system", "kube-public", "kube-node-lease"};
	int rc = RK_OK;
	for (size_t i = 0; rc == RK_OK && i < 4; i++)
		rc = seed_namespace(s, system_ns[i], err);
	char ns[32];
	for (long k = 1; rc == RK_OK && k <= o->namespaces; k++) {
		snprintf(ns, sizeof ns, "ns-%ld", k);
		rc = seed_namespace(s, ns, err);
	}
	for (long i = o->first; rc == RK_OK && i < o->first + o->secrets; i++) {
		snprintf(ns, sizeof ns, "ns-%ld", i % o->namespaces + 1);
		rc = seed_object(s, "secrets", ns, i, o->bytes, err);
	}
	for (long i = o->first; rc == RK_OK && i < o->first + o->configmaps; i++) {
		snprintf(ns, sizeof ns, "ns-%ld", i % o->namespaces + 1);
		rc = seed_object(s, "configmaps", ns, i, o->bytes, err);
	}
	return rc;
}

int lc_seed(const lc_info *info, const lc_seed_opts *opts, rk_err *err)
{
	if (info->nnodes == 0)
		return rk_err_set(err, RK_BADINPUT, "sandbox has no nodes");
	seeder s = {.info = info, .plain = RK_BUF_INIT, .stored = RK_BUF_INIT, .data64 = RK_BUF_INIT};
	char *path = lc_path("%s/nodes/%s/etc/kubernetes/enc/enc.yaml", info->dir, info->nodes[0].name);
	int rc = rk_encconfig_load_file(path, &s.cfg, err);
	free(path);
	if (rc)
		return rc;
	lc_rfc3339(s.now);
	s.random = malloc((size_t)opts->bytes + 1);
	s.batch = lc_etcd_batch_new(info->etcd_url, PER_TXN, PARALLEL);
	rc = seed_all(&s, opts, err);
	long written = 0;
	rk_err ferr;
	int frc = lc_etcd_batch_finish(s.batch, &written, &ferr);
	if (rc == RK_OK && frc != RK_OK) {
		*err = ferr;
		rc = frc;
	}
	for (size_t i = 0; i < 3; i++)
		if (s.chain_resource[i])
			rk_chain_free(s.chains[i]);
	rk_encconfig_free(s.cfg);
	free(s.random);
	rk_buf_free(&s.plain);
	rk_buf_free(&s.stored);
	rk_buf_free(&s.data64);
	return rc;
}
