/* test_transport.c: local and exec transports: atomic config writes, manifest bumps, hook contract
 * (key material only in a 0600 file, never in argv or the environment). */
#include <check.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "rekey/child.h"
#include "rekey/clock.h"
#include "rekey/manifest.h"
#include "rekey/plan.h"
#include "rekey/transport.h"
#include "testutil.h"

static const char *config_v1 = "apiVersion: apiserver.config.k8s.io/v1\nkind: EncryptionConfiguration\n"
                               "resources: [{resources: [secrets], providers: [{identity: {}}]}]\n";
static const char *secret_marker = "c2VjcmV0LWtleS1tYXRlcmlhbC0wMDAwMDAwMDAwMDA=";

static rk_plan *load_plan(const char *dir, const char *extra_cp)
{
	char *text = NULL;
	ck_assert_int_ge(
	    asprintf(&text,
	             "apiVersion: rekeyctl/v1\nkind: RotationPlan\ncluster: t\nprovider: aescbc\n"
	             "controlPlane:\n  configPath: %s/enc.yaml\n  manifestPath: %s/kube-apiserver.yaml\n%s"
	             "  nodes: [{name: cp-1, host: 127.0.0.1, apiserver: 'https://127.0.0.1:1'}]\n",
	             dir, dir, extra_cp),
	    0);
	rk_plan *plan = NULL;
	rk_err err;
	rk_err_clear(&err);
	ck_assert_msg(rk_plan_load_buf(text, strlen(text), "plan.yaml", &plan, &err) == RK_OK, "%s", err.msg);
	free(text);
	return plan;
}

static rk_transport *open_transport(const rk_plan *plan)
{
	rk_transport *t = NULL;
	rk_err err;
	ck_assert_int_eq(rk_transport_new(plan, &t, &err), RK_OK);
	return t;
}

static void close_all(rk_transport *t, rk_plan *plan, char *dir)
{
	rk_transport_free(t);
	rk_plan_free(plan);
	tu_rmtree(dir);
	free(dir);
}

START_TEST(local_write_and_restart_pickup)
{
	char *dir = tu_mkdtemp();
	rk_plan *plan = load_plan(dir, "");
	char *enc = tu_path(dir, "enc.yaml"), *manifest = tu_path(dir, "kube-apiserver.yaml");
	ck_assert_int_eq(tu_write_file(enc, "old", 3), 0);
	const char *pod = "apiVersion: v1\nkind: Pod\nmetadata: {name: kube-apiserver}\nspec: {}\n";
	ck_assert_int_eq(tu_write_file(manifest, pod, strlen(pod)), 0);
	rk_transport *t = NULL;
	rk_err err;
	ck_assert_int_eq(rk_transport_new(plan, &t, &err), RK_OK);
	ck_assert_int_eq(rk_transport_write_config(t, &plan->nodes[0], config_v1, strlen(config_v1), &err),
	                 RK_OK);
	size_t len = 0;
	char *now = tu_read_file(enc, &len);
	ck_assert_str_eq(now, config_v1);
	struct stat st;
	ck_assert_int_eq(stat(enc, &st), 0);
	ck_assert_int_eq(st.st_mode & 0777, 0600);
	char *read_back = NULL;
	ck_assert_int_eq(rk_transport_read_config(t, &plan->nodes[0], &read_back, &len, &err), RK_OK);
	ck_assert_str_eq(read_back, config_v1);

	ck_assert_int_eq(rk_transport_pickup(t, &plan->nodes[0], "sha256:abc", &err), RK_OK);
	char *bumped = tu_read_file(manifest, &len), *value = NULL;
	ck_assert_int_eq(
	    rk_manifest_get_annotation(bumped, len, "m", RK_MANIFEST_HASH_ANNOTATION, &value, &err), RK_OK);
	ck_assert_str_eq(value, "sha256:abc");
	/* no backup or temp file may sit next to the manifest: the kubelet would run it as a pod */
	char *bak = tu_path(dir, "kube-apiserver.yaml.bak");
	ck_assert_int_ne(access(bak, F_OK), 0);
	free(now), free(read_back), free(bumped), free(value), free(bak), free(enc), free(manifest);
	rk_transport_free(t);
	rk_plan_free(plan);
	tu_rmtree(dir);
	free(dir);
}
END_TEST

START_TEST(exec_hooks_get_a_private_file_not_the_key)
{
	char *dir = tu_mkdtemp();
	char *extra = NULL;
	/* The write hook records its file's mode, copies it, and dumps its argv and environment. */
	ck_assert_int_ge(
	    asprintf(&extra,
	             "  access: exec\n  exec:\n"
	             "    read: 'exit 0'\n"
	             "    write: 'stat -c %%a \"$RK_CONFIG_FILE\" > %s/mode; cp \"$RK_CONFIG_FILE\" %s/got; "
	             "env > %s/env; echo \"$0 $*\" > %s/argv'\n"
	             "    restart: 'echo \"$RK_NODE $RK_CONFIG_HASH\" > %s/restarted'\n",
	             dir, dir, dir, dir, dir),
	    0);
	rk_plan *plan = load_plan(dir, extra);
	rk_transport *t = NULL;
	rk_err err;
	ck_assert_int_eq(rk_transport_new(plan, &t, &err), RK_OK);
	char *config = NULL;
	ck_assert_int_ge(asprintf(&config, "%s# key %s\n", config_v1, secret_marker), 0);
	ck_assert_int_eq(rk_transport_write_config(t, &plan->nodes[0], config, strlen(config), &err), RK_OK);
	char *p = tu_path(dir, "mode"), *mode = tu_read_file(p, NULL);
	ck_assert_str_eq(mode, "600\n");
	free(p);
	p = tu_path(dir, "got");
	char *got = tu_read_file(p, NULL);
	ck_assert_str_eq(got, config);
	free(p);
	p = tu_path(dir, "env");
	char *env = tu_read_file(p, NULL);
	ck_assert_ptr_null(strstr(env, secret_marker));
	ck_assert_ptr_nonnull(strstr(env, "RK_NODE=cp-1"));
	free(p);
	p = tu_path(dir, "argv");
	char *argv = tu_read_file(p, NULL);
	ck_assert_ptr_null(strstr(argv, secret_marker));
	free(p);
	ck_assert_int_eq(rk_transport_pickup(t, &plan->nodes[0], "sha256:77", &err), RK_OK);
	p = tu_path(dir, "restarted");
	char *restarted = tu_read_file(p, NULL);
	ck_assert_str_eq(restarted, "cp-1 sha256:77\n");
	free(p), free(mode), free(got), free(env), free(argv), free(restarted), free(config), free(extra);
	rk_transport_free(t);
	rk_plan_free(plan);
	tu_rmtree(dir);
	free(dir);
}
END_TEST

START_TEST(failing_hook_is_an_error_naming_the_node)
{
	char *dir = tu_mkdtemp();
	rk_plan *plan = load_plan(dir, "  access: exec\n  exec: {read: 'exit 0', write: 'exit 7'}\n");
	rk_transport *t = open_transport(plan);
	rk_err err;
	rk_err_clear(&err);
	ck_assert_int_eq(rk_transport_write_config(t, &plan->nodes[0], "x", 1, &err), RK_FAIL);
	ck_assert_ptr_nonnull(strstr(err.msg, "node cp-1"));
	ck_assert_ptr_nonnull(strstr(err.msg, "exit 7"));
	close_all(t, plan, dir);
}
END_TEST

START_TEST(exec_read_hook_fills_a_private_file)
{
	char *dir = tu_mkdtemp(), *extra = NULL;
	char *node_copy = tu_path(dir, "node-enc.yaml");
	ck_assert_int_eq(tu_write_file(node_copy, config_v1, strlen(config_v1)), 0);
	/* the hook reads "the node's" file and records what it was told and the mode of its target */
	ck_assert_int_ge(asprintf(&extra,
	                          "  access: exec\n  exec:\n"
	                          "    read: 'stat -c %%a \"$RK_CONFIG_FILE\" > %s/mode; echo \"$RK_NODE "
	                          "$RK_CONFIG_PATH\" > %s/told; cp %s \"$RK_CONFIG_FILE\"'\n"
	                          "    write: 'exit 0'\n",
	                          dir, dir, node_copy),
	                 0);
	rk_plan *plan = load_plan(dir, extra);
	rk_transport *t = open_transport(plan);
	rk_err err;
	char *data = NULL;
	size_t len = 0;
	ck_assert_msg(rk_transport_read_config(t, &plan->nodes[0], &data, &len, &err) == RK_OK, "%s",
	              err.msg);
	ck_assert_uint_eq(len, strlen(config_v1));
	ck_assert_str_eq(data, config_v1);
	char *p = tu_path(dir, "mode"), *mode = tu_read_file(p, NULL);
	ck_assert_str_eq(mode, "600\n");
	free(p);
	p = tu_path(dir, "told");
	char *told = tu_read_file(p, NULL), *want = NULL;
	ck_assert_int_ge(asprintf(&want, "cp-1 %s/enc.yaml\n", dir), 0);
	ck_assert_str_eq(told, want);
	free(p), free(mode), free(told), free(want), free(data), free(extra), free(node_copy);
	close_all(t, plan, dir);
}
END_TEST

START_TEST(exec_read_hook_that_writes_nothing_fails)
{
	char *dir = tu_mkdtemp();
	rk_plan *plan = load_plan(dir, "  access: exec\n  exec: {read: 'true', write: 'true'}\n");
	rk_transport *t = open_transport(plan);
	rk_err err;
	char *data = NULL;
	size_t len = 0;
	ck_assert_int_eq(rk_transport_read_config(t, &plan->nodes[0], &data, &len, &err), RK_FAIL);
	ck_assert_ptr_nonnull(strstr(err.msg, "read hook for node cp-1 wrote nothing"));
	ck_assert_ptr_null(data);
	close_all(t, plan, dir);
}
END_TEST

START_TEST(hook_past_its_timeout_is_killed_with_its_group)
{
	char *dir = tu_mkdtemp(), *extra = NULL;
	/* the hook starts a grandchild and waits for it: both must die at the timeout */
	ck_assert_int_ge(asprintf(&extra,
	                          "  access: exec\n  exec:\n    read: 'true'\n    timeout: 1s\n"
	                          "    write: 'sleep 30 & echo $! > %s/grandchild; wait'\n",
	                          dir),
	                 0);
	rk_plan *plan = load_plan(dir, extra);
	ck_assert_int_eq(plan->exec.timeout_ms, 1000);
	rk_transport *t = open_transport(plan);
	rk_err err;
	int64_t start = rk_monotonic_ns();
	ck_assert_int_eq(rk_transport_write_config(t, &plan->nodes[0], "x", 1, &err), RK_FAIL);
	int64_t took_ms = (rk_monotonic_ns() - start) / RK_NS_PER_MS;
	ck_assert_msg(took_ms >= 1000 && took_ms < 1000 + RK_CHILD_GRACE_MS + 1000, "took %lld ms",
	              (long long)took_ms);
	ck_assert_ptr_nonnull(strstr(err.msg, "write hook for node cp-1 did not finish within 1s"));
	ck_assert_ptr_nonnull(strstr(err.msg, "process group was killed"));
	char *p = tu_path(dir, "grandchild"), *text = tu_read_file(p, NULL);
	ck_assert_ptr_nonnull(text);
	pid_t grandchild = (pid_t)atoi(text);
	ck_assert_int_gt(grandchild, 0);
	for (int i = 0; i < 200 && tu_process_running(grandchild);
	     i++) /* SIGKILL is sent; the kernel needs a moment */
		usleep(5000);
	ck_assert_msg(!tu_process_running(grandchild), "grandchild %d still runs", (int)grandchild);
	free(p), free(text), free(extra);
	close_all(t, plan, dir);
}
END_TEST

START_TEST(hook_that_cannot_be_waited_for_fails_instead_of_spinning)
{
	char *dir = tu_mkdtemp();
	rk_plan *plan = load_plan(dir, "  access: exec\n  exec: {read: 'true', write: 'exit 0'}\n");
	rk_transport *t = open_transport(plan);
	rk_err err;
	/* SIGCHLD ignored: the kernel reaps the hook itself and waitpid answers ECHILD (before the fix,
	 * the wait loop spun on it forever and Check's timeout ended the test) */
	signal(SIGCHLD, SIG_IGN);
	ck_assert_int_eq(rk_transport_write_config(t, &plan->nodes[0], "x", 1, &err), RK_FAIL);
	signal(SIGCHLD, SIG_DFL);
	ck_assert_msg(strstr(err.msg, "cannot wait for it") && strstr(err.msg, "outcome is unknown"), "%s",
	              err.msg);
	close_all(t, plan, dir);
}
END_TEST

Suite *transport_suite(void)
{
	Suite *s = suite_create("transport");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, local_write_and_restart_pickup);
	tcase_add_test(tc, exec_hooks_get_a_private_file_not_the_key);
	tcase_add_test(tc, failing_hook_is_an_error_naming_the_node);
	tcase_add_test(tc, exec_read_hook_fills_a_private_file);
	tcase_add_test(tc, exec_read_hook_that_writes_nothing_fails);
	tcase_add_test(tc, hook_past_its_timeout_is_killed_with_its_group);
	tcase_add_test(tc, hook_that_cannot_be_waited_for_fails_instead_of_spinning);
	suite_add_tcase(s, tc);
	return s;
}
