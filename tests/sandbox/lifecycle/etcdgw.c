/* etcdgw.c: the lifecycle half's etcd calls, all through librekey's gateway client (rekey/etcdgw.h):
 * single put/create/delete/get for mirror pods and checks (a client per call: they are rare), and a
 * batched writer for seeding (txns of many puts, `parallel` worker threads each with its own client). */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "rekey/etcdgw.h"
#include "sandbox.h"

static int with_client(const char *etcd_url, rk_etcdgw **gw, rk_err *err)
{
	rk_etcdgw_opts opts = {.url = etcd_url, .timeout_ms = 60000};
	return rk_etcdgw_open(&opts, gw, err);
}

int lc_etcd_put(const char *etcd_url, const char *key, const void *val, size_t len, rk_err *err)
{
	rk_etcdgw *gw = NULL;
	int rc = with_client(etcd_url, &gw, err);
	if (rc == RK_OK)
		rc = rk_etcdgw_put(gw, key, val, len, NULL, err);
	rk_etcdgw_close(gw);
	return rc;
}

int lc_etcd_create(const char *etcd_url, const char *key, const void *val, size_t len, int *created,
                   rk_err *err)
{
	rk_etcdgw *gw = NULL;
	int rc = with_client(etcd_url, &gw, err);
	if (rc == RK_OK) /* mod_revision 0: only while the key does not exist */
		rc = rk_etcdgw_put_if(gw, key, val, len, 0, NULL, created, NULL, err);
	rk_etcdgw_close(gw);
	return rc;
}

int lc_etcd_delete(const char *etcd_url, const char *key, rk_err *err)
{
	rk_etcdgw *gw = NULL;
	int ok = 0;
	int rc = with_client(etcd_url, &gw, err);
	if (rc == RK_OK)
		rc = rk_etcdgw_delete_if(gw, key, -1, &ok, NULL, err);
	rk_etcdgw_close(gw);
	return rc;
}

int lc_etcd_healthy(const char *etcd_url)
{
	rk_etcdgw *gw = NULL;
	rk_err err;
	rk_etcd_kv kv;
	memset(&kv, 0, sizeof kv);
	int found = 0;
	int ok = with_client(etcd_url, &gw, &err) == RK_OK &&
	         rk_etcdgw_get(gw, "/rekey-sandbox/health", &kv, &found, &err) == RK_OK;
	rk_etcd_kv_free(&kv);
	rk_etcdgw_close(gw);
	return ok;
}

json_t *lc_mirror_pod(const lc_info *info, const char *node)
{
	char *key = lc_path("/registry/pods/kube-system/kube-apiserver-%s", node);
	rk_etcdgw *gw = NULL;
	rk_etcd_kv kv;
	memset(&kv, 0, sizeof kv);
	int found = 0;
	rk_err err;
	json_t *pod = NULL;
	rk_buf plain = RK_BUF_INIT;
	if (with_client(info->etcd_url, &gw, &err) == RK_OK &&
	    rk_etcdgw_get(gw, key, &kv, &found, &err) == RK_OK && found &&
	    lc_open_value(info, "", "pods", key, kv.value, kv.value_len, &plain) == 0)
		pod = json_loadb((const char *)plain.data, plain.len, 0, NULL);
	rk_buf_free(&plain);
	rk_etcd_kv_free(&kv);
	rk_etcdgw_close(gw);
	free(key);
	return pod;
}

/* ---- batched writer ---- */

#define BATCH_MAX_BYTES (4u << 20)

/* One txn's puts, with copies of their keys and values. */
typedef struct batch_txn {
	rk_etcd_put *puts;
	size_t n;
	size_t bytes;
	struct batch_txn *next;
} batch_txn;

struct lc_etcd_batch {
	char etcd_url[128];
	int per_txn, parallel;
	pthread_t *workers;
	pthread_mutex_t mu;
	pthread_cond_t changed;
	batch_txn *queue, *pending; /* queued for the workers; being filled */
	int queued, closing;
	long written;
	rk_err first_err;
};

static void txn_free(batch_txn *t)
{
	for (size_t i = 0; t && i < t->n; i++) {
		free((char *)t->puts[i].key);
		free((void *)t->puts[i].value);
	}
	if (t)
		free(t->puts);
	free(t);
}

/* Takes queued txns and writes each in one request on the worker's own client. */
static void *batch_worker(void *arg)
{
	lc_etcd_batch *b = arg;
	rk_etcdgw *gw = NULL;
	rk_err err;
	int open_rc = with_client(b->etcd_url, &gw, &err);
	pthread_mutex_lock(&b->mu);
	for (;;) {
		while (!b->queue && !b->closing)
			pthread_cond_wait(&b->changed, &b->mu);
		batch_txn *t = b->queue;
		if (!t)
			break;
		b->queue = t->next;
		b->queued--;
		pthread_cond_broadcast(&b->changed);
		pthread_mutex_unlock(&b->mu);
		int rc = open_rc == RK_OK ? rk_etcdgw_put_many(gw, t->puts, t->n, &err) : open_rc;
		pthread_mutex_lock(&b->mu);
		if (rc == RK_OK)
			b->written += (long)t->n;
		else if (b->first_err.code == RK_OK)
			b->first_err = err;
		txn_free(t);
	}
	pthread_mutex_unlock(&b->mu);
	rk_etcdgw_close(gw);
	return NULL;
}

lc_etcd_batch *lc_etcd_batch_new(const char *etcd_url, int per_txn, int parallel)
{
	lc_etcd_batch *b = calloc(1, sizeof *b);
	if (!b)
		return NULL;
	snprintf(b->etcd_url, sizeof b->etcd_url, "%s", etcd_url);
	b->per_txn = per_txn;
	b->parallel = parallel;
	pthread_mutex_init(&b->mu, NULL);
	pthread_cond_init(&b->changed, NULL);
	b->workers = calloc((size_t)parallel, sizeof *b->workers);
	for (int i = 0; b->workers && i < parallel; i++)
		pthread_create(&b->workers[i], NULL, batch_worker, b);
	return b;
}

/* Hands the pending txn to the workers, waiting while `parallel` txns are already queued. */
static void batch_submit(lc_etcd_batch *b)
{
	if (!b->pending)
		return;
	pthread_mutex_lock(&b->mu);
	while (b->queued >= b->parallel)
		pthread_cond_wait(&b->changed, &b->mu);
	batch_txn **tail = &b->queue;
	while (*tail)
		tail = &(*tail)->next;
	*tail = b->pending;
	b->queued++;
	b->pending = NULL;
	pthread_cond_broadcast(&b->changed);
	pthread_mutex_unlock(&b->mu);
}

static int first_error(lc_etcd_batch *b, rk_err *err)
{
	pthread_mutex_lock(&b->mu);
	int rc = b->first_err.code;
	if (rc != RK_OK)
		*err = b->first_err;
	pthread_mutex_unlock(&b->mu);
	return rc;
}

int lc_etcd_batch_put(lc_etcd_batch *b, const char *key, const void *val, size_t len, rk_err *err)
{
	if (!b->pending && !(b->pending = calloc(1, sizeof *b->pending)))
		return rk_err_set(err, RK_FAIL, "out of memory");
	batch_txn *t = b->pending;
	if (!t->puts && !(t->puts = calloc((size_t)b->per_txn, sizeof *t->puts)))
		return rk_err_set(err, RK_FAIL, "out of memory");
	char *k = strdup(key), *v = malloc(len + 1);
	if (!k || !v) {
		free(k);
		free(v);
		return rk_err_set(err, RK_FAIL, "out of memory");
	}
	memcpy(v, val, len);
	t->puts[t->n++] = (rk_etcd_put){k, v, len};
	t->bytes += len + strlen(key);
	if (t->n >= (size_t)b->per_txn || t->bytes >= BATCH_MAX_BYTES)
		batch_submit(b);
	return first_error(b, err);
}

int lc_etcd_batch_finish(lc_etcd_batch *b, long *written, rk_err *err)
{
	batch_submit(b);
	pthread_mutex_lock(&b->mu);
	b->closing = 1;
	pthread_cond_broadcast(&b->changed);
	pthread_mutex_unlock(&b->mu);
	for (int i = 0; b->workers && i < b->parallel; i++)
		pthread_join(b->workers[i], NULL);
	int rc = b->workers ? first_error(b, err) : rk_err_set(err, RK_FAIL, "out of memory");
	if (written)
		*written = b->written;
	pthread_mutex_destroy(&b->mu);
	pthread_cond_destroy(&b->changed);
	free(b->workers);
	free(b);
	return rc;
}
