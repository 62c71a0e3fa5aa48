/* status_output.c: `rekeyctl status` of a rotation run: its stage, each node's gates (read, promote,
 * prune, rollback), the rewrite's progress, rate, ETA and budget, as a table or one JSON line
 * (docs/output.md). A rewrite run prints as before (output.c). */
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "output_internal.h"

static const char *const node_stages[] = {"read", "promote", "prune", "rollback"};
#define NODE_STAGES (sizeof node_stages / sizeof node_stages[0])

/* The status of (stage, node) among the records, "" when none. */
static const char *stage_of(const rk_rotation_status *st, const char *stage, const char *node)
{
	for (size_t i = 0; i < st->nstages; i++)
		if (!strcmp(st->stages[i].stage, stage) && !strcmp(st->stages[i].node, node))
			return rk_stage_status_name(st->stages[i].status);
	return "";
}

/* Calls fn for every node named by a stage record, once, in the order first seen. */
static void each_node(const rk_rotation_status *st,
                      void (*fn)(const rk_rotation_status *, const char *, void *), void *ud)
{
	for (size_t i = 0; i < st->nstages; i++) {
		const char *node = st->stages[i].node;
		int seen = !*node;
		for (size_t j = 0; j < i && !seen; j++)
			seen = !strcmp(st->stages[j].node, node);
		if (!seen)
			fn(st, node, ud);
	}
}

static json_t *counts_json(const rk_counts *c)
{
	return json_pack("{sIsIsIsIsIsI}", "rewritten", (json_int_t)c->rewritten, "current",
	                 (json_int_t)c->current, "conflict", (json_int_t)c->conflict, "gone",
	                 (json_int_t)c->gone, "orphan", (json_int_t)c->orphan, "failed",
	                 (json_int_t)c->failed);
}

static json_t *stage_json(const rk_stage *s)
{
	return json_pack("{ssssssssssss}", "name", s->stage, "node", s->node, "status",
	                 rk_stage_status_name(s->status), "detail", s->detail, "started_at", s->started_at,
	                 "finished_at", s->finished_at);
}

static void node_json(const rk_rotation_status *st, const char *node, void *ud)
{
	json_t *o = json_pack("{ss}", "name", node);
	for (size_t k = 0; k < NODE_STAGES; k++)
		json_object_set_new(o, node_stages[k], json_string(stage_of(st, node_stages[k], node)));
	json_array_append_new(ud, o);
}

static json_t *rewrite_json(const rk_rewrite_status *r)
{
	return json_pack("{sIsIsfsfsIsssIsosssssiso}", "done", (json_int_t)r->done, "total",
	                 (json_int_t)r->total, "rate", r->rate, "eta_s", r->eta_s, "orphans",
	                 (json_int_t)r->orphans, "budget", r->budget, "budget_decisions",
	                 (json_int_t)r->budget_decisions, "budget_signals", rewrite_signals_json(r),
	                 "started_at", r->started_at, "updated_at", r->updated_at, "scopes_done",
	                 r->scopes_done, "counts", counts_json(&r->counts));
}

json_t *rotation_status_json(const rk_rotation_status *st)
{
	if (strcmp(st->rewrite.run.kind, "rotate") != 0)
		return rewrite_status_json(&st->rewrite);
	const rk_run *run = &st->rewrite.run;
	json_t *stages = json_array(), *nodes = json_array();
	for (size_t i = 0; i < st->nstages; i++)
		json_array_append_new(stages, stage_json(&st->stages[i]));
	each_node(st, node_json, nodes);
	return json_pack("{sIsssssssssssisssssosososo}", "run", (json_int_t)run->id, "cluster", run->cluster,
	                 "kind", run->kind, "state", run->state, "started_at", run->started_at, "finished_at",
	                 run->finished_at, "exit_code", run->exit_code, "old_key", run->old_key, "new_key",
	                 run->new_key, "stage",
	                 st->current >= 0 ? stage_json(&st->stages[st->current]) : json_null(), "stages",
	                 stages, "nodes", nodes, "rewrite", rewrite_json(&st->rewrite));
}

static void node_row(const rk_rotation_status *st, const char *node, void *ud)
{
	FILE *out = ud;
	fprintf(out, "            %-16s", node);
	for (size_t k = 0; k < NODE_STAGES; k++) {
		const char *s = stage_of(st, node_stages[k], node);
		fprintf(out, " %-9s", *s ? s : "-");
	}
	fprintf(out, "\n");
}

static void rotation_table(FILE *out, const rk_rotation_status *st)
{
	const rk_run *run = &st->rewrite.run;
	const rk_rewrite_status *r = &st->rewrite;
	fprintf(out, "cluster %s  rotation run %" PRId64 "  %s  (started %s%s%s)\n", run->cluster, run->id,
	        run->state, run->started_at, run->finished_at[0] ? ", finished " : "", run->finished_at);
	fprintf(out, "  keys      %s -> %s\n", run->old_key, run->new_key);
	if (st->current >= 0) {
		const rk_stage *s = &st->stages[st->current];
		fprintf(out, "  stage     %s%s%s %s (since %s)%s%s\n", s->stage, s->node[0] ? ":" : "",
		        s->node, rk_stage_status_name(s->status), s->started_at, s->detail[0] ? ": " : "",
		        s->detail);
	}
	fprintf(out, "  stages   ");
	for (size_t i = 0; i < st->nstages; i++)
		if (!st->stages[i].node[0])
			fprintf(out, " %s:%s", st->stages[i].stage,
			        rk_stage_status_name(st->stages[i].status));
	fprintf(out, "\n  nodes     %-16s", "NODE");
	for (size_t k = 0; k < NODE_STAGES; k++)
		fprintf(out, " %-9s", node_stages[k]);
	fprintf(out, "\n");
	each_node(st, node_row, out);
	char line[256];
	out_rewrite_progress_line(r, line, sizeof line);
	fprintf(out, "  rewrite   %s\n", line);
	fprintf(out, "  budget    %s (%" PRId64 " decisions)\n", r->budget[0] ? r->budget : "no decision",
	        r->budget_decisions);
	out_rewrite_signals(out, r);
}

void out_rotation_status(FILE *out, const rk_rotation_status *st, int json)
{
	if (strcmp(st->rewrite.run.kind, "rotate") != 0) {
		out_rewrite_status(out, &st->rewrite, json);
		return;
	}
	if (json)
		print_json_line(out, rotation_status_json(st));
	else
		rotation_table(out, st);
}
