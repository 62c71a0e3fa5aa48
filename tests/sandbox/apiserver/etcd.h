/* etcd.h: the sandbox apiserver's way to etcd: librekey's gateway client (rekey/etcdgw.h), one per thread
 * (a client is one keep-alive connection), opened on a thread's first call and closed when it ends. */
#ifndef REKEY_SBX_ETCD_H
#define REKEY_SBX_ETCD_H

#include <stddef.h>
#include <stdint.h>

#include "rekey/err.h"
#include "rekey/etcdgw.h"

/* Checks the URL and opens the calling thread's client (start-up). */
int sbx_etcd_start(const char *url, rk_err *err);
/* Closes the calling thread's client now (threads that exit get theirs closed automatically). */
void sbx_etcd_thread_done(void);

/* rk_etcdgw_* on the calling thread's client. end NULL: the single key; "" = to the end of the keys. */
int sbx_etcd_range(const void *key, size_t key_len, const rk_buf *end, int64_t limit, int64_t revision,
                   int keys_only, rk_etcd_range *out, rk_err *err);
int sbx_etcd_get(const char *key, rk_etcd_kv *kv, int *found, rk_err *err);
int sbx_etcd_put_guarded(const char *key, const void *value, size_t len, int64_t expect_mod_rev,
                         const char *guard_key, int *ok, int64_t *revision, rk_err *err);
int sbx_etcd_delete_if(const char *key, int64_t expect_mod_rev, int *ok, int64_t *revision, rk_err *err);

#endif
