/* doctor.h: `rekeyctl doctor`, the runbook's triage of a cluster's encryption at rest (issue 14). For
 * every apiserver of a plan: reachable (TCP, TLS, authentication, each its own finding), /readyz with
 * the kms-providers check and its reason, KMS operations by gRPC status and their latency, storage
 * transformation failures, write latency and 5xx; across apiservers: the EncryptionConfiguration hash
 * each runs and the KMS key_id each uses; and each KMS v2 plugin's own Status over its unix socket.
 * The result is a list of findings, each with a severity and the next action. docs/doctor.md lists
 * every check, the metric it reads, its findings and actions. */
#ifndef REKEY_DOCTOR_H
#define REKEY_DOCTOR_H

#include <stddef.h>

#include "rekey/err.h"

typedef enum rk_doctor_severity {
	RK_DOCTOR_CRITICAL = 0,
	RK_DOCTOR_WARNING = 1,
	RK_DOCTOR_OK = 2
} rk_doctor_severity;

typedef struct rk_doctor_finding {
	rk_doctor_severity severity;
	char subject[96]; /* "cp-1" (an apiserver), "plugin cp-1" / "plugin PATH", or "cluster" */
	char check[32]; /* "tcp", "tls", "auth", "readyz", "kms-readyz", "kms-plugin", ... (docs/doctor.md) */
	char message[1024];
	char action[512]; /* the next thing to do; "" for nothing */
} rk_doctor_finding;

typedef struct rk_doctor_report {
	rk_doctor_finding *findings; /* ordered by severity (critical, warning, ok), stable within one */
	size_t n, cap;
	size_t apiservers; /* apiservers checked */
	size_t plugins;    /* plugin sockets called */
} rk_doctor_report;

typedef struct rk_doctor_opts {
	const char *plan_path;
	/* --kms-socket values: "PATH" (a plugin for every apiserver) or "NODE=PATH" (the plugin of that
	 * node's apiserver). None given: the unix endpoints of the kms v2 providers in the nodes'
	 * EncryptionConfigurations, when the plan's access is local (the sockets are on this machine). */
	const char *const *kms_sockets;
	size_t nkms_sockets;
	long timeout_ms; /* per HTTP request; 0 = 10 s */
	/* 0: the metric figures count since each apiserver started; else over this window between two
	 * scrapes of each apiserver (doctor takes that long), failures in it being critical */
	long window_ms;
	int insecure_skip_tls_verify;
} rk_doctor_opts;

/* Runs every check. RK_OK with the report filled (critical findings included), or RK_BADINPUT (the plan
 * or an option is bad; nothing was contacted). Free the report with rk_doctor_report_free either way. */
int rk_doctor_run(const rk_doctor_opts *opts, rk_doctor_report *report, rk_err *err);
void rk_doctor_report_free(rk_doctor_report *report);
size_t rk_doctor_count(const rk_doctor_report *report, rk_doctor_severity severity);
const char *rk_doctor_severity_name(rk_doctor_severity severity); /* "critical", "warning", "ok" */

/* ---- the KMS v2 plugin's Status over its unix socket (gRPC over HTTP/2) ---- */

typedef enum rk_doctor_kms_outcome {
	RK_DOCTOR_KMS_ANSWERED =
	    0,                   /* a StatusResponse came back (judge version, healthz and key_id yourself) */
	RK_DOCTOR_KMS_NO_SOCKET, /* nothing at the path */
	RK_DOCTOR_KMS_NOT_SOCKET, /* the path is not a unix socket */
	RK_DOCTOR_KMS_REFUSED,    /* nobody listens on the socket (a stale socket file) */
	RK_DOCTOR_KMS_NOT_GRPC,   /* the peer answered, but not as a gRPC server */
	RK_DOCTOR_KMS_TIMEOUT,    /* no answer within the deadline */
	RK_DOCTOR_KMS_GRPC_ERROR, /* a gRPC status other than OK (grpc_code, detail) */
	RK_DOCTOR_KMS_BAD_REPLY   /* a reply that is not a StatusResponse, or another transport error */
} rk_doctor_kms_outcome;

#define RK_DOCTOR_KMS_KEY_ID_MAX 1024 /* the apiserver refuses longer key_ids (docs/kms.md section 1) */

typedef struct rk_doctor_kms_status {
	rk_doctor_kms_outcome outcome;
	int grpc_code; /* RK_DOCTOR_KMS_GRPC_ERROR: the status code */
	char version[64];
	char healthz[256];
	char key_id[RK_DOCTOR_KMS_KEY_ID_MAX + 2]; /* truncated past RK_DOCTOR_KMS_KEY_ID_MAX + 1 bytes */
	size_t key_id_len;                         /* the key_id's real length */
	double elapsed_ms;                         /* the call, connect included */
	char detail[512];                          /* what went wrong, one line */
} rk_doctor_kms_status;

/* One /v2.KeyManagementService/Status call to the plugin at socket_path with deadline timeout_ms. Never
 * fails as a function: every result, a missing socket included, is an outcome in out. */
void rk_doctor_kms_status_call(const char *socket_path, long timeout_ms, rk_doctor_kms_status *out);

#endif
