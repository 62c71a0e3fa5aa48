/* output.c: progress bar and JSON progress lines of a rewrite, its final summary, and `status`. */
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "output_internal.h"

#define JSON_EVERY_S 2.0
#define BAR_WIDTH 24

void out_progress_init(out_progress *o, FILE *f)
{
	memset(o, 0, sizeof *o);
	o->f = f;
	o->tty = isatty(fileno(f));
	o->last_s = -1e9;
}

static void fmt_eta(double s, char *buf, size_t cap)
{
	if (s < 0) {
		snprintf(buf, cap, "--:--");
		return;
	}
	long t = (long)(s + 0.5);
	if (t >= 3600)
		snprintf(buf, cap, "%ld:%02ld:%02ld", t / 3600, t / 60 % 60, t % 60);
	else
		snprintf(buf, cap, "%ld:%02ld", t / 60, t % 60);
}

void out_progress_line(const rk_rewrite_progress *p, char *buf, size_t cap)
{
	char bar[BAR_WIDTH + 1], eta[32], total[32];
	int filled = 0;
	double pct = -1;
	if (p->total > 0) {
		pct = 100.0 * (double)p->done / (double)p->total;
		pct = pct > 100 ? 100 : pct;
		filled = (int)(pct * BAR_WIDTH / 100.0);
	}
	for (int i = 0; i < BAR_WIDTH; i++)
		bar[i] = i < filled ? '#' : '.';
	bar[BAR_WIDTH] = 0;
	fmt_eta(p->eta_s, eta, sizeof eta);
	if (p->total >= 0)
		snprintf(total, sizeof total, "%" PRId64, p->total);
	else
		snprintf(total, sizeof total, "?");
	snprintf(buf, cap, "%s [%s] %5.1f%% %" PRId64 "/%s  %.0f/s  ETA %s  p99 %.0fms  budget %s%s",
	         p->resource, bar, pct < 0 ? 0 : pct, p->done, total, p->rate, eta, p->p99_ms,
	         rk_rw_budget_state_name(p->budget),
	         p->counts.failed || p->counts.orphan ? "  (failures/orphans!)" : "");
}

static json_t *counts_json(const rk_counts *c)
{
	return json_pack("{sIsIsIsIsIsI}", "rewritten", (json_int_t)c->rewritten, "current",
	                 (json_int_t)c->current, "conflict", (json_int_t)c->conflict, "gone",
	                 (json_int_t)c->gone, "orphan", (json_int_t)c->orphan, "failed",
	                 (json_int_t)c->failed);
}

static void progress_json(out_progress *o, const rk_rewrite_progress *p)
{
	json_t *j =
	    json_pack("{sssIsssssIsIsfsfsfsfsfsfsssfsbso}", "event", "rewrite.progress", "run",
	              (json_int_t)p->run_id, "resource", p->resource, "scope", p->scope, "done",
	              (json_int_t)p->done, "total", (json_int_t)p->total, "rate", p->rate, "qps_limit",
	              p->qps_limit, "eta_s", p->eta_s, "p50_ms", p->p50_ms, "p99_ms", p->p99_ms,
	              "error_ratio", p->error_ratio, "budget", rk_rw_budget_state_name(p->budget),
	              "elapsed_s", p->elapsed_s, "final", p->final, "counts", counts_json(&p->counts));
	if (!j)
		return;
	char *line = json_dumps(j, JSON_COMPACT);
	if (line)
		fprintf(o->f, "%s\n", line);
	free(line);
	json_decref(j);
	fflush(o->f);
}

void out_progress_cb(const rk_rewrite_progress *p, void *ud)
{
	out_progress *o = ud;
	if (!o->tty) {
		if (p->final || p->elapsed_s - o->last_s >= JSON_EVERY_S) {
			o->last_s = p->elapsed_s;
			progress_json(o, p);
		}
		return;
	}
	char line[512];
	out_progress_line(p, line, sizeof line);
	fprintf(o->f, "\r\033[K%s%s", line, p->final ? "\n" : "");
	o->drawn = !p->final;
	fflush(o->f);
}

/* Where the time went: {"wall_s", "wait_s": {"list", ...}, "checkpoints", ...}. */
static json_t *timing_json(const rk_rewrite_timing *t)
{
	json_t *waits = json_object();
	for (int w = 0; w < RK_REWRITE_WAIT_N; w++)
		json_object_set_new(waits, rk_rewrite_wait_name((rk_rewrite_wait)w), json_real(t->wait_s[w]));
	return json_pack("{sfsosIsfsIsfsfsfsIsI}", "wall_s", t->wall_s, "wait_s", waits, "checkpoints",
	                 (json_int_t)t->checkpoints, "checkpoint_s", t->checkpoint_s, "put_attempts",
	                 (json_int_t)t->put_attempts, "put_latency_s", t->put_latency_s, "cpu_user_s",
	                 t->cpu_user_s, "cpu_sys_s", t->cpu_sys_s, "window", (json_int_t)t->window,
	                 "repeat_bound", (json_int_t)t->repeat_bound);
}

static json_t *endpoints_json(const rk_rewrite_result *r)
{
	json_t *a = json_array();
	for (size_t i = 0; i < r->nendpoints; i++) {
		const rk_rewrite_endpoint_stats *s = &r->endpoints[i];
		json_array_append_new(
		    a, json_pack("{sssIsIsfsIsf}", "url", s->url, "attempts", (json_int_t)s->attempts,
		                 "errors", (json_int_t)s->errors, "mean_latency_ms",
		                 s->attempts ? s->latency_ms / (double)s->attempts : 0.0, "decisions",
		                 (json_int_t)s->decisions, "min_health", s->min_health));
	}
	return a;
}

void out_rewrite_result(const rk_rewrite_result *r, int rc, const char *message, int json)
{
	const char *state = rc == 0 ? "done" : rc == 3 ? "stopped" : "failed";
	if (json) {
		json_t *j = json_pack("{sIsssisIsosssoso}", "run", (json_int_t)r->run_id, "state", state,
		                      "exit_code", rc, "orphans", (json_int_t)r->orphans, "counts",
		                      counts_json(&r->counts), "message", message ? message : "", "timing",
		                      timing_json(&r->timing), "endpoints", endpoints_json(r));
		char *s = j ? json_dumps(j, JSON_INDENT(2)) : NULL;
		if (s)
			printf("%s\n", s);
		free(s);
		json_decref(j);
		return;
	}
	const rk_counts *c = &r->counts;
	printf("run %" PRId64 ": %s\n", r->run_id, state);
	printf("  rewritten %" PRId64 "  current %" PRId64 "  conflict %" PRId64 "  gone %" PRId64
	       "  orphan %" PRId64 "  failed %" PRId64 "\n",
	       c->rewritten, c->current, c->conflict, c->gone, c->orphan, c->failed);
	if (message && *message)
		printf("  %s\n", message);
}

json_t *rewrite_signals_json(const rk_rewrite_status *st)
{
	json_t *a = json_array();
	for (size_t i = 0; a && i < st->nsignals; i++)
		json_array_append_new(a, json_pack("{sssssI}", "decision", st->signals[i].decision, "signal",
		                                   st->signals[i].signal, "count",
		                                   (json_int_t)st->signals[i].count));
	return a;
}

/* "slowdown by server-p99 x2, pause by 5xx x1" (decisions no breach drove are left out). */
void out_rewrite_signals(FILE *out, const rk_rewrite_status *st)
{
	int any = 0;
	for (size_t i = 0; i < st->nsignals; i++) {
		const rk_budget_signal_count *c = &st->signals[i];
		if (!c->signal[0])
			continue;
		fprintf(out, "%s%s by %s x%" PRId64, any ? ", " : "  signals   ", c->decision, c->signal,
		        c->count);
		any = 1;
	}
	if (any)
		fprintf(out, "\n");
}

json_t *rewrite_status_json(const rk_rewrite_status *st)
{
	json_t *j = json_pack("{sIsssssssssssisIsIsIsisisssssssssfsfsssIso}", "run", (json_int_t)st->run.id,
	                      "cluster", st->run.cluster, "kind", st->run.kind, "state", st->run.state,
	                      "started_at", st->run.started_at, "finished_at", st->run.finished_at,
	                      "exit_code", st->run.exit_code, "done", (json_int_t)st->done, "total",
	                      (json_int_t)st->total, "orphans", (json_int_t)st->orphans, "scopes", st->scopes,
	                      "scopes_done", st->scopes_done, "resource", st->resource, "scope", st->scope,
	                      "last_namespace", st->last_namespace, "last_name", st->last_name, "rate",
	                      st->rate, "eta_s", st->eta_s, "budget", st->budget, "budget_decisions",
	                      (json_int_t)st->budget_decisions, "counts", counts_json(&st->counts));
	if (j)
		json_object_set_new(j, "budget_signals", rewrite_signals_json(st));
	return j;
}

void print_json_line(FILE *out, json_t *j)
{
	char *s = j ? json_dumps(j, JSON_COMPACT) : NULL;
	if (s)
		fprintf(out, "%s\n", s);
	free(s);
	json_decref(j);
}

void out_rewrite_status(FILE *out, const rk_rewrite_status *st, int json)
{
	if (json) {
		print_json_line(out, rewrite_status_json(st));
		return;
	}
	char eta[32], total[32];
	fmt_eta(st->eta_s, eta, sizeof eta);
	snprintf(total, sizeof total, st->total >= 0 ? "%" PRId64 : "?", st->total);
	const rk_counts *c = &st->counts;
	fprintf(out, "cluster %s  %s run %" PRId64 "  %s  (started %s%s%s)\n", st->run.cluster, st->run.kind,
	        st->run.id, st->run.state, st->run.started_at, st->run.finished_at[0] ? ", finished " : "",
	        st->run.finished_at);
	fprintf(out, "  progress  %" PRId64 "/%s objects  %.1f/s  ETA %s\n", st->done, total,
	        st->rate < 0 ? 0 : st->rate, eta);
	fprintf(out,
	        "  outcomes  rewritten %" PRId64 "  current %" PRId64 "  conflict %" PRId64 "  gone %" PRId64
	        "  orphan %" PRId64 "  failed %" PRId64 "\n",
	        c->rewritten, c->current, c->conflict, c->gone, c->orphan, c->failed);
	if (st->scopes && st->scopes_done == st->scopes)
		fprintf(out, "  position  all %d scopes finished (last checkpoint %s)\n", st->scopes,
		        st->updated_at);
	else
		fprintf(out,
		        "  position  %s scope \"%s\" after %s/%s (%d of %d scopes finished, checkpoint %s)\n",
		        st->resource[0] ? st->resource : "-", st->scope, st->last_namespace, st->last_name,
		        st->scopes_done, st->scopes, st->updated_at[0] ? st->updated_at : "none");
	fprintf(out, "  budget    %s (%" PRId64 " decisions)\n", st->budget[0] ? st->budget : "no decision",
	        st->budget_decisions);
	out_rewrite_signals(out, st);
}

void out_rewrite_progress_line(const rk_rewrite_status *st, char *buf, size_t cap)
{
	char eta[32], total[32];
	fmt_eta(st->eta_s, eta, sizeof eta);
	snprintf(total, sizeof total, st->total >= 0 ? "%" PRId64 : "?", st->total);
	const rk_counts *c = &st->counts;
	snprintf(buf, cap,
	         "%" PRId64 "/%s objects  %.1f/s  ETA %s  (rewritten %" PRId64 ", current %" PRId64
	         ", conflict %" PRId64 ", gone %" PRId64 ", orphan %" PRId64 ", failed %" PRId64 ")",
	         st->done, total, st->rate < 0 ? 0 : st->rate, eta, c->rewritten, c->current, c->conflict,
	         c->gone, c->orphan, c->failed);
}
