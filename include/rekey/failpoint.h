/* failpoint.h: crash points for the kill -9 tests, compiled only into test builds (the way etcd's gofail
 * points are). Built with -DREKEY_FAILPOINTS (the ASan build `make check` uses), RK_FAILPOINT(stage, node,
 * moment) raises SIGKILL when the environment variable REKEY_TEST_CRASH_AT equals "stage:node:moment"
 * (node NULL = ""); e.g. REKEY_TEST_CRASH_AT=promote:cp-2:written. In any other build the macro is empty:
 * the release binary holds neither the points nor the variable's name (tests/e2e/05_release_build.sh). */
#ifndef REKEY_FAILPOINT_H
#define REKEY_FAILPOINT_H

#ifdef REKEY_FAILPOINTS
void rk_failpoint(const char *stage, const char *node, const char *moment);
#define RK_FAILPOINT(stage, node, moment) rk_failpoint(stage, node, moment)
#else
#define RK_FAILPOINT(stage, node, moment) ((void)0)
#endif

#endif
