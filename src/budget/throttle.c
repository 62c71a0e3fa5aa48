/* throttle.c: token bucket with an in-flight cap, driven by an injectable clock (see
 * include/rekey/throttle.h). */
#include "rekey/throttle.h"

#include <math.h>

/* Rounding slack: a token earned over exactly the waited time may come out as 0.999999999. */
#define TOKEN_EPS 1e-9

static double default_burst(double qps, unsigned burst)
{
	if (burst > 0)
		return burst;
	return qps > 1 ? qps : 1;
}

/* Adds the tokens earned since last_ns at the current rate, up to the bucket size. */
static void refill(rk_throttle *t)
{
	int64_t now = rk_clock_now(&t->clock);
	if (now > t->last_ns && t->qps > 0) {
		t->tokens += (double)(now - t->last_ns) * t->qps / (double)RK_NS_PER_SEC;
		if (t->tokens > t->burst)
			t->tokens = t->burst;
	}
	if (now > t->last_ns)
		t->last_ns = now;
}

void rk_throttle_init(rk_throttle *t, double qps, unsigned burst, unsigned max_inflight, rk_clock clock)
{
	t->clock = clock;
	t->qps = qps > 0 ? qps : 0;
	t->burst = default_burst(t->qps, burst);
	t->burst_auto = burst == 0;
	t->tokens = t->burst;
	t->last_ns = rk_clock_now(&clock);
	t->max_inflight = max_inflight;
	t->inflight = 0;
	t->paused = 0;
	t->granted = 0;
}

void rk_throttle_set_rate(rk_throttle *t, double qps)
{
	refill(t);
	qps = qps > 0 ? qps : 0;
	int slower = qps > 0 && (t->qps == 0 || qps < t->qps);
	t->qps = qps;
	if (t->burst_auto)
		t->burst = default_burst(qps, 0);
	if (slower) {
		double one_second = qps > 1 ? qps : 1;
		if (t->tokens > one_second)
			t->tokens = one_second;
	}
}

void rk_throttle_set_paused(rk_throttle *t, int paused)
{
	t->paused = paused != 0;
}

static int blocked(const rk_throttle *t)
{
	return t->paused || (t->max_inflight > 0 && t->inflight >= t->max_inflight);
}

int rk_throttle_try_acquire(rk_throttle *t)
{
	if (blocked(t))
		return 0;
	if (t->qps > 0) {
		refill(t);
		if (t->tokens < 1 - TOKEN_EPS)
			return 0;
		t->tokens = t->tokens > 1 ? t->tokens - 1 : 0;
	}
	t->inflight++;
	t->granted++;
	return 1;
}

void rk_throttle_release(rk_throttle *t)
{
	if (t->inflight > 0)
		t->inflight--;
}

int64_t rk_throttle_wait_ns(rk_throttle *t)
{
	if (blocked(t))
		return RK_THROTTLE_BLOCKED;
	if (t->qps == 0)
		return 0;
	refill(t);
	if (t->tokens >= 1 - TOKEN_EPS)
		return 0;
	double ns =
	    ceil((1 - t->tokens) * (double)RK_NS_PER_SEC / t->qps - 1e-3); /* no ns lost to rounding */
	return ns < 1 ? 1 : (int64_t)ns;
}
