/* kmsplugin.c: a KMS v2 plugin's Status over its unix socket (rk_grpc on a unix: target), the checks
 * kube-apiserver applies to the answer, and the key_id hash its metrics are labelled with. */
#include "rekey/kmsplugin.h"

#include <openssl/sha.h>
#include <stdio.h>
#include <string.h>

#include "rekey/buf.h"
#include "rekey/grpc.h"
#include "rekey/pbwire.h"

static void copy_field(char *dst, size_t cap, const rk_pb_field *f, int *too_long)
{
	size_t n = f->len < cap - 1 ? f->len : cap - 1;
	memcpy(dst, f->data, n);
	dst[n] = '\0';
	if (too_long)
		*too_long = f->len > cap - 1;
}

int rk_kms_status_decode(const uint8_t *msg, size_t len, rk_kms_status *st)
{
	rk_pb_reader r;
	rk_pb_field f;
	int rc;
	memset(st, 0, sizeof *st);
	if (len == 0)
		return 0; /* every field at its default */
	rk_pb_init(&r, msg, len);
	while ((rc = rk_pb_next(&r, &f)) == 1) {
		if (f.num >= 1 && f.num <= 3 && f.wire != RK_PB_BYTES)
			return -1;
		if (f.num == 1)
			copy_field(st->version, sizeof st->version, &f, NULL);
		else if (f.num == 2)
			copy_field(st->healthz, sizeof st->healthz, &f, NULL);
		else if (f.num == 3) {
			copy_field(st->key_id, sizeof st->key_id, &f, &st->key_id_too_long);
			st->key_id_len = f.len;
		}
	}
	return rc;
}

int rk_kms_plugin_status(const char *socket_path, long deadline_ms, rk_kms_status *st, rk_err *err)
{
	char target[4200];
	memset(st, 0, sizeof *st);
	snprintf(target, sizeof target, "unix:%s", socket_path);
	rk_grpc_opts opts = {.target = target, .connect_timeout_ms = deadline_ms, .max_message = 1 << 16};
	rk_grpc *g = NULL;
	rk_buf resp = RK_BUF_INIT;
	int rc = rk_grpc_open(&opts, &g, err);
	if (rc == RK_OK)
		rc = rk_grpc_call_buf(g, "/v2.KeyManagementService/Status", NULL, 0, deadline_ms, &resp, NULL,
		                      err);
	if (rc == RK_OK && rk_kms_status_decode(resp.data, resp.len, st) != 0)
		rc = rk_err_set(err, RK_BADINPUT, "kms plugin %s: the Status reply is not a StatusResponse",
		                socket_path);
	rk_buf_free(&resp);
	rk_grpc_close(g);
	return rc;
}

const char *rk_kms_status_problem(const rk_kms_status *st)
{
	if (strcmp(st->version, "v2") != 0 && strcmp(st->version, "v2beta1") != 0)
		return "version is not v2";
	if (strcmp(st->healthz, "ok") != 0)
		return "healthz is not \"ok\"";
	if (!st->key_id[0])
		return "key_id is empty";
	if (st->key_id_too_long)
		return "key_id is over 1024 bytes";
	return NULL;
}

void rk_kms_key_id_hash(const char *key_id, char out[72])
{
	unsigned char md[SHA256_DIGEST_LENGTH];
	SHA256((const unsigned char *)key_id, strlen(key_id), md);
	memcpy(out, "sha256:", 7);
	for (int i = 0; i < SHA256_DIGEST_LENGTH; i++)
		snprintf(out + 7 + 2 * i, 3, "%02x", md[i]);
}
