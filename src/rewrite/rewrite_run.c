/* rewrite_run.c: rk_rewrite_run(): the run record (create, resume, finish), the object-count estimate and
 * the loop over resources and namespace scopes (each one written by rewrite.c; the periodic work while
 * objects are written is rewrite_tick.c's). */
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <unistd.h>

#include "rekey/encconfig.h"
#include "rekey/fsutil.h"
#include "rekey/log.h"
#include "rewrite_engine_internal.h"

#define ESTIMATE_STAGE "rewrite.estimate"

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
			const char *scope = scope_at(e->opts, s);
			int64_t n = rk_kube_count(e->kube, &e->res, *scope ? scope : NULL);
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
	memset(&e->prefix_counts, 0, sizeof e->prefix_counts);
	for (size_t s = 0; s < nscopes(e->opts); s++) {
		rk_checkpoint cp;
		int found = 0;
		e->scope = scope_at(e->opts, s);
		if (rk_store_checkpoint_load(e->store, e->run_id, e->resource_key, e->scope, &cp, &found,
		                             err) != RK_OK)
			return err->code;
		if (found && s == 0)
			e->prefix_counts = cp.counts;
		if (found && s > 0 && rk_counts_sum(&e->prefix_counts) == 0)
			e->prefix_counts = cp.counts;
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

/* ---- the resources ---- */

typedef struct rw_names {
	char **items;
	size_t n;
} rw_names;

static void names_free(rw_names *names)
{
	for (size_t i = 0; i < names->n; i++)
		free(names->items[i]);
	free(names->items);
	names->items = NULL;
	names->n = 0;
}

static int push_name(rw_names *names, const char *name)
{
	char **grown = realloc(names->items, (names->n + 1) * sizeof *grown);
	if (!grown)
		return -1;
	names->items = grown;
	if (!(grown[names->n] = strdup(name)))
		return -1;
	names->n++;
	return 0;
}

/* Every stored resource a wildcard entry ("*.", "*.apps", "*.*") covers, by discovery. */
static int expand_wildcard(const rk_rewrite_opts *opts, const char *entry, const rk_kube_resources *stored,
                           rw_names *names, rk_err *err)
{
	size_t before = names->n;
	for (size_t i = 0; i < stored->n; i++) {
		char spec[400];
		if (!rk_entry_covers(entry, stored->items[i].group, stored->items[i].resource) ||
		    (opts->nnamespaces && !stored->items[i].namespaced)) /* --namespace: namespaced only */
			continue;
		rk_kube_resource_spec(&stored->items[i], spec, sizeof spec);
		if (push_name(names, spec) != 0)
			return rk_err_set(err, RK_FAIL, "out of memory");
	}
	rk_info("rewrite.resources", "%s: %zu stored resources", entry, names->n - before);
	return RK_OK;
}

/* The names to rewrite: the options' (default secrets), wildcard entries replaced by what they cover. */
static int resolve_names(rk_kube *k, const rk_rewrite_opts *opts, rw_names *names, rk_err *err)
{
	const char *const *resources = opts->nresources ? opts->resources : default_resources;
	size_t nres = opts->nresources ? opts->nresources : 1;
	rk_kube_resources stored = {NULL, 0};
	int rc = RK_OK, discovered = 0;
	for (size_t r = 0; rc == RK_OK && r < nres; r++) {
		if (!strchr(resources[r], '*')) {
			rc = push_name(names, resources[r]) == 0 ? RK_OK
			                                         : rk_err_set(err, RK_FAIL, "out of memory");
			continue;
		}
		if (!discovered && (rc = rk_kube_stored_resources(k, &stored, err)) != RK_OK)
			break;
		discovered = 1;
		rc = expand_wildcard(opts, resources[r], &stored, names, err);
	}
	rk_kube_resources_free(&stored);
	if (rc != RK_OK)
		names_free(names);
	return rc;
}

/* Before anything is recorded or written, through a client of its own (the engine's spreads requests over
 * the endpoints and keeps their health, which a review's failed attempt at a failing apiserver would lower
 * before the run starts): the names to rewrite, wildcards resolved by discovery, and whether the client
 * may list, get and update each of them (rk_rewrite_check_access). */
static int resolve_and_check_access(const rk_kube_config *kubeconfig, const rk_rewrite_opts *opts,
                                    rw_names *names, rk_err *err)
{
	rk_kube *k = NULL;
	int rc = rk_kube_new(kubeconfig, NULL, &k, err);
	if (rc == RK_OK)
		rc = resolve_names(k, opts, names, err);
	if (rc == RK_OK)
		rc = rk_rewrite_check_access(k, (const char *const *)names->items, names->n, opts->namespaces,
		                             opts->nnamespaces, err);
	rk_kube_free(k);
	return rc;
}

/* After a resource: its failed objects are named (the first one with the apiserver's answer), in the log,
 * the audit trail and the run's result, never skipped silently. */
static void report_failures(rk_rw_engine *e)
{
	if (!e->first_failure[0])
		return;
	char line[RK_ERR_MSG_MAX];
	snprintf(line, sizeof line, "%s: %" PRId64 " object(s) could not be written back, first %s",
	         e->resource_key, e->prefix_counts.failed, e->first_failure);
	rk_error("rewrite.refused", "%s", line);
	rk_err err;
	if (rk_store_audit_add(e->store, e->opts->cluster, e->run_id, "rewrite-failed", e->resource_key, line,
	                       &err) != RK_OK)
		rk_warn("rewrite.run", "could not record the audit event: %s", err.msg);
	if (e->failure_report.len)
		rk_buf_append_str(&e->failure_report, "; ");
	rk_buf_append_str(&e->failure_report, line);
	e->first_failure[0] = '\0';
}

static int run_all(rk_rw_engine *e, rk_err *err)
{
	const char *const *resources = (const char *const *)e->names;
	size_t nres = e->nnames;
	if (load_run_counts(e, resources, nres, err) != RK_OK)
		return err->code;
	estimate(e, resources, nres);
	for (size_t r = 0; r < nres; r++) {
		int rc = run_resource(e, resources[r], err);
		report_failures(e);
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

/* The wall time and CPU of the run, logged with where the time went. */
static void finish_timing(rk_rw_engine *e)
{
	rk_rewrite_timing *t = &e->timing;
	struct rusage ru;
	t->wall_s = (rk_rw_now_ms() - e->t0_ms) / 1000.0;
	if (getrusage(RUSAGE_SELF, &ru) == 0) {
		t->cpu_user_s = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6;
		t->cpu_sys_s = (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
	}
	rk_info("rewrite.timing",
	        "wall %.2fs: waiting on list %.2fs, in-flight cap (PUT round trips) %.2fs, throttle %.2fs, "
	        "window %.2fs, drain %.2fs; %llu checkpoints %.3fs; %llu PUT attempts, mean %.1f ms; CPU "
	        "user %.2fs sys %.2fs",
	        t->wall_s, t->wait_s[RK_REWRITE_WAIT_LIST], t->wait_s[RK_REWRITE_WAIT_INFLIGHT],
	        t->wait_s[RK_REWRITE_WAIT_THROTTLE], t->wait_s[RK_REWRITE_WAIT_WINDOW],
	        t->wait_s[RK_REWRITE_WAIT_DRAIN], (unsigned long long)t->checkpoints, t->checkpoint_s,
	        (unsigned long long)t->put_attempts,
	        t->put_attempts ? t->put_latency_s * 1000.0 / (double)t->put_attempts : 0.0, t->cpu_user_s,
	        t->cpu_sys_s);
}

/* names: the resolved resources, handed to the engine (freed with it). */
static int run_engine(const rk_rewrite_opts *opts, rw_names *names, rk_store *store, rk_kube *kube,
                      const rk_rewrite_hooks *hooks, rk_rewrite_result *result, rk_err *err)
{
	int lock = lock_cluster(store, opts->cluster, err);
	rk_rw_engine *e = lock < 0 ? NULL : calloc(1, sizeof *e);
	if (!e) {
		names_free(names);
		if (lock < 0)
			return err->code;
		close(lock);
		return rk_err_set(err, RK_FAIL, "out of memory");
	}
	e->names = names->items;
	e->nnames = names->n;
	names->items = NULL;
	names->n = 0;
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
			rk_rw_write_metrics(e);
		if (owns)
			finish_run(e, rc);
	}
	finish_timing(e);
	if (result) {
		result->timing = e->timing;
		result->endpoints = calloc(e->neps + 1, sizeof *result->endpoints);
		for (size_t i = 0; result->endpoints && i < e->neps; i++)
			result->endpoints[result->nendpoints++] = e->eps[i].stats;
		result->run_id = e->run_id;
		result->counts = e->run_counts;
		rk_err oerr;
		if (e->run_id)
			rk_store_orphan_count(store, e->run_id, &result->orphans, &oerr);
		result->stopped = rc != RK_STOPPED ? 0 : e->kms_down ? 3 : e->state == RK_RW_ABORTED ? 2 : 1;
		snprintf(result->kms_error, sizeof result->kms_error, "%s", e->kms_down ? e->kms_error : "");
		snprintf(result->failures, sizeof result->failures, "%s", rk_buf_cstr(&e->failure_report));
	}
	rk_rw_engine_free(e);
	free(e);
	close(lock);
	return rc;
}

/* The engine's API client: more attempts than the client's default, within 2 minutes, so a rewrite rides
 * out 429 storms and apiservers restarting under it, inside a rotation or not; as many connections per
 * apiserver as PUTs in flight, plus the list's and a probe's. */
static rk_kube_opts engine_client(const rk_rewrite_settings *s)
{
	rk_kube_opts o = {.max_attempts = 10, .retry_budget_ms = 120000};
	o.max_host_connections = s->concurrency + 2;
	return o;
}

/* How many attempts a request answered with a KMS failure gets: one per apiserver the PUTs spread over (a
 * retry goes to another one: a single node's plugin may be down), at least 2; then the rewrite pauses
 * instead of retrying the same answer for up to 2 minutes (docs/kms.md section 12). */
static int kms_tries(const rk_rewrite_opts *opts)
{
	return opts->nendpoints > 2 ? (int)opts->nendpoints : 2;
}

static int kms_answer_final(void *user, const rk_kube_resp *attempt)
{
	return rk_rewrite_kms_final(attempt, *(const int *)user);
}

void rk_rewrite_result_free(rk_rewrite_result *result)
{
	if (!result)
		return;
	free(result->endpoints);
	memset(result, 0, sizeof *result);
}

int rk_rewrite_run(const rk_rewrite_opts *opts, rk_store *store, const rk_kube_config *kubeconfig,
                   const rk_rewrite_hooks *hooks, rk_rewrite_result *result, rk_err *err)
{
	rk_err_clear(err);
	if (result)
		memset(result, 0, sizeof *result);
	if (rk_rewrite_opts_check(opts, err) != RK_OK)
		return err->code;
	rk_kube *kube = NULL;
	rk_kube_opts client = engine_client(&opts->settings);
	rw_names names = {NULL, 0};
	int tries = kms_tries(opts);
	int rc = rk_kube_new(kubeconfig, &client, &kube, err);
	if (rc == RK_OK)
		rk_kube_set_final(kube, kms_answer_final, &tries);
	if (rc == RK_OK)
		rc = resolve_and_check_access(kubeconfig, opts, &names, err);
	if (rc == RK_OK)
		rc = run_engine(opts, &names, store, kube, hooks, result, err);
	names_free(&names);
	rk_kube_free(kube);
	return rc;
}
