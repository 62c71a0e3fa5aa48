/* rotation_lock.c: the cluster lock: a Lease in kube-system held and renewed for the whole run by a
 * thread with its own API client; a second rekeyctl refuses with the holder's identity; a stale lease
 * is taken over only after it expires (or, on this host, when its holder process is gone). */
#include <errno.h>
#include <jansson.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "rekey/log.h"
#include "rotation_internal.h"

#define RENEW_EVERY_S 15

static void make_holder(char *out, size_t cap)
{
	char host[128] = "unknown";
	gethostname(host, sizeof host - 1);
	struct passwd *pw = getpwuid(geteuid());
	snprintf(out, cap, "%s@%s/%ld", pw ? pw->pw_name : "unknown", host, (long)getpid());
}

/* Seconds since the lease was last renewed (or acquired); a large number when unknown. */
static double lease_age_s(json_t *lease)
{
	json_t *spec = json_object_get(lease, "spec");
	const char *when = json_string_value(json_object_get(spec, "renewTime"));
	if (!when)
		when = json_string_value(json_object_get(spec, "acquireTime"));
	struct tm tm;
	memset(&tm, 0, sizeof tm);
	if (!when || !strptime(when, "%Y-%m-%dT%H:%M:%S", &tm))
		return 1e9;
	return difftime(time(NULL), timegm(&tm));
}

/* 1 when holder is "user@<this host>/<pid>" and that process no longer exists. */
static int holder_is_dead_here(const char *holder, const char *ours)
{
	const char *slash = strrchr(holder, '/'), *our_slash = strrchr(ours, '/');
	if (!slash || !our_slash || slash - holder != our_slash - ours ||
	    strncmp(holder, ours, (size_t)(slash - holder)))
		return 0;
	long pid = strtol(slash + 1, NULL, 10);
	return pid > 0 && kill((pid_t)pid, 0) != 0 && errno == ESRCH;
}

static int take_over(rot_ctx *ctx, json_t *lease, const char *why, rk_err *err)
{
	json_t *renewed = NULL;
	long status = 0;
	int rc = rk_kube_lease_renew(ctx->kube, lease, ctx->holder, &renewed, &status, err);
	json_decref(renewed);
	if (rc != RK_OK && err->throttled_tries > 0)
		return rc; /* throttled, not refused: rot_lock_acquire stops with "try again later" */
	if (rc != RK_OK)
		return rk_err_set(err, RK_UNSAFE,
		                  "cluster lock: could not take over the lease (%s): HTTP %ld", why, status);
	rk_warn("lock.taken-over", "cluster lock taken over: %s", why);
	return RK_OK;
}

static int claim(rot_ctx *ctx, rk_err *err)
{
	json_t *lease = NULL;
	int rc = rk_kube_lease_get(ctx->kube, "kube-system", ROT_LOCK_LEASE, &lease, err);
	if (rc != RK_OK)
		return rc;
	if (!lease) {
		long status = 0;
		json_t *created = NULL;
		rc = rk_kube_lease_create(ctx->kube, "kube-system", ROT_LOCK_LEASE, ctx->holder,
		                          ROT_LOCK_SECONDS, &created, &status, err);
		json_decref(created);
		return rc == RK_OK || status != 409 ? rc : claim(ctx, err);
	}
	json_t *spec = json_object_get(lease, "spec");
	const char *holder = json_string_value(json_object_get(spec, "holderIdentity"));
	double age = lease_age_s(lease);
	long duration = (long)json_integer_value(json_object_get(spec, "leaseDurationSeconds"));
	if (!holder || !*holder || !strcmp(holder, ctx->holder))
		rc = take_over(ctx, lease, "free", err);
	else if (age > (double)(duration > 0 ? duration : ROT_LOCK_SECONDS))
		rc = take_over(ctx, lease, "expired", err);
	else if (holder_is_dead_here(holder, ctx->holder))
		rc = take_over(ctx, lease, "its holder process on this host is gone", err);
	else
		rc = rk_err_set(
		    err, RK_UNSAFE,
		    "cluster lock is held by %s (renewed %.0fs ago, expires in %.0fs): another rotation is "
		    "running",
		    holder, age, (double)duration - age);
	json_decref(lease);
	return rc;
}

static int renew_once(rk_kube *kube, const char *holder)
{
	json_t *lease = NULL, *renewed = NULL;
	rk_err err;
	long status = 0;
	if (rk_kube_lease_get(kube, "kube-system", ROT_LOCK_LEASE, &lease, &err) != RK_OK || !lease)
		return -1;
	const char *current =
	    json_string_value(json_object_get(json_object_get(lease, "spec"), "holderIdentity"));
	int ok = current && !strcmp(current, holder) &&
	         rk_kube_lease_renew(kube, lease, holder, &renewed, &status, &err) == RK_OK;
	json_decref(lease);
	json_decref(renewed);
	return ok ? 0 : -1;
}

static void *renew_loop(void *arg)
{
	rot_ctx *ctx = arg;
	rk_kube *kube = NULL;
	rk_err err;
	if (rk_kube_new(ctx->kcfg, NULL, &kube, &err) != RK_OK) {
		ctx->lease_lost = 1;
		return NULL;
	}
	int failures = 0;
	pthread_mutex_lock(&ctx->lease_mu);
	while (!ctx->lease_stop) {
		struct timespec until;
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_sec += RENEW_EVERY_S;
		pthread_cond_timedwait(&ctx->lease_cv, &ctx->lease_mu, &until);
		if (ctx->lease_stop)
			break;
		pthread_mutex_unlock(&ctx->lease_mu);
		failures = renew_once(kube, ctx->holder) == 0 ? 0 : failures + 1;
		if (failures >= 3) {
			ctx->lease_lost = 1;
			rk_error(
			    "lock.lost",
			    "cluster lock could not be renewed 3 times: stopping at the next safe point");
		}
		pthread_mutex_lock(&ctx->lease_mu);
	}
	pthread_mutex_unlock(&ctx->lease_mu);
	rk_kube_free(kube);
	return NULL;
}

int rot_stop_if_throttled(const char *what, rk_err *err)
{
	if (err->code != RK_FAIL || err->throttled_tries <= 0)
		return err->code;
	char cause[RK_ERR_MSG_MAX];
	int tries = err->throttled_tries;
	snprintf(cause, sizeof cause, "%s", err->msg);
	rk_err_set(
	    err, RK_STOPPED,
	    "%s: the apiserver kept throttling (429) for %d tries: nothing was changed; try again later "
	    "(%s)",
	    what, tries, cause);
	err->throttled_tries = tries;
	return RK_STOPPED;
}

int rot_lock_acquire(rot_ctx *ctx, rk_err *err)
{
	make_holder(ctx->holder, sizeof ctx->holder);
	int rc = claim(ctx, err);
	if (rc != RK_OK)
		return rot_stop_if_throttled("cluster lock", err);
	pthread_mutex_init(&ctx->lease_mu, NULL);
	pthread_cond_init(&ctx->lease_cv, NULL);
	ctx->lease_stop = 0;
	if (pthread_create(&ctx->lease_thread, NULL, renew_loop, ctx) != 0) {
		rot_lock_release(ctx);
		return rk_err_set(err, RK_FAIL, "cannot start the lock renewal thread");
	}
	ctx->lease_running = 1;
	rk_info("lock.acquired", "cluster lock %s/%s held by %s", "kube-system", ROT_LOCK_LEASE, ctx->holder);
	return RK_OK;
}

void rot_lock_release(rot_ctx *ctx)
{
	if (ctx->lease_running) {
		pthread_mutex_lock(&ctx->lease_mu);
		ctx->lease_stop = 1;
		pthread_cond_signal(&ctx->lease_cv);
		pthread_mutex_unlock(&ctx->lease_mu);
		pthread_join(ctx->lease_thread, NULL);
		ctx->lease_running = 0;
		pthread_mutex_destroy(&ctx->lease_mu);
		pthread_cond_destroy(&ctx->lease_cv);
	}
	json_t *lease = NULL;
	rk_err err;
	if (rk_kube_lease_get(ctx->kube, "kube-system", ROT_LOCK_LEASE, &lease, &err) == RK_OK && lease) {
		const char *holder =
		    json_string_value(json_object_get(json_object_get(lease, "spec"), "holderIdentity"));
		if (holder && !strcmp(holder, ctx->holder))
			rk_kube_delete(
			    ctx->kube,
			    "/apis/coordination.k8s.io/v1/namespaces/kube-system/leases/" ROT_LOCK_LEASE,
			    NULL, &err);
	}
	json_decref(lease);
}
