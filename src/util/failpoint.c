/* failpoint.c: the crash points of test builds (see include/rekey/failpoint.h); empty in a release build. */
#include "rekey/failpoint.h"

#ifdef REKEY_FAILPOINTS
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void rk_failpoint(const char *stage, const char *node, const char *moment)
{
	const char *want = getenv("REKEY_TEST_CRASH_AT");
	if (!want || !*want)
		return;
	char here[512];
	snprintf(here, sizeof here, "%s:%s:%s", stage, node ? node : "", moment);
	if (!strcmp(want, here)) {
		fprintf(stderr, "rekeyctl: test crash point %s reached: SIGKILL\n", here);
		raise(SIGKILL);
	}
}
#else
typedef int rk_failpoints_not_built; /* ISO C wants a translation unit to declare something */
#endif
