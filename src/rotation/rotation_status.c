/* rotation_status.c: `rekeyctl status`: the newest run of a cluster (a rotation or a rewrite) read back
 * from the state db: its stage records (cluster stages and each node's read/promote/prune gates), the
 * stage it is at, and the rewrite's progress, rate, ETA and budget (rk_rewrite_status). */
#include <stdlib.h>
#include <string.h>

#include "rekey/rotation.h"
#include "rotation_internal.h"

struct stage_walk {
	rk_rotation_status *st;
	size_t cap;
};

static int add_stage(const rk_stage *stage, void *ud)
{
	struct stage_walk *w = ud;
	if (strchr(stage->stage, '.'))
		return 0; /* "rewrite.estimate": the rewrite's own bookkeeping */
	if (w->st->nstages == w->cap) {
		size_t cap = w->cap ? w->cap * 2 : 16;
		rk_stage *more = realloc(w->st->stages, cap * sizeof *more);
		if (!more)
			return 100; /* out of memory (100: not an rk_code) */
		w->st->stages = more;
		w->cap = cap;
	}
	w->st->stages[w->st->nstages++] = *stage;
	return 0;
}

static long current_stage(const rk_rotation_status *st)
{
	for (size_t i = st->nstages; i-- > 0;)
		if (st->stages[i].status != RK_STAGE_DONE)
			return (long)i;
	return (long)st->nstages - 1;
}

int rot_status_get(rk_store *store, const char *cluster, int64_t run_id, rk_rotation_status *st, rk_err *err)
{
	memset(st, 0, sizeof *st);
	st->current = -1;
	int found = 0;
	int rc = rk_rewrite_status_latest(store, cluster, run_id, &st->rewrite, &found, err);
	if (rc == RK_OK && !found)
		rc = run_id > 0 ? rk_err_set(err, RK_BADINPUT, "no run %lld in %s", (long long)run_id,
		                             rk_store_path(store))
		                : rk_err_set(err, RK_BADINPUT, "no run for cluster %s in %s",
		                             cluster ? cluster : "", rk_store_path(store));
	struct stage_walk w = {st, 0};
	if (rc == RK_OK && !strcmp(st->rewrite.run.kind, "rotate")) {
		int walk = rk_store_stage_list(store, st->rewrite.run.id, add_stage, &w, err);
		rc = walk == 100 ? rk_err_set(err, RK_FAIL, "out of memory") : walk;
		st->current = current_stage(st);
	}
	if (rc != RK_OK)
		rk_rotation_status_free(st);
	return rc;
}

int rk_rotation_status_read(const char *state_dir, const char *cluster, const char *plan_path, int64_t run_id,
                            rk_rotation_status *st, rk_err *err)
{
	memset(st, 0, sizeof *st);
	st->current = -1;
	rk_store *store = NULL;
	rk_plan *plan = NULL;
	int rc = !cluster && plan_path && run_id <= 0 ? rk_plan_load_file(plan_path, &plan, err) : RK_OK;
	if (plan)
		cluster = plan->cluster;
	if (rc == RK_OK)
		rc = rk_store_open(state_dir, &store, err);
	if (rc == RK_OK)
		rc = rot_status_get(store, cluster, run_id, st, err);
	rk_store_close(store);
	rk_plan_free(plan);
	return rc;
}

void rk_rotation_status_free(rk_rotation_status *st)
{
	free(st->stages);
	st->stages = NULL;
	st->nstages = 0;
}
