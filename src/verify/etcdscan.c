/* etcdscan.c: the accounting of a stored-value scan: resource of each etcd key, classification,
 * expectation (config write key or --expect), decrypt check through the rule's transformer chain,
 * per-(resource, provider, key) rows and the first N unexpected objects. The sources (live etcd over
 * gRPC or the JSON gateway, snapshot) are in etcdscan_source.c; the output formats in etcdscan_report.c. */
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "etcdscan_internal.h"
#include "rekey/codec.h"

/* kube-apiserver stores its built-in resources under /registry/<prefix>/ without their group (the storage
 * factory's resource prefix: the lowercase resource name, or a special one), custom resources and
 * apiservices under /registry/<group>/<resource>/. The built-in prefixes of v1.34 outside the core group,
 * and the special ones (docs/facts.md): */
static const struct {
	const char *path, *resource, *group;
} builtin_paths[] = {
    {"mutatingadmissionpolicies", "mutatingadmissionpolicies", "admissionregistration.k8s.io"},
    {"mutatingadmissionpolicybindings", "mutatingadmissionpolicybindings", "admissionregistration.k8s.io"},
    {"mutatingwebhookconfigurations", "mutatingwebhookconfigurations", "admissionregistration.k8s.io"},
    {"validatingadmissionpolicies", "validatingadmissionpolicies", "admissionregistration.k8s.io"},
    {"validatingadmissionpolicybindings", "validatingadmissionpolicybindings",
     "admissionregistration.k8s.io"},
    {"validatingwebhookconfigurations", "validatingwebhookconfigurations", "admissionregistration.k8s.io"},
    {"controllerrevisions", "controllerrevisions", "apps"},
    {"daemonsets", "daemonsets", "apps"},
    {"deployments", "deployments", "apps"},
    {"replicasets", "replicasets", "apps"},
    {"statefulsets", "statefulsets", "apps"},
    {"horizontalpodautoscalers", "horizontalpodautoscalers", "autoscaling"},
    {"cronjobs", "cronjobs", "batch"},
    {"jobs", "jobs", "batch"},
    {"certificatesigningrequests", "certificatesigningrequests", "certificates.k8s.io"},
    {"clustertrustbundles", "clustertrustbundles", "certificates.k8s.io"},
    {"podcertificaterequests", "podcertificaterequests", "certificates.k8s.io"},
    {"leasecandidates", "leasecandidates", "coordination.k8s.io"},
    {"leases", "leases", "coordination.k8s.io"},
    {"endpointslices", "endpointslices", "discovery.k8s.io"},
    {"flowschemas", "flowschemas", "flowcontrol.apiserver.k8s.io"},
    {"prioritylevelconfigurations", "prioritylevelconfigurations", "flowcontrol.apiserver.k8s.io"},
    {"storageversions", "storageversions", "internal.apiserver.k8s.io"},
    {"ingress", "ingresses", "networking.k8s.io"},
    {"ingressclasses", "ingressclasses", "networking.k8s.io"},
    {"ipaddresses", "ipaddresses", "networking.k8s.io"},
    {"networkpolicies", "networkpolicies", "networking.k8s.io"},
    {"servicecidrs", "servicecidrs", "networking.k8s.io"},
    {"runtimeclasses", "runtimeclasses", "node.k8s.io"},
    {"poddisruptionbudgets", "poddisruptionbudgets", "policy"},
    {"clusterrolebindings", "clusterrolebindings", "rbac.authorization.k8s.io"},
    {"clusterroles", "clusterroles", "rbac.authorization.k8s.io"},
    {"rolebindings", "rolebindings", "rbac.authorization.k8s.io"},
    {"roles", "roles", "rbac.authorization.k8s.io"},
    {"deviceclasses", "deviceclasses", "resource.k8s.io"},
    {"devicetaintrules", "devicetaintrules", "resource.k8s.io"},
    {"resourceclaims", "resourceclaims", "resource.k8s.io"},
    {"resourceclaimtemplates", "resourceclaimtemplates", "resource.k8s.io"},
    {"resourceslices", "resourceslices", "resource.k8s.io"},
    {"priorityclasses", "priorityclasses", "scheduling.k8s.io"},
    {"storageversionmigrations", "storageversionmigrations", "storagemigration.k8s.io"},
    {"csidrivers", "csidrivers", "storage.k8s.io"},
    {"csinodes", "csinodes", "storage.k8s.io"},
    {"csistoragecapacities", "csistoragecapacities", "storage.k8s.io"},
    {"storageclasses", "storageclasses", "storage.k8s.io"},
    {"volumeattachments", "volumeattachments", "storage.k8s.io"},
    {"volumeattributesclasses", "volumeattributesclasses", "storage.k8s.io"},
    {"controllers", "replicationcontrollers", ""},
    {"minions", "nodes", ""},
};

/* What kube-apiserver writes under these prefixes never passes through a transformer (the service range
 * allocations and the endpoint reconciler's master leases use the storage factory without the
 * encryption config): plaintext whatever the config says. */
int rk_etcd_never_encrypted(const char *resource, const char *group)
{
	return !*group && (!strcmp(resource, "ranges") || !strcmp(resource, "masterleases"));
}

static int copy_segment(const uint8_t *p, size_t n, char *out, size_t cap)
{
	if (n == 0 || n >= cap)
		return -1;
	memcpy(out, p, n);
	out[n] = '\0';
	return 0;
}

/* Next '/'-separated segment starting at *pos; returns its length (0 = none). */
static size_t segment(const uint8_t *key, size_t len, size_t *pos)
{
	size_t start = *pos, end = start;
	while (end < len && key[end] != '/')
		end++;
	*pos = end < len ? end + 1 : end;
	return end - start;
}

int rk_etcd_key_resource(const char *prefix, const uint8_t *key, size_t len, char *resource, size_t rcap,
                         char *group, size_t gcap)
{
	size_t plen = prefix ? strlen(prefix) : 0;
	if (len < plen || memcmp(key, prefix, plen) != 0 || gcap == 0)
		return -1;
	size_t pos = plen, first_at = pos;
	size_t first = segment(key, len, &pos);
	size_t second_at = pos, second = segment(key, len, &pos);
	group[0] = '\0';
	if (first && memchr(key + first_at, '.', first) && second) /* /registry/<group>/<resource>/... */
		return copy_segment(key + second_at, second, resource, rcap) ||
		       copy_segment(key + first_at, first, group, gcap);
	if (copy_segment(key + first_at, first, resource, rcap) != 0)
		return -1;
	if (!strcmp(resource, "services") && second == 9 && !memcmp(key + second_at, "endpoints", 9))
		snprintf(resource, rcap, "endpoints");
	for (size_t i = 0; i < sizeof builtin_paths / sizeof builtin_paths[0]; i++)
		if (!strcmp(resource, builtin_paths[i].path)) {
			snprintf(resource, rcap, "%s", builtin_paths[i].resource);
			snprintf(group, gcap, "%s", builtin_paths[i].group);
			break;
		}
	return 0;
}

static int is_identity(const rk_value_info *v)
{
	return v->kind == RK_VAL_IDENTITY_PROTOBUF || v->kind == RK_VAL_IDENTITY_JSON;
}

/* The write key of a rule as (kind, name); NULL rule = identity. */
static void rule_expectation(const rk_rule *rule, rk_value_kind *kind, const char **name)
{
	*kind = RK_VAL_IDENTITY_PROTOBUF;
	*name = "";
	if (!rule || rule->nproviders == 0)
		return;
	const rk_provider *p = &rule->providers[0];
	switch (p->type) {
	case RK_PROV_AESCBC:
		*kind = RK_VAL_AESCBC;
		break;
	case RK_PROV_AESGCM:
		*kind = RK_VAL_AESGCM;
		break;
	case RK_PROV_SECRETBOX:
		*kind = RK_VAL_SECRETBOX;
		break;
	case RK_PROV_KMS:
		*kind =
		    p->kms.api_version && !strcmp(p->kms.api_version, "v2") ? RK_VAL_KMS_V2 : RK_VAL_KMS_V1;
		*name = p->kms.name ? p->kms.name : "";
		return;
	default:
		return;
	}
	*name = p->nkeys ? p->keys[0].name : "";
}

static int matches_expectation(rk_value_kind kind, const char *name, const rk_value_info *v)
{
	if (kind == RK_VAL_IDENTITY_PROTOBUF)
		return is_identity(v);
	return v->kind == kind && !strcmp(v->name, name);
}

static void describe_value(const rk_value_info *v, char *out, size_t cap)
{
	if (v->kind == RK_VAL_MALFORMED)
		snprintf(out, cap, "malformed (%s)", v->reason ? v->reason : "unknown");
	else if (is_identity(v))
		snprintf(out, cap, "identity (not encrypted)");
	else if (v->kind == RK_VAL_KMS_V2)
		snprintf(out, cap, "kms-v2 key \"%s\" keyID \"%.128s\"", v->name, v->key_id);
	else
		snprintf(out, cap, "%s key \"%s\"", rk_value_kind_name(v->kind), v->name);
}

static rk_chain *chain_for(struct rk_scan *sc, const rk_rule *rule)
{
	for (size_t i = 0; i < sc->nchains; i++)
		if (sc->chains[i].rule == rule)
			return sc->chains[i].chain;
	struct scan_chain *grown = realloc(sc->chains, (sc->nchains + 1) * sizeof *grown);
	if (!grown)
		return NULL;
	sc->chains = grown;
	rk_chain *chain = NULL;
	if (rk_chain_new(rule, &chain, sc->err) != RK_OK)
		return NULL;
	sc->chains[sc->nchains].rule = rule;
	sc->chains[sc->nchains++].chain = chain;
	return chain;
}

static rk_scan_row *row_for(struct rk_scan *sc, const char *resource, const rk_value_info *v, int expected)
{
	rk_scan_report *r = sc->report;
	const char *provider = rk_value_kind_name(v->kind);
	for (size_t i = 0; i < r->nrows; i++) {
		rk_scan_row *row = &r->rows[i];
		if (!strcmp(row->resource, resource) && !strcmp(row->provider, provider) &&
		    !strcmp(row->key, v->name) && !strcmp(row->key_id, v->key_id))
			return row;
	}
	if (r->nrows == sc->rows_cap) {
		size_t cap = sc->rows_cap ? sc->rows_cap * 2 : 16;
		rk_scan_row *rows = realloc(r->rows, cap * sizeof *rows);
		if (!rows)
			return NULL;
		r->rows = rows;
		sc->rows_cap = cap;
	}
	rk_scan_row *row = &r->rows[r->nrows++];
	memset(row, 0, sizeof *row);
	snprintf(row->resource, sizeof row->resource, "%s", resource);
	snprintf(row->provider, sizeof row->provider, "%s", provider);
	snprintf(row->key, sizeof row->key, "%s", v->name);
	snprintf(row->key_id, sizeof row->key_id, "%s", v->key_id);
	row->expected = expected;
	return row;
}

static int list_item(struct rk_scan *sc, const uint8_t *key, size_t klen, const char *resource,
                     const rk_value_info *v, const char *reason)
{
	rk_scan_report *r = sc->report;
	if (sc->opts->list_limit && r->nitems >= sc->opts->list_limit) {
		r->truncated = 1;
		return RK_OK;
	}
	if (r->nitems == sc->items_cap) {
		size_t cap = sc->items_cap ? sc->items_cap * 2 : 16;
		rk_scan_item *items = realloc(r->items, cap * sizeof *items);
		if (!items)
			return rk_err_set(sc->err, RK_FAIL, "out of memory");
		r->items = items;
		sc->items_cap = cap;
	}
	rk_scan_item *it = &r->items[r->nitems];
	memset(it, 0, sizeof *it);
	it->etcd_key = strndup((const char *)key, klen);
	it->resource = strdup(resource);
	it->reason = strdup(reason);
	snprintf(it->provider, sizeof it->provider, "%s", rk_value_kind_name(v->kind));
	snprintf(it->key, sizeof it->key, "%s", v->name);
	r->nitems++;
	if (!it->etcd_key || !it->resource || !it->reason)
		return rk_err_set(sc->err, RK_FAIL, "out of memory");
	return RK_OK;
}

/* The --resource filter: "secrets", "deployments.apps", or a config's wildcard entry ("*.", "*.apps"). */
static int resource_selected(const struct rk_scan *sc, const char *gr, const char *resource,
                             const char *group)
{
	if (!sc->opts->nresources)
		return 1;
	for (size_t i = 0; i < sc->opts->nresources; i++) {
		const char *want = sc->opts->resources[i];
		if (!strcmp(want, gr) || (strchr(want, '*') && rk_entry_covers(want, group, resource)))
			return 1;
	}
	return 0;
}

/* Decrypts through the rule's chain as the apiserver would read it; 0 = readable. */
static int decrypt_check(struct rk_scan *sc, const rk_rule *rule, const char *etcd_key, const uint8_t *val,
                         size_t vlen, char *why, size_t cap)
{
	rk_chain *chain = chain_for(sc, rule);
	if (!chain)
		return -2;
	rk_err e;
	int stale = 0;
	rk_buf_reset(&sc->plain);
	sc->report->decrypt_checked++;
	int rc = rk_chain_read(chain, etcd_key, val, vlen, &sc->plain, &stale, &e);
	const char *not_object =
	    rc == RK_OK ? rk_codec_object_problem(sc->plain.data ? sc->plain.data : (const uint8_t *)"",
	                                          sc->plain.len)
	                : NULL;
	if (sc->plain.data)
		OPENSSL_cleanse(sc->plain.data, sc->plain.len);
	if (rc == RK_OK && !not_object)
		return 0;
	if (rc == RK_OK)
		snprintf(why, cap,
		         "unreadable with the configuration: %s: it decrypts to %s, not a stored object",
		         etcd_key, not_object);
	else
		snprintf(why, cap, "unreadable with the configuration: %s", e.msg);
	return -1;
}

/* A kms value is readable only through a kms provider of its name in the rule; with one, its plugin
 * alone can decrypt it (not checked here); without one, the apiserver cannot read it. */
static int kms_check(struct rk_scan *sc, const rk_rule *rule, const char *etcd_key, const uint8_t *val,
                     size_t vlen, char *why, size_t cap)
{
	rk_chain *chain = chain_for(sc, rule);
	if (!chain)
		return -2;
	if (rk_chain_kms_known(chain, val, vlen))
		return 0;
	return decrypt_check(sc, rule, etcd_key, val, vlen, why, cap);
}

struct verdict {
	int expected;
	int decrypt_failed;
	char why[RK_ERR_MSG_MAX + 64];
};

/* --expect-key-id: a kms v2 value that meets the other expectations must also carry that keyID. */
static void check_key_id(const struct rk_scan *sc, const rk_value_info *v, const char *have,
                         struct verdict *out)
{
	const char *want_id = sc->opts->expect_key_id;
	if (want_id && out->expected && v->kind == RK_VAL_KMS_V2 && strcmp(v->key_id, want_id) != 0) {
		out->expected = 0;
		snprintf(out->why, sizeof out->why, "%s, expected keyID \"%.128s\"", have, want_id);
	}
}

/* With a config: the rule the apiserver reads the value with decides what is expected (its write key, or
 * only readable when opts->expect_rules leaves the rule out) and whether it decrypts. */
static int judge_config(struct rk_scan *sc, const char *resource, const char *group, const char *etcd_key,
                        const uint8_t *val, size_t vlen, const rk_value_info *v, const char *have,
                        struct verdict *out)
{
	const rk_encconfig *cfg = sc->opts->config;
	int at = rk_encconfig_lookup_index(cfg, group, resource);
	const rk_rule *rule = at < 0 ? NULL : &cfg->rules[at];
	int expect = !sc->opts->expect_rules || (at >= 0 && sc->opts->expect_rules[at]);
	rk_value_kind kind;
	const char *name;
	rule_expectation(rule, &kind, &name);
	if (expect && out->expected && !matches_expectation(kind, name, v)) {
		out->expected = 0;
		snprintf(out->why, sizeof out->why, "%s, expected %s%s%s%s", have,
		         kind == RK_VAL_IDENTITY_PROTOBUF ? "identity" : rk_value_kind_name(kind),
		         *name ? " key \"" : "", name, *name ? "\"" : "");
	}
	if (expect)
		check_key_id(sc, v, have, out);
	int kms = v->kind == RK_VAL_KMS_V1 || v->kind == RK_VAL_KMS_V2;
	if (v->kind != RK_VAL_MALFORMED) {
		int rc = kms ? kms_check(sc, rule, etcd_key, val, vlen, out->why, sizeof out->why)
		             : decrypt_check(sc, rule, etcd_key, val, vlen, out->why, sizeof out->why);
		if (rc == -2)
			return RK_BADINPUT;
		out->decrypt_failed = rc == -1;
	}
	return RK_OK;
}

static int judge(struct rk_scan *sc, const char *resource, const char *group, const char *etcd_key,
                 const uint8_t *val, size_t vlen, const rk_value_info *v, struct verdict *out)
{
	char have[640];
	describe_value(v, have, sizeof have);
	out->expected = v->kind != RK_VAL_MALFORMED;
	out->decrypt_failed = 0;
	snprintf(out->why, sizeof out->why, "%s", have);
	if ((sc->opts->config || sc->opts->expect) && rk_etcd_never_encrypted(resource, group)) {
		/* plaintext whatever the config says */
		if (!is_identity(v) && out->expected) {
			out->expected = 0;
			snprintf(out->why, sizeof out->why, "%s, expected identity (never encrypted)", have);
		}
		return RK_OK;
	}
	if (sc->opts->config)
		return judge_config(sc, resource, group, etcd_key, val, vlen, v, have, out);
	if (sc->opts->expect && out->expected) {
		int want_identity = !strcmp(sc->opts->expect, "identity");
		int ok =
		    want_identity ? is_identity(v) : !is_identity(v) && !strcmp(v->name, sc->opts->expect);
		if (!ok) {
			out->expected = 0;
			snprintf(out->why, sizeof out->why, "%s, expected key \"%s\"", have,
			         sc->opts->expect);
		}
	}
	check_key_id(sc, v, have, out);
	return RK_OK;
}

/* Accounts one stored value (an rk_scan_kv_fn: ud is the scan). */
static int scan_value(void *ud, const uint8_t *key, size_t klen, const uint8_t *val, size_t vlen)
{
	struct rk_scan *sc = ud;
	char resource[128], group[128], gr[260];
	if (rk_etcd_key_resource(sc->prefix, key, klen, resource, sizeof resource, group, sizeof group) !=
	    0) {
		snprintf(resource, sizeof resource, "(unknown)");
		group[0] = '\0';
	}
	snprintf(gr, sizeof gr, "%s%s%s", resource, *group ? "." : "", group);
	if (!resource_selected(sc, gr, resource, group))
		return RK_OK;
	char *etcd_key = strndup((const char *)key, klen); /* AAD and messages */
	if (!etcd_key)
		return rk_err_set(sc->err, RK_FAIL, "out of memory");
	rk_value_info v;
	rk_codec_classify(val, vlen, &v);
	struct verdict verdict;
	int rc = judge(sc, resource, group, etcd_key, val, vlen, &v, &verdict);
	rk_scan_row *row = rc == RK_OK ? row_for(sc, gr, &v, verdict.expected) : NULL;
	if (rc == RK_OK && !row)
		rc = rk_err_set(sc->err, RK_FAIL, "out of memory");
	if (rc == RK_OK) {
		rk_scan_report *r = sc->report;
		r->total++;
		row->count++;
		r->malformed += v.kind == RK_VAL_MALFORMED;
		r->unexpected += !verdict.expected;
		r->decrypt_failed += verdict.decrypt_failed;
		row->decrypt_failed += verdict.decrypt_failed;
		int forbidden = sc->opts->forbid && !is_identity(&v) && !strcmp(v.name, sc->opts->forbid);
		if (forbidden) {
			r->forbidden++;
			snprintf(verdict.why, sizeof verdict.why, "still under key \"%s\" (%s)",
			         sc->opts->forbid, rk_value_kind_name(v.kind));
		}
		if (!verdict.expected || verdict.decrypt_failed || forbidden)
			rc = list_item(sc, key, klen, gr, &v, verdict.why);
	}
	if (rc == RK_OK && sc->opts->check_archive)
		rc = rk_scan_note_key(sc, etcd_key, val, vlen, &v);
	free(etcd_key);
	return rc;
}

/* After each page of a live scan (an rk_scan_page_cb: ud is the scan): where the source stands goes into
 * the report, which the caller's page callback is shown. */
static void scan_page(void *ud, const rk_scan_live *live)
{
	struct rk_scan *sc = ud;
	rk_scan_report *r = sc->report;
	r->revision = live->revision;
	r->revision_moved = live->revision_moved;
	snprintf(r->api, sizeof r->api, "%s", live->api);
	if (sc->opts->on_page)
		sc->opts->on_page(sc->opts->page_ctx, r);
}

static int check_opts(const rk_scan_opts *o, rk_err *err)
{
	if (!!o->etcd_url == !!o->snapshot_path)
		return rk_err_set(err, RK_BADINPUT,
		                  "exactly one source is needed: --etcd URL or --snapshot FILE");
	if (o->etcd_api < RK_ETCD_API_AUTO || o->etcd_api > RK_ETCD_API_JSON)
		return rk_err_set(err, RK_BADINPUT, "etcd API %d: want auto, grpc or json", o->etcd_api);
	if (o->etcd_api != RK_ETCD_API_AUTO && !o->etcd_url)
		return rk_err_set(err, RK_BADINPUT, "--etcd-api needs --etcd URL");
	if ((o->config || o->config_path) && o->expect)
		return rk_err_set(err, RK_BADINPUT, "--config and --expect exclude each other");
	if (o->config && o->config_path)
		return rk_err_set(err, RK_BADINPUT, "a config and a config path exclude each other");
	if (o->expect && !*o->expect)
		return rk_err_set(err, RK_BADINPUT, "--expect needs a key name");
	if (o->expect_key_id && (!*o->expect_key_id || strlen(o->expect_key_id) > 1024))
		return rk_err_set(err, RK_BADINPUT, "--expect-key-id needs a keyID of 1 to 1024 bytes");
	if (o->expect_key_id && !o->expect && !o->config && !o->config_path)
		return rk_err_set(err, RK_BADINPUT,
		                  "--expect-key-id needs --expect KMS-NAME or --config FILE (the provider it "
		                  "belongs to)");
	if (o->forbid && (!*o->forbid || !strcmp(o->forbid, "identity")))
		return rk_err_set(err, RK_BADINPUT, "--forbid needs the name of a key or kms provider");
	return RK_OK;
}

/* The scan itself (options checked, config loaded). */
static int scan(const rk_scan_opts *opts, rk_scan_report **out, rk_err *err)
{
	int rc;
	struct rk_scan sc = {.opts = opts, .err = err, .prefix = opts->prefix ? opts->prefix : "/registry/"};
	rk_buf_set_secret(&sc.plain);
	sc.report = calloc(1, sizeof *sc.report);
	if (!sc.report)
		return rk_err_set(err, RK_FAIL, "out of memory");
	sc.report->source = strdup(opts->etcd_url ? opts->etcd_url : opts->snapshot_path);
	sc.report->prefix = strdup(sc.prefix);
	sc.report->has_expectation = opts->config || opts->expect || opts->forbid || opts->expect_key_id;
	rk_scan_sink sink = {.value = scan_value, .page = scan_page, .ud = &sc};
	rc = opts->etcd_url ? rk_scan_source_live(opts, sc.prefix, &sink, err)
	                    : rk_scan_source_snapshot(opts, sc.prefix, &sink, err);
	if (rc == RK_OK && opts->check_archive)
		rc = rk_scan_check_archive(&sc);
	rk_scan_samples_free(&sc);
	for (size_t i = 0; i < sc.nchains; i++)
		rk_chain_free(sc.chains[i].chain);
	free(sc.chains);
	rk_buf_wipe_free(&sc.plain);
	if (rc) {
		rk_scan_report_free(sc.report);
		return rc;
	}
	*out = sc.report;
	return RK_OK;
}

int rk_etcdscan_run(const rk_scan_opts *opts, rk_scan_report **out, rk_err *err)
{
	*out = NULL;
	int rc = check_opts(opts, err);
	if (rc || !opts->config_path)
		return rc ? rc : scan(opts, out, err);
	rk_encconfig *cfg = NULL;
	rc = rk_encconfig_load_file(opts->config_path, &cfg, err);
	if (rc == RK_OK)
		rc = rk_encconfig_validate(cfg, 0, err);
	rk_scan_opts with_config = *opts;
	with_config.config = cfg;
	with_config.config_path = NULL;
	if (rc == RK_OK)
		rc = scan(&with_config, out, err);
	else
		rc = RK_BADINPUT;
	rk_encconfig_free(cfg);
	return rc;
}

void rk_scan_report_free(rk_scan_report *report)
{
	if (!report)
		return;
	for (size_t i = 0; i < report->nitems; i++) {
		free(report->items[i].etcd_key);
		free(report->items[i].resource);
		free(report->items[i].reason);
	}
	free(report->items);
	free(report->rows);
	free(report->needed);
	free(report->source);
	free(report->prefix);
	free(report);
}

int rk_scan_verdict(const rk_scan_report *report)
{
	return report->unexpected || report->malformed || report->decrypt_failed || report->forbidden
	           ? RK_FAIL
	           : RK_OK;
}

/* "K (why), K (why), ..." of the listed objects (just "K, ..." for a forbid-only gate). */
static void listed_objects(const rk_scan_report *r, int with_reason, uint64_t count, rk_buf *out)
{
	for (size_t i = 0; i < r->nitems; i++) {
		rk_buf_printf(out, "%s%s", i ? ", " : "", r->items[i].etcd_key);
		if (with_reason)
			rk_buf_printf(out, " (%s)", r->items[i].reason);
	}
	if (count > r->nitems)
		rk_buf_append_str(out, ", ...");
}

/* The gates below: scans with o (5 objects listed); on a verdict other than RK_OK, RK_UNSAFE with
 * "<count> stored values <what>: <names>" (the reasons with the names when with_reason). */
static int gate(const rk_scan_opts *o, int with_reason, const char *what, uint64_t *checked,
                uint64_t (*count_of)(const rk_scan_report *), rk_err *err)
{
	rk_scan_report *r = NULL;
	int rc = rk_etcdscan_run(o, &r, err);
	if (rc != RK_OK)
		return rc;
	if (checked)
		*checked = r->total;
	if (rk_scan_verdict(r) != RK_OK) {
		rk_buf names = RK_BUF_INIT;
		uint64_t count = count_of(r);
		listed_objects(r, with_reason, count, &names);
		rc = rk_err_set(err, RK_UNSAFE, "%llu stored values %s: %s", (unsigned long long)count, what,
		                rk_buf_cstr(&names));
		rk_buf_free(&names);
	}
	rk_scan_report_free(r);
	return rc;
}

static uint64_t not_as_expected(const rk_scan_report *r)
{
	return r->unexpected + r->decrypt_failed + r->malformed;
}

static uint64_t not_under_expected(const rk_scan_report *r)
{
	return r->unexpected + r->decrypt_failed;
}

static uint64_t under_forbidden(const rk_scan_report *r)
{
	return r->forbidden;
}

int rk_etcdscan_check_rules(const rk_scan_opts *source, const rk_encconfig *pruned,
                            const unsigned char *rules, const char *new_key, uint64_t *checked, rk_err *err)
{
	rk_scan_opts o = *source;
	o.config = pruned;
	o.config_path = NULL;
	o.expect = NULL;
	o.forbid = NULL;
	o.expect_rules = rules;
	o.list_limit = 5;
	char what[400];
	snprintf(what, sizeof what, "are not under %s or would be unreadable after the prune", new_key);
	return gate(&o, 1, what, checked, not_as_expected, err);
}

int rk_etcdscan_check_prune(const rk_scan_opts *source, const char *old_key, const char *new_key,
                            uint64_t *checked, rk_err *err)
{
	rk_scan_opts o = *source;
	o.config = NULL;
	o.expect = new_key;
	o.forbid = old_key && strcmp(old_key, "identity") != 0 ? old_key : NULL;
	o.list_limit = 5;
	char what[400];
	if (new_key)
		snprintf(what, sizeof what, "are not under %s", new_key);
	else
		snprintf(what, sizeof what, "still under key \"%s\"", old_key);
	return gate(&o, new_key != NULL, what, checked, new_key ? not_under_expected : under_forbidden, err);
}
