/* etcd.c: one librekey gateway client per thread of the sandbox apiserver (see etcd.h). */
#include "etcd.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

static pthread_key_t client_key;
static pthread_once_t key_once = PTHREAD_ONCE_INIT;
static char etcd_url[256];

static void client_free(void *gw)
{
	rk_etcdgw_close(gw);
}

static void make_key(void)
{
	pthread_key_create(&client_key, client_free);
}

/* The calling thread's client, opened on first use; NULL with err set when it cannot be. */
static rk_etcdgw *client(rk_err *err)
{
	pthread_once(&key_once, make_key);
	rk_etcdgw *gw = pthread_getspecific(client_key);
	if (gw)
		return gw;
	rk_etcdgw_opts opts = {.url = etcd_url, .timeout_ms = 10000};
	if (rk_etcdgw_open(&opts, &gw, err) != RK_OK)
		return NULL;
	pthread_setspecific(client_key, gw);
	return gw;
}

int sbx_etcd_start(const char *url, rk_err *err)
{
	if (strlen(url) >= sizeof etcd_url)
		return rk_err_set(err, RK_BADINPUT, "etcd URL %s: too long", url);
	snprintf(etcd_url, sizeof etcd_url, "%s", url);
	return client(err) ? RK_OK : err->code;
}

void sbx_etcd_thread_done(void)
{
	pthread_once(&key_once, make_key);
	rk_etcdgw_close(pthread_getspecific(client_key));
	pthread_setspecific(client_key, NULL);
}

int sbx_etcd_range(const void *key, size_t key_len, const rk_buf *end, int64_t limit, int64_t revision,
                   int keys_only, rk_etcd_range *out, rk_err *err)
{
	rk_etcdgw *gw = client(err);
	rk_etcd_range_req req = {.key = key,
	                         .key_len = key_len,
	                         .range_end = end ? end->data : NULL,
	                         .range_end_len = end ? end->len : 0,
	                         .limit = limit,
	                         .revision = revision,
	                         .keys_only = keys_only};
	memset(out, 0, sizeof *out);
	return gw ? rk_etcdgw_range(gw, &req, out, err) : err->code;
}

int sbx_etcd_get(const char *key, rk_etcd_kv *kv, int *found, rk_err *err)
{
	rk_etcdgw *gw = client(err);
	memset(kv, 0, sizeof *kv);
	*found = 0;
	return gw ? rk_etcdgw_get(gw, key, kv, found, err) : err->code;
}

int sbx_etcd_put_guarded(const char *key, const void *value, size_t len, int64_t expect_mod_rev,
                         const char *guard_key, int *ok, int64_t *revision, rk_err *err)
{
	rk_etcdgw *gw = client(err);
	*ok = 0;
	return gw ? rk_etcdgw_put_if(gw, key, value, len, expect_mod_rev, guard_key, ok, revision, err)
	          : err->code;
}

int sbx_etcd_delete_if(const char *key, int64_t expect_mod_rev, int *ok, int64_t *revision, rk_err *err)
{
	rk_etcdgw *gw = client(err);
	*ok = 0;
	return gw ? rk_etcdgw_delete_if(gw, key, expect_mod_rev, ok, revision, err) : err->code;
}
