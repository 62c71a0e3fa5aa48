/* verdict.c: judges one finished window's figures (client probes, or an apiserver's /metrics deltas)
 * against the budget and says why in one line (see include/rekey/verdict.h). */
#include "rekey/verdict.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static const char *const signal_names[RK_SIGNAL_COUNT] = {
    "client-latency", "client-errors", "server-p99", "5xx", "429", "inflight"};

const char *rk_signal_name(rk_signal signal)
{
	return (unsigned)signal < RK_SIGNAL_COUNT ? signal_names[signal] : "unknown";
}

void rk_verdict_signals(unsigned breached, char *out, size_t cap)
{
	size_t used = 0;
	if (!cap)
		return;
	out[0] = '\0';
	for (unsigned s = 0; s < RK_SIGNAL_COUNT; s++) {
		if (!(breached & (1u << s)))
			continue;
		int n = snprintf(out + used, cap - used, "%s%s", used ? "," : "", signal_names[s]);
		if (n < 0 || (size_t)n >= cap - used) { /* does not fit: the list stops before it */
			out[used] = '\0';
			return;
		}
		used += (size_t)n;
	}
}

static void append(rk_verdict *v, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void append(rk_verdict *v, const char *fmt, ...)
{
	size_t used = strlen(v->text);
	if (used + 1 >= sizeof v->text)
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(v->text + used, sizeof v->text - used, fmt, ap);
	va_end(ap);
}

/* "p99 12.3 ms" or "p99 812.0 ms > 500 ms" (breached), "p99 -" when unknown. */
static void judge_p99(rk_verdict *v, double p99_ms, double limit_ms, rk_signal signal)
{
	if (isnan(p99_ms)) {
		append(v, "p99 -");
		return;
	}
	int over = limit_ms > 0 && p99_ms > limit_ms;
	append(v, over ? "p99 %.1f ms > %.0f ms" : "p99 %.1f ms", p99_ms, limit_ms);
	if (over)
		v->breached |= 1u << signal;
}

/* Padded: "p99 812.0 ms, 6 over 500 ms (30.00% > 1.00%)". */
static void judge_slow(rk_verdict *v, const rk_verdict_figures *f, double limit_ms, double padded,
                       rk_signal signal)
{
	judge_p99(v, f->p99_ms, 0, signal);
	if (!(limit_ms > 0) || isnan(f->slow))
		return;
	double share = f->slow / padded;
	int over = share > 0.01;
	append(v, over ? ", %.3g over %.0f ms (%.2f%% > 1.00%%)" : ", %.3g over %.0f ms (%.2f%%)", f->slow,
	       limit_ms, 100 * share);
	if (over)
		v->breached |= 1u << signal;
}

/* ", 5xx 0.00%" or ", 5xx 30.00% > 1.00%"; scale < 1 pads the ratio (n / padded). */
static void judge_ratio(rk_verdict *v, const char *name, double ratio, double scale, double limit,
                        rk_signal signal)
{
	if (isnan(ratio)) {
		append(v, ", %s -", name);
		return;
	}
	ratio *= scale;
	int over = limit >= 0 && ratio > limit;
	append(v, over ? ", %s %.2f%% > %.2f%%" : ", %s %.2f%%", name, 100 * ratio, 100 * limit);
	if (over)
		v->breached |= 1u << signal;
}

static int enough(const rk_verdict_limits *limits, const rk_verdict_figures *f)
{
	return f->requests > 0 && f->requests >= limits->min_requests;
}

/* One set: "<n> <what>: ..." as it is, or "<n> <what> (padded to <min>): ..." when too few. */
static void judge_set(rk_verdict *v, const rk_verdict_limits *limits, const rk_verdict_figures *f,
                      const char *what, int server)
{
	rk_signal p99 = server ? RK_SIGNAL_SERVER_P99 : RK_SIGNAL_CLIENT_LATENCY;
	rk_signal errors = server ? RK_SIGNAL_SERVER_5XX : RK_SIGNAL_CLIENT_ERRORS;
	v->judged = 1;
	if (enough(limits, f)) {
		append(v, "%.0f %s: ", f->requests, what);
		judge_p99(v, f->p99_ms, limits->p99_ms, p99);
	} else {
		append(v, "%.0f %s (padded to %.0f): ", f->requests, what, limits->min_requests);
		judge_slow(v, f, limits->p99_ms, limits->min_requests, p99);
	}
	double scale = enough(limits, f) ? 1 : f->requests / limits->min_requests;
	judge_ratio(v, server ? "5xx" : "failed", f->error_ratio, scale, limits->error_ratio, errors);
	if (server)
		judge_ratio(v, "429", f->throttled_ratio, scale, limits->throttled_ratio,
		            RK_SIGNAL_SERVER_429);
}

static void start(rk_verdict *v)
{
	memset(v, 0, sizeof *v);
}

void rk_verdict_client(const rk_verdict_limits *limits, const rk_verdict_figures *probes, rk_verdict *out)
{
	start(out);
	if (probes->requests > 0)
		judge_set(out, limits, probes, "probes", 0);
	else
		append(out, "no probes answered");
}

void rk_verdict_server(const rk_verdict_limits *limits, const rk_verdict_figures *writes,
                       const rk_verdict_figures *reads, rk_verdict *out)
{
	start(out);
	if (enough(limits, writes)) {
		judge_set(out, limits, writes, "writes", 1);
		return;
	}
	if (writes->requests > 0)
		judge_set(out, limits, writes, "writes", 1);
	else
		append(out, "no writes");
	if (reads->requests > 0 && (enough(limits, reads) || !(writes->requests > 0))) {
		out->on_reads = 1;
		append(out, "; ");
		judge_set(out, limits, reads, "reads", 1);
	}
	if (!out->judged)
		append(out, ", no reads: nothing to judge");
}
