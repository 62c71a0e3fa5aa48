/* test_transport.c: local and exec transports: atomic config writes, manifest bumps, hook contract
 * (key material only in a 0600 file, never in argv or the environment). */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

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
	rk_plan *plan = load_plan(dir, "  access: exec\n  exec: {write: 'exit 7'}\n");
	rk_transport *t = NULL;
	rk_err err;
	rk_err_clear(&err);
	ck_assert_int_eq(rk_transport_new(plan, &t, &err), RK_OK);
	ck_assert_int_eq(rk_transport_write_config(t, &plan->nodes[0], "x", 1, &err), RK_FAIL);
	ck_assert_ptr_nonnull(strstr(err.msg, "node cp-1"));
	ck_assert_ptr_nonnull(strstr(err.msg, "exit 7"));
	rk_transport_free(t);
	rk_plan_free(plan);
	tu_rmtree(dir);
	free(dir);
}
END_TEST

Suite *transport_suite(void)
{
	Suite *s = suite_create("transport");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, local_write_and_restart_pickup);
	tcase_add_test(tc, exec_hooks_get_a_private_file_not_the_key);
	tcase_add_test(tc, failing_hook_is_an_error_naming_the_node);
	suite_add_tcase(s, tc);
	return s;
}
