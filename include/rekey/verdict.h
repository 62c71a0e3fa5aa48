/* verdict.h: one judgement of a finished window against the latency/error budget, for the checks that
 * look back over a window before going on (the rotation's preflight trend and its node gates), where
 * budget.h steers a running rewrite. Two sides: the client's own probes (latency, failed answers) and
 * the apiserver's figures from /metrics deltas (write p99, 5xx and 429 ratios; its reads when it made
 * too few writes to judge). The signals are named the same everywhere they are reported. */
#ifndef REKEY_VERDICT_H
#define REKEY_VERDICT_H

#include <stddef.h>

typedef enum rk_signal {
	RK_SIGNAL_CLIENT_LATENCY = 0, /* p99 of the client's own requests */
	RK_SIGNAL_CLIENT_ERRORS,      /* the client's requests that failed (5xx, 429, no answer) */
	RK_SIGNAL_SERVER_P99,         /* the apiserver's p99 (writes, or reads when judged on reads) */
	RK_SIGNAL_SERVER_5XX,         /* the apiserver's 5xx ratio */
	RK_SIGNAL_SERVER_429,         /* the apiserver's 429 ratio */
	RK_SIGNAL_SERVER_INFLIGHT,    /* the apiserver's mutating requests in flight */
	RK_SIGNAL_COUNT
} rk_signal;

/* "client-latency", "client-errors", "server-p99", "5xx", "429", "inflight". */
const char *rk_signal_name(rk_signal signal);

typedef struct rk_verdict_limits {
	double p99_ms;          /* 0 = none */
	double error_ratio;     /* 5xx (server) or failed (client) / requests; < 0 = none */
	double throttled_ratio; /* 429 / requests (server side); < 0 = none */
	double min_requests;    /* fewer requests in the window: not judged */
} rk_verdict_limits;

/* One set of figures; NaN where unknown. */
typedef struct rk_verdict_figures {
	double requests;
	double p99_ms;
	double slow; /* requests slower than the p99 limit */
	double error_ratio;
	double throttled_ratio;
} rk_verdict_figures;

/* A window with at least min_requests requests is judged as it is: p99 > limit, ratio > limit. One with
 * fewer (but some) is padded to min_requests with requests counted as fast and successful: it breaks
 * the p99 budget when more than 1% of the padded count were slower than the limit, a ratio budget when
 * its failures over the padded count exceed it. So a handful of requests never breaks the budget by
 * chance more easily than min_requests would, and an apiserver too slow to answer many still fails. */
typedef struct rk_verdict {
	int judged;        /* 0: no requests to judge (text says so) */
	int on_reads;      /* server side: its reads were judged, it made too few writes */
	unsigned breached; /* 1u << rk_signal for every budget broken */
	char text[320];    /* the figures, each broken budget as "figure > limit" */
} rk_verdict;

/* The client's probes: latency and failures. */
void rk_verdict_client(const rk_verdict_limits *limits, const rk_verdict_figures *probes, rk_verdict *out);
/* The apiserver: its writes when they reach min_requests; else its few writes padded and, beside them,
 * its reads (on_reads = 1): as they are when they reach min_requests, padded when there were no writes. */
void rk_verdict_server(const rk_verdict_limits *limits, const rk_verdict_figures *writes,
                       const rk_verdict_figures *reads, rk_verdict *out);
/* "server-p99,5xx" for a breached mask ("" for none). */
void rk_verdict_signals(unsigned breached, char *out, size_t cap);

#endif
