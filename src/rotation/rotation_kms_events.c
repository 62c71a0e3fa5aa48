/* rotation_kms_events.c: key events of kms providers for `rekeyctl history`. A kms provider has no local
 * key to fingerprint: its events carry its name, provider "kms" and the KMS key_id when one is known (a
 * KEK rotation's target; else the plugin's Status when the plan's socket is on this machine; else the
 * key_id history last recorded under that name), never key material (docs/kms.md, "History"). */
#include <stdio.h>
#include <string.h>

#include "rekey/kmsplugin.h"
#include "rekey/log.h"
#include "rotation_setup_internal.h"

#define STATUS_DEADLINE_MS 2000

struct last_key_id {
	const char *name;
	char key_id[RK_STORE_KEY_ID_MAX];
};

static int find_last_key_id(const rk_key_event *ev, void *ud)
{
	struct last_key_id *search = ud;
	if (!strcmp(ev->provider, "kms") && !strcmp(ev->key_name, search->name) && ev->key_id[0])
		snprintf(search->key_id, sizeof search->key_id, "%s", ev->key_id);
	return 0;
}

/* The plugin's key_id when the plan names this provider and its socket is here and healthy. */
static void status_key_id(const rot_ctx *ctx, const char *name, char out[RK_STORE_KEY_ID_MAX])
{
	const char *socket = rk_plan_kms_socket(ctx->plan);
	const char *planned = ctx->plan->kms.provider.name;
	rk_kms_status st;
	rk_err why;
	if (!socket || !planned || strcmp(planned, name) != 0)
		return;
	if (rk_kms_plugin_status(socket, STATUS_DEADLINE_MS, &st, &why) != RK_OK)
		rk_debug("key.kms-status", "kms plugin Status over %s: %s", socket, why.msg);
	else if (!rk_kms_status_problem(&st))
		snprintf(out, RK_STORE_KEY_ID_MAX, "%s", st.key_id);
}

static void known_key_id(rot_ctx *ctx, const char *name, char out[RK_STORE_KEY_ID_MAX])
{
	const char *planned = ctx->plan->kms.provider.name;
	out[0] = '\0';
	if (ctx->kek_key_id[0] && planned && !strcmp(planned, name)) {
		snprintf(out, RK_STORE_KEY_ID_MAX, "%s", ctx->kek_key_id);
		return;
	}
	status_key_id(ctx, name, out);
	if (out[0])
		return;
	struct last_key_id search = {name, ""};
	rk_err ignored;
	if (rk_store_key_event_list(ctx->store, ctx->plan->cluster, find_last_key_id, &search, &ignored) ==
	    RK_OK)
		snprintf(out, RK_STORE_KEY_ID_MAX, "%s", search.key_id);
}

void rot_kms_key_event(rot_ctx *ctx, const char *provider_name, const char *event)
{
	char key_id[RK_STORE_KEY_ID_MAX];
	rk_err err;
	known_key_id(ctx, provider_name, key_id);
	if (rk_store_kms_key_event_add(ctx->store, ctx->plan->cluster, provider_name,
	                               key_id[0] ? key_id : NULL, event, &err) != RK_OK)
		rk_warn("key.event", "kms provider %s: %s not recorded in history: %s", provider_name, event,
		        err.msg);
}
