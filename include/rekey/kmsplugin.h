/* kmsplugin.h: the Status call of a KMS v2 plugin over its unix socket (gRPC service
 * v2.KeyManagementService, k8s.io/kms apis/v2/api.proto: StatusRequest {}, StatusResponse { string
 * version = 1; string healthz = 2; string key_id = 3; }), and the checks kube-apiserver applies to its
 * answer (docs/kms.md sections 1 and 5). */
#ifndef REKEY_KMSPLUGIN_H
#define REKEY_KMSPLUGIN_H

#include <stddef.h>
#include <stdint.h>

#include "rekey/err.h"

typedef struct rk_kms_status {
	char version[64];
	char healthz[256];
	char key_id[1025]; /* "" when absent; a longer one is cut and marked too_long */
	size_t key_id_len; /* the key_id's real length (also when cut) */
	int key_id_too_long;
} rk_kms_status;

/* Calls Status on the plugin listening on socket_path (a file system path) within deadline_ms. RK_OK
 * with st filled (whatever it says: judge it with rk_kms_status_problem); RK_FAIL naming the socket
 * and the transport error or gRPC status; RK_BADINPUT when the reply is not a StatusResponse. */
int rk_kms_plugin_status(const char *socket_path, long deadline_ms, rk_kms_status *st, rk_err *err);

/* Why kube-apiserver would call this answer unhealthy (version not v2/v2beta1, healthz not "ok",
 * key_id empty or over 1024 bytes), NULL when it would not. */
const char *rk_kms_status_problem(const rk_kms_status *st);

/* Decodes a StatusResponse (exposed for tests); -1 when it is not one. */
int rk_kms_status_decode(const uint8_t *msg, size_t len, rk_kms_status *st);

/* "sha256:" + hex of SHA-256(key_id): the key_id_hash label of the apiserver's envelope metrics. */
void rk_kms_key_id_hash(const char *key_id, char out[72]);

#endif
