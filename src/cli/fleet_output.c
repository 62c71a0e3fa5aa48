/* fleet_output.c: `rekeyctl fleet status` and `rekeyctl due` as a table or JSON (shapes in docs/output.md).
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>

#include "config_output_internal.h"
#include "fleet_output_internal.h"

static json_t *int_or_null(int64_t v, int64_t none)
{
	return v == none ? json_null() : json_integer((json_int_t)v);
}

static json_t *cluster_json(const rk_fleet_cluster_status *c)
{
	const rk_fleet_member *m = &c->member;
	return json_pack("{sssssisisssososssssssss{ssssss}}", "cluster", m->cluster, "plan", m->plan_path,
	                 "wave", m->wave, "position", m->position, "state", m->state, "run",
	                 int_or_null(m->run_id, 0), "exit_code", int_or_null(m->exit_code, -1), "started_at",
	                 m->started_at, "finished_at", m->finished_at, "detail", m->detail, "run_state",
	                 c->run_state, "stage", "name", c->stage, "node", c->stage_node, "status",
	                 c->stage_status);
}

void out_fleet_status(const rk_fleet_status *st, int json)
{
	if (json) {
		json_t *clusters = json_array();
		for (size_t i = 0; i < st->nclusters; i++)
			json_array_append_new(clusters, cluster_json(&st->clusters[i]));
		print_json(stdout,
		           json_pack("{sIsssssssssosssis{sIsIsIsIsI}so}", "run", (json_int_t)st->run.id,
		                     "fleet", st->run.fleet, "state", st->run.state, "started_at",
		                     st->run.started_at, "finished_at", st->run.finished_at, "exit_code",
		                     int_or_null(st->run.exit_code, -1), "detail", st->run.detail, "waves",
		                     st->nwaves, "counts", "done", (json_int_t)st->done, "failed",
		                     (json_int_t)st->failed, "stopped", (json_int_t)st->stopped, "running",
		                     (json_int_t)st->running, "pending", (json_int_t)st->pending, "clusters",
		                     clusters));
		return;
	}
	printf("fleet %s  run %lld  %s  (started %s%s%s)\n", st->run.fleet, (long long)st->run.id,
	       st->run.state, st->run.started_at, st->run.finished_at[0] ? ", finished " : "",
	       st->run.finished_at);
	printf("  %zu done, %zu running, %zu pending, %zu stopped, %zu failed; %d waves\n", st->done,
	       st->running, st->pending, st->stopped, st->failed, st->nwaves);
	if (st->run.detail[0])
		printf("  %s\n", st->run.detail);
	printf("%-5s %-20s %-8s %-6s %-4s %-26s %s\n", "WAVE", "CLUSTER", "STATE", "RUN", "EXIT", "STAGE",
	       "DETAIL");
	for (size_t i = 0; i < st->nclusters; i++) {
		const rk_fleet_cluster_status *c = &st->clusters[i];
		char run[24] = "-", code[16] = "-", stage[400] = "-";
		if (c->member.run_id)
			snprintf(run, sizeof run, "%lld", (long long)c->member.run_id);
		if (c->member.exit_code >= 0)
			snprintf(code, sizeof code, "%d", c->member.exit_code);
		if (c->stage[0])
			snprintf(stage, sizeof stage, "%s%s%s %s", c->stage, c->stage_node[0] ? ":" : "",
			         c->stage_node, c->stage_status);
		printf("%-5d %-20s %-8s %-6s %-4s %-26s %s\n", c->member.wave, c->member.cluster,
		       c->member.state, run, code, stage, c->member.detail);
	}
}

void out_due_report(const rk_due_report *r, int json)
{
	if (json) {
		json_t *clusters = json_array();
		for (size_t i = 0; i < r->nclusters; i++) {
			const rk_due_cluster *c = &r->clusters[i];
			json_array_append_new(
			    clusters,
			    json_pack("{sssssssssosososbsoss}", "cluster", c->cluster, "plan", c->plan_path,
			              "key", c->key, "source", c->source, "created_at",
			              c->created_at[0] ? json_string(c->created_at) : json_null(), "age_s",
			              c->age_s >= 0 ? json_real(c->age_s) : json_null(), "age_days",
			              c->age_s >= 0 ? json_real(c->age_s / 86400.0) : json_null(), "due",
			              c->due, "unfinished_run", int_or_null(c->unfinished, 0), "reason",
			              c->reason));
		}
		print_json(stdout, json_pack("{sfsIsIso}", "max_age_s", (double)r->max_age_ms / 1000.0,
		                             "clusters_due", (json_int_t)r->ndue, "clusters_total",
		                             (json_int_t)r->nclusters, "clusters", clusters));
		return;
	}
	printf("%-20s %-4s %-34s %-8s %-10s %s\n", "CLUSTER", "DUE", "WRITE KEY", "SOURCE", "AGE", "REASON");
	for (size_t i = 0; i < r->nclusters; i++) {
		const rk_due_cluster *c = &r->clusters[i];
		char age[32] = "?";
		if (c->age_s >= 0)
			snprintf(age, sizeof age, "%.1fd", c->age_s / 86400.0);
		printf("%-20s %-4s %-34s %-8s %-10s %s\n", c->cluster, c->due ? "yes" : "no",
		       c->key[0] ? c->key : "?", c->source, age, c->reason);
	}
	printf("%zu of %zu cluster(s) due (policy: write keys older than %.1f days)\n", r->ndue, r->nclusters,
	       (double)r->max_age_ms / 86400000.0);
}
