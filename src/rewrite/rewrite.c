/* rewrite.c: the rewrite engine: for every resource and namespace scope, stream the list page by page,
 * PUT each object back with the resourceVersion it was listed with (many in flight, paced by the throttle:
 * token bucket and the concurrency cap), classify the answers, checkpoint every batch in one store
 * transaction, and let the latency/error budget slow, pause or stop the run. The run's bookkeeping (run
 * records, estimate) is in rewrite_run.c, which calls this file; the periodic work in rewrite_tick.c, which
 * this file calls. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "rekey/log.h"
#include "rewrite_engine_internal.h"

int rk_rw_stop_requested(const rk_rw_engine *e)
{
	return e->hooks && e->hooks->stop && *e->hooks->stop;
}

/* ---- one batch in memory ---- */

static void batch_clear(rk_rw_engine *e)
{
	for (size_t i = 0; i < e->nbatch; i++) {
		free(e->batch[i].body);
		rk_buf_free(&e->batch[i].path);
	}
	for (size_t i = 0; i < e->ntokens; i++)
		free(e->tokens[i]);
	e->nbatch = e->next_submit = e->ndone = e->inflight = 0;
	e->ntokens = 0;
	e->norphans = 0;
}

static void batch_free(rk_rw_engine *e)
{
	batch_clear(e);
	free(e->batch);
	free(e->tokens);
	free(e->orphans);
	e->batch = NULL;
	e->tokens = NULL;
	e->orphans = NULL;
}

/* Remembers the token of the page the next item comes from; returns its index, -1 on out of memory. */
static int page_token_index(rk_rw_engine *e, const char *token)
{
	token = token ? token : "";
	if (e->ntokens && !strcmp(e->tokens[e->ntokens - 1], token))
		return (int)e->ntokens - 1;
	char *copy = strdup(token);
	if (!copy)
		return -1;
	e->tokens[e->ntokens] = copy;
	return (int)e->ntokens++;
}

static const char *json_str(json_t *obj, const char *a, const char *b)
{
	json_t *v = json_object_get(obj, a);
	if (b)
		v = json_object_get(v, b);
	return json_is_string(v) ? json_string_value(v) : NULL;
}

/* Copies one listed object into the batch. RK_FAIL on a malformed object or out of memory. */
static int batch_add(rk_rw_engine *e, json_t *obj, const char *page_token, rk_err *err)
{
	const char *ns = json_str(obj, "metadata", "namespace");
	const char *name = json_str(obj, "metadata", "name");
	const char *rv = json_str(obj, "metadata", "resourceVersion");
	if (!name || !rv || strlen(name) >= RK_STORE_NAME_MAX || (ns && strlen(ns) >= RK_STORE_NAME_MAX) ||
	    strlen(rv) >= sizeof e->batch[0].rv)
		return rk_err_set(err, RK_FAIL, "list %s: an item without a usable name or resourceVersion",
		                  e->resource_key);
	rk_rw_item *it = &e->batch[e->nbatch];
	memset(it, 0, sizeof *it);
	it->engine = e;
	snprintf(it->ns, sizeof it->ns, "%s", ns ? ns : "");
	snprintf(it->name, sizeof it->name, "%s", name);
	snprintf(it->rv, sizeof it->rv, "%s", rv);
	int tok = page_token_index(e, page_token);
	it->body = rk_rewrite_put_body(obj, e->api_version, e->res.kind);
	if (tok < 0 || !it->body || rk_kube_resource_path(&e->res, it->ns, it->name, &it->path) != 0) {
		free(it->body);
		rk_buf_free(&it->path);
		return rk_err_set(err, RK_FAIL, "out of memory");
	}
	it->page_token = tok;
	e->nbatch++;
	return RK_OK;
}

/* ---- answers ---- */

static void item_finish(rk_rw_item *it, rk_outcome o, const char *why)
{
	rk_rw_engine *e = it->engine;
	it->outcome = o;
	it->finished = 1;
	e->ndone++;
	rk_counts_add(&e->res_counts, o);
	rk_counts_add(&e->run_counts, o);
	if (o == RK_OUT_ORPHAN) {
		e->orphans[e->norphans++] = (rk_orphan_ref){it->ns, it->name};
		rk_warn(
		    "rewrite.orphan",
		    "%s %s/%s: the PUT answered 404 but a GET still returns it (orphan: its old key must not "
		    "be pruned)",
		    e->resource_key, it->ns, it->name);
	} else if (o == RK_OUT_FAILED) {
		rk_warn("rewrite.failed", "%s %s/%s: %s", e->resource_key, it->ns, it->name,
		        why && *why ? why : "failed");
		if (!e->first_failure[0]) {
			rk_buf first = RK_BUF_INIT;
			rk_buf_printf(&first, "%s%s%s: %s", it->ns, *it->ns ? "/" : "", it->name,
			              why && *why ? why : "failed");
			snprintf(e->first_failure, sizeof e->first_failure, "%s", rk_buf_cstr(&first));
			rk_buf_free(&first);
		}
	}
}

static void get_done(void *user, rk_kube_resp *resp)
{
	rk_rw_item *it = user;
	it->engine->inflight--;
	item_finish(it, rk_outcome_of_get(resp->http_status), resp->err.msg);
}

static void put_done(void *user, rk_kube_resp *resp)
{
	rk_rw_item *it = user;
	rk_rw_engine *e = it->engine;
	e->inflight--;
	rk_throttle_release(&e->throttle);
	const char *new_rv = resp->json ? json_str(resp->json, "metadata", "resourceVersion") : NULL;
	rk_outcome o = rk_outcome_of_put(resp->http_status, it->rv, new_rv);
	if (o != RK_OUT_CHECK) {
		item_finish(it, o, resp->err.msg);
		return;
	}
	/* 404 on the PUT: deleted since listed (gone), or unreachable through the API (orphan)? */
	rk_kube_req req = {.method = "GET", .path = rk_buf_cstr(&it->path)};
	rk_err err;
	if (rk_kube_submit(e->kube, &req, get_done, it, &err) != RK_OK) {
		item_finish(it, RK_OUT_FAILED, err.msg);
		return;
	}
	e->inflight++;
}

/* Observes every attempt of every request: PUT latencies and health feed the budget window. */
static void observe(void *user, const char *method, long http_status, double latency_s)
{
	rk_rw_engine *e = user;
	if (strcmp(method, "PUT") != 0)
		return;
	int failed = http_status == 0 || http_status == 429 || http_status >= 500;
	rk_budget_observe(e->budget, rk_monotonic_ns(), latency_s * 1000.0, failed);
}

static int submit_put(rk_rw_engine *e, rk_rw_item *it, rk_err *err)
{
	rk_kube_req req = {
	    .method = "PUT", .path = rk_buf_cstr(&it->path), .body = it->body, .body_len = strlen(it->body)};
	if (rk_kube_submit(e->kube, &req, put_done, it, err) != RK_OK)
		return err->code;
	e->inflight++;
	return RK_OK;
}

/* Submits what the throttle (rate, in-flight cap, pause) allows; returns how many ms to wait at most. */
static double submit_ready(rk_rw_engine *e, int stopping, rk_err *err)
{
	while (!stopping && e->next_submit < e->nbatch) {
		int64_t wait = rk_throttle_wait_ns(&e->throttle);
		if (wait == RK_THROTTLE_BLOCKED)
			return 100;
		if (wait > 0)
			return (double)wait / RK_NS_PER_MS;
		if (!rk_throttle_try_acquire(&e->throttle))
			return 1;
		rk_rw_item *it = &e->batch[e->next_submit++];
		if (submit_put(e, it, err) != RK_OK) {
			rk_throttle_release(&e->throttle);
			item_finish(it, RK_OUT_FAILED, err->msg);
			rk_err_clear(err);
		}
	}
	return 100;
}

/* Runs the batch until every submitted object has an outcome; stops submitting on the stop flag or a
 * budget abort. */
static void run_batch(rk_rw_engine *e)
{
	rk_err err;
	rk_err_clear(&err);
	for (;;) {
		int stopping = rk_rw_stop_requested(e) || e->state == RK_RW_ABORTED;
		double wait = submit_ready(e, stopping, &err);
		size_t target = stopping ? e->next_submit : e->nbatch;
		if (e->ndone >= target && e->inflight == 0)
			break;
		rk_rw_tick(e);
		long wait_ms = wait > 100 ? 100 : (long)wait + 1;
		rk_kube_poll(e->kube, wait_ms);
	}
}

/* ---- checkpoints ---- */

static const char *last_token(rk_rw_engine *e)
{
	if (e->next_submit > 0)
		return e->tokens[e->batch[e->next_submit - 1].page_token];
	return "";
}

static int save_checkpoint(rk_rw_engine *e, int done, rk_err *err)
{
	rk_checkpoint cp;
	memset(&cp, 0, sizeof cp);
	snprintf(cp.resource, sizeof cp.resource, "%s", e->resource_key);
	snprintf(cp.scope, sizeof cp.scope, "%s", e->scope);
	if (strlen(last_token(e)) >= sizeof cp.continue_token)
		return rk_err_set(err, RK_FAIL, "continue token longer than the store keeps");
	if (!done && e->next_submit > 0) {
		const rk_rw_item *last = &e->batch[e->next_submit - 1];
		snprintf(cp.continue_token, sizeof cp.continue_token, "%s", last_token(e));
		snprintf(cp.last_namespace, sizeof cp.last_namespace, "%s", last->ns);
		snprintf(cp.last_name, sizeof cp.last_name, "%s", last->name);
		snprintf(e->last_ns, sizeof e->last_ns, "%s", last->ns);
		snprintf(e->last_name, sizeof e->last_name, "%s", last->name);
	} else if (!done) {
		snprintf(cp.continue_token, sizeof cp.continue_token, "%s", e->saved_token);
		snprintf(cp.last_namespace, sizeof cp.last_namespace, "%s", e->last_ns);
		snprintf(cp.last_name, sizeof cp.last_name, "%s", e->last_name);
	}
	snprintf(e->saved_token, sizeof e->saved_token, "%s", cp.continue_token);
	cp.done = done;
	cp.counts = e->res_counts;
	if (rk_store_checkpoint_save(e->store, e->run_id, &cp, e->orphans, e->norphans, err) != RK_OK)
		return err->code;
	rk_debug("rewrite.checkpoint", "%s scope \"%s\": last %s/%s, %lld objects done%s", e->resource_key,
	         e->scope, cp.last_namespace, cp.last_name, (long long)rk_counts_sum(&e->res_counts),
	         done ? ", finished" : "");
	return RK_OK;
}

/* ---- listing ---- */

static int is_expired_without_token(const rk_err *err)
{
	return strstr(err->msg, "continue token expired") != NULL;
}

/* The key every object up to which a (re)opened list skips: the last one taken into a batch. */
static int list_reopen_from_start(rk_rw_engine *e, rk_err *err)
{
	if (++e->relists > 3)
		return rk_err_set(err, RK_FAIL,
		                  "%s: continue token expired again after %d relists: giving up "
		                  "(resumable)",
		                  e->resource_key, e->relists - 1);
	rk_warn(
	    "rewrite.relist",
	    "%s scope \"%s\": continue token expired and the server offered no inconsistent token: listing "
	    "again from the start and skipping every object up to %s/%s (nothing is written twice)",
	    e->resource_key, e->scope, e->taken_ns, e->taken_name);
	rk_kube_list_close(e->list);
	e->list = NULL;
	snprintf(e->skip_ns, sizeof e->skip_ns, "%s", e->taken_ns);
	snprintf(e->skip_name, sizeof e->skip_name, "%s", e->taken_name);
	e->skipping = e->taken_name[0] != 0;
	rk_err_clear(err);
	return rk_kube_list_open(e->kube, rk_buf_cstr(&e->list_path), e->opts->settings.page_size, NULL,
	                         &e->list, err);
}

/* Fills the batch from the list; *end = 1 when the list is exhausted. */
static int fill_batch(rk_rw_engine *e, int *end, rk_err *err)
{
	*end = 0;
	while (e->nbatch < (size_t)e->opts->settings.batch_size && !rk_rw_stop_requested(e) &&
	       e->state != RK_RW_ABORTED) {
		json_t *obj = NULL;
		if (rk_kube_list_next(e->list, &obj, err) != RK_OK) {
			if (!is_expired_without_token(err) || list_reopen_from_start(e, err) != RK_OK)
				return err->code;
			continue;
		}
		if (!obj) {
			*end = 1;
			return RK_OK;
		}
		const char *ns = json_str(obj, "metadata", "namespace");
		const char *name = json_str(obj, "metadata", "name");
		if (e->skipping && name && rk_objkey_cmp(ns ? ns : "", name, e->skip_ns, e->skip_name) <= 0) {
			e->skipped++;
			continue;
		}
		e->skipping = 0;
		if (batch_add(e, obj, rk_kube_list_page_token(e->list), err) != RK_OK)
			return err->code;
		snprintf(e->taken_ns, sizeof e->taken_ns, "%s", ns ? ns : "");
		snprintf(e->taken_name, sizeof e->taken_name, "%s", name);
	}
	return RK_OK;
}

static int batch_pause(rk_rw_engine *e)
{
	double until = rk_rw_now_ms() + (double)e->opts->settings.batch_pause_ms;
	while (rk_rw_now_ms() < until && !rk_rw_stop_requested(e)) {
		rk_rw_tick(e);
		rk_kube_poll(e->kube, 50);
	}
	return RK_OK;
}

static int alloc_batch(rk_rw_engine *e, rk_err *err)
{
	size_t n = (size_t)e->opts->settings.batch_size;
	e->batch = calloc(n, sizeof *e->batch);
	e->tokens = calloc(n + 1, sizeof *e->tokens);
	e->orphans = calloc(n, sizeof *e->orphans);
	if (!e->batch || !e->tokens || !e->orphans)
		return rk_err_set(err, RK_FAIL, "out of memory");
	return RK_OK;
}

/* Rewrites one (resource, scope) from its checkpoint. RK_STOPPED when stopped. */
int rk_rw_scope(rk_rw_engine *e, const rk_checkpoint *cp, rk_err *err)
{
	rk_buf_reset(&e->list_path);
	if (rk_kube_resource_path(&e->res, e->scope, NULL, &e->list_path) != 0)
		return rk_err_set(err, RK_FAIL, "out of memory");
	snprintf(e->saved_token, sizeof e->saved_token, "%s", cp->continue_token);
	snprintf(e->last_ns, sizeof e->last_ns, "%s", cp->last_namespace);
	snprintf(e->last_name, sizeof e->last_name, "%s", cp->last_name);
	snprintf(e->skip_ns, sizeof e->skip_ns, "%s", cp->last_namespace);
	snprintf(e->skip_name, sizeof e->skip_name, "%s", cp->last_name);
	snprintf(e->taken_ns, sizeof e->taken_ns, "%s", cp->last_namespace);
	snprintf(e->taken_name, sizeof e->taken_name, "%s", cp->last_name);
	e->skipping = cp->last_name[0] != 0;
	e->relists = 0;
	e->skipped = 0;
	if (rk_kube_list_open(e->kube, rk_buf_cstr(&e->list_path), e->opts->settings.page_size,
	                      cp->continue_token[0] ? cp->continue_token : NULL, &e->list, err) != RK_OK)
		return err->code;
	int rc = RK_OK, end = 0;
	while (rc == RK_OK && !end) {
		rk_err list_err;
		rk_err_clear(&list_err);
		int lrc = fill_batch(e, &end, &list_err);
		run_batch(e); /* what was taken is finished even when the list failed */
		int ended = end && lrc == RK_OK && e->next_submit == e->nbatch;
		if (e->nbatch || ended) {
			if (save_checkpoint(e, ended, err) != RK_OK)
				rc = err->code;
		}
		batch_clear(e);
		if (rc != RK_OK)
			break;
		if (lrc != RK_OK) {
			*err = list_err;
			rc = lrc == RK_BADINPUT ? RK_FAIL : lrc;
		} else if (rk_rw_stop_requested(e) || e->state == RK_RW_ABORTED) {
			rc = rk_err_set(
			    err, RK_STOPPED, "%s",
			    e->state == RK_RW_ABORTED
			        ? "stopped by the budget (abort): checkpoint saved, resume with --resume"
			        : "interrupted: in-flight writes finished, checkpoint saved, resume with "
			          "--resume");
		} else if (!end && e->opts->settings.batch_pause_ms > 0) {
			batch_pause(e);
		}
		rk_rw_tick(e);
	}
	if (e->skipped)
		rk_info("rewrite.skipped", "%s scope \"%s\": skipped %lld objects done before the resume",
		        e->resource_key, e->scope, (long long)e->skipped);
	rk_kube_list_close(e->list);
	e->list = NULL;
	return rc;
}

int rk_rw_engine_init(rk_rw_engine *e, rk_err *err)
{
	if (alloc_batch(e, err) != RK_OK || rk_rw_budget_new(e, err) != RK_OK)
		return err->code;
	double now = rk_rw_now_ms();
	rk_throttle_init(&e->throttle, e->opts->settings.qps, (unsigned)e->opts->settings.burst,
	                 (unsigned)e->opts->settings.concurrency, rk_clock_system());
	e->t0_ms = now;
	rk_kube_set_observer(e->kube, observe, e);
	return RK_OK;
}

void rk_rw_engine_free(rk_rw_engine *e)
{
	while (e->probe_inflight && rk_kube_pending(e->kube)) /* its callback points at e */
		rk_kube_poll(e->kube, 100);
	rk_kube_set_observer(e->kube, NULL, NULL);
	batch_free(e);
	rk_budget_free(e->budget);
	e->budget = NULL;
	rk_buf_free(&e->list_path);
	rk_kube_list_close(e->list);
	e->list = NULL;
	for (size_t i = 0; i < e->nnames; i++)
		free(e->names[i]);
	free(e->names);
	e->names = NULL;
	e->nnames = 0;
	rk_buf_free(&e->failures);
}
