/* test_kms_events.c: `rekeyctl history` records kms providers' key events (rot_key_event,
 * rot_kms_key_event) in a real state db: provider "kms", no fingerprint, the key_id when known (a KEK
 * rotation's target, else the last one history holds under that name), next to the local keys' events
 * with their fingerprints. The plugin-Status source needs a running plugin: that path runs in the real
 * control plane's KMS scenarios. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../src/rotation/rotation_setup_internal.h"
#include "rekey/store.h"
#include "testutil.h"

static const char config_yaml[] = "apiVersion: apiserver.config.k8s.io/v1\n"
                                  "kind: EncryptionConfiguration\n"
                                  "resources:\n"
                                  "  - resources: [secrets]\n"
                                  "    providers:\n"
                                  "      - aescbc:\n"
                                  "          keys:\n"
                                  "            - name: aescbc-new\n"
                                  "              secret: YWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWE=\n"
                                  "      - kms:\n"
                                  "          apiVersion: v2\n"
                                  "          name: kms-a\n"
                                  "          endpoint: unix:///nonexistent/kms.sock\n"
                                  "      - identity: {}\n";

struct fixture {
	char *dir;
	rk_plan plan;
	rot_ctx ctx;
};

/* A run's context with the config above as its read config and a fresh state db; the plan names kms-a
 * without an endpoint (no Status asked). */
static void fixture_open(struct fixture *f)
{
	rk_err err;
	memset(f, 0, sizeof *f);
	f->dir = tu_mkdtemp();
	f->plan.cluster = "prod";
	f->plan.kms.provider.name = "kms-a";
	f->ctx.plan = &f->plan;
	ck_assert_int_eq(rk_store_open(f->dir, &f->ctx.store, &err), RK_OK);
	ck_assert_int_eq(rk_buf_append(&f->ctx.cfgs.bytes[ROT_CFG_READ], config_yaml, strlen(config_yaml)),
	                 0);
}

/* The same, history already holding a key_id for kms-a: an earlier KEK rotation's kek-1. */
static void fixture_open_with_kek_1(struct fixture *f)
{
	rk_err err;
	fixture_open(f);
	ck_assert_int_eq(rk_store_kms_key_event_add(f->ctx.store, "prod", "kms-a", "kek-1", "promoted", &err),
	                 RK_OK);
}

static void fixture_close(struct fixture *f)
{
	rk_buf_free(&f->ctx.cfgs.bytes[ROT_CFG_READ]);
	rk_store_close(f->ctx.store);
	tu_rmtree(f->dir);
	free(f->dir);
}

struct text {
	char text[1024];
};

static int collect(const rk_key_event *ev, void *ud)
{
	struct text *t = ud;
	snprintf(t->text + strlen(t->text), sizeof t->text - strlen(t->text), "%s/%s/%s/%s/[%s];",
	         ev->key_name, ev->provider, ev->fingerprint[0] ? "fp" : "-", ev->event, ev->key_id);
	return 0;
}

static void assert_history(struct fixture *f, const char *want)
{
	struct text t = {""};
	rk_err err;
	ck_assert_int_eq(rk_store_key_event_list(f->ctx.store, "prod", collect, &t, &err), RK_OK);
	ck_assert_str_eq(t.text, want);
}

/* kms -> aescbc: the pruned kms provider is recorded (it recorded nothing before), with the key_id an
 * earlier KEK rotation left in history; the promoted aescbc key keeps its fingerprint. */
START_TEST(kms_provider_pruned_with_its_last_key_id)
{
	struct fixture f;
	fixture_open_with_kek_1(&f);
	rot_key_event(&f.ctx, "aescbc-new", "promoted");
	rot_key_event(&f.ctx, "kms-a", "pruned");
	rot_key_event(&f.ctx, "not-in-any-config", "pruned");
	assert_history(&f, "kms-a/kms/-/promoted/[kek-1];aescbc-new/aescbc/fp/promoted/[];"
	                   "kms-a/kms/-/pruned/[kek-1];");
	fixture_close(&f);
}
END_TEST

/* A rotation to kms with no key_id known (no KEK target, no plugin on the plan's socket path, nothing in
 * history): the events are recorded all the same. */
START_TEST(kms_provider_promoted_without_a_key_id)
{
	struct fixture f;
	fixture_open(&f);
	f.plan.kms.provider.endpoint = "unix:///nonexistent/kms.sock";
	rot_key_event(&f.ctx, "kms-a", "read-everywhere");
	rot_key_event(&f.ctx, "kms-a", "promoted");
	assert_history(&f, "kms-a/kms/-/read-everywhere/[];kms-a/kms/-/promoted/[];");
	fixture_close(&f);
}
END_TEST

/* A KEK rotation: its target key_id, even when history holds an older one. */
START_TEST(kek_rotation_records_its_target_key_id)
{
	struct fixture f;
	fixture_open_with_kek_1(&f);
	snprintf(f.ctx.kek_key_id, sizeof f.ctx.kek_key_id, "kek-2");
	rot_kms_key_event(&f.ctx, "kms-a", "promoted");
	rot_kms_key_event(&f.ctx, "kms-a", "rewrite-done");
	assert_history(&f, "kms-a/kms/-/promoted/[kek-1];kms-a/kms/-/promoted/[kek-2];"
	                   "kms-a/kms/-/rewrite-done/[kek-2];");
	fixture_close(&f);
}
END_TEST

Suite *kms_events_suite(void)
{
	Suite *s = suite_create("kms_events");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, kms_provider_pruned_with_its_last_key_id);
	tcase_add_test(tc, kms_provider_promoted_without_a_key_id);
	tcase_add_test(tc, kek_rotation_records_its_target_key_id);
	suite_add_tcase(s, tc);
	return s;
}
