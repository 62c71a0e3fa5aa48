/* test_manifest.c: setting the config-hash annotation of a static-pod manifest. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "rekey/manifest.h"

static const char *pod =
    "# kubeadm static pod\n"
    "apiVersion: v1\n"
    "kind: Pod\n"
    "metadata:\n"
    "  name: kube-apiserver\n"
    "  namespace: kube-system\n"
    "spec:\n"
    "  containers:\n"
    "  - name: kube-apiserver\n"
    "    command: [kube-apiserver, --encryption-provider-config=/etc/kubernetes/enc/enc.yaml]\n";

static char *get(const char *text, const char *annotation)
{
	char *value = NULL;
	rk_err err;
	ck_assert_int_eq(rk_manifest_get_annotation(text, strlen(text), "m.yaml", annotation, &value, &err),
	                 RK_OK);
	return value;
}

static char *set(const char *text, const char *annotation, const char *value)
{
	char *out = NULL;
	size_t len = 0;
	rk_err err;
	rk_err_clear(&err);
	int rc =
	    rk_manifest_set_annotation(text, strlen(text), "m.yaml", annotation, value, &out, &len, &err);
	ck_assert_msg(rc == RK_OK, "%s", err.msg);
	ck_assert_uint_eq(strlen(out), len);
	return out;
}

START_TEST(adds_then_replaces_annotation)
{
	ck_assert_ptr_null(get(pod, RK_MANIFEST_HASH_ANNOTATION));
	char *once = set(pod, RK_MANIFEST_HASH_ANNOTATION, "sha256:aa");
	char *value = get(once, RK_MANIFEST_HASH_ANNOTATION);
	ck_assert_str_eq(value, "sha256:aa");
	free(value);
	char *twice = set(once, RK_MANIFEST_HASH_ANNOTATION, "sha256:bb");
	value = get(twice, RK_MANIFEST_HASH_ANNOTATION);
	ck_assert_str_eq(value, "sha256:bb");
	free(value);
	ck_assert_ptr_null(strstr(twice, "sha256:aa"));
	ck_assert_ptr_nonnull(strstr(twice, "--encryption-provider-config=/etc/kubernetes/enc/enc.yaml"));
	ck_assert_ptr_nonnull(strstr(twice, "namespace: kube-system"));
	char *other = set(twice, "example.com/x", "1");
	value = get(other, RK_MANIFEST_HASH_ANNOTATION);
	ck_assert_str_eq(value, "sha256:bb");
	free(value);
	free(once);
	free(twice);
	free(other);
}
END_TEST

START_TEST(rejects_non_pod_documents)
{
	const char *bad[] = {"- a\n- b\n", "metadata: 3\n", "kind: Pod\n", "metadata: {annotations: [1]}\n",
	                     "a: [\n"};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		char *out = NULL;
		size_t len;
		rk_err err;
		rk_err_clear(&err);
		int rc =
		    rk_manifest_set_annotation(bad[i], strlen(bad[i]), "m.yaml", "a", "b", &out, &len, &err);
		ck_assert_msg(rc == RK_BADINPUT, "case %zu accepted", i);
		ck_assert_ptr_null(out);
		ck_assert_msg(!strncmp(err.msg, "m.yaml:", 7), "%s", err.msg);
	}
}
END_TEST

Suite *manifest_suite(void)
{
	Suite *s = suite_create("manifest");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, adds_then_replaces_annotation);
	tcase_add_test(tc, rejects_non_pod_documents);
	suite_add_tcase(s, tc);
	return s;
}
