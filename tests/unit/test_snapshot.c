/* test_snapshot.c: the bbolt snapshot reader on a real `etcdctl snapshot save` file (etcd 3.4,
 * committed as a fuzz seed): live keys, tombstones, revisions; then corrupted copies of it must fail
 * with RK_BADINPUT and never read out of bounds (ASan). Also the etcd key -> resource mapping. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rekey/etcdscan.h"
#include "rekey/snapshot.h"
#include "testutil.h"

#define FIXTURE "tests/fuzz/corpus/snapshot/etcd-3.4-small.db"
/* Made with: put s1 '{"a":1}'; put s2 aescbc; put s1 aescbc; del s2; put configmaps/a/c1 '{"b":2}'. */

struct seen {
	int n;
	char keys[8][64];
	char values[8][64];
	int64_t mod[8];
};

static int remember(void *ctx, const rk_snap_kv *kv)
{
	struct seen *s = ctx;
	if (s->n < 8) {
		snprintf(s->keys[s->n], sizeof s->keys[0], "%.*s", (int)kv->key_len, (const char *)kv->key);
		snprintf(s->values[s->n], sizeof s->values[0], "%.*s", (int)kv->value_len,
		         (const char *)kv->value);
		s->mod[s->n] = kv->mod_revision;
	}
	s->n++;
	return 0;
}

static uint8_t *fixture(size_t *len)
{
	char *data = tu_read_file(FIXTURE, len);
	ck_assert_msg(data != NULL, "cannot read %s (run from the project root)", FIXTURE);
	return (uint8_t *)data;
}

START_TEST(live_keys_newest_revision_wins)
{
	rk_snapshot *snap = NULL;
	rk_err err;
	ck_assert_msg(rk_snapshot_open(FIXTURE, &snap, &err) == RK_OK, "%s", err.msg);
	struct seen all = {0}, live = {0};
	ck_assert_int_eq(rk_snapshot_each_revision(snap, remember, &all, &err), RK_OK);
	ck_assert_int_eq(all.n, 5); /* 4 puts + 1 tombstone */
	ck_assert_int_eq(rk_snapshot_each_live(snap, "/registry/", remember, &live, &err), RK_OK);
	ck_assert_int_eq(live.n, 2);
	ck_assert_str_eq(live.keys[0], "/registry/secrets/a/s1");
	ck_assert_msg(!strncmp(live.values[0], "k8s:enc:aescbc:v1:k1:", 21), "%s", live.values[0]);
	ck_assert_str_eq(live.keys[1], "/registry/configmaps/a/c1");
	ck_assert_int_gt(live.mod[1], live.mod[0]);
	struct seen secrets = {0};
	ck_assert_int_eq(rk_snapshot_each_live(snap, "/registry/secrets/", remember, &secrets, &err), RK_OK);
	ck_assert_int_eq(secrets.n, 1);
	rk_snapshot_stats st;
	rk_snapshot_get_stats(snap, &st);
	ck_assert_int_eq(st.page_size, 4096);
	ck_assert_int_eq(st.has_sha256_trailer, 1);
	ck_assert_uint_gt(st.table_bytes, 0);
	rk_snapshot_close(snap);
}
END_TEST

static int open_walk(const uint8_t *data, size_t len, rk_err *err)
{
	uint8_t *copy = malloc(len ? len : 1); /* exact size: ASan catches overruns */
	memcpy(copy, data, len);
	rk_snapshot *snap = NULL;
	struct seen s = {0};
	int rc = rk_snapshot_open_mem(copy, len, "mutant", &snap, err);
	if (rc == RK_OK) {
		rc = rk_snapshot_each_live(snap, "", remember, &s, err);
		rk_snapshot_close(snap);
	}
	free(copy);
	return rc;
}

START_TEST(trailer_mismatch_and_truncation_fail)
{
	size_t len;
	uint8_t *data = fixture(&len);
	rk_err err;
	data[8192 + 100] ^= 0x55; /* any byte: the sha256 trailer no longer matches */
	ck_assert_int_eq(open_walk(data, len, &err), RK_BADINPUT);
	ck_assert_msg(strstr(err.msg, "sha256 trailer"), "%s", err.msg);
	data[8192 + 100] ^= 0x55;
	for (size_t cut = 0; cut < len - 32; cut += 4096) {
		ck_assert_int_eq(open_walk(data, cut, &err), RK_BADINPUT);
		ck_assert_msg(strstr(err.msg, "mutant: "), "%s", err.msg);
	}
	free(data);
}
END_TEST

START_TEST(both_meta_pages_bad_fails)
{
	size_t len;
	uint8_t *data = fixture(&len);
	rk_err err;
	len -= 32; /* drop the trailer so the meta checksums are what fails */
	data[16 + 30] ^= 1;
	ck_assert_int_eq(open_walk(data, len, &err), RK_OK); /* meta 1 still valid */
	data[4096 + 16 + 30] ^= 1;
	ck_assert_int_eq(open_walk(data, len, &err), RK_BADINPUT);
	ck_assert_msg(strstr(err.msg, "no valid bbolt meta page"), "%s", err.msg);
	free(data);
}
END_TEST

START_TEST(mutated_pages_never_crash)
{
	size_t len;
	uint8_t *data = fixture(&len);
	len -= 32;
	static const uint8_t values[] = {0x00, 0xff, 0x7f, 0x10, 0x02, 0x01};
	int failures = 0, total = 0;
	for (size_t off = 8192; off < len; off += 3) { /* every page after the metas */
		uint8_t saved = data[off];
		data[off] = values[off % sizeof values];
		rk_err err;
		int rc = open_walk(data, len, &err);
		ck_assert_msg(rc == RK_OK || rc == RK_BADINPUT, "offset %zu: rc %d", off, rc);
		failures += rc == RK_BADINPUT;
		total++;
		data[off] = saved;
	}
	ck_assert_int_gt(failures, 0);
	ck_assert_int_gt(total, 1000);
	free(data);
}
END_TEST

START_TEST(not_a_snapshot_fails)
{
	rk_err err;
	uint8_t junk[8192];
	for (size_t i = 0; i < sizeof junk; i++)
		junk[i] = (uint8_t)(i * 131 + 7);
	ck_assert_int_eq(open_walk(junk, sizeof junk, &err), RK_BADINPUT);
	ck_assert_msg(strstr(err.msg, "not an etcd snapshot"), "%s", err.msg);
	ck_assert_int_eq(open_walk(junk, 0, &err), RK_BADINPUT);
	rk_snapshot *snap = NULL;
	ck_assert_int_eq(rk_snapshot_open("/nonexistent/snap.db", &snap, &err), RK_BADINPUT);
	ck_assert_ptr_nonnull(strstr(err.msg, "/nonexistent/snap.db: "));
}
END_TEST

START_TEST(etcd_key_to_resource)
{
	char res[64], grp[64];
	const char *p = "/registry/";
#define MAP(key, r, g)                                                                                       \
	do {                                                                                                 \
		ck_assert_int_eq(rk_etcd_key_resource(p, (const uint8_t *)key, strlen(key), res, sizeof res, \
		                                      grp, sizeof grp),                                      \
		                 0);                                                                         \
		ck_assert_str_eq(res, r);                                                                    \
		ck_assert_str_eq(grp, g);                                                                    \
	} while (0)
	MAP("/registry/secrets/default/s1", "secrets", "");
	MAP("/registry/namespaces/default", "namespaces", "");
	MAP("/registry/deployments/default/web", "deployments", "apps");
	MAP("/registry/example.com/widgets/ns/w1", "widgets", "example.com");
	MAP("/registry/minions/node-1", "nodes", "");
	MAP("/registry/services/endpoints/default/kubernetes", "endpoints", "");
	MAP("/registry/services/specs/default/kubernetes", "services", "");
	/* every built-in group resource sits under /registry/<resource> (kube-apiserver v1.34) */
	MAP("/registry/controllers/default/rc", "replicationcontrollers", "");
	MAP("/registry/ingress/default/web", "ingresses", "networking.k8s.io");
	MAP("/registry/flowschemas/exempt", "flowschemas", "flowcontrol.apiserver.k8s.io");
	MAP("/registry/validatingadmissionpolicies/p", "validatingadmissionpolicies",
	    "admissionregistration.k8s.io");
	MAP("/registry/servicecidrs/kubernetes", "servicecidrs", "networking.k8s.io");
	MAP("/registry/clusterroles/admin", "clusterroles", "rbac.authorization.k8s.io");
	MAP("/registry/apiregistration.k8s.io/apiservices/v1.apps", "apiservices", "apiregistration.k8s.io");
	MAP("/registry/apiextensions.k8s.io/customresourcedefinitions/w.example.com",
	    "customresourcedefinitions", "apiextensions.k8s.io");
	MAP("/registry/masterleases/127.0.0.1", "masterleases", "");
	ck_assert(rk_etcd_never_encrypted("masterleases", ""));
	ck_assert(rk_etcd_never_encrypted("ranges", ""));
	ck_assert(!rk_etcd_never_encrypted("services", ""));
	ck_assert(!rk_etcd_never_encrypted("ranges", "example.com"));
	ck_assert_int_eq(
	    rk_etcd_key_resource(p, (const uint8_t *)"/other/x", 8, res, sizeof res, grp, sizeof grp), -1);
	ck_assert_int_eq(
	    rk_etcd_key_resource(p, (const uint8_t *)"/registry/", 10, res, sizeof res, grp, sizeof grp), -1);
#undef MAP
}
END_TEST

Suite *snapshot_suite(void)
{
	Suite *s = suite_create("snapshot");
	TCase *tc = tcase_create("core");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, live_keys_newest_revision_wins);
	tcase_add_test(tc, trailer_mismatch_and_truncation_fail);
	tcase_add_test(tc, both_meta_pages_bad_fails);
	tcase_add_test(tc, mutated_pages_never_crash);
	tcase_add_test(tc, not_a_snapshot_fails);
	tcase_add_test(tc, etcd_key_to_resource);
	suite_add_tcase(s, tc);
	return s;
}
