/* faults.h: runtime faults of one sandbox apiserver, read from D/nodes/<node>/faults.json and re-read
 * when its mtime or size changes (one stat per request, so a change applies to the next request). Absent file
 * = no faults. */
#ifndef REKEY_SBX_FAULTS_H
#define REKEY_SBX_FAULTS_H

typedef struct sbx_faults {
	long latency_ms, jitter_ms;
	double error_ratio;
	int error_code;
	double throttle_ratio;
	int retry_after_seconds;
	int max_inflight; /* 0 = unlimited */
	int fail_start;
	/* "" = none; else updates (PUT, PATCH) of objects carrying this label key, before or after the
	 * update, are refused with 422 as a ValidatingAdmissionPolicy denying them would (apiserver.h,
	 * sbx_admission_update) */
	char deny_label[256];
	char error_verb[16];  /* errorRatio applies only to this HTTP method ("" = any) */
	char error_path[512]; /* ... and only to URLs starting with this ("" = any API path) */
} sbx_faults;

void sbx_faults_init(const char *path);
/* The faults in force now. */
void sbx_faults_get(sbx_faults *out);

#endif
