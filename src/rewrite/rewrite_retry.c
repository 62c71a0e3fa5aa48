/* rewrite_retry.c: what earlier passes of a run left behind, tried again. A run that ends with failed
 * objects or orphans is complete but cannot be used to prune; once the cause is fixed, resuming it
 * retries every recorded failed object and re-checks every recorded orphan of each resource (after the
 * resource's scopes are done). Each object is read again: 404 means it is gone (settled); otherwise it
 * is PUT back with the resourceVersion just read and the answer decides: rewritten, current or
 * conflict settle it; 404 while it still exists keeps (or makes) it an orphan; an error keeps it
 * failed (an orphan whose re-check errs stays an orphan: nothing shows it can be written). The counts
 * move with each object, and the rows and counts of a chunk are saved in one transaction. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rekey/log.h"
#include "rewrite_engine_internal.h"

/* ---- loading what earlier passes recorded ---- */

static int carry(rk_rw_engine *e, const char *ns, const char *name, int orphan, size_t *cap)
{
	if (e->ncarried == *cap) {
		size_t grown = *cap ? *cap * 2 : 16;
		rk_rw_carried *more = realloc(e->carried, grown * sizeof *more);
		if (!more)
			return 1;
		e->carried = more;
		*cap = grown;
	}
	rk_rw_carried *c = &e->carried[e->ncarried++];
	memset(c, 0, sizeof *c);
	snprintf(c->ns, sizeof c->ns, "%s", ns);
	snprintf(c->name, sizeof c->name, "%s", name);
	c->orphan = orphan;
	return 0;
}

struct carry_walk {
	rk_rw_engine *e;
	size_t cap;
};

static int carry_failure(const rk_failure *f, void *ud)
{
	struct carry_walk *w = ud;
	return carry(w->e, f->namespace_, f->name, 0, &w->cap);
}

static int carry_orphan(const rk_orphan *o, void *ud)
{
	struct carry_walk *w = ud;
	if (strcmp(o->resource, w->e->resource_key) != 0)
		return 0;
	return carry(w->e, o->namespace_, o->name, 1, &w->cap);
}

int rk_rw_carry_load(rk_rw_engine *e, rk_err *err)
{
	free(e->carried);
	e->carried = NULL;
	e->ncarried = 0;
	struct carry_walk w = {e, 0};
	int rc = rk_store_failure_list(e->store, e->run_id, e->resource_key, carry_failure, &w, err);
	if (rc == RK_OK)
		rc = rk_store_orphan_list(e->store, e->run_id, carry_orphan, &w, err);
	if (rc > 0) /* a callback stopped the walk: out of memory */
		return rk_err_set(err, RK_FAIL, "out of memory");
	return rc;
}

/* ---- one chunk ---- */

/* Reads the object again: 404 = gone; found = into the window, to be PUT; anything else = still failing. */
static void reread(rk_rw_engine *e, size_t index)
{
	rk_rw_carried *c = &e->carried[index];
	rk_buf path = RK_BUF_INIT;
	json_t *obj = NULL;
	long status = 0;
	rk_err err;
	rk_err_clear(&err);
	c->outcome = RK_OUT_FAILED;
	if (rk_kube_resource_path(&e->res, c->ns, c->name, &path) != 0) {
		snprintf(c->why, sizeof c->why, "out of memory");
	} else if (rk_kube_get(e->kube, rk_buf_cstr(&path), &obj, &status, &err) == RK_OK) {
		if (rk_rw_retry_take(e, obj, index, &err) != RK_OK)
			snprintf(c->why, sizeof c->why, "%.255s", err.msg);
	} else if (status == 404) {
		c->outcome = RK_OUT_GONE;
	} else {
		snprintf(c->why, sizeof c->why, "%.255s", err.msg);
	}
	json_decref(obj);
	rk_buf_free(&path);
}

struct settled {
	rk_failure_ref *failures;
	rk_orphan_ref *orphans, *cleared_failures, *cleared_orphans;
	rk_batch_rows rows;
};

/* Moves one object from what an earlier pass recorded to what the retry found. */
static void settle(rk_rw_engine *e, const rk_rw_carried *c, struct settled *s)
{
	rk_outcome was = c->orphan ? RK_OUT_ORPHAN : RK_OUT_FAILED;
	rk_outcome now = c->outcome == RK_OUT_FAILED && c->orphan ? RK_OUT_ORPHAN : c->outcome;
	rk_orphan_ref ref = {c->ns, c->name};
	if (now == was) {
		if (was == RK_OUT_FAILED)
			s->failures[s->rows.nfailures++] = (rk_failure_ref){c->ns, c->name, c->why};
		rk_warn("rewrite.retry", "%s %s/%s: still %s%s%s", e->resource_key, c->ns, c->name,
		        rk_outcome_name(now), now == RK_OUT_FAILED ? ": " : "",
		        now == RK_OUT_FAILED ? c->why : "");
		return;
	}
	rk_counts_move(&e->prefix_counts, was, now);
	rk_counts_move(&e->run_counts, was, now);
	if (was == RK_OUT_FAILED)
		s->cleared_failures[s->rows.ncleared_failures++] = ref;
	else
		s->cleared_orphans[s->rows.ncleared_orphans++] = ref;
	if (now == RK_OUT_ORPHAN)
		s->orphans[s->rows.norphans++] = ref;
	rk_info("rewrite.retry", "%s %s/%s: %s before, %s now", e->resource_key, c->ns, c->name,
	        rk_outcome_name(was), rk_outcome_name(now));
}

/* Carried entries [from, to): read again, PUT what exists (through the window, until each has an
 * answer), settle each, save rows and counts at once. */
static int retry_chunk(rk_rw_engine *e, size_t from, size_t to, struct settled *s, rk_err *err)
{
	for (size_t i = from; i < to; i++)
		reread(e, i);
	rk_rw_retry_run(e);
	s->rows = (rk_batch_rows){.failures = s->failures,
	                          .orphans = s->orphans,
	                          .cleared_failures = s->cleared_failures,
	                          .cleared_orphans = s->cleared_orphans};
	for (size_t i = from; i < to; i++)
		settle(e, &e->carried[i], s);
	return rk_store_batch_save(e->store, e->run_id, NULL, e->resource_key, &e->prefix_counts, &s->rows,
	                           err);
}

int rk_rw_retry(rk_rw_engine *e, rk_err *err)
{
	if (!e->ncarried)
		return RK_OK;
	size_t chunk = (size_t)e->opts->settings.batch_size;
	struct settled s = {calloc(chunk, sizeof *s.failures),
	                    calloc(chunk, sizeof *s.orphans),
	                    calloc(chunk, sizeof *s.cleared_failures),
	                    calloc(chunk, sizeof *s.cleared_orphans),
	                    {0}};
	int rc = s.failures && s.orphans && s.cleared_failures && s.cleared_orphans
	             ? RK_OK
	             : rk_err_set(err, RK_FAIL, "out of memory");
	rk_info("rewrite.retry",
	        "%s: trying %zu object(s) again that an earlier pass left failed or orphaned",
	        e->resource_key, e->ncarried);
	for (size_t from = 0; rc == RK_OK && from < e->ncarried; from += chunk) {
		size_t to = from + chunk < e->ncarried ? from + chunk : e->ncarried;
		rc = retry_chunk(e, from, to, &s, err);
		if (rc == RK_OK && to < e->ncarried && (rk_rw_stop_requested(e) || e->state == RK_RW_ABORTED))
			rc = rk_rw_stop_error(e, err);
	}
	free(s.failures);
	free(s.orphans);
	free(s.cleared_failures);
	free(s.cleared_orphans);
	return rc;
}
