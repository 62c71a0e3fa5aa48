/* rotation_keyage.c: how old a cluster's write key is (`rekeyctl due`, the rotation's metrics): from the
 * history in the state db, else from the time in the key's name as found in the canary node's config. */
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "rekey/transport.h"
#include "rotation_internal.h"

struct generated_search {
	const char *name;
	char at[RK_STORE_TIME_MAX];
};

static int find_generated_at(const rk_key_event *ev, void *ud)
{
	struct generated_search *s = ud;
	if (!strcmp(ev->key_name, s->name) && !strcmp(ev->event, "generated"))
		snprintf(s->at, sizeof s->at, "%s", ev->at);
	return 0;
}

static void set_created(rk_key_age *age, const char *source, double created)
{
	snprintf(age->source, sizeof age->source, "%s", source);
	age->created = created;
	time_t t = (time_t)created;
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(age->created_at, sizeof age->created_at, "%Y-%m-%dT%H:%M:%S.000Z", &tm);
}

struct last_done {
	rk_run run;
	int found;
};

static int find_last_done(const rk_run *run, void *ud)
{
	struct last_done *last = ud;
	if (strcmp(run->kind, "rotate") != 0 || strcmp(run->state, "done") != 0)
		return 0;
	last->run = *run;
	last->found = 1;
	return 100; /* newest first: the first one is it (100: not an rk_code) */
}

int rot_last_done_rotation(rk_store *store, const char *cluster, rk_run *run, int *found, rk_err *err)
{
	struct last_done *last = calloc(1, sizeof *last);
	*found = 0;
	if (!last)
		return rk_err_set(err, RK_FAIL, "out of memory");
	int walk = rk_store_run_list(store, cluster, 0, find_last_done, last, err);
	int rc = walk == 100 ? RK_OK : walk;
	if (rc == RK_OK && last->found) {
		*run = last->run;
		*found = 1;
	}
	free(last);
	return rc;
}

int rot_key_generated_at(rk_store *store, const char *cluster, const char *key, char *at, size_t cap,
                         rk_err *err)
{
	struct generated_search gen = {key, ""};
	int rc = rk_store_key_event_list(store, cluster, find_generated_at, &gen, err);
	snprintf(at, cap, "%s", rc == RK_OK ? gen.at : "");
	return rc;
}

/* The newest finished rotation's new key, created when it was generated (else when the run started). */
static int age_from_history(rk_store *store, const rk_plan *plan, rk_key_age *age, int *found, rk_err *err)
{
	rk_run run, last;
	int any = 0;
	*found = 0;
	int rc = rk_store_run_latest(store, plan->cluster, "rotate", &run, &any, err);
	if (rc == RK_OK && any && strcmp(run.state, "done") && strcmp(run.state, "aborted")) {
		age->unfinished = run.id;
		snprintf(age->unfinished_state, sizeof age->unfinished_state, "%s", run.state);
	}
	if (rc == RK_OK)
		rc = rot_last_done_rotation(store, plan->cluster, &last, found, err);
	char at[RK_STORE_TIME_MAX] = "";
	if (rc == RK_OK && *found) {
		snprintf(age->key, sizeof age->key, "%s", last.new_key);
		rc = rot_key_generated_at(store, plan->cluster, last.new_key, at, sizeof at, err);
	}
	if (rc == RK_OK && *found)
		set_created(age, "history", rk_store_time_parse(at[0] ? at : last.started_at));
	return rc;
}

/* The oldest write key of the rules the plan selects: the one whose name carries no time (its age cannot
 * be known, so it is not taken for young), else the earliest time. */
static void oldest_write_key(const rot_scope *s, char *out, size_t cap)
{
	time_t oldest = 0;
	out[0] = '\0';
	for (size_t i = 0; i < s->nold; i++) {
		time_t when;
		if (rk_key_name_time(s->old[i].name, &when) != 0) {
			snprintf(out, cap, "%s", s->old[i].name);
			return;
		}
		if (!out[0] || when < oldest) {
			snprintf(out, cap, "%s", s->old[i].name);
			oldest = when;
		}
	}
}

/* The canary's config, the selected rules' oldest write key, and the time in that key's name. */
static int age_from_node(const rk_plan *plan, rk_key_age *age, rk_err *err)
{
	rk_transport *t = NULL;
	char *data = NULL;
	size_t len = 0;
	rk_encconfig *cfg = NULL;
	rot_scope scope;
	memset(&scope, 0, sizeof scope);
	int rc = rk_transport_new(plan, &t, err);
	if (rc == RK_OK)
		rc = rk_transport_read_config(t, rk_plan_find_node(plan, plan->canary), &data, &len, err);
	if (rc == RK_OK)
		rc = rot_base_scope(data, len, plan, &cfg, &scope, err);
	if (rc == RK_OK)
		oldest_write_key(&scope, age->key, sizeof age->key);
	rot_scope_free(&scope);
	rk_encconfig_free(cfg);
	if (data)
		OPENSSL_cleanse(data, len);
	free(data);
	rk_transport_free(t);
	return rc;
}

int rk_rotation_key_age(const char *plan_path, const char *state_dir, rk_key_age *age, rk_err *err)
{
	memset(age, 0, sizeof *age);
	age->created = -1;
	snprintf(age->source, sizeof age->source, "unknown");
	rk_plan *plan = NULL;
	rk_store *store = NULL;
	char dir[4096];
	int rc = rk_plan_load_file(plan_path, &plan, err);
	if (rc == RK_OK)
		snprintf(age->cluster, sizeof age->cluster, "%s", plan->cluster);
	if (rc == RK_OK)
		rc = rk_store_state_dir(state_dir, dir, sizeof dir, err);
	if (rc == RK_OK)
		rc = rk_store_open(dir, &store, err);
	int found = 0;
	if (rc == RK_OK)
		rc = age_from_history(store, plan, age, &found, err);
	if (rc == RK_OK && !found) {
		rk_err node_err;
		time_t when;
		if (age_from_node(plan, age, &node_err) != RK_OK)
			snprintf(age->note, sizeof age->note,
			         "no finished rotation in the state db, and the "
			         "canary's config could not be read: %.900s",
			         node_err.msg);
		else if (rk_key_name_time(age->key, &when) == 0)
			set_created(age, "name", (double)when);
		else
			snprintf(age->note, sizeof age->note,
			         "no finished rotation in the state db, and key name \"%.500s\" carries no "
			         "creation time",
			         age->key);
	}
	rk_store_close(store);
	rk_plan_free(plan);
	return rc;
}
