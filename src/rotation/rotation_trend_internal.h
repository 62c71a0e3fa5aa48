/* rotation_trend_internal.h (private): measuring apiservers over a window against the plan's budget, for
 * the preflight trend (every apiserver, budget.preflightWindow) and the node gates (one apiserver, the
 * soak time) (rotation_trend.c). */
#ifndef REKEY_ROTATION_TREND_INTERNAL_H
#define REKEY_ROTATION_TREND_INTERNAL_H

#include "rekey/promtext.h"
#include "rekey/verdict.h"
#include "rotation_internal.h"

/* The Lease the probes write (kube-system): created at the start of a window, deleted at its end. */
#define ROT_PROBE_LEASE "rekeyctl-budget-probe"

/* One apiserver over a window. */
typedef struct rot_trend_node {
	const rk_plan_node *node;
	/* its side: /metrics scraped at the start, every few seconds and at the end */
	rk_prom_apiserver last;
	int have_last;
	rk_prom_window window;
	unsigned scrapes;
	char scrape_error[RK_ERR_MSG_MAX]; /* the last failed scrape, "" when none failed */
	rk_prom_figures server;
	rk_verdict server_verdict;
	/* our side: a PATCH of the probe Lease or a GET through it at every tick */
	double *latencies_ms; /* of the probes answered */
	size_t nlatencies, latencies_cap;
	unsigned probes, failed, in_flight, sent;
	int64_t next_probe_ns;
	double client_p99_ms;
	rk_verdict client_verdict;
} rot_trend_node;

typedef struct rot_trend {
	rot_trend_node *nodes;
	size_t n;
	long window_ms;
	rk_verdict_limits limits;
} rot_trend;

/* Measures one node (`only`), or every node of the plan when only is NULL, for window_ms and judges each.
 * RK_STOPPED when a signal stopped it; errors only for what makes measuring impossible (no probe Lease). */
int rot_trend_measure(rot_ctx *ctx, const rk_plan_node *only, long window_ms, rot_trend *out, rk_err *err);
/* The budget signals any node broke (1u << rk_signal), 0 when none. */
unsigned rot_trend_breached(const rot_trend *trend);
/* "cp-2: server 46 writes: p99 ...; client 120 probes: ..." for one node. */
void rot_trend_node_describe(const rot_trend_node *t, rk_buf *out);
/* The breached nodes' descriptions joined with "; " (for one-line messages). */
void rot_trend_describe_breaches(const rot_trend *trend, rk_buf *out);
void rot_trend_free(rot_trend *trend);

#endif
