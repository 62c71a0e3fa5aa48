/* test_plan.c: the rotation plan loader: a full plan, defaults, and every bad input with file:line. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "rekey/buf.h"
#include "rekey/duration.h"
#include "rekey/plan.h"
#include "rekey/yamldoc.h"

static const char *good_plan =
    "apiVersion: rekeyctl/v1\n"
    "kind: RotationPlan\n"
    "cluster: prod-eu-1\n"
    "kubeconfig: /tmp/kubeconfig\n"
    "context: prod\n"
    "resources: [secrets, configmaps]\n"
    "provider: aesgcm\n"
    "controlPlane:\n"
    "  configPath: /etc/kubernetes/enc/enc.yaml\n"
    "  manifestPath: /etc/kubernetes/manifests/kube-apiserver.yaml\n"
    "  access: local\n"
    "  reload: automatic\n"
    "  canary: cp-2\n"
    "  nodes:\n"
    "    - {name: cp-1, host: 10.0.0.11, apiserver: \"https://10.0.0.11:6443\"}\n"
    "    - {name: cp-2, host: 10.0.0.12, apiserver: \"https://10.0.0.12:6443\", configPath: /x/enc.yaml}\n"
    "rewrite: {qps: 150, burst: 300, concurrency: 16, pageSize: 250, batchSize: 100, batchPause: 2s}\n"
    "budget: {writeP99: 250ms, errorRatio: 0.02, window: 30s, soak: 10s, onBreach: pause, throttledRatio: "
    "0.1,\n"
    "         minRequests: 50, preflightWindow: 2m, scrapeInterval: 2s}\n"
    "window:\n"
    "  - {days: [sat, sun], start: \"01:00\", end: \"05:00\", timezone: UTC}\n"
    "  - {start: \"22:00\", end: \"02:00\", timezone: Europe/Berlin}\n";

static rk_plan *load_ok(const char *text)
{
	rk_plan *plan = NULL;
	rk_err err;
	rk_err_clear(&err);
	int rc = rk_plan_load_buf(text, strlen(text), "plan.yaml", &plan, &err);
	ck_assert_msg(rc == RK_OK, "unexpected error: %s", err.msg);
	return plan;
}

START_TEST(full_plan_loads)
{
	rk_plan *plan = load_ok(good_plan);
	ck_assert_str_eq(plan->cluster, "prod-eu-1");
	ck_assert_uint_eq(plan->nresources, 2);
	ck_assert_str_eq(plan->resources[1], "configmaps");
	ck_assert_int_eq(plan->provider, RK_PROV_AESGCM);
	ck_assert_int_eq(plan->reload, RK_RELOAD_AUTOMATIC);
	ck_assert_str_eq(plan->canary, "cp-2");
	ck_assert_uint_eq(plan->nnodes, 2);
	ck_assert_str_eq(rk_plan_node_config_path(plan, &plan->nodes[0]), "/etc/kubernetes/enc/enc.yaml");
	ck_assert_str_eq(rk_plan_node_config_path(plan, &plan->nodes[1]), "/x/enc.yaml");
	ck_assert_str_eq(plan->nodes[0].config_path, "/etc/kubernetes/enc/enc.yaml"); /* resolved at load */
	ck_assert(plan->rewrite.qps == 150);
	ck_assert_int_eq(plan->rewrite.batch_pause_ms, 2000);
	ck_assert_int_eq(plan->rewrite.budget_p99_ms, 250);
	ck_assert_int_eq(plan->rewrite.on_breach, 1); /* pause */
	ck_assert(plan->rewrite.budget_throttled == 0.1);
	ck_assert_int_eq(plan->rewrite.budget_min_requests, 50);
	ck_assert_int_eq(plan->preflight_window_ms, 120000);
	ck_assert_int_eq(plan->rewrite.scrape_ms, 2000);
	ck_assert_uint_eq(plan->nwindows, 2);
	ck_assert_uint_eq(plan->windows[0].days_mask, (1u << 0) | (1u << 6));
	ck_assert_uint_eq(plan->windows[1].days_mask, 0x7f);
	rk_plan_free(plan);
}
END_TEST

START_TEST(defaults_apply)
{
	rk_plan *plan =
	    load_ok("apiVersion: rekeyctl/v1\nkind: RotationPlan\ncluster: c\nprovider: aescbc\n"
	            "controlPlane:\n  configPath: /e.yaml\n  nodes: [{name: a, apiserver: 'https://h:1'}]\n");
	ck_assert_uint_eq(plan->nresources, 1);
	ck_assert_str_eq(plan->resources[0], "secrets");
	ck_assert_str_eq(plan->canary, "a");
	ck_assert_int_eq(plan->access, RK_ACCESS_LOCAL);
	ck_assert_int_eq(plan->reload, RK_RELOAD_RESTART);
	ck_assert(plan->rewrite.qps == 100);
	ck_assert_int_eq(plan->rewrite.concurrency, 8);
	ck_assert_int_eq(plan->rewrite.budget_window_ms, 60000);
	ck_assert_int_eq(plan->rewrite.on_breach, 0); /* slowdown */
	ck_assert_int_eq(plan->preflight_window_ms, 60000);
	ck_assert_int_eq(plan->rewrite.budget_min_requests, 20);
	ck_assert_int_eq(plan->rewrite.scrape_ms, 5000); /* a rotation's rewrite reads /metrics by default */
	ck_assert(rk_rewrite_settings_throttled(&plan->rewrite) == 0.01); /* the error ratio budget */
	ck_assert_int_eq(rk_plan_in_window(plan, 0, NULL), 1);
	rk_plan_free(plan);
}
END_TEST

static const char *plan_head = "apiVersion: rekeyctl/v1\nkind: RotationPlan\ncluster: c\nprovider: aescbc\n";
static const char *kms_head = "apiVersion: rekeyctl/v1\nkind: RotationPlan\ncluster: c\nprovider: kms\n";
static const char *plan_cp =
    "controlPlane:\n  configPath: /e.yaml\n  nodes: [{name: a, apiserver: 'https://h:1'}]\n";

/* A rotation's rewrite spreads over every node's apiserver, however many (it kept only the first 32): 40
 * nodes give 40 URLs in plan order; a URL two nodes share is given once. */
START_TEST(apiservers_every_node)
{
	rk_buf b = RK_BUF_INIT;
	rk_buf_append_str(&b, plan_head);
	rk_buf_append_str(&b, "controlPlane:\n  configPath: /e.yaml\n  nodes:\n");
	for (int i = 1; i <= 40; i++)
		rk_buf_printf(&b, "  - {name: n%d, apiserver: 'https://10.0.0.%d:6443'}\n", i, i);
	rk_buf_append_str(&b, "  - {name: again, apiserver: 'https://10.0.0.7:6443'}\n");
	rk_plan *plan = NULL;
	rk_err err;
	ck_assert_msg(rk_plan_load_buf(rk_buf_cstr(&b), b.len, "plan.yaml", &plan, &err) == RK_OK, "%s",
	              err.msg);
	ck_assert_uint_eq(plan->nnodes, 41);
	size_t n = 0;
	const char **urls = rk_plan_apiservers(plan, &n);
	ck_assert_ptr_nonnull(urls);
	ck_assert_uint_eq(n, 40);
	ck_assert_str_eq(urls[0], "https://10.0.0.1:6443");
	ck_assert_str_eq(urls[32], "https://10.0.0.33:6443");
	ck_assert_str_eq(urls[39], "https://10.0.0.40:6443");
	free(urls);
	rk_plan_free(plan);
	rk_buf_free(&b);
}
END_TEST

struct bad_case {
	const char *text;    /* full document; "%H" / "%K" / "%C": plan_head / kms_head / plan_cp */
	const char *where;   /* "plan.yaml:L:C" expected prefix */
	const char *message; /* expected substring */
};

static const struct bad_case bad_cases[] = {
    {"", "plan.yaml:1:1", "empty document"},
    {"apiVersion: [\n", "plan.yaml:", "invalid YAML"},
    {"apiVersion: rekeyctl/v2\nkind: RotationPlan\n", "plan.yaml:1:13", "not supported"},
    {"apiVersion: rekeyctl/v1\nkind: Plan\n", "plan.yaml:2:7", "is not RotationPlan"},
    {"%H%Cfoo: 1\n", "plan.yaml:8:1", "unknown field \"foo\""},
    {"%H%Ccluster: d\n", "plan.yaml:8:1", "duplicate field \"cluster\""},
    {"%Hcontrolplane: {}\n", "plan.yaml:5:1", "unknown field \"controlplane\""},
    {"apiVersion: rekeyctl/v1\nkind: RotationPlan\ncluster: c\nprovider: rot13\n%C", "plan.yaml:4:11",
     "unknown provider"},
    {"%H%Cresources: [Secrets]\n", "plan.yaml:8:13", "\"Secrets\": resource name should not contain capital"},
    {"%H%Cresources: [\"*\"]\n", "plan.yaml:8:13", "use '*.' to encrypt all the resources"},
    {"%H%Cresources: [\"secrets.*\"]\n", "plan.yaml:8:13", "encrypting the same resource across groups"},
    {"%H%Cresources: [\"*.events.k8s.io\"]\n", "plan.yaml:8:13", "stored using the 'events' API group"},
    {"%H%Cresources: [\"*.Apps\"]\n", "plan.yaml:8:13", "capital letters"},
    {"%H%Cresources: [\"*.a b\"]\n", "plan.yaml:8:13", "unknown resource \"*.a b\""},
    {"%H%Cresources: [widgets]\n", "plan.yaml:8:13", "unknown resource \"widgets\""},
    {"%H%Cresources: [secrets, secrets]\n", "plan.yaml:8:22", "duplicate resource"},
    {"%HcontrolPlane:\n  configPath: /e\n", "plan.yaml:6:3", "missing required field \"nodes\""},
    {"%HcontrolPlane:\n  nodes: [{name: a, apiserver: 'https://h:1'}]\n", "plan.yaml:6:3", "no configPath"},
    {"%HcontrolPlane:\n  configPath: /e\n  canary: z\n  nodes: [{name: a, apiserver: 'https://h:1'}]\n",
     "plan.yaml:7:11", "\"z\" is not one of controlPlane.nodes"},
    {"%HcontrolPlane:\n  configPath: /e\n  nodes: [{name: a, apiserver: 'h:1'}]\n", "plan.yaml:7:32",
     "not an http(s) URL"},
    {"%HcontrolPlane:\n  configPath: /e\n  nodes: [{name: a, apiserver: 'https://h'}, {name: a, apiserver: "
     "'https://g'}]\n",
     "plan.yaml:7:46", "duplicate node name"},
    {"%HcontrolPlane:\n  configPath: /e\n  nodes: [{name: a, apiserver: 'https://h', hots: x}]\n",
     "plan.yaml:7:45", "unknown field \"hots\""},
    {"%HcontrolPlane:\n  configPath: /e\n  access: ftp\n  nodes: [{name: a, apiserver: 'https://h'}]\n",
     "plan.yaml:7:11", "unsupported value \"ftp\""},
    {"%HcontrolPlane:\n  configPath: /e\n  access: ssh\n  nodes: [{name: a, apiserver: 'https://h'}]\n",
     "plan.yaml:6:3", "needs an \"ssh\" section"},
    {"%H%Crewrite: {qps: fast}\n", "plan.yaml:8:16", "expected a number"},
    {"%H%Crewrite: {concurrency: 0}\n", "plan.yaml:8:24", "out of range"},
    {"%H%Cbudget: {writeP99: 5 ms}\n", "plan.yaml:8:20", "invalid duration"},
    {"%H%Cbudget: {onBreach: panic}\n", "plan.yaml:8:20", "unsupported value \"panic\""},
    {"%H%Cbudget: {throttledRatio: 1.5}\n", "plan.yaml:8:26", "out of range"},
    {"%H%Cbudget: {minRequests: 0}\n", "plan.yaml:8:23", "out of range"},
    {"%H%Cbudget: {preflightWindow: soon}\n", "plan.yaml:8:27", "invalid duration"},
    {"%H%Cbudget: {preflightWindow: 2h}\n", "plan.yaml:8:27", "at most 1h"},
    {"%H%Cbudget: {scrapeInterval: 10ms}\n", "plan.yaml:8:26", "0s (off) or 100ms..10m"},
    {"%H%Cbudget: {scrapeInterval: 1h}\n", "plan.yaml:8:26", "0s (off) or 100ms..10m"},
    {"%H%Cwindow: [{start: '01:00', end: '05:00', timezone: Mars/Olympus}]\n", "plan.yaml:8:51",
     "unknown time zone \"Mars/Olympus\""},
    {"%H%Cwindow: [{start: '1am', end: '05:00', timezone: UTC}]\n", "plan.yaml:8:18", "is not HH:MM"},
    {"%H%Cwindow: [{days: [someday], start: '01:00', end: '05:00', timezone: UTC}]\n", "plan.yaml:8:17",
     "unknown day"},
    {"%H%Cwindow: [{start: '01:00', end: '05:00'}]\n", "plan.yaml:8:10",
     "missing required field \"timezone\""},
    {"%H%Cwindow: [{start: '01:00', end: '05:00', timezone: ../../etc/passwd}]\n", "plan.yaml:8:51",
     "unknown time zone"},
    {"%H%Cetcd: {url: 'ftp://x'}\n", "plan.yaml:8:13", "not an http(s) URL"},
    /* access exec needs a read hook (preflight reads every node's config) and a sane timeout */
    {"%HcontrolPlane:\n  configPath: /e\n  access: exec\n  exec: {write: 'true'}\n"
     "  nodes: [{name: a, apiserver: 'https://h:1'}]\n",
     "plan.yaml:8:9", "controlPlane.exec: missing required field \"read\""},
    {"%HcontrolPlane:\n  configPath: /e\n  access: exec\n  exec: {read: 'true', write: 'true', timeout: "
     "500ms}\n"
     "  nodes: [{name: a, apiserver: 'https://h:1'}]\n",
     "plan.yaml:8:48", "controlPlane.exec.timeout: must be at least 1s"},
    /* paths on nodes and key backups must be absolute (a relative ssh configPath crashed the upload) */
    {"%HcontrolPlane:\n  configPath: enc.yaml\n  access: ssh\n  ssh: {user: u}\n"
     "  nodes: [{name: a, apiserver: 'https://h:1'}]\n",
     "plan.yaml:6:15", "\"enc.yaml\" is not an absolute path"},
    {"%HcontrolPlane:\n  configPath: /e\n  access: ssh\n  ssh: {user: u}\n"
     "  nodes: [{name: a, apiserver: 'https://h:1', configPath: x/enc.yaml}]\n",
     "plan.yaml:9:59", "controlPlane.nodes[0].configPath: \"x/enc.yaml\" is not an absolute path"},
    {"%HcontrolPlane:\n  configPath: /e\n  manifestPath: m.yaml\n  nodes: [{name: a, apiserver: "
     "'https://h'}]\n",
     "plan.yaml:7:17", "controlPlane.manifestPath"},
    {"%HcontrolPlane:\n  configPath: /e\n  access: ssh\n  ssh: {user: u, knownHosts: .ssh/known_hosts}\n"
     "  nodes: [{name: a, apiserver: 'https://h:1'}]\n",
     "plan.yaml:8:30", "controlPlane.ssh.knownHosts"},
    {"%HkeyBackupDir: backups\n%C", "plan.yaml:5:15", "plan.keyBackupDir: \"backups\" is not an absolute"},
    {"%HcontrolPlane:\n  configPath: /e\n  access: ssh\n  ssh: {user: u, trustOnFirstUse: 1}\n"
     "  nodes: [{name: a, apiserver: 'https://h:1'}]\n",
     "plan.yaml:8:35", "unsupported value \"1\""},
    {"apiVersion: rekeyctl/v1\nkind: RotationPlan\ncluster: 'a b'\n", "plan.yaml:3:10", "may hold only"},
    /* provider: kms and its section (%K: a kms head; line 8 is the kms section) */
    {"%K%C", "plan.yaml:4:11", "kms needs a \"kms\" section"},
    {"%H%Ckms: {apiVersion: v2, name: k, endpoint: 'unix:///s'}\n", "plan.yaml:8:6",
     "plan.kms: only with provider: kms"},
    {"%K%Ckms: {apiVersion: v1, name: k, endpoint: 'unix:///s'}\n", "plan.yaml:8:19",
     "kms.apiVersion: \"v1\" is not supported"},
    {"%K%Ckms: {name: k, endpoint: 'unix:///s'}\n", "plan.yaml:8:", "missing required field \"apiVersion\""},
    {"%K%Ckms: {apiVersion: v2, name: k, endpoint: 'unix:///s', cachesize: 100}\n", "plan.yaml:8:66",
     "kms.cachesize: not supported in v2"},
    {"%K%Ckms: {apiVersion: v2, name: 'a:b', endpoint: 'unix:///s'}\n", "plan.yaml:8:29",
     "not a usable KMS provider name"},
    {"%K%Ckms: {apiVersion: v2, name: '', endpoint: 'unix:///s'}\n", "plan.yaml:8:29",
     "kms.name: must not be empty"},
    {"%K%Ckms: {apiVersion: v2, name: identity, endpoint: 'unix:///s'}\n", "plan.yaml:8:29",
     "not a usable KMS provider name"},
    {"%K%Ckms: {apiVersion: v2, endpoint: 'unix:///s'}\n", "plan.yaml:8:", "missing required field \"name\""},
    {"%K%Ckms: {apiVersion: v2, name: k, endpoint: 'tcp://h:1'}\n", "plan.yaml:8:42",
     "kms.endpoint: \"tcp://h:1\" is not a unix socket URL"},
    {"%K%Ckms: {apiVersion: v2, name: k, endpoint: 'unix://'}\n", "plan.yaml:8:42", "not a unix socket URL"},
    {"%K%Ckms: {apiVersion: v2, name: k}\n", "plan.yaml:8:", "missing required field \"endpoint\""},
    {"%K%Ckms: {apiVersion: v2, name: k, endpoint: 'unix:///s', timeout: 3}\n", "plan.yaml:8:64",
     "kms.timeout: \"3\" is not a positive duration"},
    {"%K%Ckms: {apiVersion: v2, name: k, endpoint: 'unix:///s', timeout: 0s}\n", "plan.yaml:8:64",
     "is not a positive duration"},
    {"%K%Ckms: {apiVersion: v2, name: k, endpoint: 'unix:///s', kek: yes}\n", "plan.yaml:8:60",
     "unsupported value \"yes\""},
    {"%K%Ckms: {apiVersion: v2, name: k, endpoint: 'unix:///s', keyID: k1}\n", "plan.yaml:8:62",
     "kms.keyID: only for a KEK rotation"},
    {"%K%Ckms: {apiVersion: v2, name: k, endpoint: 'unix:///s', kek: true, keyID: ''}\n",
     "plan.yaml:8:", "kms.keyID: must be 1 to 1024 bytes"},
    {"%K%Ckms: {apiVersion: v2, name: k, endpoint: 'unix:///s', pickupTimeout: 500ms}\n",
     "plan.yaml:8:", "kms.pickupTimeout: must be at least 1s"},
    {"%K%Ckms: {apiVersion: v2, name: k, endpoint: 'unix:///s', outageTimeout: soon}\n",
     "plan.yaml:8:", "invalid duration"},
    {"%K%Ckms: {apiVersion: v2, name: k, endpoint: 'unix:///s', socket: /s}\n",
     "plan.yaml:8:", "unknown field \"socket\""},
    {"%K%Ckms: [v2]\n", "plan.yaml:8:", "kms"},
    {"%K%Ckms: {apiVersion: v2, name: k, endpoint: 'unix:///s', kek: true}\n", "plan.yaml:8:60",
     "kms.kek: a KEK rotation needs the plan's etcd section"},
};

static char *expand(const char *text)
{
	rk_buf b = RK_BUF_INIT;
	for (const char *p = text; *p; p++) {
		if (p[0] == '%' && p[1] == 'H')
			rk_buf_append_str(&b, plan_head), p++;
		else if (p[0] == '%' && p[1] == 'K')
			rk_buf_append_str(&b, kms_head), p++;
		else if (p[0] == '%' && p[1] == 'C')
			rk_buf_append_str(&b, plan_cp), p++;
		else
			rk_buf_append(&b, p, 1);
	}
	return rk_buf_steal(&b);
}

/* Case i of a table: text is refused, one line starting at `where` and holding `message`. */
static void assert_refused_at(int i, const char *text, const char *where, const char *message)
{
	rk_plan *plan = NULL;
	rk_err err;
	rk_err_clear(&err);
	int rc = rk_plan_load_buf(text, strlen(text), "plan.yaml", &plan, &err);
	ck_assert_msg(rc == RK_BADINPUT, "case %d accepted:\n%s", i, text);
	ck_assert_ptr_null(plan);
	ck_assert_msg(!strncmp(err.msg, where, strlen(where)), "case %d: want %s, got %s", i, where, err.msg);
	ck_assert_msg(strstr(err.msg, message) != NULL, "case %d: want \"%s\" in %s", i, message, err.msg);
	ck_assert_ptr_null(strchr(err.msg, '\n'));
}

START_TEST(bad_plans_are_rejected_with_position)
{
	const struct bad_case *c = &bad_cases[_i];
	char *text = expand(c->text);
	assert_refused_at(_i, text, c->where, c->message);
	free(text);
}
END_TEST

START_TEST(kms_plan_loads)
{
	char text[2048];
	snprintf(text, sizeof text,
	         "%s%skms:\n  apiVersion: v2\n  name: kms-a\n  endpoint: unix:///run/kms/a.sock\n"
	         "  timeout: 2s\n",
	         kms_head, plan_cp);
	rk_plan *plan = load_ok(text);
	ck_assert_int_eq(plan->provider, RK_PROV_KMS);
	ck_assert_str_eq(plan->kms.provider.api_version, "v2");
	ck_assert_str_eq(plan->kms.provider.name, "kms-a");
	ck_assert_str_eq(plan->kms.provider.timeout, "2s");
	ck_assert_str_eq(rk_plan_kms_socket(plan), "/run/kms/a.sock");
	ck_assert_int_eq(plan->kms.kek, 0);
	ck_assert_ptr_null(plan->kms.key_id);
	ck_assert_int_eq(plan->kms.pickup_timeout_ms, RK_PLAN_KMS_WAIT_MS);
	ck_assert_int_eq(plan->kms.outage_timeout_ms, RK_PLAN_KMS_WAIT_MS);
	rk_plan_free(plan);
	snprintf(text, sizeof text,
	         "%s%setcd: {url: 'http://127.0.0.1:2379'}\nkms: {apiVersion: v2, name: k, endpoint: "
	         "'unix://@abstract', kek: true, keyID: kek-2, pickupTimeout: 90s, outageTimeout: 1m}\n",
	         kms_head, plan_cp);
	plan = load_ok(text);
	ck_assert_int_eq(plan->kms.kek, 1);
	ck_assert_str_eq(plan->kms.key_id, "kek-2");
	ck_assert_int_eq(plan->kms.pickup_timeout_ms, 90000);
	ck_assert_int_eq(plan->kms.outage_timeout_ms, 60000);
	ck_assert_ptr_null(rk_plan_kms_socket(plan)); /* not a path this host can reach */
	rk_plan_free(plan);
}
END_TEST

/* A keyID the apiserver would refuse (over 1024 bytes) is refused at its position. */
START_TEST(kms_key_id_over_1024_bytes_is_refused)
{
	rk_buf b = RK_BUF_INIT;
	rk_buf_printf(
	    &b,
	    "%s%setcd: {url: 'http://e:1'}\nkms:\n  apiVersion: v2\n  name: k\n  endpoint: unix:///s\n"
	    "  kek: true\n  keyID: ",
	    kms_head, plan_cp);
	for (int i = 0; i < 1025; i++)
		rk_buf_append_str(&b, "k");
	rk_buf_append_str(&b, "\n");
	rk_plan *plan = NULL;
	rk_err err;
	ck_assert_int_eq(rk_plan_load_buf((const char *)b.data, b.len, "plan.yaml", &plan, &err),
	                 RK_BADINPUT);
	ck_assert_msg(strstr(err.msg, "plan.yaml:14:10: kms.keyID: must be 1 to 1024 bytes (1025 given)"),
	              "%s", err.msg);
	rk_buf_free(&b);
}
END_TEST

/* ---- breakGlass: key files in a temporary directory ---- */

static char bg_dir[64];

/* A kms plan with a breakGlass section (line 9 on) naming key file `key` of bg_dir, plus `extra`. */
static char *bg_plan(const char *key, const char *extra, const char *reload)
{
	rk_buf b = RK_BUF_INIT;
	rk_buf_printf(
	    &b,
	    "%sresources: [secrets, configmaps]\ncontrolPlane:\n  configPath: /e.yaml\n  reload: %s\n"
	    "  nodes: [{name: a, apiserver: 'https://h:1'}]\nkms: {apiVersion: v2, name: k, "
	    "endpoint: 'unix:///s'}\nbreakGlass:\n  keyFile: %s/%s\n%s",
	    kms_head, reload, bg_dir, key, extra);
	return rk_buf_steal(&b);
}

static void write_text(const char *name, const char *text, mode_t mode)
{
	char path[128];
	snprintf(path, sizeof path, "%s/%s", bg_dir, name);
	FILE *f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fputs(text, f);
	fclose(f);
	ck_assert_int_eq(chmod(path, mode), 0);
}

static void bg_setup(void)
{
	snprintf(bg_dir, sizeof bg_dir, "/tmp/rekey-plan-bg-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(bg_dir));
	/* 32 bytes of 'k', 20 bytes of 'k' (not an aescbc size) */
	write_text("good.key", "a2tra2tra2tra2tra2tra2tra2tra2tra2tra2tra2s=\n", 0600);
	write_text("open.key", "a2tra2tra2tra2tra2tra2tra2tra2tra2tra2tra2s=\n", 0640);
	write_text("short.key", "a2tra2tra2tra2tra2tra2tra2s=\n", 0600);
}

static void bg_teardown(void)
{
	const char *names[] = {"good.key", "open.key", "short.key"};
	char path[128];
	for (size_t i = 0; i < 3; i++) {
		snprintf(path, sizeof path, "%s/%s", bg_dir, names[i]);
		unlink(path);
	}
	rmdir(bg_dir);
}

START_TEST(break_glass_section_loads)
{
	char *text = bg_plan("good.key", "  keyName: emergency-1\n  identityRead: [configmaps]\n", "restart");
	rk_plan *plan = load_ok(text);
	const rk_plan_break_glass *bg = &plan->break_glass;
	ck_assert_int_eq(bg->present, 1);
	ck_assert_str_eq(bg->key_name, "emergency-1");
	ck_assert_uint_eq(strlen(bg->fingerprint), 16);
	ck_assert_uint_eq(bg->nidentity_read, 1);
	ck_assert_str_eq(bg->identity_read[0], "configmaps");
	ck_assert_int_eq(bg->force, 0);
	char want[64];
	snprintf(want, sizeof want, "breakglass-%s", bg->fingerprint);
	rk_plan_free(plan);
	free(text);
	text = bg_plan("good.key", "", "restart"); /* default name: from the fingerprint */
	plan = load_ok(text);
	ck_assert_str_eq(plan->break_glass.key_name, want);
	rk_plan_free(plan);
	free(text);
	text = bg_plan("good.key", "  force: true\n  identityRead: [secrets]\n", "restart");
	plan = load_ok(text);
	ck_assert_int_eq(plan->break_glass.force, 1);
	rk_plan_free(plan);
	free(text);
	plan = load_ok(good_plan); /* no section */
	ck_assert_int_eq(plan->break_glass.present, 0);
	rk_plan_free(plan);
}
END_TEST

struct bg_case {
	const char *key, *extra, *reload;
	const char *where, *message;
};

static const struct bg_case bg_cases[] = {
    {"open.key", "", "restart", "plan.yaml:12:12", "breakGlass.keyFile: "},
    {"short.key", "", "restart", "plan.yaml:12:12", "holds a 20-byte key; aescbc needs 16, 24 or 32"},
    {"missing.key", "", "restart", "plan.yaml:12:12", "breakGlass.keyFile: "},
    {"good.key", "", "automatic", "plan.yaml:12:3", "breakGlass: needs controlPlane.reload: restart"},
    {"good.key", "  identityRead: [secrets]\n", "restart", "plan.yaml:13:18",
     "secrets never fall back to identity unless breakGlass.force: true"},
    {"good.key", "  identityRead: [pods]\n", "restart", "plan.yaml:13:18",
     "\"pods\" is not one of plan.resources"},
    {"good.key", "  keyName: 'a:b'\n", "restart", "plan.yaml:13:12", "breakGlass.keyName: \"a:b\" is not"},
    {"good.key", "  keyName: identity\n", "restart", "plan.yaml:13:12", "not \"identity\""},
    {"good.key", "  force: yes\n", "restart", "plan.yaml:13:10", "breakGlass.force: unsupported value"},
    {"good.key", "  provider: aesgcm\n", "restart", "plan.yaml:13:3", "provider"},
};

START_TEST(break_glass_bad_inputs_have_positions)
{
	const struct bg_case *c = &bg_cases[_i];
	char *text = bg_plan(c->key, c->extra, c->reload);
	assert_refused_at(_i, text, c->where, c->message);
	free(text);
}
END_TEST

START_TEST(break_glass_needs_a_kms_plan_and_an_absolute_key_path)
{
	char text[1024];
	snprintf(text, sizeof text, "%s%sbreakGlass: {keyFile: %s/good.key}\n", plan_head, plan_cp, bg_dir);
	rk_plan *plan = NULL;
	rk_err err;
	ck_assert_int_eq(rk_plan_load_buf(text, strlen(text), "plan.yaml", &plan, &err), RK_BADINPUT);
	ck_assert_msg(strstr(err.msg, "plan.yaml:8:13: breakGlass: only in a plan with provider: kms"), "%s",
	              err.msg);
	char *rel = bg_plan("good.key", "", "restart");
	char *at = strstr(rel, bg_dir);
	memmove(at, at + 1, strlen(at)); /* "tmp/..." */
	ck_assert_int_eq(rk_plan_load_buf(rel, strlen(rel), "plan.yaml", &plan, &err), RK_BADINPUT);
	ck_assert_msg(strstr(err.msg, "plan.yaml:12:12: breakGlass.keyFile: ") &&
	                  strstr(err.msg, "is not an absolute path"),
	              "%s", err.msg);
	free(rel);
}
END_TEST

START_TEST(windows_answer_in_and_out)
{
	rk_plan *plan = load_ok(good_plan);
	/* 2026-11-28 is a Saturday. 03:00 UTC is inside window 0; Berlin is UTC+1 in November, so
	 * 03:00 UTC = 04:00 CET, outside window 1 (22:00-02:00). */
	time_t sat_0300 = 1795834800; /* 2026-11-28T03:00:00Z */
	time_t end;
	ck_assert_int_eq(rk_plan_in_window(plan, sat_0300, &end), 1);
	ck_assert_int_eq(end, sat_0300 + 2 * 3600);
	time_t sat_1200 = sat_0300 + 9 * 3600; /* 12:00 UTC, 13:00 Berlin: outside both */
	ck_assert_int_eq(rk_plan_in_window(plan, sat_1200, NULL), 0);
	time_t tue_2200 = sat_0300 - 3 * 86400 - 5 * 3600; /* Tue 22:00 UTC = 23:00 Berlin: window 1 */
	ck_assert_int_eq(rk_plan_in_window(plan, tue_2200, &end), 1);
	ck_assert_int_eq(end, tue_2200 + 3 * 3600);
	rk_plan_free(plan);
}
END_TEST

START_TEST(durations_parse_like_go)
{
	ck_assert_int_eq(rk_parse_duration_ms("500ms"), 500);
	ck_assert_int_eq(rk_parse_duration_ms("30s"), 30000);
	ck_assert_int_eq(rk_parse_duration_ms("1m30s"), 90000);
	ck_assert_int_eq(rk_parse_duration_ms("1.5h"), 5400000);
	ck_assert_int_eq(rk_parse_duration_ms("5"), -1);
	ck_assert_int_eq(rk_parse_duration_ms("-5s"), -1);
	ck_assert_int_eq(rk_parse_duration_ms("5 s"), -1);
	ck_assert_int_eq(rk_parse_duration_ms(""), -1);
}
END_TEST

START_TEST(example_plan_loads)
{
	rk_plan *plan = NULL;
	rk_err err;
	rk_err_clear(&err);
	ck_assert_msg(rk_plan_load_file("examples/plan.yaml", &plan, &err) == RK_OK, "%s", err.msg);
	ck_assert_uint_eq(plan->nnodes, 3);
	ck_assert_int_eq(plan->access, RK_ACCESS_SSH);
	ck_assert_str_eq(plan->windows[0].timezone, "Europe/Berlin");
	char want[4200];
	snprintf(want, sizeof want, "%s/.kube/config", getenv("HOME"));
	ck_assert_str_eq(plan->kubeconfig, want); /* `kubeconfig: ~/.kube/config` as written there */
	rk_plan_free(plan);
}
END_TEST

START_TEST(example_kms_plan_loads)
{
	rk_plan *plan = NULL;
	rk_err err;
	rk_err_clear(&err);
	ck_assert_msg(rk_plan_load_file("examples/plan-kms.yaml", &plan, &err) == RK_OK, "%s", err.msg);
	ck_assert_int_eq(plan->provider, RK_PROV_KMS);
	ck_assert_str_eq(plan->kms.provider.name, "vault-kms");
	ck_assert_str_eq(rk_plan_kms_socket(plan), "/var/run/kms/vault.sock");
	ck_assert_int_eq(plan->kms.outage_timeout_ms, 300000);
	rk_plan_free(plan);
}
END_TEST

/* A leading "~/" in the plan's local paths comes from $HOME; node paths only with access local (for ssh
 * and exec they are paths on the node). */
START_TEST(home_paths_expanded)
{
	char *saved = getenv("HOME") ? strdup(getenv("HOME")) : NULL;
	setenv("HOME", "/home/tester", 1);
	static const char *local =
	    "apiVersion: rekeyctl/v1\nkind: RotationPlan\ncluster: c\nprovider: aescbc\n"
	    "kubeconfig: ~/.kube/config\nkeyBackupDir: \"~\"\n"
	    "controlPlane:\n  configPath: ~/enc.yaml\n"
	    "  nodes: [{name: a, apiserver: 'https://h:1', manifestPath: ~/m.yaml}]\n"
	    "etcd: {url: 'https://e:2379', cacert: ~/ca.crt, cert: ~other/c.crt, key: /k/~/x.key}\n";
	rk_plan *plan = load_ok(local);
	ck_assert_str_eq(plan->kubeconfig, "/home/tester/.kube/config");
	ck_assert_str_eq(plan->key_backup_dir, "/home/tester");
	ck_assert_str_eq(rk_plan_node_config_path(plan, &plan->nodes[0]), "/home/tester/enc.yaml");
	ck_assert_str_eq(rk_plan_node_manifest_path(plan, &plan->nodes[0]), "/home/tester/m.yaml");
	ck_assert_str_eq(plan->etcd.cacert, "/home/tester/ca.crt");
	ck_assert_str_eq(plan->etcd.cert, "~other/c.crt");
	ck_assert_str_eq(plan->etcd.key, "/k/~/x.key");
	rk_plan_free(plan);
	static const char *ssh = "apiVersion: rekeyctl/v1\nkind: RotationPlan\ncluster: c\nprovider: aescbc\n"
	                         "controlPlane:\n  configPath: /enc.yaml\n  access: ssh\n"
	                         "  ssh: {user: u, identityFile: ~/.ssh/id, knownHosts: ~/.ssh/known_hosts}\n"
	                         "  nodes: [{name: a, host: h, apiserver: 'https://h:1'}]\n";
	plan = load_ok(ssh);
	ck_assert_str_eq(plan->ssh.identity_file, "/home/tester/.ssh/id");
	ck_assert_str_eq(plan->ssh.known_hosts, "/home/tester/.ssh/known_hosts");
	rk_plan_free(plan);
	/* a node path under ~ with access ssh: this machine's HOME means nothing on the node */
	static const char *ssh_home =
	    "apiVersion: rekeyctl/v1\nkind: RotationPlan\ncluster: c\nprovider: aescbc\n"
	    "controlPlane:\n  configPath: ~/enc.yaml\n  access: ssh\n"
	    "  ssh: {user: u}\n  nodes: [{name: a, host: h, apiserver: 'https://h:1'}]\n";
	rk_err err;
	ck_assert_int_eq(rk_plan_load_buf(ssh_home, strlen(ssh_home), "plan.yaml", &plan, &err), RK_BADINPUT);
	ck_assert_msg(strstr(err.msg,
	                     "plan.yaml:6:3: controlPlane: configPath \"~/enc.yaml\" is not an absolute path "
	                     "(~ is expanded only with access local"),
	              "%s", err.msg);
	unsetenv("HOME");
	ck_assert_int_eq(rk_plan_load_buf(local, strlen(local), "plan.yaml", &plan, &err), RK_BADINPUT);
	ck_assert_str_eq(
	    err.msg, "plan.yaml:5:13: plan.kubeconfig: \"~/.kube/config\" starts with ~ but HOME is not set");
	ck_assert_ptr_null(plan);
	if (saved)
		setenv("HOME", saved, 1);
	free(saved);
}
END_TEST

Suite *plan_suite(void)
{
	Suite *s = suite_create("plan");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, full_plan_loads);
	tcase_add_test(tc, defaults_apply);
	tcase_add_loop_test(tc, bad_plans_are_rejected_with_position, 0,
	                    (int)(sizeof bad_cases / sizeof bad_cases[0]));
	tcase_add_test(tc, kms_plan_loads);
	tcase_add_test(tc, kms_key_id_over_1024_bytes_is_refused);
	tcase_add_test(tc, windows_answer_in_and_out);
	TCase *bg = tcase_create("break-glass");
	tcase_add_checked_fixture(bg, bg_setup, bg_teardown);
	tcase_add_test(bg, break_glass_section_loads);
	tcase_add_loop_test(bg, break_glass_bad_inputs_have_positions, 0,
	                    sizeof bg_cases / sizeof bg_cases[0]);
	tcase_add_test(bg, break_glass_needs_a_kms_plan_and_an_absolute_key_path);
	suite_add_tcase(s, bg);
	tcase_add_test(tc, durations_parse_like_go);
	tcase_add_test(tc, example_plan_loads);
	tcase_add_test(tc, example_kms_plan_loads);
	tcase_add_test(tc, home_paths_expanded);
	tcase_add_test(tc, apiservers_every_node);
	suite_add_tcase(s, tc);
	return s;
}
