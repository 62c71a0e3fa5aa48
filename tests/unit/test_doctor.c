/* test_doctor.c: the doctor's KMS Status client against real unix sockets that are not a working plugin
 * (nothing at the path, a regular file, a socket nobody listens on, an HTTP/1 server, a server that never
 * answers: each a distinct outcome, within the deadline, never a crash), the key_id hash, the metric
 * reading of one apiserver scrape, and the order of findings. */
#include <check.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../../src/doctor/doctor_internal.h"
#include "rekey/doctor.h"
#include "rekey/kmsplugin.h"
#include "testutil.h"

/* A unix socket bound at path; listening when backlog > 0. */
static int bound_socket(const char *path, int backlog)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	snprintf(sa.sun_path, sizeof sa.sun_path, "%s", path);
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
	if (backlog > 0)
		ck_assert_int_eq(listen(fd, backlog), 0);
	return fd;
}

START_TEST(missing_socket)
{
	char *dir = tu_mkdtemp(), *path = tu_path(dir, "kms.sock");
	rk_doctor_kms_status st;
	rk_doctor_kms_status_call(path, 1000, &st);
	ck_assert_int_eq(st.outcome, RK_DOCTOR_KMS_NO_SOCKET);
	ck_assert_ptr_nonnull(strstr(st.detail, path));
	ck_assert_ptr_nonnull(strstr(st.detail, "No such file"));
	tu_rmtree(dir);
	free(path), free(dir);
}
END_TEST

START_TEST(not_a_socket)
{
	char *dir = tu_mkdtemp(), *path = tu_path(dir, "kms.sock");
	ck_assert_int_eq(tu_write_file(path, "x", 1), 0);
	rk_doctor_kms_status st;
	rk_doctor_kms_status_call(path, 1000, &st);
	ck_assert_int_eq(st.outcome, RK_DOCTOR_KMS_NOT_SOCKET);
	ck_assert_ptr_nonnull(strstr(st.detail, "not a unix socket"));
	tu_rmtree(dir);
	free(path), free(dir);
}
END_TEST

START_TEST(stale_socket_refused)
{
	char *dir = tu_mkdtemp(), *path = tu_path(dir, "kms.sock");
	close(bound_socket(path, 0)); /* the file stays, nobody listens */
	rk_doctor_kms_status st;
	rk_doctor_kms_status_call(path, 1000, &st);
	ck_assert_int_eq(st.outcome, RK_DOCTOR_KMS_REFUSED);
	ck_assert_ptr_nonnull(strstr(st.detail, "Connection refused"));
	tu_rmtree(dir);
	free(path), free(dir);
}
END_TEST

/* A child answering every connection as an HTTP/1.1 server would: 400 and close. */
static pid_t http1_peer(int fd)
{
	pid_t pid = fork();
	if (pid == 0) {
		for (;;) {
			int c = accept(fd, NULL, NULL);
			if (c < 0)
				_exit(0);
			char buf[512];
			ssize_t got = read(c, buf, sizeof buf);
			static const char reply[] = "HTTP/1.1 400 Bad Request\r\nContent-Length: "
			                            "11\r\nConnection: close\r\n\r\nBad Request";
			if (got > 0 && write(c, reply, sizeof reply - 1) < 0)
				_exit(1);
			close(c);
		}
	}
	return pid;
}

START_TEST(http1_peer_is_not_grpc)
{
	char *dir = tu_mkdtemp(), *path = tu_path(dir, "kms.sock");
	int fd = bound_socket(path, 8);
	pid_t pid = http1_peer(fd);
	ck_assert_int_gt(pid, 0);
	rk_doctor_kms_status st;
	rk_doctor_kms_status_call(path, 2000, &st);
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	close(fd);
	ck_assert_msg(st.outcome == RK_DOCTOR_KMS_NOT_GRPC, "outcome %d: %s", st.outcome, st.detail);
	ck_assert_ptr_nonnull(strstr(st.detail, "not a gRPC server"));
	ck_assert(st.elapsed_ms < 2000);
	tu_rmtree(dir);
	free(path), free(dir);
}
END_TEST

START_TEST(silent_peer_times_out)
{
	char *dir = tu_mkdtemp(), *path = tu_path(dir, "kms.sock");
	int fd = bound_socket(path, 8); /* connections wait in the backlog: never accepted, never answered */
	rk_doctor_kms_status st;
	rk_doctor_kms_status_call(path, 300, &st);
	close(fd);
	ck_assert_msg(st.outcome == RK_DOCTOR_KMS_TIMEOUT, "outcome %d: %s", st.outcome, st.detail);
	ck_assert_ptr_nonnull(strstr(st.detail, "deadline of 300 ms exceeded"));
	ck_assert_msg(st.elapsed_ms >= 290 && st.elapsed_ms < 3000, "took %.0f ms", st.elapsed_ms);
	tu_rmtree(dir);
	free(path), free(dir);
}
END_TEST

START_TEST(key_id_hash_is_sha256_hex)
{
	char out[80];
	rk_kms_key_id_hash("kek-1", out); /* librekey's, which the doctor uses (rekey/kmsplugin.h) */
	ck_assert_str_eq(out, "sha256:6ad4ff2bfd375211dd97cbb809e358fe8af9271fce7034f1a54618486f0488a0");
}
END_TEST

#define METRICS_FIXTURE "tests/unit/data/doctor_metrics.txt"

/* The fixture scrape parsed into m. */
static void parse_fixture(doc_metrics *m)
{
	rk_err err;
	size_t len = 0;
	char *scrape = tu_read_file(METRICS_FIXTURE, &len);
	ck_assert_ptr_nonnull(scrape);
	ck_assert_int_eq(doc_metrics_parse(METRICS_FIXTURE, scrape, len, m, &err), RK_OK);
	free(scrape);
}

START_TEST(metrics_of_one_scrape)
{
	doc_metrics m;
	parse_fixture(&m);
	ck_assert_str_eq(m.config_hash, "sha256:c1");
	ck_assert(m.reload_failures == 2 && m.reload_failure_ts > m.reload_success_ts);
	ck_assert_uint_eq(m.nkms_ops, 2);
	ck_assert_str_eq(m.kms_ops[1].c, "Unavailable");
	ck_assert(m.kms_ops[1].value == 3);
	ck_assert(m.kms_latency[0].total == 12 && m.kms_latency[1].total == 0); /* every code */
	ck_assert_uint_eq(m.nkeyids, 1);
	ck_assert_str_eq(m.keyids[0].hash, "sha256:new"); /* the newest Status answer, not the first */
	ck_assert_uint_eq(m.ntransform_fail, 1);
	ck_assert_str_eq(m.transform_fail[0].c, "Internal");
	ck_assert(m.requests.write_codes.total == 100 &&
	          m.requests.write_codes.server_errors == 2); /* GET and dry-run are not writes */
}
END_TEST

START_TEST(metrics_over_a_window)
{
	doc_metrics earlier, later, delta;
	parse_fixture(&earlier);
	later = earlier;
	later.kms_ops[1].value += 2; /* two more Unavailable */
	later.requests.write_codes.total += 10;
	later.transform_fail[0].value = 1; /* went down: the apiserver restarted, counts from 0 */
	doc_metrics_delta(&later, &earlier, &delta);
	ck_assert(delta.kms_ops[0].value == 0 && delta.kms_ops[1].value == 2);
	ck_assert(delta.requests.write_codes.total == 10 && delta.requests.write_codes.server_errors == 0);
	ck_assert(delta.transform_fail[0].value == 1);
	ck_assert(delta.kms_latency[0].total == 0);
	ck_assert_str_eq(delta.config_hash, "sha256:c1");
}
END_TEST

/* Two apiservers with the given config hashes and key_id hashes of provider "p". */
static void two_apiservers(doc_run *run, doc_apiserver *as, rk_plan_node *nodes, const char *hash2,
                           const char *key2)
{
	memset(run, 0, sizeof *run);
	memset(as, 0, 2 * sizeof *as);
	memset(nodes, 0, 2 * sizeof *nodes);
	nodes[0].name = "cp-1", nodes[1].name = "cp-2";
	for (int i = 0; i < 2; i++) {
		as[i].node = &nodes[i];
		snprintf(as[i].metrics.config_hash, DOC_HASH_MAX, "%s", i ? hash2 : "sha256:c1");
		snprintf(as[i].file_hash, DOC_HASH_MAX, "%s", i ? hash2 : "sha256:c1");
		as[i].metrics.nkeyids = 1;
		snprintf(as[i].metrics.keyids[0].provider, DOC_NAME_MAX, "p");
		snprintf(as[i].metrics.keyids[0].hash, DOC_HASH_MAX, "%s", i ? key2 : "sha256:k1");
	}
	run->apiservers = as;
	run->napiservers = 2;
}

static const rk_doctor_finding *find(const rk_doctor_report *r, const char *check)
{
	for (size_t i = 0; i < r->n; i++)
		if (!strcmp(r->findings[i].check, check))
			return &r->findings[i];
	return NULL;
}

START_TEST(agreement_across_apiservers)
{
	doc_run run;
	doc_apiserver as[2];
	rk_plan_node nodes[2];
	rk_doctor_report r;
	memset(&r, 0, sizeof r);
	two_apiservers(&run, as, nodes, "sha256:c1", "sha256:k1");
	run.report = &r;
	doc_check_agreement(&run);
	ck_assert_uint_eq(rk_doctor_count(&r, RK_DOCTOR_CRITICAL), 0);
	ck_assert_str_eq(find(&r, "key-id")->message,
	                 "2 apiservers use the same key_id for kms provider p (sha256:k1)");
	rk_doctor_report_free(&r);

	two_apiservers(&run, as, nodes, "sha256:c2", "sha256:k2");
	snprintf(as[1].file_hash, DOC_HASH_MAX, "sha256:c3"); /* cp-2's file changed, not loaded */
	doc_plugin plugin;
	memset(&plugin, 0, sizeof plugin);
	snprintf(plugin.node, sizeof plugin.node, "cp-1");
	snprintf(plugin.path, sizeof plugin.path, "/run/kms.sock");
	snprintf(plugin.key_id_hash, sizeof plugin.key_id_hash, "sha256:k9");
	plugin.answered_ok = 1;
	run.plugins = &plugin;
	run.nplugins = 1;
	run.report = &r;
	doc_check_agreement(&run);
	const rk_doctor_finding *f = find(&r, "config-hash");
	ck_assert_int_eq(f->severity, RK_DOCTOR_CRITICAL);
	ck_assert_str_eq(f->message,
	                 "the apiservers run different EncryptionConfigurations: cp-1: sha256:c1; "
	                 "cp-2: sha256:c2");
	f = find(&r, "config-file");
	ck_assert(f && f->severity == RK_DOCTOR_WARNING && !strcmp(f->subject, "cp-2"));
	f = find(&r, "key-id");
	ck_assert_int_eq(f->severity, RK_DOCTOR_CRITICAL);
	ck_assert_ptr_nonnull(strstr(f->message, "kms provider p: cp-1: sha256:k1; cp-2: sha256:k2"));
	f = find(&r, "key-id-pickup"); /* the plugin of cp-1 only: cp-2 is not compared with it */
	ck_assert(f && !strcmp(f->subject, "cp-1") && strstr(f->message, "sha256:k9"));
	ck_assert_uint_eq(rk_doctor_count(&r, RK_DOCTOR_WARNING), 2);
	rk_doctor_report_free(&r);
}
END_TEST

START_TEST(findings_sorted_by_severity_stably)
{
	rk_doctor_report r;
	memset(&r, 0, sizeof r);
	doc_add(&r, RK_DOCTOR_OK, "cp-1", "a", "", "first ok");
	doc_add(&r, RK_DOCTOR_CRITICAL, "cp-2", "b", "do x", "critical");
	doc_add(&r, RK_DOCTOR_WARNING, "cp-1", "c", "", "warning\nwith a newline");
	doc_add(&r, RK_DOCTOR_OK, "cp-3", "d", "", "second ok");
	doc_sort(&r);
	ck_assert_str_eq(r.findings[0].message, "critical");
	ck_assert_str_eq(r.findings[1].message, "warning with a newline");
	ck_assert_str_eq(r.findings[2].message, "first ok");
	ck_assert_str_eq(r.findings[3].message, "second ok");
	ck_assert_uint_eq(rk_doctor_count(&r, RK_DOCTOR_OK), 2);
	ck_assert_str_eq(rk_doctor_severity_name(RK_DOCTOR_WARNING), "warning");
	rk_doctor_report_free(&r);
}
END_TEST

Suite *doctor_suite(void)
{
	Suite *s = suite_create("doctor");
	TCase *tc = tcase_create("kms_status");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, missing_socket);
	tcase_add_test(tc, not_a_socket);
	tcase_add_test(tc, stale_socket_refused);
	tcase_add_test(tc, http1_peer_is_not_grpc);
	tcase_add_test(tc, silent_peer_times_out);
	tcase_add_test(tc, key_id_hash_is_sha256_hex);
	suite_add_tcase(s, tc);
	TCase *report = tcase_create("report");
	tcase_add_test(report, metrics_of_one_scrape);
	tcase_add_test(report, metrics_over_a_window);
	tcase_add_test(report, agreement_across_apiservers);
	tcase_add_test(report, findings_sorted_by_severity_stably);
	suite_add_tcase(s, report);
	return s;
}
