/* rewrite_run.c: rk_rewrite_run(): the run record (create, resume, finish), the object-count estimate,
 * the loop over resources and namespace scopes, and the periodic work while objects are written:
 * progress callbacks, budget decisions (applied to the pace, logged and stored with their numbers),
 * probes while paused, and the Prometheus textfile. */
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "rekey/fsutil.h"
#include "rekey/log.h"
#include "rewrite_engine_internal.h"

#define TICK_MS 250
#define METRICS_MS 2000
#define ESTIMATE_STAGE "rewrite.estimate"

/* ---- progress ---- */

static void update_rate(rk_rw_engine *e, double now)
{
	int64_t done = rk_counts_sum(&e->run_counts);
	size_t slot = e->rate_n % RK_RW_RATE_SLOTS;
	e->rate_t[slot] = now;
	e->rate_done[slot] = done;
	e->rate_n++;
	size_t oldest = e->rate_n < RK_RW_RATE_SLOTS ? 0 : e->rate_n % RK_RW_RATE_SLOTS;
	double dt = now - e->rate_t[oldest];
	e->achieved = dt > 0 ? (double)(done - e->rate_done[oldest]) * 1000.0 / dt : 0;
}

void rk_rw_progress(rk_rw_engine *e, int final)
{
	if (!e->hooks || !e->hooks->progress)
		return;
	rk_budget_stats stats;
	double now = rk_rw_now_ms();
	rk_budget_stats_now(e->budget, rk_monotonic_ns(), &stats);
	rk_rewrite_progress p = {.run_id = e->run_id,
	                         .resource = e->resource_key,
	                         .scope = e->scope ? e->scope : "",
	                         .counts = e->run_counts,
	                         .done = rk_counts_sum(&e->run_counts),
	                         .total = e->total,
	                         .rate = e->achieved,
	                         .qps_limit = e->throttle.qps,
	                         .p50_ms = isnan(stats.p50_ms) ? 0 : stats.p50_ms,
	                         .p99_ms = isnan(stats.p99_ms) ? 0 : stats.p99_ms,
	                         .error_ratio = isnan(stats.error_ratio) ? 0 : stats.error_ratio,
	                         .budget = e->state,
	                         .elapsed_s = (now - e->t0_ms) / 1000.0,
	                         .final = final};
	p.eta_s = rk_eta_s(p.done, p.total, p.rate);
	e->hooks->progress(&p, e->hooks->ud);
}

/* ---- Prometheus textfile ---- */

static void label_escape(rk_buf *b, const char *s)
{
	for (; *s; s++) {
		if (*s == '\\' || *s == '"')
			rk_buf_append(b, "\\", 1);
		if (*s == '\n')
			rk_buf_append_str(b, "\\n");
		else
			rk_buf_append(b, s, 1);
	}
}

static void write_metrics(rk_rw_engine *e)
{
	rk_buf b = RK_BUF_INIT, cl = RK_BUF_INIT;
	label_escape(&cl, e->opts->cluster);
	const char *c = rk_buf_cstr(&cl);
	const int64_t v[] = {e->run_counts.rewritten, e->run_counts.current, e->run_counts.conflict,
	                     e->run_counts.gone,      e->run_counts.orphan,  e->run_counts.failed};
	rk_buf_printf(&b, "# HELP rekeyctl_rewrite_objects_total Objects the rewrite handled, by outcome.\n"
	                  "# TYPE rekeyctl_rewrite_objects_total counter\n");
	for (int i = 0; i < 6; i++)
		rk_buf_printf(&b,
		              "rekeyctl_rewrite_objects_total{cluster=\"%s\",outcome=\"%s\"} %" PRId64 "\n",
		              c, rk_outcome_name((rk_outcome)i), v[i]);
	rk_budget_stats s;
	rk_budget_stats_now(e->budget, rk_monotonic_ns(), &s);
	if (isnan(s.p50_ms))
		s.p50_ms = s.p99_ms = s.error_ratio = 0;
	rk_buf_printf(
	    &b,
	    "# TYPE rekeyctl_rewrite_objects_estimate "
	    "gauge\nrekeyctl_rewrite_objects_estimate{cluster=\"%s\"} "
	    "%" PRId64 "\n# TYPE rekeyctl_rewrite_rate gauge\nrekeyctl_rewrite_rate{cluster=\"%s\"} %.3f\n"
	    "# TYPE rekeyctl_rewrite_qps_limit gauge\nrekeyctl_rewrite_qps_limit{cluster=\"%s\"} %.3f\n"
	    "# TYPE rekeyctl_rewrite_write_latency_seconds gauge\n"
	    "rekeyctl_rewrite_write_latency_seconds{cluster=\"%s\",quantile=\"0.5\"} %.6f\n"
	    "rekeyctl_rewrite_write_latency_seconds{cluster=\"%s\",quantile=\"0.99\"} %.6f\n"
	    "# TYPE rekeyctl_rewrite_error_ratio gauge\nrekeyctl_rewrite_error_ratio{cluster=\"%s\"} %.6f\n"
	    "# TYPE rekeyctl_rewrite_budget_state gauge\n",
	    c, e->total, c, e->achieved, c, e->throttle.qps, c, s.p50_ms / 1000.0, c, s.p99_ms / 1000.0, c,
	    s.error_ratio);
	for (int st = RK_RW_OK; st <= RK_RW_ABORTED; st++)
		rk_buf_printf(&b, "rekeyctl_rewrite_budget_state{cluster=\"%s\",state=\"%s\"} %d\n", c,
		              rk_rw_budget_state_name((rk_rw_budget_state)st),
		              e->state == (rk_rw_budget_state)st);
	rk_err err;
	if (rk_write_file_atomic(e->opts->metrics_file, b.data, b.len, 0, &err) != RK_OK)
		rk_warn("rewrite.metrics", "%s", err.msg);
	rk_buf_free(&b);
	rk_buf_free(&cl);
}

void rk_rw_tick(rk_rw_engine *e)
{
	double now = rk_rw_now_ms();
	if (now - e->last_tick_ms < TICK_MS)
		return;
	e->last_tick_ms = now;
	update_rate(e, now);
	rk_rw_budget_tick(e, now);
	if (e->opts->metrics_file && now - e->last_metrics_ms >= METRICS_MS) {
		e->last_metrics_ms = now;
		write_metrics(e);
	}
	rk_rw_progress(e, 0);
}

/* ---- the run record ---- */

static int open_run(rk_rw_engine *e, int *owns, rk_err *err)
{
	const rk_rewrite_opts *o = e->opts;
	rk_run run;
	int found = 0;
	*owns = 0;
	if (o->run_id > 0) { /* the orchestrator's run: it owns the record */
		if (rk_store_run_get(e->store, o->run_id, &run, &found, err) != RK_OK)
			return err->code;
		if (!found)
			return rk_err_set(err, RK_BADINPUT, "run %" PRId64 " not found in the state db",
			                  o->run_id);
		e->run_id = o->run_id;
		return RK_OK;
	}
	if (rk_store_run_latest(e->store, o->cluster, "rewrite", &run, &found, err) != RK_OK)
		return err->code;
	int unfinished = found && (!strcmp(run.state, "running") || !strcmp(run.state, "stopped"));
	/* a run that ended with failed objects or orphans can be resumed to try them again */
	int resumable = unfinished || (found && !strcmp(run.state, "failed"));
	if (o->resume && !resumable)
		return rk_err_set(err, RK_BADINPUT,
		                  "nothing to resume: cluster \"%s\" has no unfinished or failed rewrite run",
		                  o->cluster);
	if (!o->resume && unfinished)
		return rk_err_set(err, RK_BADINPUT,
		                  "rewrite run %" PRId64
		                  " of cluster \"%s\" is unfinished (%s): continue it with --resume",
		                  run.id, o->cluster, run.state);
	*owns = 1;
	if (o->resume) {
		e->run_id = run.id;
		rk_info("rewrite.resume", "resuming rewrite run %" PRId64 " of cluster \"%s\"", run.id,
		        o->cluster);
		return rk_store_run_set_state(e->store, run.id, "running", -1, err);
	}
	rk_run_spec spec = {.cluster = o->cluster, .kind = "rewrite"};
	return rk_store_run_create(e->store, &spec, &e->run_id, err);
}

static void finish_run(rk_rw_engine *e, int rc)
{
	const char *state = rc == RK_OK ? "done" : rc == RK_STOPPED ? "stopped" : "failed";
	rk_err err;
	if (rk_store_run_set_state(e->store, e->run_id, state, rc, &err) != RK_OK)
		rk_warn("rewrite.run", "could not record the run's end: %s", err.msg);
	char detail[256];
	const rk_counts *c = &e->run_counts;
	snprintf(detail, sizeof detail,
	         "rewritten %" PRId64 " current %" PRId64 " conflict %" PRId64 " gone %" PRId64
	         " orphan %" PRId64 " failed %" PRId64,
	         c->rewritten, c->current, c->conflict, c->gone, c->orphan, c->failed);
	if (rk_store_audit_add(e->store, e->opts->cluster, e->run_id, "rewrite", state, detail, &err) !=
	    RK_OK)
		rk_warn("rewrite.run", "could not record the audit event: %s", err.msg);
}

/* ---- scope ---- */

static const char *const default_resources[] = {"secrets"};

static size_t nscopes(const rk_rewrite_opts *o)
{
	return o->nnamespaces ? o->nnamespaces : 1;
}
static const char *scope_at(const rk_rewrite_opts *o, size_t i)
{
	return o->nnamespaces ? o->namespaces[i] : "";
}

static int resolve(rk_rw_engine *e, const char *name, rk_err *err)
{
	if (rk_kube_discover(e->kube, name, &e->res, err) != RK_OK)
		return err->code;
	if (!e->res.namespaced && e->opts->nnamespaces)
		return rk_err_set(err, RK_BADINPUT,
		                  "resource \"%s\" is cluster-scoped: --namespace does not apply", name);
	int n;
	if (e->res.group[0]) {
		n = snprintf(e->resource_key, sizeof e->resource_key, "%s.%s", e->res.resource, e->res.group);
		snprintf(e->api_version, sizeof e->api_version, "%s/%s", e->res.group, e->res.version);
	} else {
		n = snprintf(e->resource_key, sizeof e->resource_key, "%s", e->res.resource);
		snprintf(e->api_version, sizeof e->api_version, "%s", e->res.version);
	}
	if (n < 0 || (size_t)n >= sizeof e->resource_key) /* rk_kube_discover bounds the name: never */
		return rk_err_set(err, RK_BADINPUT, "resource \"%s\" is too long", name);
	return RK_OK;
}

/* Objects in one scope now: one item plus the list's remainingItemCount. -1 when unknown. */
static int64_t count_scope(rk_rw_engine *e, const char *scope)
{
	rk_buf path = RK_BUF_INIT;
	json_t *list = NULL;
	long status = 0;
	int64_t n = -1;
	rk_err err;
	if (rk_kube_resource_path(&e->res, scope, NULL, &path) == 0 &&
	    rk_buf_append_str(&path, "?limit=1") == 0 &&
	    rk_kube_get(e->kube, rk_buf_cstr(&path), &list, &status, &err) == RK_OK) {
		json_t *rem = json_object_get(json_object_get(list, "metadata"), "remainingItemCount");
		json_t *cont = json_object_get(json_object_get(list, "metadata"), "continue");
		size_t items = json_array_size(json_object_get(list, "items"));
		if (json_is_integer(rem))
			n = (int64_t)items + json_integer_value(rem);
		else if (!json_is_string(cont) || !*json_string_value(cont))
			n = (int64_t)items;
	}
	json_decref(list);
	rk_buf_free(&path);
	return n;
}

static void estimate(rk_rw_engine *e, const char *const *resources, size_t nres)
{
	int64_t total = 0;
	for (size_t r = 0; r < nres && total >= 0; r++) {
		rk_err err;
		if (resolve(e, resources[r], &err) != RK_OK) {
			total = -1;
			break;
		}
		for (size_t s = 0; s < nscopes(e->opts) && total >= 0; s++) {
			int64_t n = count_scope(e, scope_at(e->opts, s));
			total = n < 0 ? -1 : total + n;
		}
	}
	e->total = total;
	char detail[64];
	snprintf(detail, sizeof detail, "total=%" PRId64, total);
	rk_err err;
	if (rk_store_stage_done(e->store, e->run_id, ESTIMATE_STAGE, NULL, detail, &err) != RK_OK)
		rk_warn("rewrite.estimate", "could not record the estimate: %s", err.msg);
	rk_info("rewrite.estimate", "%" PRId64 " objects in scope (-1 = unknown)", total);
}

/* Every scope of one resource, then what earlier passes of the run left failed or orphaned; the
 * resource's totals start from what the run saved before. */
static int run_resource(rk_rw_engine *e, const char *name, rk_err *err)
{
	if (resolve(e, name, err) != RK_OK || rk_rw_carry_load(e, err) != RK_OK)
		return err->code;
	memset(&e->res_counts, 0, sizeof e->res_counts);
	for (size_t s = 0; s < nscopes(e->opts); s++) {
		rk_checkpoint cp;
		int found = 0;
		e->scope = scope_at(e->opts, s);
		if (rk_store_checkpoint_load(e->store, e->run_id, e->resource_key, e->scope, &cp, &found,
		                             err) != RK_OK)
			return err->code;
		if (found && s == 0)
			e->res_counts = cp.counts;
		if (found && s > 0 && rk_counts_sum(&e->res_counts) == 0)
			e->res_counts = cp.counts;
		if (found && cp.done) {
			rk_info("rewrite.scope", "%s scope \"%s\": already finished in this run",
			        e->resource_key, e->scope);
			continue;
		}
		rk_info("rewrite.scope", "%s scope \"%s\": %s", e->resource_key, e->scope,
		        found ? "resuming from its checkpoint" : "starting");
		int rc = rk_rw_scope(e, &cp, err);
		if (rc != RK_OK)
			return rc;
	}
	return rk_rw_retry(e, err);
}

/* The totals of every resource of the run as saved (resumed runs start from them). */
static int load_run_counts(rk_rw_engine *e, const char *const *resources, size_t nres, rk_err *err)
{
	memset(&e->run_counts, 0, sizeof e->run_counts);
	for (size_t r = 0; r < nres; r++) {
		if (resolve(e, resources[r], err) != RK_OK)
			return err->code;
		for (size_t s = 0; s < nscopes(e->opts); s++) {
			rk_checkpoint cp;
			int found = 0;
			if (rk_store_checkpoint_load(e->store, e->run_id, e->resource_key,
			                             scope_at(e->opts, s), &cp, &found, err) != RK_OK)
				return err->code;
			if (found) {
				rk_counts_merge(&e->run_counts, &cp.counts);
				break;
			}
		}
	}
	return RK_OK;
}

static int run_all(rk_rw_engine *e, rk_err *err)
{
	const char *const *resources = e->opts->nresources ? e->opts->resources : default_resources;
	size_t nres = e->opts->nresources ? e->opts->nresources : 1;
	if (load_run_counts(e, resources, nres, err) != RK_OK)
		return err->code;
	estimate(e, resources, nres);
	for (size_t r = 0; r < nres; r++) {
		int rc = run_resource(e, resources[r], err);
		if (rc != RK_OK)
			return rc;
	}
	int64_t orphans = 0;
	if (rk_store_orphan_count(e->store, e->run_id, &orphans, err) != RK_OK)
		return err->code;
	if (e->run_counts.failed || orphans)
		return rk_err_set(err, RK_FAIL,
		                  "rewrite finished with %" PRId64 " failed object(s) and %" PRId64
		                  " orphan(s): the old key must not be pruned",
		                  e->run_counts.failed, orphans);
	return RK_OK;
}

/* One rewrite per cluster and state dir at a time: an flock on STATE_DIR/rewrite-<cluster>.lock (released by
 * the kernel when the process dies, so kill -9 never leaves it behind). Returns the fd, or -1 with err set.
 */
static int lock_cluster(rk_store *store, const char *cluster, rk_err *err)
{
	char path[RK_STORE_PATH_MAX + RK_STORE_NAME_MAX];
	const char *db = rk_store_path(store);
	const char *slash = strrchr(db, '/');
	int dirlen = slash ? (int)(slash - db) : 1;
	snprintf(path, sizeof path, "%.*s/rewrite-", dirlen, slash ? db : ".");
	size_t n = strlen(path);
	for (const char *c = cluster; *c && n + 1 < sizeof path - 5; c++)
		path[n++] = (*c == '/' || *c == '.') ? '_' : *c;
	snprintf(path + n, sizeof path - n, ".lock");
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0) {
		rk_err_set(err, RK_FAIL, "%s: cannot open the lock file", path);
		return -1;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
		close(fd);
		rk_err_set(err, RK_UNSAFE,
		           "another rekeyctl is rewriting cluster \"%s\" with this state dir (%s is locked)",
		           cluster, path);
		return -1;
	}
	return fd;
}

int rk_rewrite_run(const rk_rewrite_opts *opts, rk_store *store, rk_kube *kube, const rk_rewrite_hooks *hooks,
                   rk_rewrite_result *result, rk_err *err)
{
	rk_err_clear(err);
	if (result)
		memset(result, 0, sizeof *result);
	if (rk_rewrite_opts_check(opts, err) != RK_OK)
		return err->code;
	int lock = lock_cluster(store, opts->cluster, err);
	if (lock < 0)
		return err->code;
	rk_rw_engine *e = calloc(1, sizeof *e);
	if (!e) {
		close(lock);
		return rk_err_set(err, RK_FAIL, "out of memory");
	}
	e->opts = opts;
	e->store = store;
	e->kube = kube;
	e->hooks = hooks;
	e->total = -1;
	int owns = 0;
	int rc = rk_rw_engine_init(e, err);
	if (rc == RK_OK && (rc = open_run(e, &owns, err)) == RK_OK)
		rc = run_all(e, err);
	if (e->run_id) {
		e->scope = e->scope ? e->scope : "";
		rk_rw_progress(e, 1);
		if (opts->metrics_file)
			write_metrics(e);
		if (owns)
			finish_run(e, rc);
	}
	if (result) {
		result->run_id = e->run_id;
		result->counts = e->run_counts;
		rk_err oerr;
		if (e->run_id)
			rk_store_orphan_count(store, e->run_id, &result->orphans, &oerr);
		result->stopped = rc != RK_STOPPED ? 0 : e->state == RK_RW_ABORTED ? 2 : 1;
	}
	rk_rw_engine_free(e);
	free(e);
	close(lock);
	return rc;
}
