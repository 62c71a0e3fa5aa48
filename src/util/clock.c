/* clock.c: the monotonic clock and the hand-moved clock for tests (see include/rekey/clock.h). */
#include "rekey/clock.h"

#include <stddef.h>
#include <time.h>

int64_t rk_monotonic_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * RK_NS_PER_SEC + ts.tv_nsec;
}

int64_t rk_clock_now(const rk_clock *clock)
{
	if (!clock || !clock->now_ns)
		return rk_monotonic_ns();
	return clock->now_ns(clock->ud);
}

rk_clock rk_clock_system(void)
{
	rk_clock clock = {NULL, NULL};
	return clock;
}

static int64_t manual_now(void *ud)
{
	return ((rk_manual_clock *)ud)->ns;
}

rk_clock rk_clock_manual(rk_manual_clock *manual)
{
	rk_clock clock = {manual_now, manual};
	return clock;
}
