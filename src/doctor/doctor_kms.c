/* doctor_kms.c: the KMS v2 plugin's Status called over its unix socket with librekey's gRPC client, every
 * way it can go wrong sorted into an outcome (missing socket, not a socket, nobody listening, not gRPC,
 * timeout, a gRPC error, a bad reply) so the doctor can name it. The messages: k8s.io/kms apis/v2/api.proto
 * (docs/kms.md section 1). */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "rekey/doctor.h"
#include "rekey/grpc.h"
#include "rekey/kmsplugin.h"
#include "rekey/pbwire.h"

#define STATUS_METHOD "/v2.KeyManagementService/Status"

static double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* The StatusResponse, decoded by librekey's (rekey/kmsplugin.h), into the doctor's result. */
static int decode_status(const rk_buf *resp, rk_doctor_kms_status *out)
{
	rk_kms_status st;
	if (rk_kms_status_decode(resp->data, resp->len, &st) != 0)
		return -1;
	snprintf(out->version, sizeof out->version, "%s", st.version);
	snprintf(out->healthz, sizeof out->healthz, "%s", st.healthz);
	snprintf(out->key_id, sizeof out->key_id, "%s", st.key_id);
	out->key_id_len = st.key_id_len;
	return 0;
}

/* Before the gRPC call: is there a socket, and does anyone listen on it? RK_DOCTOR_KMS_ANSWERED = go on. */
static rk_doctor_kms_outcome probe_socket(const char *path, rk_doctor_kms_status *out)
{
	struct stat sb;
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	if (stat(path, &sb) != 0) {
		snprintf(out->detail, sizeof out->detail, "%s: %s", path, strerror(errno));
		return errno == ENOENT ? RK_DOCTOR_KMS_NO_SOCKET : RK_DOCTOR_KMS_NOT_SOCKET;
	}
	if (!S_ISSOCK(sb.st_mode)) {
		snprintf(out->detail, sizeof out->detail, "%s exists but is not a unix socket", path);
		return RK_DOCTOR_KMS_NOT_SOCKET;
	}
	if (strlen(path) >= sizeof sa.sun_path) {
		snprintf(out->detail, sizeof out->detail,
		         "%s: longer than a unix socket path may be (%zu bytes)", path,
		         sizeof sa.sun_path - 1);
		return RK_DOCTOR_KMS_NOT_SOCKET;
	}
	memcpy(sa.sun_path, path, strlen(path) + 1);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	int rc = fd < 0 ? -1 : connect(fd, (struct sockaddr *)&sa, sizeof sa);
	int saved = errno;
	if (fd >= 0)
		close(fd);
	if (rc == 0)
		return RK_DOCTOR_KMS_ANSWERED;
	snprintf(out->detail, sizeof out->detail, "connect %s: %s", path, strerror(saved));
	return saved == ECONNREFUSED ? RK_DOCTOR_KMS_REFUSED : RK_DOCTOR_KMS_BAD_REPLY;
}

static rk_doctor_kms_outcome call_status(const char *path, long timeout_ms, rk_doctor_kms_status *out)
{
	char target[sizeof((struct sockaddr_un *)0)->sun_path + 8];
	snprintf(target, sizeof target, "unix:%s", path);
	rk_grpc_opts gopts = {.target = target, .connect_timeout_ms = timeout_ms, .max_message = 64 * 1024};
	rk_grpc *g = NULL;
	rk_err err;
	rk_grpc_status st;
	rk_buf resp = {0};
	static const uint8_t empty_request[1]; /* StatusRequest {} is zero bytes */
	memset(&st, 0, sizeof st);
	if (rk_grpc_open(&gopts, &g, &err) != RK_OK) {
		snprintf(out->detail, sizeof out->detail, "%.500s", err.msg);
		return RK_DOCTOR_KMS_BAD_REPLY;
	}
	int rc = rk_grpc_call_buf(g, STATUS_METHOD, empty_request, 0, timeout_ms, &resp, &st, &err);
	rk_grpc_close(g);
	rk_doctor_kms_outcome outcome = RK_DOCTOR_KMS_ANSWERED;
	if (rc != RK_OK) {
		snprintf(out->detail, sizeof out->detail, "%.500s", err.msg);
		if (st.not_grpc)
			outcome = RK_DOCTOR_KMS_NOT_GRPC;
		else if (st.code == 4 && strstr(err.msg, "deadline of"))
			outcome = RK_DOCTOR_KMS_TIMEOUT;
		else if (st.code > 0)
			outcome = RK_DOCTOR_KMS_GRPC_ERROR;
		else
			outcome = RK_DOCTOR_KMS_BAD_REPLY;
		out->grpc_code = st.code;
	} else if (decode_status(&resp, out) != 0) {
		snprintf(out->detail, sizeof out->detail, "the reply is not a StatusResponse (%zu bytes)",
		         resp.len);
		outcome = RK_DOCTOR_KMS_BAD_REPLY;
	}
	rk_buf_free(&resp);
	return outcome;
}

void rk_doctor_kms_status_call(const char *socket_path, long timeout_ms, rk_doctor_kms_status *out)
{
	memset(out, 0, sizeof *out);
	double t0 = now_ms();
	out->outcome = probe_socket(socket_path, out);
	if (out->outcome == RK_DOCTOR_KMS_ANSWERED)
		out->outcome = call_status(socket_path, timeout_ms, out);
	out->elapsed_ms = now_ms() - t0;
}
