/* throttle.h: the rewrite's rate limiter: a token bucket (qps, burst) plus a cap on requests in flight.
 * It never sleeps: the caller's poll loop asks how long to wait (rk_throttle_wait_ns) and takes a slot
 * with rk_throttle_try_acquire. The rate can change at any time and takes effect at once. */
#ifndef REKEY_THROTTLE_H
#define REKEY_THROTTLE_H

#include <stdint.h>

#include "rekey/clock.h"

/* rk_throttle_wait_ns when time alone will not help: the in-flight cap is reached or the throttle is
 * paused; wait for rk_throttle_release / rk_throttle_set_paused(0). */
#define RK_THROTTLE_BLOCKED (-1)

typedef struct rk_throttle {
	rk_clock clock;
	double qps;            /* tokens per second; 0 = unlimited */
	double burst;          /* bucket size (>= 1) */
	int burst_auto;        /* burst follows the rate (one second's worth) */
	double tokens;         /* tokens available at last_ns */
	int64_t last_ns;       /* when tokens was computed */
	unsigned max_inflight; /* 0 = no cap */
	unsigned inflight;
	int paused;
	uint64_t granted; /* requests started so far */
} rk_throttle;

/* qps 0 = unlimited; burst 0 = max(1, qps) (one second's worth); max_inflight 0 = no cap. The bucket
 * starts full. */
void rk_throttle_init(rk_throttle *t, double qps, unsigned burst, unsigned max_inflight, rk_clock clock);
/* Changes the rate now: tokens earned so far are kept at the old rate; when the rate drops, the tokens
 * held are cut to one second's worth of the new rate so the new rate holds within a second. An automatic
 * burst (0 at init) follows the new rate. */
void rk_throttle_set_rate(rk_throttle *t, double qps);
void rk_throttle_set_paused(rk_throttle *t, int paused);
/* 1 when a request may start now (takes a token and an in-flight slot), else 0. */
int rk_throttle_try_acquire(rk_throttle *t);
/* A request finished: frees its in-flight slot. */
void rk_throttle_release(rk_throttle *t);
/* 0 = a request may start now; > 0 = nanoseconds until the next token; RK_THROTTLE_BLOCKED = waiting on
 * a release or on resume. */
int64_t rk_throttle_wait_ns(rk_throttle *t);

#endif
