/* clock.h: an injectable monotonic clock (nanoseconds) so rate and budget logic can be tested with a
 * clock the test moves by hand. */
#ifndef REKEY_CLOCK_H
#define REKEY_CLOCK_H

#include <stdint.h>

#define RK_NS_PER_SEC 1000000000LL
#define RK_NS_PER_MS 1000000LL

typedef struct rk_clock {
	int64_t (*now_ns)(void *ud); /* NULL = CLOCK_MONOTONIC */
	void *ud;
} rk_clock;

/* CLOCK_MONOTONIC in nanoseconds. */
int64_t rk_monotonic_ns(void);
/* The clock's time; a NULL clock or a NULL now_ns reads CLOCK_MONOTONIC. */
int64_t rk_clock_now(const rk_clock *clock);
rk_clock rk_clock_system(void);

/* A clock that only moves when told to (tests, simulations). */
typedef struct rk_manual_clock {
	int64_t ns;
} rk_manual_clock;
rk_clock rk_clock_manual(rk_manual_clock *manual);

#endif
