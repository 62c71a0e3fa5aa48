/* rewrite_internal.h (private): the pure parts of the rewrite engine, shared by the files of src/rewrite/ and
 * the unit tests: outcome classification, outcome totals, the etcd key order of objects, the PUT body and the
 * ETA. Not part of librekey's public API. */
#ifndef REKEY_REWRITE_INTERNAL_H
#define REKEY_REWRITE_INTERNAL_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "rekey/kube.h"
#include "rekey/rewrite.h"
#include "rekey/store.h"

/* ---- outcomes ---- */
typedef enum rk_outcome {
	RK_OUT_REWRITTEN = 0,
	RK_OUT_CURRENT,
	RK_OUT_CONFLICT,
	RK_OUT_GONE,
	RK_OUT_ORPHAN,
	RK_OUT_FAILED,
	RK_OUT_CHECK /* 404 on the PUT: a GET decides between gone and orphan */
} rk_outcome;
const char *rk_outcome_name(rk_outcome o);

/* From the PUT's HTTP status (0 = no answer) and resourceVersions (new_rv NULL when absent). */
rk_outcome rk_outcome_of_put(long http_status, const char *old_rv, const char *new_rv);
/* 1 when an apiserver's error message says its KMS v2 plugin failed it (kube-apiserver v1.34,
 * pkg/storage/value/encrypt/envelope/kmsv2/envelope.go and encryptionconfig/config.go: a DEK seed that
 * expired 3 minutes after the last good Status, Encrypt or Decrypt failing, no seed at all after a start
 * without the plugin). Such an object is not failed: the rewrite pauses (docs/kms.md section 12). */
int rk_rewrite_kms_failure(const char *message);
/* 1 when a failed attempt is such a KMS failure (a 5xx, rk_rewrite_kms_failure) and the request has made
 * `tries` attempts: the client's retries (up to 2 minutes) do not bring a KMS back, the rewrite's pause
 * waits for it properly. The rewrite's client asks it before each retry (rk_kube_set_final). */
int rk_rewrite_kms_final(const rk_kube_resp *attempt, int tries);
/* From the confirming GET after a 404. */
rk_outcome rk_outcome_of_get(long http_status);
void rk_counts_add(rk_counts *c, rk_outcome o);
int64_t rk_counts_sum(const rk_counts *c);
void rk_counts_merge(rk_counts *into, const rk_counts *from);
/* One object's outcome changed from `from` to `to` (a retry): one less of from (never below 0), one more
 * of to. */
void rk_counts_move(rk_counts *c, rk_outcome from, rk_outcome to);

/* Compares two objects in etcd key order (the order of a list): "ns/name" byte by byte. */
int rk_objkey_cmp(const char *ns_a, const char *name_a, const char *ns_b, const char *name_b);

/* An object as listed -> the PUT body: a copy with apiVersion and kind set. NULL on out of memory. */
char *rk_rewrite_put_body(json_t *item, const char *api_version, const char *kind);

/* rk_rewrite_opts_check without the cluster name: settings, resource and namespace names. */
int rk_rw_check_scope(const rk_rewrite_opts *o, rk_err *err);

/* Seconds left at `rate` objects/s for total - done objects; -1 when unknown. */
double rk_eta_s(int64_t done, int64_t total, double rate);

#endif
