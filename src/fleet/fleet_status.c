/* fleet_status.c: `rekeyctl fleet status`: a fleet run's clusters, each with its state in the fleet and
 * its rotation's newest stage, read from the state db (another terminal can watch a running fleet). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fleet_internal.h"

struct member_walk {
	rk_fleet_status *st;
	size_t cap;
};

static int add_member(const rk_fleet_member *m, void *ud)
{
	struct member_walk *w = ud;
	if (w->st->nclusters == w->cap) {
		size_t cap = w->cap ? w->cap * 2 : 8;
		rk_fleet_cluster_status *more = realloc(w->st->clusters, cap * sizeof *more);
		if (!more)
			return 100; /* out of memory (100: not an rk_code) */
		w->st->clusters = more;
		w->cap = cap;
	}
	rk_fleet_cluster_status *c = &w->st->clusters[w->st->nclusters++];
	memset(c, 0, sizeof *c);
	c->member = *m;
	if (m->wave + 1 > w->st->nwaves)
		w->st->nwaves = m->wave + 1;
	return 0;
}

/* The newest stage record of a run: the last one the walk sees. */
static int last_stage(const rk_stage *stage, void *ud)
{
	rk_fleet_cluster_status *c = ud;
	snprintf(c->stage, sizeof c->stage, "%s", stage->stage);
	snprintf(c->stage_node, sizeof c->stage_node, "%s", stage->node);
	snprintf(c->stage_status, sizeof c->stage_status, "%s", rk_stage_status_name(stage->status));
	return 0;
}

static int add_rotation(rk_store *store, rk_fleet_cluster_status *c, rk_err *err)
{
	if (!c->member.run_id)
		return RK_OK;
	rk_run run;
	int found = 0;
	int rc = rk_store_run_get(store, c->member.run_id, &run, &found, err);
	if (rc == RK_OK && found)
		snprintf(c->run_state, sizeof c->run_state, "%s", run.state);
	return rc == RK_OK ? rk_store_stage_list(store, c->member.run_id, last_stage, c, err) : rc;
}

static void count_states(rk_fleet_status *st)
{
	for (size_t i = 0; i < st->nclusters; i++) {
		const char *s = st->clusters[i].member.state;
		st->done += !strcmp(s, "done");
		st->failed += !strcmp(s, "failed");
		st->stopped += !strcmp(s, "stopped");
		st->running += !strcmp(s, "running");
		st->pending += !strcmp(s, "pending");
	}
}

static int fleet_name_of(const char *fleet_path, const char *fleet_name, char *out, size_t cap, rk_err *err)
{
	if (!fleet_path) {
		snprintf(out, cap, "%s", fleet_name ? fleet_name : "");
		return RK_OK;
	}
	rk_fleet_plan *plan = NULL;
	int rc = rk_fleet_plan_load_file(fleet_path, &plan, err);
	if (rc == RK_OK)
		snprintf(out, cap, "%s", plan->name);
	rk_fleet_plan_free(plan);
	return rc;
}

int rk_fleet_status_read(const char *state_dir, const char *fleet_path, const char *fleet_name, int64_t id,
                         rk_fleet_status *st, rk_err *err)
{
	memset(st, 0, sizeof *st);
	char name[RK_STORE_NAME_MAX], dir[4096];
	rk_store *store = NULL;
	int found = 0;
	int rc = id > 0 ? RK_OK : fleet_name_of(fleet_path, fleet_name, name, sizeof name, err);
	if (rc == RK_OK)
		rc = rk_store_state_dir(state_dir, dir, sizeof dir, err);
	if (rc == RK_OK)
		rc = rk_store_open(dir, &store, err);
	if (rc == RK_OK)
		rc = rk_store_fleet_run_get(store, name, id, &st->run, &found, err);
	if (rc == RK_OK && !found)
		rc = id > 0 ? rk_err_set(err, RK_BADINPUT, "no fleet run %lld in %s", (long long)id, dir)
		            : rk_err_set(err, RK_BADINPUT, "no run of fleet %s in %s", name, dir);
	struct member_walk w = {st, 0};
	if (rc == RK_OK) {
		int walk = rk_store_fleet_members(store, st->run.id, add_member, &w, err);
		rc = walk == 100 ? rk_err_set(err, RK_FAIL, "out of memory") : walk;
	}
	for (size_t i = 0; rc == RK_OK && i < st->nclusters; i++)
		rc = add_rotation(store, &st->clusters[i], err);
	if (rc == RK_OK)
		count_states(st);
	rk_store_close(store);
	if (rc != RK_OK)
		rk_fleet_status_free(st);
	return rc;
}

void rk_fleet_status_free(rk_fleet_status *st)
{
	free(st->clusters);
	st->clusters = NULL;
	st->nclusters = 0;
}
