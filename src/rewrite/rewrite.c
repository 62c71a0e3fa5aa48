/* rewrite.c: the rewrite engine: for every resource and namespace scope, stream the list (the next page
 * fetched while the current one is written), PUT each object back with the resourceVersion it was listed
 * with through a window of objects in list order (many in flight, paced by the throttle: token bucket and
 * the concurrency cap; spread over the endpoints by rewrite_spread.c), classify the answers, and checkpoint
 * the finished prefix of the list (its totals, orphans and failed objects) in one store transaction each
 * time it has grown by a batch, without draining the PUTs in flight. A retry of earlier failures and
 * orphans (rewrite_retry.c) goes through the same window and endpoints. The run's bookkeeping (run records,
 * estimate) is in rewrite_run.c, which calls this file; the periodic work in rewrite_tick.c, which this file
 * calls. */
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

int rk_rw_stop_error(const rk_rw_engine *e, rk_err *err)
{
	return rk_err_set(err, RK_STOPPED, "%s",
	                  e->state == RK_RW_ABORTED
	                      ? "stopped by the budget (abort): checkpoint saved, resume with --resume"
	                      : "interrupted: in-flight writes finished, checkpoint saved, resume with "
	                        "--resume");
}

size_t rk_rewrite_window(const rk_rewrite_settings *settings)
{
	size_t four = 4 * (size_t)(settings->concurrency > 0 ? settings->concurrency : 1);
	size_t batch = (size_t)(settings->batch_size > 0 ? settings->batch_size : 1);
	return batch > four ? batch : four;
}

size_t rk_rewrite_repeat_bound(const rk_rewrite_settings *settings)
{
	return (size_t)settings->batch_size + rk_rewrite_window(settings);
}

static const char *const wait_names[RK_REWRITE_WAIT_N] = {"list", "inflight", "throttle", "window", "drain"};

const char *rk_rewrite_wait_name(rk_rewrite_wait w)
{
	return (unsigned)w < RK_REWRITE_WAIT_N ? wait_names[w] : "?";
}

/* ---- the window ---- */

static rk_rw_item *at(rk_rw_engine *e, uint64_t seq)
{
	return &e->win[seq % e->win_cap];
}

static size_t ntokens(const rk_rw_engine *e)
{
	return e->win_cap + 2;
}

static void item_release(rk_rw_item *it)
{
	free(it->body);
	it->body = NULL;
	rk_buf_free(&it->path);
}

/* Drops what was taken but never submitted (a stop or a list error): the next run lists it again. */
static void window_drop_unsubmitted(rk_rw_engine *e)
{
	for (uint64_t s = e->seq_submit; s < e->seq_tail; s++)
		item_release(at(e, s));
	e->seq_tail = e->seq_submit;
}

static const char *json_str(json_t *obj, const char *a, const char *b)
{
	json_t *v = json_object_get(obj, a);
	if (b)
		v = json_object_get(v, b);
	return json_is_string(v) ? json_string_value(v) : NULL;
}

/* The sequence number of the list page the next item comes from; its token kept while it is in the
 * window. RK_FAIL for a token the store cannot keep, or out of memory. */
static int note_page(rk_rw_engine *e, rk_err *err)
{
	size_t pages = rk_kube_list_pages(e->list);
	if (pages == e->list_pages_seen)
		return RK_OK;
	const char *token = rk_kube_list_page_token(e->list);
	token = token ? token : "";
	if (strlen(token) >= RK_STORE_TOKEN_MAX)
		return rk_err_set(err, RK_FAIL, "continue token longer than the store keeps");
	char *copy = strdup(token);
	if (!copy)
		return rk_err_set(err, RK_FAIL, "out of memory");
	e->list_pages_seen = pages;
	e->page_seq++;
	char **slot = &e->page_tokens[e->page_seq % ntokens(e)];
	free(*slot);
	*slot = copy;
	return RK_OK;
}

/* Copies one object (listed, or read for a retry) to the window's tail; the caller fills it->page.
 * RK_FAIL on a malformed object or out of memory. */
static int item_take(rk_rw_engine *e, json_t *obj, rk_err *err)
{
	const char *ns = json_str(obj, "metadata", "namespace");
	const char *name = json_str(obj, "metadata", "name");
	const char *rv = json_str(obj, "metadata", "resourceVersion");
	rk_rw_item *it = at(e, e->seq_tail);
	if (!name || !rv || strlen(name) >= RK_STORE_NAME_MAX || (ns && strlen(ns) >= RK_STORE_NAME_MAX) ||
	    strlen(rv) >= sizeof it->rv)
		return rk_err_set(err, RK_FAIL, "%s: an object without a usable name or resourceVersion",
		                  e->resource_key);
	memset(it, 0, sizeof *it);
	it->engine = e;
	snprintf(it->ns, sizeof it->ns, "%s", ns ? ns : "");
	snprintf(it->name, sizeof it->name, "%s", name);
	snprintf(it->rv, sizeof it->rv, "%s", rv);
	it->body = rk_rewrite_put_body(obj, e->api_version, e->res.kind);
	if (!it->body || rk_kube_resource_path(&e->res, it->ns, it->name, &it->path) != 0) {
		item_release(it);
		return rk_err_set(err, RK_FAIL, "out of memory");
	}
	e->seq_tail++;
	return RK_OK;
}

/* A listed object into the window, with the page it came from. */
static int item_take_listed(rk_rw_engine *e, json_t *obj, rk_err *err)
{
	if (note_page(e, err) != RK_OK || item_take(e, obj, err) != RK_OK)
		return err->code;
	at(e, e->seq_tail - 1)->page = e->page_seq;
	return RK_OK;
}

/* ---- answers ---- */

/* A failed object: logged, and the resource's first one kept with the apiserver's answer (the run's
 * result names it, rewrite_run.c). */
static void note_failure(rk_rw_engine *e, const rk_rw_item *it, const char *why)
{
	rk_warn("rewrite.failed", "%s %s/%s: %s", e->resource_key, it->ns, it->name,
	        why && *why ? why : "failed");
	if (e->first_failure[0])
		return;
	rk_buf first = RK_BUF_INIT;
	rk_buf_printf(&first, "%s%s%s: %s", it->ns, *it->ns ? "/" : "", it->name,
	              why && *why ? why : "failed");
	snprintf(e->first_failure, sizeof e->first_failure, "%s", rk_buf_cstr(&first));
	rk_buf_free(&first);
}

static void item_finish(rk_rw_item *it, rk_outcome o, const char *why)
{
	rk_rw_engine *e = it->engine;
	it->outcome = o;
	it->finished = 1;
	snprintf(it->why, sizeof it->why, "%s", why && *why ? why : "failed");
	if (e->retrying)
		return; /* a retry of an earlier failure or orphan: rk_rw_retry accounts for it */
	rk_counts_add(&e->run_counts, o);
	if (o == RK_OUT_ORPHAN)
		rk_warn(
		    "rewrite.orphan",
		    "%s %s/%s: the PUT answered 404 but a GET still returns it (orphan: its old key must not "
		    "be pruned)",
		    e->resource_key, it->ns, it->name);
	else if (o == RK_OUT_FAILED)
		note_failure(e, it, why); /* the whole answer: it->why is cut at 255 */
}

static void get_done(void *user, rk_kube_resp *resp)
{
	rk_rw_item *it = user;
	it->engine->inflight--;
	item_finish(it, rk_outcome_of_get(resp->http_status), resp->err.msg);
}

/* The KMS failed this write (after the client's retries over every endpoint): the object stays
 * unfinished, so no checkpoint passes it, and the pipeline stops submitting. */
static void item_kms_failed(rk_rw_item *it, const rk_kube_resp *resp)
{
	rk_rw_engine *e = it->engine;
	if (!e->kms_down)
		rk_warn("rewrite.kms-unavailable",
		        "%s %s/%s: the apiserver's KMS failed the write (%s; %d attempts): pausing the "
		        "rewrite at its checkpoint",
		        e->resource_key, it->ns, it->name, resp->message, resp->attempts);
	e->kms_down = 1;
	snprintf(e->kms_error, sizeof e->kms_error, "%s", resp->message);
}

static void put_done(void *user, rk_kube_resp *resp)
{
	rk_rw_item *it = user;
	rk_rw_engine *e = it->engine;
	e->inflight--;
	rk_throttle_release(&e->throttle);
	if (resp->http_status >= 500 && rk_rewrite_kms_failure(resp->message)) {
		item_kms_failed(it, resp);
		return;
	}
	const char *new_rv = resp->json ? json_str(resp->json, "metadata", "resourceVersion") : NULL;
	rk_outcome o = rk_outcome_of_put(resp->http_status, it->rv, new_rv);
	if (o != RK_OUT_CHECK) {
		item_finish(it, o, resp->err.msg);
		return;
	}
	/* 404 on the PUT: deleted since listed (gone), or unreachable through the API (orphan)? Asked of the
	 * apiserver that answered the PUT. */
	rk_kube_req req = {.method = "GET", .path = rk_buf_cstr(&it->path), .endpoint = e->eps[it->ep].url};
	rk_err err;
	if (rk_kube_submit(e->kube, &req, get_done, it, &err) != RK_OK) {
		item_finish(it, RK_OUT_FAILED, err.msg);
		return;
	}
	e->inflight++;
}

static int submit_put(rk_rw_engine *e, rk_rw_item *it, rk_err *err)
{
	rk_kube_req req = {.method = "PUT",
	                   .path = rk_buf_cstr(&it->path),
	                   .body = it->body,
	                   .body_len = strlen(it->body),
	                   .pick = rk_rw_endpoint_pick,
	                   .pick_user = it};
	if (rk_kube_submit(e->kube, &req, put_done, it, err) != RK_OK)
		return err->code;
	e->inflight++;
	return RK_OK;
}

/* Why nothing more can be submitted now, when every object taken is submitted. */
static rk_rewrite_wait idle_reason(const rk_rw_engine *e, int stopping)
{
	if (e->seq_tail - e->seq_head >= e->win_cap)
		return RK_REWRITE_WAIT_WINDOW;
	return stopping || e->list_end ? RK_REWRITE_WAIT_DRAIN : RK_REWRITE_WAIT_LIST;
}

/* Submits what the window, the repeat bound, the throttle and the endpoints allow; returns how many ms to
 * wait at most, and in *why what for. */
static double submit_ready(rk_rw_engine *e, int stopping, rk_rewrite_wait *why, rk_err *err)
{
	size_t bound = rk_rewrite_repeat_bound(&e->opts->settings);
	while (!stopping && e->seq_submit < e->seq_tail) {
		*why = RK_REWRITE_WAIT_THROTTLE;
		if (e->seq_submit - e->seq_saved >= bound) {
			*why = RK_REWRITE_WAIT_WINDOW; /* a checkpoint must come first */
			return 100;
		}
		double now = rk_rw_now_ms();
		if (now < e->resume_at_ms)
			return e->resume_at_ms - now;
		int64_t wait = rk_throttle_wait_ns(&e->throttle);
		if (wait == RK_THROTTLE_BLOCKED) {
			*why = e->throttle.paused ? RK_REWRITE_WAIT_THROTTLE : RK_REWRITE_WAIT_INFLIGHT;
			return 100;
		}
		if (wait > 0)
			return (double)wait / RK_NS_PER_MS;
		double ep_wait = -1;
		int ep = rk_rw_endpoint_choose(e, &ep_wait);
		if (ep < 0)
			return ep_wait < 0 ? 100 : ep_wait;
		if (!rk_throttle_try_acquire(&e->throttle))
			return 1;
		if (rk_throttle_try_acquire(&e->eps[ep].throttle))
			rk_throttle_release(&e->eps[ep].throttle); /* its tokens only: the cap is the run's */
		rk_rw_item *it = at(e, e->seq_submit++);
		it->ep = ep;
		it->submitted = 1;
		if (submit_put(e, it, err) != RK_OK) {
			rk_throttle_release(&e->throttle);
			item_finish(it, RK_OUT_FAILED, err->msg);
			rk_err_clear(err);
		}
	}
	*why = idle_reason(e, stopping);
	return 100;
}

/* ---- the finished prefix and checkpoints ---- */

/* Keeps an orphan or a failed object of the prefix for the next checkpoint. */
static int keep(rk_rw_kept_list *list, const rk_rw_item *it, rk_err *err)
{
	if (list->n == list->cap) {
		size_t cap = list->cap ? list->cap * 2 : 16;
		rk_rw_kept *grown = realloc(list->v, cap * sizeof *grown);
		if (!grown)
			return rk_err_set(err, RK_FAIL, "out of memory");
		list->v = grown;
		list->cap = cap;
	}
	rk_rw_kept *k = &list->v[list->n++];
	snprintf(k->ns, sizeof k->ns, "%s", it->ns);
	snprintf(k->name, sizeof k->name, "%s", it->name);
	snprintf(k->why, sizeof k->why, "%s", it->why);
	return RK_OK;
}

static void kept_free(rk_rw_kept_list *list)
{
	free(list->v);
	memset(list, 0, sizeof *list);
}

/* Moves the head past every finished object: its outcome joins the prefix's totals, its key and page
 * become what the next checkpoint saves. */
static int advance_prefix(rk_rw_engine *e, rk_err *err)
{
	while (e->seq_head < e->seq_submit && at(e, e->seq_head)->finished) {
		rk_rw_item *it = at(e, e->seq_head);
		if (it->outcome == RK_OUT_ORPHAN && keep(&e->orphans, it, err) != RK_OK)
			return err->code;
		if (it->outcome == RK_OUT_FAILED && keep(&e->failures, it, err) != RK_OK)
			return err->code;
		rk_counts_add(&e->prefix_counts, it->outcome);
		snprintf(e->prefix_ns, sizeof e->prefix_ns, "%s", it->ns);
		snprintf(e->prefix_name, sizeof e->prefix_name, "%s", it->name);
		if (it->page != e->prefix_page) {
			e->prefix_page = it->page;
			snprintf(e->prefix_token, sizeof e->prefix_token, "%s",
			         e->page_tokens[it->page % ntokens(e)]);
		}
		item_release(it);
		e->seq_head++;
	}
	return RK_OK;
}

static int save_checkpoint(rk_rw_engine *e, int done, rk_err *err)
{
	rk_checkpoint cp;
	memset(&cp, 0, sizeof cp);
	snprintf(cp.resource, sizeof cp.resource, "%s", e->resource_key);
	snprintf(cp.scope, sizeof cp.scope, "%s", e->scope);
	if (!done) {
		snprintf(cp.continue_token, sizeof cp.continue_token, "%s", e->prefix_token);
		snprintf(cp.last_namespace, sizeof cp.last_namespace, "%s", e->prefix_ns);
		snprintf(cp.last_name, sizeof cp.last_name, "%s", e->prefix_name);
	}
	cp.done = done;
	cp.counts = e->prefix_counts;
	rk_orphan_ref *orphans = calloc(e->orphans.n + 1, sizeof *orphans);
	rk_failure_ref *failures = calloc(e->failures.n + 1, sizeof *failures);
	int rc = orphans && failures ? RK_OK : rk_err_set(err, RK_FAIL, "out of memory");
	for (size_t i = 0; rc == RK_OK && i < e->orphans.n; i++)
		orphans[i] = (rk_orphan_ref){e->orphans.v[i].ns, e->orphans.v[i].name};
	for (size_t i = 0; rc == RK_OK && i < e->failures.n; i++)
		failures[i] =
		    (rk_failure_ref){e->failures.v[i].ns, e->failures.v[i].name, e->failures.v[i].why};
	rk_batch_rows rows = {
	    .failures = failures, .nfailures = e->failures.n, .orphans = orphans, .norphans = e->orphans.n};
	double t0 = rk_rw_now_ms();
	if (rc == RK_OK)
		rc = rk_store_batch_save(e->store, e->run_id, &cp, cp.resource, &cp.counts, &rows, err);
	e->timing.checkpoint_s += (rk_rw_now_ms() - t0) / 1000.0;
	e->timing.checkpoints++;
	free(orphans);
	free(failures);
	if (rc != RK_OK)
		return rc;
	e->orphans.n = e->failures.n = 0;
	e->seq_saved = e->seq_head;
	if (e->opts->settings.batch_pause_ms > 0 && !done)
		e->resume_at_ms = rk_rw_now_ms() + (double)e->opts->settings.batch_pause_ms;
	rk_debug("rewrite.checkpoint", "%s scope \"%s\": last %s/%s, %lld objects done, %zu in flight%s",
	         e->resource_key, e->scope, cp.last_namespace, cp.last_name,
	         (long long)rk_counts_sum(&e->prefix_counts), (size_t)(e->seq_submit - e->seq_head),
	         done ? ", finished" : "");
	return RK_OK;
}

/* ---- listing ---- */

static int is_expired_without_token(const rk_err *err)
{
	return strstr(err->msg, "continue token expired") != NULL;
}

static int list_open(rk_rw_engine *e, const char *token, rk_err *err)
{
	e->list_pages_seen = 0;
	return rk_kube_list_open(e->kube, rk_buf_cstr(&e->list_path), e->opts->settings.page_size, token,
	                         &e->list, err);
}

/* The key every object up to which a (re)opened list skips: the last one taken into the window. */
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
	return list_open(e, NULL, err);
}

/* Takes what the list has ready into the window, without waiting for a page. */
static int fill_window(rk_rw_engine *e, rk_err *err)
{
	while (!e->list_end && e->seq_tail - e->seq_head < e->win_cap) {
		json_t *obj = NULL;
		int ready = 0;
		if (rk_kube_list_next_nowait(e->list, &obj, &ready, err) != RK_OK) {
			if (!is_expired_without_token(err) || list_reopen_from_start(e, err) != RK_OK)
				return err->code;
			continue;
		}
		if (!ready)
			return RK_OK;
		if (!obj) {
			e->list_end = 1;
			return RK_OK;
		}
		const char *ns = json_str(obj, "metadata", "namespace");
		const char *name = json_str(obj, "metadata", "name");
		if (e->skipping && name && rk_objkey_cmp(ns ? ns : "", name, e->skip_ns, e->skip_name) <= 0) {
			e->skipped++;
			continue;
		}
		e->skipping = 0;
		if (item_take_listed(e, obj, err) != RK_OK)
			return err->code;
		snprintf(e->taken_ns, sizeof e->taken_ns, "%s", ns ? ns : "");
		snprintf(e->taken_name, sizeof e->taken_name, "%s", name);
	}
	return RK_OK;
}

/* ---- one scope ---- */

static void scope_start(rk_rw_engine *e, const rk_checkpoint *cp)
{
	snprintf(e->prefix_token, sizeof e->prefix_token, "%s", cp->continue_token);
	snprintf(e->prefix_ns, sizeof e->prefix_ns, "%s", cp->last_namespace);
	snprintf(e->prefix_name, sizeof e->prefix_name, "%s", cp->last_name);
	e->prefix_page = 0;
	e->page_seq++; /* no item of this scope is on the prefix's page number yet */
	snprintf(e->skip_ns, sizeof e->skip_ns, "%s", cp->last_namespace);
	snprintf(e->skip_name, sizeof e->skip_name, "%s", cp->last_name);
	snprintf(e->taken_ns, sizeof e->taken_ns, "%s", cp->last_namespace);
	snprintf(e->taken_name, sizeof e->taken_name, "%s", cp->last_name);
	e->skipping = cp->last_name[0] != 0;
	e->relists = 0;
	e->skipped = 0;
	e->list_end = 0;
	e->orphans.n = e->failures.n = 0;
	e->seq_saved = e->seq_head;
}

/* Periodic work, then waits up to `wait` ms (at most 100) for answers, charged to what it waits for. */
static void poll_answers(rk_rw_engine *e, double wait, rk_rewrite_wait why)
{
	rk_rw_tick(e);
	long wait_ms = wait > 100 ? 100 : (long)wait + 1;
	double t0 = rk_rw_now_ms();
	rk_kube_poll(e->kube, wait_ms);
	e->timing.wait_s[why] += (rk_rw_now_ms() - t0) / 1000.0;
}

/* Runs the pipeline until the list is done and every PUT answered, or until a stop, a budget abort or a
 * list error (then what is in flight is finished first). Returns the list's error code (in *list_err) or
 * a checkpoint's (in *err). */
static int run_pipeline(rk_rw_engine *e, int *list_rc, rk_err *list_err, rk_err *err)
{
	int rc = RK_OK;
	rk_err submit_err;
	rk_err_clear(&submit_err);
	size_t batch = (size_t)e->opts->settings.batch_size;
	for (;;) {
		int stopping = rk_rw_stop_requested(e) || e->state == RK_RW_ABORTED || *list_rc != RK_OK ||
		               rc != RK_OK || e->kms_down;
		if (!stopping && (*list_rc = fill_window(e, list_err)) != RK_OK)
			stopping = 1;
		rk_rewrite_wait why = RK_REWRITE_WAIT_DRAIN;
		double wait = submit_ready(e, stopping, &why, &submit_err);
		if (rc == RK_OK && advance_prefix(e, err) != RK_OK)
			rc = err->code;
		if (rc == RK_OK && e->seq_head - e->seq_saved >= batch && save_checkpoint(e, 0, err) != RK_OK)
			rc = err->code;
		/* nothing in flight; only objects the KMS failed may be left unfinished */
		int idle = e->inflight == 0 && (e->seq_head == e->seq_submit || e->kms_down);
		if (idle && (stopping || (e->list_end && e->seq_submit == e->seq_tail)))
			return rc;
		poll_answers(e, wait, why);
	}
}

/* Rewrites one (resource, scope) from its checkpoint. RK_STOPPED when stopped. */
int rk_rw_scope(rk_rw_engine *e, const rk_checkpoint *cp, rk_err *err)
{
	rk_buf_reset(&e->list_path);
	if (rk_kube_resource_path(&e->res, e->scope, NULL, &e->list_path) != 0)
		return rk_err_set(err, RK_FAIL, "out of memory");
	scope_start(e, cp);
	if (list_open(e, cp->continue_token[0] ? cp->continue_token : NULL, err) != RK_OK)
		return err->code;
	int lrc = RK_OK;
	rk_err list_err;
	rk_err_clear(&list_err);
	int rc = run_pipeline(e, &lrc, &list_err, err);
	int ended = e->list_end && lrc == RK_OK && e->seq_submit == e->seq_tail && e->seq_head == e->seq_tail;
	window_drop_unsubmitted(e);
	if (rc == RK_OK && (e->seq_head > e->seq_saved || ended || e->orphans.n || e->failures.n))
		rc = save_checkpoint(e, ended, err);
	if (rc == RK_OK && lrc != RK_OK && rk_rewrite_kms_failure(list_err.msg) && !e->kms_down) {
		e->kms_down =
		    1; /* an apiserver without a DEK seed cannot even list (docs/kms.md section 7) */
		snprintf(e->kms_error, sizeof e->kms_error, "%.500s", list_err.msg);
		rk_warn("rewrite.kms-unavailable", "%s: the apiserver's KMS failed the list (%s): pausing",
		        e->resource_key, list_err.msg);
	}
	if (rc == RK_OK && e->kms_down) {
		rc = rk_err_set(
		    err, RK_STOPPED,
		    "paused: the KMS failed a %s (%s): checkpoint saved before it, nothing counted "
		    "failed; resume once the KMS is healthy",
		    lrc != RK_OK ? "list" : "write", e->kms_error);
	} else if (rc == RK_OK && lrc != RK_OK) {
		*err = list_err;
		rc = lrc == RK_BADINPUT ? RK_FAIL : lrc;
	} else if (rc == RK_OK && (rk_rw_stop_requested(e) || e->state == RK_RW_ABORTED)) {
		rc = rk_rw_stop_error(e, err);
	}
	rk_rw_tick(e);
	if (e->skipped)
		rk_info("rewrite.skipped", "%s scope \"%s\": skipped %lld objects done before the resume",
		        e->resource_key, e->scope, (long long)e->skipped);
	rk_kube_list_close(e->list);
	e->list = NULL;
	return rc;
}

/* ---- a retry (rewrite_retry.c) ---- */

int rk_rw_retry_take(rk_rw_engine *e, json_t *obj, size_t carried, rk_err *err)
{
	if (e->seq_tail - e->seq_head >= e->win_cap)
		return rk_err_set(err, RK_FAIL, "retry: the window is full");
	if (item_take(e, obj, err) != RK_OK)
		return err->code;
	rk_rw_item *it = at(e, e->seq_tail - 1);
	it->page = e->prefix_page;
	it->carried = carried;
	return RK_OK;
}

void rk_rw_retry_run(rk_rw_engine *e)
{
	rk_err err;
	rk_err_clear(&err);
	e->retrying = 1;
	e->seq_saved = e->seq_head; /* nothing is checkpointed: the repeat bound counts from here */
	for (;;) {
		int stopping = rk_rw_stop_requested(e) || e->state == RK_RW_ABORTED;
		rk_rewrite_wait why = RK_REWRITE_WAIT_DRAIN;
		double wait = submit_ready(e, stopping, &why, &err);
		if (e->inflight == 0 && (stopping || e->seq_submit == e->seq_tail))
			break;
		poll_answers(e, wait, why);
	}
	for (uint64_t s = e->seq_head; s < e->seq_tail; s++) {
		rk_rw_item *it = at(e, s);
		rk_rw_carried *c = &e->carried[it->carried];
		c->outcome = it->finished ? it->outcome : RK_OUT_FAILED;
		snprintf(c->why, sizeof c->why, "%s", it->finished ? it->why : "not written (stopped)");
		item_release(it);
	}
	e->seq_head = e->seq_submit = e->seq_saved = e->seq_tail;
	e->retrying = 0;
}

int rk_rw_engine_init(rk_rw_engine *e, rk_err *err)
{
	e->win_cap = rk_rewrite_window(&e->opts->settings);
	e->win = calloc(e->win_cap, sizeof *e->win);
	e->page_tokens = calloc(ntokens(e), sizeof *e->page_tokens);
	if (!e->win || !e->page_tokens)
		return rk_err_set(err, RK_FAIL, "out of memory");
	e->timing.window = e->win_cap;
	e->timing.repeat_bound = rk_rewrite_repeat_bound(&e->opts->settings);
	if (rk_rw_endpoints_new(e, err) != RK_OK || rk_rw_budget_new(e, err) != RK_OK)
		return err->code;
	rk_throttle_init(&e->throttle, e->opts->settings.qps, (unsigned)e->opts->settings.burst,
	                 (unsigned)e->opts->settings.concurrency, rk_clock_system());
	e->t0_ms = rk_rw_now_ms();
	rk_kube_set_observer(e->kube, rk_rw_endpoint_observe, e);
	return RK_OK;
}

void rk_rw_engine_free(rk_rw_engine *e)
{
	rk_kube_list_close(e->list); /* waits for its page in flight */
	e->list = NULL;
	rk_rw_budget_free(e); /* waits for probes in flight */
	rk_kube_set_observer(e->kube, NULL, NULL);
	if (e->win) {
		for (uint64_t s = e->seq_head; s < e->seq_tail; s++)
			item_release(at(e, s));
	}
	free(e->win);
	e->win = NULL;
	for (size_t i = 0; e->page_tokens && i < ntokens(e); i++)
		free(e->page_tokens[i]);
	free(e->page_tokens);
	e->page_tokens = NULL;
	kept_free(&e->orphans);
	kept_free(&e->failures);
	free(e->carried);
	e->carried = NULL;
	e->ncarried = 0;
	rk_rw_endpoints_free(e);
	rk_buf_free(&e->list_path);
	for (size_t i = 0; i < e->nnames; i++)
		free(e->names[i]);
	free(e->names);
	e->names = NULL;
	e->nnames = 0;
	rk_buf_free(&e->failure_report);
}
