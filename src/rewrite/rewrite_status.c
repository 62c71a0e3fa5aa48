/* rewrite_status.c: a rewrite run's progress read back from the state db (what `rekeyctl status` shows
 * from another terminal): totals over every resource, the newest checkpoint, the estimate the run
 * recorded, the rate from the run's start to its last checkpoint, the ETA, the last budget decision and the
 * decisions by the signal that drove them. A rotation's rewrite stage is read the same way. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "rekey/rewrite.h"
#include "rewrite_internal.h"

#define MAX_RESOURCES 64

typedef struct status_walk {
	rk_rewrite_status *st;
	char seen[MAX_RESOURCES][RK_STORE_NAME_MAX];
	size_t nseen;
} status_walk;

static int on_checkpoint(const rk_checkpoint *cp, void *ud)
{
	status_walk *w = ud;
	rk_rewrite_status *st = w->st;
	st->scopes++;
	st->scopes_done += cp->done != 0;
	snprintf(st->resource, sizeof st->resource, "%s", cp->resource);
	snprintf(st->scope, sizeof st->scope, "%s", cp->scope);
	snprintf(st->last_namespace, sizeof st->last_namespace, "%s", cp->last_namespace);
	snprintf(st->last_name, sizeof st->last_name, "%s", cp->last_name);
	snprintf(st->updated_at, sizeof st->updated_at, "%s", cp->updated_at);
	for (size_t i = 0; i < w->nseen; i++)
		if (!strcmp(w->seen[i], cp->resource))
			return 0; /* a resource's totals come once, whatever its scopes */
	if (w->nseen < MAX_RESOURCES)
		snprintf(w->seen[w->nseen++], RK_STORE_NAME_MAX, "%s", cp->resource);
	rk_counts_merge(&st->counts, &cp->counts);
	return 0;
}

static int on_stage(const rk_stage *stage, void *ud)
{
	rk_rewrite_status *st = ud;
	long long total;
	if (!strcmp(stage->stage, "rewrite.estimate") && sscanf(stage->detail, "total=%lld", &total) == 1)
		st->total = total;
	if (!strcmp(stage->stage, "rewrite")) /* a rotation's rewrite stage: the rate counts from there */
		snprintf(st->started_at, sizeof st->started_at, "%s", stage->started_at);
	return 0;
}

static int on_signal_count(const char *decision, const char *signal, int64_t count, void *ud)
{
	rk_rewrite_status *st = ud;
	if (st->nsignals == RK_REWRITE_SIGNALS_MAX)
		return 1;
	rk_budget_signal_count *c = &st->signals[st->nsignals++];
	snprintf(c->decision, sizeof c->decision, "%s", decision ? decision : "");
	snprintf(c->signal, sizeof c->signal, "%s", signal ? signal : "");
	c->count = count;
	return 0;
}

/* The newest run of the cluster that rewrites: a `rewrite`, or a rotation (its rewrite stage). */
static int latest_rewriting_run(rk_store *store, const char *cluster, rk_run *run, int *found, rk_err *err)
{
	rk_run rotation;
	int found_rotation = 0;
	if (rk_store_run_latest(store, cluster, "rewrite", run, found, err) != RK_OK ||
	    rk_store_run_latest(store, cluster, "rotate", &rotation, &found_rotation, err) != RK_OK)
		return err->code;
	if (found_rotation && (!*found || rotation.id > run->id)) {
		*run = rotation;
		*found = 1;
	}
	return RK_OK;
}

static int latest_any_run(rk_store *store, const char *cluster, rk_run *run, int *found, rk_err *err)
{
	return rk_store_run_latest(store, cluster, NULL, run, found, err);
}

/* The run (run_id, else the cluster's newest as latest finds it) and its rewrite progress. */
static int status_get(rk_store *store, const char *cluster,
                      int (*latest)(rk_store *, const char *, rk_run *, int *, rk_err *), int64_t run_id,
                      rk_rewrite_status *st, int *found, rk_err *err)
{
	memset(st, 0, sizeof *st);
	st->total = -1;
	st->rate = st->eta_s = -1;
	*found = 0;
	int rc = run_id > 0 ? rk_store_run_get(store, run_id, &st->run, found, err)
	                    : latest(store, cluster, &st->run, found, err);
	if (rc != RK_OK || !*found)
		return rc;
	status_walk *w = calloc(1, sizeof *w);
	if (!w)
		return rk_err_set(err, RK_FAIL, "out of memory");
	w->st = st;
	rc = rk_store_checkpoint_list(store, st->run.id, on_checkpoint, w, err);
	free(w);
	if (rc != RK_OK || rk_store_stage_list(store, st->run.id, on_stage, st, err) != RK_OK ||
	    rk_store_orphan_count(store, st->run.id, &st->orphans, err) != RK_OK ||
	    rk_store_budget_count(store, st->run.id, &st->budget_decisions, err) != RK_OK)
		return err->code;
	int have_budget = 0;
	if (rk_store_budget_last(store, st->run.id, st->budget, sizeof st->budget, &have_budget, err) !=
	        RK_OK ||
	    rk_store_budget_signals(store, st->run.id, on_signal_count, st, err) != RK_OK)
		return err->code;
	st->done = rk_counts_sum(&st->counts);
	if (!st->started_at[0])
		snprintf(st->started_at, sizeof st->started_at, "%s", st->run.started_at);
	double t0 = rk_store_time_parse(st->started_at), t1 = rk_store_time_parse(st->updated_at);
	if (t0 > 0 && t1 > t0)
		st->rate = (double)st->done / (t1 - t0);
	if (!strcmp(st->run.state, "running"))
		st->eta_s = rk_eta_s(st->done, st->total, st->rate);
	return RK_OK;
}

int rk_rewrite_status_get(rk_store *store, const char *cluster, int64_t run_id, rk_rewrite_status *st,
                          int *found, rk_err *err)
{
	return status_get(store, cluster, latest_rewriting_run, run_id, st, found, err);
}

int rk_rewrite_status_latest(rk_store *store, const char *cluster, int64_t run_id, rk_rewrite_status *st,
                             int *found, rk_err *err)
{
	return status_get(store, cluster, latest_any_run, run_id, st, found, err);
}
