/* doctor_cluster.c: agreement across the apiservers that answered: the EncryptionConfiguration each runs
 * (last_config_info's hash, and against the file on its node), and per kms provider the newest key_id its
 * Status calls returned (key_id_hash_status_last_timestamp_seconds), also against what the plugin's own
 * Status reports now. */
#include <stdio.h>
#include <string.h>

#include "doctor_internal.h"

#define GROUPS_MAX 8

/* Apiservers grouped by a value: "cp-1, cp-2 sha256:ab...; cp-3 sha256:cd...". */
typedef struct doc_groups {
	const char *value[GROUPS_MAX];
	char names[GROUPS_MAX][256];
	size_t n, members;
} doc_groups;

static void group_add(doc_groups *g, const char *value, const char *name)
{
	size_t i = 0;
	while (i < g->n && strcmp(g->value[i], value))
		i++;
	if (i == g->n) {
		if (g->n == GROUPS_MAX)
			i = GROUPS_MAX - 1;
		else
			g->value[g->n++] = value;
	}
	size_t used = strlen(g->names[i]);
	snprintf(g->names[i] + used, sizeof g->names[i] - used, "%s%s", used ? ", " : "", name);
	g->members++;
}

static void group_text(const doc_groups *g, char *out, size_t cap)
{
	out[0] = 0;
	for (size_t i = 0; i < g->n; i++) {
		size_t used = strlen(out);
		snprintf(out + used, cap - used, "%s%s: %s", used ? "; " : "", g->names[i], g->value[i]);
	}
}

/* The value an apiserver reports for one agreement check, NULL when it reports none. */
typedef const char *(*doc_value_fn)(const doc_apiserver *a, const char *arg);

/* One agreement check across the apiservers: those reporting a value grouped by it; a critical finding
 * (with action) when they differ ("the apiservers <differ>: cp-1: v1; cp-2: v2"), an OK when they agree
 * ("N apiservers <same> (v)"), nothing when none reports one. */
static void check_same(doc_run *run, const char *check, doc_value_fn value_of, const char *arg,
                       const char *action, const char *differ, const char *same)
{
	doc_groups g;
	memset(&g, 0, sizeof g);
	for (size_t i = 0; i < run->napiservers; i++) {
		const char *value = value_of(&run->apiservers[i], arg);
		if (value)
			group_add(&g, value, run->apiservers[i].node->name);
	}
	char text[900];
	group_text(&g, text, sizeof text);
	if (g.n > 1)
		doc_add(run->report, RK_DOCTOR_CRITICAL, "cluster", check, action, "the apiservers %s: %s",
		        differ, text);
	else if (g.n == 1)
		doc_add(run->report, RK_DOCTOR_OK, "cluster", check, "", "%zu apiservers %s (%s)", g.members,
		        same, g.value[0]);
}

static const char *config_hash_of(const doc_apiserver *a, const char *unused)
{
	(void)unused;
	return a->metrics.config_hash[0] ? a->metrics.config_hash : NULL;
}

static void check_config_hash(doc_run *run)
{
	for (size_t i = 0; i < run->napiservers; i++) {
		const doc_apiserver *a = &run->apiservers[i];
		if (a->metrics.config_hash[0] && a->file_hash[0] &&
		    strcmp(a->file_hash, a->metrics.config_hash))
			doc_add(run->report, RK_DOCTOR_WARNING, a->node->name, "config-file",
			        "the file changed and its apiserver has not loaded it: automatic reload "
			        "polls about every minute (a failed reload is retried; see its log), restart "
			        "reload needs the static pod restarted",
			        "runs %s, but the file on the node is %s", a->metrics.config_hash,
			        a->file_hash);
	}
	check_same(run, "config-hash", config_hash_of, NULL,
	           "make every node's EncryptionConfiguration the same (rekeyctl config hash FILE on "
	           "each) and let each apiserver load it; until then an object written through one "
	           "apiserver may be unreadable through another",
	           "run different EncryptionConfigurations", "run the same EncryptionConfiguration");
}

/* The newest key_id hash an apiserver reports for provider ("" = its only provider), NULL when none. */
static const char *apiserver_key_id(const doc_apiserver *a, const char *provider)
{
	const doc_metrics *m = &a->metrics;
	for (size_t i = 0; i < m->nkeyids; i++)
		if (!strcmp(m->keyids[i].provider, provider) || (!provider[0] && m->nkeyids == 1))
			return m->keyids[i].hash;
	return NULL;
}

static void check_key_id_provider(doc_run *run, const char *provider)
{
	char differ[DOC_NAME_MAX + 64], same[DOC_NAME_MAX + 64];
	snprintf(differ, sizeof differ, "use different key_ids for kms provider %s", provider);
	snprintf(same, sizeof same, "use the same key_id for kms provider %s", provider);
	check_same(run, "key-id", apiserver_key_id, provider,
	           "right after a KEK rotation this lasts up to 60 s (each apiserver's own Status poll; "
	           "GET /readyz/kms-providers on each one speeds it up): run doctor again. If it stays, "
	           "the plugins behind the apiservers report different key_ids: make them use the same "
	           "KMS key, and do not rewrite objects until every apiserver agrees",
	           differ, same);
}

/* What a plugin reports now against the key_id the apiservers it serves use. */
static void check_plugin_key_id(doc_run *run, const doc_plugin *p)
{
	for (size_t i = 0; i < run->napiservers; i++) {
		const doc_apiserver *a = &run->apiservers[i];
		if (p->node[0] && strcmp(p->node, a->node->name))
			continue;
		const char *hash = apiserver_key_id(a, p->provider);
		if (hash && strcmp(hash, p->key_id_hash))
			doc_add(run->report, RK_DOCTOR_WARNING, a->node->name, "key-id-pickup",
			        "the apiserver picks the plugin's key_id up at its next Status call (its "
			        "poll runs every 60 s; GET /readyz/kms-providers on it triggers one 20 s "
			        "after the last): until then it writes under the old key_id",
			        "the newest key_id its Status calls returned is %s; the plugin %s now "
			        "reports %.100s (%s)",
			        hash, p->path, p->status.key_id, p->key_id_hash);
	}
}

void doc_check_agreement(doc_run *run)
{
	check_config_hash(run);
	const char *seen[16];
	size_t nseen = 0;
	for (size_t i = 0; i < run->napiservers; i++) {
		const doc_metrics *m = &run->apiservers[i].metrics;
		for (size_t k = 0; k < m->nkeyids; k++) {
			size_t j = 0;
			while (j < nseen && strcmp(seen[j], m->keyids[k].provider))
				j++;
			if (j < nseen || nseen == sizeof seen / sizeof *seen)
				continue;
			seen[nseen++] = m->keyids[k].provider;
			check_key_id_provider(run, m->keyids[k].provider);
		}
	}
	for (size_t i = 0; i < run->nplugins; i++)
		if (run->plugins[i].answered_ok)
			check_plugin_key_id(run, &run->plugins[i]);
}
