/* fleet_due.c: `rekeyctl due -f PLAN|FLEET`: which clusters' write keys are older than the policy
 * (rk_rotation_key_age for each cluster's plan), for a CronJob (`due && rotate`) or a dashboard. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fleet_internal.h"
#include "rekey/rotation.h"

static void judge(const rk_key_age *age, double now, long max_age_ms, rk_due_cluster *c)
{
	snprintf(c->cluster, sizeof c->cluster, "%s", age->cluster);
	snprintf(c->key, sizeof c->key, "%s", age->key);
	snprintf(c->source, sizeof c->source, "%s", age->source);
	snprintf(c->created_at, sizeof c->created_at, "%s", age->created >= 0 ? age->created_at : "");
	c->age_s = age->created >= 0 ? now - age->created : -1;
	c->unfinished = age->unfinished;
	double max_s = (double)max_age_ms / 1000.0;
	if (age->unfinished) {
		c->due = 1;
		snprintf(c->reason, sizeof c->reason, "rotation run %lld is unfinished (%s): resume it",
		         (long long)age->unfinished, age->unfinished_state);
	} else if (c->age_s < 0) {
		c->due = 1;
		snprintf(c->reason, sizeof c->reason, "age unknown: %.900s", age->note);
	} else if (c->age_s > max_s) {
		c->due = 1;
		snprintf(c->reason, sizeof c->reason, "key %s is %.1f days old (policy %.1f days)", c->key,
		         c->age_s / 86400.0, max_s / 86400.0);
	} else {
		snprintf(c->reason, sizeof c->reason, "key %s is %.1f days old, due in %.1f days", c->key,
		         c->age_s / 86400.0, (max_s - c->age_s) / 86400.0);
	}
}

static int check_one(const rk_due_opts *opts, const char *plan_path, double now, long max_age_ms,
                     rk_due_report *r, rk_err *err)
{
	rk_key_age age;
	int rc = rk_rotation_key_age(plan_path, opts->state_dir, &age, err);
	if (rc != RK_OK)
		return rc;
	rk_due_cluster *c = &r->clusters[r->nclusters++];
	memset(c, 0, sizeof *c);
	snprintf(c->plan_path, sizeof c->plan_path, "%s", plan_path);
	judge(&age, now, max_age_ms, c);
	r->ndue += c->due != 0;
	return RK_OK;
}

int rk_due_check(const rk_due_opts *opts, rk_due_report *r, rk_err *err)
{
	memset(r, 0, sizeof *r);
	char kind[64];
	double now = (double)(opts->now ? opts->now : time(NULL));
	int rc = rk_fleet_file_kind(opts->path, kind, sizeof kind, err);
	if (rc != RK_OK)
		return rc;
	rk_fleet_plan *fleet = NULL;
	if (!strcmp(kind, "FleetPlan"))
		rc = rk_fleet_plan_load_file(opts->path, &fleet, err);
	else if (strcmp(kind, "RotationPlan") != 0)
		rc = rk_err_set(err, RK_BADINPUT, "%s: kind \"%s\" is neither RotationPlan nor FleetPlan",
		                opts->path, kind);
	size_t n = fleet ? fleet->nclusters : 1;
	r->max_age_ms = opts->max_age_ms > 0 ? opts->max_age_ms
	                : fleet              ? fleet->max_key_age_ms
	                                     : RK_FLEET_DEFAULT_MAX_KEY_AGE_MS;
	if (rc == RK_OK && !(r->clusters = calloc(n, sizeof *r->clusters)))
		rc = rk_err_set(err, RK_FAIL, "out of memory");
	for (size_t i = 0; rc == RK_OK && i < n; i++)
		rc = check_one(opts, fleet ? fleet->clusters[i].plan_path : opts->path, now, r->max_age_ms, r,
		               err);
	rk_fleet_plan_free(fleet);
	if (rc != RK_OK)
		rk_due_report_free(r);
	return rc;
}

void rk_due_report_free(rk_due_report *r)
{
	free(r->clusters);
	r->clusters = NULL;
	r->nclusters = r->ndue = 0;
}
