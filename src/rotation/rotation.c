/* rotation.c: the rotation state machine: start or resume a run, walk the stages in order (each one
 * recorded and idempotent), rewrite, verify, prune; plus plan, abort and rollback (see rotation.h). */
#include "rekey/rotation.h"

#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "rekey/etcdscan.h"
#include "rekey/failpoint.h"
#include "rekey/fsutil.h"
#include "rekey/log.h"
#include "rekey/rewrite.h"
#include "rekey/transport.h"
#include "rotation_internal.h"
#include "rotation_preflight_internal.h"
#include "rotation_setup_internal.h"
#include "rotation_steps_internal.h"

static int plan_file_hash(const rot_ctx *ctx, char out[72], rk_err *err)
{
	char *data = NULL;
	size_t len = 0;
	int rc = rk_read_file(ctx->opts->plan_path, &data, &len, err);
	if (rc == RK_OK)
		rk_config_hash(data, len, out);
	free(data);
	return rc;
}

static int unfinished_run(rot_ctx *ctx, rk_run *run, int *found, rk_err *err)
{
	int rc = rk_store_run_latest(ctx->store, ctx->plan->cluster, "rotate", run, found, err);
	/* Only done and aborted end a run: a gate, a refusal or an error leaves it resumable. */
	if (rc == RK_OK && *found && (!strcmp(run->state, "done") || !strcmp(run->state, "aborted")))
		*found = 0;
	return rc;
}

/* A break-glass run is a rotation whose first record is the cluster stage "break-glass". */
#define BREAK_GLASS_STAGE "break-glass"

static int is_break_glass_run(rot_ctx *ctx, int64_t run_id, int *yes, rk_err *err)
{
	rk_stage_status status = RK_STAGE_NONE;
	int rc = rk_store_stage_status(ctx->store, run_id, BREAK_GLASS_STAGE, NULL, &status, err);
	*yes = status != RK_STAGE_NONE;
	return rc;
}

struct name_search {
	const char *name;
	int found;
};

static int name_seen(const rk_key_event *ev, void *ud)
{
	struct name_search *search = ud;
	search->found |= !strcmp(ev->key_name, search->name);
	return 0;
}

/* Whether name is taken: in the cluster's history, or by a backup file (a keyBackupDir may be shared by
 * several clusters of a fleet). Other clusters may use the same name: names are per cluster config. */
static int name_taken(rot_ctx *ctx, const char *name, int *taken, rk_err *err)
{
	struct name_search used = {name, 0};
	char path[4400];
	int rc = rk_store_key_event_list(ctx->store, ctx->plan->cluster, name_seen, &used, err);
	rot_key_backup_path(ctx, name, path, sizeof path);
	*taken = used.found || access(path, F_OK) == 0;
	return rc;
}

/* Sleeps until the next second of the clock, when a new key name (it carries the second) is possible. */
static void next_second(void)
{
	struct timespec now;
	clock_gettime(CLOCK_REALTIME, &now);
	struct timespec rest = {0, 1000000000L - now.tv_nsec};
	nanosleep(&rest, NULL);
}

/* A key name the cluster never used: `<provider>-<UTC timestamp>`, checked against the history and the
 * backups; taken (a rotation of the same cluster, or a fleet's cluster sharing the backup dir, in the same
 * second), the next second's name is tried, 3 times at most. */
static int name_new_key(rot_ctx *ctx, const char *base, size_t len, char *out, size_t cap, rk_err *err)
{
	if (ctx->plan->provider == RK_PROV_IDENTITY || ctx->plan->provider == RK_PROV_KMS) {
		snprintf(out, cap, "%s",
		         ctx->plan->provider == RK_PROV_KMS ? ctx->plan->kms.provider.name : "identity");
		return RK_OK;
	}
	rk_encconfig *cfg = NULL;
	int rc = rk_encconfig_load_buf(base, len, "base config", &cfg, err), taken = 1;
	for (int attempt = 0; rc == RK_OK && taken && attempt < 3; attempt++) {
		rk_key key;
		memset(&key, 0, sizeof key);
		if (attempt)
			next_second();
		rc = rk_key_generate(cfg, ctx->plan->provider, 32, &key, err);
		if (rc == RK_OK)
			rc = name_taken(ctx, key.name, &taken, err);
		if (rc == RK_OK)
			snprintf(out, cap, "%s", key.name);
		if (rc == RK_OK && taken)
			rc = attempt < 2
			         ? RK_OK
			         : rk_err_set(
			               err, RK_STOPPED,
			               "key name %s was used before (see `rekeyctl history`): try again",
			               key.name);
		rk_key_clear(&key);
	}
	rk_encconfig_free(cfg);
	return rc;
}

static int start_run(rot_ctx *ctx, rk_err *err)
{
	rk_run run;
	int found = 0;
	int rc = unfinished_run(ctx, &run, &found, err);
	if (rc == RK_OK && found)
		return rk_err_set(
		    err, RK_UNSAFE,
		    "run %lld of cluster %s is unfinished (%s): continue it with `rekeyctl resume -f PLAN`, "
		    "or end it with `rekeyctl rollback` / `rekeyctl abort`",
		    (long long)run.id, ctx->plan->cluster, run.state);
	rk_buf base = RK_BUF_SECRET;
	char plan_hash[72], new_key[256] = "";
	if (rc == RK_OK && rot_preflight(ctx, &base, NULL, err) != RK_OK)
		rc = rot_stop_if_throttled("preflight", err);
	if (rc == RK_OK)
		rc = plan_file_hash(ctx, plan_hash, err);
	if (rc == RK_OK && ctx->break_glass)
		snprintf(new_key, sizeof new_key, "%s", ctx->plan->break_glass.key_name);
	else if (rc == RK_OK)
		rc = name_new_key(ctx, (const char *)base.data, base.len, new_key, sizeof new_key, err);
	if (rc == RK_OK) {
		rk_encconfig *cfg = NULL;
		rot_scope scope;
		char old_key[512] = "";
		int kek = ctx->plan->kms.kek && !ctx->break_glass;
		int to_kms = ctx->plan->provider == RK_PROV_KMS && !ctx->break_glass;
		rc = rot_base_scope((const char *)base.data, base.len, ctx->plan, &cfg, &scope, err);
		if (rc == RK_OK) {
			rot_scope_old_names(&scope, old_key, sizeof old_key);
			/* refused before a run exists */
			rc = kek ? rot_kek_check_scope(ctx, old_key, err)
			         : rot_scope_check_not_done(&scope, new_key, ctx->break_glass, to_kms, err);
			rot_scope_free(&scope);
		}
		rk_encconfig_free(cfg);
		rk_run_spec spec = {ctx->plan->cluster,
		                    "rotate",
		                    plan_hash,
		                    rk_provider_name(ctx->break_glass ? RK_PROV_AESCBC : ctx->plan->provider),
		                    old_key,
		                    new_key};
		if (rc == RK_OK)
			rc = rk_store_run_create(ctx->store, &spec, &ctx->run_id, err);
		if (rc == RK_OK && ctx->break_glass)
			rc = rk_store_stage_done(ctx->store, ctx->run_id, BREAK_GLASS_STAGE, NULL, new_key,
			                         err);
	}
	if (rc == RK_OK)
		rc = rot_save_base(ctx, (const char *)base.data, base.len, err);
	rk_buf_wipe_free(&base);
	return rc;
}

static int resume_run(rot_ctx *ctx, rk_err *err)
{
	rk_run run;
	int found = 0;
	char plan_hash[72];
	int rc = unfinished_run(ctx, &run, &found, err);
	if (rc == RK_OK && !found)
		return rk_err_set(err, RK_BADINPUT, "cluster %s has no unfinished rotation to resume",
		                  ctx->plan->cluster);
	if (rc == RK_OK)
		rc = plan_file_hash(ctx, plan_hash, err);
	if (rc == RK_OK && strcmp(plan_hash, run.plan_hash) != 0)
		return rk_err_set(err, RK_BADINPUT,
		                  "%s changed since run %lld started (%s, now %s): resume with the same plan",
		                  ctx->opts->plan_path, (long long)run.id, run.plan_hash, plan_hash);
	ctx->run_id = run.id;
	if (rc == RK_OK)
		rc = is_break_glass_run(ctx, run.id, &ctx->break_glass, err);
	if (rc == RK_OK && ctx->break_glass && !ctx->plan->break_glass.present)
		return rk_err_set(err, RK_BADINPUT,
		                  "run %lld is a break-glass run: its plan has a breakGlass section",
		                  (long long)run.id);
	if (rc == RK_OK)
		rc = rk_store_run_set_state(ctx->store, ctx->run_id, "running", -1, err);
	rk_info("rotation.resume", "resuming run %lld of cluster %s", (long long)run.id, ctx->plan->cluster);
	return rc;
}

/* Loads the base config and the key, and derives every config the run writes. The key is generated
 * only while stage-key is not recorded done (may_generate). */
static int prepare_configs(rot_ctx *ctx, int may_generate, rk_err *err)
{
	rk_run run;
	int found = 0;
	char *base = NULL;
	size_t len = 0;
	rk_key key;
	memset(&key, 0, sizeof key);
	int rc = rk_store_run_get(ctx->store, ctx->run_id, &run, &found, err);
	if (rc == RK_OK)
		rc = rot_load_base(ctx, &base, &len, err);
	/* no local key to generate: decrypt (identity) or a kms provider (its key lives in the KMS); break
	 * glass takes the plan's emergency key from its file */
	int keyless = !ctx->break_glass &&
	              (ctx->plan->provider == RK_PROV_IDENTITY || ctx->plan->provider == RK_PROV_KMS);
	if (rc == RK_OK && ctx->break_glass)
		rc = rot_break_glass_key(ctx, may_generate, &key, err);
	else if (rc == RK_OK && !keyless)
		rc = rot_stage_key(ctx, run.new_key, base, len, may_generate, &key, err);
	if (rc == RK_OK)
		rc = rot_configs_derive(base, len, ctx->plan, keyless ? NULL : &key, ctx->break_glass,
		                        &ctx->cfgs, err);
	rk_key_clear(&key);
	if (base)
		OPENSSL_cleanse(base, len);
	free(base);
	return rc;
}

/* The key stage: generate and back up the new key (first time), derive the configs (every time). */
static int stage_key(rot_ctx *ctx, rk_err *err)
{
	int done = 0;
	int rc = rot_stage_is_done(ctx, "stage-key", NULL, &done, err);
	if (rc == RK_OK && !done) {
		rc = rk_store_stage_intent(ctx->store, ctx->run_id, "stage-key", NULL, NULL, err);
		RK_FAILPOINT("stage-key", NULL, "intent");
	}
	if (rc == RK_OK)
		rc = prepare_configs(ctx, !done, err);
	if (rc == RK_OK && !done) {
		RK_FAILPOINT("stage-key", NULL, "derived");
		rc = rk_store_stage_done(ctx->store, ctx->run_id, "stage-key", NULL, ctx->cfgs.new_key, err);
		rot_metrics_write(ctx, 1);
		RK_FAILPOINT("stage-key", NULL, "done");
	}
	return rc;
}

/* Stops the rewrite at a signal, a lost lock, or the end of the maintenance window (checkpointed). */
static void check_rewrite_stop(rot_ctx *ctx)
{
	if ((ctx->opts->stop && *ctx->opts->stop) || ctx->lease_lost)
		ctx->rewrite_stop = 1;
	if (!ctx->opts->ignore_window && ctx->window_end != (time_t)-1 && time(NULL) >= ctx->window_end &&
	    !ctx->rewrite_stop) {
		rk_warn("rewrite.window-end", "the maintenance window ended: checkpointing and stopping");
		ctx->rewrite_stop = 1;
	}
}

/* The rewrite's progress: stop checks, a failpoint halfway, then the caller's display. */
static void rewrite_progress(const rk_rewrite_progress *p, void *ud)
{
	rot_ctx *ctx = ud;
	check_rewrite_stop(ctx);
	if (p->total > 0 && p->done * 2 >= p->total && !p->final)
		RK_FAILPOINT("rewrite", NULL, "midway");
	rot_metrics_write(ctx, p->final);
	if (ctx->opts->progress)
		ctx->opts->progress(p, ctx->opts->progress_ud);
}

/* The stored resources the selected rules cover, by discovery now (a CRD created since the run started is
 * included), as names the rewrite engine resolves exactly. */
static int rewrite_targets(rot_ctx *ctx, char ***names, size_t *n, rk_err *err)
{
	rk_encconfig *base = NULL;
	const rk_buf *b = &ctx->cfgs.bytes[ROT_CFG_BASE];
	*names = NULL;
	*n = 0;
	int rc = rk_encconfig_load_buf((const char *)b->data, b->len, "the nodes' config", &base, err);
	if (rc == RK_OK)
		rc = rot_scope_names(&ctx->cfgs.scope, base, ctx->kube, names, n, err);
	rk_encconfig_free(base);
	if (rc == RK_OK)
		rk_info("rewrite.scope", "%zu stored resources under the selected rules", *n);
	return rc;
}

/* The node names of the rewrite's endpoints (the first node with each URL), as the gates name them. */
static const char **endpoint_names(const rk_plan *p, const char **urls, size_t n)
{
	const char **names = calloc(n + 1, sizeof *names);
	for (size_t i = 0; names && i < n; i++)
		for (size_t j = 0; j < p->nnodes && !names[i]; j++)
			if (!strcmp(p->nodes[j].apiserver, urls[i]))
				names[i] = p->nodes[j].name;
	return names;
}

static int run_rewrite(rot_ctx *ctx, const char *const *names, size_t n, rk_err *err)
{
	const rk_plan *p = ctx->plan;
	rk_rewrite_opts o;
	rk_rewrite_opts_init(&o);
	o.cluster = p->cluster;
	o.run_id = ctx->run_id;
	o.resources = names;
	o.nresources = n;
	o.settings = p->rewrite;
	rk_rewrite_hooks hooks = {rewrite_progress, ctx, &ctx->rewrite_stop};
	ctx->rewrite_stop = 0;
	if (!rk_plan_in_window(p, time(NULL), &ctx->window_end) && !ctx->opts->ignore_window)
		return rk_err_set(err, RK_STOPPED,
		                  "outside every maintenance window of the plan: resume in the next one");
	const char **endpoints = rk_plan_apiservers(p, &o.nendpoints); /* every node's own apiserver */
	const char **node_names = endpoints ? endpoint_names(p, endpoints, o.nendpoints) : NULL;
	if (!node_names) {
		free(endpoints);
		return rk_err_set(err, RK_FAIL, "out of memory");
	}
	o.endpoints = endpoints;
	o.endpoint_names = node_names;
	rk_rewrite_result result;
	int rc = rk_rewrite_run(&o, ctx->store, ctx->kcfg, &hooks, &result, err);
	/* fail closed: a KMS failure pauses the rewrite at its checkpoint until the KMS is healthy again */
	while (rc == RK_STOPPED && result.stopped == 3 && !ctx->rewrite_stop) {
		char why[sizeof result.kms_error];
		snprintf(why, sizeof why, "%s", result.kms_error);
		rk_rewrite_result_free(&result);
		if ((rc = rot_kms_wait_healthy(ctx, why, err)) != RK_OK)
			break; /* still unhealthy (result zeroed: its message stands), resumable */
		rc = rk_rewrite_run(&o, ctx->store, ctx->kcfg, &hooks, &result, err);
	}
	free(endpoints);
	free(node_names);
	if (rc == RK_STOPPED && result.stopped) /* the rewrite's own message names its own --resume */
		rc = rk_err_set(
		    err, RK_STOPPED, "rewrite stopped %s at a checkpoint: `rekeyctl resume -f %s` continues",
		    result.stopped == 2                   ? "by the budget (abort)"
		    : result.stopped == 3                 ? "by a KMS failure"
		    : ctx->lease_lost                     ? "(the cluster lock was lost)"
		    : ctx->opts->stop && *ctx->opts->stop ? "by a signal"
		                                          : "at the end of the maintenance window",
		    ctx->opts->plan_path);
	if (rc == RK_FAIL)
		rc = rk_err_set(
		    err, RK_UNSAFE,
		    "rewrite finished with %lld failed objects and %lld orphans: the old key stays%s%s; "
		    "see `rekeyctl status` and fix them, then `rekeyctl resume`",
		    (long long)result.counts.failed, (long long)result.orphans,
		    result.failures[0] ? ": " : "", result.failures);
	rk_rewrite_result_free(&result);
	return rc;
}

static int stage_rewrite(rot_ctx *ctx, rk_err *err)
{
	char **names = NULL;
	size_t n = 0;
	int rc = rewrite_targets(ctx, &names, &n, err);
	if (rc == RK_OK && n == 0)
		rk_warn("rewrite.empty",
		        "no stored resource is under the selected rules: nothing to rewrite");
	if (rc == RK_OK && n > 0)
		rc = run_rewrite(ctx, (const char *const *)names, n, err);
	rot_names_free(&names, &n);
	return rc;
}

/* Every stored value under /registry/: those of the selected rules under the new key, every one readable
 * with the pruned config (so a key the prune drops from one rule but another still uses is judged by the
 * rule that reads it). A KEK rotation changes no config: the selected rules' values under the kms
 * provider with the target keyID, every one readable with the base config. */
static int verify_etcd(rot_ctx *ctx, rk_err *err)
{
	int kek = ctx->plan->kms.kek;
	rk_scan_opts so = {.etcd_url = ctx->plan->etcd.url,
	                   .cacert = ctx->plan->etcd.cacert,
	                   .cert = ctx->plan->etcd.cert,
	                   .key = ctx->plan->etcd.key,
	                   .expect_key_id = kek ? ctx->kek_key_id : NULL};
	const rk_buf *pruned = &ctx->cfgs.bytes[kek ? ROT_CFG_BASE : ROT_CFG_PRUNED];
	rk_encconfig *cfg = NULL;
	uint64_t checked = 0;
	int rc = rk_encconfig_load_buf((const char *)pruned->data, pruned->len,
	                               kek ? "the nodes' config" : "pruned config", &cfg, err);
	if (rc == RK_OK)
		rc = rk_etcdscan_check_rules(&so, cfg, ctx->cfgs.scope.selected, ctx->cfgs.new_key, &checked,
		                             err);
	rk_encconfig_free(cfg);
	if (rc == RK_UNSAFE)
		return rk_err_wrap(err, RK_UNSAFE,
		                   kek ? "verify: objects left under another keyID"
		                       : "verify: pruning refused");
	if (rc == RK_OK)
		rk_info("verify.etcd",
		        "%llu stored values: the selected rules' all under %s%s%s, every one readable after "
		        "the prune",
		        (unsigned long long)checked, ctx->cfgs.new_key, kek ? " keyID " : "",
		        kek ? ctx->kek_key_id : "");
	return rc;
}

static int stage_verify(rot_ctx *ctx, rk_err *err)
{
	int64_t orphans = 0;
	rk_rewrite_status st;
	int found = 0;
	int rc = rk_store_orphan_count(ctx->store, ctx->run_id, &orphans, err);
	if (rc == RK_OK && orphans > 0)
		return rk_err_set(err, RK_UNSAFE,
		                  "verify: %lld orphaned objects are still under the old key: pruning "
		                  "refused (see `rekeyctl status`)",
		                  (long long)orphans);
	if (rc == RK_OK)
		rc = rk_rewrite_status_get(ctx->store, ctx->plan->cluster, ctx->run_id, &st, &found, err);
	if (rc == RK_OK && found && st.counts.failed > 0)
		return rk_err_set(
		    err, RK_UNSAFE,
		    "verify: %lld objects could not be rewritten and are still under the old key: "
		    "pruning refused (see `rekeyctl status`)",
		    (long long)st.counts.failed);
	if (rc == RK_OK && ctx->plan->etcd.url)
		rc = verify_etcd(ctx, err);
	return rc;
}

static int stage_probe(rot_ctx *ctx, rk_err *err)
{
	return rot_probe_cross_read(ctx, rk_plan_find_node(ctx->plan, ctx->plan->canary), err);
}

/* Read everywhere, promote on the canary, probe, promote everywhere; then (not for break glass, which
 * keeps the kms provider and cannot decrypt what the KMS holds) rewrite, verify, archive and prune. */
static int walk_stages(rot_ctx *ctx, rk_err *err)
{
	rk_transport *t = NULL;
	const rk_plan_node *canary = rk_plan_find_node(ctx->plan, ctx->plan->canary);
	int rc = rot_transport_open(ctx, &t, err);
	if (rc == RK_OK)
		rc = rot_rollout(ctx, t, "read", ROT_CFG_READ, 0, err);
	if (rc == RK_OK) {
		rk_info("rotation.read-everywhere", "every apiserver reads %s", ctx->cfgs.new_key);
		rot_key_event(ctx, ctx->cfgs.new_key, "read-everywhere");
	}
	if (rc == RK_OK)
		rc = rot_node_step(ctx, t, "promote", canary, ROT_CFG_WRITE, err);
	if (rc == RK_OK)
		rc = rot_cluster_step(ctx, "probe", stage_probe, err);
	if (rc == RK_OK)
		rc = rot_rollout(ctx, t, "promote", ROT_CFG_WRITE, 1, err);
	int full = !ctx->break_glass;
	if (rc == RK_OK && full)
		rc = rot_cluster_step(ctx, "rewrite", stage_rewrite, err);
	if (rc == RK_OK && full)
		rc = rot_cluster_step(ctx, "verify", stage_verify, err);
	if (rc == RK_OK && full)
		rc = rot_cluster_step(ctx, "archive", rot_archive_pruned_keys, err);
	if (rc == RK_OK && full)
		rc = rot_rollout(ctx, t, "prune", ROT_CFG_PRUNED, 0, err);
	rk_transport_free(t);
	return rc;
}

/* A KEK rotation's scope: the base config (kept as it is) and the rules the plan selects in it, for the
 * rewrite's resources and the verify. */
static int kek_scope(rot_ctx *ctx, rk_err *err)
{
	char *base = NULL;
	size_t len = 0;
	rk_encconfig *cfg = NULL;
	rk_buf *kept = &ctx->cfgs.bytes[ROT_CFG_BASE];
	rk_buf_set_secret(kept);
	int rc = rot_load_base(ctx, &base, &len, err);
	if (rc == RK_OK)
		rc = rot_base_scope(base, len, ctx->plan, &cfg, &ctx->cfgs.scope, err);
	rk_encconfig_free(cfg);
	if (rc == RK_OK && rk_buf_append(kept, base, len) != 0)
		rc = rk_err_set(err, RK_FAIL, "out of memory");
	if (base)
		OPENSSL_cleanse(base, len);
	free(base);
	return rc;
}

/* A KEK rotation: no config changes; the key_id changes inside the KMS (rotation_kms.c). */
static int walk_kek(rot_ctx *ctx, rk_err *err)
{
	const char *name = ctx->plan->kms.provider.name;
	snprintf(ctx->cfgs.old_key, sizeof ctx->cfgs.old_key, "%s", name);
	snprintf(ctx->cfgs.new_key, sizeof ctx->cfgs.new_key, "%s", name);
	int rc = kek_scope(ctx, err);
	if (rc == RK_OK)
		rc = rot_cluster_step(ctx, "kek-target", rot_kek_target, err);
	if (rc == RK_OK && !ctx->kek_key_id[0])
		rc = rot_kek_load_target(ctx, err);
	if (rc == RK_OK)
		rc = rot_cluster_step(ctx, "kek-pickup", rot_kek_pickup, err);
	if (rc == RK_OK)
		rc = rot_cluster_step(ctx, "rewrite", stage_rewrite, err);
	if (rc == RK_OK)
		rc = rot_cluster_step(ctx, "verify", stage_verify, err);
	return rc;
}

/* A key the selected rules no longer write with is "pruned" only once no rule holds it: one still used by
 * another rule stays (and is not archived). */
static void record_key_lifecycle(rot_ctx *ctx)
{
	rot_key_event(ctx, ctx->cfgs.new_key, "promoted");
	if (ctx->break_glass)
		return;
	rot_key_event(ctx, ctx->cfgs.new_key, "rewrite-done");
	const rk_buf *b = &ctx->cfgs.bytes[ROT_CFG_PRUNED];
	rk_encconfig *pruned = NULL;
	rk_err err;
	if (rk_encconfig_load_buf((const char *)b->data, b->len, "pruned config", &pruned, &err) != RK_OK)
		return;
	for (size_t i = 0; i < ctx->cfgs.scope.nold; i++) {
		const char *name = ctx->cfgs.scope.old[i].name;
		if (!strcmp(name, "identity") || !rk_encconfig_has_key_name(pruned, name))
			rot_key_event(ctx, name, "pruned");
		else
			rk_info("key.kept",
			        "%s no longer writes the selected rules but another rule still uses it: kept",
			        name);
	}
	rk_encconfig_free(pruned);
}

/* A KEK rotation: the kms provider writes under its new key_id everywhere, and every selected object
 * was rewritten under it (no config changed, so nothing was pruned). */
static void record_kek_lifecycle(rot_ctx *ctx)
{
	rot_kms_key_event(ctx, ctx->plan->kms.provider.name, "promoted");
	rot_kms_key_event(ctx, ctx->plan->kms.provider.name, "rewrite-done");
}

static const char *state_for(int rc)
{
	return rc == RK_OK ? "done" : rc == RK_STOPPED ? "stopped" : "failed";
}

static int finish_run(rot_ctx *ctx, int rc, const char *action, rk_err *err)
{
	rk_err ignored;
	if (ctx->run_id > 0) {
		rk_store_run_set_state(ctx->store, ctx->run_id, state_for(rc), rc, &ignored);
		if (action) /* NULL: the caller wrote its own record */
			rk_store_audit_add(ctx->store, ctx->plan->cluster, ctx->run_id, action, state_for(rc),
			                   rc == RK_OK ? NULL : err->msg, &ignored);
		rot_metrics_write(ctx, 1);
	}
	return rc;
}

/* Break glass continues its own unfinished run (an operator under pressure runs the same command
 * again); any other unfinished run refuses in start_run. */
static int start_or_continue(rot_ctx *ctx, int resume, rk_err *err)
{
	rk_run run;
	int found = 0;
	int bg_run = 0;
	int rc = ctx->break_glass && !resume ? unfinished_run(ctx, &run, &found, err) : RK_OK;
	if (rc == RK_OK && found)
		rc = is_break_glass_run(ctx, run.id, &bg_run, err);
	if (rc != RK_OK)
		return rc;
	return resume || bg_run ? resume_run(ctx, err) : start_run(ctx, err);
}

static int run_machine(rot_ctx *ctx, int resume, rk_err *err)
{
	const rk_rotation_opts *opts = ctx->opts;
	int rc = rot_lock_acquire(ctx, err);
	int locked = rc == RK_OK;
	const char *action = ctx->break_glass ? "break-glass" : resume ? "resume" : "rotate";
	if (rc == RK_OK)
		rc = start_or_continue(ctx, resume, err);
	action = ctx->break_glass ? "break-glass" : action;
	if (rc == RK_OK && ctx->break_glass)
		rot_break_glass_announce(ctx, "started", NULL);
	else if (rc == RK_OK)
		rk_store_audit_add(ctx->store, ctx->plan->cluster, ctx->run_id, action, "started",
		                   opts->plan_path, err);
	if (rc == RK_OK && opts->ignore_window)
		rk_store_audit_add(ctx->store, ctx->plan->cluster, ctx->run_id, "ignore-window", "used", NULL,
		                   err);
	int kek = ctx->plan->kms.kek && !ctx->break_glass;
	if (rc == RK_OK)
		rc = rot_probe_cleanup(ctx, err);
	if (rc == RK_OK)
		rc = rot_cluster_step(ctx, "preflight", NULL, err);
	if (rc == RK_OK && kek)
		rc = walk_kek(ctx, err);
	if (rc == RK_OK && !kek)
		rc = stage_key(ctx, err);
	if (rc == RK_OK && !kek)
		rc = walk_stages(ctx, err);
	if (rc == RK_OK && (rc = rot_cluster_step(ctx, "done", NULL, err)) == RK_OK && kek)
		record_kek_lifecycle(ctx);
	else if (rc == RK_OK)
		record_key_lifecycle(ctx);
	if (ctx->run_id > 0 && ctx->break_glass)
		rot_break_glass_announce(ctx, state_for(rc), rc == RK_OK ? NULL : err->msg);
	if (ctx->store)
		finish_run(ctx, rc, ctx->break_glass ? NULL : action, err);
	if (locked)
		rot_lock_release(ctx);
	return rc;
}

int rk_rotation_run(const rk_rotation_opts *opts, int resume, rk_err *err)
{
	rot_ctx ctx;
	int rc = rot_ctx_open(&ctx, opts, err);
	if (rc == RK_OK)
		rc = run_machine(&ctx, resume, err);
	rot_ctx_close(&ctx);
	return rc;
}

static int blank(const char *text)
{
	for (; text && *text; text++)
		if (*text != ' ' && *text != '\t')
			return 0;
	return 1;
}

int rk_rotation_break_glass(const rk_rotation_opts *opts, rk_err *err)
{
	if (blank(opts->reason))
		return rk_err_set(
		    err, RK_BADINPUT,
		    "--reason TEXT is required: why the glass is broken goes into the audit log");
	rot_ctx ctx;
	int rc = rot_ctx_open(&ctx, opts, err);
	if (rc == RK_OK && !ctx.plan->break_glass.present)
		rc = rk_err_set(err, RK_BADINPUT,
		                "%s has no breakGlass section: the emergency config must be agreed in the "
		                "plan beforehand (docs/kms.md, \"Break glass\")",
		                opts->plan_path);
	ctx.break_glass = 1;
	if (rc == RK_OK)
		rc = run_machine(&ctx, 0, err);
	rot_ctx_close(&ctx);
	return rc;
}

/* ---- plan, abort, rollback ---- */

int rk_rotation_plan(const rk_rotation_opts *opts, rk_rotation_preview *out, rk_err *err)
{
	rot_ctx ctx;
	rk_buf base = RK_BUF_SECRET;
	memset(out, 0, sizeof *out);
	rot_trend trend;
	memset(&trend, 0, sizeof trend);
	int rc = rot_ctx_open(&ctx, opts, err);
	rk_rotation_opts relaxed = *opts;
	relaxed.ignore_window = 1; /* plan reports the window and the budget instead of refusing */
	ctx.opts = &relaxed;
	if (rc == RK_OK)
		rc = rot_preflight(&ctx, &base, &trend, err);
	rk_encconfig *cfg = NULL;
	rot_scope scope;
	memset(&scope, 0, sizeof scope);
	if (rc == RK_OK &&
	    (rc = rot_base_scope((const char *)base.data, base.len, ctx.plan, &cfg, &scope, err)) == RK_OK) {
		time_t end;
		rot_scope_old_names(&scope, out->write_key, sizeof out->write_key);
		rk_config_hash(base.data, base.len, out->config_hash);
		out->window_open = rk_plan_in_window(ctx.plan, time(NULL), &end);
		rc = rot_preview_rules(&ctx, cfg, &scope, out, err);
	}
	rot_scope_free(&scope);
	if (rc == RK_OK)
		rc = rot_trend_preview(&trend, ctx.plan->preflight_window_ms, out, err);
	if (rc == RK_OK) { /* the preview keeps the plan */
		out->plan = ctx.plan;
		ctx.plan = NULL;
	}
	rk_encconfig_free(cfg);
	rot_trend_free(&trend);
	rk_buf_wipe_free(&base);
	rot_ctx_close(&ctx);
	if (rc != RK_OK)
		rk_rotation_preview_free(out);
	return rc;
}

void rk_rotation_preview_free(rk_rotation_preview *p)
{
	rk_plan_free(p->plan);
	for (size_t i = 0; p->rules && i < p->nrules; i++) {
		rot_names_free(&p->rules[i].entries, &p->rules[i].nentries);
		free(p->rules[i].resources);
	}
	free(p->rules);
	free(p->trend);
	memset(p, 0, sizeof *p);
}

static int open_unfinished(rot_ctx *ctx, const rk_rotation_opts *opts, rk_err *err)
{
	rk_run run;
	int found = 0;
	int rc = rot_ctx_open(ctx, opts, err);
	if (rc == RK_OK)
		rc = unfinished_run(ctx, &run, &found, err);
	if (rc == RK_OK && !found)
		rc =
		    rk_err_set(err, RK_BADINPUT, "cluster %s has no unfinished rotation", ctx->plan->cluster);
	if (rc == RK_OK) {
		ctx->run_id = run.id;
		rc = is_break_glass_run(ctx, run.id, &ctx->break_glass, err);
	}
	return rc;
}

int rk_rotation_abort(const rk_rotation_opts *opts, rk_err *err)
{
	rot_ctx ctx;
	int rc = open_unfinished(&ctx, opts, err);
	if (rc == RK_OK)
		rc = rot_lock_acquire(&ctx, err);
	int locked = rc == RK_OK;
	if (rc == RK_OK)
		rc = rot_probe_cleanup(&ctx, err);
	if (rc == RK_OK) {
		rk_store_run_set_state(ctx.store, ctx.run_id, "aborted", RK_STOPPED, err);
		rk_store_audit_add(ctx.store, ctx.plan->cluster, ctx.run_id, "abort", "done",
		                   "configs left as they were; every stage boundary is a safe state", err);
		rk_info("rotation.aborted", "run %lld aborted; configs unchanged", (long long)ctx.run_id);
	}
	if (locked)
		rot_lock_release(&ctx);
	rot_ctx_close(&ctx);
	return rc;
}

static int stage_started(rot_ctx *ctx, const char *stage, int *started, rk_err *err)
{
	*started = 0;
	for (size_t i = 0; i < ctx->plan->nnodes; i++) {
		rk_stage_status status = RK_STAGE_NONE;
		int rc = rk_store_stage_status(ctx->store, ctx->run_id, stage, ctx->plan->nodes[i].name,
		                               &status, err);
		if (rc != RK_OK)
			return rc;
		*started |= status != RK_STAGE_NONE;
	}
	return RK_OK;
}

int rk_rotation_rollback(const rk_rotation_opts *opts, rk_err *err)
{
	rot_ctx ctx;
	int pruning = 0, promoted = 0;
	int rc = open_unfinished(&ctx, opts, err);
	if (rc == RK_OK && ctx.plan->kms.kek)
		rc = rk_err_set(
		    err, RK_BADINPUT,
		    "a KEK rotation changes no config: nothing to roll back (`rekeyctl abort` ends "
		    "run %lld; the KMS keeps the old KEK for decryption)",
		    (long long)ctx.run_id);
	if (rc == RK_OK)
		rc = rot_lock_acquire(&ctx, err);
	int locked = rc == RK_OK;
	if (rc == RK_OK)
		rc = rot_probe_cleanup(&ctx, err);
	if (rc == RK_OK)
		rc = stage_started(&ctx, "prune", &pruning, err);
	if (rc == RK_OK && pruning)
		rc = rk_err_set(err, RK_UNSAFE,
		                "rollback refused: pruning of the old key has started (run %lld); "
		                "finish it with `rekeyctl resume`",
		                (long long)ctx.run_id);
	if (rc == RK_OK)
		rc = stage_started(&ctx, "promote", &promoted, err);
	int key_staged = 0;
	if (rc == RK_OK)
		rc = rot_stage_is_done(&ctx, "stage-key", NULL, &key_staged, err);
	if (rc == RK_OK)
		rc = prepare_configs(&ctx, !key_staged, err);
	rk_transport *t = NULL;
	if (rc == RK_OK)
		rc = rot_transport_open(&ctx, &t, err);
	/* Before promotion: the base config everywhere. After: the old key writes again, the new one stays
	 * readable (objects may already be under it). Either is safe in any node order. */
	if (rc == RK_OK)
		rc = rot_rollout(&ctx, t, "rollback", promoted ? ROT_CFG_READ : ROT_CFG_BASE, 0, err);
	rk_transport_free(t);
	if (rc == RK_OK) {
		rk_store_run_set_state(ctx.store, ctx.run_id, "aborted", RK_OK, err);
		rk_info("rotation.rolled-back", "run %lld rolled back: %s", (long long)ctx.run_id,
		        promoted ? "old key writes again, new key kept as read key"
		                 : "new key removed everywhere");
	}
	if (ctx.store && ctx.run_id > 0)
		rk_store_audit_add(ctx.store, ctx.plan->cluster, ctx.run_id, "rollback",
		                   rc == RK_OK ? "done" : "failed", rc == RK_OK ? NULL : err->msg, err);
	if (locked)
		rot_lock_release(&ctx);
	rot_ctx_close(&ctx);
	return rc;
}
