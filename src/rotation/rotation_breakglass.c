/* rotation_breakglass.c: what a break-glass run adds to the rotation machine (docs/kms.md, "Break
 * glass"): the emergency key taken from the plan's 0600 key file (never generated), checked against
 * history, recorded and archived before any node sees it; the loud audit record and banner; and the
 * gates' /readyz without the checks an outage of the KMS fails by design. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "rekey/keyarchive.h"
#include "rekey/keyfile.h"
#include "rekey/log.h"
#include "rotation_setup_internal.h"

const char *rot_readyz_exclude(const rot_ctx *ctx)
{
	/* kms-providers fails while the plugin is down; informer-sync too on an apiserver restarted without
	 * it: its own secrets informer cannot list what only the KMS decrypts ("got unexpected nil
	 * transformer", observed on kube-apiserver v1.34). Every other check must pass. */
	return ctx->break_glass ? "kms-providers,informer-sync" : NULL;
}

struct other_key {
	const char *name, *fingerprint;
	char other[17]; /* a fingerprint history records under that name, "" when none differs */
};

static int find_other_key(const rk_key_event *ev, void *ud)
{
	struct other_key *search = ud;
	if (!strcmp(ev->key_name, search->name) && ev->fingerprint[0] &&
	    strcmp(ev->fingerprint, search->fingerprint) != 0)
		snprintf(search->other, sizeof search->other, "%s", ev->fingerprint);
	return 0;
}

static void record(rot_ctx *ctx, const rk_key *key, const char *fp, const char *event, const char *path)
{
	rk_err ignored;
	rk_store_key_event_add(ctx->store, ctx->plan->cluster, key->name, "aescbc", fp, event, path,
	                       &ignored);
}

int rot_break_glass_key(rot_ctx *ctx, int first, rk_key *key, rk_err *err)
{
	const rk_plan_break_glass *bg = &ctx->plan->break_glass;
	char fp[17] = "", archive[4200], path[4096];
	memset(key, 0, sizeof key[0]);
	int rc = rk_key_read_file(bg->key_file, key, err);
	if (rc == RK_OK && !(key->name = strdup(bg->key_name)))
		rc = rk_err_set(err, RK_FAIL, "out of memory");
	if (rc == RK_OK && rk_key_fingerprint(key, fp) != 0)
		rc = rk_err_set(err, RK_FAIL, "cannot fingerprint %s", bg->key_file);
	struct other_key search = {bg->key_name, fp, ""};
	if (rc == RK_OK)
		rc = rk_store_key_event_list(ctx->store, ctx->plan->cluster, find_other_key, &search, err);
	if (rc == RK_OK && search.other[0])
		rc = rk_err_set(err, RK_UNSAFE,
		                "breakGlass.keyName %s names another key in `rekeyctl history` (fingerprint "
		                "%s, %s holds %s): key names are never reused; name this key differently",
		                bg->key_name, search.other, bg->key_file, fp);
	if (rc == RK_OK)
		rc = rk_archive_dir(ctx->state_dir, archive, sizeof archive, err);
	if (rc == RK_OK)
		rc = rk_archive_put(archive, ctx->plan->cluster, RK_PROV_AESCBC, key, path, sizeof path, err);
	if (rc == RK_OK && first) {
		record(ctx, key, fp, "break-glass-key", bg->key_file);
		record(ctx, key, fp, "archived", path);
		rk_info("key.break-glass", "emergency aescbc key %s (fingerprint %s) from %s, archived to %s",
		        key->name, fp, bg->key_file, path);
	}
	if (rc != RK_OK)
		rk_key_clear(key);
	return rc;
}

void rot_break_glass_announce(rot_ctx *ctx, const char *outcome, const char *detail)
{
	const rk_plan *p = ctx->plan;
	const char *why = ctx->opts->reason ? ctx->opts->reason : "(given when the run started)";
	char text[2048], when[32];
	time_t now = time(NULL);
	struct tm tm;
	gmtime_r(&now, &tm);
	strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
	snprintf(text, sizeof text,
	         "!!! BREAK GLASS %s: cluster %s, run %lld, by %s at %s\n!!! reason: %s\n!!! emergency "
	         "config: aescbc key %s writes first, kms provider %s stays for reads (plan %s)\n%s%s%s",
	         outcome, p->cluster, (long long)ctx->run_id, ctx->holder, when, why, p->break_glass.key_name,
	         p->kms.provider.name, ctx->opts->plan_path, detail ? "!!! " : "", detail ? detail : "",
	         detail ? "\n" : "");
	char audit[RK_STORE_DETAIL_MAX];
	snprintf(audit, sizeof audit, "reason: %s; by %s; key %s first, kms %s kept for reads%s%s", why,
	         ctx->holder, p->break_glass.key_name, p->kms.provider.name, detail ? "; " : "",
	         detail ? detail : "");
	rk_err ignored;
	rk_store_audit_add(ctx->store, p->cluster, ctx->run_id, "break-glass", outcome, audit, &ignored);
	rk_warn("break-glass", "%s: reason: %s", outcome, why);
	if (ctx->opts->banner)
		ctx->opts->banner(text, ctx->opts->banner_ud);
}
