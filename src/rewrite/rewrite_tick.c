/* rewrite_tick.c: the periodic work while a rewrite runs (at most every 250 ms): the achieved rate,
 * progress callbacks, the budget's tick (rewrite_budget.c) and the Prometheus textfile. */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "rekey/fsutil.h"
#include "rekey/log.h"
#include "rewrite_engine_internal.h"

#define TICK_MS 250
#define METRICS_MS 2000

double rk_rw_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
}

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
	                         .qps_limit = rk_rw_endpoints_qps(e),
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

void rk_rw_write_metrics(rk_rw_engine *e)
{
	rk_buf b = RK_BUF_INIT, cl = RK_BUF_INIT;
	rk_prom_label_escape(&cl, e->opts->cluster);
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
	    c, e->total, c, e->achieved, c, rk_rw_endpoints_qps(e), c, s.p50_ms / 1000.0, c,
	    s.p99_ms / 1000.0, c, s.error_ratio);
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
		rk_rw_write_metrics(e);
	}
	rk_rw_progress(e, 0);
}
